// Speed of the cycle-accurate SystemC chip against the two untimed levels on the same work.
//
// Compiles a model in-process onto a chip, then steps the same token sequence through
//   (a) the quantized functional model (QuantizedModel, the integer contract as plain C++),
//   (b) the mapping executor (the compiled units, events through an in-order queue, no time),
//   (c) the ChipSimulator (the units behind the SystemC network-on-chip, with core timing),
// checks that all three give the same logit accumulators, and prints per level the synaptic ops
// (graded + binary, from the event counts) per wall second, tokens per second, and for the
// simulator the chip cycles per wall second and the cycles/latency per token it reports.
//
// SystemC elaborates once per process, so one chip configuration per run:
//   bench_simulate --model models/spikegpt-fortunes.pth --tokens 64
//   bench_simulate --shape 12,512,5458 --chip chips/large.yaml --tokens 4
//   bench_simulate --shape 12,512,5458 --chip chips/large.yaml --buffer-depth 64 --tokens 4
//   bench_simulate --shape 12,512,5458 --chip chips/large.yaml --max-burst-events 16 --tokens 32
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chips/chip_spec.hpp"
#include "compiler/lowering.hpp"
#include "models/quantized.hpp"
#include "models/random_weights.hpp"
#include "models/spikegpt.hpp"
#include "models/unicode_util.hpp"
#include "runtime/mapping_executor.hpp"
#include "runtime/stats.hpp"
#include "sim/chip_simulator.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Replaces the value of the first `key:` line of a chip YAML (the mapping embeds the edited text,
// so the simulator's chip is the edited one).
std::string with_value(std::string yaml, const std::string& key, int value) {
  const auto at = yaml.find(key + ":");
  if (at == std::string::npos) throw std::runtime_error(fmt::format("the chip YAML has no '{}:' field", key));
  const auto end = yaml.find('\n', at);
  yaml.replace(at, end - at, fmt::format("{}: {}", key, value));
  return yaml;
}

spiketile::QuantizedSpikeGpt load_model(const std::string& model_path, std::string calibration_path) {
  const auto weights = spiketile::SpikeGptWeights::load(model_path, {});
  if (calibration_path.empty()) {
    calibration_path = model_path;
    for (const std::string ext : {".pth", ".safetensors"})
      if (calibration_path.size() > ext.size() &&
          calibration_path.compare(calibration_path.size() - ext.size(), ext.size(), ext) == 0)
        calibration_path.resize(calibration_path.size() - ext.size());
    calibration_path += ".calib.json";
  }
  const auto cal = spiketile::Calibration::load(calibration_path, weights.config.n_layer);
  return spiketile::QuantizedSpikeGpt::build(weights, cal, {});
}

// Random weights of shape L,C,V, calibrated by the golden model on a few deterministic tokens
// (speed does not depend on the ranges; the same rule as bench/make_random_model.cpp).
spiketile::QuantizedSpikeGpt random_model(const std::string& shape, int calibration_tokens) {
  spiketile::ModelConfig c;
  char comma = 0;
  std::stringstream ss(shape);
  ss >> c.n_layer >> comma >> c.n_embd >> comma >> c.vocab_size;
  if (!ss || c.n_layer <= 0 || c.n_embd <= 0 || c.vocab_size <= 0)
    throw std::invalid_argument(fmt::format("--shape '{}': expected L,C,V (positive integers)", shape));
  spiketile::GoldenModel golden(spiketile::SpikeGptWeights::from_file(spiketile::random_spikegpt_checkpoint(c, 1), {}), 0);
  std::vector<int> tokens;
  for (int i = 0; i < calibration_tokens; ++i) tokens.push_back(int((int64_t(i) * 7919 + 13) % c.vocab_size));
  const spiketile::Calibration cal = spiketile::calibrate(golden, tokens, "bench deterministic tokens");
  return spiketile::QuantizedSpikeGpt::build(golden.weights(), cal, {});
}

struct LevelRun {
  std::string name;
  double wall_seconds = 0;
  int64_t sop_graded = 0, sop_binary = 0, sop_bit_serial = 0;
  std::vector<std::vector<int64_t>> logit_accumulators;  // per token
  double sops() const { return double(sop_graded + sop_binary); }
};

// Steps `model` through `tokens` from the zero state, timing each step.
template <class Model>
LevelRun time_level(Model& model, const std::vector<int>& tokens) {
  LevelRun run;
  run.name = model.level_name();
  model.reset();
  for (const int token : tokens) {
    const auto t0 = std::chrono::steady_clock::now();
    model.step(token);
    run.wall_seconds += seconds_since(t0);
    const spiketile::Counts total = model.last_counts()->total();
    run.sop_graded += total.sop_graded;
    run.sop_binary += total.sop_binary;
    run.sop_bit_serial += total.sop_bit_serial;
    run.logit_accumulators.push_back(model.last_logit_accumulators());
  }
  return run;
}

void print_level(const LevelRun& r, std::size_t tokens) {
  fmt::print("{:<10} {:>10.3f} s  {:>10.2f} tokens/s  {:>9.2f} M SOP/s\n", r.name, r.wall_seconds,
             double(tokens) / r.wall_seconds, r.sops() / r.wall_seconds / 1e6);
}

int bench(int argc, char** argv) {
  CLI::App app{"Cycle-accurate simulator speed vs the functional model and the mapping executor"};
  std::string model_path, calibration_path, shape, chip_path = "chips/default.yaml";
  std::string stats_path;
  int tokens = 32, calibration_tokens = 8, buffer_depth = 0, max_burst_events = 0, threads = 1;
  bool show_summary = false;
  app.add_option("--model", model_path, "Checkpoint (with <model>.calib.json or --calibration)");
  app.add_option("--calibration", calibration_path, "Activation ranges for --model");
  app.add_option("--shape", shape, "Random weights of shape L,C,V instead of a checkpoint (46M: 12,512,5458)");
  app.add_option("--calibration-tokens", calibration_tokens, "Golden steps calibrating a --shape model")
      ->capture_default_str();
  app.add_option("--chip", chip_path, "Chip description YAML")->capture_default_str();
  app.add_option("--buffer-depth", buffer_depth,
                 "Override router.input_buffer_depth_flits (0: as the chip says), e.g. to avoid the chip-grid deadlock")
      ->capture_default_str();
  app.add_option("--max-burst-events", max_burst_events,
                 "Set router.max_burst_events (0: as the chip says): values of one flow a core sends as one packet")
      ->capture_default_str();
  app.add_option("--tokens", tokens, "Tokens to time per level (teacher-forced, the same for every level)")
      ->capture_default_str();
  app.add_option("--threads", threads,
                 "OpenMP threads of the functional model's crossbar products (the simulator runs on one)")
      ->capture_default_str();
  app.add_flag("--summary", show_summary, "Print the simulator's summary (utilization, network, busiest links)");
  app.add_option("--stats-json", stats_path,
                 "Write the simulator's statistics (cycles per token, network, per core; warm-up token included)");
  CLI11_PARSE(app, argc, argv);
  if (model_path.empty() == shape.empty()) {
    fmt::print(stderr, "bench_simulate: give exactly one of --model and --shape\n");
    return 2;
  }

  omp_set_num_threads(threads);
  auto t0 = std::chrono::steady_clock::now();
  spiketile::QuantizedSpikeGpt quantized = shape.empty() ? load_model(model_path, calibration_path)
                                                  : random_model(shape, calibration_tokens);
  const double build_s = seconds_since(t0);
  const spiketile::ModelConfig config = quantized.config;
  std::string yaml = spiketile::unicode::read_file_bytes(chip_path, "a chip description (YAML)");
  if (buffer_depth > 0) yaml = with_value(yaml, "input_buffer_depth_flits", buffer_depth);
  if (max_burst_events > 0) {
    if (yaml.find("max_burst_events:") == std::string::npos) {  // optional field: add it to the router section
      const auto router = yaml.find("\nrouter:\n");
      if (router == std::string::npos) throw std::runtime_error("the chip YAML has no 'router:' section");
      yaml.insert(router + 9, "  max_burst_events: 1\n");
    }
    yaml = with_value(yaml, "max_burst_events", max_burst_events);
  }
  const spiketile::ChipSpec chip = spiketile::load_chip_spec_from_string(yaml, chip_path);
  t0 = std::chrono::steady_clock::now();
  auto mapping = std::make_shared<const spiketile::Mapping>(spiketile::compile_model(quantized, chip, yaml));
  const double compile_s = seconds_since(t0);

  std::vector<int> sequence;
  for (int i = 0; i < tokens; ++i) sequence.push_back(int((int64_t(i) * 7919 + 13) % config.vocab_size));

  spiketile::QuantizedModel functional(std::move(quantized));
  spiketile::MappingExecutor executor(mapping);
  t0 = std::chrono::steady_clock::now();
  spiketile::sim::ChipSimulator simulator(mapping);
  const double elaborate_s = seconds_since(t0);

  fmt::print("model:      {} (L{} C{} V{}, {:.1f} M params); quantize {:.1f} s\n",
             shape.empty() ? model_path : "random " + shape, config.n_layer, config.n_embd, config.vocab_size,
             double(config.parameter_count()) / 1e6, build_s);
  fmt::print("chip:       {}{}: {} units on {} cores; compile {:.1f} s, elaborate {:.2f} s\n", chip_path,
             (buffer_depth > 0 ? fmt::format(" (input_buffer_depth_flits {})", buffer_depth) : "") +
                 (max_burst_events > 0 ? fmt::format(" (max_burst_events {})", max_burst_events) : ""),
             mapping->units.size(), chip.total_cores(), compile_s, elaborate_s);

  // One untimed warm-up step each (first-touch of weights and arrays), then the timed sequence.
  functional.step(sequence.front());
  executor.step(sequence.front());
  simulator.step(sequence.front());
  const LevelRun f = time_level(functional, sequence);
  const LevelRun e = time_level(executor, sequence);
  const auto cycles_before = simulator.cycles_per_step().size();
  const LevelRun s = time_level(simulator, sequence);
  const auto& per_step = simulator.cycles_per_step();
  int64_t cycles = 0, max_cycles = 0;
  for (std::size_t i = cycles_before; i < per_step.size(); ++i) {
    cycles += per_step[i];
    max_cycles = std::max<int64_t>(max_cycles, per_step[i]);
  }

  const bool same = f.logit_accumulators == e.logit_accumulators && f.logit_accumulators == s.logit_accumulators &&
                    f.sop_graded == s.sop_graded && f.sop_binary == s.sop_binary;
  fmt::print("threads:    {} (functional model), 1 (mapping executor, simulator)\n", threads);
  fmt::print("tokens:     {} per level; SOPs per token {:.0f} (graded {:.0f} + binary {:.0f}{})\n", tokens,
             f.sops() / tokens, double(f.sop_graded) / tokens, double(f.sop_binary) / tokens,
             f.sop_bit_serial ? fmt::format(", the same inputs as bit-serial events would be {:.0f}", double(f.sop_bit_serial) / tokens) : "");
  fmt::print("identical:  {} (logit accumulators of every token and SOP counts, all three levels)\n",
             same ? "yes" : "NO");
  fmt::print("\n{:<10} {:>12}  {:>17}  {:>15}\n", "level", "wall", "tokens/s", "SOP/s");
  print_level(f, sequence.size());
  print_level(e, sequence.size());
  print_level(s, sequence.size());
  const double mean_cycles = double(cycles) / double(tokens);
  fmt::print("\nsimulator:  {:.2f} M chip cycles/s; {:.0f} cycles/token mean, {} max ({:.2f} µs/token at {} MHz)\n",
             double(cycles) / s.wall_seconds / 1e6, mean_cycles, max_cycles, mean_cycles / simulator.clock_mhz(),
             simulator.clock_mhz());
  fmt::print("slowdown:   simulator / functional {:.1f}x, simulator / mapping executor {:.1f}x\n",
             s.wall_seconds / f.wall_seconds, s.wall_seconds / e.wall_seconds);
  if (show_summary) fmt::print("\n{}", simulator.summary());
  if (!stats_path.empty()) {
    spiketile::RunStats stats;
    simulator.fill_stats(stats);
    spiketile::OutputFile out(stats_path);
    spiketile::write_stats(out, stats);
    out.commit();
  }
  return same ? 0 : 1;
}
}  // namespace

int sc_main(int argc, char** argv) {
  try {
    return bench(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_simulate: {}\n", e.what());
    return 2;
  }
}
