// The number formats the GPU benchmark runs a SpikeGPT step in (weights and the inputs of the
// matrix products; everything else stays float32, as in the golden model), and their exact
// host-side conversions: the device converts with the same round-to-nearest-even rules
// (__float2half_rn, __float2bfloat16_rn, __float2int_rn), so the host emulation of a step
// (step_emulator.hpp) rounds exactly as the GPU does.
#pragma once

#include <math.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/host_device.hpp"

namespace spiketile::gpu_bench {

enum class Precision { fp16, bf16, int8 };

const char* precision_name(Precision p);
Precision parse_precision(const std::string& name);  // throws std::invalid_argument
// Bytes of one weight as uploaded.
int weight_bytes(Precision p);

// IEEE binary16 and bfloat16 bits of a float32, rounded to nearest, ties to even (overflow to
// infinity, NaN to a quiet NaN).
uint16_t float_to_half_bits(float f);
uint16_t float_to_bfloat16_bits(float f);
// The float32 a value becomes once rounded to `p`'s 16-bit format (exact: both widen exactly).
float round_to(Precision p, float f);

// int8 weights: each output row (a matrix row) scaled by its own max |w| / 127, symmetric, so
// the largest weight of a row is ±127. `scale` is what the integer dot product is multiplied by.
struct Int8Rows {
  std::vector<int8_t> values;  // row-major, like the float matrix
  std::vector<float> scales;   // one per row
};
Int8Rows quantize_rows(const float* matrix, int64_t rows, int64_t cols);

// int8 activations: one scale per matrix-product input vector (per sequence), max |x| / 127,
// computed where the vector is made (dynamic, as W8A8 inference does). The same expressions on
// host and device: q = rint(x · (127 / max|x|)), clamped to ±127; a zero vector stays zero.
SPIKETILE_HOST_DEVICE inline float int8_inverse_scale(float max_abs) { return max_abs > 0.0f ? 127.0f / max_abs : 0.0f; }
SPIKETILE_HOST_DEVICE inline float int8_scale(float max_abs) { return max_abs / 127.0f; }
SPIKETILE_HOST_DEVICE inline int8_t quantize_int8(float x, float inverse_scale) {
  float q = rintf(x * inverse_scale);
  q = q > 127.0f ? 127.0f : (q < -127.0f ? -127.0f : q);
  return int8_t(q);
}
// An int8 product back to float: the exact int32 sum times the row's and the input's scales, in
// this order on both sides.
SPIKETILE_HOST_DEVICE inline float dequantize_int8(int32_t sum, float row_scale, float input_scale) {
  return float(sum) * row_scale * input_scale;
}

}  // namespace spiketile::gpu_bench
