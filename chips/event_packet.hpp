// How many flits an event packet takes on this chip, and how many values one burst may carry:
// the one place these rules live. The simulator's network sends packets of exactly these sizes
// and the compiler's traffic and latency estimates count them.
//
// docs/chip.md "Event packet": kind, destination (a unicast core address or a multicast routing-
// table index), target axon and payload. With the chip's own payload width (activation_bits) the
// packet is one flit, which the chip loader guarantees; a wider payload (a partial sum) spills into
// further flits. A burst (router.max_burst_events > 1) carries several values of one flow for
// consecutive axons behind one header.
#pragma once

#include "chips/chip_spec.hpp"

namespace spiketile {

// Flits of a packet of `events` values of `payload_bits` each: the header (kind, destination, first
// axon) and the payloads packed back to back into flits of `flit_bits`. payload_bits < 0 means the
// chip's own payload width (format.payload_bits). With bursts enabled (max_burst_events > 1) every
// packet's kind field has one more bit (single or burst) and a burst adds a length field of
// burst_length_bits(max_burst_events); its values go to axons first, first + 1, ...
int flits_per_packet(const EventPacketFormat& format, int flit_bits, int payload_bits = -1, int events = 1,
                     int max_burst_events = 1);
// Bits of a burst's length field: enough for max_burst_events.
int burst_length_bits(int max_burst_events);

// The most values of `payload_bits` one burst may carry: at most router.max_burst_events, and no
// more than fit one router input buffer (a packet must fit whole) and the destination's axon input
// queue (each value takes one slot).
int burst_capacity(const EventPacketFormat& format, int flit_bits, int payload_bits, int max_burst_events,
                   int axon_input_queue_depth, int input_buffer_depth_flits);
int burst_capacity(const ChipSpec& chip, int payload_bits);
// flits_per_packet with the chip's own format, flit width and burst limit.
int flits_per_packet(const ChipSpec& chip, int payload_bits, int events = 1);

}  // namespace spiketile
