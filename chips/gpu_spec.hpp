// A GPU described by its public specification sheet, for the dense baseline of `spiketile
// report`: peak dense FLOP/s, memory bandwidth and board power feed a roofline model.
//
// Loaded from YAML (chips/gpu/*.yaml) with the same self-describing schema machinery as chip
// descriptions and energy tables; every number carries its source in a `#` comment.
#pragma once

#include <string>

#include "chips/config_schema.hpp"

namespace spiketile {

class GpuSpecError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

inline constexpr int kGpuSpecVersion = 1;

// Energy to move one bit from a memory level, with the ends of the range its sources support
// (both equal to `pj` where they agree; all 0 where the spec does not give the figure).
struct BitEnergy {
  double pj = 0, low = 0, high = 0;
  bool given() const { return pj > 0; }
};

struct GpuSpec {
  int version = kGpuSpecVersion;
  std::string name;
  std::string variant;                  // form factor the numbers are for, e.g. "SXM5"
  std::string description;
  std::string sources;                  // where the numbers come from (URLs), quoted in reports
  double peak_dense_tensor_tflops = 0;  // 16-bit tensor-core matrix FLOP/s without structured sparsity
  double peak_dense_fp8_tflops = 0;     // 8-bit float tensor-core FLOP/s, dense (0: not given)
  double peak_dense_int8_tops = 0;      // 8-bit integer tensor-core OP/s, dense (0: not given)
  double peak_fp32_tflops = 0;          // non-tensor fp32 FLOP/s (element-wise work)
  double memory_bandwidth_tb_per_s = 0; // 10^12 bytes per second
  double memory_gb = 0;
  double board_power_w = 0;             // maximum board power (TDP)
  // The L2 cache, where a model small enough stays between steps (all 0 when the spec has no
  // l2_cache section: the weights are then read from device memory every step).
  double l2_cache_mb = 0;               // capacity, 10^6 bytes
  double l2_resident_mb = 0;            // what data every SM reads can occupy (docs/report.md §3)
  double l2_read_bandwidth_tb_per_s = 0;
  BitEnergy hbm_energy, l2_energy;      // per bit read from device memory (HBM) and from the L2
  // How the dense baseline stores the model on this GPU.
  int weight_bytes = 2;                 // per weight (bf16)
  int state_bytes = 4;                  // per recurrent-state element (fp32)
  std::string source_path;
};

// The dense baseline's weight format: bf16 (the spec's baseline.weight_bytes, 16-bit tensor
// peak), fp8 or int8 (1 byte per weight, the 8-bit tensor peak, which the spec must give).
enum class GpuPrecision { bf16, fp8, int8 };
GpuPrecision parse_gpu_precision(const std::string& name);  // throws std::invalid_argument
std::string gpu_precision_name(GpuPrecision precision);
// The spec as the baseline runs at `precision`: weight bytes and the tensor peak it uses. Throws
// GpuSpecError naming the missing field when the spec has no peak for that precision.
GpuSpec at_precision(GpuSpec gpu, GpuPrecision precision);

GpuSpec load_gpu_spec(const std::string& path);
const config::Schema& gpu_spec_schema();
std::string describe_gpu_spec();

}  // namespace spiketile
