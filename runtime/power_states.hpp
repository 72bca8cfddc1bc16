// Which tiles a placed mapping keeps powered under the chip's power.gating, and the static power
// they are charged: the one rule the simulator's statistics, the report and the compiler's energy
// estimate share (docs/chip.md, "Power states"; docs/report.md §1).
#pragma once

#include <vector>

#include "chips/chip_spec.hpp"
#include "chips/energy_table.hpp"
#include "compiler/routing.hpp"
#include "runtime/stats.hpp"

namespace spiketile {

// Which tiles (a core with its router) draw static power (docs/chip.md, "Power states"). A tile is
// needed if its core runs a unit or its router is on a flow's route: the unicast path or multicast
// tree, gateways and the routers of chips it only crosses included (RoutingTables::router_loads;
// unicast flows hold no table entries, so the tables alone would miss their routers). The chip's
// power.gating then powers every tile (none), every tile of a chip with a needed tile (chip), or
// the needed tiles only (core); the rest are gated.
std::vector<char> needed_tiles(const std::vector<CoreCoord>& unit_cores, const RoutingTables& routes);  // per core index
StatsPower power_states(const ChipSpec& chip, const std::vector<CoreCoord>& unit_cores, const RoutingTables& routes);

// Tiles charged static power: every powered tile whole, every gated one at gated_static_fraction.
double charged_tiles(const StatsPower& power);
// Static energy of `seconds` under `power`, in pJ, at the table's static_power_mw_per_core.
double static_energy_pj(const EnergyTable& table, const StatsPower& power, double seconds);

}  // namespace spiketile
