// Event packets as the network carries them. Their sizes follow chips/event_packet.hpp, the one
// place the packet rules live (flits per packet, burst length field, burst capacity).
#pragma once

#include <cstdint>

#include "chips/chip_spec.hpp"
#include "chips/event_packet.hpp"
#include "sim/clock.hpp"

namespace spiketile::sim {

enum class PacketKind : uint8_t { unicast = 0, multicast = 1 };

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
  // Position in the simulator's run of the token the event belongs to, for per-token traffic
  // statistics only: no header field (a destination tells tokens apart by the flow's order).
  int32_t token = -1;
};

}  // namespace spiketile::sim
