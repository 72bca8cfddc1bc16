// The mapping executor for a compiled NIR graph: time step by time step, no timing. Every unit is
// its own behaviour holding only what the mapping gave it (runtime/nir_units.hpp); events move only
// along the mapping's flows, through an in-order queue. Equality with the integer model
// (nir::IntegerGraph) proves the mapping complete; the SystemC chip must equal this level.
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "compiler/mapping.hpp"
#include "runtime/unit_behavior.hpp"

namespace spiketile {

class NirMappingExecutor final : private UnitOutbox {
 public:
  explicit NirMappingExecutor(std::shared_ptr<const Mapping> mapping);

  void reset();  // every neuron back to rest, no spikes of a previous step
  // One time step from the graph input's float values ([*input shape], flattened): the output's values.
  std::vector<double> step(const std::vector<double>& input);
  // The same from the quantized input (nir_quantize_input): the output's integers.
  const std::vector<int64_t>& step_quantized(const std::vector<int32_t>& input);

  const Mapping& mapping() const { return *m_; }
  // The last step's outputs per population (spikes 0/1 or membranes) and what every unit did.
  const TokenObservations& last_observations() const { return observations_; }
  Counts last_work() const;

 private:
  void send(int unit, const UnitEvent& event) override;
  void logit(int64_t index, int64_t value) override;

  std::shared_ptr<const Mapping> m_;
  std::vector<UnitLinks> links_;
  TokenObservations observations_;
  std::vector<int64_t> population_sizes_;
  std::vector<std::unique_ptr<UnitBehavior>> units_;
  std::deque<std::pair<int, UnitEvent>> queue_;
  TokenHost host_;
};

// Adds a step's spikes (observations.population_values) to `spikes`, per spiking population.
void count_population_spikes(const NirProgram& program, const TokenObservations& observations,
                             std::vector<int64_t>& spikes);

// The population sizes of a NIR mapping, for TokenObservations::reset_populations.
std::vector<int64_t> nir_population_sizes(const NirProgram& program);

}  // namespace spiketile
