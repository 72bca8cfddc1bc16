// A dense GPU baseline measured on a real board: what bench/gpu's spiketile_gpu_bench writes
// (--json) and `spiketile report --gpu-measured` reads (format in docs/report.md §3 (c)).
//
// One file is one program run on one GPU and one model: the board and its driver, the model's
// shape, the idle power measured over a quiet interval, and one row per configuration timed
// (precision × batch × variant), each with the logits check it passed before it was timed.
// Energies come from the board's energy counter; a machine without one (no NVML) writes null,
// never zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runtime/stats.hpp"

namespace spiketile {

inline constexpr const char* kGpuMeasuredFormat = "spiketile-gpu-measured-1";

struct GpuClocks {
  double sm_mhz = 0;
  double memory_mhz = 0;
};

struct GpuMeasuredDevice {
  std::string name;                // as the driver reports it, e.g. "NVIDIA H100 80GB HBM3"
  std::string pci_bus_id;
  std::string compute_capability;  // "9.0"
  int sm_count = 0;
  double memory_gib = 0;
  std::string driver;              // NVML's driver version, or "unknown (no NVML)"
  std::string cuda_runtime;        // "13.0"
  std::string cublas;              // "13.0.2"
  std::optional<GpuClocks> max_clocks;     // null without NVML
  std::optional<double> power_limit_w;     // enforced board power limit; null without NVML
};

struct GpuMeasuredModel {
  std::string path;
  int n_layer = 0, n_embd = 0, vocab = 0;
  int64_t params = 0;
  bool rescale = true;           // upstream's divide-by-2 every 6 layers
  bool binary_embedding = false;
};

// The check a configuration passed before it was timed (bench/gpu/logit_check.hpp): every step
// starts from the golden model's state (lockstep), so what is compared is one step's rounding.
// A membrane within rounding of the threshold may fire on one side and not the other; such a
// spike flip changes the residual stream by 1, so logits are compared only on (step, sequence)
// pairs without one, and the flips themselves are counted against their own tolerance.
struct GpuLogitCheck {
  int tokens = 0;                   // steps compared
  int sequences = 0;                // sequences of the batch compared (every one)
  int pairs_without_flips = 0;      // (step, sequence) pairs whose spikes all agree with the golden model
  double max_normalized_error = 0;  // logits on those pairs: max |GPU − golden| / the golden logits' range
  double max_state_error = 0;       // new state, layers before a pair's first flip: max |Δ| / max |golden| per vector
  double tolerance = 0;             // on both errors, for this precision
  double spike_flip_share = 0;      // LIF updates whose spike differs from the golden model's
  double spike_flip_tolerance = 0;
  double max_abs_error = 0;         // largest |Δ logit| over every pair, flipped ones too (for information)
  double argmax_agreement = 0;      // share of pairs whose top token agrees (for information)

  bool passed() const {
    return max_normalized_error <= tolerance && max_state_error <= tolerance && spike_flip_share <= spike_flip_tolerance;
  }
};

struct GpuMeasuredRow {
  std::string precision;  // fp16, bf16 or int8 (weights and matrix inputs; the rest is fp32)
  std::string variant;    // stream (one launch per kernel) or graph (one CUDA Graph per step)
  int batch = 1;          // sequences stepped together
  int64_t steps = 0;      // timed steps (each consumes one token per sequence)
  double seconds = 0;
  double steps_per_s = 0;
  double tokens_per_s = 0;  // steps_per_s × batch
  std::optional<double> energy_j;                      // board energy over the timed steps
  std::optional<double> mean_power_w;                  // energy_j / seconds
  std::optional<double> energy_per_token_j;            // energy_j / (steps × batch)
  std::optional<double> energy_per_token_above_idle_j; // (energy_j − idle power × seconds) / tokens
  std::optional<GpuClocks> clocks;                     // sampled while the timed loop ran
  GpuLogitCheck check;
};

struct GpuIdle {
  double seconds = 0;
  double energy_j = 0;
  double power_w = 0;
};

struct GpuMeasurement {
  std::string tool;         // program and version that measured
  std::string date;         // UTC, ISO 8601
  GpuMeasuredDevice gpu;
  GpuMeasuredModel model;
  std::string energy_counter;   // "nvmlDeviceGetTotalEnergyConsumption", or why there is none
  std::optional<GpuIdle> idle;  // null without an energy counter
  std::vector<GpuMeasuredRow> rows;
  std::vector<std::string> not_measured;  // configurations asked for and not timed, each with why
  std::string source_path;                // set by read_gpu_measurement
};

nlohmann::json gpu_measurement_to_json(const GpuMeasurement& m);
// Validates the format and every field; std::invalid_argument naming the field and its need.
GpuMeasurement gpu_measurement_from_json(const nlohmann::json& j);
// Errors (std::runtime_error) name the file.
GpuMeasurement read_gpu_measurement(const std::string& path);
// Throws std::runtime_error naming the file and field when the measured model has another shape
// than the stats' model (layers, width or vocabulary).
void require_same_model(const GpuMeasurement& m, const StatsModel& stats_model, const std::string& stats_path);

}  // namespace spiketile
