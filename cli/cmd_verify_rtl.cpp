// spiketile verify-rtl: co-verification of the RTL neuron core (rtl/neuron_core.sv), in-process.
//   1. bench     the self-checking Verilator bench (rtl/bench): every output beat vs CoreReference
//   2. backends  the "reference" and "verilated" neuron core backends (rtl/loop) on the bench's
//                stimulus through the interface a simulator drives, tick by tick and cycle by cycle
//   3. in the loop  the shipped model compiled on chips/default.yaml, simulated with every crossbar
//                core on the verilated core against the plain simulation (sim/rtl_loop_comparison.hpp)
#include <fmt/format.h>

#include <optional>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "chips/chip_spec.hpp"
#include "compiler/lowering.hpp"
#include "models/unicode_util.hpp"
#include "rtl/bench/bench.hpp"
#include "rtl/loop/backend_comparison.hpp"
#include "cli/common.hpp"
#include "sim/rtl_loop_comparison.hpp"

namespace spiketile::cli {

namespace {
struct VerifyRtlOptions {
  std::string config = "small";
  int mutant = 0;
  uint64_t cycles = 1'000'000;
  uint64_t compare_cycles = 0;   // 0: the same as cycles
  uint64_t seed = 1;
  std::string profile = "mixed";
  bool skip_bench = false, skip_backends = false, skip_loop = false, list = false;
  int loop_tokens = 16;
  std::string json;
  ProgressOption progress;
};

void list_models_and_backends() {
  fmt::print("verilated models:\n");
  for (const auto& m : rtl::rtl_models()) fmt::print("  {}\n", rtl::describe_model(m));
  fmt::print("neuron core backends:\n");
  for (const auto& b : rtl::neuron_core_backends()) {
    fmt::print("  {:<10} {}\n", b.name, b.description);
    for (const auto& p : b.params) fmt::print("    {:<8} {} [default: {}]\n", p.name, p.description, p.default_value);
  }
}

nlohmann::json cycle_stats_json(const rtl::BackendRun& run) {
  const rtl::CoreCycleStats& s = run.stats;
  return {{"backend", run.backend},     {"model", run.model},           {"cycles", s.total()},
          {"events", s.events},         {"event_cycles", s.event_cycles}, {"partial_sums", s.partial_sums},
          {"partial_sum_cycles", s.partial_sum_cycles}, {"ticks", s.ticks}, {"tick_cycles", s.tick_cycles},
          {"readouts", s.readouts},     {"readout_cycles", s.readout_cycles},
          {"writes", s.writes},         {"write_cycles", s.write_cycles},
          {"resets", s.resets},         {"neuron_updates", s.neuron_updates}, {"sops", s.sops},
          {"seconds", run.seconds}};
}

int verify(const VerifyRtlOptions& o) {
  if (o.list) {
    list_models_and_backends();
    return 0;
  }
  // Opened before the checks: an output folder that does not exist fails now, not after them.
  std::optional<OutputFile> json_file;
  if (!o.json.empty()) json_file.emplace(o.json);
  const rtl::RtlModel& model = rtl::find_rtl_model(o.config, o.mutant);
  const rtl::Profile profile = o.profile == "ticks" ? rtl::Profile::kTicks : rtl::Profile::kMixed;
  fmt::print("verify-rtl: {}\n", rtl::describe_model(model));
  if (o.mutant) fmt::print("  model with injected bug {} (rtl/README.md): every check below should FAIL\n", o.mutant);
  nlohmann::json report = {{"model", model.name}, {"mutant", model.mutant}, {"seed", o.seed}, {"profile", o.profile}};
  bool pass = true;
  ProgressLine progress(o.progress, "verify-rtl");
  const auto cycles_done = [&progress](const char* phase) {
    return [&progress, phase](uint64_t done, uint64_t total) { progress.show("{}: {}/{} cycles", phase, done, total); };
  };

  if (!o.skip_bench) {
    rtl::BenchOptions opt;
    opt.cycles = o.cycles;
    opt.seed = o.seed;
    opt.profile = profile;
    opt.stop_at_first = o.mutant != 0;   // a mutant needs one mismatch, not all of them
    opt.max_report = 5;
    if (progress.enabled()) opt.progress = cycles_done("bench");
    const rtl::BenchStats st = rtl::run_rtl_bench(model, opt);
    progress.clear();
    const bool ok = st.mismatches == 0;
    pass = pass && ok;
    fmt::print("[bench] {}: {} cycles checked, {} mismatches, {} neuron updates, {} spikes; "
               "{:.3g} cycles/s, {:.3g} neuron updates/s\n",
               ok ? "PASS" : "FAIL", st.cycles, st.mismatches, st.neuron_checks, st.spikes, st.cycles / st.seconds,
               st.neuron_checks / st.seconds);
    rtl::BenchOptions shown = opt;
    shown.stop_at_first = false;   // the verdict is the line above, not the mutation check's
    fmt::print("{}", rtl::bench_summary(model, shown, st));
    const rtl::Corners& c = st.corners;
    report["bench"] = {{"pass", ok}, {"cycles", st.cycles}, {"mismatches", st.mismatches},
                       {"first_mismatch_cycle", st.first_mismatch_cycle},
                       {"first_mismatch_scenario", st.first_mismatch_scenario},
                       {"events", st.events}, {"ticks", st.ticks}, {"neuron_updates", st.neuron_checks},
                       {"spikes", st.spikes}, {"resets", st.resets}, {"sops", st.sops}, {"seconds", st.seconds},
                       {"partial_sums", st.partial_sums}, {"readouts", st.readouts},
                       {"neuron_param_writes", st.param_writes}, {"neuron_param_resets", st.param_resets},
                       {"skipped_scenarios", st.skipped},
                       {"corners", {{"at_threshold", c.at_threshold}, {"at_threshold_gt", c.at_threshold_gt},
                                    {"below_threshold", c.below_threshold},
                                    {"current_max", c.current_max}, {"current_min", c.current_min},
                                    {"membrane_min", c.membrane_min}, {"acc_max", c.acc_max}, {"acc_min", c.acc_min},
                                    {"tie_pos", c.tie_pos}, {"tie_neg", c.tie_neg}, {"left_shift", c.left_shift},
                                    {"empty_ticks", c.empty_ticks}, {"reset_in_tick", c.reset_in_tick},
                                    {"readout_rail", c.readout_rail}}},
                       {"neuron_modes", {{"reset_to_value", c.reset_to_value}, {"reset_subtract", c.reset_subtract},
                                         {"subtract_saturated", c.subtract_saturated},
                                         {"no_spike_mode", c.no_spike_mode}, {"no_spike_over", c.no_spike_over},
                                         {"membrane_clamp_max", c.membrane_clamp_max},
                                         {"membrane_clamp_min", c.membrane_clamp_min},
                                         {"current_stage", c.current_stage}, {"syn_current_max", c.syn_current_max},
                                         {"syn_current_min", c.syn_current_min}, {"integrator", c.integrator},
                                         {"dv_zero", c.dv_zero}, {"dv_one", c.dv_one}, {"di_zero", c.di_zero},
                                         {"di_one", c.di_one}}}};
  }

  if (!o.skip_backends) {
    auto reference = rtl::make_neuron_core_backend("reference", model);
    auto verilated = rtl::make_neuron_core_backend("verilated", model);
    rtl::ComparisonOptions opt;
    opt.cycles = o.compare_cycles ? o.compare_cycles : o.cycles;
    opt.seed = o.seed;
    opt.profile = profile;
    opt.stop_at_first = o.mutant != 0;
    opt.max_report = 5;
    if (progress.enabled()) opt.progress = cycles_done("backends");
    const rtl::ComparisonResult r = rtl::compare_backends(*reference, *verilated, opt);
    progress.clear();
    const bool ok = r.mismatches == 0;
    pass = pass && ok;
    fmt::print("[backends] {}: reference vs verilated through the neuron core interface: {} calls, {} ticks, "
               "{} mismatches, {} cycles each\n",
               ok ? "PASS" : "FAIL", r.calls, r.ticks, r.mismatches, r.b.stats.total());
    fmt::print("{}", rtl::comparison_summary(r));
    report["backends"] = {{"pass", ok}, {"calls", r.calls}, {"ticks", r.ticks}, {"mismatches", r.mismatches},
                          {"spikes", r.spikes}, {"reports", r.reports},
                          {"reference", cycle_stats_json(r.a)}, {"verilated", cycle_stats_json(r.b)}};
  }

  if (!o.skip_loop) {
    // The shipped model's tiles are sized by chips/default.yaml (256 × 256): the loop runs the model of
    // that geometry whatever --config says, with --mutant's bug where the build has it at that size.
    const std::string loop_model = o.mutant ? "default_m" + std::to_string(o.mutant) : "default";
    bool built = false;
    for (const auto& m : rtl::rtl_models()) built = built || m.name == loop_model;
    if (!built) {
      fmt::print("[in-the-loop vs simulate] not run: the build has no verilated model '{}' at the default chip's "
                 "geometry (rtl/CMakeLists.txt)\n", loop_model);
      report["in_the_loop"] = {{"run", false}, {"model", loop_model}};
    } else {
      const ModelOptions shipped;
      const std::string chip_path = default_chip_path();
      auto mapping = std::make_shared<const Mapping>(compile_model(
          shipped.make_quantized(), load_chip_spec(chip_path), unicode::read_file_bytes(chip_path, "a chip description")));
      sim::LoopComparisonOptions opt;
      opt.tokens = o.loop_tokens;
      opt.rtl.model = loop_model;
      if (progress.enabled())
        opt.progress = [&progress](int done, int total) { progress.show("in the loop: {}/{} tokens", done, total); };
      const sim::LoopComparisonResult r = sim::compare_rtl_in_the_loop(mapping, opt);
      progress.clear();
      pass = pass && r.pass;
      fmt::print("[in-the-loop vs simulate] shipped model on chips/default.yaml, every crossbar core on the verilated "
                 "core vs the C++ one: {}\n",
                 sim::loop_comparison_summary(r));
      report["in_the_loop"] = {{"run", true}, {"pass", r.pass}, {"model", loop_model}, {"tokens", r.tokens},
                               {"rtl_cores", r.rtl.cores}, {"plain_cycles", r.plain_cycles}, {"rtl_cycles", r.rtl_cycles},
                               {"rtl_core_cycles", r.rtl.totals.total()}, {"rtl_neuron_updates", r.rtl.neuron_updates},
                               {"plain_seconds", r.plain_seconds}, {"rtl_seconds", r.rtl_seconds},
                               {"first_difference", r.first_difference}};
    }
  }
  report["pass"] = pass;
  fmt::print("verify-rtl: {}\n", pass ? "PASS" : "FAIL");
  if (json_file) {
    json_file->write(report.dump(2) + "\n");
    json_file->commit();
  }
  return pass ? 0 : 1;
}
}  // namespace

void register_verify_rtl(CLI::App& app) {
  auto o = std::make_shared<VerifyRtlOptions>();
  auto* cmd = app.add_subcommand(
      "verify-rtl",
      "Co-verify the RTL neuron core: (1) the self-checking Verilator bench against the C++ reference, "
      "(2) the reference and verilated neuron core backends on the same stimulus through the simulator's "
      "interface, (3) `spiketile simulate --rtl all` against the plain simulation on the shipped model. Prints a "
      "PASS/FAIL summary with cycle counts, corner coverage and speed; exits 1 on any mismatch. "
      "The 10M-cycle check: verify-rtl --config default --cycles 10000000");
  cmd->add_option("--config", o->config, "core configuration: small, narrow or default (see --list)")
      ->check(CLI::IsMember({"small", "narrow", "default"}))->capture_default_str();
  cmd->add_option("--cycles", o->cycles, "clock cycles the bench checks")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--compare-cycles", o->compare_cycles, "cycles of the backend comparison (0: --cycles)")
      ->check(kFiniteNonNegative)
      ->capture_default_str();
  add_seed_option(cmd, "--stimulus-seed", o->seed, "Seed of the random stimulus");
  cmd->add_option("--mutant", o->mutant, "run the model with injected bug K (1-12, rtl/README.md); the checks must fail")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--profile", o->profile, "mixed (directed + random stimulus) or ticks (back-to-back ticks, for speed)")
      ->check(CLI::IsMember({"mixed", "ticks"}))->capture_default_str();
  cmd->add_flag("--skip-bench", o->skip_bench, "skip the bench");
  cmd->add_flag("--skip-backends", o->skip_backends, "skip the backend comparison");
  cmd->add_flag("--skip-loop", o->skip_loop, "skip the in-the-loop comparison");
  cmd->add_option("--loop-tokens", o->loop_tokens, "tokens of the in-the-loop comparison")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--json", o->json, "write the summary as JSON to this file");
  cmd->add_flag("--list", o->list, "list the verilated models and the neuron core backends, then exit");
  o->progress.add_to(cmd);
  cmd->callback([o] {
    if (verify(*o) != 0) throw std::runtime_error("RTL verification failed (see the FAIL lines above)");
  });
}

}  // namespace spiketile::cli
