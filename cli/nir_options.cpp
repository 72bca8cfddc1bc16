#include "cli/nir_options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "cli/common.hpp"
#include "compiler/mapping_io.hpp"
#include "compiler/nir/nir_lowering.hpp"
#include "models/nir/nir_integer.hpp"
#include "models/unicode_util.hpp"
#include "runtime/mapping_summary.hpp"
#include "runtime/nir_executor.hpp"
#include "runtime/npy.hpp"

namespace spiketile::cli {

void NirOptions::add_to(CLI::App* cmd, bool takes_io) {
  takes_io_ = takes_io;
  auto* group = cmd->add_option_group("NIR graph", "A spiking network exported as NIR (docs/nir.md)");
  group->add_option("--nir", graph, "NIR graph (.nir, HDF5) written by snnTorch, Norse, Sinabs, Rockpool, ...")
      ->check(CLI::ExistingFile);
  group->add_option("--dt", dt, "Time step in seconds for the graph's neurons and delays (forward Euler; e.g. 1e-4)")
      ->check(CLI::PositiveNumber);
  if (takes_io) {
    group->add_option("--input", input, "Input as .npy [T, *input shape]: spikes (bool/0-1) or currents, T time steps")
        ->check(CLI::ExistingFile);
    group->add_option("--output", output, "Write the output node's values as float32 .npy [T, *output shape]");
  }
  group->add_option("--reset", reset,
                    "Reset after a spike: 'value' (v <- v_reset, NIR's definition, default) or 'subtract' "
                    "(v <- v - v_threshold), for all neurons or per node: NODE=subtract,NODE2=value");
  group->add_option("--calibrate", calibrate,
                    takes_io ? "With --quantized: the input (.npy [T, *input shape]) whose float-reference ranges set the "
                               "integer model's scales (default: --input)"
                             : "The input (.npy [T, *input shape]) whose float-reference ranges set the integer model's "
                               "scales; the quantization error on it is reported")
      ->check(CLI::ExistingFile);
  group->add_flag("--fire-at-threshold", fire_at_threshold,
                  "Spike at v >= v_threshold (SpikeGPT's and Loihi's rule) instead of NIR's v > v_threshold");
}

std::vector<std::string> NirOptions::own_option_names() const {
  std::vector<std::string> names = {"--nir", "--dt", "--reset", "--fire-at-threshold", "--calibrate"};
  if (takes_io_) names.insert(names.end(), {"--input", "--output"});
  return names;
}

nir::ReferenceOptions NirOptions::reference_options(const nir::Graph& graph) const {
  nir::ReferenceOptions o;
  o.dt = dt;
  o.fire_at_threshold = fire_at_threshold;
  if (!reset.empty()) nir::parse_reset_option(reset, graph, o);
  return o;
}

namespace {

// Every option of the command, including those of its option groups (CLI11 keeps those apart).
std::vector<const CLI::Option*> all_options(const CLI::App& cmd) {
  std::vector<const CLI::Option*> options = cmd.get_options();
  for (const CLI::App* group : cmd.get_subcommands({}))
    if (group->get_name().empty())
      for (const CLI::Option* o : group->get_options()) options.push_back(o);
  return options;
}

std::string flag_of(const CLI::Option& option) {
  if (!option.get_lnames().empty()) return "--" + option.get_lnames().front();
  if (!option.get_snames().empty()) return "-" + option.get_snames().front();
  return option.get_name();
}

}  // namespace

void refuse_options_of_the_other_kind(const CLI::App& cmd, const NirOptions& nir,
                                      const std::vector<std::string>& command_shared) {
  const auto own = nir.own_option_names();
  // Options that mean the same for both kinds of model.
  std::vector<std::string> shared = {"--help", "--quiet", "--quiet-stats", "--quantized",
                                     "--weight-bits", "--activation-bits", "--membrane-bits"};
  shared.insert(shared.end(), command_shared.begin(), command_shared.end());
  for (const CLI::Option* option : all_options(cmd)) {
    if (option->count() == 0) continue;
    const std::string flag = flag_of(*option);
    if (std::find(shared.begin(), shared.end(), flag) != shared.end()) continue;
    const bool nir_only = std::find(own.begin(), own.end(), flag) != own.end();
    if (nir.given() && !nir_only)
      throw CLI::ValidationError(flag, "does not apply to a NIR graph (--nir); it is an option of SpikeGPT models");
    if (!nir.given() && nir_only)
      throw CLI::ValidationError(flag, "applies to NIR graphs only: give the graph with --nir");
  }
}

void refuse_options_fixed_at_compile(const CLI::App& cmd) {
  static const std::vector<std::string> allowed = {"--help", "--map", "--input", "--output", "--quiet", "--quiet-stats"};
  for (const CLI::Option* option : all_options(cmd)) {
    if (option->count() == 0) continue;
    const std::string flag = flag_of(*option);
    if (std::find(allowed.begin(), allowed.end(), flag) == allowed.end())
      throw CLI::ValidationError(flag, "does not apply to a compiled NIR graph (--map with --input): the mapping runs as "
                                       "compiled; it takes --input, --output and --quiet");
  }
}

namespace {

void print_spike_counts(const nir::Graph& graph, const nir::ReferenceRun& run) {
  for (const int n : graph.order) {
    const nir::Node& node = graph.nodes[std::size_t(n)];
    if (!nir::primitive(node.op).spiking) continue;
    const int64_t neurons = nir::element_count(node.output_shape);
    fmt::print(stderr, "  {:<24} {:<9} {:>8} neurons {:>10} spikes  rate {:.4f} per neuron per step\n", node.id,
               nir::primitive(node.op).type, neurons, run.spikes_per_node[std::size_t(n)],
               run.steps ? double(run.spikes_per_node[std::size_t(n)]) / double(neurons * run.steps) : 0.0);
  }
}

void print_agreement(const nir::IntegerGraph& integer, const nir::Agreement& a, const nir::Shape& output_shape) {
  for (const auto& d : integer.decisions()) fmt::print(stderr, "  quantization: {}\n", d);
  fmt::print(stderr, "  {:<24} {:>8} {:>12} {:>12} {:>16}\n", "layer", "neurons", "float rate", "integer rate",
             "spike agreement");
  for (const auto& p : a.populations)
    fmt::print(stderr, "  {:<24} {:>8} {:>12.4f} {:>12.4f} {:>15.2f}%\n", p.node, p.neurons, p.float_rate, p.integer_rate,
               100.0 * p.spike_agreement);
  const char* kind = a.output == nir::OutputKind::Spikes ? "spikes equal" : "1 - relative RMS error";
  fmt::print(stderr, "  output {}: {} {:.2f}% (max |error| {:g})\n", nir::shape_str(output_shape), kind,
             100.0 * a.output_agreement, a.output_max_abs_error);
  const auto& c = integer.counts();
  fmt::print(stderr, "  events: {} binary SOPs, {} graded SOPs, {} bias SOPs, {} neuron updates\n", c.binary_sops,
             c.graded_sops, c.bias_sops, c.neuron_updates);
}

}  // namespace

namespace {
nir::IntegerOptions integer_options(const NirQuantization& q, const nir::ReferenceOptions& reference) {
  nir::IntegerOptions options;
  options.weight_bits = q.weight_bits;
  options.activation_bits = q.activation_bits;
  options.membrane_bits = q.membrane_bits;
  options.reference = reference;
  return options;
}
}  // namespace

void run_nir_mapping(const std::string& map_path, const NirOptions& o, bool quiet, OutputBatch& outputs) {
  auto mapping = std::make_shared<const Mapping>(load_mapping(map_path));
  if (mapping->kind != MappingKind::Nir)
    throw CLI::ValidationError("--input", fmt::format("{} holds a SpikeGPT model: it runs on a prompt, not an input array",
                                                      map_path));
  const NirProgram& program = mapping->nir;
  const NpyValues input = read_npy_values(o.input);
  const std::vector<std::vector<int32_t>> steps = nir_quantize_steps(program, input.shape, input.data, "--input " + o.input);
  OutputFile* out = o.output.empty() ? nullptr : &outputs.open(o.output);
  NirMappingExecutor executor(mapping);
  std::vector<float> values;
  std::vector<int64_t> spikes(program.populations.size(), 0);
  const int64_t T = int64_t(steps.size());
  for (const auto& step : steps) {
    for (double v : nir_output_values(program, executor.step_quantized(step))) values.push_back(float(v));
    count_population_spikes(program, executor.last_observations(), spikes);
  }
  if (out) {
    nir::Shape shape = {T};
    shape.insert(shape.end(), program.output_shape.begin(), program.output_shape.end());
    write_npy(*out, shape, values.data());
  }
  if (quiet) return;
  fmt::print(stderr, "[NIR mapping executor] {} ({}): {} steps of dt = {:g} s on {} cores\n", map_path,
             program.source_path, T, program.dt, mapping->units.size());
  for (std::size_t p = 1; p < program.populations.size(); ++p) {
    const auto& pop = program.populations[p];
    if (!pop.binary) continue;
    fmt::print(stderr, "  {:<24} {:<9} {:>8} neurons {:>10} spikes  rate {:.4f} per neuron per step\n", pop.node, pop.type,
               pop.size, spikes[p], double(spikes[p]) / double(pop.size * T));
  }
}

int compile_nir_graph(const NirOptions& o, const NirCompileRequest& r) {
  if (o.calibrate.empty())
    throw CLI::ValidationError("--calibrate", "compile --nir quantizes the graph on an input: give --calibrate IN.npy "
                                              "[T, *input shape]");
  refuse_overwriting_inputs({r.output}, {o.graph, o.calibrate, r.chip_path});
  const auto t0 = std::chrono::steady_clock::now();
  const ChipSpec chip = load_chip_spec(r.chip_path);
  const std::string chip_yaml = unicode::read_file_bytes(r.chip_path, "a chip description (YAML)");
  const nir::Graph graph = nir::read_nir(o.graph);
  const NpyValues calibration = read_npy_values(o.calibrate);
  const nir::IntegerOptions options = integer_options(r.quantization, o.reference_options(graph));
  nir::IntegerGraph integer = nir::IntegerGraph::build(graph, options, calibration.shape, calibration.data);
  const nir::Agreement agreement = nir::compare_with_reference(graph, integer, calibration.shape, calibration.data);
  const nir::Node& output = graph.nodes[std::size_t(graph.outputs[0])];
  nir::Shape shape = {calibration.shape[0]};
  shape.insert(shape.end(), output.input_shape.begin(), output.input_shape.end());
  fmt::print(stderr, "[NIR compile] {}: quantization error against the float reference on {} ({} steps of dt = {:g} s)\n",
             o.graph, o.calibrate, calibration.shape[0], o.dt);
  print_agreement(integer, agreement, shape);
  Mapping mapping;
  try {
    mapping = compile_nir(graph, integer, chip, chip_yaml, r.compile);
  } catch (const DoesNotFitError& e) {
    fmt::print(stderr, "spiketile: {}\n", e.what());
    return 2;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}", mapping_summary(mapping));
  if (r.check) {
    fmt::print("\nfits: {} of {} cores; nothing written (--check) [{:.2f} s]\n", mapping.units.size(), chip.total_cores(),
               seconds);
    return 0;
  }
  save_mapping(mapping, r.output);
  fmt::print("\nwrote {} [{:.2f} s]\n", r.output, seconds);
  return 0;
}

void run_nir(const NirOptions& o, const NirQuantization& quantization, bool quiet, OutputBatch& outputs) {
  if (o.input.empty()) throw CLI::ValidationError("--input", "a NIR graph runs on an input: give --input IN.npy [T, *input shape]");
  if (!o.calibrate.empty() && !quantization.quantized)
    throw CLI::ValidationError("--calibrate", "sets the integer model's scales: it needs --quantized");
  const nir::Graph graph = nir::read_nir(o.graph);
  const NpyValues input = read_npy_values(o.input);
  OutputFile* out = o.output.empty() ? nullptr : &outputs.open(o.output);
  const nir::ReferenceOptions reference = o.reference_options(graph);
  std::vector<double> values;
  nir::Shape shape;
  if (quantization.quantized) {
    const nir::IntegerOptions options = integer_options(quantization, reference);
    const NpyValues calibration = o.calibrate.empty() ? input : read_npy_values(o.calibrate);
    nir::IntegerGraph integer = nir::IntegerGraph::build(graph, options, calibration.shape, calibration.data);
    const nir::Agreement agreement = nir::compare_with_reference(graph, integer, input.shape, input.data);
    values = agreement.integer_output;
    const nir::Node& output = graph.nodes[std::size_t(graph.outputs[0])];
    shape = {input.shape[0]};
    shape.insert(shape.end(), output.input_shape.begin(), output.input_shape.end());
    if (!quiet) {
      fmt::print(stderr, "[NIR integer model] {}: {} steps of dt = {:g} s, {}-bit weights, {}-bit membranes, calibrated on {}\n",
                 o.graph, input.shape[0], o.dt, options.weight_bits, options.membrane_bits,
                 o.calibrate.empty() ? o.input : o.calibrate);
      print_agreement(integer, agreement, shape);
    }
  } else {
    const nir::ReferenceRun run = nir::run_reference(graph, reference, input.shape, input.data);
    values = run.output;
    shape = run.shape;
    if (!quiet) {
      fmt::print(stderr, "[NIR float reference] {}: {} steps of dt = {:g} s, output {}\n", o.graph, run.steps, o.dt,
                 nir::shape_str(run.shape));
      print_spike_counts(graph, run);
    }
  }
  if (out) {
    const std::vector<float> as_float(values.begin(), values.end());
    write_npy(*out, shape, as_float.data());
  }
}

}  // namespace spiketile::cli
