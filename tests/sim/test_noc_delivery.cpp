// Every event reaches exactly the cores the compiler's routing tables name (compiler/routing.hpp
// `deliver` walks the same tables functionally), on the shipped chips and a hand-built grid, under
// heavy simultaneous traffic; link statistics equal the multicast tree sizes times the flits.
#include <gtest/gtest.h>

#include "noc_fixtures.hpp"

namespace spiketile::sim {
namespace {

using test::DeliveryRecorder;

void check_against_tables(Network& network, int events, int payload_bits = -1) {
  test::FlowTraffic traffic(network, events, payload_bits);
  run(network);
  traffic.verify();
}

TEST(NocDelivery, MatchesRoutingTablesOnTheDefaultFourChipSystem) {
  const ChipSpec spec = test::chip("default.yaml");
  const Topology topology(spec);
  const test::Traffic traffic = test::random_traffic(topology, 300, 24, 11);
  Network network("noc", noc_config(spec), test::route(topology, traffic));
  ASSERT_GT(network.tables().inter_chip_flits_per_token, 0.0);  // the traffic does cross chips
  check_against_tables(network, 3);
}

TEST(NocDelivery, MatchesRoutingTablesOnTheTinyChip) {
  const ChipSpec spec = test::chip("tiny.yaml");
  const Topology topology(spec);
  test::Traffic traffic = test::random_traffic(topology, 12, 4, 12);
  traffic.flows.push_back(Flow{0, {0}, 1.0});  // to itself only: in and out of the local port
  Network network("noc", noc_config(spec), test::route(topology, traffic));
  check_against_tables(network, 5);
}

TEST(NocDelivery, MatchesRoutingTablesOnAHandBuiltGridWithWidePayloads) {
  // 2 × 2 chips of 3 × 3 routers, every edge router a gateway, YX order, all flows multicast, and
  // 32-bit payloads (partial sums) that need two flits per packet.
  const Topology topology = test_fixtures::hand_grid(2, 2, 3, 3, 3, DimensionOrder::yx);
  const test::Traffic traffic = test::random_traffic(topology, 120, 10, 13);
  NocConfig config = noc_config(topology);
  ASSERT_EQ(flits_per_packet(config.packet_format, config.flit_bits, 32), 2);
  Network network("noc", config, test::route(topology, traffic, /*unicast_single_destination=*/false));
  check_against_tables(network, 2, /*payload_bits=*/32);
}

TEST(NocDelivery, UnicastPacketsOutsideAnyFlowUseDimensionOrderRouting) {
  const Topology topology = test_fixtures::hand_grid(1, 3, 2, 4, 1, DimensionOrder::xy);
  Network network("noc", noc_config(topology), topology);
  DeliveryRecorder recorder(network);
  int sent = 0;
  for (int from = 0; from < topology.core_count(); ++from)
    for (int to = 0; to < topology.core_count(); ++to) {
      network.interface(from).inject(network.interface(from).unicast_to(to, /*axon=*/from, /*payload=*/to));
      ++sent;
    }
  run(network);
  ASSERT_EQ(int(recorder.all.size()), sent);
  int64_t mesh_links = 0, chip_links = 0;
  for (const auto& [core, delivery] : recorder.all) {
    EXPECT_EQ(core, delivery.packet.payload);
    EXPECT_EQ(delivery.packet.source_core, delivery.packet.axon);
    const HopCount hops = topology.distance(topology.coord(delivery.packet.axon), topology.coord(core));
    mesh_links += hops.mesh;
    chip_links += hops.inter_chip;
  }
  EXPECT_EQ(network.stats().value("noc.flit_hops.mesh"), double(mesh_links));
  EXPECT_EQ(network.stats().value("noc.flit_hops.inter_chip"), double(chip_links));
}

TEST(NocDelivery, RejectsPacketsThatCannotTravel) {
  const Topology topology = test_fixtures::hand_grid(1, 1, 2, 2, 1, DimensionOrder::xy);
  const std::vector<CoreCoord> units{{0, 0, 0}, {0, 1, 1}, {0, 0, 1}};
  const std::vector<Flow> flows{Flow{0, {1, 2}, 1.0}};
  NocConfig config = noc_config(topology);
  config.input_buffer_depth_flits = 1;
  Network network("noc", config, build_routing_tables(topology, units, flows));
  NetworkInterface& source = network.interface(0);
  EXPECT_THROW(network.interface(3).flow_event(0, 0), NocError);  // the flow starts at core 0
  EXPECT_THROW(source.flow_event(1, 0), NocError);                // no such flow
  EXPECT_THROW(source.inject(source.unicast_to(4, 0)), NocError);  // no such core
  try {
    source.inject(source.unicast_to(3, 0, 0, /*payload_bits=*/32));  // two flits, one-flit buffers
    FAIL() << "a packet larger than a buffer was accepted";
  } catch (const NocError& e) {
    EXPECT_NE(std::string(e.what()).find("router.input_buffer_depth_flits"), std::string::npos) << e.what();
  }
  Packet forged = source.flow_event(0, 0);
  forged.destination = 7;  // a table index the router does not have
  EXPECT_THROW(source.inject(forged), NocError);
}

}  // namespace
}  // namespace spiketile::sim
