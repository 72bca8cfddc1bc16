// Event packets as the network carries them.
//
// docs/chip.md "Event packet": kind, destination (a unicast core address or a multicast routing-
// table index, label-swapped at every router), target axon and payload. With the chip's own
// payload width (activation_bits) the packet is one flit, which the chip loader guarantees; a wider
// payload (a 32-bit partial sum) spills into further flits. A burst (router.max_burst_events > 1)
// carries several values of one flow for consecutive axons behind one header. `flits_per_packet`
// is the one place these rules live.
#pragma once

#include <cstdint>

#include "chips/chip_spec.hpp"
#include "sim/clock.hpp"

namespace spiketile::sim {

enum class PacketKind : uint8_t { unicast = 0, multicast = 1 };

// Flits of a packet of `events` values of `payload_bits` each: the header (kind, destination, first
// axon) and the payloads packed back to back into flits of `flit_bits`. payload_bits < 0 means the
// chip's own payload width (format.payload_bits). With bursts enabled (max_burst_events > 1) every
// packet's kind field has one more bit (single or burst) and a burst adds a length field of
// burst_length_bits(max_burst_events); its values go to axons first, first + 1, ...
int flits_per_packet(const EventPacketFormat& format, int flit_bits, int payload_bits = -1, int events = 1,
                     int max_burst_events = 1);
// Bits of a burst's length field: enough for max_burst_events.
int burst_length_bits(int max_burst_events);

struct Packet {
  PacketKind kind = PacketKind::unicast;
  int32_t flow = -1;         // RoutingTables flow id; -1 for a unicast packet outside any flow
  int32_t destination = -1;  // unicast: destination core; multicast: table index at the current router
  int32_t axon = 0;          // target axon in the destination crossbar
  int64_t payload = 0;       // graded value or partial sum; unused by binary spikes. A burst's
                             // values stay with the sender; this is then the sender's handle to them
  uint16_t flits = 1;
  uint16_t events = 1;       // values carried: 1, or a burst's length (each takes an axon-queue slot)
  int32_t source_core = -1;
  Cycle injected_at = 0;     // set by the network interface, for latency statistics
};

}  // namespace spiketile::sim
