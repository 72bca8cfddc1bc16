// The host side of spiketile_gpu_bench (docs/performance.md, "A measured GPU baseline"): its
// options, the sweep over precisions, batches and variants (check each against the golden model,
// then time it and read the board's energy), and the file it writes. Plain
// C++: the CUDA program supplies a BenchBackend (cuda_step.cu); the unit tests supply the host
// emulation of the GPU's step (EmulatedBackend) and run the same sweep without a GPU.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/gpu/logit_check.hpp"
#include "bench/gpu/nvml_energy.hpp"
#include "bench/gpu/packed_model.hpp"
#include "models/spikegpt.hpp"
#include "runtime/gpu_measured.hpp"

namespace spiketile::gpu_bench {

// The exit status of the program when no CUDA device can be used; it prints "no CUDA device: …".
inline constexpr int kNoDeviceExitStatus = 3;
// Golden token streams the check compares against; sequence b of a batch follows stream b % 5
// (5 divides none of the batch sizes, so neighbouring sequences always differ).
inline constexpr int kCheckStreams = 5;

struct GpuBenchOptions {
  std::string model;  // default: the shipped model
  std::string shape;  // "L,C,V": random weights of that shape instead of a checkpoint
  uint64_t seed = 1;
  bool no_rescale = false;
  std::string binary_embedding = "auto";
  std::vector<int> batches{1, 8, 64};
  std::vector<std::string> precisions{"fp16", "bf16", "int8"};
  std::vector<std::string> variants{"stream", "graph"};
  int check_tokens = 16;
  double seconds = 5.0;         // timed per configuration, at least
  double warmup_seconds = 0.5;  // untimed steps first, which also measure the rate
  double idle_seconds = 10.0;   // the quiet interval whose energy gives the idle power
  int device = 0;
  int threads = 0;  // golden model threads on the host (0: OpenMP's default)
  std::string json_out;

  GoldenOptions golden() const;
};

// The command line; the caller runs app.parse(argc, argv) and then validate_options().
std::unique_ptr<CLI::App> make_cli(GpuBenchOptions& options);
// Throws std::invalid_argument naming the option for what CLI11 cannot check alone.
void validate_options(const GpuBenchOptions& options);
// n_layer, n_embd and vocabulary of "--shape L,C,V"; throws std::invalid_argument naming it.
ModelConfig parse_shape(const std::string& shape);
// The checkpoint (or the random weights of --shape) after upstream's load-time transforms.
SpikeGptWeights load_weights(const GpuBenchOptions& options);

enum class Variant { stream, graph };
const char* variant_name(Variant v);
Variant parse_variant(const std::string& name);

// A configuration the device cannot run (a precision its cuBLAS refuses): recorded in the file's
// not_measured list, never a failure of the run.
class UnsupportedConfiguration : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One packed model at one batch size on the device.
class BenchDevice : public LockstepDevice {
 public:
  // Which launch path step(), enqueue_step() use from now on (the graph is captured on first use).
  virtual void set_variant(Variant v) = 0;
  // One step, each sequence consuming the token the previous step chose (greedy, on the device):
  // a generating decode loop with no host round trip. Asynchronous.
  virtual void enqueue_step() = 0;
  virtual void synchronize() = 0;
};

class BenchBackend {
 public:
  virtual ~BenchBackend() = default;
  // What the device is (NVML's driver, clocks and power limit are added by the sweep).
  virtual GpuMeasuredDevice describe() const = 0;
  // Throws UnsupportedConfiguration where the device cannot run the precision.
  virtual std::unique_ptr<BenchDevice> load(const PackedModel& model, int batch) = 0;
};

// The host emulation (step_emulator.hpp) as a backend: no GPU, no energy counter.
class EmulatedBackend : public BenchBackend {
 public:
  GpuMeasuredDevice describe() const override;
  std::unique_ptr<BenchDevice> load(const PackedModel& model, int batch) override;
};

struct Timing {
  int64_t steps = 0;
  double seconds = 0;
  std::optional<double> energy_j;
  std::optional<GpuClocks> clocks;  // sampled halfway through the timed steps
};
// Untimed warm-up steps for warmup_seconds (their rate sizes the timed run), then at least
// `seconds` of steps timed by the wall clock between two synchronizations, the energy counter
// read at both.
Timing time_steps(BenchDevice& device, const EnergyCounter& energy, double warmup_seconds, double seconds);

// Everything the options ask for: per precision (skipping one the model's shape rules out) and
// batch, each variant checked against `golden` and then timed. Throws std::runtime_error naming
// the configuration when a check fails: nothing is timed that computes something else.
GpuMeasurement run_sweep(const GpuBenchOptions& options, GoldenModel& golden, BenchBackend& backend,
                         const EnergyCounter& energy, std::FILE* log);

// The measurement file, whole or not at all (models/output_file.hpp).
void write_measurement(const std::string& path, const GpuMeasurement& m);
// A table of the rows for the terminal.
void print_measurement(std::FILE* out, const GpuMeasurement& m);

}  // namespace spiketile::gpu_bench
