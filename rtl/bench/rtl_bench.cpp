// Self-checking Verilator bench of rtl/neuron_core.sv against CoreReference (models/numerics).
//   rtl_bench --config default --cycles 10000000 --seed 1
//   rtl_bench --config small --mutant 2 --expect-mismatch     (passes iff the bug is caught)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "rtl/bench/bench.hpp"

int main(int argc, char** argv) {
  using namespace spiketile::rtl;
  CLI::App app{"Self-checking Verilator bench of the RTL neuron core (rtl/neuron_core.sv)"};
  std::string config = "small", profile = "mixed";
  int mutant = 0;
  bool expect_mismatch = false, no_directed = false, list = false, parameters = false;
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
  app.add_flag("--write-while-busy", opt.write_while_busy,
               "break the port contract: weight writes also while the core is busy (the RTL assertions must fire)");
  app.add_option("--write-vectors", opt.vectors_path,
                 "also write the run, inputs and the reference's expected outputs per cycle, as a vector file for "
                 "rtl/portable/vectors_tb.sv");
  app.add_flag("--list", list, "list the verilated models");
  app.add_flag("--parameters", parameters,
               "print the configuration's neuron_core parameters (NAME=VALUE ...) for other tools, and exit");
  CLI11_PARSE(app, argc, argv);

  if (list) {
    for (const auto& m : rtl_models()) std::printf("%s\n", describe_model(m).c_str());
    return 0;
  }
  const RtlModel* model = nullptr;
  try {
    model = &find_rtl_model(config, mutant);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rtl bench: %s\n", e.what());
    return 2;
  }
  if (parameters) {
    const CoreShape& s = model->geometry.shape;
    std::printf("AXONS=%d NEURONS=%d LANES=%d W_W=%d ACT_W=%d ACC_W=%d MEM_W=%d\n", s.axons, s.neurons,
                model->geometry.lanes, s.weight_bits, s.activation_bits, s.accumulator_bits, s.membrane_bits);
    return 0;
  }
  opt.profile = profile == "ticks" ? Profile::kTicks : Profile::kMixed;
  opt.directed = !no_directed;
  opt.stop_at_first = expect_mismatch;

  const BenchStats st = run_rtl_bench(*model, opt);
  std::fputs(bench_summary(*model, opt, st).c_str(), stdout);
  if (expect_mismatch) return st.mismatches ? 0 : 1;
  return st.mismatches ? 1 : 0;
}
