// Timing and sizing of the simulated network, taken from the chip description.
//
// What each number means in the model (docs/chip.md fixes the fields; where it is silent, the
// choice made here is stated, and sim/README.md repeats it):
//  * A packet enters a router's input buffer (from a link, or from its core's network interface at
//    the cycle of inject) and can leave through the switch `router_pipeline_latency_cycles` later.
//  * Buffers hold whole packets (store-and-forward at packet granularity; single-flit events make
//    this the same as wormhole or cut-through) and are counted in flits. A packet leaves only when
//    the downstream buffer has credits for all its flits.
//  * A link carries `bandwidth` flits per cycle (mesh) or needs `inter_chip_cycles_per_flit` cycles
//    per flit (inter-chip serialisation). A packet that starts in cycle c has left when its last
//    flit has gone, and arrives `latency` cycles after that cycle: c + latency for one flit on a
//    mesh link, c + cycles_per_flit - 1 + latency across chips.
//  * The link from a router to its own core is timed as a mesh link but is not a flit-hop: its
//    energy is router.flit_delivery; the core's axon input queue holds axon_input_queue_depth
//    events, whatever their flits.
//  * Credits travel back over the link they belong to: mesh link latency, inter-chip link latency,
//    and one cycle between a router and its own core (both directions).
#pragma once

#include <cstdint>
#include <string>

#include "chips/chip_spec.hpp"
#include "chips/config_schema.hpp"
#include "compiler/placement.hpp"

namespace spiketile::sim {

struct NocConfig {
  double clock_frequency_mhz = 500.0;
  int input_buffer_depth_flits = 4;
  int flit_bits = 32;
  std::string arbitration = "round_robin";
  int router_pipeline_latency_cycles = 2;
  int mesh_link_latency_cycles = 1;
  int mesh_link_bandwidth_flits_per_cycle = 1;
  int inter_chip_link_latency_cycles = 20;
  int inter_chip_cycles_per_flit = 4;   // ceil(flit_bits / inter_chip_link.bandwidth_bits_per_cycle)
  int axon_input_queue_depth = 64;      // events a core buffers before its router is back-pressured
  int max_burst_events = 1;             // values one packet may carry (router.max_burst_events)
  // Per output port: room for multicast branches that wait for credits while the packet's other
  // branches go on (router.multicast_branch_buffer_flits); 0: a multicast holds its input buffer.
  int multicast_branch_buffer_flits = 0;
  EventPacketFormat packet_format;      // header and payload widths; sets flits per packet
  // Stop with NetworkStalled when events are outstanding and nothing has moved for this long.
  uint64_t watchdog_window_cycles = 100'000;

  // Throws std::invalid_argument naming the first field out of range.
  void validate() const;
};

// Everything from the chip description (packet format for its own crossbar and activation width).
NocConfig noc_config(const ChipSpec& chip);
// Defaults of the chip schema, with the event packet of `topology` (256 axons, 8-bit payload) and
// flits widened to hold it where 32 bits do not (large routing tables), as the chip loader requires.
NocConfig noc_config(const Topology& topology);

// The parameters of the network's components (router, mesh link, inter-chip link, network
// interface, watchdog), described like the chip schema: name, unit, default, meaning.
const config::Schema& noc_parameter_schema();
// Markdown of noc_parameter_schema() and the registered arbiters.
std::string describe_noc_parameters();
// "name = value" lines of a configuration, grouped by component, for reports.
std::string describe(const NocConfig& config);

}  // namespace spiketile::sim
