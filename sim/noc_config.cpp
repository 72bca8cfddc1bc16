#include "sim/noc_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "sim/arbiter.hpp"
#include "sim/packet.hpp"

namespace spiketile::sim {

namespace {

config::ParamSpec param(std::string key, std::string unit, std::string default_value, std::string description) {
  config::ParamSpec spec;
  spec.key = std::move(key);
  spec.type = config::ParamType::integer;
  spec.unit = std::move(unit);
  spec.need = config::Need::defaulted;
  spec.default_value = std::move(default_value);
  spec.description = std::move(description);
  return spec;
}

void require_positive(const char* name, int64_t value) {
  if (value < 1) throw std::invalid_argument(fmt::format("network configuration: {} must be at least 1, got {}", name, value));
}

}  // namespace

void NocConfig::validate() const {
  if (!(clock_frequency_mhz > 0.0))
    throw std::invalid_argument(fmt::format("network configuration: clock_frequency_mhz must be positive, got {}",
                                            clock_frequency_mhz));
  require_positive("router.input_buffer_depth_flits", input_buffer_depth_flits);
  require_positive("router.flit_bits", flit_bits);
  require_positive("router.pipeline_latency_cycles", router_pipeline_latency_cycles);
  require_positive("mesh.link.latency_cycles", mesh_link_latency_cycles);
  require_positive("mesh.link.bandwidth_flits_per_cycle", mesh_link_bandwidth_flits_per_cycle);
  require_positive("system.inter_chip_link.latency_cycles", inter_chip_link_latency_cycles);
  require_positive("inter-chip cycles per flit", inter_chip_cycles_per_flit);
  require_positive("core.axon_input_queue_depth", axon_input_queue_depth);
  require_positive("watchdog_window_cycles", int64_t(watchdog_window_cycles));
  require_positive("router.max_burst_events", max_burst_events);
  if (multicast_branch_buffer_flits < 0 ||
      (multicast_branch_buffer_flits > 0 && multicast_branch_buffer_flits < input_buffer_depth_flits))
    throw std::invalid_argument(fmt::format(
        "network configuration: router.multicast_branch_buffer_flits must be 0 or at least "
        "router.input_buffer_depth_flits = {} (every packet must fit), got {}",
        input_buffer_depth_flits, multicast_branch_buffer_flits));
  if (max_burst_events > 1 && flits_per_packet(packet_format, flit_bits, -1, 1, max_burst_events) > 1)
    throw std::invalid_argument(fmt::format(
        "network configuration: router.max_burst_events = {} adds a burst bit to every event packet, which then needs "
        "{} bits, more than router.flit_bits = {}; widen the flits or set max_burst_events to 1",
        max_burst_events, packet_format.total_bits() + 1, flit_bits));
  make_arbiter(arbitration, kPortCount);  // throws for an unknown policy
}

NocConfig noc_config(const ChipSpec& chip) {
  NocConfig c;
  c.clock_frequency_mhz = chip.clock_frequency_mhz;
  c.input_buffer_depth_flits = chip.router.input_buffer_depth_flits;
  c.flit_bits = chip.router.flit_bits;
  c.arbitration = chip.router.arbitration;
  c.router_pipeline_latency_cycles = chip.router.pipeline_latency_cycles;
  c.mesh_link_latency_cycles = chip.mesh.link.latency_cycles;
  c.mesh_link_bandwidth_flits_per_cycle = chip.mesh.link.bandwidth_flits_per_cycle;
  c.inter_chip_link_latency_cycles = chip.system.inter_chip_link.latency_cycles;
  c.inter_chip_cycles_per_flit = chip.inter_chip_cycles_per_flit();
  c.axon_input_queue_depth = chip.core.axon_input_queue_depth;
  c.max_burst_events = chip.router.max_burst_events;
  c.multicast_branch_buffer_flits = chip.router.multicast_branch_buffer_flits;
  c.packet_format = chip.event_packet_format();
  return c;
}

NocConfig noc_config(const Topology& topology) {
  NocConfig c;
  c.input_buffer_depth_flits = topology.input_buffer_depth_flits();
  c.packet_format = compute_event_packet_format(topology.chip_count(), topology.mesh_rows(), topology.mesh_cols(),
                                                topology.routing_table_entries(), 256, 8);
  c.flit_bits = std::max(c.flit_bits, c.packet_format.total_bits());  // an event is one flit, as the loader demands
  return c;
}

const config::Schema& noc_parameter_schema() {
  static const config::Schema kSchema = [] {
    config::Schema s;
    s.push_back({"noc.router", "One router per core: input buffers per port, routing, arbitration, pipeline.", false,
                 {param("input_buffer_depth_flits", "flits", "4",
                        "router.input_buffer_depth_flits: buffer per input port; a packet moves only when the next "
                        "buffer has room for all its flits (credits)."),
                  param("pipeline_latency_cycles", "cycles", "2",
                        "router.pipeline_latency_cycles: cycles from a packet entering an input buffer to the "
                        "earliest cycle it can cross the switch."),
                  param("flit_bits", "bits", "32", "router.flit_bits: flit width; sets flits per packet."),
                  param("max_burst_events", "events", "1",
                        "router.max_burst_events: values of one flow for consecutive axons a core sends as one packet "
                        "(header, length field, payloads packed); capped so a burst fits an input buffer and the "
                        "axon input queue. Each value still costs the receiving core what a single event does."),
                  param("multicast_branch_buffer_flits", "flits", "0",
                        "router.multicast_branch_buffer_flits: per output port, room for branches of multicast "
                        "packets that lack the output's credits; such a branch moves there, in order, and the "
                        "packet's input slot frees once every branch has left or moved, so a slow destination does "
                        "not hold the packets behind it. A multicast branch for an output whose branch buffer holds "
                        "packets queues behind them; unicast packets compete with the buffer's oldest (the arbiter "
                        "sees the buffer as one more input, after local). 0: none; otherwise at least "
                        "input_buffer_depth_flits."),
                  [] {
                    config::ParamSpec p = param("arbitration", "", "round_robin",
                                                "router.arbitration: which ready input port an output port serves.");
                    p.type = config::ParamType::impl;
                    for (const ArbiterInfo& a : arbiters()) p.choices.push_back({a.name, a.description, {}});
                    return p;
                  }()},
                 {}});
    s.push_back({"noc.mesh_link", "Link between neighbouring routers on a chip, and from a router to its core.", false,
                 {param("latency_cycles", "cycles", "1",
                        "mesh.link.latency_cycles: a flit sent in cycle c arrives at c + latency; credits return "
                        "with the same latency."),
                  param("bandwidth_flits_per_cycle", "flits/cycle", "1",
                        "mesh.link.bandwidth_flits_per_cycle: flits that may start on the link per cycle.")},
                 {}});
    s.push_back({"noc.inter_chip_link", "Link between facing gateways of neighbouring chips.", false,
                 {param("latency_cycles", "cycles", "20",
                        "system.inter_chip_link.latency_cycles: cycles from the last flit of a packet leaving to its "
                        "arrival at the opposite gateway; credits return with the same latency."),
                  param("cycles_per_flit", "cycles", "4",
                        "ceil(router.flit_bits / system.inter_chip_link.bandwidth_bits_per_cycle): serialisation "
                        "of one flit.")},
                 {}});
    s.push_back({"noc.network_interface", "Where a core injects events and receives them.", false,
                 {param("axon_input_queue_depth", "events", "64",
                        "core.axon_input_queue_depth: delivered events a core holds before its router stops "
                        "ejecting to it; a slot frees the cycle after the core takes the event.")},
                 {}});
    s.push_back({"noc.watchdog", "Stops a stalled simulation with a report instead of hanging.", false,
                 {param("window_cycles", "cycles", "100000",
                        "With events in flight or a core registered as waiting, a window without any movement "
                        "stops the simulation with NetworkStalled naming the blocked units.")},
                 {}});
    return s;
  }();
  return kSchema;
}

std::string describe_noc_parameters() { return config::describe_markdown(noc_parameter_schema()); }

std::string describe(const NocConfig& c) {
  return fmt::format(
      "noc.router: input_buffer_depth_flits = {}, pipeline_latency_cycles = {}, flit_bits = {}, arbitration = {}, "
      "max_burst_events = {}, multicast_branch_buffer_flits = {}\n"
      "noc.mesh_link: latency_cycles = {}, bandwidth_flits_per_cycle = {}\n"
      "noc.inter_chip_link: latency_cycles = {}, cycles_per_flit = {}\n"
      "noc.network_interface: axon_input_queue_depth = {}, event packet = {} bits, {} flit(s)\n"
      "noc.watchdog: window_cycles = {}\n"
      "clock: {} MHz\n",
      c.input_buffer_depth_flits, c.router_pipeline_latency_cycles, c.flit_bits, c.arbitration, c.max_burst_events,
      c.multicast_branch_buffer_flits,
      c.mesh_link_latency_cycles, c.mesh_link_bandwidth_flits_per_cycle, c.inter_chip_link_latency_cycles,
      c.inter_chip_cycles_per_flit, c.axon_input_queue_depth, c.packet_format.total_bits(),
      flits_per_packet(c.packet_format, c.flit_bits), c.watchdog_window_cycles, c.clock_frequency_mhz);
}

}  // namespace spiketile::sim
