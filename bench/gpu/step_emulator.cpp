#include "bench/gpu/step_emulator.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/float_step_ops.hpp"
#include "models/lif.hpp"

namespace spiketile::gpu_bench {

namespace {
constexpr int kRescaleEvery = 6;          // upstream RWKV_RESCALE_LAYER
constexpr float kWkvInitialMax = -1e30f;  // upstream state[5i+4] initial value
using Slot = RecurrentState::Slot;
}  // namespace

StepEmulator::StepEmulator(const PackedModel& model, int batch)
    : model_(model), batch_(batch), C_(std::size_t(model.config.n_embd)),
      state_floats_(std::size_t(model.config.n_layer) * RecurrentState::kSlots * C_), shape_(model.shape()) {
  if (batch < 1) throw std::invalid_argument("StepEmulator: batch must be at least 1");
  for (const MatrixBlock& b : model.blocks) {
    Rows<float> m(b.rows, b.cols);
    for (int64_t r = 0; r < b.rows; ++r)
      for (int64_t c = 0; c < b.cols; ++c) m(r, c) = model.weight(b, r, c);
    if (model.precision == Precision::int8)
      int_weights_.push_back(m.cast<double>());
    else
      float_weights_.push_back(std::move(m));
  }
  for (int g = 0; g < kGemmCount; ++g) {
    inputs_[g].assign(std::size_t(batch) * std::size_t(shape_.in_width(Gemm(g))), 0.0f);
    outputs_[g].assign(std::size_t(batch) * std::size_t(shape_.out_width(Gemm(g))), 0.0f);
    input_scales_[g].assign(std::size_t(batch), 1.0f);
  }
  x_.resize(std::size_t(batch) * C_);
  state_.resize(std::size_t(batch) * state_floats_);
  z_.resize(4 * C_);
  scratch_.resize(4 * C_);
  logits_.resize(std::size_t(batch) * std::size_t(model.config.vocab_size));
  next_tokens_.assign(std::size_t(batch), 0);
  reset();
}

void StepEmulator::reset() {
  std::fill(state_.begin(), state_.end(), 0.0f);
  for (int b = 0; b < batch_; ++b)
    for (int i = 0; i < model_.config.n_layer; ++i) std::fill_n(slot(b, i, Slot::WkvMax), C_, kWkvInitialMax);
}

void StepEmulator::set_state(int b, const std::vector<float>& golden_state) {
  if (golden_state.size() != state_floats_)
    throw std::invalid_argument("StepEmulator::set_state: the state of another model shape");
  std::copy(golden_state.begin(), golden_state.end(), state_.begin() + std::ptrdiff_t(std::size_t(b) * state_floats_));
}

const std::vector<float>& StepEmulator::step(const std::vector<int>& tokens) {
  if (int(tokens.size()) != batch_) throw std::invalid_argument("StepEmulator::step: one token per sequence");
  for (int t : tokens)
    if (t < 0 || t >= model_.config.vocab_size) throw std::out_of_range("StepEmulator::step: token outside the vocabulary");
  tokens_ = tokens;
  run_step(*this, model_.config.n_layer);
  const std::size_t V = std::size_t(model_.config.vocab_size);
  for (int b = 0; b < batch_; ++b) std::copy_n(output(Gemm::head, b), V, logits_.begin() + std::ptrdiff_t(b * V));
  return logits_;
}

void StepEmulator::set_input(Gemm g, int b, const float* values) {
  const std::size_t n = std::size_t(shape_.in_width(g));
  float* in = inputs_[std::size_t(g)].data() + std::size_t(b) * n;
  if (model_.precision != Precision::int8) {
    for (std::size_t i = 0; i < n; ++i) in[i] = round_to(model_.precision, values[i]);
    return;
  }
  float max_abs = 0;
  for (std::size_t i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(values[i]));
  const float inverse = int8_inverse_scale(max_abs);
  for (std::size_t i = 0; i < n; ++i) in[i] = float(quantize_int8(values[i], inverse));
  input_scales_[std::size_t(g)][std::size_t(b)] = int8_scale(max_abs);
}

void StepEmulator::gemm(int layer, Gemm g) {
  const MatrixBlock& block = model_.block(layer, g);
  const std::size_t index = std::size_t(&block - model_.blocks.data());
  const int64_t in_w = shape_.in_width(g), out_w = shape_.out_width(g);
  const Eigen::Map<const Rows<float>> in(inputs_[std::size_t(g)].data(), batch_, in_w);
  Eigen::Map<Rows<float>> out(outputs_[std::size_t(g)].data(), batch_, out_w);
  if (model_.precision != Precision::int8) {
    // The GPU adds the float32 products in float32 too; only the order differs.
    out.noalias() = in * float_weights_[index].transpose();
    return;
  }
  const Rows<double> sums = in.cast<double>() * int_weights_[index].transpose();
  for (int b = 0; b < batch_; ++b) {
    const float input_scale = input_scales_[std::size_t(g)][std::size_t(b)];
    for (int64_t r = 0; r < out_w; ++r)
      out(b, r) = dequantize_int8(int32_t(sums(b, r)), model_.row_scales[block.scale_offset + std::size_t(r)], input_scale);
  }
}

void StepEmulator::embed() {
  for (int b = 0; b < batch_; ++b) {
    const float* e = model_.embedding.data() + std::size_t(tokens_[std::size_t(b)]) * C_;
    layer_norm(e, vec(model_.ln0_weight), vec(model_.ln0_bias), int(C_), x(b));
  }
}

void StepEmulator::att_inputs(int i) {
  const LayerVectors& l = model_.layers[std::size_t(i)];
  for (int b = 0; b < batch_; ++b) {
    layer_norm(x(b), vec(l.ln1_weight), vec(l.ln1_bias), int(C_), z_.data());
    float* xa = slot(b, i, Slot::AttShift);
    const std::pair<Gemm, std::size_t> mixes[] = {
        {Gemm::att_receptance, l.att_mix_r}, {Gemm::att_key, l.att_mix_k}, {Gemm::att_value, l.att_mix_v}};
    for (const auto& [g, mix] : mixes) {
      for (std::size_t c = 0; c < C_; ++c) scratch_[c] = token_mix(z_[c], xa[c], vec(mix)[c]);
      set_input(g, b, scratch_.data());
    }
    std::copy_n(z_.data(), C_, xa);
  }
}

void StepEmulator::wkv(int i) {
  const LayerVectors& l = model_.layers[std::size_t(i)];
  for (int b = 0; b < batch_; ++b) {
    const float *r = output(Gemm::att_receptance, b), *k = output(Gemm::att_key, b), *v = output(Gemm::att_value, b);
    float *num = slot(b, i, Slot::WkvNum), *den = slot(b, i, Slot::WkvDen), *max = slot(b, i, Slot::WkvMax);
    for (std::size_t c = 0; c < C_; ++c)
      scratch_[c] = sigmoid(r[c]) * wkv_step(k[c], v[c], vec(l.time_first)[c], vec(l.time_decay)[c], num[c], den[c], max[c]);
    set_input(Gemm::att_output, b, scratch_.data());
  }
}

void StepEmulator::att_spikes_ffn_inputs(int i) {
  const LayerVectors& l = model_.layers[std::size_t(i)];
  for (int b = 0; b < batch_; ++b) {
    const float* current = output(Gemm::att_output, b);
    float* mem = slot(b, i, Slot::MemAtt);
    for (std::size_t c = 0; c < C_; ++c) x(b)[c] += float(lif_step(mem[c], current[c]));
    layer_norm(x(b), vec(l.ln2_weight), vec(l.ln2_bias), int(C_), z_.data());
    float* xf = slot(b, i, Slot::FfnShift);
    const std::pair<Gemm, std::size_t> mixes[] = {{Gemm::ffn_receptance, l.ffn_mix_r}, {Gemm::ffn_key, l.ffn_mix_k}};
    for (const auto& [g, mix] : mixes) {
      for (std::size_t c = 0; c < C_; ++c) scratch_[c] = token_mix(z_[c], xf[c], vec(mix)[c]);
      set_input(g, b, scratch_.data());
    }
    std::copy_n(z_.data(), C_, xf);
  }
}

void StepEmulator::relu_squared(int) {
  for (int b = 0; b < batch_; ++b) {
    const float* k = output(Gemm::ffn_key, b);
    for (std::size_t c = 0; c < 4 * C_; ++c) scratch_[c] = k[c] > 0.0f ? k[c] * k[c] : 0.0f;
    set_input(Gemm::ffn_value, b, scratch_.data());
  }
}

void StepEmulator::ffn_spikes(int i) {
  const bool halve = model_.rescale_every_6_layers && (i + 1) % kRescaleEvery == 0;
  for (int b = 0; b < batch_; ++b) {
    const float *r = output(Gemm::ffn_receptance, b), *v = output(Gemm::ffn_value, b);
    float* mem = slot(b, i, Slot::MemFfn);
    for (std::size_t c = 0; c < C_; ++c) {
      x(b)[c] += float(lif_step(mem[c], sigmoid(r[c]) * v[c]));
      if (halve) x(b)[c] /= 2.0f;
    }
  }
}

void StepEmulator::head_input() {
  for (int b = 0; b < batch_; ++b) {
    layer_norm(x(b), vec(model_.ln_out_weight), vec(model_.ln_out_bias), int(C_), z_.data());
    set_input(Gemm::head, b, z_.data());
  }
}

void StepEmulator::next_tokens() {
  const int64_t V = model_.config.vocab_size;
  for (int b = 0; b < batch_; ++b) {
    const float* logits = output(Gemm::head, b);
    next_tokens_[std::size_t(b)] = int(std::max_element(logits, logits + V) - logits);
  }
}

}  // namespace spiketile::gpu_bench
