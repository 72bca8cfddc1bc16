#include "runtime/core_timing.hpp"

#include <algorithm>

namespace spiketile {

namespace {
uint64_t ceil_div(int64_t a, int64_t b) { return uint64_t((a + b - 1) / b); }
}  // namespace

CoreTiming CoreTiming::from_chip(const ChipSpec& chip) {
  CoreTiming t;
  t.lanes = chip.core.neuron_unit.lanes;
  t.neuron_pipeline_latency = chip.core.neuron_unit.pipeline_latency_cycles;
  t.synapse_read_width_bits = chip.core.synapse_sram.access_width_bits;
  t.state_access_width_bits = chip.core.state_sram.access_width_bits;
  t.synapse_read_latency = chip.core.synapse_sram.latency_cycles;
  t.state_access_latency = chip.core.state_sram.latency_cycles;
  t.sfu_units = std::max(1, chip.core.sfu.units);
  for (int s = 0; s < kSfuCount; ++s) {
    const auto it = chip.core.sfu.ops.find(sfu_name(Sfu(s)));
    if (it == chip.core.sfu.ops.end()) continue;  // the compiler refuses mappings that need a missing op
    t.sfu_latency[std::size_t(s)] = it->second.latency_cycles;
    t.sfu_interval[std::size_t(s)] = it->second.initiation_interval_cycles;
  }
  return t;
}

int64_t CoreTiming::synapse_accesses(const Counts& w) const {
  // One access per read_width bits of a weight row; rows are read whole per event. Every event of
  // a reaction that reads weights reads a row as long (a SpikeGPT spike into the residual reads
  // none; a NIR spike into a crossbar, binary or graded, reads its column like a graded event).
  const int64_t events = w.events_graded + w.events_binary;
  if (events == 0 || w.synapse_read_bits == 0) return 0;
  return events * int64_t(ceil_div(w.synapse_read_bits / events, synapse_read_width_bits));
}

int64_t CoreTiming::state_accesses(int64_t bytes) const { return int64_t(ceil_div(bytes * 8, state_access_width_bits)); }

uint64_t CoreTiming::cycles(const Counts& w) const { return std::max<uint64_t>(cycles_unfloored(w), 1); }

uint64_t CoreTiming::cycles_beside_datapath(const Counts& w, int64_t datapath_neuron_updates) const {
  Counts rest = w;
  rest.events_binary = rest.events_graded = rest.events_bit_serial = 0;
  rest.sop_binary = rest.sop_graded = rest.sop_bit_serial = 0;
  rest.synapse_read_bits = 0;
  rest.neuron_updates = std::max<int64_t>(0, w.neuron_updates - datapath_neuron_updates);
  return cycles_unfloored(rest);
}

uint64_t CoreTiming::cycles_unfloored(const Counts& w) const {
  const int64_t sops = w.sop_graded + w.sop_binary + w.sop_bit_serial;
  const int64_t reads = synapse_accesses(w);
  // Row reads are pipelined: the read latency is paid once per event, then one access per cycle.
  uint64_t c = std::max<uint64_t>(uint64_t(reads), ceil_div(sops, lanes)) + (reads > 0 ? uint64_t(synapse_read_latency) : 0);
  if (w.neuron_updates > 0) c += ceil_div(w.neuron_updates, lanes) + uint64_t(neuron_pipeline_latency);
  for (int s = 0; s < kSfuCount; ++s) {
    const int64_t ops = w.sfu[std::size_t(s)];
    if (ops > 0) c += ceil_div(ops * sfu_interval[std::size_t(s)], sfu_units) + uint64_t(sfu_latency[std::size_t(s)]);
  }
  c += uint64_t(state_accesses(w.state_read_bytes) + state_accesses(w.state_write_bytes)) * uint64_t(state_access_latency);
  return c;
}

}  // namespace spiketile
