// Readable and JSON forms of event counts (per layer, per op, per token).
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "runtime/execution.hpp"

namespace sf {

// One row per layer plus the global ops, averaged per token.
void print_counts_per_layer(std::FILE* out, const CountTotals& counts);
nlohmann::json counts_json(const CountTotals& counts);
void write_counts_json(const std::string& path, const CountTotals& counts);

}  // namespace sf
