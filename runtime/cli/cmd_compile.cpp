#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "compiler/graph.hpp"
#include "compiler/lowering.hpp"
#include "compiler/mapping_io.hpp"
#include "runtime/cli/common.hpp"
#include "runtime/mapping_summary.hpp"

namespace sf::cli {

namespace {
struct CompileCliOptions {
  ModelOptions model;
  std::string chip = default_chip_path();
  std::string output;
  bool check = false;
  bool dump_ir = false;
  CompileOptions compile;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open chip description", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int compile(const CompileCliOptions& o) {
  if (!o.check && !o.dump_ir && o.output.empty())
    throw std::invalid_argument("compile needs -o OUT.sfmap, or --check to test the fit without writing");
  const auto t0 = std::chrono::steady_clock::now();
  const ChipSpec chip = load_chip_spec(o.chip);
  const QuantizedSpikeGpt qm = o.model.make_quantized();
  if (o.dump_ir) {
    ir::EncodingRule rule;
    rule.graded_payload_bits = chip.core.activation_bits;
    fmt::print("{}", ir::build_token_graph(qm, rule).to_text());
    if (!o.check && o.output.empty()) return 0;
  }
  Mapping mapping;
  try {
    mapping = compile_model(qm, chip, read_file(o.chip), o.compile);
  } catch (const DoesNotFitError& e) {
    fmt::print(stderr, "spikeforge: {}\n", e.what());
    return 2;
  }
  mapping.model_source = o.model.model;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}", mapping_summary(mapping));
  if (o.check) {
    fmt::print("\nfits: {} of {} cores; nothing written (--check) [{:.2f} s]\n", mapping.units.size(), chip.total_cores(),
               seconds);
    return 0;
  }
  save_mapping(mapping, o.output);
  fmt::print("\nwrote {} [{:.2f} s]\n", o.output, seconds);
  return 0;
}
}  // namespace

void register_compile(CLI::App& app) {
  auto o = std::make_shared<CompileCliOptions>();
  o->model.quantized = true;
  auto* cmd = app.add_subcommand("compile",
                                 "Lower a checkpoint onto a chip: crossbar tiles, neuron units, placement, routing tables; "
                                 "write the mapping file (see docs/mapping-format.md)");
  o->model.add_to(cmd);
  cmd->add_option("--chip,-c", o->chip, "Chip description YAML")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "Mapping file to write (.sfmap)");
  cmd->add_flag("--check", o->check, "Only report whether and how the model fits; write nothing");
  cmd->add_flag("--dump-ir", o->dump_ir, "Print the graph IR of one token step (ops, tensors, formats, encodings, state)");
  cmd->add_option("--seed", o->compile.placement.seed, "Placement seed (the result is deterministic per seed)")
      ->capture_default_str();
  cmd->add_option("--placement-effort", o->compile.placement.moves_per_unit,
                  "Annealing moves per unit (0 keeps the best constructive placement)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--firing-rate", o->compile.expected_firing_rate,
                  "Expected LIF firing rate used to weigh spike traffic during placement")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->callback([o] {
    const int rc = compile(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace sf::cli
