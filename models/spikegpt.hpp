// The float32 golden SpikeGPT: exactly the upstream RNN-mode inference (model_run.py), as
// specified in shared/reference/spikegpt.md §3–§5, including its two quirks as switches.
#pragma once

#include <Eigen/Core>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "models/float_step_ops.hpp"
#include "models/tensor_file.hpp"
#include "models/token_model.hpp"

namespace spiketile {

struct ModelConfig {
  int n_layer = 0;
  int n_embd = 0;
  int vocab_size = 0;
  // 0: the released graph (graded projection inputs). T ≥ 1: a spike-input variant, every
  // projection input passes through spike_input(x, T) (docs/spiking-frontier.md); 1 = binary.
  // Read from the checkpoint's kSpikeInputStepsTensor, never from a config file.
  int spike_input_steps = 0;
  // P = 2·V·C + L·(13·C² + 11·C) + 4·C (spikegpt.md §5.2).
  int64_t parameter_count() const;
};

enum class BinaryEmbedding { Auto, On, Off };
BinaryEmbedding parse_binary_embedding(const std::string& s);

struct GoldenOptions {
  // D1: divide att.output/ffn.value by 2^floor(i/6) and halve x after every 6th layer.
  bool rescale_every_6_layers = true;
  // D2: upstream binarizes the embedding row only when the vocabulary has 77 entries.
  BinaryEmbedding binary_embedding = BinaryEmbedding::Auto;
  int threads = 0;  // matrix-vector threads; 0 = OpenMP default
};

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};

// The extra tensor a spike-input variant's checkpoint carries: [1] float32 holding T.
inline constexpr const char* kSpikeInputStepsTensor = "spiketile.spike_input_steps";
// The largest T a variant may record: a count travels in at most 8 bits.
inline constexpr int kMaxSpikeInputSteps = 255;

// What a model's projections receive, in the words every output uses: "graded activations (the
// released graph)", "binary spikes (spike-input variant, T = 1)", "spike counts of 3 steps
// (spike-input variant, 2-bit)".
std::string projection_inputs_description(int spike_input_steps);

// T from a variant's kSpikeInputStepsTensor ([1], validated: a whole number in [1, kMaxSpikeInputSteps]).
int spike_input_steps(const Tensor& recorded, const std::string& path);

// n_layer, n_embd and vocab size come from tensor shapes, never from a config file.
ModelConfig infer_config(const TensorIndex& index);
inline ModelConfig infer_config(const TensorFile& file) { return infer_config(file.index()); }
// infer_config, validated, with a spike-input variant's T read from its extra tensor.
ModelConfig read_model_config(TensorReader& reader);
// Every tensor of the upstream state dict, in registration order (spikegpt.md §5.2).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);
// Missing, unexpected or mis-shaped tensors: one CheckpointError listing every problem.
void validate_spikegpt(const TensorIndex& index, const ModelConfig& config);
inline void validate_spikegpt(const TensorFile& file, const ModelConfig& config) { validate_spikegpt(file.index(), config); }

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixView = Eigen::Map<const RowMatrix>;
using VectorView = Eigen::Map<const Eigen::VectorXf>;

// Weights after upstream's load-time transforms: time_mix squeezed, time_decay -> -exp(raw),
// and (when enabled) the 2^-floor(i/6) rescale of att.output and ffn.value.
struct SpikeGptWeights {
  struct Layer {
    Tensor ln1_weight, ln1_bias, ln2_weight, ln2_bias;
    Tensor att_time_decay, att_time_first, att_mix_k, att_mix_v, att_mix_r;
    Tensor att_key, att_value, att_receptance, att_output;
    Tensor ffn_mix_k, ffn_mix_r, ffn_key, ffn_receptance, ffn_value;
  };
  ModelConfig config;
  bool rescale_every_6_layers = true;
  bool binary_embedding = false;
  Tensor emb, ln0_weight, ln0_bias, ln_out_weight, ln_out_bias, head;
  std::vector<Layer> layers;

  static SpikeGptWeights from_file(TensorFile&& file, const GoldenOptions& options);
  static SpikeGptWeights load(const std::string& path, const GoldenOptions& options);
  // Every tensor from a reader: read_outline, then the embedding, the head and each block.
  static SpikeGptWeights read(TensorReader& reader, const GoldenOptions& options);
  // The checkpoint validated, its config and switches set and the LayerNorms ln0/ln_out read;
  // emb, head and layers left empty, for a caller that reads those piece by piece.
  static SpikeGptWeights read_outline(TensorReader& reader, const GoldenOptions& options);
  // Block i's tensors after the load-time transforms.
  static Layer read_layer(TensorReader& reader, int i, bool rescale_every_6_layers);
};

// All recurrent state of one sequence: 5 vectors per layer as upstream's state tensor
// (xf, xa, a, b, p) plus the two LIF membranes per layer.
class RecurrentState {
 public:
  enum Slot { FfnShift = 0, AttShift = 1, WkvNum = 2, WkvDen = 3, WkvMax = 4, MemAtt = 5, MemFfn = 6 };
  static constexpr int kSlots = 7;

  RecurrentState() = default;
  RecurrentState(int n_layer, int n_embd);
  void reset();
  float* slot(int layer, Slot s) { return data_.data() + (std::size_t(layer) * kSlots + s) * n_embd_; }
  const float* slot(int layer, Slot s) const {
    return data_.data() + (std::size_t(layer) * kSlots + s) * n_embd_;
  }
  const std::vector<float>& raw() const { return data_; }
  int n_layer() const { return n_layer_; }
  int n_embd() const { return n_embd_; }

  void save(const std::string& path) const;
  static RecurrentState load(const std::string& path);
  bool operator==(const RecurrentState& o) const;

 private:
  int n_layer_ = 0, n_embd_ = 0;
  std::vector<float> data_;
};

// Per-op kernels, exposed for per-op tests and for other levels that need the float form.
void layer_norm(const float* x, const float* weight, const float* bias, int n, float* out);
// wkv_step (one WKV step for one channel) is in models/float_step_ops.hpp.

// Intermediate tensors the golden model can report each step (calibration reads their ranges).
enum class ProbePoint { Ln1Out, AttValue, AttGated, Ln2Out, FfnKey, FfnHidden, LnOut };
using Probe = std::function<void(int layer, ProbePoint point, const float* data, int n)>;

class GoldenModel final : public TokenModel {
 public:
  GoldenModel(SpikeGptWeights weights, int threads = 0);

  std::string level_name() const override { return "golden"; }
  int vocab_size() const override { return w_.config.vocab_size; }
  int n_layer() const override { return w_.config.n_layer; }
  int n_embd() const override { return w_.config.n_embd; }
  int spike_input_steps() const override { return w_.config.spike_input_steps; }
  void reset() override { state_.reset(); }
  const std::vector<float>& step(int token) override;
  const StepActivity& last_activity() const override { return activity_; }

  const SpikeGptWeights& weights() const { return w_; }
  // Called with each probe point's values during step(); layer is -1 for ln_out.
  void set_probe(Probe probe) { probe_ = std::move(probe); }
  RecurrentState& state() { return state_; }
  const RecurrentState& state() const { return state_; }

 private:
  // A spike-input variant's spike function on a projection's input, in place (no-op for the released graph).
  void spike_inputs(float* x, int n) const;
  void time_mix(int layer, float* x);
  void channel_mix(int layer, float* x);
  // out = W · in for a row-major [rows × cols] tensor, split across threads by rows.
  void matvec(const Tensor& w, const float* in, float* out) const;

  SpikeGptWeights w_;
  int threads_;
  RecurrentState state_;
  StepActivity activity_;
  Probe probe_;
  std::vector<float> logits_;
  // Scratch vectors sized once; a step allocates nothing.
  std::vector<float> x_, z_, xk_, xv_, xr_, r_, k_, v_, y_, hidden_, hidden_in_;
};

}  // namespace spiketile
