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

struct GpuSpec {
  int version = kGpuSpecVersion;
  std::string name;
  std::string variant;                  // form factor the numbers are for, e.g. "SXM5"
  std::string description;
  std::string sources;                  // where the numbers come from (URLs), quoted in reports
  double peak_dense_tensor_tflops = 0;  // 16-bit tensor-core matrix FLOP/s without structured sparsity
  double peak_fp32_tflops = 0;          // non-tensor fp32 FLOP/s (element-wise work)
  double memory_bandwidth_tb_per_s = 0; // 10^12 bytes per second
  double memory_gb = 0;
  double board_power_w = 0;             // maximum board power (TDP)
  // How the dense baseline stores the model on this GPU.
  int weight_bytes = 2;                 // per weight (bf16)
  int state_bytes = 4;                  // per recurrent-state element (fp32)
  std::string source_path;
};

GpuSpec load_gpu_spec(const std::string& path);
const config::Schema& gpu_spec_schema();
std::string describe_gpu_spec();

}  // namespace spiketile
