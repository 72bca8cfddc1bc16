// Readable summary and CSV of a report; both only read the report JSON built by build_report.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <sstream>

#include "runtime/markup.hpp"
#include "runtime/report.hpp"
#include "runtime/report_parts.hpp"

namespace spiketile {

using nlohmann::json;

namespace {

// 1234567 -> "1.23 M", keeping a table readable across nine orders of magnitude.
std::string si(double v, const char* unit) {
  const double a = std::abs(v);
  const char* prefixes[] = {"", "k", "M", "G", "T"};
  int p = 0;
  double x = a;
  while (x >= 1000 && p < 4) {
    x /= 1000;
    ++p;
  }
  return fmt::format("{:.3g} {}{}", v < 0 ? -x : x, prefixes[p], unit);
}

std::string or_not_measured(const json& v, const std::function<std::string(double)>& show) {
  return v.is_null() ? std::string("not measured at this level") : show(v.get<double>());
}

}  // namespace

std::string measured_gpu_headline(const json& file) {
  const json& g = file["gpu"];
  auto watts = [](const json& v) { return v.is_null() ? std::string("not measured") : fmt::format("{:.0f} W", v.get<double>()); };
  const std::string clocks = g["max_clocks"].is_null()
                                 ? std::string("max clocks not read")
                                 : fmt::format("max clocks SM {:.0f} / memory {:.0f} MHz", g["max_clocks"]["sm_mhz"].get<double>(),
                                               g["max_clocks"]["memory_mhz"].get<double>());
  return fmt::format("{} ({} SMs, compute capability {}, {:.0f} GiB; driver {}, CUDA {}, cuBLAS {}; {}; power limit {}), "
                     "measured {} ({})",
                     g["name"].get<std::string>(), g["sm_count"].get<int>(), g["compute_capability"].get<std::string>(),
                     g["memory_gib"].get<double>(), g["driver"].get<std::string>(), g["cuda_runtime"].get<std::string>(),
                     g["cublas"].get<std::string>(), clocks, watts(g["power_limit_w"]), file["date"].get<std::string>(),
                     file["file"].get<std::string>());
}

std::string measured_clocks(const json& clocks) {
  return clocks.is_null() ? std::string("-")
                          : fmt::format("{:.0f}/{:.0f}", clocks["sm_mhz"].get<double>(), clocks["memory_mhz"].get<double>());
}

namespace {

void print_measured_gpu(std::FILE* out, const json& file) {
  fmt::print(out, "  measured on {}:\n", measured_gpu_headline(file));
  const json& idle = file["idle"];
  fmt::print(out, "    energy: {}; idle: {}\n", file["energy_counter"].get<std::string>(),
             idle.is_null() ? std::string("not measured")
                            : fmt::format("{:.1f} W over {:.1f} s", idle["power_w"].get<double>(), idle["seconds"].get<double>()));
  fmt::print(out, "    {:<24} {:>10} {:>11} {:>12} {:>12} {:>8} {:>15} {:>10}\n", "configuration", "steps/s", "tokens/s",
             "energy/token", "above idle", "power", "SM/memory MHz", "check");
  auto energy = [](const json& joules) {
    return joules.is_null() ? std::string("-") : format_energy_pj(joules.get<double>() * 1e12);
  };
  for (const auto& row : file["rows"])
    fmt::print(out, "    {:<24} {:>10} {:>11} {:>12} {:>12} {:>8} {:>15} {:>10}\n", row["name"].get<std::string>(),
               si(row["steps_per_s"].get<double>(), ""), si(row["tokens_per_s"].get<double>(), ""),
               energy(row["energy_per_token_j"]), energy(row["energy_per_token_above_idle_j"]),
               row["mean_power_w"].is_null() ? std::string("-") : fmt::format("{:.0f} W", row["mean_power_w"].get<double>()),
               measured_clocks(row["clocks"]), fmt::format("{:.2g}", row["check"]["max_normalized_error"].get<double>()));
  for (const auto& n : file["not_measured"]) fmt::print(out, "    not measured: {}\n", n.get<std::string>());
}

}  // namespace

std::string format_energy_pj(double pj) {
  const double a = std::abs(pj);
  if (a >= 1e9) return fmt::format("{:.3g} mJ", pj / 1e9);
  if (a >= 1e6) return fmt::format("{:.3g} µJ", pj / 1e6);
  if (a >= 1e3) return fmt::format("{:.3g} nJ", pj / 1e3);
  return fmt::format("{:.3g} pJ", pj);
}

std::string chip_energy_split(const json& chip) {
  const std::string dynamic = format_energy_pj(chip["dynamic_per_token_pj"].get<double>());
  if (chip["static_per_token_pj"].is_null())
    return fmt::format("dynamic {}, static not measured at this level, total {} (dynamic only)", dynamic,
                       format_energy_pj(chip["energy_per_token_pj"].get<double>()));
  return fmt::format("dynamic {}, static {} ({}), total {}", dynamic,
                     format_energy_pj(chip["static_per_token_pj"].get<double>()),
                     chip["power"]["summary"].get<std::string>(), format_energy_pj(chip["energy_per_token_pj"].get<double>()));
}

std::string side_by_side_line(const json& chip) {
  if (!chip.contains("side_by_side") || chip["side_by_side"].is_null()) return "";
  std::string line;
  for (const auto& t : chip["side_by_side"])
    line += (line.empty() ? "" : "; ") +
            (t.contains("unavailable")
                 ? fmt::format("{} not applicable ({})", t["name"].get<std::string>(), t["unavailable"].get<std::string>())
                 : fmt::format("{} {} ({:.3g}×{})", t["name"].get<std::string>(),
                               format_energy_pj(t["energy_per_token_pj"].get<double>()),
                               t["ratio_to_report_table"].get<double>(),
                               t.value("low_per_token_pj", json()).is_null()
                                   ? ""
                                   : fmt::format(", {} to {}", format_energy_pj(t["low_per_token_pj"].get<double>()),
                                                 format_energy_pj(t["high_per_token_pj"].get<double>()))));
  return line;
}

std::string energy_range_line(const json& chip, const std::string& step) {
  if (!chip.contains("range") || chip["range"].is_null() || chip["range"]["actions"].empty()) return "";
  std::string actions;
  for (const auto& a : chip["range"]["actions"])
    actions += fmt::format("{}{} {:g}-{:g} pJ (table {:g})", actions.empty() ? "" : ", ", a["action"].get<std::string>(),
                           a["low"].get<double>(), a["high"].get<double>(), a["pj_each"].get<double>());
  return fmt::format("{} to {} per {} where the sources disagree: {}",
                     format_energy_pj(chip["range"]["low_per_token_pj"].get<double>()),
                     format_energy_pj(chip["range"]["high_per_token_pj"].get<double>()), step, actions);
}

std::string components_line(const json& chip) {
  std::string components;
  for (const auto& c : chip["components"])
    components += fmt::format("{}{} {} ({:.1f}%)", components.empty() ? "" : ", ", c["component"].get<std::string>(),
                              format_energy_pj(c["energy_per_token_pj"].get<double>()),
                              100 * c["share_of_total"].get<double>());
  return components;
}

void print_report_summary(std::FILE* out, const json& r, bool paper_detail) {
  if (r.contains("kind") && r["kind"] == "nir") return print_nir_report_summary(out, r);
  const json& in = r["inputs"];
  const json& chip = r["chip"];
  fmt::print(out, "spiketile report — {} level, {} steps ({} prompt + {} generated), model L{} C{} V{} ({} params)\n",
             in["level"].get<std::string>(), r["tokens"]["steps"].get<int64_t>(), r["tokens"]["prompt"].get<int64_t>(),
             r["tokens"]["generated"].get<int64_t>(), r["model"]["n_layer"].get<int>(), r["model"]["n_embd"].get<int>(),
             r["model"]["vocab"].get<int>(), r["model"]["params"].get<int64_t>());
  fmt::print(out, "energy table {} ({}), chip {}, encoding of real-valued inputs: {}\n",
             in["energy_table"]["name"].get<std::string>(), in["energy_table"]["path"].get<std::string>(),
             in["chip"]["name"].get<std::string>(), in["encoding"].get<std::string>());
  fmt::print(out, "counts: {}\n\n", chip["counts_source"].get<std::string>());
  fmt::print(out, "verdict (chip vs each dense GPU baseline, per token):\n");
  for (const auto& v : r["verdict"]) {
    fmt::print(out, "  vs {}:\n", v["baseline"].get<std::string>());
    for (const auto& c : v["comparisons"]) fmt::print(out, "    {}\n", verdict_sentence(c));
  }
  fmt::print(out, "\n");

  fmt::print(out, "chip energy per token by action ({}):\n", in["energy_table"]["name"].get<std::string>());
  fmt::print(out, "  {:<24} {:>14} {:>10} {:>12} {:>7}\n", "action", "count/token", "pJ each", "per token",
             chip["energy_includes_static"].get<bool>() ? "share" : "share*");
  for (const auto& a : chip["actions"]) {
    if (a["count"].get<double>() == 0) continue;
    fmt::print(out, "  {:<24} {:>14.1f} {:>10.4g} {:>12} {:>6.1f}%\n", a["action"].get<std::string>(),
               a["count_per_token"].get<double>(), a["pj_each"].get<double>(),
               format_energy_pj(a["energy_per_token_pj"].get<double>()), 100 * a["share_of_total"].get<double>());
  }
  if (!chip["static_per_token_pj"].is_null())
    fmt::print(out, "  {:<24} {:>14} {:>10} {:>12} {:>6.1f}%\n", "static", "", "",
               format_energy_pj(chip["static_per_token_pj"].get<double>()),
               100 * chip["static_per_token_pj"].get<double>() / chip["energy_per_token_pj"].get<double>());
  else
    fmt::print(out, "  (* of the dynamic energy: no simulated time at this level, so no static energy)\n");
  fmt::print(out, "  by component: {}\n", components_line(chip));
  if (const std::string tables = side_by_side_line(chip); !tables.empty())
    fmt::print(out, "  under every shipped energy table, per token: {}\n", tables);
  fmt::print(out, "  per token: {}\n", chip_energy_split(chip));
  if (const std::string range = energy_range_line(chip, "token"); !range.empty()) fmt::print(out, "  range: {}\n", range);
  fmt::print(out, "  latency per token {}; tokens/s {}\n",
             or_not_measured(chip["latency_per_token_ns"], [](double v) { return fmt::format("{:.1f} ns", v); }),
             or_not_measured(chip["tokens_per_s"], [](double v) { return si(v, ""); }));
  if (!chip["prefill_tokens_per_s"].is_null())
    fmt::print(out, "  prefill (pipelined): {} tokens at {} tokens/s; decode: {} tokens at {}\n",
               chip["prefill_tokens"].get<int64_t>(), si(chip["prefill_tokens_per_s"].get<double>(), ""),
               chip["decode_tokens"].get<int64_t>(),
               or_not_measured(chip["decode_latency_per_token_ns"], [](double v) { return fmt::format("{:.1f} ns per token", v); }));
  for (const auto& n : r["not_measured"]) fmt::print(out, "  not measured: {}\n", n.get<std::string>());
  for (const auto& w : chip["warnings"]) fmt::print(out, "  warning: {}\n", w.get<std::string>());

  fmt::print(out, "\nper layer (per token):\n  {:<7} {:>12} {:>11} {:>11} {:>9} {:>9} {:>8}\n", "layer", "energy",
             "SOP graded", "dense MACs", "fire att", "fire ffn", "ReLU²");
  for (const auto& l : r["per_layer"]) {
    const json& c = l["counts_per_token"];
    auto rate = [](const json& v) { return v.is_null() ? std::string("-") : fmt::format("{:.4f}", v.get<double>()); };
    auto count = [&c](const char* key) { return c.is_null() ? std::string("-") : si(c[key].get<double>(), ""); };
    fmt::print(out, "  {:<7} {:>12} {:>11} {:>11} {:>9} {:>9} {:>8}\n", l["layer"].get<std::string>(),
               format_energy_pj(l["energy_per_token_pj"].get<double>()), count("sop_graded"), count("dense_macs"),
               rate(l["firing_rate_att"]), rate(l["firing_rate_ffn"]), rate(l["relu2_density"]));
  }
  if (r["per_layer"].size() && r["per_layer"].back()["layer"] == "network")
    fmt::print(out, "  (the rows add up to the dynamic energy per token; network: flit-hops, deliveries into cores and "
                    "inter-chip links)\n");

  const json& gpu = r["gpu"];
  fmt::print(out, "\nchip vs dense GPU baseline, per token (same model, same tokens; latency: the chip's decode):\n");
  std::size_t name_width = 48;  // measured GPUs' rows name the board: wider
  for (const auto& v : r["chip_vs_gpu"]) name_width = std::max(name_width, v["name"].get<std::string>().size());
  fmt::print(out, "  {:<{}} {:>12} {:>11} {:>13} {:>11} {:>12}\n", "system", name_width, "energy", "× chip", "latency",
             "tokens/s", "EDP (pJ·s)");
  auto or_dash = [](const json& v, const std::function<std::string(double)>& show) {
    return v.is_null() ? std::string("-") : show(v.get<double>());
  };
  for (const auto& v : r["chip_vs_gpu"])
    fmt::print(out, "  {:<{}} {:>12} {:>11} {:>13} {:>11} {:>12}\n", v["name"].get<std::string>(), name_width,
               format_energy_pj(v["energy_per_token_pj"].get<double>()),
               fmt::format("{:.3g}×", v["ratio_to_chip"].get<double>()),
               or_dash(v["latency_per_token_ns"], [](double ns) { return fmt::format("{:.4g} µs", ns / 1e3); }),
               or_dash(v["tokens_per_s"], [](double t) { return si(t, ""); }),
               or_dash(v["edp_pj_s"], [](double e) { return fmt::format("{:.3g}", e); }));
  for (const auto& p : gpu["roofline"])
    fmt::print(out, "  {} roofline batch {}: {:.3g} µs per step, {}-bound, weights in {}, {} tokens/s\n",
               gpu["spec"]["name"].get<std::string>(), p["batch"].get<int>(), p["step_s"].get<double>() * 1e6,
               p["bound"].get<std::string>(), p["weights_in"].get<std::string>(), si(p["tokens_per_s"].get<double>(), ""));
  if (!gpu["measured"].is_null())
    for (const auto& file : gpu["measured"]) print_measured_gpu(out, file);
  fmt::print(out, "  GPU numbers: {}\n", gpu["spec"]["sources"].get<std::string>());
  fmt::print(out, "  assumptions:\n");
  for (const auto& a : gpu["assumptions"]) fmt::print(out, "   - {}\n", a.get<std::string>());

  const json& paper = r["paper"];
  const json& stated = paper["stated_setting"];
  fmt::print(out, "\npaper mode — claim: {}\n", paper["claim"].get<std::string>());
  fmt::print(out, "  paper's setting (T {}, d {}, R̂ {}, E_MAC {} pJ, E_AC {} pJ, WKV {}Td, linear rows): {:.2f}×\n",
             stated["tokens"].get<double>(), stated["width"].get<double>(), stated["rate"].get<double>(),
             stated["e_mac_pj"].get<double>(), stated["e_ac_pj"].get<double>(),
             stated["wkv_macs_per_channel"].get<int>(), stated["ratio"].get<double>());
  const json& inputs = r["projection_inputs"];
  std::string per_op;
  for (const auto& p : inputs["per_op"])
    per_op += fmt::format("{}{} {:.3f}", per_op.empty() ? "" : ", ", p["op"].get<std::string>(), p["rate"].get<double>());
  fmt::print(out, "  projection inputs: {}; non-zero fraction (R̂ for spikes) {:.4f}: {}\n", inputs["kind"].get<std::string>(),
             inputs["rate_mean"].get<double>(), per_op);
  const json& measured = paper["measured_rate"];
  fmt::print(out, "  same formula, measured firing rate R̂ = {:.4f}: {:.2f}× (paper T, d); {:.2f}× (this model's d, T)\n",
             measured["rate"].get<double>(), measured["ratio_paper_T_d"].get<double>(),
             measured["ratio_model_T_d"].get<double>());
  const json& counted = paper["counted"];
  fmt::print(out, "  ops the chip performs: {} dense MACs vs {} SOPs per token = {:.2f}× fewer operations\n",
             si(counted["dense_macs_per_token"].get<double>(), ""), si(counted["chip_sops_per_token"].get<double>(), ""),
             counted["operation_ratio"].get<double>());
  fmt::print(out, "  same counts at the 45 nm convention (compute only): {} dense vs {} chip = {:.2f}×\n",
             format_energy_pj(counted["dense_convention_pj"].get<double>()), format_energy_pj(counted["chip_convention_pj"].get<double>()),
             counted["convention_ratio"].get<double>());
  fmt::print(out, "  with data movement (chip table vs GPU roofline, batch 1): {} vs {} = {:.3g}×\n",
             format_energy_pj(counted["chip_table_pj"].get<double>()), format_energy_pj(counted["gpu_roofline_batch1_pj"].get<double>()),
             counted["roofline_ratio"].get<double>());
  fmt::print(out, "  {}\n", counted["note"].get<std::string>());
  if (paper_detail) {
    fmt::print(out, "  every reading of Table 1 at the paper's setting:\n");
    fmt::print(out, "    {:>7} {:>5} {:>10} {:>14} {:>14} {:>8}\n", "E_MAC", "WKV", "quadratic", "vanilla", "SpikeGPT",
               "ratio");
    for (const auto& p : paper["readings"])
      fmt::print(out, "    {:>7.2f} {:>4}T {:>10} {:>14} {:>14} {:>7.2f}×\n", p["e_mac_pj"].get<double>(),
                 p["wkv_macs_per_channel"].get<int>(), p["quadratic_attention"].get<bool>() ? "yes" : "no",
                 format_energy_pj(p["vanilla_pj"].get<double>()), format_energy_pj(p["spikegpt_pj"].get<double>()),
                 p["ratio"].get<double>());
    for (const auto& f : paper["formulas"]) fmt::print(out, "  formula: {}\n", f.get<std::string>());
    for (const auto& s : paper["sources"]) fmt::print(out, "  source: {}\n", s.get<std::string>());
  }
}

namespace {

std::string key_text(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// Array elements are named by their natural key (an action, a core, a layer, ...): the first of
// these that every element has with a value no other element shares, so no two rows get one
// name (per-core rows all carry a layer too); otherwise by their index.
const char* naming_key(const json& array) {
  for (const char* key : {"action", "core", "unit", "step", "layer", "op", "batch", "name"}) {
    std::set<std::string> seen;
    bool unique = true;
    for (const json& e : array) {
      if (!e.is_object() || !e.contains(key) || e[key].is_null() || !seen.insert(key_text(e[key])).second) {
        unique = false;
        break;
      }
    }
    if (unique && !array.empty()) return key;
  }
  return nullptr;
}

void flatten(const json& j, const std::string& path, std::ostringstream& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) flatten(value, path.empty() ? key : path + "." + key, out);
  } else if (j.is_array()) {
    const char* key = naming_key(j);
    for (std::size_t i = 0; i < j.size(); ++i)
      flatten(j[i], path + "[" + (key ? key_text(j[i][key]) : std::to_string(i)) + "]", out);
  } else {
    const std::string value = j.is_null() ? "not measured" : j.is_string() ? j.get<std::string>() : j.dump();
    out << csv_field(path) << "," << csv_field(value) << "\n";
  }
}

}  // namespace

std::string report_csv(const json& report) {
  std::ostringstream out;
  out << "quantity,value\n";
  flatten(report, "", out);
  return out.str();
}

}  // namespace spiketile
