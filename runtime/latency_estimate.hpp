// What a token of a compiled mapping costs in time and traffic, estimated at compile time by
// replaying profile tokens through the mapping's units (the same UnitBehavior code the executor
// and the simulator run) with the chip's timing:
//
// * a core takes its inputs one at a time in arrival order and is busy for CoreTiming's cycles of
//   each reaction (runtime/core_timing.hpp, the simulator's own rule);
// * what a reaction sends leaves when it ends, as the simulator packs it: runs of consecutive
//   indices of one flow in bursts of at most the flow's burst capacity, end-of-stream markers
//   alone (chips/event_packet.hpp);
// * a packet takes the network's contention-free latency along its route (router pipeline per
//   router, link serialization and latency per link: sim/README.md, "Timing model"), and queues
//   only for its own core's injection port and its destination's ejection link.
//
// Nothing waits for another flow's packets, a full buffer or a full axon queue, so the replay's
// cycles per token are what the mapping would take on a network without contention: the latency
// bound the simulator's measured cycles are compared with.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "compiler/lowering.hpp"
#include "compiler/mapping.hpp"

namespace spiketile {

// Cycles from a packet's injection at its source core to its arrival in the destination core's
// axon queue when it meets no other packet on the way: the network's timing model (sim/README.md).
uint64_t contention_free_packet_cycles(const ChipSpec& chip, const HopCount& hops, int flits);

// A token the estimate replays, with its embedding row (Q.12, n_embd values).
struct ProfileToken {
  int id = 0;
  std::vector<int32_t> embedding_row;
};
using EmbeddingRowSource = std::function<std::vector<int32_t>(int token)>;

struct ProfileOptions {
  int tokens = 16;       // replayed tokens
  int first_token = 0;   // the profile starts with this id and continues with what the model itself
  uint64_t seed = 0;     // samples (temperature 1, top-p 1, this seed): text of the model's own kind
};

// The replayed tokens and the traffic of every flow over them, for an unplaced mapping (the flows'
// flits do not depend on placement): flits per token, bursts and end-of-stream markers included.
struct FlowProfile {
  std::vector<ProfileToken> tokens;
  std::vector<double> flits_per_token;  // per flow
};
FlowProfile profile_flows(const Mapping& mapping, const ProfileOptions& options, const EmbeddingRowSource& rows);

// What the replayed tokens did, summed over them: the counts the simulator would record (every
// reaction's work) and the LIF updates among their neuron updates. The energy of a compile
// objective prices these (runtime/compile_objective.hpp).
struct EstimatedWork {
  Counts counts;
  double lif_updates = 0;
  // SRAM accesses as the simulator's cores count them (CoreTiming: whole accesses per event).
  double synapse_accesses = 0, state_reads = 0, state_writes = 0;
  int tokens = 0;
};

// The estimate of a placed mapping over `tokens` (from the zero state): the latency bound, the
// traffic the simulator would count, per-unit busy cycles, when each tensor's stage sends, and
// the critical path of the last token; with `work`, also what the tokens did.
LatencyEstimate estimate_latency(const Mapping& mapping, const std::vector<ProfileToken>& tokens,
                                 EstimatedWork* work = nullptr);

// What `spiketile compile` runs: lower the model; replay the profile to weigh every flow by the
// flits it really sends (bursts and markers included) instead of the lowering's density
// assumptions; place and route on those weights; estimate the placed mapping's latency.
// options.tokens == 0 skips the profile: the lowering's weights, no estimate.
Mapping compile_profiled(QuantizedSpikeGpt&& model, const ChipSpec& chip, const std::string& chip_yaml,
                         const CompileOptions& compile, const ProfileOptions& profile, const EmbeddingRowSource& rows,
                         EstimatedWork* work = nullptr);

}  // namespace spiketile
