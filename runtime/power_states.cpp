#include "runtime/power_states.hpp"

#include <algorithm>

namespace spiketile {

std::vector<char> needed_tiles(const std::vector<CoreCoord>& unit_cores, const RoutingTables& routes) {
  std::vector<char> needed(routes.router_loads.size(), 0);
  for (const CoreCoord& c : unit_cores) needed[std::size_t(routes.topology.core_index(c))] = 1;
  for (std::size_t t = 0; t < needed.size(); ++t) {
    const auto& flows_in = routes.router_loads[t].flows_in;
    if (std::any_of(flows_in.begin(), flows_in.end(), [](int n) { return n > 0; })) needed[t] = 1;
  }
  return needed;
}

StatsPower power_states(const ChipSpec& chip, const std::vector<CoreCoord>& unit_cores, const RoutingTables& routes) {
  const Topology& topology = routes.topology;
  const std::vector<char> needed = needed_tiles(unit_cores, routes);
  std::vector<char> chip_needed(std::size_t(topology.chip_count()), 0), chip_powered(chip_needed.size(), 0);
  for (std::size_t t = 0; t < needed.size(); ++t)
    if (needed[t]) chip_needed[std::size_t(topology.coord(int(t)).chip)] = 1;
  const PowerGating gating = chip.power.gating;
  StatsPower p;
  for (std::size_t t = 0; t < needed.size(); ++t) {
    const std::size_t on_chip = std::size_t(topology.coord(int(t)).chip);
    const bool powered = gating == PowerGating::none || (gating == PowerGating::chip && chip_needed[on_chip]) ||
                         (gating == PowerGating::core && needed[t]);
    p.tiles_powered += powered;
    if (powered) chip_powered[on_chip] = 1;
  }
  std::vector<char> runs_unit(needed.size(), 0);
  for (const CoreCoord& c : unit_cores) runs_unit[std::size_t(topology.core_index(c))] = 1;
  p.tiles_routing_only = std::count(needed.begin(), needed.end(), 1) - std::count(runs_unit.begin(), runs_unit.end(), 1);
  p.gating = power_gating_name(gating);
  p.gated_static_fraction = chip.power.gated_static_fraction;
  p.tiles_total = int64_t(needed.size());
  p.tiles_gated = p.tiles_total - p.tiles_powered;
  p.chips_total = topology.chip_count();
  p.chips_powered = int(std::count(chip_powered.begin(), chip_powered.end(), 1));
  return p;
}

double charged_tiles(const StatsPower& p) { return double(p.tiles_powered) + double(p.tiles_gated) * p.gated_static_fraction; }

double static_energy_pj(const EnergyTable& table, const StatsPower& power, double seconds) {
  return table.static_power_mw_per_core * 1e-3 * charged_tiles(power) * seconds * 1e12;
}

}  // namespace spiketile
