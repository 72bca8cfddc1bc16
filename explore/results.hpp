// The sweep's table, one row per point, and its three forms: CSV, JSON and a self-contained HTML
// page with the Pareto front of energy per token against latency per token.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "explore/sweep.hpp"

namespace spiketile::explore {

inline constexpr const char* kResultsFormat = "spiketile-explore-1";

// The results document: the sweep's setup and `rows` (one per point: index, hash, dir, label,
// settings, model, status, error, computed, metrics), each marked on_front, and the front's indices.
nlohmann::json results_json(const Sweep& sweep, nlohmann::json rows);

std::string results_csv(const nlohmann::json& results);
std::string results_html(const nlohmann::json& results);

// The table printed on stdout.
std::string results_text(const nlohmann::json& results);

}  // namespace spiketile::explore
