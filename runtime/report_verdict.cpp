// The report's verdict: for every baseline and metric, which side wins, by how much, and the term
// behind each side's figure, all computed from the report's own numbers (nothing templated).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "runtime/report.hpp"

namespace spiketile {

using nlohmann::json;

namespace {

std::optional<double> number_at(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<double>();
}

// The largest term of the chip's energy per token: static energy, or one dynamic action.
std::string chip_energy_term(const json& chip) {
  const double total = chip["energy_per_token_pj"].get<double>();
  std::string name = "static energy";
  double largest = number_at(chip, "static_per_token_pj").value_or(0.0);
  for (const auto& a : chip["actions"])
    if (a["energy_per_token_pj"].get<double>() > largest) {
      largest = a["energy_per_token_pj"].get<double>();
      name = a["action"].get<std::string>();
    }
  return fmt::format("{} {:.0f} % of the chip's energy", name, total > 0 ? 100 * largest / total : 0.0);
}

std::string roofline_term(const json& row, const std::string& step) {
  const bool memory = row["bound"] == "memory";
  const std::string weights = fmt::format("weights in {}", row["weights_in"].get<std::string>());
  if (step != "token")
    return fmt::format("board power over a {}-bound step of {:.3g} µs ({})", memory ? "memory" : "compute",
                       row["step_s"].get<double>() * 1e6, weights);
  return fmt::format("board power over a {}-bound decode step of {:.3g} µs ({}, the prompt batched)",
                     memory ? "memory" : "compute", row["step_s"].get<double>() * 1e6, weights);
}

// One comparison, lower_is_better for energy, latency and EDP, not for throughput.
json compare(const std::string& metric, const std::string& unit, double chip, double baseline, bool lower_is_better,
             const std::string& chip_term, const std::string& baseline_term) {
  const bool chip_wins = lower_is_better ? chip < baseline : chip > baseline;
  const double hi = std::max(chip, baseline), lo = std::min(chip, baseline);
  const double factor = lo > 0 ? hi / lo : 0.0;
  return {{"metric", metric},
          {"unit", unit},
          {"chip", chip},
          {"baseline", baseline},
          {"winner", chip == baseline ? "tie" : chip_wins ? "chip" : "baseline"},
          {"factor", factor},
          {"chip_term", chip_term},
          {"baseline_term", baseline_term}};
}

// The chip's side of every comparison.
struct ChipSide {
  double pj = 0;
  std::string energy_term;
  std::optional<double> ns, tokens_per_s;
  std::string latency_term;
};

// A dense baseline that has a time per step (a roofline or a measured row): energy per token and,
// where the chip has them, latency, energy-delay product and tokens/s.
// `step`: what one step of the run is ("token", or a NIR graph's "time step").
json timed_comparisons(const std::string& step, const ChipSide& chip, double pj, double step_ns, double tokens_per_s,
                       int batch, const std::string& term, const std::string& latency_term) {
  json comparisons = json::array();
  comparisons.push_back(compare("energy per " + step, "pJ", chip.pj, pj, true, chip.energy_term, term));
  if (chip.ns) {
    comparisons.push_back(compare("latency per " + step, "ns", *chip.ns, step_ns, true, chip.latency_term, latency_term));
    comparisons.push_back(compare("energy-delay product per " + step, "pJ·s", chip.pj * *chip.ns * 1e-9,
                                  pj * step_ns * 1e-9, true, chip.energy_term, term));
  }
  if (chip.tokens_per_s)
    comparisons.push_back(compare(step + "s per second", "tokens/s", *chip.tokens_per_s, tokens_per_s, false,
                                  "one sequence", fmt::format("batch {}", batch)));
  return comparisons;
}

}  // namespace

json report_verdict(const json& r) {
  json verdict = json::array();
  const std::string step = r.contains("step") ? r["step"].get<std::string>() : "token";
  const json& chip_json = r["chip"];
  ChipSide chip;
  chip.pj = chip_json["energy_per_token_pj"].get<double>();
  chip.energy_term = chip_energy_term(chip_json);
  // A generated token needs the one before it: the decode latency is the chip's latency per
  // token where the run has one, else the mean over the run.
  chip.ns = number_at(chip_json, "decode_latency_per_token_ns") ? number_at(chip_json, "decode_latency_per_token_ns")
                                                                : number_at(chip_json, "latency_per_token_ns");
  chip.tokens_per_s = number_at(chip_json, "tokens_per_s");
  if (chip.ns && step != "token")  // a NIR graph's steps are known in advance and overlap on the chip
    chip.latency_term = fmt::format("the input's steps overlapped through {} populations", r["model"]["n_layer"].get<int>());
  else if (chip.ns)
    chip.latency_term = fmt::format("{} one token at a time through {} layers",
                                    chip_json.contains("decode_tokens") ? "decode:" : "", r["model"]["n_layer"].get<int>());

  const json& gpu = r["gpu"];
  const std::string gpu_name = gpu["spec"]["name"].get<std::string>();
  // The 45 nm convention's rows have no time: energy only, with the share their memory traffic takes.
  const auto energy_only = [&](const std::string& baseline, double pj, double memory_pj, const std::string& memory) {
    json comparisons = json::array();
    comparisons.push_back(compare("energy per " + step, "pJ", chip.pj, pj, true, chip.energy_term,
                                  fmt::format("{} traffic {:.0f} % of its energy", memory, pj > 0 ? 100 * memory_pj / pj : 0.0)));
    verdict.push_back({{"baseline", baseline}, {"comparisons", comparisons}});
  };
  for (const auto& row : gpu["convention_45nm"])
    energy_only(convention_row_name(row), row["total_pj"].get<double>(), row["dram_pj"].get<double>(), "DDR DRAM");
  for (const auto& row : gpu["convention_45nm"]) {
    if (row["gpu_memory"].is_null()) continue;
    const json& memory = row["gpu_memory"];
    energy_only(gpu_memory_row_name(gpu_name, row), memory["total_pj"].get<double>(), memory["pj"].get<double>(),
                memory["level"].get<std::string>());
  }
  for (const auto& row : gpu["roofline"]) {
    // Energy: the run's mean per token, the prompt in one batched pass, as the chip's is its run mean.
    verdict.push_back(
        {{"baseline", fmt::format("{} roofline, batch {}", gpu_name, row["batch"].get<int>())},
         {"comparisons", timed_comparisons(step, chip, row["energy_per_token_run_pj"].get<double>(),
                                           row["step_s"].get<double>() * 1e9, row["tokens_per_s"].get<double>(),
                                           row["batch"].get<int>(), roofline_term(row, step),
                                           fmt::format("one {}-bound step per {}", row["bound"].get<std::string>(), step))}});
  }
  // Each measured GPU by its lowest energy per token: the dense baseline at its best.
  for (const auto& file : gpu["measured"].is_null() ? json::array() : gpu["measured"]) {
    const json* best = nullptr;
    for (const auto& row : file["rows"])
      if (!row["energy_per_token_pj"].is_null() &&
          (!best || row["energy_per_token_pj"].get<double>() < (*best)["energy_per_token_pj"].get<double>()))
        best = &row;
    if (!best) continue;  // no energy counter on that machine: nothing to weigh the chip's energy against
    const json& row = *best;
    const double step_ns = row["latency_per_step_ns"].get<double>();
    verdict.push_back(
        {{"baseline", measured_row_name(file, row) + " (its lowest energy per token)"},
         {"comparisons",
          timed_comparisons(step, chip, row["energy_per_token_pj"].get<double>(), step_ns, row["tokens_per_s"].get<double>(),
                            row["batch"].get<int>(),
                            fmt::format("the board's energy counter: {:.0f} W over {} steps of {:.3g} µs",
                                        row["mean_power_w"].get<double>(), row["steps"].get<int64_t>(), step_ns / 1e3),
                            "one measured step per token")}});
  }
  return verdict;
}

}  // namespace spiketile

namespace spiketile {

namespace {

std::string show(double v, const std::string& unit) {
  if (unit == "pJ") return format_energy_pj(v);
  if (unit == "ns") return v >= 1e3 ? fmt::format("{:.3g} µs", v / 1e3) : fmt::format("{:.3g} ns", v);
  if (unit == "tokens/s")
    return v >= 1e6 ? fmt::format("{:.3g} M", v / 1e6) : v >= 1e3 ? fmt::format("{:.3g} k", v / 1e3) : fmt::format("{:.3g}", v);
  return fmt::format("{:.3g} {}", v, unit);
}

}  // namespace

std::string verdict_sentence(const json& c) {
  const std::string metric = c["metric"].get<std::string>(), unit = c["unit"].get<std::string>();
  auto ends_with = [&](const std::string& tail) {
    return metric.size() >= tail.size() && metric.compare(metric.size() - tail.size(), tail.size(), tail) == 0;
  };
  const bool higher_wins = ends_with(" per second");  // tokens or time steps
  const std::string winner = c["winner"].get<std::string>();
  const std::string side = winner == "chip" ? "the chip" : winner == "baseline" ? "the baseline" : "neither";
  const std::string how = winner == "tie" ? "equal"
                                          : fmt::format("{:.3g}× {}", c["factor"].get<double>(),
                                                        higher_wins ? "more" : metric.rfind("latency per ", 0) == 0 ? "shorter"
                                                                                                             : "lower");
  return fmt::format("{}: {} wins, {} ({} vs {}); chip: {}; baseline: {}", metric, side, how,
                     show(c["chip"].get<double>(), unit), show(c["baseline"].get<double>(), unit),
                     c["chip_term"].get<std::string>(), c["baseline_term"].get<std::string>());
}

}  // namespace spiketile
