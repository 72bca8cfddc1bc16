#include "bench/gpu/precision.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "models/checkpoint_io.hpp"

namespace spiketile::gpu_bench {

namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp16: return "fp16";
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  for (Precision p : {Precision::fp16, Precision::bf16, Precision::int8})
    if (name == precision_name(p)) return p;
  throw std::invalid_argument(fmt::format("precision '{}': expected fp16, bf16 or int8", name));
}

int weight_bytes(Precision p) { return p == Precision::int8 ? 1 : 2; }

uint16_t float_to_half_bits(float f) {
  uint32_t u = float_bits(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  u &= 0x7FFFFFFFu;
  if (u >= 0x47800000u)  // |f| >= 65536, infinity or NaN: all exponent bits set
    return sign | (u > 0x7F800000u ? 0x7E00u : 0x7C00u);
  if (u < 0x38800000u) {
    // Below 2^-14 the half is subnormal (or zero): adding 0.5 puts its 10 mantissa bits at the
    // bottom of a float32 whose exponent is fixed, and the float addition rounds to nearest even.
    const float aligned = bits_float(u) + 0.5f;
    return sign | uint16_t(float_bits(aligned) - 0x3F000000u);
  }
  // Normal: rebias the exponent and round the 13 dropped bits to nearest even (a carry into the
  // exponent is the right answer, up to infinity at 65520).
  const uint32_t odd = (u >> 13) & 1u;
  u += 0xC8000000u + 0x0FFFu + odd;  // (15 − 127) << 23, as an unsigned wrap-around
  return sign | uint16_t(u >> 13);
}

uint16_t float_to_bfloat16_bits(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x0040u);  // quiet NaN, sign kept
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

float round_to(Precision p, float f) {
  switch (p) {
    case Precision::fp16: return checkpoint_io::half_to_float(float_to_half_bits(f));
    case Precision::bf16: return checkpoint_io::bfloat16_to_float(float_to_bfloat16_bits(f));
    case Precision::int8: break;
  }
  throw std::invalid_argument("round_to: int8 values are scaled per vector, not rounded alone (quantize_int8)");
}

Int8Rows quantize_rows(const float* matrix, int64_t rows, int64_t cols) {
  Int8Rows q;
  q.values.resize(std::size_t(rows * cols));
  q.scales.resize(std::size_t(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = matrix + r * cols;
    float max_abs = 0;
    for (int64_t c = 0; c < cols; ++c) max_abs = std::max(max_abs, std::fabs(row[c]));
    const float inverse = int8_inverse_scale(max_abs);
    for (int64_t c = 0; c < cols; ++c) q.values[std::size_t(r * cols + c)] = quantize_int8(row[c], inverse);
    q.scales[std::size_t(r)] = int8_scale(max_abs);
  }
  return q;
}

}  // namespace spiketile::gpu_bench
