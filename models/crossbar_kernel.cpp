#include "models/crossbar_kernel.hpp"

#include <algorithm>
#include <vector>

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
// GCC 12 warns inside its own AVX-512 headers (_mm512_setzero_si512): a known false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define SPIKETILE_HAVE_VNNI512 1
#endif

namespace spiketile {

namespace {
// Σ u[c]·w[c] with u unsigned 8-bit and w signed 8-bit; |sum| < 2^31 for cols <= 2^16.
int32_t dot_u8_s8(const uint8_t* u, const int8_t* w, int n) {
  int c = 0;
  int32_t s = 0;
#ifdef SPIKETILE_HAVE_VNNI512
  __m512i acc = _mm512_setzero_si512();
  for (; c + 64 <= n; c += 64)
    acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(u + c), _mm512_loadu_si512(w + c));
  s = _mm512_reduce_add_epi32(acc);
#endif
  for (; c < n; ++c) s += int32_t(u[c]) * int32_t(w[c]);
  return s;
}
}  // namespace

#ifdef SPIKETILE_HAVE_VNNI512
#pragma GCC diagnostic pop
#endif

void crossbar_matvec(const int8_t* w, std::size_t row_stride, int rows, int cols, const int32_t* row_sums,
                     const int32_t* x, int64_t* acc, bool parallel) {
  const auto [lo, hi] = std::minmax_element(x, x + cols);
  const bool fits_u8 = cols > 0 && *lo >= -128 && *hi <= 255 && !(*lo < 0 && *hi > 127);
  if (!fits_u8) {
    // Wider inputs (never produced by the contract's <= 8-bit activations): plain exact loop.
#pragma omp parallel for if (parallel) schedule(static)
    for (int r = 0; r < rows; ++r) {
      const int8_t* row = w + std::size_t(r) * row_stride;
      int64_t s = 0;
      for (int c = 0; c < cols; ++c) s += int64_t(row[c]) * x[c];
      acc[r] = s;
    }
    return;
  }
  // Signed inputs are shifted into u8 by +128 and the shift is taken back with the row sum.
  const int32_t offset = *lo < 0 ? 128 : 0;
  thread_local std::vector<uint8_t> u;
  u.resize(std::size_t(cols));
  for (int c = 0; c < cols; ++c) u[c] = uint8_t(x[c] + offset);
  const uint8_t* up = u.data();
#pragma omp parallel for if (parallel) schedule(static)
  for (int r = 0; r < rows; ++r)
    acc[r] = int64_t(dot_u8_s8(up, w + std::size_t(r) * row_stride, cols)) - int64_t(offset) * row_sums[r];
}

}  // namespace spiketile
