// Event packets as the network carries them.
//
// docs/chip.md "Event packet": kind, destination (a unicast core address or a multicast routing-
// table index, label-swapped at every router), target axon and payload. With the chip's own
// payload width (activation_bits) the packet is one flit, which the chip loader guarantees; a wider
// payload (a 32-bit partial sum) spills into further flits. `flits_per_packet` is the one place
// that rule lives.
#pragma once

#include <cstdint>

#include "chips/chip_spec.hpp"
#include "sim/clock.hpp"

namespace sf::sim {

enum class PacketKind : uint8_t { unicast = 0, multicast = 1 };

// Flits of a packet with `payload_bits` of payload: the header (kind, destination, axon) and the
// payload packed back to back into flits of `flit_bits`. payload_bits < 0 means the chip's own
// payload width (format.payload_bits).
int flits_per_packet(const EventPacketFormat& format, int flit_bits, int payload_bits = -1);

struct Packet {
  PacketKind kind = PacketKind::unicast;
  int32_t flow = -1;         // RoutingTables flow id; -1 for a unicast packet outside any flow
  int32_t destination = -1;  // unicast: destination core; multicast: table index at the current router
  int32_t axon = 0;          // target axon in the destination crossbar
  int64_t payload = 0;       // graded value or partial sum; unused by binary spikes
  uint16_t flits = 1;
  int32_t source_core = -1;
  Cycle injected_at = 0;     // set by the network interface, for latency statistics
};

}  // namespace sf::sim
