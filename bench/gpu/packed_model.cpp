#include "bench/gpu/packed_model.hpp"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#include "models/checkpoint_io.hpp"

namespace spiketile::gpu_bench {

namespace {

const Tensor& layer_matrix(const SpikeGptWeights::Layer& l, Gemm g) {
  switch (g) {
    case Gemm::att_receptance: return l.att_receptance;
    case Gemm::att_key: return l.att_key;
    case Gemm::att_value: return l.att_value;
    case Gemm::att_output: return l.att_output;
    case Gemm::ffn_receptance: return l.ffn_receptance;
    case Gemm::ffn_key: return l.ffn_key;
    case Gemm::ffn_value: return l.ffn_value;
    case Gemm::head: break;
  }
  throw std::logic_error("layer_matrix: the head belongs to no layer");
}

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

class Packer {
 public:
  explicit Packer(PackedModel& m) : m_(m) {}

  void matrix(const Tensor& t, int64_t padded_rows) {
    const int64_t rows = t.shape[0], cols = t.shape[1];
    const std::size_t element = std::size_t(weight_bytes(m_.precision));
    MatrixBlock b;
    b.rows = padded_rows;
    b.valid_rows = rows;
    b.cols = cols;
    b.offset = std::size_t(round_up(int64_t(m_.matrices.size()), int64_t(kMatrixAlignmentBytes))) / element;
    b.scale_offset = m_.row_scales.size();
    m_.matrices.resize((b.offset + std::size_t(padded_rows * cols)) * element, 0);
    uint8_t* out = m_.matrices.data() + b.offset * element;
    if (m_.precision == Precision::int8) {
      const Int8Rows q = quantize_rows(t.data.data(), rows, cols);
      std::memcpy(out, q.values.data(), q.values.size());
      m_.row_scales.insert(m_.row_scales.end(), q.scales.begin(), q.scales.end());
      m_.row_scales.resize(b.scale_offset + std::size_t(padded_rows), 0.0f);
    } else {
      auto* half = reinterpret_cast<uint16_t*>(out);
      const bool fp16 = m_.precision == Precision::fp16;
      for (std::size_t i = 0; i < t.data.size(); ++i)
        half[i] = fp16 ? float_to_half_bits(t.data[i]) : float_to_bfloat16_bits(t.data[i]);
    }
    m_.blocks.push_back(b);
  }

  std::size_t vector(const Tensor& t) {
    const std::size_t offset = m_.vectors.size();
    m_.vectors.insert(m_.vectors.end(), t.data.begin(), t.data.end());
    return offset;
  }

 private:
  PackedModel& m_;
};

}  // namespace

const MatrixBlock& PackedModel::block(int layer, Gemm g) const {
  return g == Gemm::head ? blocks.back() : blocks.at(std::size_t(layer) * kLayerGemms + std::size_t(g));
}

float PackedModel::weight(const MatrixBlock& b, int64_t row, int64_t col) const {
  const std::size_t i = b.offset + std::size_t(row * b.cols + col);
  switch (precision) {
    case Precision::int8: return float(int8_t(matrices[i]));
    case Precision::fp16:
    case Precision::bf16: {
      uint16_t bits;
      std::memcpy(&bits, matrices.data() + 2 * i, sizeof bits);
      return precision == Precision::fp16 ? checkpoint_io::half_to_float(bits) : checkpoint_io::bfloat16_to_float(bits);
    }
  }
  return 0;
}

std::size_t PackedModel::device_bytes() const {
  return matrices.size() + (row_scales.size() + vectors.size() + embedding.size()) * sizeof(float);
}

PackedModelView PackedModel::view() const {
  PackedModelView v;
  v.n_layer = config.n_layer;
  v.n_embd = config.n_embd;
  v.vocab = config.vocab_size;
  v.vocab_padded = vocab_padded;
  v.precision = precision;
  v.rescale_every_6_layers = rescale_every_6_layers;
  v.matrices = matrices.data();
  v.matrix_bytes = matrices.size();
  v.row_scales = row_scales.data();
  v.row_scale_count = row_scales.size();
  v.vectors = vectors.data();
  v.vector_count = vectors.size();
  v.embedding = embedding.data();
  v.embedding_count = embedding.size();
  v.blocks = blocks.data();
  v.block_count = blocks.size();
  v.layers = layers.data();
  v.ln0_weight = ln0_weight;
  v.ln0_bias = ln0_bias;
  v.ln_out_weight = ln_out_weight;
  v.ln_out_bias = ln_out_bias;
  return v;
}

std::string unsupported_reason(Precision precision, const ModelConfig& config) {
  if (precision == Precision::int8 && config.n_embd % 4 != 0)
    return fmt::format("int8: cuBLAS's int8 matrix products (IMMA) need every matrix dimension and leading dimension a "
                       "multiple of 4, and this model's n_embd is {}",
                       config.n_embd);
  return "";
}

PackedModel pack_model(const SpikeGptWeights& w, Precision precision) {
  const std::string why = unsupported_reason(precision, w.config);
  if (!why.empty()) throw std::invalid_argument(why);
  PackedModel m;
  m.config = w.config;
  m.precision = precision;
  m.rescale_every_6_layers = w.rescale_every_6_layers;
  m.vocab_padded = round_up(w.config.vocab_size, kRowAlignment);
  Packer pack(m);
  for (const auto& l : w.layers) {
    for (int g = 0; g < kLayerGemms; ++g) {
      const Tensor& t = layer_matrix(l, Gemm(g));
      pack.matrix(t, t.shape[0]);
    }
    LayerVectors v;
    v.ln1_weight = pack.vector(l.ln1_weight);
    v.ln1_bias = pack.vector(l.ln1_bias);
    v.ln2_weight = pack.vector(l.ln2_weight);
    v.ln2_bias = pack.vector(l.ln2_bias);
    v.time_decay = pack.vector(l.att_time_decay);
    v.time_first = pack.vector(l.att_time_first);
    v.att_mix_k = pack.vector(l.att_mix_k);
    v.att_mix_v = pack.vector(l.att_mix_v);
    v.att_mix_r = pack.vector(l.att_mix_r);
    v.ffn_mix_k = pack.vector(l.ffn_mix_k);
    v.ffn_mix_r = pack.vector(l.ffn_mix_r);
    m.layers.push_back(v);
  }
  pack.matrix(w.head, m.vocab_padded);
  m.ln0_weight = pack.vector(w.ln0_weight);
  m.ln0_bias = pack.vector(w.ln0_bias);
  m.ln_out_weight = pack.vector(w.ln_out_weight);
  m.ln_out_bias = pack.vector(w.ln_out_bias);
  // The golden model binarizes each row as it reads it; the table binarized once is the same.
  m.embedding = w.emb.data;
  if (w.binary_embedding)
    for (float& e : m.embedding) e = float(e >= 0.0f);
  return m;
}

}  // namespace spiketile::gpu_bench
