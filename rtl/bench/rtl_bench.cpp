// Self-checking Verilator bench of rtl/neuron_core.sv against CoreReference (models/numerics).
//   rtl_bench --config default --cycles 10000000 --seed 1
//   rtl_bench --config small --mutant 2 --expect-mismatch     (passes iff the bug is caught)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "rtl/bench/bench.hpp"

namespace sf::rtl {
#define SF_RTL_MODEL(name, axons, neurons, lanes, w, a, acc, mem, mutant) \
  BenchStats run_##name(const BenchConfig&, const BenchOptions&);
#include "rtl_bench_models.inc"
#undef SF_RTL_MODEL

namespace {
struct Model {
  BenchConfig config;
  BenchStats (*run)(const BenchConfig&, const BenchOptions&);
};
const std::vector<Model>& models() {
#define SF_RTL_MODEL(name, axons, neurons, lanes, w, a, acc, mem, mutant) \
  Model{BenchConfig{#name, CoreShape{axons, neurons, w, a, acc, mem}, lanes, mutant}, &run_##name},
  static const std::vector<Model> all = {
#include "rtl_bench_models.inc"
  };
#undef SF_RTL_MODEL
  return all;
}
// Mutant models are named <config>_m<K>.
std::string model_name(const std::string& config, int mutant) {
  return mutant ? config + "_m" + std::to_string(mutant) : config;
}
}  // namespace
}  // namespace sf::rtl

int main(int argc, char** argv) {
  using namespace sf::rtl;
  CLI::App app{"Self-checking Verilator bench of the RTL neuron core (rtl/neuron_core.sv)"};
  std::string config = "small", profile = "mixed";
  int mutant = 0;
  bool expect_mismatch = false, no_directed = false, list = false;
  BenchOptions opt;
  app.add_option("--config", config, "core configuration: small, narrow or default")->capture_default_str();
  app.add_option("--mutant", mutant, "run the model with injected bug K (see rtl/README.md)")->capture_default_str();
  app.add_option("--cycles", opt.cycles, "clock cycles to check (then drain)")->capture_default_str();
  app.add_option("--seed", opt.seed, "stimulus seed")->capture_default_str();
  app.add_option("--profile", profile, "mixed (directed + random) or ticks (back-to-back ticks, for speed)")
      ->check(CLI::IsMember({"mixed", "ticks"}))->capture_default_str();
  app.add_flag("--no-directed", no_directed, "random stimulus only");
  app.add_option("--max-report", opt.max_report, "mismatches to print")->capture_default_str();
  app.add_flag("--expect-mismatch", expect_mismatch,
               "mutation check: stop at the first mismatch and exit 0 iff there is one");
  app.add_flag("--list", list, "list the verilated models");
  CLI11_PARSE(app, argc, argv);

  if (list) {
    for (const auto& m : models())
      std::printf("%-12s %4d axons x %4d neurons, %3d lanes, w%d a%d acc%d mem%d, mutant %d\n", m.config.name.c_str(),
                  m.config.shape.axons, m.config.shape.neurons, m.config.lanes, m.config.shape.weight_bits,
                  m.config.shape.activation_bits, m.config.shape.accumulator_bits, m.config.shape.membrane_bits,
                  m.config.mutant);
    return 0;
  }
  const std::string name = model_name(config, mutant);
  const Model* model = nullptr;
  for (const auto& m : models())
    if (m.config.name == name) model = &m;
  if (!model) {
    std::fprintf(stderr, "rtl bench: no verilated model '%s' (see --list)\n", name.c_str());
    return 2;
  }
  opt.profile = profile == "ticks" ? Profile::kTicks : Profile::kMixed;
  opt.directed = !no_directed;
  opt.stop_at_first = expect_mismatch;

  const BenchStats st = model->run(model->config, opt);
  const auto& s = model->config.shape;
  std::printf("rtl bench: %llu cycles, %llu mismatches, %llu spikes\n", (unsigned long long)st.cycles,
              (unsigned long long)st.mismatches, (unsigned long long)st.spikes);
  std::printf("  model %s (%d axons x %d neurons, %d lanes; w%d a%d acc%d mem%d), seed %llu, profile %s\n",
              name.c_str(), s.axons, s.neurons, model->config.lanes, s.weight_bits, s.activation_bits,
              s.accumulator_bits, s.membrane_bits, (unsigned long long)opt.seed, profile.c_str());
  std::printf("  %llu events (%llu SOPs), %llu ticks, %llu neuron updates checked, %llu resets, "
              "%llu weight words + %llu multipliers loaded\n",
              (unsigned long long)st.events, (unsigned long long)st.sops, (unsigned long long)st.ticks,
              (unsigned long long)st.neuron_checks, (unsigned long long)st.resets,
              (unsigned long long)st.weight_words, (unsigned long long)st.multiplier_writes);
  std::printf("  %.2f s: %.3g cycles/s, %.3g neuron updates/s, %.3g SOPs/s\n", st.seconds, st.cycles / st.seconds,
              st.neuron_checks / st.seconds, st.sops / st.seconds);
  const Corners& c = st.corners;
  std::printf("  corners (neuron-ticks): %llu at threshold, %llu one below, current at +rail %llu / -rail %llu, "
              "membrane at min %llu, acc at +rail %llu / -rail %llu, rounding ties +%llu / -%llu, "
              "left shifts %llu, empty ticks %llu, resets during a tick %llu\n",
              (unsigned long long)c.at_threshold, (unsigned long long)c.below_threshold,
              (unsigned long long)c.current_max, (unsigned long long)c.current_min,
              (unsigned long long)c.membrane_min, (unsigned long long)c.acc_max, (unsigned long long)c.acc_min,
              (unsigned long long)c.tie_pos, (unsigned long long)c.tie_neg, (unsigned long long)c.left_shift,
              (unsigned long long)c.empty_ticks, (unsigned long long)c.reset_in_tick);
  for (const auto& k : st.skipped) std::printf("  directed scenario %s skipped: needs a longer run\n", k.c_str());
  if (expect_mismatch) {
    if (st.mismatches) {
      std::printf("  mutation check: mutant %d caught at cycle %llu (scenario %s)\n", mutant,
                  (unsigned long long)st.first_mismatch_cycle, st.first_mismatch_scenario.c_str());
      return 0;
    }
    std::printf("  mutation check FAILED: mutant %d survived %llu cycles\n", mutant, (unsigned long long)st.cycles);
    return 1;
  }
  return st.mismatches ? 1 : 0;
}
