// What a compiled mapping uses of its chip: the summary `spiketile inspect model.stmap` prints.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "compiler/mapping.hpp"
#include "runtime/stats.hpp"

namespace spiketile {

// Model and chip; cores and chips used; per-core resource use (max and mean over used cores)
// against capacity; units by layer and function; traffic from the routing tables and the
// placement cost against its baseline and lower bound; the encoding of every tensor that
// travels, with the rule that chose it; and the lowering's decisions. Rebuilds the routing
// tables from the placement (MappingError when the mapping is inconsistent).
std::string mapping_summary(const Mapping& mapping);
// The same figures as JSON (`inspect --json`).
nlohmann::json mapping_summary_json(const Mapping& mapping);
// The mapping's latency estimate with units named, as statistics carry it (empty optional: the
// mapping was compiled without a profile).
std::optional<StatsEstimate> stats_estimate(const Mapping& mapping);

}  // namespace spiketile
