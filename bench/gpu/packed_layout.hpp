// Where a packed model's pieces sit in its upload blocks (packed_model.hpp builds them): plain
// offsets and raw views, with nothing but the standard library, so the CUDA file reads them
// without the host model's headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bench/gpu/precision.hpp"

namespace spiketile::gpu_bench {

// The head's rows (the vocabulary) are padded with zero rows to a multiple of this: cuBLAS's int8
// products need every dimension a multiple of 4, and 16 keeps every row of every format 16-byte
// aligned. The padded logits are never read.
inline constexpr int64_t kRowAlignment = 16;
// Each matrix starts on this boundary (bytes) of the matrix block, as cuBLAS prefers.
inline constexpr std::size_t kMatrixAlignmentBytes = 256;

struct MatrixBlock {
  int64_t rows = 0;        // output width (the head: padded)
  int64_t valid_rows = 0;  // rows from the checkpoint; the rest are zero
  int64_t cols = 0;        // input width
  std::size_t offset = 0;        // first element in the matrix block (elements)
  std::size_t scale_offset = 0;  // first row scale (int8)
};

// Offsets (floats) of a layer's vectors in the vector block, each n_embd long.
struct LayerVectors {
  std::size_t ln1_weight = 0, ln1_bias = 0, ln2_weight = 0, ln2_bias = 0;
  std::size_t time_decay = 0, time_first = 0;  // time_decay already −exp(raw)
  std::size_t att_mix_k = 0, att_mix_v = 0, att_mix_r = 0, ffn_mix_k = 0, ffn_mix_r = 0;
};

// A packed model's blocks as the device uploads them (pointers into a PackedModel).
struct PackedModelView {
  int n_layer = 0, n_embd = 0, vocab = 0;
  int64_t vocab_padded = 0;
  Precision precision = Precision::fp16;
  bool rescale_every_6_layers = true;
  const uint8_t* matrices = nullptr;
  std::size_t matrix_bytes = 0;
  const float* row_scales = nullptr;
  std::size_t row_scale_count = 0;
  const float* vectors = nullptr;
  std::size_t vector_count = 0;
  const float* embedding = nullptr;
  std::size_t embedding_count = 0;
  const MatrixBlock* blocks = nullptr;  // layer · kLayerGemms + gemm, the head last
  std::size_t block_count = 0;
  const LayerVectors* layers = nullptr;
  std::size_t ln0_weight = 0, ln0_bias = 0, ln_out_weight = 0, ln_out_bias = 0;
};

}  // namespace spiketile::gpu_bench
