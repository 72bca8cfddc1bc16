// A token's event counts from what was observed while running it: the non-zero inputs of every
// crossbar op, the spikes of every LIF population and the ReLU² density. Every counting level (the
// functional model, the mapping executor, the SystemC chip) records these observations its own
// way and turns them into counts here, by the rules of models/op_rules.hpp, in one schedule.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "models/event_counts.hpp"
#include "models/op_rules.hpp"
#include "models/quant_options.hpp"
#include "models/spikegpt.hpp"
#include "models/token_model.hpp"

namespace spiketile {

struct TokenObservations {
  // [layer][op] for crossbar ops (layer ops) and the head (global row, index n_layer).
  std::vector<std::array<rules::CrossbarInputs, kOpCount>> crossbar_inputs;
  StepActivity activity;
  // A NIR mapping's step: per population, each neuron's output (spike 0/1, or membrane for a
  // non-spiking population); empty for SpikeGPT.
  std::vector<std::vector<int32_t>> population_values;

  void reset(int n_layer, int n_embd);
  void reset_populations(const std::vector<int64_t>& sizes);
  rules::CrossbarInputs& inputs(int layer, Op op) {
    return crossbar_inputs[std::size_t(layer < 0 ? crossbar_inputs.size() - 1 : std::size_t(layer))][std::size_t(op)];
  }
};

// The model facts counting needs.
struct CountedModel {
  ModelConfig config;
  QuantOptions quant;
  bool binary_embedding = false;
  bool rescale_every_6_layers = true;
};

// Counts of one token whose embedding row (Q.12, n_embd values) was `embedding_row`.
void count_token(const CountedModel& model, const TokenObservations& observations, const int32_t* embedding_row,
                 TokenCounts& counts);

}  // namespace spiketile
