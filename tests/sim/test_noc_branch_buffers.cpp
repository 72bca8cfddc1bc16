// Multicast branch buffers (router.multicast_branch_buffer_flits): a branch that cannot leave
// waits at its output, so the packets behind it and the packet's other branches go on. Without
// them a multicast holds its input buffer until every branch has left, and one destination that
// does not take its events stops every other destination of the flow.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <systemc>

#include "noc_fixtures.hpp"

namespace spiketile::sim {
namespace {

using test::contains;

// One multicast flow from core 0 to cores 1, 2 and 3 of a 1 × 4 line.
RoutingTables line_multicast() {
  const Topology topology = test_fixtures::hand_grid(1, 1, 1, 4, 1, DimensionOrder::xy);
  test::Traffic traffic;
  for (int core = 0; core < 4; ++core) traffic.unit_cores.push_back(topology.coord(core));
  Flow flow;
  flow.source = 0;
  flow.destinations = {1, 2, 3};
  flow.flits_per_token = 1.0;
  traffic.flows.push_back(flow);
  return test::route(topology, traffic, false);
}

struct NeverDrainingRun {
  std::vector<std::vector<int>> axons_by_core = std::vector<std::vector<int>>(4);
  std::string report;
  int held_by_core_1 = 0;
  uint64_t parked_flits = 0;
};

// Core 0 multicasts `events` events to cores 1, 2 and 3 of a 1 × 4 line; core 1 never takes its
// events (its queue holds 2), cores 2 and 3 take each at its arrival.
NeverDrainingRun run_with_a_core_that_never_drains(int branch_buffer_flits, int events) {
  const RoutingTables tables = line_multicast();
  EXPECT_EQ(tables.flows.at(0).packet, FlowPacket::multicast);
  NocConfig config = noc_config(tables.topology);
  config.input_buffer_depth_flits = 4;
  config.axon_input_queue_depth = 2;
  config.multicast_branch_buffer_flits = branch_buffer_flits;
  config.watchdog_window_cycles = 500;
  Network network("noc", config, tables);
  NeverDrainingRun result;
  for (int core : {2, 3})
    network.interface(core).set_delivery_handler(
        [&result, core](const Delivery& d) { result.axons_by_core[std::size_t(core)].push_back(d.packet.axon); });
  for (int e = 0; e < events; ++e) network.interface(0).inject(network.interface(0).flow_event(0, e));
  result.report = test::stall_report_of(network, 1'000'000);
  result.held_by_core_1 = int(network.interface(1).deliveries_waiting());
  result.parked_flits = network.router(1).branch_occupancy_flits(Port::local);
  return result;
}

std::vector<int> first_axons(int n) {
  std::vector<int> axons(std::size_t(n), 0);
  std::iota(axons.begin(), axons.end(), 0);
  return axons;
}

TEST(NocBranchBuffers, OneNeverDrainingDestinationDoesNotStopTheOthers) {
  const NeverDrainingRun run = run_with_a_core_that_never_drains(16, 12);
  // Cores 2 and 3 get the whole vector, in order; core 1 holds 2 in its queue and the other 10 wait
  // in router 1's branch buffer for its local output.
  EXPECT_EQ(run.axons_by_core[2], first_axons(12));
  EXPECT_EQ(run.axons_by_core[3], first_axons(12));
  EXPECT_EQ(run.held_by_core_1, 2);
  EXPECT_EQ(run.parked_flits, 10u);
  EXPECT_TRUE(contains(run.report, "core 1's axon input queue is full (2 events)")) << run.report;
  EXPECT_TRUE(contains(run.report, "branch buffer of output local: 10 packets, 10/16 flits; oldest: flow 0 "
                                   "from core 0, waits for output local (0 credits"))
      << run.report;
  EXPECT_TRUE(contains(run.report, "no cyclic wait among router buffers")) << run.report;
}

// Without branch buffers the same core stops the flow everywhere: the third packet sends its
// branch east, then holds router 1's input buffer with its branch for core 1, and nothing behind it
// reaches cores 2 and 3.
TEST(NocBranchBuffers, WithoutThemOneNeverDrainingDestinationStopsTheFlow) {
  const NeverDrainingRun run = run_with_a_core_that_never_drains(0, 12);
  EXPECT_EQ(run.held_by_core_1, 2);
  EXPECT_EQ(run.axons_by_core[2], first_axons(3));
  EXPECT_EQ(run.axons_by_core[3], first_axons(3));
  EXPECT_TRUE(contains(run.report, "router 1 (chip 0 (row 0, col 1)) input W: ")) << run.report;
  EXPECT_TRUE(contains(run.report, "waits for output local (0 credits")) << run.report;
}

// A branch buffer that fills holds the flow again, past its depth and no further: 2 events in
// core 1's queue, 4 in the branch buffer, and the seventh packet's east branch.
TEST(NocBranchBuffers, AFullBranchBufferHoldsTheFlowPastItsDepth) {
  const NeverDrainingRun run = run_with_a_core_that_never_drains(4, 12);
  EXPECT_EQ(run.parked_flits, 4u);
  EXPECT_EQ(run.axons_by_core[2], first_axons(7));
  EXPECT_EQ(run.axons_by_core[3], first_axons(7));
  EXPECT_TRUE(contains(run.report, "behind its branch buffer (4 of 4 flits)")) << run.report;
}

// Heavy multicast through small buffers: branches wait in branch buffers (it happens), every copy
// arrives, and every flow's events reach each core in the order they were sent (a parked branch
// leaves before any later branch of the output, so the prefill's per-flow counting holds).
TEST(NocBranchBuffers, HeavyMulticastDeliversEverythingInFlowOrder) {
  const test::HeavyMulticast heavy;
  Network network("noc", heavy.config, heavy.tables());
  test::FlowTraffic flows(network, 12);
  run(network, 10'000'000);
  flows.verify();
  EXPECT_GT(network.stats().value("noc.branch_parks"), 0.0);
  EXPECT_GT(network.stats().value("noc.peak_branch_occupancy_flits"), 0.0);
  EXPECT_LE(network.stats().value("noc.peak_branch_occupancy_flits"), 2.0);
}

TEST(NocBranchBuffers, EveryFlowKeepsItsOrderAtEveryCore) {
  const Topology topology = test_fixtures::hand_grid(1, 1, 4, 4, 1, DimensionOrder::xy);
  const test::Traffic traffic = test::random_traffic(topology, 2 * topology.core_count(), 10, 9);
  NocConfig config = noc_config(topology);
  config.input_buffer_depth_flits = 1;
  config.axon_input_queue_depth = 1;
  config.multicast_branch_buffer_flits = 1;
  Network network("noc", config, test::route(topology, traffic, false));
  // Cores take an event every 3 cycles, so local outputs back up as well as mesh links.
  std::map<std::pair<int, int>, std::vector<int>> axons;  // (flow, core) -> axons in arrival order
  const int events = 8;
  for (int f = 0; f < int(network.tables().flows.size()); ++f) {
    const FlowRoute& route = network.tables().flows[std::size_t(f)];
    if (route.packet == FlowPacket::none) continue;
    for (int e = 0; e < events; ++e)
      network.interface(route.source_core).inject(network.interface(route.source_core).flow_event(f, e));
  }
  struct Taker : sc_core::sc_module {
    SC_HAS_PROCESS(Taker);
    Network& network;
    std::map<std::pair<int, int>, std::vector<int>>& axons;
    Taker(const sc_core::sc_module_name& name, Network& n, std::map<std::pair<int, int>, std::vector<int>>& a)
        : sc_module(name), network(n), axons(a) {
      SC_THREAD(take);
    }
    void take() {
      for (;;) {
        bool any = false;
        for (int core = 0; core < network.core_count(); ++core) {
          NetworkInterface& ni = network.interface(core);
          if (!ni.has_delivery()) continue;
          const Delivery d = ni.receive();
          axons[{d.packet.flow, core}].push_back(d.packet.axon);
          any = true;
        }
        if (!any && network.quiescent()) return;
        sc_core::wait(network.clock().after(3));
      }
    }
  } taker("taker", network, axons);
  run(network, 10'000'000);
  EXPECT_TRUE(network.quiescent());
  EXPECT_GT(network.stats().value("noc.branch_parks"), 0.0);
  std::size_t copies = 0;
  for (const auto& [flow_core, received] : axons) {
    std::vector<int> expected;
    for (int e = 0; e < events; ++e)
      for (int k = 0; k < int(std::count(received.begin(), received.end(), e)); ++k) expected.push_back(e);
    EXPECT_EQ(received, expected) << "flow " << flow_core.first << " at core " << flow_core.second;
    copies += received.size();
  }
  EXPECT_EQ(double(copies), network.stats().value("noc.packets_delivered"));
}

// The deadlock analysis follows branches through branch buffers: on a grid of chips heavy
// multicast with one-flit buffers either completes or stops with a report whose cycle lists only
// buffers that are full; it never hangs.
TEST(NocBranchBuffers, AChipGridCompletesOrReportsACycleThroughFullBuffers) {
  const Topology topology = test_fixtures::hand_grid(2, 2, 4, 4, 1, DimensionOrder::xy);
  const test::Traffic traffic = test::random_traffic(topology, 2 * topology.core_count(), 16, 11);
  NocConfig config = test::starved_config(topology, 2000);
  config.multicast_branch_buffer_flits = 1;
  Network network("noc", config, test::route(topology, traffic, false));
  test::FlowTraffic flows(network, 10);
  try {
    run(network, 10'000'000);
    flows.verify();
  } catch (const NetworkStalled& stalled) {
    EXPECT_TRUE(contains(stalled.what(), "deadlock: cyclic wait of")) << stalled.what();
    const std::vector<WaitingBuffer> cycle = network.wait_cycle();
    ASSERT_GE(cycle.size(), 2u);
    for (const WaitingBuffer& b : cycle) {
      const Router& r = network.router(b.router);
      if (b.branch) EXPECT_EQ(r.branch_occupancy_flits(b.port), 1u) << "router " << b.router;
      else EXPECT_EQ(r.occupancy_flits(b.port), 1u) << "router " << b.router;
    }
  }
  EXPECT_LT(network.clock().now(), Cycle(10'000'000));
}

}  // namespace
}  // namespace spiketile::sim
