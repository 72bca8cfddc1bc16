// Cycles a core spends on what its unit did, from the chip description: the one timing rule of a
// core. The simulator's cores charge it for every event they take (docs: sim/README.md, "Core
// timing"); the compiler's latency estimate (runtime/latency_estimate.hpp) charges the same.
#pragma once

#include <array>
#include <cstdint>

#include "chips/chip_spec.hpp"
#include "models/event_counts.hpp"

namespace spiketile {

struct CoreTiming {
  int lanes = 16;                       // core.neuron_unit.lanes
  int neuron_pipeline_latency = 3;      // core.neuron_unit.pipeline_latency_cycles
  int synapse_read_width_bits = 64;     // core.synapse_sram.access_width_bits
  int state_access_width_bits = 64;     // core.state_sram.access_width_bits
  int synapse_read_latency = 1;         // core.synapse_sram.read_latency_cycles
  int state_access_latency = 1;         // core.state_sram.access_latency_cycles (per access)
  int sfu_units = 1;                    // core.sfu.units
  std::array<int, kSfuCount> sfu_latency{}, sfu_interval{};  // core.sfu.ops.<op>

  static CoreTiming from_chip(const ChipSpec& chip);
  // Cycles for one taken event (or host input) whose processing did `work` (the unit's Counts delta):
  // weight-row reads and accumulation overlap; the neuron unit and the SFUs follow; state SRAM
  // accesses are sequential. At least one cycle: taking an event from the axon queue takes one.
  uint64_t cycles(const Counts& work) const;
  // A core whose datapath (synaptic ops, the readout or LIF tick) an engine with its own clock ran
  // (the RTL): the cycles of the rest of `work` — SFUs, state SRAM, and the neuron-unit updates
  // beyond the `datapath_neuron_updates` the engine did. The caller adds the engine's cycles.
  uint64_t cycles_beside_datapath(const Counts& work, int64_t datapath_neuron_updates) const;
  // Synapse SRAM accesses a unit's weight-row reads take.
  int64_t synapse_accesses(const Counts& work) const;
  int64_t state_accesses(int64_t bytes) const;

 private:
  uint64_t cycles_unfloored(const Counts& work) const;
};

}  // namespace spiketile
