// Quantized SpikeGPT: the integer parameters of docs/numerics.md, calibration of activation
// ranges on sample text, and the functional model that runs the integer contract token by
// token while counting every action.
#pragma once

#include <string>
#include <functional>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/event_counts.hpp"
#include "models/numerics.hpp"
#include "models/quant_options.hpp"
#include "models/spikegpt.hpp"
#include "models/token_counting.hpp"

namespace spiketile {

// Largest |value| of each real-valued tensor, measured with the float golden model.
struct Calibration {
  std::string text;          // what it was measured on
  int64_t tokens = 0;
  std::vector<double> ln1, att_value, att_gated, ln2, ffn_key_pos, ffn_hidden;  // [layer]
  double ln_out = 0;

  nlohmann::json to_json() const;
  static Calibration from_json(const nlohmann::json& j, int n_layer);
  void save(const std::string& path) const;
  static Calibration load(const std::string& path, int n_layer);
};

// Runs the golden model over `tokens` from the zero state and records every range.
// `progress` (may be empty) hears (tokens done, tokens) every 1024 tokens.
Calibration calibrate(GoldenModel& golden, const std::vector<int>& tokens, const std::string& text_name,
                      const std::function<void(int64_t, int64_t)>& progress = {});

// Every integer constant of the contract. Built once from float weights + calibration; the
// compiler lowers exactly this onto the chip.
struct QuantizedSpikeGpt {
  struct Linear {
    q::QuantizedMatrix w;
    std::vector<q::Multiplier> out;   // per row: accumulator -> the op's output format
  };
  struct Layer {
    q::LayerNormConstants ln1, ln2;
    std::vector<int32_t> att_mix_k, att_mix_v, att_mix_r, ffn_mix_k, ffn_mix_r;  // Q0.10
    std::vector<int32_t> time_first, time_decay;  // log2 domain Q.8 (decay <= -1)
    Linear att_receptance, att_key, att_value, att_output;
    Linear ffn_receptance, ffn_key, ffn_value;
    q::Multiplier att_gate;       // r·wkv (Q0.8 × v units) -> activation
    q::Multiplier ffn_hidden;     // k² (int16² units) -> unsigned activation
    // A spike-input variant's thresholds (q::make_spike_thresholds, docs/numerics.md §4.10), empty
    // for the released graph: on the token-shift outputs (in the LN output's units), on r·wkv
    // (Q0.8 × v units) and on k² (int16² units). The crossbar inputs are then spike counts.
    std::vector<int64_t> att_mix_spikes, ffn_mix_spikes, att_gate_spikes, ffn_hidden_spikes;
    double v_scale = 1, gated_scale = 1, key_scale = 1, hidden_scale = 1, shift_scale = 1, ffn_shift_scale = 1;
  };
  ModelConfig config;
  QuantOptions options;
  bool binary_embedding = false;
  bool rescale_every_6_layers = true;
  std::vector<int32_t> embedding;   // [V × C] in Q.12 (binary: 0 or 4096)
  q::LayerNormConstants ln0, ln_out;
  Linear head;
  std::vector<double> head_logit_scale;   // per vocab row: logit = acc · scale
  std::vector<Layer> layers;

  static QuantizedSpikeGpt build(const SpikeGptWeights& w, const Calibration& cal, const QuantOptions& options);
  // Equal to build(SpikeGptWeights::read(reader, golden), ...), but reads and quantizes one block's
  // matrices at a time and the embedding and head by row blocks, so the float model is never held:
  // peak memory is the result plus one block's float weights.
  // with_embedding = false leaves `embedding` empty for a caller that reads it later with
  // read_embedding or read_embedding_blocks (the compiler, which streams it into the mapping file
  // and so never holds the 4-byte-per-value table).
  static QuantizedSpikeGpt read(TensorReader& reader, const Calibration& cal, const QuantOptions& options,
                                const GoldenOptions& golden, bool with_embedding = true);
  // The embedding table as build() makes it ([V × C] Q.12), read by row blocks.
  static std::vector<int32_t> read_embedding(TensorReader& reader, const ModelConfig& config, bool binary_embedding);
  // The same table, handed over row block by row block (in order) instead of held whole.
  static void read_embedding_blocks(TensorReader& reader, const ModelConfig& config, bool binary_embedding,
                                    const std::function<void(const int32_t* values, std::size_t count)>& emit);
  int64_t weight_bytes() const;   // crossbar weight storage at options.weight_bits
};

// The quantized functional model: the integer contract as fast plain C++, with event counts.
class QuantizedModel final : public TokenModel {
 public:
  explicit QuantizedModel(QuantizedSpikeGpt model);

  std::string level_name() const override { return "quantized"; }
  int vocab_size() const override { return m_.config.vocab_size; }
  int n_layer() const override { return m_.config.n_layer; }
  int n_embd() const override { return m_.config.n_embd; }
  int spike_input_steps() const override { return m_.config.spike_input_steps; }
  void reset() override;
  const std::vector<float>& step(int token) override;
  const StepActivity& last_activity() const override { return obs_.activity; }

  const TokenCounts* last_counts() const override { return &counts_; }
  const QuantizedSpikeGpt& model() const { return m_; }
  // Integer recurrent state, for cross-level equality checks.
  struct State {
    std::vector<std::vector<int32_t>> att_shift, ffn_shift, wkv_p, mem_att, mem_ffn;
    std::vector<std::vector<int64_t>> wkv_a, wkv_b;
    bool operator==(const State& o) const;
  };
  const State& state() const { return state_; }
  const std::vector<int64_t>& last_logit_accumulators() const { return head_acc_; }

 private:
  // acc[r] = Σ_c W[r][c]·x[c], observing the non-zero inputs of op `op` of `layer` (-1: the head).
  void crossbar(const QuantizedSpikeGpt::Linear& lin, const int32_t* x, int64_t* acc, int layer, Op op);
  // Integer LayerNorm of C values.
  void layer_norm(const int32_t* in, const q::LayerNormConstants& c, int32_t* out);
  // LIF on the current in cur_, spikes added to the residual x_.
  void lif_and_residual(std::vector<int32_t>& membrane, std::vector<uint8_t>& spikes, std::vector<float>& recorded);
  // A variant's spike counts in place of a projection's input (no thresholds: unchanged).
  static void spike_inputs(std::vector<int32_t>& x, const std::vector<int64_t>& thresholds);
  // r_ = σ(requantize(W·xr_)), as both mixes compute their receptance.
  void receptance(const QuantizedSpikeGpt::Linear& lin, int layer, Op op);
  void time_mix(int layer);
  void channel_mix(int layer);

  QuantizedSpikeGpt m_;
  State state_;
  TokenObservations obs_;  // what this step did; its counts follow (models/token_counting.hpp)
  TokenCounts counts_;
  std::vector<float> logits_;
  std::vector<int32_t> x_, z_, xk_, xv_, xr_, r_, k_, v_, y_, h_, cur_;
  std::vector<int64_t> acc_, head_acc_;
};

}  // namespace spiketile
