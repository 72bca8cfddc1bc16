// Per-action energy tables (Accelergy ERT style): energy = Σ counted actions × pJ per action,
// plus static power per powered core × run time (gated cores at the chip's gated fraction).
//
// Counting and costing are separate: the simulator counts actions such as `synaptic_op.binary`
// or `router.flit_hop`; a table (chips/energy/*.yaml) prices them. Every table prices the same
// action set, so swapping tables compares technologies on identical counts. What each action
// includes (and excludes) is fixed by the schema descriptions, rendered in docs/chip.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "chips/config_schema.hpp"

namespace spiketile {

struct ChipSpec;

class EnergyTableError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

inline constexpr int kEnergyTableVersion = 1;

struct EnergyTable {
  int version = kEnergyTableVersion;
  std::string name;
  std::string description;
  std::string technology;                         // process/voltage the numbers stand for, as text
  std::map<std::string, double> actions_pj;       // "synaptic_op.binary" -> pJ per action
  double static_power_mw_per_core = 0.0;
  std::map<std::string, int64_t> derived_for;     // chip parameters the numbers assume ("flit_bits")
  std::map<std::string, double> reference_primitives_pj;  // informational source numbers
  // Where published sources disagree on an action: the lowest and highest value they support
  // (low_pj / high_pj sections), around actions_pj's own. Absent actions have no spread.
  std::map<std::string, double> low_pj, high_pj;
  std::string source_path;

  // pJ for one `action`; throws EnergyTableError naming the action and this table if absent.
  double energy_pj(const std::string& action) const;
  bool has_action(const std::string& action) const { return actions_pj.count(action) != 0; }
  // The same table at the low (or high) end of every stated range: what a report prices to give
  // the spread of its figures.
  EnergyTable at_low_end() const;
  EnergyTable at_high_end() const;
  bool has_ranges() const { return !low_pj.empty() || !high_pj.empty(); }
};

// Every action a table must price, in schema order ("synaptic_op.binary", ...).
const std::vector<std::string>& energy_action_names();

// Loads and validates an energy table. Throws EnergyTableError listing every problem found.
EnergyTable load_energy_table(const std::string& path);

// Mismatches between the chip parameters a table was derived for and `chip` (for example a table
// priced for 64 KiB synapse SRAMs applied to a chip with 256-byte ones). Empty when compatible.
std::vector<std::string> energy_table_compatibility_warnings(const EnergyTable& table, const ChipSpec& chip);

const config::Schema& energy_table_schema();

// Markdown reference of the energy table format and the meaning of every action.
std::string describe_energy_table();

}  // namespace spiketile
