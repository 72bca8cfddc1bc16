// The watchdog turns a stalled network or a unit waiting forever into an error that names what is
// stuck; no configuration makes the simulation hang.
#include <gtest/gtest.h>

#include "noc_fixtures.hpp"

namespace spiketile::sim {
namespace {

using test::contains;

TEST(NocWatchdog, ReportsACoreThatNeverTakesItsEvents) {
  // Core 3 of a 1 × 4 mesh never takes its events; its queue holds 2, the buffers 1 flit each.
  const Topology topology = test_fixtures::hand_grid(1, 1, 1, 4, 1, DimensionOrder::xy);
  NocConfig config = noc_config(topology);
  config.axon_input_queue_depth = 2;
  config.input_buffer_depth_flits = 1;
  config.watchdog_window_cycles = 500;
  Network network("noc", config, topology);
  for (int k = 0; k < 20; ++k) network.interface(0).inject(network.interface(0).unicast_to(3, k));
  {
    const std::string report = test::stall_report_of(network, 1'000'000);
    EXPECT_TRUE(contains(report, "stalled")) << report;
    EXPECT_TRUE(contains(report, "core 3's axon input queue is full (2 events)")) << report;
    // The chain of blocked routers back to the source, each with its buffer and what it waits for.
    EXPECT_TRUE(contains(report, "router 3 (chip 0 (row 0, col 3)) input W: 1/1 flits buffered")) << report;
    EXPECT_TRUE(contains(report, "waits for output local (0 credits")) << report;
    EXPECT_TRUE(contains(report, "router 2 (chip 0 (row 0, col 2)) input W: 1/1 flits buffered")) << report;
    EXPECT_TRUE(contains(report, "waits for output E (0 credits, router 3 input W)")) << report;
    EXPECT_TRUE(contains(report, "packets wait at core 0's network interface")) << report;
    EXPECT_TRUE(contains(report, "no cyclic wait among router buffers")) << report;
  }
  EXPECT_EQ(network.interface(3).deliveries_waiting(), 2u);
  // Stopped within two windows of the last movement, far before the run limit.
  EXPECT_LT(network.clock().now(), 3 * config.watchdog_window_cycles);
  EXPECT_EQ(network.stats().value("noc.packets_delivered"), 2.0);
  EXPECT_GT(network.stats().value("noc.router[2].out.E.blocked_cycles"), 400.0);
}

TEST(NocWatchdog, NamesAUnitWaitingForEventsThatNeverCome) {
  const Topology topology = test_fixtures::hand_grid(1, 1, 2, 2, 1, DimensionOrder::xy);
  NocConfig config = noc_config(topology);
  config.watchdog_window_cycles = 300;
  Network network("noc", config, topology);
  const int satisfied = network.begin_wait("core 1", "its weights");
  network.begin_wait("core 2", "4 more events of token 0");
  network.end_wait(satisfied);
  EXPECT_THROW(network.end_wait(satisfied), NocError);
  {
    const std::string report = test::stall_report_of(network);
    EXPECT_TRUE(contains(report, "core 2 waits for 4 more events of token 0 (since cycle 0)")) << report;
    EXPECT_FALSE(contains(report, "core 1")) << report;
    EXPECT_TRUE(contains(report, "no router holds a packet")) << report;
  }
  // end_wait at cycle 0 counts as progress, so the first window passes and the second reports.
  EXPECT_EQ(network.clock().now(), Cycle(2 * config.watchdog_window_cycles));
}

TEST(NocWatchdog, ReportsTheCyclicWaitOfADeadlockOnAChipGrid) {
  // On a 2D grid of chips the compiler's routes turn from one axis to the other and back (toward
  // a gateway, across, then dimension order on the next chip), so their channel dependencies have
  // cycles: heavy multicast with one-flit buffers deadlocks. The report names the cycle. (Should
  // the routing become deadlock-free, this test must instead expect completion.)
  const Topology topology = test_fixtures::hand_grid(2, 2, 4, 4, 1, DimensionOrder::xy);
  const test::Traffic traffic = test::random_traffic(topology, 2 * topology.core_count(), 16, 11);
  const RoutingTables tables = test::route(topology, traffic, false);
  EXPECT_FALSE(channel_dependency_cycle(tables).empty()) << "the compiler's analysis must have seen it coming";
  Network network("noc", test::starved_config(topology, 2000), tables);
  test::FlowTraffic flows(network, 10);
  const std::string report = test::stall_report_of(network, 10'000'000);
  EXPECT_TRUE(contains(report, "deadlock: cyclic wait of")) << report;
  const NocConfig& config = network.config();
  const std::vector<WaitingBuffer> cycle = network.wait_cycle();
  ASSERT_GE(cycle.size(), 2u);
  for (std::size_t k = 0; k < cycle.size(); ++k) {
    const auto [router, port, branch] = cycle[k];
    EXPECT_FALSE(branch) << "this network has no branch buffers";
    const int next = cycle[(k + 1) % cycle.size()].router;
    EXPECT_EQ(network.router(router).occupancy_flits(port), uint64_t(config.input_buffer_depth_flits)) << "router " << router;
    EXPECT_NE(port, Port::local);
    EXPECT_EQ(topology.neighbor(router, Port(0)) == next || topology.neighbor(router, Port(1)) == next ||
                  topology.neighbor(router, Port(2)) == next || topology.neighbor(router, Port(3)) == next,
              true)
        << "router " << router << " and " << next << " are not linked";
  }
  EXPECT_LT(network.clock().now(), Cycle(10'000'000));
}

TEST(NocWatchdog, DepthOneBuffersAcrossAChainOfChipsCompleteOrReportNeverHang) {
  // A chain has one chip-level axis; heavy multicast with one-flit buffers has completed in every
  // configuration tried, but no proof rules a deadlock out. Either outcome is acceptable; hanging
  // or a wrong delivery is not.
  const Topology topology = test_fixtures::hand_grid(1, 3, 3, 3, 1, DimensionOrder::xy);
  const test::Traffic traffic = test::random_traffic(topology, 60, 12, 31);
  Network network("noc", test::starved_config(topology, 1000), test::route(topology, traffic, false));
  test::FlowTraffic flows(network, 20);
  try {
    run(network, 10'000'000);
    flows.verify();
    EXPECT_GT(network.stats().value("noc.blocked_cycles"), 0.0);
  } catch (const NetworkStalled& stalled) {
    EXPECT_TRUE(contains(stalled.what(), "input")) << stalled.what();
    EXPECT_LT(network.clock().now(), Cycle(10'000'000));
  }
}

}  // namespace
}  // namespace spiketile::sim
