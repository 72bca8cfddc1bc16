// Routing tables: every event reaches exactly its destinations (no loops, no duplicates) on single-
// and multi-chip systems in both dimension orders, trees match the cost model, capacity errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "chips/chip_spec.hpp"
#include "compiler/placement.hpp"
#include "topology_fixtures.hpp"
#include "compiler/routing.hpp"

namespace spiketile {
namespace {

using test_fixtures::hand_grid;
const std::string& kChips = test_fixtures::kChipsDir;

// `units` units on distinct random cores.
std::vector<CoreCoord> random_placement(const Topology& t, int units, std::mt19937& rng) {
  std::vector<int> cores(std::size_t(t.core_count()));
  std::iota(cores.begin(), cores.end(), 0);
  std::shuffle(cores.begin(), cores.end(), rng);
  std::vector<CoreCoord> placed;
  for (int u = 0; u < units; ++u) placed.push_back(t.coord(cores[std::size_t(u)]));
  return placed;
}

std::vector<Flow> random_flows(int units, int count, int max_fanout, std::mt19937& rng) {
  std::vector<Flow> flows;
  for (int i = 0; i < count; ++i) {
    Flow f{int(rng() % unsigned(units)), {}, 0.25 * double(1 + rng() % 8)};
    const int fanout = 1 + int(rng() % unsigned(max_fanout));
    for (int k = 0; k < fanout; ++k) f.destinations.push_back(int(rng() % unsigned(units)));
    flows.push_back(f);
  }
  return flows;
}

std::vector<int> expected_cores(const Topology& t, const std::vector<CoreCoord>& placed, const Flow& f) {
  std::vector<int> cores;
  for (int d : f.destinations) cores.push_back(t.core_index(placed[std::size_t(d)]));
  std::sort(cores.begin(), cores.end());
  cores.erase(std::unique(cores.begin(), cores.end()), cores.end());
  return cores;
}

// Routes random flows over a random placement and checks every flow end to end.
void check_random_routing(const Topology& t, int units, int flow_count, int max_fanout, unsigned seed,
                          const RoutingOptions& options = {}) {
  std::mt19937 rng(seed);
  const std::vector<CoreCoord> placed = random_placement(t, units, rng);
  const std::vector<Flow> flows = random_flows(units, flow_count, max_fanout, rng);
  const RoutingTables tables = build_routing_tables(t, placed, flows, options);
  double weighted_tree_links = 0.0;
  for (std::size_t f = 0; f < flows.size(); ++f) {
    const Flow& flow = flows[f];
    std::vector<int> reached = deliver(tables, int(f), placed[std::size_t(flow.source)]);
    const std::size_t reached_count = reached.size();
    std::sort(reached.begin(), reached.end());
    EXPECT_EQ(std::adjacent_find(reached.begin(), reached.end()), reached.end()) << t.name() << " flow " << f << ": duplicate delivery";
    EXPECT_EQ(reached_count, reached.size());
    EXPECT_EQ(reached, expected_cores(t, placed, flow)) << t.name() << " flow " << f;
    const HopCount model = multicast_tree_hops(t, t.core_index(placed[std::size_t(flow.source)]),
                                               tables.flows[f].destination_cores);
    EXPECT_EQ(tables.flows[f].tree, model) << t.name() << " flow " << f;
    weighted_tree_links += flow.flits_per_token * double(model.total());
  }
  // Link traffic is the trees' links weighted by flits per token.
  EXPECT_NEAR(tables.mesh_flit_hops_per_token + tables.inter_chip_flits_per_token, weighted_tree_links,
              1e-9 * (1 + weighted_tree_links));
}

TEST(Routing, DeliversExactlyOnASingleChip) {
  check_random_routing(hand_grid(1, 1, 5, 7, 1, DimensionOrder::xy), 35, 300, 12, 1);
  check_random_routing(hand_grid(1, 1, 5, 7, 1, DimensionOrder::yx), 30, 300, 12, 2);
  check_random_routing(Topology(load_chip_spec(kChips + "tiny.yaml")), 4, 10, 4, 3);
}

TEST(Routing, DeliversExactlyAcrossAChain) {
  const Topology defaults(load_chip_spec(kChips + "default.yaml"));
  RoutingOptions loose;
  loose.enforce_table_capacity = false;  // random placements of wide flows can overfill 256 entries
  check_random_routing(defaults, 256, 400, 20, 4, loose);
  check_random_routing(hand_grid(1, 4, 3, 5, 2, DimensionOrder::yx), 60, 300, 10, 5);
  RoutingOptions all_multicast;
  all_multicast.unicast_single_destination = false;
  check_random_routing(hand_grid(1, 3, 4, 4, 1, DimensionOrder::xy), 48, 200, 6, 6, all_multicast);
}

TEST(Routing, DeliversExactlyAcrossAGrid) {
  check_random_routing(hand_grid(3, 3, 4, 5, 2, DimensionOrder::xy), 180, 300, 25, 7);
  check_random_routing(hand_grid(3, 2, 5, 4, 3, DimensionOrder::yx), 120, 300, 25, 8);
  // Every router a gateway (gateways on every edge router, corners included).
  check_random_routing(hand_grid(2, 2, 3, 3, 3, DimensionOrder::xy), 36, 200, 10, 9);
  const Topology large(load_chip_spec(kChips + "large.yaml"));
  RoutingOptions loose;
  loose.enforce_table_capacity = false;
  check_random_routing(large, 1500, 300, 40, 10, loose);
}

TEST(Routing, TablesHoldOneEntryPerTreeRouterWithChainedIndices) {
  const Topology t = hand_grid(1, 2, 4, 4, 1, DimensionOrder::xy);
  // Unit 0 at chip 0 (0,0) multicasts to chip 0 (0,2) and chip 1 (2,1).
  const std::vector<CoreCoord> placed{{0, 0, 0}, {0, 0, 2}, {1, 2, 1}};
  const std::vector<Flow> flows{Flow{0, {1, 2}, 2.0}};
  const RoutingTables tables = build_routing_tables(t, placed, flows);
  const FlowRoute& route = tables.flows[0];
  EXPECT_EQ(route.packet, FlowPacket::multicast);
  // Row 0 east to (0,3) (3 links), south to the gateway (2,3) (2), across, east to (2,1) (1).
  EXPECT_EQ(route.tree, (HopCount{6, 1}));
  int entries = 0;
  for (const auto& table : tables.tables) entries += int(table.size());
  EXPECT_EQ(entries, 6 + 1 + 1);  // one per router of the tree: links + 1
  const RouteEntry* at_source = tables.find(t.core_index({0, 0, 0}), 0);
  ASSERT_NE(at_source, nullptr);
  EXPECT_EQ(at_source->input_port, Port::local);
  EXPECT_EQ(at_source->output_ports, 1u << int(Port::east));
  const RouteEntry* fork = tables.find(t.core_index({0, 0, 2}), 0);
  ASSERT_NE(fork, nullptr);
  EXPECT_TRUE(fork->outputs(Port::local));
  EXPECT_TRUE(fork->outputs(Port::east));
  const int gateway = t.core_index({0, 2, 3});
  const RouteEntry* crossing = tables.find(gateway, 0);
  ASSERT_NE(crossing, nullptr);
  EXPECT_EQ(crossing->input_port, Port::north);
  EXPECT_TRUE(crossing->outputs(Port::east));
  EXPECT_TRUE(t.is_inter_chip_port(gateway, Port::east));
  EXPECT_EQ(crossing->next_index[std::size_t(Port::east)], 0);  // first entry of chip 1 (2,0)
  EXPECT_DOUBLE_EQ(tables.link_flits_per_token[std::size_t(gateway)][std::size_t(Port::east)], 2.0);
  EXPECT_DOUBLE_EQ(tables.inter_chip_flits_per_token, 2.0);
  EXPECT_DOUBLE_EQ(tables.max_inter_chip_link_flits_per_token, 2.0);
  EXPECT_DOUBLE_EQ(tables.mesh_flit_hops_per_token, 12.0);
  std::vector<int> reached = deliver(tables, 0, {0, 0, 0});
  std::sort(reached.begin(), reached.end());
  EXPECT_EQ(reached, (std::vector<int>{t.core_index({0, 0, 2}), t.core_index({1, 2, 1})}));
  EXPECT_THROW(deliver(tables, 0, {0, 1, 1}), RoutingError);  // not the flow's source
  EXPECT_THROW(deliver(tables, 1, {0, 0, 0}), std::invalid_argument);
}

TEST(Routing, UnicastFlowsNeedNoTableEntries) {
  const Topology t = hand_grid(1, 1, 4, 4, 1, DimensionOrder::xy);
  const std::vector<CoreCoord> placed{{0, 0, 0}, {0, 3, 3}};
  const std::vector<Flow> flows{Flow{0, {1}, 1.0}, Flow{1, {0}, 1.0}};
  const RoutingTables unicast = build_routing_tables(t, placed, flows);
  EXPECT_EQ(unicast.max_table_entries, 0);
  EXPECT_EQ(unicast.flows[0].packet, FlowPacket::unicast);
  EXPECT_EQ(deliver(unicast, 0, {0, 0, 0}), std::vector<int>{15});
  EXPECT_EQ(deliver(unicast, 1, {0, 3, 3}), std::vector<int>{0});
  RoutingOptions tables_only;
  tables_only.unicast_single_destination = false;
  const RoutingTables multicast = build_routing_tables(t, placed, flows, tables_only);
  EXPECT_EQ(multicast.max_table_entries, 2);  // the corners carry both flows
  EXPECT_EQ(deliver(multicast, 0, {0, 0, 0}), std::vector<int>{15});
}

TEST(Routing, XyAndYxTakeDifferentFirstHops) {
  const std::vector<CoreCoord> placed{{0, 0, 0}, {0, 3, 3}, {0, 1, 2}};
  const std::vector<Flow> flows{Flow{0, {1, 2}, 1.0}};
  for (DimensionOrder order : {DimensionOrder::xy, DimensionOrder::yx}) {
    const Topology t = hand_grid(1, 1, 4, 4, 1, order);
    const RoutingTables tables = build_routing_tables(t, placed, flows);
    const auto& from_source = tables.link_flits_per_token[0];
    const Port first = order == DimensionOrder::xy ? Port::east : Port::south;
    const Port other = order == DimensionOrder::xy ? Port::south : Port::east;
    EXPECT_DOUBLE_EQ(from_source[std::size_t(first)], 1.0);
    EXPECT_DOUBLE_EQ(from_source[std::size_t(other)], 0.0);
    // XY: row 0 to column 3 (3), down columns 3 (3) and 2 (1); YX: column 0 to row 3 (3), along
    // rows 3 (3) and 1 (2).
    EXPECT_EQ(tables.flows[0].tree, (HopCount{order == DimensionOrder::xy ? 7 : 8, 0}));
    std::vector<int> reached = deliver(tables, 0, placed[0]);
    std::sort(reached.begin(), reached.end());
    EXPECT_EQ(reached, (std::vector<int>{6, 15}));
  }
}

TEST(Routing, TableOverflowNamesRouterNeedAndCapacity) {
  const Topology tiny(load_chip_spec(kChips + "tiny.yaml"));  // 2 × 2 cores, 16 entries per router
  const std::vector<CoreCoord> placed{{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1}};
  std::vector<Flow> flows;
  for (int i = 0; i < 20; ++i) flows.push_back(Flow{0, {1, 2, 3}, 1.0});
  try {
    build_routing_tables(tiny, placed, flows);
    FAIL() << "expected RoutingError";
  } catch (const RoutingError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("chip 0 (row 0, col 0)"), std::string::npos) << message;
    EXPECT_NE(message.find("needs 20 entries"), std::string::npos) << message;
    EXPECT_NE(message.find("holds 16"), std::string::npos) << message;
    EXPECT_NE(message.find("routing_table_entries"), std::string::npos) << message;
  }
  RoutingOptions report_only;
  report_only.enforce_table_capacity = false;
  const RoutingTables tables = build_routing_tables(tiny, placed, flows, report_only);
  EXPECT_EQ(tables.max_table_entries, 20);
  EXPECT_GT(tables.routers_over_table_capacity, 0);
  // Within capacity it builds.
  flows.resize(16);
  EXPECT_NO_THROW(build_routing_tables(tiny, placed, flows));
}

TEST(Routing, InputPortLoadEstimatesBufferNeed) {
  const Topology t = hand_grid(1, 1, 1, 4, 1, DimensionOrder::xy);  // a row of 4 routers, 4-flit buffers
  const std::vector<CoreCoord> placed{{0, 0, 0}, {0, 0, 1}, {0, 0, 2}, {0, 0, 3}};
  std::vector<Flow> flows;
  for (int i = 0; i < 6; ++i) flows.push_back(Flow{0, {3}, 0.5});
  const RoutingTables tables = build_routing_tables(t, placed, flows);
  const RouterLoad& middle = tables.router_loads[2];
  EXPECT_EQ(middle.flows_in[std::size_t(Port::west)], 6);
  EXPECT_DOUBLE_EQ(middle.flits_in[std::size_t(Port::west)], 3.0);
  EXPECT_EQ(middle.peak_input_flows(), 6);
  EXPECT_EQ(tables.peak_input_port_flows, 6);
  EXPECT_EQ(tables.input_ports_over_buffer_depth, 4);  // injection at 0 and the west ports of 1, 2, 3
  EXPECT_NE(tables.summary().find("6 flows into one input port"), std::string::npos) << tables.summary();
}

TEST(Routing, RoutesWhatPlacementPlaced) {
  const Topology t(load_chip_spec(kChips + "default.yaml"));
  std::vector<Flow> flows;
  for (int i = 0; i < 150; ++i) {
    Flow f{i, {}, 1.0};
    for (int d = i + 1; d <= std::min(149, i + 4); ++d) f.destinations.push_back(d);
    if (!f.destinations.empty()) flows.push_back(f);
  }
  const Placement p = place(t, 150, flows);
  const RoutingTables tables = build_routing_tables(t, p.unit_cores, flows);
  EXPECT_NEAR(tables.mesh_flit_hops_per_token, p.mesh_flit_hops_per_token, 1e-9);
  EXPECT_NEAR(tables.inter_chip_flits_per_token, p.inter_chip_flits_per_token, 1e-9);
  for (std::size_t f = 0; f < flows.size(); ++f) {
    std::vector<int> reached = deliver(tables, int(f), p.unit_cores[std::size_t(flows[f].source)]);
    std::sort(reached.begin(), reached.end());
    EXPECT_EQ(reached, expected_cores(t, p.unit_cores, flows[f]));
  }
}

std::vector<std::pair<int, Port>> cycle_of_random_traffic(const Topology& t, int flows, int fanout, unsigned seed) {
  std::mt19937 rng(seed);
  const std::vector<CoreCoord> placed = random_placement(t, t.core_count(), rng);
  RoutingOptions loose;
  loose.enforce_table_capacity = false;
  return channel_dependency_cycle(build_routing_tables(t, placed, random_flows(t.core_count(), flows, fanout, rng), loose));
}

// Dimension-order routes on one mesh never turn from the second dimension back to the first, so
// their channel dependencies are acyclic (the classic result) — whatever the traffic.
TEST(ChannelDependencies, DimensionOrderOnOneChipIsAcyclic) {
  for (unsigned seed : {1u, 2u, 3u}) {
    EXPECT_TRUE(cycle_of_random_traffic(hand_grid(1, 1, 6, 7, 1, DimensionOrder::xy), 400, 20, seed).empty());
    EXPECT_TRUE(cycle_of_random_traffic(hand_grid(1, 1, 6, 7, 1, DimensionOrder::yx), 400, 20, seed).empty());
  }
}

// On a grid of chips the gateway routes turn back to the first dimension after moving along the
// second (to reach a gateway), and heavy multicast closes a cycle: the one the simulator deadlocks
// on (tests/sim NocWatchdog.ReportsTheCyclicWaitOfADeadlockOnAChipGrid). The cycle is a closed
// path of links: each leads into the router of the next.
TEST(ChannelDependencies, GatewayRoutesOnAChipGridCloseACycleOfLinks) {
  const Topology t = hand_grid(2, 2, 4, 4, 1, DimensionOrder::xy);
  const auto cycle = cycle_of_random_traffic(t, 2 * t.core_count(), 16, 11);
  ASSERT_GE(cycle.size(), 4u);  // a turn cycle in a mesh needs at least four links
  for (std::size_t k = 0; k < cycle.size(); ++k) {
    const auto [router, port] = cycle[k];
    EXPECT_NE(port, Port::local);
    EXPECT_EQ(t.neighbor(router, port), cycle[(k + 1) % cycle.size()].first) << "link " << k;
  }
}

}  // namespace
}  // namespace spiketile
