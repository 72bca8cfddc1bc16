#include <fmt/format.h>

#include <chrono>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "compiler/graph.hpp"
#include "compiler/lowering.hpp"
#include "compiler/mapping_io.hpp"
#include "models/unicode_util.hpp"
#include "cli/common.hpp"
#include "cli/nir_options.hpp"
#include "runtime/compile_checkpoint.hpp"
#include "runtime/compile_objective.hpp"
#include "runtime/mapping_summary.hpp"

namespace spiketile::cli {

namespace {
struct CompileCliOptions {
  ModelOptions model;
  std::string chip = default_chip_path();
  std::string output;
  bool check = false;
  bool dump_ir = false;
  CompileOptions compile;
  ProfileOptions profile;
  ObjectiveOptions objective;
  std::string objective_name = "latency";
  std::string energy_table = std::string(SPIKETILE_SOURCE_DIR) + "/chips/energy/default.yaml";
  NirOptions nir;
  ProgressOption progress;
};

// glibc raises its mmap threshold to the largest block freed so far; after the first 9 MB float
// tensor of a block is freed, later ones come from the heap and leave holes between the int8
// matrices that stay. A fixed threshold keeps every large transient buffer in its own mapping,
// returned on free (about 3 MB less peak at 216M, measured by bench/run_compile_benchmark.sh).
void keep_large_buffers_out_of_the_heap() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

int compile(const CompileCliOptions& o) {
  if (!o.check && !o.dump_ir && o.output.empty())
    throw std::invalid_argument("compile needs -o OUT.stmap, or --check to test the fit without writing");
  refuse_overwriting_inputs({o.output},
                            {o.model.model, o.model.calibration_path(), o.model.tokenizer, o.chip, o.energy_table});
  keep_large_buffers_out_of_the_heap();
  const auto t0 = std::chrono::steady_clock::now();
  const ChipSpec chip = load_chip_spec(o.chip);
  CheckpointCompileOptions request;
  request.model = o.model.model;
  request.calibration = o.model.calibration;
  request.tokenizer = o.model.tokenizer;
  request.data_dir = o.model.data_dir;
  request.golden = o.model.golden();
  request.quant = o.model.quant;
  request.compile = o.compile;
  request.profile = o.profile;
  request.objective = o.objective;
  request.energy_table = o.energy_table;
  ProgressLine progress(o.progress, "compile");
  if (progress.enabled())
    request.objective.progress = [&o, &progress](int tried, int most) {
      progress.show("objective {}: split {} tried (at most {})", o.objective_name, tried, most);
    };
  CheckpointCompiler compiler(request);
  const std::string chip_yaml = unicode::read_file_bytes(o.chip, "a chip description (YAML)");
  if (o.dump_ir) {
    ir::EncodingRule rule;
    rule.graded_payload_bits = chip.core.activation_bits;
    fmt::print("{}", ir::build_token_graph(compiler.read_model(), rule).to_text());
    if (!o.check && o.output.empty()) return 0;
  }
  Mapping mapping;
  try {
    mapping = compiler.compile(chip, chip_yaml);
  } catch (const DoesNotFitError& e) {
    progress.clear();
    fmt::print(stderr, "spiketile: {}\n", e.what());
    return 2;
  }
  progress.clear();
  const EmbeddingStream embedding = compiler.embedding(mapping);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}", mapping_summary(mapping));
  if (o.check) {
    embedding.produce([](const int32_t*, std::size_t) {});
    fmt::print("\nfits: {} of {} cores; nothing written (--check) [{:.2f} s]\n", mapping.units.size(), chip.total_cores(),
               seconds);
    return 0;
  }
  save_mapping(mapping, o.output, &embedding);
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
  cmd->add_option("-o,--output", o->output, "Mapping file to write (.stmap)");
  cmd->add_flag("--check", o->check, "Only report whether and how the model fits; write nothing");
  cmd->add_flag("--dump-ir", o->dump_ir, "Print the graph IR of one token step (ops, tensors, formats, encodings, state)");
  add_seed_option(cmd, "--placement-seed", o->compile.placement.seed,
                  "Seed of the placement's annealing (the result is deterministic per seed)");
  cmd->add_option("--placement-effort", o->compile.placement.moves_per_unit,
                  "Annealing moves per unit (0 keeps the best constructive placement)")
      ->check(kFiniteNonNegative)->capture_default_str();
  cmd->add_option("--objective", o->objective_name,
                  "What the compile optimizes: latency (split the stages on a token's critical path over idle cores "
                  "while the bound shortens; the default: the chip's answer at its best, unused cores cost nothing "
                  "but their gated leakage), energy (the same splits while the estimated energy per token falls), "
                  "edp (while energy x latency falls) or cores (as few cores as the model needs)")
      ->check(CLI::IsMember({"latency", "energy", "edp", "cores"}))
      ->capture_default_str();
  cmd->add_option("--energy-table", o->energy_table, "Energy table pricing the energy and edp objectives")
      ->capture_default_str();
  cmd->add_option("--max-cores", o->objective.max_cores, "Cores the mapping may take (0: every core of the system)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--search-steps", o->objective.search_steps, "Splits the latency objective tries at most")
      ->check(CLI::Range(0, 100000))->capture_default_str();
  cmd->add_option("--profile-tokens", o->profile.tokens,
                  "Tokens replayed through the lowered units to weigh flows for placement and estimate the latency "
                  "bound (the model's own sampled text from --profile-start; 0: assumed densities, no estimate)")
      ->check(CLI::Range(0, 4096))->capture_default_str();
  cmd->add_option("--profile-start", o->profile.first_token, "Token id the profile starts from")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--firing-rate", o->compile.expected_firing_rate,
                  "Expected LIF firing rate used to weigh spike traffic during placement when there is no profile "
                  "(--profile-tokens 0)")
      ->check(kFiniteNonNegative & CLI::Range(0.0, 1.0))->capture_default_str();
  o->nir.add_to(cmd, false);
  o->progress.add_to(cmd);
  cmd->callback([o, cmd] {
    refuse_options_of_the_other_kind(*cmd, o->nir,
                                      {"--chip", "--output", "--check", "--placement-seed", "--seed", "--placement-effort", "--firing-rate", "--progress"});
    int rc = 0;
    if (o->nir.given()) {
      if (!o->check && o->output.empty())
        throw std::invalid_argument("compile needs -o OUT.stmap, or --check to test the fit without writing");
      NirCompileRequest request;
      request.quantization = {true, o->model.quant.weight_bits, o->model.quant.activation_bits, o->model.quant.membrane_bits};
      request.chip_path = o->chip;
      request.output = o->output;
      request.check = o->check;
      request.compile = o->compile;
      rc = compile_nir_graph(o->nir, request);
    } else {
      o->objective.objective = objective_from_name(o->objective_name);
      rc = compile(*o);
    }
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace spiketile::cli
