// The crossbar's integer matrix-vector product, acc[r] = Σ_c W[r][c]·x[c], fast. Integer sums
// are exact in any order, so every path (VNNI, scalar, any thread count) gives identical bits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace spiketile {

// w: int8 rows of `cols` weights, `row_stride` apart; x: values in [-128, 127] or [0, 255];
// row_sums[r] = Σ_c w[r][c] over these columns (lets signed inputs use the u8×s8 instruction).
void crossbar_matvec(const int8_t* w, std::size_t row_stride, int rows, int cols, const int32_t* row_sums,
                     const int32_t* x, int64_t* acc, bool parallel);

}  // namespace spiketile
