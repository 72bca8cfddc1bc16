// Untimed reference of the RTL neuron core (rtl/neuron_core.sv): the same synaptic operations,
// requantization and neuron update (the general neuron, SpikeGPT's LIF unless the neuron parameter
// table was written), each computed by the project's one implementation in models/numerics.hpp. The Verilator bench compares the RTL against this class at every tick.
#pragma once

#include <cstdint>
#include <vector>

#include "models/numerics.hpp"

namespace spiketile::rtl {

// Widths of one core; the RTL's parameters of the same names.
struct CoreShape {
  int axons = 256;
  int neurons = 256;
  int weight_bits = 8;        // W_W, signed
  int activation_bits = 8;    // ACT_W, graded payload
  int accumulator_bits = 32;  // ACC_W
  int membrane_bits = 16;     // MEM_W, Q.8: input current, membrane, synaptic current
};

// A core's widths plus its neuron-unit lanes: one verilated configuration's timing.
struct CoreGeometry {
  CoreShape shape;
  int lanes = 16;   // a command (event or tick) takes neurons / lanes cycles
  int groups() const { return shape.neurons / lanes; }
};

// The encodings of docs/numerics.md §3; the values are the RTL's cmd_kind codes.
enum class EventKind : uint8_t { kBinary = 0, kGradedSigned = 1, kGradedUnsigned = 2, kBitSerial = 3 };

// With cmd_tick, cmd_kind selects the neuron function the tick applies: the neuron update (each
// neuron's configuration of q::neuron_step_int) or the raw readout.
enum class TickFunction : uint8_t { kNeuron = 0, kReadout = 1 };

struct AxonEvent {
  int axon = 0;
  EventKind kind = EventKind::kBinary;
  int32_t value = 0;      // graded: x (signed or unsigned by kind); bit-serial: the bit position
  bool negative = false;  // bit-serial only
};

// The synaptic multiplier an event applies to every weight of its row (1 for a binary spike).
int64_t event_factor(const AxonEvent& e);

class CoreReference {
 public:
  explicit CoreReference(const CoreShape& shape);

  const CoreShape& shape() const { return shape_; }
  void set_weight(int axon, int neuron, int32_t w);
  int32_t weight(int axon, int neuron) const { return weights_[std::size_t(axon) * shape_.neurons + neuron]; }
  void set_multiplier(int neuron, const q::Multiplier& m) { multipliers_[neuron] = m; }
  const q::Multiplier& multiplier(int neuron) const { return multipliers_[neuron]; }
  // The neuron parameter table: configuration, so reset() keeps it; reset_neuron_params() puts
  // every neuron back to SpikeGPT's LIF (the RTL's par_rst_n).
  void set_neuron_params(int neuron, const q::NeuronParams& p) { params_[neuron] = p; }
  const q::NeuronParams& neuron_params(int neuron) const { return params_[neuron]; }
  void reset_neuron_params();

  // One event: one SOP per neuron of the row, acc = sat_ACC(acc + w * factor).
  void apply(const AxonEvent& e);
  // The token tick: per neuron x = requantize(acc, m, MEM_W), q::neuron_step_int, acc = 0.
  // Fills spikes (0/1) and the post-update membranes; returns the number of spikes.
  int tick(std::vector<uint8_t>& spikes, std::vector<int32_t>& membranes);
  // A partial sum from another crossbar: acc = sat_ACC(acc + value) for one neuron.
  void add_partial_sum(int neuron, int64_t value);
  // The readout tick (neuron function "identity"): every accumulator out, then 0; the neuron
  // state stays and the membranes are reported as they are.
  void readout(std::vector<int64_t>& accumulators, std::vector<int32_t>& membranes);
  // Synchronous reset: membranes, synaptic currents and accumulators to 0 (weights, multipliers
  // and neuron parameters stay).
  void reset();

  int64_t accumulator(int neuron) const { return acc_[neuron]; }
  int32_t membrane(int neuron) const { return state_[neuron].v; }
  const q::NeuronState& neuron_state(int neuron) const { return state_[neuron]; }
  int32_t current(int neuron) const;   // what the next tick would feed this neuron

 private:
  CoreShape shape_;
  std::vector<int32_t> weights_;            // [axon][neuron]
  std::vector<q::Multiplier> multipliers_;
  std::vector<q::NeuronParams> params_;
  std::vector<int64_t> acc_;
  std::vector<q::NeuronState> state_;
};

}  // namespace spiketile::rtl
