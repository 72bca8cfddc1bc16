// A SpikeGPT checkpoint in the layout the GPU benchmark uploads: the golden model's weights after
// upstream's load-time transforms (SpikeGptWeights), the matrices converted to the run's
// precision, everything else float32. Built on the host, uploaded as a few contiguous blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/gpu/packed_layout.hpp"
#include "bench/gpu/precision.hpp"
#include "bench/gpu/step_schedule.hpp"
#include "models/spikegpt.hpp"

namespace spiketile::gpu_bench {

struct PackedModel {
  ModelConfig config;
  Precision precision = Precision::fp16;
  bool rescale_every_6_layers = true;
  int64_t vocab_padded = 0;
  std::vector<uint8_t> matrices;   // every matrix, row-major [rows × cols], weight_bytes(precision) each
  std::vector<float> row_scales;   // int8: one per matrix row; empty otherwise
  std::vector<float> vectors;      // LayerNorm parameters, token-shift mixes, time_first, time_decay
  std::vector<float> embedding;    // [vocab × n_embd]; 0/1 where the model binarizes its embedding
  std::vector<MatrixBlock> blocks; // layer · kLayerGemms + gemm, the head last
  std::vector<LayerVectors> layers;
  std::size_t ln0_weight = 0, ln0_bias = 0, ln_out_weight = 0, ln_out_bias = 0;

  StepShape shape() const { return {config.n_embd, vocab_padded}; }
  const MatrixBlock& block(int layer, Gemm g) const;
  // A weight as the GPU holds it, widened to float: the 16-bit value, or int8's integer.
  float weight(const MatrixBlock& b, int64_t row, int64_t col) const;
  // Bytes the weights take on the device.
  std::size_t device_bytes() const;
  // The blocks as the device uploads them; valid while this model lives.
  PackedModelView view() const;
};

// Why `precision` cannot run this model, or "" when it can: cuBLAS's int8 products (IMMA) need
// the output and input widths (m, k) and every leading dimension to be multiples of 4, which
// n_embd must then be (the head is padded; its input width is n_embd too).
std::string unsupported_reason(Precision precision, const ModelConfig& config);

// Throws std::invalid_argument with unsupported_reason() when the precision cannot run the model.
PackedModel pack_model(const SpikeGptWeights& weights, Precision precision);

}  // namespace spiketile::gpu_bench
