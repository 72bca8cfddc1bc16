// The GPU's step on the host: the schedule of step_schedule.hpp with the packed weights and the
// GPU's rounding (16-bit matrix inputs, or int8 inputs scaled per vector with exact int32 sums),
// one sequence after another. It differs from the GPU only in the order float32 sums are added,
// so the unit tests use it to check the layout, the schedule and the check's tolerances against
// the golden model without a GPU. Slow (every matrix widened to float once); meant for small models.
#pragma once

#include <Eigen/Core>

#include <array>
#include <vector>

#include "bench/gpu/packed_model.hpp"

namespace spiketile::gpu_bench {

class StepEmulator {
 public:
  StepEmulator(const PackedModel& model, int batch);

  // Every sequence back to the zero state (membranes 0, WKV p = −1e30).
  void reset();
  // One step: sequence b consumes tokens[b]; returns logits [batch × vocab] (padding dropped).
  const std::vector<float>& step(const std::vector<int>& tokens);
  // Each sequence's largest logit's first index after the last step (the GPU's greedy next token).
  const std::vector<int>& greedy_tokens() const { return next_tokens_; }
  // Sequence b's recurrent state, in the golden model's layout (RecurrentState::raw()).
  const float* state(int b) const { return state_.data() + std::size_t(b) * state_floats_; }
  // Sets sequence b's state from the golden model's layout (for the check's lockstep).
  void set_state(int b, const std::vector<float>& golden_state);

  // The executor interface of run_step (step_schedule.hpp).
  void embed();
  void att_inputs(int layer);
  void gemm(int layer, Gemm g);
  void wkv(int layer);
  void att_spikes_ffn_inputs(int layer);
  void relu_squared(int layer);
  void ffn_spikes(int layer);
  void head_input();
  void next_tokens();

 private:
  float* slot(int b, int layer, int slot) {
    return state_.data() + std::size_t(b) * state_floats_ + (std::size_t(layer) * 7 + std::size_t(slot)) * C_;
  }
  const float* vec(std::size_t offset) const { return model_.vectors.data() + offset; }
  float* x(int b) { return x_.data() + std::size_t(b) * C_; }
  // Rounds (or quantizes) one sequence's input of product g as the GPU's kernels do.
  void set_input(Gemm g, int b, const float* values);
  const float* output(Gemm g, int b) const {
    return outputs_[std::size_t(g)].data() + std::size_t(b) * std::size_t(shape_.out_width(g));
  }

  template <typename T>
  using Rows = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const PackedModel& model_;
  int batch_;
  std::size_t C_;
  std::size_t state_floats_;
  StepShape shape_;
  std::vector<Rows<float>> float_weights_;  // per block, widened (fp16, bf16)
  std::vector<Rows<double>> int_weights_;  // per block, int8's integers (their sums are exact in double)
  std::vector<int> tokens_, next_tokens_;
  std::vector<float> x_, state_, z_, scratch_, logits_;
  std::array<std::vector<float>, kGemmCount> inputs_, outputs_;  // [batch × width] each
  std::array<std::vector<float>, kGemmCount> input_scales_;       // int8: [batch]
};

}  // namespace spiketile::gpu_bench
