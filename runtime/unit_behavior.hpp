// What one core does during a token step, from its unit in the mapping alone: it reacts to the
// events its incoming flows deliver and sends events on its outgoing flows. The mapping executor
// delivers events through a queue with no timing; the SystemC simulator delivers the same events
// through the network-on-chip and charges cycles. Both run this code, so they compute the same bits.
//
// Protocol per token: every flow carries zero or more value events (zeros are never sent) and
// ends with one end-of-stream marker, except the LayerNorm statistic flows, which carry exactly one
// value per stage. A unit acts once every flow it waits on for a stage has ended.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compiler/mapping.hpp"
#include "models/op_rules.hpp"
#include "models/token_counting.hpp"
#include "models/token_model.hpp"
#include "runtime/accumulator_engine.hpp"

namespace spiketile {

struct UnitEvent {
  int flow = 0;
  int64_t index = 0;   // index in the flow's tensor (not local to the destination)
  int64_t value = 0;
  bool end_of_stream = false;
};

// Whether `e` extends a run of values of `flow` whose next index is `next_index`. What one
// reaction sends on one flow for consecutive indices is one run, which leaves as bursts
// (router.max_burst_events); end-of-stream markers never join a run. The simulator and the
// compiler's latency estimate pack a reaction's events by this rule.
inline bool extends_run(int flow, bool end_of_stream, int64_t next_index, const UnitEvent& e) {
  return e.flow == flow && !end_of_stream && !e.end_of_stream && e.index == next_index;
}

// Where a unit's output goes; the executor and the simulator implement it.
class UnitOutbox {
 public:
  virtual ~UnitOutbox() = default;
  virtual void send(int unit, const UnitEvent& event) = 0;  // `unit` is the sender
  // A value for the host: a logit accumulator of the head, or (NIR) an output element's integer.
  virtual void logit(int64_t vocab_index, int64_t accumulator) = 0;
};

// The flows a unit sends on and waits for, precomputed from the mapping.
struct UnitLinks {
  struct Out {
    FlowRole role;
    int64_t begin, end;
    int flow;
  };
  std::vector<Out> outputs;                   // sorted by role, then begin
  std::array<int, 8> inputs_per_role{};       // incoming flows that end with a marker, by FlowRole
  int incoming_att_spike_flows = 0;           // residual: spike flows from att.output reducers
};
std::vector<UnitLinks> link_units(const Mapping& mapping);

class UnitBehavior {
 public:
  virtual ~UnitBehavior() = default;
  virtual void start_token(UnitOutbox& out) = 0;
  virtual void receive(const UnitEvent& e, UnitOutbox& out) = 0;
  // Token finished for this unit; if not, what it is still waiting for.
  virtual bool finished() const = 0;
  virtual std::string waiting_for() const = 0;
  virtual void reset_state() = 0;  // back to the zero recurrent state
  // Residual slices of layer 0 receive the embedding row of their channels from the host; every
  // NIR unit starts its step here, with the quantized graph input (runtime/nir_units.hpp).
  virtual void host_input(const int32_t* embedding_row, UnitOutbox& out) {}
  // What this unit did since start_token, in the fields of Counts (docs/numerics.md §5): synaptic
  // ops by encoding, weight rows read (synapse_read_bits), neuron-unit updates, SFU ops by kind,
  // state bytes; plus the packets it sent. The simulator times cores and prices them from this.
  const Counts& work() const { return work_; }
  // What the reactions since the last call counted, into `delta`; false (and `delta` untouched)
  // when they counted nothing, which is most reactions: a simulator times every reaction by it.
  bool take_reaction_work(Counts& delta) { return counting_ && take_counted(delta); }
  int64_t events_out() const { return events_out_; }
  // Neuron-unit updates that were LIF updates (the rest are other element-wise functions).
  int64_t lif_updates() const { return lif_updates_; }
  // A crossbar unit's accumulation engine (runtime/accumulator_engine.hpp); nullptr for other units.
  virtual AccumulatorEngine* engine() { return nullptr; }
  // The rows' spikes and integer membranes (docs/numerics.md §4.8) after the unit's last neuron
  // update, and how many updates it has made, for a waveform trace; rows 0 for a unit without
  // spiking neurons.
  struct NeuronView {
    const uint8_t* spikes = nullptr;
    const int32_t* membranes = nullptr;
    int64_t rows = 0;
    int64_t updates = 0;  // grows with every update (a count of neuron updates)
  };
  virtual NeuronView neurons() const { return {}; }
  // Where the unit records the spikes and crossbar inputs of the token it works on. A level that
  // keeps several tokens in flight (the simulator's pipelined prefill) points each unit at its
  // token's record when the unit starts that token.
  void observe_into(TokenObservations& observations) { observations_ = &observations; }

 protected:
  // Every count goes through counted(), so a reaction that counts nothing is known as such without
  // comparing snapshots of the counts.
  Counts& counted() {
    if (!counting_) {
      counted_from_ = work_;
      counting_ = true;
    }
    return work_;
  }
  void reset_work() {
    work_ = {};
    counting_ = false;
  }
  int64_t events_out_ = 0, lif_updates_ = 0;
  TokenObservations& observations() { return *observations_; }

 private:
  TokenObservations* observations_ = nullptr;
  bool take_counted(Counts& delta);
  Counts work_, counted_from_;
  bool counting_ = false;
};

// The host's side of a token on every level that runs a mapping's units: the embedding row it
// writes into the layer-0 residual slices, and the logit accumulators it reads back from the head.
// For a NIR mapping, a time step: the quantized graph input it hands every unit as the step
// starts, and the output population's (or readout's) integers it reads back.
class TokenHost {
 public:
  explicit TokenHost(const Mapping& mapping);
  const int32_t* embedding_row(int token) const;
  bool takes_embedding(int unit) const;  // a layer-0 residual slice
  void start_token();                    // forget the last token's logits
  void logit(int64_t vocab_index, int64_t accumulator);
  // The scaled logits; throws naming a vocabulary entry no head tile wrote.
  const std::vector<float>& logits();
  const std::vector<int64_t>& accumulators() const { return accumulators_; }
  // NIR: the step's output integers; throws naming an output element no tile wrote.
  const std::vector<int64_t>& outputs() const;

 private:
  const Mapping& m_;
  std::vector<int64_t> accumulators_;
  std::vector<char> written_;
  std::vector<float> logits_;
};

// Values a LayerNorm statistic flow carries per token: two per LayerNorm of its layer (ln0 in
// layer 0, ln1, ln2, ln_out in the last; docs/numerics.md §4.2); 0 for every other flow, which
// ends each token with a marker. With tokens overlapping, a destination tells them apart by these
// counts and the markers (a flow's events arrive in the order they were sent).
int statistics_per_token(const Mapping& mapping, const MappedFlow& flow);

// The unit that sent `event` must be its flow's source; returns the flow.
const MappedFlow& flow_sent_by(const Mapping& mapping, int unit, const UnitEvent& event);

// One line per unit that has not finished its token — "\n  <where(unit)> (<name>) waits for …" —
// or "" when all have.
std::string unfinished_units(const Mapping& mapping, const std::vector<std::unique_ptr<UnitBehavior>>& units,
                             const std::function<std::string(int)>& where);

// Builds the behaviour of unit `id`. `observations` is shared by all units of one model.
// A crossbar unit accumulates with make_engine's engine (empty: the C++ engine).
std::unique_ptr<UnitBehavior> make_unit_behavior(const Mapping& mapping, int id, const UnitLinks& links,
                                                 TokenObservations& observations,
                                                 const AccumulatorEngineFactory& make_engine = {});

}  // namespace spiketile
