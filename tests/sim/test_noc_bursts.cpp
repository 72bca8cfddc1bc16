// Bursts (router.max_burst_events): several values of one flow behind one header. Flits, capacity,
// timing and axon-queue slots against hand-computed figures.
#include <gtest/gtest.h>

#include "noc_fixtures.hpp"

namespace spiketile::sim {
namespace {

using test::contains;

// The event packet of chips/large.yaml: 1 kind + 12 destination + 8 axon + 8 payload = 29 bits.
EventPacketFormat large_format() {
  EventPacketFormat f;
  f.kind_bits = 1;
  f.route_id_bits = 12;
  f.axon_bits = 8;
  f.payload_bits = 8;
  return f;
}

// A 1 × 4 mesh with the format above, 32-bit flits, 4-flit buffers, default timings (P = 2, L = 1, B = 1).
NocConfig line_config(int max_burst_events) {
  NocConfig c = noc_config(test_fixtures::hand_grid(1, 1, 1, 4, 1, DimensionOrder::xy));
  c.packet_format = large_format();
  c.flit_bits = 32;
  c.input_buffer_depth_flits = 4;
  c.max_burst_events = max_burst_events;
  return c;
}

TEST(NocBurst, FlitsAreOneHeaderALengthAndThePackedPayloads) {
  const EventPacketFormat f = large_format();
  // Up to 16 values: a 5-bit length field; every packet gets a burst bit: header 1 + 1 + 12 + 8 = 22.
  EXPECT_EQ(burst_length_bits(16), 5);
  EXPECT_EQ(burst_length_bits(15), 4);
  EXPECT_EQ(flits_per_packet(f, 32), 1);                  // no bursts: 29 bits
  EXPECT_EQ(flits_per_packet(f, 32, -1, 1, 16), 1);       // single event: 30 bits
  EXPECT_EQ(flits_per_packet(f, 32, -1, 2, 16), 2);       // 22 + 5 + 2 × 8 = 43 bits
  EXPECT_EQ(flits_per_packet(f, 32, -1, 12, 16), 4);      // 27 + 96 = 123 bits
  EXPECT_EQ(flits_per_packet(f, 32, -1, 13, 16), 5);      // 27 + 104 = 131 bits
  EXPECT_EQ(flits_per_packet(f, 32, 32, 3, 16), 4);       // three 32-bit partial sums: 27 + 96
  EXPECT_EQ(flits_per_packet(f, 32, 0, 16, 16), 1);       // sixteen spikes: header and length, 27 bits
  EXPECT_THROW(flits_per_packet(f, 32, -1, 17, 16), std::invalid_argument);
  EXPECT_THROW(flits_per_packet(f, 32, -1, 2, 1), std::invalid_argument);
}

TEST(NocBurst, CapacityIsCappedByTheBufferAndTheAxonQueue) {
  NocConfig config = line_config(16);
  config.axon_input_queue_depth = 10;
  Network network("noc", config, test_fixtures::hand_grid(1, 1, 1, 4, 1, DimensionOrder::xy));
  EXPECT_EQ(network.burst_capacity(8), 10);   // 12 would fit 4 flits; the queue holds 10
  EXPECT_EQ(network.burst_capacity(32), 3);   // a fourth partial sum needs 155 bits: 5 flits
  EXPECT_EQ(network.burst_capacity(0), 10);
  NetworkInterface& ni = network.interface(0);
  Packet p = ni.unicast_to(3, 0, 0, 0);
  p.events = 11;
  try {
    ni.inject(p);
    FAIL() << "a burst longer than the axon queue was accepted";
  } catch (const NocError& e) {
    EXPECT_TRUE(contains(e.what(), "burst of 11 values")) << e.what();
    EXPECT_TRUE(contains(e.what(), "core.axon_input_queue_depth")) << e.what();
  }
}

TEST(NocBurst, ABurstTravelsAsOneMultiFlitPacketAndFillsOneQueueSlotPerValue) {
  const NocConfig config = line_config(16);
  const Topology topology = test_fixtures::hand_grid(1, 1, 1, 4, 1, DimensionOrder::xy);
  Network network("noc", config, topology);
  NetworkInterface& source = network.interface(0);
  // 12 values for axons 5..16: 4 flits. 4 routers (P = 2 each) and 4 links, the last into the core,
  // each occupied 4 cycles (1 flit per cycle) and 1 cycle of latency after the last flit:
  // 4 × 2 + 4 × (4 − 1 + 1) = 24 cycles.
  Packet burst = source.unicast_to(3, 5, /*payload=*/77, 8);
  burst.events = 12;
  burst.flits = uint16_t(network.packet_flits(8, 12));
  ASSERT_EQ(burst.flits, 4);
  source.inject(burst);
  // A single event injected in the same cycle waits in the backlog for the burst's 4 credits
  // (back at 3, one cycle after the burst left the local buffer at 2), then at every router for
  // the credits the burst returns when it leaves the next one (+1 cycle): it leaves router 0 at 9,
  // router 1 at 15, router 2 at 21, is ready at router 3 at 24, when the burst's 4 flits (20..23)
  // have left the link into the core, and arrives at 25.
  source.inject(source.unicast_to(3, 20, 1, 8));
  run(network);
  NetworkInterface& sink = network.interface(3);
  ASSERT_EQ(sink.deliveries_waiting(), 2u);
  const Delivery first = sink.receive();
  EXPECT_EQ(first.packet.events, 12);
  EXPECT_EQ(first.packet.axon, 5);
  EXPECT_EQ(first.packet.payload, 77);
  EXPECT_EQ(first.arrival, 24u);
  const Delivery second = sink.receive();
  EXPECT_EQ(second.packet.events, 1);
  EXPECT_EQ(second.arrival, 25u);
  EXPECT_EQ(network.stats().value("noc.flit_hops.mesh"), 3.0 * 4 + 3.0 * 1);
  EXPECT_EQ(network.stats().value("noc.flits_delivered"), 5.0);
  EXPECT_EQ(network.stats().value("noc.packets_delivered"), 2.0);
}

TEST(NocBurst, AnAxonQueueWithoutRoomForEveryValueHoldsTheBurstBack) {
  // Queue of 12 events: a 12-value burst fills it; the next burst can only be ejected once the
  // core took the first (its 12 slots return one cycle later).
  NocConfig config = line_config(16);
  config.axon_input_queue_depth = 12;
  Network network("noc", config, test_fixtures::hand_grid(1, 1, 1, 2, 1, DimensionOrder::xy));
  NetworkInterface& source = network.interface(0);
  for (int k = 0; k < 2; ++k) {
    Packet burst = source.unicast_to(1, 0, k, 8);
    burst.events = 12;
    burst.flits = uint16_t(network.packet_flits(8, 12));
    source.inject(burst);
  }
  EXPECT_THROW(run(network, 200), NocError);  // the second burst is stuck behind the full queue
  NetworkInterface& sink = network.interface(1);
  ASSERT_EQ(sink.deliveries_waiting(), 1u);
  EXPECT_EQ(sink.receive().packet.payload, 0);
  run(network);
  ASSERT_EQ(sink.deliveries_waiting(), 1u);
  EXPECT_EQ(sink.receive().packet.payload, 1);
}

TEST(NocBurst, ABurstBitThatNoLongerFitsOneFlitIsRefusedByName) {
  NocConfig config = line_config(16);
  config.flit_bits = 29;  // the 29-bit event fits exactly; with the burst bit it would not
  try {
    config.validate();
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "router.max_burst_events = 16")) << e.what();
    EXPECT_TRUE(contains(e.what(), "30 bits, more than router.flit_bits = 29")) << e.what();
  }
  config.max_burst_events = 1;
  EXPECT_NO_THROW(config.validate());
}

}  // namespace
}  // namespace spiketile::sim
