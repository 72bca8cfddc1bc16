// Generation and evaluation written once against TokenModel, so every execution level
// (golden, quantized, mapping, simulator) is driven and measured the same way.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "models/token_model.hpp"
#include "runtime/sampler.hpp"

namespace spiketile {

// Spike and ReLU² totals over many steps, per layer.
struct ActivityTotals {
  int64_t steps = 0;
  int n_embd = 0;
  std::vector<int64_t> spikes_att, spikes_ffn, relu2_nonzero;

  void add(const StepActivity& a);
  double firing_rate_att(int layer) const;
  double firing_rate_ffn(int layer) const;
  double relu2_density(int layer) const;
};

// Event counts summed over steps, plus each step's total, for levels that count.
struct CountTotals {
  TokenCounts sum;
  std::vector<Counts> per_step;
  bool empty() const { return per_step.empty(); }
  void add(const TokenCounts* step);
};

// What generate() keeps of every consumed token besides counts and activity totals.
struct GenerationRecording {
  bool logits = false;   // every row of logits
  bool spikes = false;   // every LIF spike: [steps × n_layer × 2 (att, ffn) × n_embd]
  bool membranes = false;  // every LIF membrane after its step, same layout, in threshold units
};

struct GenerationResult {
  std::vector<int> generated;
  std::vector<float> logits;   // [rows × vocab], one row per consumed token, if requested
  std::vector<uint8_t> spikes; // [rows × n_layer × 2 × n_embd] 0/1, if requested: att then ffn
  std::vector<float> membranes;  // [rows × n_layer × 2 × n_embd], if requested: StepActivity's
  int64_t logit_rows = 0;
  ActivityTotals activity;
  CountTotals counts;
  double seconds = 0;          // wall time of the whole run (prompt + generation)
};

// Feeds the prompt, then n_tokens times: sample from the latest logits, report the token,
// feed it. Every consumed token yields one logits row (prompt tokens included).
GenerationResult generate(TokenModel& model, const std::vector<int>& prompt, int n_tokens,
                          const SamplingOptions& sampling, const GenerationRecording& keep,
                          const std::function<void(int)>& on_token = {});

struct EvalResult {
  int64_t tokens_evaluated = 0;  // predicted positions
  double mean_nll_nats = 0;
  double bits_per_token() const;
  ActivityTotals activity;
  CountTotals counts;
  double seconds = 0;
};

// One sequence from the zero state: scores tokens[1..n-1] each from the tokens before it;
// activity and counts cover all n steps.
EvalResult evaluate(TokenModel& model, const std::vector<int>& tokens,
                    const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace spiketile
