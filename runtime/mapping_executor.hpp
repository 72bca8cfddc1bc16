// The mapping executor: runs a compiled mapping token by token with no timing. Every unit is its
// own UnitBehavior holding only what the mapping gave it; events move only along the mapping's
// flows (through an in-order queue), so a mapping that is missing a weight, a constant or a flow
// gives different bits or a stalled unit — which is why equality with the functional model
// proves the mapping complete.
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "compiler/mapping.hpp"
#include "models/token_model.hpp"
#include "runtime/unit_behavior.hpp"

namespace spiketile {

// What counting needs to know of a compiled model (models/token_counting.hpp).
CountedModel counted_model(const Mapping& mapping);

class MappingExecutor final : public TokenModel, private UnitOutbox {
 public:
  explicit MappingExecutor(std::shared_ptr<const Mapping> mapping);

  std::string level_name() const override { return "mapping"; }
  int vocab_size() const override { return m_->config.vocab_size; }
  int n_layer() const override { return m_->config.n_layer; }
  int n_embd() const override { return m_->config.n_embd; }
  int spike_input_steps() const override { return m_->config.spike_input_steps; }
  void reset() override;
  const std::vector<float>& step(int token) override;
  const StepActivity& last_activity() const override { return observations_.activity; }
  const TokenCounts* last_counts() const override { return &counts_; }

  const Mapping& mapping() const { return *m_; }
  const std::vector<int64_t>& last_logit_accumulators() const { return host_.accumulators(); }
  const UnitBehavior& unit(int id) const { return *units_[std::size_t(id)]; }

 private:
  void send(int unit, const UnitEvent& event) override;
  void logit(int64_t vocab_index, int64_t accumulator) override;

  std::shared_ptr<const Mapping> m_;
  std::vector<UnitLinks> links_;
  TokenObservations observations_;
  std::vector<std::unique_ptr<UnitBehavior>> units_;
  std::deque<std::pair<int, UnitEvent>> queue_;
  TokenHost host_;
  TokenCounts counts_;
};

}  // namespace spiketile
