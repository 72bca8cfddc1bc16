// Power states (docs/chip.md, "Power states"): which tiles the simulator keeps powered. A tile is
// needed when its core runs a unit or its router is on a route, so a route that crosses chips
// holding no unit keeps the gateways and mesh routers it passes powered; the policy then powers
// the needed tiles (core), their chips (chip) or everything (none). Expected tiles are worked
// out here by walking every flow's route hop by hop, and checked against the routers that
// actually forwarded traffic in a simulation. One simulating TEST per process (SystemC).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <set>

#include "compiler/mapping_io.hpp"
#include "sim/chip_simulator.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile::sim {
namespace {

// The shipped mapping (chips/default.yaml: 4 chips in a chain, 8 × 8 cores each, core gating;
// all 49 units on chip 0) with the source unit of its first flow moved to chip 3: that unit's
// routes now cross chips 1 and 2, which hold no unit.
Mapping with_a_unit_on_chip_3(Mapping m, const ChipSpec& chip) {
  for (const CoreCoord& c : m.unit_cores) EXPECT_EQ(c.chip, 0) << "the shipped mapping fills chip 0 first";
  m.unit_cores[std::size_t(m.flows.front().source)] = CoreCoord{3, 2, 5};
  m.routing_tables = build_routing_tables(Topology(chip), m.unit_cores, to_placement_flows(m.flows)).tables;
  return m;
}

// Tiles on some route, found by following Topology::route_step from each flow's source core to
// each of its destination cores (the routers a packet passes, both ends included).
std::set<int> tiles_on_routes(const Mapping& m, const Topology& topology) {
  std::set<int> tiles;
  for (const MappedFlow& flow : m.flows) {
    const int source = topology.core_index(m.unit_cores[std::size_t(flow.source)]);
    for (int unit : flow.destinations) {
      const int destination = topology.core_index(m.unit_cores[std::size_t(unit)]);
      int at = source;
      tiles.insert(at);
      for (Port port = topology.route_step(at, destination); port != Port::local;
           port = topology.route_step(at, destination)) {
        at = topology.neighbor(at, port);
        tiles.insert(at);
      }
    }
  }
  return tiles;
}

std::set<int> unit_tiles(const Mapping& m, const Topology& topology) {
  std::set<int> tiles;
  for (const CoreCoord& c : m.unit_cores) tiles.insert(topology.core_index(c));
  return tiles;
}

std::set<int> as_set(const std::vector<char>& flags) {
  std::set<int> set;
  for (std::size_t i = 0; i < flags.size(); ++i)
    if (flags[i]) set.insert(int(i));
  return set;
}

std::set<int> needed_by(const Mapping& m, const Topology& topology) {
  std::set<int> needed = unit_tiles(m, topology);
  const std::set<int> routed = tiles_on_routes(m, topology);
  needed.insert(routed.begin(), routed.end());
  return needed;
}

TEST(PowerStates, RoutesThroughChipsWithoutUnitsKeepTheirTilesPowered) {
  const auto shipped = test_fixtures::shipped_on_default_chip();
  const ChipSpec chip = mapping_chip_spec(*shipped);
  ASSERT_EQ(chip.power.gating, PowerGating::core);
  const auto far = std::make_shared<const Mapping>(with_a_unit_on_chip_3(*shipped, chip));
  const Mapping& m = *far;
  const Topology topology(chip);
  const std::set<int> expected = needed_by(m, topology), routed = tiles_on_routes(m, topology);
  const std::set<int> units = unit_tiles(m, topology);
  // The route crosses the gateways of chips 1 and 2 (row 4 of their west and east edges,
  // docs/chip.md), tiles that run no unit.
  std::vector<int> gateways;
  for (int on_chip : {1, 2})
    for (int col : {0, 7}) gateways.push_back(topology.core_index(CoreCoord{on_chip, 4, col}));
  for (int gateway : gateways) {
    EXPECT_TRUE(routed.count(gateway)) << to_string(topology.coord(gateway));
    EXPECT_FALSE(units.count(gateway)) << to_string(topology.coord(gateway));
  }
  ASSERT_GT(expected.size(), units.size());

  EXPECT_EQ(as_set(needed_tiles(m.unit_cores, rebuild_routing_tables(m, topology))), expected);

  ChipSimulator sim(far);
  for (int token : {3, 20, 45}) sim.step(token);
  RunStats stats;
  sim.fill_stats(stats);
  ASSERT_TRUE(stats.power.has_value());
  const StatsPower& p = *stats.power;
  EXPECT_EQ(p.gating, "core");
  EXPECT_DOUBLE_EQ(p.gated_static_fraction, 0.05);
  EXPECT_EQ(p.tiles_total, 256);
  EXPECT_EQ(p.tiles_powered, int64_t(expected.size()));
  EXPECT_EQ(p.tiles_gated, 256 - int64_t(expected.size()));
  EXPECT_EQ(p.tiles_routing_only, int64_t(expected.size() - units.size()));
  EXPECT_EQ(p.chips_total, 4);
  EXPECT_EQ(p.chips_powered, 4);  // chips 1 and 2 only carry the route, but their routers must run
  // Every router that ran in the simulation is powered, the crossed gateways among them.
  const auto detail = nlohmann::json::parse(stats.network->detail_json);
  const std::regex activations(R"(noc\.router\[(\d+)\]\.activations)");
  std::set<int> active;
  for (const auto& item : detail.items()) {
    const std::string name = item.key();
    std::smatch match;
    if (std::regex_match(name, match, activations) && item.value().get<double>() > 0) active.insert(std::stoi(match[1]));
  }
  for (int router : active) EXPECT_TRUE(expected.count(router)) << "router " << router << " ran but is gated";
  for (int gateway : gateways) EXPECT_TRUE(active.count(gateway)) << "gateway " << gateway << " never ran";
}

TEST(PowerStates, PoliciesPowerTheNeededTilesTheirChipsOrEverything) {
  const auto shipped = test_fixtures::shipped_on_default_chip();
  ChipSpec chip = mapping_chip_spec(*shipped);
  const Topology topology(chip);
  const Mapping far = with_a_unit_on_chip_3(*shipped, chip);
  const RoutingTables far_routes = rebuild_routing_tables(far, topology);
  const RoutingTables shipped_routes = rebuild_routing_tables(*shipped, topology);
  const std::set<int> far_needed = needed_by(far, topology), shipped_needed = needed_by(*shipped, topology);
  ASSERT_EQ(unit_tiles(*shipped, topology).size(), 49u);

  // What `gating` powers for a placement: tiles on (the rest gated) and chips on.
  auto expect_powered = [&chip](PowerGating gating, const Mapping& m, const RoutingTables& routes, int64_t tiles,
                                int chips) {
    chip.power.gating = gating;
    const StatsPower p = power_states(chip, m.unit_cores, routes);
    EXPECT_EQ(p.gating, power_gating_name(gating));
    EXPECT_EQ(p.tiles_powered, tiles) << p.gating;
    EXPECT_EQ(p.tiles_gated, 256 - tiles) << p.gating;
    EXPECT_EQ(p.chips_powered, chips) << p.gating;
    EXPECT_DOUBLE_EQ(p.gated_static_fraction, 0.05);
    return p;
  };
  // Core gating: the needed tiles, those a route only crosses included.
  expect_powered(PowerGating::core, far, far_routes, int64_t(far_needed.size()), 4);
  const StatsPower core = expect_powered(PowerGating::core, *shipped, shipped_routes, int64_t(shipped_needed.size()), 1);
  EXPECT_EQ(core.tiles_routing_only, int64_t(shipped_needed.size()) - 49);
  // Chip gating: the shipped placement keeps every unit and route on chip 0, so its 64 tiles are on
  // and the other 3 chips off; with a unit on chip 3 every chip holds a needed tile (0 and 3 a
  // unit, 1 and 2 the route), so all are on.
  expect_powered(PowerGating::chip, *shipped, shipped_routes, 64, 1);
  expect_powered(PowerGating::chip, far, far_routes, 256, 4);
  // No gating: everything, whatever the placement.
  expect_powered(PowerGating::none, *shipped, shipped_routes, 256, 4);
}

}  // namespace
}  // namespace spiketile::sim
