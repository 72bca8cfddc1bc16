#include "sim/packet.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace sf::sim {

int flits_per_packet(const EventPacketFormat& format, int flit_bits, int payload_bits) {
  if (flit_bits <= 0) throw std::invalid_argument(fmt::format("router.flit_bits must be positive, got {}", flit_bits));
  const int payload = payload_bits < 0 ? format.payload_bits : payload_bits;
  const int bits = format.kind_bits + format.destination_bits() + format.axon_bits + payload;
  return (bits + flit_bits - 1) / flit_bits;
}

}  // namespace sf::sim
