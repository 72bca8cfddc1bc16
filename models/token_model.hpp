// The contract every execution level implements (float golden model, quantized functional
// model, mapping executor, SystemC simulator): feed one token, get the next-token logits and
// the spikes the step produced. Generation, evaluation and cross-level comparison are written
// once against this interface.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/event_counts.hpp"

namespace spiketile {

// What one token step did, per layer: the two LIF populations' spikes and the ReLU² density.
struct StepActivity {
  std::vector<std::vector<uint8_t>> spikes_att;  // [layer][channel] 0/1, LIF after time-mix
  std::vector<std::vector<uint8_t>> spikes_ffn;  // [layer][channel] 0/1, LIF after channel-mix
  std::vector<int> relu2_nonzero;                // [layer] non-zero entries of ReLU²(key) (of 4C)
  // [layer][channel] each LIF's membrane after the step (0 after a spike), in units of the firing
  // threshold (q::membrane_in_thresholds for the integer levels).
  std::vector<std::vector<float>> membrane_att, membrane_ffn;

  void resize(int n_layer, int n_embd);
};

class TokenModel {
 public:
  virtual ~TokenModel() = default;
  virtual std::string level_name() const = 0;   // "golden", "quantized", ...
  virtual int vocab_size() const = 0;
  virtual int n_layer() const = 0;
  virtual int n_embd() const = 0;
  // T of a spike-input variant (docs/spiking-frontier.md), 0 for the released graph.
  virtual int spike_input_steps() const { return 0; }
  // Back to the zero state every sequence starts from (membranes 0, WKV p = -1e30).
  virtual void reset() = 0;
  // Consumes one token; returns next-token logits, valid until the next call.
  virtual const std::vector<float>& step(int token) = 0;
  virtual const StepActivity& last_activity() const = 0;
  // Action counts of the last step, for levels that count them (null for the float model).
  virtual const TokenCounts* last_counts() const { return nullptr; }

  // Called once per consumed token, in order: its position in the sequence given and its
  // next-token logits; last_activity() and last_counts() describe that token meanwhile. The
  // callback must not feed the model.
  using TokenCallback = std::function<void(int64_t position, const std::vector<float>& logits)>;
  // Consumes `tokens` one after the other, as step() would, each token's results handed to
  // `on_token`. A level that can overlap consecutive tokens (the simulator's pipelined prefill)
  // does so here; the results are the same bits as stepping.
  virtual void prefill(const std::vector<int>& tokens, const TokenCallback& on_token);

 protected:
  // Every level rejects an out-of-range id the same way, before touching any state.
  void require_token_in_vocabulary(int token) const;
};

}  // namespace spiketile
