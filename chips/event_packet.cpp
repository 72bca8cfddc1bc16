#include "chips/event_packet.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace spiketile {

int burst_length_bits(int max_burst_events) {
  int bits = 0;
  while ((1 << bits) <= max_burst_events) ++bits;
  return bits;
}

int flits_per_packet(const EventPacketFormat& format, int flit_bits, int payload_bits, int events, int max_burst_events) {
  if (flit_bits <= 0) throw std::invalid_argument(fmt::format("router.flit_bits must be positive, got {}", flit_bits));
  if (events < 1 || events > std::max(1, max_burst_events))
    throw std::invalid_argument(
        fmt::format("a packet carries 1 to router.max_burst_events = {} values, not {}", max_burst_events, events));
  const int payload = payload_bits < 0 ? format.payload_bits : payload_bits;
  const int length = events > 1 ? burst_length_bits(max_burst_events) : 0;
  const int bits = format.kind_field_bits(max_burst_events) + format.destination_bits() + format.axon_bits + length +
                   events * payload;
  return (bits + flit_bits - 1) / flit_bits;
}

int burst_capacity(const EventPacketFormat& format, int flit_bits, int payload_bits, int max_burst_events,
                   int axon_input_queue_depth, int input_buffer_depth_flits) {
  int events = 1;
  while (events < std::min(max_burst_events, axon_input_queue_depth) &&
         flits_per_packet(format, flit_bits, payload_bits, events + 1, max_burst_events) <= input_buffer_depth_flits)
    ++events;
  return events;
}

int burst_capacity(const ChipSpec& chip, int payload_bits) {
  return burst_capacity(chip.event_packet_format(), chip.router.flit_bits, payload_bits, chip.router.max_burst_events,
                        chip.core.axon_input_queue_depth, chip.router.input_buffer_depth_flits);
}

int flits_per_packet(const ChipSpec& chip, int payload_bits, int events) {
  return flits_per_packet(chip.event_packet_format(), chip.router.flit_bits, payload_bits, events,
                          chip.router.max_burst_events);
}

}  // namespace spiketile
