// The report of a NIR graph's run on the chip (simulate --map graph.stmap --input --stats): the
// chip's energy and time per time step and per inference (the whole input), by population and by
// core, beside the graph's dense equivalent on a GPU (roofline and the 45 nm convention). Every
// figure is a count from the simulator times a cited constant, as for SpikeGPT (docs/report.md).
#include <fmt/format.h>

#include <stdexcept>

#include "runtime/report.hpp"
#include "runtime/report_parts.hpp"

namespace spiketile {

using nlohmann::json;

json build_nir_report(const ReportInputs& in) {
  const RunStats& s = in.stats;
  const StatsNir& nir = *s.nir;
  const double steps = double(s.tokens.steps);
  if (s.tokens.steps <= 0) throw std::invalid_argument("stats: the run has no steps; nothing to report");
  if (!s.cores || !s.cycles || !s.chip)
    throw std::invalid_argument("stats: a NIR run's report needs the chip, cycles and per-core counters of a simulator "
                                "run (simulate --map GRAPH.stmap --input IN.npy --stats S.json)");
  if (!in.gpu_measured.empty())
    throw std::invalid_argument("--gpu-measured: the measured GPU baselines are SpikeGPT's models; a NIR graph is set "
                                "beside its dense roofline and the 45 nm convention");
  const EnergyTable& table = in.table;
  const EnergyTable& conv = in.convention_table;
  const ActionMapping mapping = action_mapping(in.chip, in.encoding);

  json r;
  r["format"] = kReportFormat;
  r["kind"] = "nir";
  r["step"] = "time step";  // what one row of per_token and the verdict's "per …" mean
  r["inputs"] = inputs_json(in);
  r["model"] = stats_model_json(s.model);
  r["model"]["n_layer"] = nir.populations.size();  // the populations a step passes through
  json populations = json::array();
  for (const auto& p : nir.populations)
    populations.push_back({{"node", p.node}, {"type", p.type}, {"neurons", p.neurons}, {"spiking", p.spiking}});
  r["nir"] = {{"graph", nir.graph},        {"dt", nir.dt},
              {"input_shape", nir.input_shape}, {"output_shape", nir.output_shape},
              {"populations", populations}};
  r["tokens"] = {{"prompt", 0}, {"generated", 0}, {"steps", s.tokens.steps}};
  r["measured"] = {{"counts", true}, {"cycles", true}, {"network", bool(s.network)}, {"cores", true}};
  r["not_measured"] = json::array();

  json warnings = json::array();
  for (const auto& w : energy_table_compatibility_warnings(table, in.chip)) warnings.push_back(w);
  if (s.chip->name != in.chip.name)
    warnings.push_back(fmt::format("the stats were simulated on chip '{}' but the report maps counts with '{}'",
                                   s.chip->name, in.chip.name));

  // ---- chip: the simulator's per-core counters, by population (a core's layer) ----------------
  ActionCounts run_actions;
  std::vector<ActionCounts> population_actions(nir.populations.size() + 1);
  std::vector<int> population_cores(nir.populations.size() + 1, 0);
  int64_t lif_updates = 0, updates = 0;
  for (const CoreStats& core : *s.cores) {
    const ActionCounts a = core_actions(core);
    run_actions += a;
    const auto p = std::size_t(core.layer >= 1 && core.layer <= int(nir.populations.size()) ? core.layer : 0);
    population_actions[p] += a;
    ++population_cores[p];
    lif_updates += core.neuron_updates_lif;
    updates += core.neuron_updates_lif + core.neuron_updates_other;
  }
  if (s.network) run_actions += network_actions(*s.network);
  const json chip = chip_section(in, run_actions, "simulator per-core counters (cores section)", warnings);
  r["chip"] = chip;

  // ---- per inference: the whole input, its steps overlapped through the chip -------------------
  const double mhz = s.chip->clock_mhz;
  const double step_pj = chip["energy_per_token_pj"].get<double>();
  int64_t sop_binary = 0, sop_graded = 0;
  for (const Counts& c : s.counts.per_step) {
    sop_binary += c.sop_binary;
    sop_graded += c.sop_graded;
  }
  r["inference"] = {{"steps", s.tokens.steps},
                    {"cycles", s.cycles->total},
                    {"latency_ns", double(s.cycles->total) / mhz * 1e3},
                    {"energy_pj", step_pj * steps},
                    {"dynamic_energy_pj", chip["dynamic_energy_pj"]},
                    {"static_energy_pj", chip["static_energy_pj"]},
                    {"sop_binary", sop_binary},
                    {"sop_graded", sop_graded},
                    {"inferences_per_s", 1e6 * mhz / double(s.cycles->total)}};
  r["per_token"] = per_step_rows(in, mapping, updates ? double(lif_updates) / double(updates) : 0.0);

  // ---- per population ----------------------------------------------------------------------
  json per_population = json::array();
  int64_t spikes = 0, spiking_cells = 0;
  for (std::size_t k = 0; k < nir.populations.size(); ++k) {
    const auto& p = nir.populations[k];
    const double cells = double(p.neurons) * steps;
    if (p.spiking) {
      spikes += p.spikes;
      spiking_cells += p.neurons * s.tokens.steps;
    }
    json row{{"population", p.node}, {"type", p.type}, {"neurons", p.neurons}, {"cores", population_cores[k + 1]},
             {"spikes", p.spiking ? json(p.spikes) : json()},
             {"firing_rate", p.spiking ? json(double(p.spikes) / cells) : json()}};
    per_population.push_back(breakdown_row(row, scaled(population_actions[k + 1], 1 / steps), table));
  }
  if (s.network) {
    const ActionCounts network = network_actions(*s.network);
    per_population.push_back(breakdown_row({{"population", "network"}, {"type", nullptr}, {"neurons", nullptr},
                                            {"cores", nullptr}, {"spikes", nullptr}, {"firing_rate", nullptr}},
                                           scaled(network, 1 / steps), table));
  }
  r["per_population"] = per_population;
  r["per_core"] = per_core_rows(in);
  r["mesh"] = mesh_view(in.chip, s);
  r["firing_rate_mean"] = spiking_cells ? double(spikes) / double(spiking_cells) : 0.0;

  // ---- the graph's dense equivalent on a GPU ---------------------------------------------------
  int64_t neurons = 0;
  for (const auto& p : nir.populations) neurons += p.type == "Readout" ? 0 : p.neurons;
  DenseWork w;
  w.macs = double(nir.dense_macs_per_step);
  w.nonlinear["neuron_update.lif"] = double(neurons);
  w.nonlinear_ops = double(neurons);
  w.weight_bytes = double(nir.weight_elements) * in.gpu.weight_bytes;
  w.state_held_bytes = double(nir.state_elements) * in.gpu.state_bytes;
  w.state_bytes = 2 * w.state_held_bytes;  // read and written every step
  const auto [convention, roofline] = dense_baseline_rows(in, w, 0);
  const double conv_compute_pj = w.macs * conv.energy_pj("synaptic_op.graded") + price_pj(w.nonlinear, conv);
  json gpu;
  gpu["spec"] = gpu_spec_json(in);
  gpu["assumptions"] = {
      "the same graph runs densely, one time step after the other (its neurons need the step before): every "
      "synapse the chip stores multiplies its input every step, zeros and silent neurons included; a "
      "convolution's MACs are its taps, not a dense matrix",
      fmt::format("the graph's own weights (a shared convolution weight once) stored at {} byte{} ({}) and read "
                  "once per step (shared by the batch) from where they reside (below); the products at the {} tensor peak, "
                  "{:g} TFLOP/s dense",
                  in.gpu.weight_bytes, in.gpu.weight_bytes == 1 ? "" : "s", in.gpu_precision, in.gpu_precision,
                  in.gpu.peak_dense_tensor_tflops),
      fmt::format("neuron state ({} membranes and synaptic currents) at {} bytes per element, read and written once "
                  "per step per sequence; one element-wise FLOP per neuron and step",
                  nir.state_elements, in.gpu.state_bytes),
      "roofline: step time = max(compute, memory), memory = weight and state bytes / the bandwidth of where they "
      "reside; energy = board power (TDP) × step time / batch; kernel-launch overheads ignored, so roofline times "
      "are lower bounds",
      fmt::format("45 nm convention: MACs × E_MAC (= {} synaptic_op.graded), neuron updates at its "
                  "neuron_update.lif; its DDR DRAM rows charge the weight and state bytes at its dram.access per 64 "
                  "bits (Horowitz's DDR-era DRAM)",
                  conv.name)};
  for (const std::string& said : memory_assumptions(in, w)) gpu["assumptions"].push_back(said);
  gpu["dense_per_token"] = {{"macs", w.macs},
                            {"flops", 2 * w.macs + w.nonlinear_ops},
                            {"nonlinear_ops", w.nonlinear_ops},
                            {"nonlinear", actions_json(w.nonlinear)},
                            {"weight_elements", nir.weight_elements},
                            {"weight_bytes", w.weight_bytes},
                            {"state_elements", nir.state_elements},
                            {"state_bytes", w.state_bytes}};
  gpu["convention_45nm"] = convention;
  gpu["roofline"] = roofline;
  gpu["measured"] = nullptr;
  r["gpu"] = gpu;
  r["chip_vs_gpu"] = versus_rows(in, chip, conv_compute_pj, convention, roofline, nullptr, true);
  r["verdict"] = report_verdict(r);
  return r;
}

}  // namespace spiketile

namespace spiketile {

void print_nir_report_summary(std::FILE* out, const json& r) {
  const json& in = r["inputs"];
  const json& chip = r["chip"];
  const json& nir = r["nir"];
  const json& inference = r["inference"];
  const int64_t steps = r["tokens"]["steps"].get<int64_t>();
  fmt::print(out, "spiketile report — NIR graph {} on chip {}: {} time steps of dt = {:g} s, {} populations, {} weights\n",
             nir["graph"].get<std::string>(), in["chip"]["name"].get<std::string>(), steps, nir["dt"].get<double>(),
             nir["populations"].size(), r["model"]["params"].get<int64_t>());
  fmt::print(out, "energy table {} ({}); counts: {}\n\n", in["energy_table"]["name"].get<std::string>(),
             in["energy_table"]["path"].get<std::string>(), chip["counts_source"].get<std::string>());
  fmt::print(out, "verdict (chip vs each dense GPU baseline, per time step):\n");
  for (const auto& v : r["verdict"]) {
    fmt::print(out, "  vs {}:\n", v["baseline"].get<std::string>());
    for (const auto& c : v["comparisons"]) fmt::print(out, "    {}\n", verdict_sentence(c));
  }
  fmt::print(out, "\nper inference (the whole input, {} steps overlapped through the chip): {} in {} cycles ({:.4g} µs, "
                  "{:.4g} inferences/s); {} binary and {} graded SOPs\n",
             steps, format_energy_pj(inference["energy_pj"].get<double>()), inference["cycles"].get<int64_t>(),
             inference["latency_ns"].get<double>() / 1e3, inference["inferences_per_s"].get<double>(),
             inference["sop_binary"].get<int64_t>(), inference["sop_graded"].get<int64_t>());
  fmt::print(out, "per time step: {}; {:.1f} ns per step\n", chip_energy_split(chip),
             chip["latency_per_token_ns"].get<double>());
  if (const std::string range = energy_range_line(chip, "time step"); !range.empty())
    fmt::print(out, "  range: {}\n", range);
  fmt::print(out, "  by component: {}\n", components_line(chip));
  if (const std::string tables = side_by_side_line(chip); !tables.empty())
    fmt::print(out, "  under every shipped energy table, per time step: {}\n", tables);
  for (const auto& w : chip["warnings"]) fmt::print(out, "  warning: {}\n", w.get<std::string>());

  fmt::print(out, "\nper population (per time step):\n  {:<24} {:<9} {:>8} {:>6} {:>12} {:>10}\n", "population", "type",
             "neurons", "cores", "energy", "fire rate");
  for (const auto& p : r["per_population"])
    fmt::print(out, "  {:<24} {:<9} {:>8} {:>6} {:>12} {:>10}\n", p["population"].get<std::string>(),
               p["type"].is_null() ? "-" : p["type"].get<std::string>(),
               p["neurons"].is_null() ? "-" : std::to_string(p["neurons"].get<int64_t>()),
               p["cores"].is_null() ? "-" : std::to_string(p["cores"].get<int>()),
               format_energy_pj(p["energy_per_token_pj"].get<double>()),
               p["firing_rate"].is_null() ? "-" : fmt::format("{:.4f}", p["firing_rate"].get<double>()));

  const json& gpu = r["gpu"];
  const json& dense = gpu["dense_per_token"];
  fmt::print(out, "\nchip vs the graph's dense equivalent, per time step ({:.4g} MACs, {:.4g} weight bytes):\n",
             dense["macs"].get<double>(), dense["weight_bytes"].get<double>());
  fmt::print(out, "  {:<48} {:>12} {:>11} {:>13} {:>12}\n", "system", "energy", "× chip", "latency", "EDP (pJ·s)");
  for (const auto& v : r["chip_vs_gpu"])
    fmt::print(out, "  {:<48} {:>12} {:>11} {:>13} {:>12}\n", v["name"].get<std::string>(),
               format_energy_pj(v["energy_per_token_pj"].get<double>()), fmt::format("{:.3g}×", v["ratio_to_chip"].get<double>()),
               v["latency_per_token_ns"].is_null() ? "-" : fmt::format("{:.4g} µs", v["latency_per_token_ns"].get<double>() / 1e3),
               v["edp_pj_s"].is_null() ? "-" : fmt::format("{:.3g}", v["edp_pj_s"].get<double>()));
  fmt::print(out, "  GPU numbers: {}\n  assumptions:\n", gpu["spec"]["sources"].get<std::string>());
  for (const auto& a : gpu["assumptions"]) fmt::print(out, "   - {}\n", a.get<std::string>());
}

}  // namespace spiketile
