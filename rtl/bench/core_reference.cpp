#include "rtl/bench/core_reference.hpp"

#include <algorithm>
#include <stdexcept>

namespace spiketile::rtl {

int64_t event_factor(const AxonEvent& e) {
  switch (e.kind) {
    case EventKind::kBinary: return 1;
    case EventKind::kGradedSigned:
    case EventKind::kGradedUnsigned: return e.value;
    case EventKind::kBitSerial: {
      const int64_t f = int64_t(1) << e.value;
      return e.negative ? -f : f;
    }
  }
  return 0;
}

CoreReference::CoreReference(const CoreShape& shape)
    : shape_(shape),
      weights_(std::size_t(shape.axons) * shape.neurons, 0),
      multipliers_(shape.neurons),
      params_(shape.neurons, q::NeuronParams::spikegpt_lif()),
      acc_(shape.neurons, 0),
      state_(shape.neurons) {
  if (shape.membrane_bits < 10) throw std::invalid_argument("membrane_bits must hold the threshold 256");
}

void CoreReference::set_weight(int axon, int neuron, int32_t w) {
  weights_[std::size_t(axon) * shape_.neurons + neuron] = int32_t(q::saturate(w, shape_.weight_bits));
}

void CoreReference::apply(const AxonEvent& e) {
  const int64_t f = event_factor(e);
  const int32_t* row = &weights_[std::size_t(e.axon) * shape_.neurons];
  for (int n = 0; n < shape_.neurons; ++n) acc_[n] = q::saturate(acc_[n] + row[n] * f, shape_.accumulator_bits);
}

int32_t CoreReference::current(int neuron) const {
  return int32_t(q::requantize(acc_[neuron], multipliers_[neuron], shape_.membrane_bits));
}

int CoreReference::tick(std::vector<uint8_t>& spikes, std::vector<int32_t>& membranes) {
  spikes.resize(shape_.neurons);
  membranes.resize(shape_.neurons);
  int count = 0;
  for (int n = 0; n < shape_.neurons; ++n) {
    const bool s = q::neuron_step_int(params_[n], state_[n], current(n), shape_.membrane_bits);
    acc_[n] = 0;
    spikes[n] = s;
    membranes[n] = state_[n].v;
    count += s;
  }
  return count;
}

void CoreReference::add_partial_sum(int neuron, int64_t value) {
  acc_[neuron] = q::saturate(acc_[neuron] + value, shape_.accumulator_bits);
}

void CoreReference::readout(std::vector<int64_t>& accumulators, std::vector<int32_t>& membranes) {
  accumulators = acc_;
  membranes.resize(shape_.neurons);
  for (int n = 0; n < shape_.neurons; ++n) membranes[n] = state_[n].v;
  std::fill(acc_.begin(), acc_.end(), 0);
}

void CoreReference::reset() {
  std::fill(acc_.begin(), acc_.end(), 0);
  std::fill(state_.begin(), state_.end(), q::NeuronState{});
}

void CoreReference::reset_neuron_params() {
  std::fill(params_.begin(), params_.end(), q::NeuronParams::spikegpt_lif());
}

}  // namespace spiketile::rtl
