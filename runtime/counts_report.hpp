// Readable and JSON forms of event counts (per layer, per op, per token).
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "models/output_file.hpp"
#include "runtime/execution.hpp"

namespace spiketile {

// One row per layer plus the global ops, averaged per token.
void print_counts_per_layer(std::FILE* out, const CountTotals& counts);
nlohmann::json counts_json(const CountTotals& counts);
// Inverse of counts_json; throws std::invalid_argument naming what is missing.
CountTotals count_totals_from_json(const nlohmann::json& j);
// Writes into `out`; the caller commits it.
void write_counts_json(OutputFile& out, const CountTotals& counts);

}  // namespace spiketile
