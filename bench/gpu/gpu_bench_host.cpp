#include "bench/gpu/gpu_bench_host.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <sstream>
#include <thread>

#include "bench/gpu/step_emulator.hpp"
#include "models/output_file.hpp"
#include "models/random_weights.hpp"

namespace spiketile::gpu_bench {

namespace {

const std::vector<std::string> kPrecisionNames{"fp16", "bf16", "int8"};
const std::vector<std::string> kVariantNames{"stream", "graph"};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// A positive finite number option (CLI11's own checks let NaN and infinity through).
CLI::Validator positive_seconds() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        try {
          std::size_t used = 0;
          const double v = std::stod(value, &used);
          if (used == value.size() && std::isfinite(v) && v > 0) return {};
        } catch (const std::exception&) {
        }
        return fmt::format("'{}' is not a finite number of seconds above 0", value);
      },
      "SECONDS > 0");
}

}  // namespace

GoldenOptions GpuBenchOptions::golden() const {
  GoldenOptions g;
  g.rescale_every_6_layers = !no_rescale;
  g.binary_embedding = parse_binary_embedding(binary_embedding);
  g.threads = threads;
  return g;
}

std::unique_ptr<CLI::App> make_cli(GpuBenchOptions& o) {
  auto app = std::make_unique<CLI::App>(
      "Measures the dense GPU baseline: the SpikeGPT RNN step on a CUDA GPU (cuBLAS products, one kernel per "
      "element-wise stage, optionally one CUDA Graph per step) at several batch sizes and precisions, each first "
      "checked against the golden float32 model on the host, then timed with the board's energy counter (NVML)");
  o.model = std::string(SPIKETILE_SOURCE_DIR) + "/models/spikegpt-fortunes.pth";
  app->add_option("--model", o.model, "Checkpoint (.pth or .safetensors)")->capture_default_str();
  app->add_option("--shape", o.shape, "Random weights of shape L,C,V instead of a checkpoint (46M: 12,512,5458; "
                                      "216M: 18,768,50277)");
  app->add_option("--seed", o.seed, "Seed of the random weights of --shape")->capture_default_str();
  app->add_flag("--no-rescale", o.no_rescale, "Disable upstream's divide-by-2 every 6 layers");
  app->add_option("--binary-embedding", o.binary_embedding, "Binarize the embedding: auto (vocabulary of 77), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app->add_option("--batch", o.batches, "Batch sizes (sequences stepped together), comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app->add_option("--precision", o.precisions, "Weight and matrix-input formats: fp16, bf16, int8")
      ->delimiter(',')
      ->check(CLI::IsMember(kPrecisionNames))
      ->capture_default_str();
  app->add_option("--variant", o.variants,
                  "Launch paths: stream (one launch per kernel and product) and graph (the step as one CUDA Graph)")
      ->delimiter(',')
      ->check(CLI::IsMember(kVariantNames))
      ->capture_default_str();
  app->add_option("--check-tokens", o.check_tokens, "Steps compared with the golden model before timing")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app->add_option("--seconds", o.seconds, "Timed seconds per configuration, at least")
      ->check(positive_seconds())
      ->capture_default_str();
  app->add_option("--warmup-seconds", o.warmup_seconds, "Untimed seconds of steps before each timed run")
      ->check(positive_seconds())
      ->capture_default_str();
  app->add_option("--idle-seconds", o.idle_seconds, "Quiet interval over which the idle power is measured")
      ->check(positive_seconds())
      ->capture_default_str();
  app->add_option("--device", o.device, "CUDA device index")->check(CLI::Range(0, 1023))->capture_default_str();
  app->add_option("--threads", o.threads, "Threads of the golden model on the host (0: OpenMP's default)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app->add_option("--json", o.json_out, "Write the measurement (format spiketile-gpu-measured-1, docs/report.md)");
  return app;
}

ModelConfig parse_shape(const std::string& shape) {
  ModelConfig c;
  char comma1 = 0, comma2 = 0;
  std::istringstream in(shape);
  in >> c.n_layer >> comma1 >> c.n_embd >> comma2 >> c.vocab_size;
  if (!in || comma1 != ',' || comma2 != ',' || in.peek() != std::char_traits<char>::eof() || c.n_layer < 1 ||
      c.n_embd < 1 || c.vocab_size < 1)
    throw std::invalid_argument(
        fmt::format("--shape '{}': expected L,C,V, three positive integers (e.g. 12,512,5458)", shape));
  return c;
}

void validate_options(const GpuBenchOptions& o) {
  if (!o.shape.empty()) parse_shape(o.shape);
  for (const auto* list : {&o.precisions, &o.variants})
    for (std::size_t i = 0; i < list->size(); ++i)
      if (std::find(list->begin(), list->begin() + std::ptrdiff_t(i), (*list)[i]) != list->begin() + std::ptrdiff_t(i))
        throw std::invalid_argument(fmt::format("'{}' is listed twice", (*list)[i]));
  for (std::size_t i = 0; i < o.batches.size(); ++i)
    if (std::count(o.batches.begin(), o.batches.end(), o.batches[i]) > 1)
      throw std::invalid_argument(fmt::format("--batch {} is listed twice", o.batches[i]));
  if (!o.json_out.empty() && o.shape.empty()) refuse_same_file(o.json_out, {o.model});
}

SpikeGptWeights load_weights(const GpuBenchOptions& o) {
  if (o.shape.empty()) return SpikeGptWeights::load(o.model, o.golden());
  return SpikeGptWeights::from_file(random_spikegpt_checkpoint(parse_shape(o.shape), o.seed), o.golden());
}

const char* variant_name(Variant v) { return v == Variant::stream ? "stream" : "graph"; }

Variant parse_variant(const std::string& name) {
  if (name == "stream") return Variant::stream;
  if (name == "graph") return Variant::graph;
  throw std::invalid_argument(fmt::format("variant '{}': expected stream or graph", name));
}

// ---- the host emulation as a device ----------------------------------------------------------

namespace {

class EmulatedDevice : public BenchDevice {
 public:
  EmulatedDevice(const PackedModel& model, int batch)
      : emulator_(model, batch), batch_(batch),
        state_floats_(std::size_t(model.config.n_layer) * RecurrentState::kSlots * std::size_t(model.config.n_embd)) {}
  int batch() const override { return batch_; }
  void set_state(int sequence, const std::vector<float>& state) override { emulator_.set_state(sequence, state); }
  const std::vector<float>& step(const std::vector<int>& tokens) override { return emulator_.step(tokens); }
  std::vector<float> state(int sequence) override {
    const float* s = emulator_.state(sequence);
    return std::vector<float>(s, s + state_floats_);
  }
  void set_variant(Variant) override {}  // one launch path on the host
  void enqueue_step() override { emulator_.step(emulator_.greedy_tokens()); }
  void synchronize() override {}

 private:
  StepEmulator emulator_;
  int batch_;
  std::size_t state_floats_;
};

}  // namespace

GpuMeasuredDevice EmulatedBackend::describe() const {
  GpuMeasuredDevice d;
  d.name = "host emulation (no GPU)";
  d.pci_bus_id = "none";
  d.compute_capability = "none";
  d.sm_count = 1;
  d.memory_gib = 1;
  d.cuda_runtime = d.cublas = "none";
  return d;
}

std::unique_ptr<BenchDevice> EmulatedBackend::load(const PackedModel& model, int batch) {
  return std::make_unique<EmulatedDevice>(model, batch);
}

// ---- timing and the sweep -------------------------------------------------------------------

Timing time_steps(BenchDevice& device, const EnergyCounter& energy, double warmup_seconds, double seconds) {
  constexpr int kChunk = 8;          // steps enqueued between two looks at the clock while warming up
  constexpr int64_t kMinSteps = 16;  // a timed run is never shorter, however slow a step
  device.synchronize();
  int64_t warm = 0;
  const double warm_start = now_s();
  do {
    for (int i = 0; i < kChunk; ++i) device.enqueue_step();
    device.synchronize();
    warm += kChunk;
  } while (now_s() - warm_start < warmup_seconds);
  const double rate = double(warm) / std::max(now_s() - warm_start, 1e-9);
  Timing t;
  t.steps = std::max<int64_t>(kMinSteps, int64_t(std::ceil(rate * seconds)));
  const std::optional<double> e0 = energy.available() ? std::optional<double>(energy.total_energy_j()) : std::nullopt;
  const double t0 = now_s();
  for (int64_t i = 0; i < t.steps; ++i) {
    device.enqueue_step();
    if (i == t.steps / 2) t.clocks = energy.clocks();
  }
  device.synchronize();
  t.seconds = now_s() - t0;
  if (e0) t.energy_j = energy.total_energy_j() - *e0;
  return t;
}

namespace {

GpuMeasuredModel measured_model(const GpuBenchOptions& o, const SpikeGptWeights& w) {
  GpuMeasuredModel m;
  m.path = o.shape.empty() ? o.model : fmt::format("random weights, shape {} (seed {})", o.shape, o.seed);
  m.n_layer = w.config.n_layer;
  m.n_embd = w.config.n_embd;
  m.vocab = w.config.vocab_size;
  m.params = w.config.parameter_count();
  m.rescale = w.rescale_every_6_layers;
  m.binary_embedding = w.binary_embedding;
  return m;
}

std::optional<GpuIdle> measure_idle(const EnergyCounter& energy, double seconds, std::FILE* log) {
  if (!energy.available()) return std::nullopt;
  fmt::print(log, "idle: measuring the board's power over {:g} s with nothing running\n", seconds);
  const double e0 = energy.total_energy_j(), t0 = now_s();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double elapsed = now_s() - t0, joules = energy.total_energy_j() - e0;
  return GpuIdle{elapsed, joules, joules / elapsed};
}

GpuMeasuredRow timed_row(Precision p, Variant v, int batch, const Timing& t, const GpuLogitCheck& check,
                         const std::optional<GpuIdle>& idle) {
  GpuMeasuredRow row;
  row.precision = precision_name(p);
  row.variant = variant_name(v);
  row.batch = batch;
  row.steps = t.steps;
  row.seconds = t.seconds;
  row.steps_per_s = double(t.steps) / t.seconds;
  row.tokens_per_s = row.steps_per_s * batch;
  const EnergyFigures e = energy_figures(t.energy_j, t.seconds, t.steps * batch,
                                         idle ? std::optional<double>(idle->power_w) : std::nullopt);
  row.energy_j = e.energy_j;
  row.mean_power_w = e.mean_power_w;
  row.energy_per_token_j = e.per_token_j;
  row.energy_per_token_above_idle_j = e.per_token_above_idle_j;
  row.clocks = t.clocks;
  row.check = check;
  return row;
}

}  // namespace

GpuMeasurement run_sweep(const GpuBenchOptions& o, GoldenModel& golden, BenchBackend& backend,
                         const EnergyCounter& energy, std::FILE* log) {
  const SpikeGptWeights& w = golden.weights();
  GpuMeasurement m;
  m.tool = "spiketile_gpu_bench (bench/gpu)";
  m.date = utc_now();
  m.gpu = backend.describe();
  const std::string driver = energy.driver_version();
  m.gpu.driver = driver.empty() ? "unknown (" + energy.unavailable_reason() + ")" : driver;
  m.gpu.max_clocks = energy.max_clocks();
  m.gpu.power_limit_w = energy.power_limit_w();
  m.model = measured_model(o, w);
  m.energy_counter = energy.source();
  fmt::print(log, "golden: {} steps of {} token streams on the host\n", o.check_tokens, kCheckStreams);
  const GoldenTrajectory trajectory = record_golden(golden, kCheckStreams, o.check_tokens);
  m.idle = measure_idle(energy, o.idle_seconds, log);
  for (const std::string& precision_text : o.precisions) {
    const Precision precision = parse_precision(precision_text);
    if (const std::string why = unsupported_reason(precision, w.config); !why.empty()) {
      m.not_measured.push_back(why);
      continue;
    }
    const PackedModel packed = pack_model(w, precision);
    for (int batch : o.batches) {
      std::unique_ptr<BenchDevice> device;
      try {
        device = backend.load(packed, batch);
      } catch (const UnsupportedConfiguration& e) {
        m.not_measured.push_back(fmt::format("{} batch {}: {}", precision_text, batch, e.what()));
        continue;
      }
      for (const std::string& variant_text : o.variants) {
        const Variant variant = parse_variant(variant_text);
        const std::string name = fmt::format("{} {} batch {}", precision_text, variant_text, batch);
        try {
          device->set_variant(variant);
          const CheckOutcome check = run_check(*device, trajectory, w.config, precision);
          if (!check.failure.empty())
            throw std::runtime_error(fmt::format("{}: the check against the golden model failed, so nothing was timed: {}",
                                                 name, check.failure));
          fmt::print(log, "{}: check passed (logits {:.3g}, state {:.3g}, tolerance {:.3g}; spike flips {:.3g} %), timing\n",
                     name, check.result.max_normalized_error, check.result.max_state_error, check.result.tolerance,
                     100 * check.result.spike_flip_share);
          const Timing timing = time_steps(*device, energy, o.warmup_seconds, o.seconds);
          m.rows.push_back(timed_row(precision, variant, batch, timing, check.result, m.idle));
        } catch (const UnsupportedConfiguration& e) {
          m.not_measured.push_back(fmt::format("{}: {}", name, e.what()));
        }
      }
    }
  }
  if (m.rows.empty())
    throw std::runtime_error("no configuration could be measured: " +
                             (m.not_measured.empty() ? std::string("none was asked for") : m.not_measured.front()));
  return m;
}

void write_measurement(const std::string& path, const GpuMeasurement& m) {
  write_file(path, gpu_measurement_to_json(m).dump(1) + "\n");
}

void print_measurement(std::FILE* out, const GpuMeasurement& m) {
  fmt::print(out, "{} ({} SMs, driver {}, CUDA {}, cuBLAS {}), model L{} C{} V{} ({:.1f} M parameters)\n",
             m.gpu.name, m.gpu.sm_count, m.gpu.driver, m.gpu.cuda_runtime, m.gpu.cublas, m.model.n_layer,
             m.model.n_embd, m.model.vocab, double(m.model.params) / 1e6);
  fmt::print(out, "energy: {}\n", m.energy_counter);
  if (m.idle) fmt::print(out, "idle: {:.1f} W over {:.1f} s\n", m.idle->power_w, m.idle->seconds);
  fmt::print(out, "  {:<22} {:>12} {:>12} {:>9} {:>14} {:>14} {:>11}\n", "configuration", "steps/s", "tokens/s", "W",
             "J/token", "above idle", "SM MHz");
  auto or_dash = [](const std::optional<double>& v, const char* format) {
    return v ? fmt::format(fmt::runtime(format), *v) : std::string("-");
  };
  for (const GpuMeasuredRow& r : m.rows)
    fmt::print(out, "  {:<22} {:>12.1f} {:>12.1f} {:>9} {:>14} {:>14} {:>11}\n",
               fmt::format("{} {} batch {}", r.precision, r.variant, r.batch), r.steps_per_s, r.tokens_per_s,
               or_dash(r.mean_power_w, "{:.1f}"), or_dash(r.energy_per_token_j, "{:.4g}"),
               or_dash(r.energy_per_token_above_idle_j, "{:.4g}"),
               r.clocks ? fmt::format("{:.0f}", r.clocks->sm_mhz) : std::string("-"));
  for (const std::string& n : m.not_measured) fmt::print(out, "  not measured: {}\n", n);
}

}  // namespace spiketile::gpu_bench
