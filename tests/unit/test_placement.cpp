// Topology distances and placement: hop counts within and across chips, determinism, beating the
// naive baseline, the lower bound and the capacity error.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "chips/chip_spec.hpp"
#include "compiler/placement.hpp"
#include "topology_fixtures.hpp"

namespace spiketile {
namespace {

using test_fixtures::hand_grid;
const std::string& kChips = test_fixtures::kChipsDir;

// Follows route_step hop by hop, counting mesh and inter-chip links.
HopCount walk(const Topology& t, const CoreCoord& from, const CoreCoord& to) {
  HopCount hops;
  int at = t.core_index(from);
  const int destination = t.core_index(to);
  for (int guard = 0; guard < 10 * t.core_count(); ++guard) {
    const Port port = t.route_step(at, destination);
    if (port == Port::local) return hops;
    const int next = t.neighbor(at, port);
    EXPECT_GE(next, 0) << "route leaves the system at " << to_string(t.coord(at));
    if (next < 0) return hops;
    if (t.is_inter_chip_port(at, port)) ++hops.inter_chip;
    else ++hops.mesh;
    at = next;
  }
  ADD_FAILURE() << "route does not terminate";
  return hops;
}

// Unit i multicasts to units i+1 .. i+fanout.
std::vector<Flow> chain_flows(int units, int fanout) {
  std::vector<Flow> flows;
  for (int i = 0; i + 1 < units; ++i) {
    Flow f{i, {}, 1.0 + 0.25 * (i % 3)};
    for (int d = i + 1; d <= std::min(units - 1, i + fanout); ++d) f.destinations.push_back(d);
    flows.push_back(f);
  }
  return flows;
}

TEST(Topology, FromShippedChips) {
  const Topology defaults(load_chip_spec(kChips + "default.yaml"));
  EXPECT_EQ(defaults.chip_count(), 4);
  EXPECT_EQ(defaults.core_count(), 256);
  EXPECT_EQ(defaults.params().chip_grid_rows, 1);
  EXPECT_EQ(defaults.gateway_rows(), std::vector<int>{4});
  // (20 latency + 32/8 serialisation) / (2 router + 1 link + 1 serialisation) cycles.
  EXPECT_DOUBLE_EQ(defaults.inter_chip_hop_weight(), 6.0);
  EXPECT_EQ(defaults.routing_table_entries(), 256);

  const Topology large(load_chip_spec(kChips + "large.yaml"));
  EXPECT_EQ(large.core_count(), 4096);
  EXPECT_EQ(large.params().chip_grid_rows, 4);
  EXPECT_EQ(large.params().chip_grid_cols, 4);
  EXPECT_EQ(large.gateway_rows(), (std::vector<int>{1, 3, 5, 7, 9, 11, 13, 15}));
  EXPECT_EQ(large.gateway_cols(), (std::vector<int>{1, 3, 5, 7, 9, 11, 13, 15}));

  const Topology tiny(load_chip_spec(kChips + "tiny.yaml"));
  EXPECT_EQ(tiny.core_count(), 4);
  EXPECT_EQ(tiny.routing_table_entries(), 16);

  const Topology overridden(load_chip_spec(kChips + "default.yaml"), 2.5);
  EXPECT_DOUBLE_EQ(overridden.inter_chip_hop_weight(), 2.5);
}

TEST(Topology, CoreIndexRoundTrips) {
  const Topology t = hand_grid(2, 3, 4, 5, 1, DimensionOrder::xy);
  for (int core = 0; core < t.core_count(); ++core) {
    const CoreCoord c = t.coord(core);
    EXPECT_EQ(t.core_index(c), core);
    EXPECT_EQ(linear_core_index(c, 4, 5), core);
  }
  EXPECT_EQ(t.coord(21), (CoreCoord{1, 0, 1}));
  EXPECT_EQ(to_string(CoreCoord{2, 3, 4}), "chip 2 (row 3, col 4)");
}

TEST(Topology, HopDistanceWithinAChipIsManhattan) {
  const Topology t(load_chip_spec(kChips + "default.yaml"));
  for (int r0 = 0; r0 < 8; r0 += 3)
    for (int c0 = 0; c0 < 8; c0 += 2)
      for (int r1 = 0; r1 < 8; ++r1)
        for (int c1 = 0; c1 < 8; ++c1) {
          const HopCount d = t.distance({2, r0, c0}, {2, r1, c1});
          EXPECT_EQ(d.mesh, std::abs(r0 - r1) + std::abs(c0 - c1));
          EXPECT_EQ(d.inter_chip, 0);
        }
}

TEST(Topology, HopDistanceAcrossAChain) {
  const Topology t(load_chip_spec(kChips + "default.yaml"));  // gateway at row 4 of each facing edge
  // East along row 0 to column 7, south to the gateway at row 4, across, north to row 0.
  EXPECT_EQ(t.distance({0, 0, 0}, {1, 0, 0}), (HopCount{7 + 4 + 4, 1}));
  EXPECT_EQ(t.distance({0, 4, 7}, {1, 4, 0}), (HopCount{0, 1}));
  // Straight through chips 1 and 2.
  EXPECT_EQ(t.distance({0, 4, 0}, {3, 4, 7}), (HopCount{7 * 4, 3}));
  // Westward: chip 1 (0,0) is already on its west edge; south to row 4, across, then to (0,0).
  EXPECT_EQ(t.distance({1, 0, 0}, {0, 0, 0}), (HopCount{4 + 7 + 4, 1}));
  EXPECT_EQ(t.hops({1, 0, 0}, {0, 0, 0}), 16);
  EXPECT_DOUBLE_EQ(t.cost({1, 0, 0}, {0, 0, 0}), 15 + 6.0);
}

TEST(Topology, HopDistanceAcrossAGridBothOrders) {
  // 2 × 2 chips of 4 × 4 cores; one gateway per edge at offset 2.
  const Topology xy = hand_grid(2, 2, 4, 4, 1, DimensionOrder::xy);
  // XY: east to (0,3), south to the gateway (2,3), across to chip 1 (2,0); east to the south
  // gateway nearest column 0, i.e. column 2 (2 hops), down to row 3 (1), across to chip 3 (0,2),
  // west to (0,0) (2).
  EXPECT_EQ(xy.distance({0, 0, 0}, {3, 0, 0}), (HopCount{3 + 2 + 2 + 1 + 2, 2}));
  EXPECT_EQ(xy.route_step(xy.core_index({0, 0, 0}), xy.core_index({3, 0, 0})), Port::east);
  const Topology yx = hand_grid(2, 2, 4, 4, 1, DimensionOrder::yx);
  // YX: south to row 3, east to the gateway at column 2, across to chip 2 (0,2); south to the east
  // gateway nearest row 0, i.e. row 2 (2), east to column 3 (1), across to chip 3 (2,0), north 2.
  EXPECT_EQ(yx.distance({0, 0, 0}, {3, 0, 0}), (HopCount{3 + 2 + 2 + 1 + 2, 2}));
  EXPECT_EQ(yx.route_step(yx.core_index({0, 0, 0}), yx.core_index({3, 0, 0})), Port::south);
  // Vertical neighbours only: straight down through the gateway column.
  EXPECT_EQ(xy.distance({0, 3, 2}, {2, 0, 2}), (HopCount{0, 1}));
}

TEST(Topology, DistanceIsTheRouteTheRoutersTake) {
  std::mt19937 rng(7);
  for (const char* file : {"default.yaml", "large.yaml"}) {
    const Topology t(load_chip_spec(kChips + file));
    std::uniform_int_distribution<int> core(0, t.core_count() - 1);
    for (int i = 0; i < 300; ++i) {
      const CoreCoord a = t.coord(core(rng)), b = t.coord(core(rng));
      EXPECT_EQ(t.distance(a, b), walk(t, a, b)) << file << ": " << to_string(a) << " -> " << to_string(b);
    }
  }
  for (DimensionOrder order : {DimensionOrder::xy, DimensionOrder::yx}) {
    const Topology t = hand_grid(3, 2, 5, 6, 2, order);
    for (int a = 0; a < t.core_count(); a += 7)
      for (int b = 0; b < t.core_count(); b += 3) EXPECT_EQ(t.distance(t.coord(a), t.coord(b)), walk(t, t.coord(a), t.coord(b)));
  }
}

TEST(Topology, GatewaysLinkFacingEdges) {
  const Topology t(load_chip_spec(kChips + "default.yaml"));
  const int gateway = t.core_index({0, 4, 7});
  EXPECT_EQ(t.neighbor(gateway, Port::east), t.core_index({1, 4, 0}));
  EXPECT_TRUE(t.is_inter_chip_port(gateway, Port::east));
  EXPECT_FALSE(t.is_inter_chip_port(gateway, Port::west));
  EXPECT_EQ(t.neighbor(t.core_index({0, 3, 7}), Port::east), -1);  // not a gateway
  EXPECT_EQ(t.neighbor(t.core_index({0, 4, 0}), Port::west), -1);  // no chip to the west
  EXPECT_EQ(t.neighbor(t.core_index({3, 4, 7}), Port::east), -1);  // no chip to the east
  EXPECT_EQ(t.neighbor(t.core_index({1, 4, 0}), Port::west), gateway);
}

TEST(Topology, MulticastTreeSizeIsTheUnionOfRoutes) {
  const Topology t = hand_grid(1, 1, 4, 4, 1, DimensionOrder::xy);
  auto core = [&](int r, int c) { return t.core_index({0, r, c}); };
  // Row 0 from column 0 to 3 (3), column 3 down to row 2 (2), column 1 down to row 2 (2).
  EXPECT_EQ(multicast_tree_hops(t, core(0, 0), {core(0, 3), core(2, 3), core(2, 1)}), (HopCount{7, 0}));
  // The source and duplicates add nothing.
  EXPECT_EQ(multicast_tree_hops(t, core(0, 0), {core(0, 0), core(2, 1), core(2, 1)}), (HopCount{3, 0}));
  EXPECT_EQ(multicast_tree_hops(t, core(1, 1), {}), (HopCount{0, 0}));
  // Across a chain every chip is entered once, however many destinations it holds.
  const Topology chain(load_chip_spec(kChips + "default.yaml"));
  const int source = chain.core_index({0, 4, 7});
  EXPECT_EQ(multicast_tree_hops(chain, source, {chain.core_index({2, 4, 0}), chain.core_index({2, 5, 0})}),
            (HopCount{7 + 1, 2}));
}

TEST(Placement, IsDeterministicAndIndependentOfFlowOrder) {
  const Topology t(load_chip_spec(kChips + "default.yaml"));
  std::vector<Flow> flows = chain_flows(90, 3);
  std::mt19937 rng(3);
  for (int i = 0; i < 40; ++i) flows.push_back(Flow{int(rng() % 90), {int(rng() % 90), int(rng() % 90)}, 0.5});
  const Placement first = place(t, 90, flows);
  const Placement second = place(t, 90, flows);
  EXPECT_EQ(first.unit_cores, second.unit_cores);
  EXPECT_EQ(first.cost, second.cost);

  std::vector<Flow> shuffled = flows;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (Flow& f : shuffled) std::reverse(f.destinations.begin(), f.destinations.end());
  const Placement third = place(t, 90, shuffled);
  EXPECT_EQ(first.unit_cores, third.unit_cores);
  EXPECT_EQ(first.cost, third.cost);

  PlacementOptions other_seed;
  other_seed.seed = 99;
  EXPECT_GE(place(t, 90, flows, other_seed).cost, first.lower_bound);
}

TEST(Placement, ChainBeatsTheBaselineAndRespectsTheLowerBound) {
  const Topology t(load_chip_spec(kChips + "default.yaml"));
  const std::vector<Flow> flows = chain_flows(40, 3);
  const Placement p = place(t, 40, flows);
  EXPECT_LT(p.cost, p.baseline_cost);
  EXPECT_GE(p.cost, p.lower_bound);
  EXPECT_LE(p.cost, 1.25 * p.lower_bound) << p.summary();
  EXPECT_DOUBLE_EQ(p.cost, placement_cost(t, p.unit_cores, flows));
  EXPECT_EQ(p.inter_chip_flits_per_token, 0.0);  // 40 units fit on one chip
  // Every unit on its own core.
  std::vector<int> cores = p.unit_core_indices(t);
  std::sort(cores.begin(), cores.end());
  EXPECT_EQ(std::adjacent_find(cores.begin(), cores.end()), cores.end());
  EXPECT_NE(p.summary().find("baseline"), std::string::npos);
}

TEST(Placement, KeepsClustersOnOneChipEach) {
  // Two clusters of 60 units with interleaved indices, so index order splits both over two chips.
  const Topology t(load_chip_spec(kChips + "default.yaml"));
  std::mt19937 rng(11);
  std::vector<Flow> flows;
  for (int u = 0; u < 120; ++u) {
    Flow f{u, {}, 1.0};
    for (int k = 0; k < 4; ++k) f.destinations.push_back(int(2 * (rng() % 60) + u % 2));
    flows.push_back(f);
  }
  const Placement p = place(t, 120, flows);
  EXPECT_LT(p.cost, p.baseline_cost);
  EXPECT_GE(p.cost, p.lower_bound);
  double total_flits = 0;
  for (const Flow& f : flows) total_flits += f.flits_per_token;
  EXPECT_LT(p.inter_chip_flits_per_token, 0.05 * total_flits) << p.summary();
}

TEST(Placement, LowerBoundHoldsForRandomPlacements) {
  const Topology t(load_chip_spec(kChips + "default.yaml"));
  std::mt19937 rng(5);
  std::vector<Flow> flows;
  for (int i = 0; i < 60; ++i) {
    Flow f{int(rng() % 200), {}, 0.1 + double(rng() % 10)};
    const int fanout = 1 + int(rng() % 90);
    for (int k = 0; k < fanout; ++k) f.destinations.push_back(int(rng() % 200));
    flows.push_back(f);
  }
  const double bound = placement_lower_bound(t, flows);
  std::vector<int> cores(256);
  for (int i = 0; i < 256; ++i) cores[std::size_t(i)] = i;
  for (int trial = 0; trial < 20; ++trial) {
    std::shuffle(cores.begin(), cores.end(), rng);
    std::vector<CoreCoord> unit_cores;
    for (int u = 0; u < 200; ++u) unit_cores.push_back(t.coord(cores[std::size_t(u)]));
    EXPECT_GE(placement_cost(t, unit_cores, flows), bound);
  }
  // 70 destinations and a source cannot share one 64-core chip: one crossing at weight 6 is forced.
  Flow wide{0, {}, 1.0};
  for (int d = 1; d <= 70; ++d) wide.destinations.push_back(d);
  EXPECT_DOUBLE_EQ(placement_lower_bound(t, {wide}), 69 + 6.0);
}

TEST(Placement, TooManyUnitsIsAClearError) {
  const Topology t(load_chip_spec(kChips + "tiny.yaml"));
  try {
    place(t, 5, {});
    FAIL() << "expected PlacementError";
  } catch (const PlacementError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("5 units"), std::string::npos) << message;
    EXPECT_NE(message.find("4 cores"), std::string::npos) << message;
    EXPECT_NE(message.find("chip_count"), std::string::npos) << message;
  }
  EXPECT_THROW(place(t, 3, {Flow{0, {7}, 1.0}}), std::invalid_argument);
  EXPECT_THROW(place(t, 3, {Flow{0, {1}, -1.0}}), std::invalid_argument);
}

TEST(Placement, FillsEveryCoreAndHandlesNoFlows) {
  const Topology t(load_chip_spec(kChips + "tiny.yaml"));
  const Placement full = place(t, 4, chain_flows(4, 3));
  std::vector<int> cores = full.unit_core_indices(t);
  std::sort(cores.begin(), cores.end());
  EXPECT_EQ(cores, (std::vector<int>{0, 1, 2, 3}));
  const Placement empty = place(t, 3, {});
  EXPECT_EQ(empty.cost, 0.0);
  EXPECT_EQ(empty.unit_cores.size(), 3u);
  EXPECT_EQ(place(t, 0, {}).unit_cores.size(), 0u);
}

TEST(Placement, MultiChipGridWorkload) {
  const Topology t = hand_grid(2, 2, 6, 6, 2, DimensionOrder::xy, 4.0);
  std::mt19937 rng(2);
  std::vector<Flow> flows;
  for (int u = 0; u < 130; ++u) {
    Flow f{u, {}, 1.0};
    for (int k = 1; k <= 3; ++k) f.destinations.push_back((u + k * k) % 130);
    f.destinations.push_back(int(rng() % 130));
    flows.push_back(f);
  }
  const Placement p = place(t, 130, flows);
  EXPECT_LE(p.cost, p.baseline_cost);
  EXPECT_LE(p.cost, p.constructive_cost);
  EXPECT_GE(p.cost, p.lower_bound);
  EXPECT_DOUBLE_EQ(p.cost, placement_cost(t, p.unit_cores, flows));
}

}  // namespace
}  // namespace spiketile
