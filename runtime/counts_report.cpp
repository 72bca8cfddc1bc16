#include "runtime/counts_report.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>


namespace spiketile {

namespace {
int64_t sfu_total(const Counts& c) {
  int64_t t = 0;
  for (auto v : c.sfu) t += v;
  return t;
}

void print_row(std::FILE* out, const std::string& name, const Counts& c, double steps) {
  fmt::print(out, "{:>7} {:>12.0f} {:>12.0f} {:>9.1f} {:>12.0f} {:>8.1f} {:>9.0f} {:>8.0f} {:>11.0f} {:>11.0f}\n", name,
             c.sop_graded / steps, c.sop_bit_serial / steps, c.sop_binary / steps, c.dense_macs / steps,
             c.spikes / steps, c.neuron_updates / steps, sfu_total(c) / steps, c.synapse_read_bits / steps,
             (c.state_read_bytes + c.state_write_bytes) / steps);
}
}  // namespace

void print_counts_per_layer(std::FILE* out, const CountTotals& counts) {
  if (counts.empty()) return;
  const double steps = double(counts.per_step.size());
  fmt::print(out, "event counts per token (mean over {} steps):\n", counts.per_step.size());
  fmt::print(out, "{:>7} {:>12} {:>12} {:>9} {:>12} {:>8} {:>9} {:>8} {:>11} {:>11}\n", "layer", "SOP graded",
             "SOP bitser.", "SOP bin", "dense MACs", "spikes", "neuron up", "SFU ops", "syn bits", "state bytes");
  for (std::size_t i = 0; i < counts.sum.layers.size(); ++i)
    print_row(out, std::to_string(i), counts.sum.layer_total(int(i)), steps);
  Counts global;
  for (const auto& c : counts.sum.global) global += c;
  print_row(out, "global", global, steps);
  print_row(out, "total", counts.sum.total(), steps);
}

nlohmann::json counts_json(const CountTotals& counts) {
  nlohmann::json per_step = nlohmann::json::array();
  for (const auto& c : counts.per_step) per_step.push_back(c.to_json());
  return {{"steps", counts.per_step.size()}, {"sum", counts.sum.to_json()}, {"per_step_total", per_step}};
}

CountTotals count_totals_from_json(const nlohmann::json& j) {
  if (!j.contains("sum") || !j.contains("per_step_total") || !j["per_step_total"].is_array())
    throw std::invalid_argument("event counts need 'sum' and a 'per_step_total' array");
  CountTotals totals;
  totals.sum = TokenCounts::from_json(j["sum"]);
  for (const auto& step : j["per_step_total"]) totals.per_step.push_back(Counts::from_json(step));
  if (j.contains("steps") && j["steps"] != totals.per_step.size())
    throw std::invalid_argument(fmt::format("event counts: 'steps' is {} but 'per_step_total' has {} entries",
                                            j["steps"].dump(), totals.per_step.size()));
  return totals;
}

void write_counts_json(OutputFile& out, const CountTotals& counts) { out.write(counts_json(counts).dump(1) + "\n"); }

}  // namespace spiketile
