#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "compiler/mapping_io.hpp"
#include "cli/common.hpp"
#include "runtime/execution.hpp"
#include "runtime/npy.hpp"
#include "runtime/stats.hpp"
#include "sim/chip_simulator.hpp"
#include "sim/mpi_rank_group.hpp"
#include "sim/nir_run.hpp"

namespace spiketile::cli {

namespace {
struct SimulateOptions {
  ModelOptions model;  // only --map, --data-dir and --tokenizer apply
  GenerationOptions generation;
  std::string text_file;   // --text: evaluate this text instead of generating
  int64_t max_tokens = 0;
  std::string trace;
  std::vector<std::string> trace_cores;  // core indices or unit names
  uint64_t watchdog_cycles = 0;
  ProgressOption progress;
  sim::RtlInTheLoop rtl;
  std::string input, output;  // a NIR graph's mapping: [T, *input shape] in, [T, *output shape] out
  double rank_timeout_seconds = 60;  // over MPI ranks: the longest wait for the others in one exchange
};

// The ',' delimiter also splits unit names ("L0.ffn.value[0,2]"): a piece with an open '[' joins the next.
std::vector<std::string> join_split_unit_names(const std::vector<std::string>& pieces) {
  std::vector<std::string> words;
  for (const std::string& piece : pieces) {
    if (!words.empty() && std::count(words.back().begin(), words.back().end(), '[') >
                              std::count(words.back().begin(), words.back().end(), ']'))
      words.back() += "," + piece;
    else if (!piece.empty())
      words.push_back(piece);
  }
  return words;
}

// The chip the mapping embeds is written beside the statistics, so the report prices exactly this chip.
std::string chip_path_beside(const std::string& stats_path) { return stats_path + ".chip.yaml"; }

void refuse_outputs_over_inputs(const SimulateOptions& o) {
  std::vector<std::string> outputs = o.generation.output_paths();
  if (!o.output.empty()) outputs.push_back(o.output);
  if (!o.generation.stats_out.empty()) outputs.push_back(chip_path_beside(o.generation.stats_out));
  if (!o.trace.empty()) outputs.push_back(o.trace);
  refuse_overwriting_inputs(outputs, {o.model.map, o.model.tokenizer, o.text_file, o.input});
}

// A NIR graph's time steps on the chip: the input quantized by the host as every level does, the
// output written as float32 .npy [T, *output shape].
void simulate_nir(const SimulateOptions& o, const std::shared_ptr<const Mapping>& mapping, sim::ChipSimulator& chip,
                  OutputBatch& outputs, const std::function<void(RunStats&)>& add_chip_stats) {
  const NirProgram& program = mapping->nir;
  const NpyValues input = read_npy_values(o.input);
  OutputFile* out = o.output.empty() ? nullptr : &outputs.open(o.output);
  OutputFile* stats_file = o.generation.stats_out.empty() ? nullptr : &outputs.open(o.generation.stats_out);
  sim::NirChipRun run = sim::run_nir_on_chip(chip, input.shape, input.data, "--input " + o.input);
  const int64_t T = run.shape[0];
  if (stats_file) {
    add_chip_stats(run.stats);
    write_stats(*stats_file, run.stats);
  }
  if (out) write_npy(*out, run.shape, run.outputs.data());
  fmt::print("mapping:           {}\n", o.model.map);
  fmt::print("graph:             {}\n", program.source_path);
  fmt::print("time steps:        {} of dt = {:g} s\n", T, program.dt);
  if (out) fmt::print("output:            {} [{}, {}]\n", o.output, T, fmt::join(program.output_shape, ", "));
}

void simulate(const SimulateOptions& given) {
  refuse_outputs_over_inputs(given);
  // Under mpirun every rank runs this command; rank 0 prints and writes, the others only simulate
  // their chips (sim/README.md, "Runs over MPI ranks").
  const std::shared_ptr<sim::RankGroup> ranks = sim::mpi_ranks_if_launched(given.rank_timeout_seconds);
  SimulateOptions o = given;
  const bool quiet_rank = ranks && ranks->rank() != 0;
  if (quiet_rank) {
    if (!std::freopen("/dev/null", "w", stdout))
      throw std::runtime_error(fmt::format("rank {}: cannot silence its standard output", ranks->rank()));
    for (std::string* path : {&o.generation.logits_out, &o.generation.counts_out, &o.generation.stats_out,
                              &o.generation.spikes_out, &o.generation.membranes_out, &o.output})
      path->clear();
    o.generation.quiet_stats = true;
  }
  auto mapping = std::make_shared<const Mapping>(load_mapping(o.model.map));
  const bool nir = mapping->kind == MappingKind::Nir;
  if (nir && o.input.empty())
    throw CLI::ValidationError("--input", fmt::format("{} holds a NIR graph: it runs on an input, give --input IN.npy "
                                                      "[T, {}]",
                                                      o.model.map, fmt::join(mapping->nir.input_shape, ", ")));
  if (nir)
    for (const std::string& path :
         {o.generation.logits_out, o.generation.counts_out, o.generation.spikes_out, o.generation.membranes_out})
      if (!path.empty())
        throw std::invalid_argument(fmt::format("{}: a NIR graph's run writes its output with --output and its statistics "
                                                "with --stats; logits, counts and spike files are SpikeGPT's",
                                                path));
  if (!nir && !o.input.empty())
    throw CLI::ValidationError("--input", fmt::format("{} holds a SpikeGPT model: it runs on a prompt or --text, not an "
                                                      "input array",
                                                      o.model.map));
  const FoundTokenizer tokenizer = nir ? FoundTokenizer{} : mapping_tokenizer(*mapping, o.model.map, o.model.tokenizer, o.model.data_dir);
  const int64_t cores = load_chip_spec_from_string(mapping->chip_yaml, o.model.map).total_cores();
  sim::SimulatorOptions options;
  options.trace_path = o.trace;
  const Topology topology(load_chip_spec_from_string(mapping->chip_yaml, o.model.map));
  for (const std::string& word : o.trace_cores) {
    // A core index (any core: a router without a unit still forwards) or the name of a unit.
    const bool numeric = !word.empty() && word.size() < 10 && word.find_first_not_of("0123456789") == std::string::npos;
    const int unit = numeric ? -1 : find_unit(*mapping, topology, word);
    if (numeric && std::stoll(word) >= cores)
      throw std::invalid_argument(fmt::format("--trace-cores: {} is not a core of the mapping's chip '{}' (cores 0 to {})",
                                              word, mapping->chip_name, cores - 1));
    if (!numeric && unit < 0)
      throw std::invalid_argument(fmt::format("--trace-cores: '{}' is neither a core index nor a unit of this mapping "
                                              "('spiketile inspect {}' lists every core and its unit)",
                                              word, o.model.map));
    options.trace_cores.push_back(numeric ? std::stoi(word) : topology.core_index(mapping->unit_cores[std::size_t(unit)]));
  }
  options.watchdog_cycles = o.watchdog_cycles;
  options.rtl = o.rtl;
  options.ranks = ranks;
  ProgressOption progress_option = o.progress;
  if (quiet_rank) progress_option.mode = "off";
  ProgressLine progress(progress_option, "simulate");
  const int64_t total = int64_t(o.generation.n_tokens);
  if (progress.enabled())
    options.progress = [total, &progress](const sim::SimulationProgress& p) {
      progress.show("{} tokens (generating {}), {} cycles, {:.1f} s wall", p.tokens_done, total, p.cycles,
                    p.wall_seconds);
    };
  sim::ChipSimulator chip(mapping, options);
  if (chip.partition() && !quiet_rank) fmt::print(stderr, "over MPI: {}\n", chip.partition()->describe());
  ModelOptions model_options = o.model;
  model_options.model = mapping->model_source;
  model_options.quant = mapping->quant;
  OutputBatch outputs;
  auto add_chip_stats = [&](RunStats& stats) {
    chip.fill_stats(stats);
    const std::string chip_path = chip_path_beside(o.generation.stats_out);
    outputs.open(chip_path).write(mapping->chip_yaml);
    stats.chip->spec_path = std::filesystem::path(chip_path).filename().string();  // beside the stats
  };
  if (nir) {
    simulate_nir(o, mapping, chip, outputs, add_chip_stats);
  } else if (o.text_file.empty()) {
    run_generation(o.generation, model_options, chip, tokenizer, outputs, add_chip_stats);
  } else {
    // Teacher forcing: the whole text is one pipelined prefill, scored as 'eval' scores it.
    const std::vector<int> tokens =
        encode_text_file(o.text_file, tokenizer, chip.vocab_size(), o.max_tokens, kTextToEvaluate, print_note_to_stderr,
                         o.generation.text_case())
            .tokens;
    OutputFile* stats_file = o.generation.stats_out.empty() ? nullptr : &outputs.open(o.generation.stats_out);
    const EvalResult r = evaluate(chip, tokens);
    const bool characters = tokenizer.source.kind == TokenizerKind::Characters;
    fmt::print("mapping:           {}\n", o.model.map);
    fmt::print("text:              {}\n", o.text_file);
    fmt::print("tokens evaluated:  {}\n", r.tokens_evaluated);
    fmt::print("{:<18} {:.6f}\n", characters ? "BPC:" : "bits/token:", r.bits_per_token());
    if (stats_file) {
      RunStats stats = run_stats(model_options, chip, tokens, {}, r.counts);
      add_chip_stats(stats);
      write_stats(*stats_file, stats);
    }
  }
  if (auto trace = chip.finish_trace()) outputs.adopt(std::move(trace));
  outputs.commit();
  progress.clear();
  if (!o.generation.quiet_stats) fmt::print(stderr, "{}", chip.summary());
}
}  // namespace

void register_simulate(CLI::App& app) {
  auto o = std::make_shared<SimulateOptions>();
  auto* cmd = app.add_subcommand("simulate",
                                 "Run a compiled mapping on the cycle-accurate SystemC model of the chip: same tokens, "
                                 "spikes and counts as 'run --map', plus cycles, latency, network and per-core statistics");
  cmd->add_option("--map", o->model.map, "Mapping file written by 'spiketile compile'")->required()->check(CLI::ExistingFile);
  cmd->add_option("--data-dir", o->model.data_dir,
                  "Folder holding the shipped tokenizer files (for a mapping that records no tokenizer)")
      ->capture_default_str();
  add_tokenizer_option(cmd, o->model.tokenizer);
  o->generation.add_to(cmd);
  auto* text = cmd->add_option("--text", o->text_file,
                               "Evaluate this text on the chip instead of generating: bits per character (or token), "
                               "as 'eval' computes them, with the text streamed through as one pipelined prefill")
                   ->check(CLI::ExistingFile);
  for (const char* generating : {"--prompt", "--prompt-ids", "--tokens", "--logits-out"})
    text->excludes(cmd->get_option(generating));
  cmd->add_option("--max-tokens", o->max_tokens, "With --text: only the first N tokens (0 = all)")
      ->check(kFiniteNonNegative)
      ->capture_default_str()
      ->needs(text);
  auto* trace = cmd->add_option("--trace", o->trace, "Write a VCD trace (GTKWave) of the routers of --trace-cores");
  auto* trace_cores = cmd->add_option("--trace-cores", o->trace_cores,
                                      "Cores to trace: core indices (chip-major, row-major within a chip) or unit names, "
                                      "comma-separated, as --rtl takes them")
                          ->delimiter(',');
  // Either alone would write an empty trace or be ignored.
  trace->needs(trace_cores);
  trace_cores->needs(trace);
  cmd->add_option("--watchdog-cycles", o->watchdog_cycles,
                  "Cycles without progress, with packets in flight, before the run stops with a stall report "
                  "(0: the network's default)")
      ->check(kFiniteNonNegative)
      ->capture_default_str();
  o->progress.add_to(cmd);
  auto* rtl = cmd->add_option("--rtl", o->rtl.cores,
                              "Run the RTL neuron core (rtl/neuron_core.sv) in place of the C++ accumulation on these "
                              "crossbar cores: 'all' (also with no value), core indices or unit names, comma-separated")
                  ->delimiter(',')
                  ->expected(0, -1);
  cmd->add_option("--rtl-backend", o->rtl.backend, "Neuron core backend of --rtl: verilated or reference (its C++ model)")
      ->check(CLI::IsMember({"verilated", "reference"}))
      ->capture_default_str();
  cmd->add_option("--rtl-model", o->rtl.model, "Verilated model of --rtl ('spiketile verify-rtl --list')")
      ->capture_default_str();
  auto* input = cmd->add_option("--input", o->input,
                                "A NIR graph's mapping: the input as .npy [T, *input shape] (spikes 0/1 or currents), "
                                "T time steps run overlapped on the chip")
                    ->check(CLI::ExistingFile);
  cmd->add_option("--output", o->output, "With --input: the output node's values as float32 .npy [T, *output shape]")
      ->needs(input);
  cmd->add_option("--rank-timeout", o->rank_timeout_seconds,
                  "Under mpirun: seconds a rank waits for the others at a window boundary before the run stops, "
                  "naming the ranks that did not answer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  for (const char* generating : {"--prompt", "--prompt-ids", "--tokens", "--logits-out", "--text"})
    input->excludes(cmd->get_option(generating));
  cmd->callback([o, rtl] {
    o->rtl.cores = join_split_unit_names(o->rtl.cores);
    if (rtl->count() > 0 && o->rtl.cores.empty()) o->rtl.cores = {"all"};   // --rtl with no value
    o->trace_cores = join_split_unit_names(o->trace_cores);
    simulate(*o);
  });
}

}  // namespace spiketile::cli
