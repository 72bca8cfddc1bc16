#include "chips/energy_table.hpp"

#include <fmt/format.h>

#include <functional>
#include <optional>
#include <utility>

#include "chips/chip_spec.hpp"

namespace spiketile {

using config::Need;
using config::ParamSpec;
using config::ParamType;
using config::ParsedConfig;
using config::ProblemSink;
using config::SectionSpec;

namespace {

ParamSpec energy(std::string key, std::string description) {
  ParamSpec param;
  param.key = std::move(key);
  param.type = ParamType::number;
  param.unit = "pJ";
  param.min_value = 0.0;
  param.description = std::move(description);
  return param;
}

ParamSpec chip_parameter(std::string key, std::string unit, std::string description) {
  ParamSpec param;
  param.key = std::move(key);
  param.unit = std::move(unit);
  param.need = Need::optional;
  param.min_value = 1;
  param.description = fmt::format("The chip's `{}` the numbers assume.", description);
  return param;
}

// Each pair: derived_for key, and how to read the same quantity from a chip.
const std::vector<std::pair<std::string, std::function<int64_t(const ChipSpec&)>>>& derived_for_getters() {
  static const std::vector<std::pair<std::string, std::function<int64_t(const ChipSpec&)>>> kGetters{
      {"weight_bits", [](const ChipSpec& c) { return int64_t{c.core.weight_bits}; }},
      {"activation_bits", [](const ChipSpec& c) { return int64_t{c.core.activation_bits}; }},
      {"accumulator_bits", [](const ChipSpec& c) { return int64_t{c.core.accumulator_bits}; }},
      {"membrane_bits", [](const ChipSpec& c) { return int64_t{c.core.membrane_bits}; }},
      {"synapse_sram_bytes", [](const ChipSpec& c) { return c.core.synapse_sram.size_bytes; }},
      {"synapse_read_width_bits", [](const ChipSpec& c) { return int64_t{c.core.synapse_sram.access_width_bits}; }},
      {"state_sram_bytes", [](const ChipSpec& c) { return c.core.state_sram.size_bytes; }},
      {"state_access_width_bits", [](const ChipSpec& c) { return int64_t{c.core.state_sram.access_width_bits}; }},
      {"flit_bits", [](const ChipSpec& c) { return int64_t{c.router.flit_bits}; }},
      {"sfu_operand_bits", [](const ChipSpec& c) { return int64_t{c.core.sfu.operand_bits}; }},
  };
  return kGetters;
}

config::Schema build_energy_schema() {
  config::Schema schema;
  ParamSpec static_power;
  static_power.key = "static_power_mw_per_core";
  static_power.type = ParamType::number;
  static_power.unit = "mW";
  static_power.min_value = 0.0;
  static_power.description =
      "Static (leakage and clock) power of one tile, a core including its router, drawn for the whole run while "
      "the tile is powered; a tile the chip's `power.gating` switches off draws its `gated_static_fraction` of it.";
  schema.push_back(SectionSpec{
      "",
      "Identity of the table and static power. Every number must carry its source in a `#` comment.",
      false,
      {config::version_param(kEnergyTableVersion), config::string_param("name", Need::required, "Short name, used in reports."),
       config::string_param("description", Need::defaulted, "What the table stands for and how it was derived."),
       config::string_param("technology", Need::required, "Process node and supply the numbers stand for, as text."),
       static_power},
      std::nullopt});

  schema.push_back(SectionSpec{"energy_pj", "Dynamic energy per counted action, grouped by component.", false, {},
                               std::nullopt});
  schema.push_back(SectionSpec{
      "energy_pj.synaptic_op",
      "Synaptic operations: one weight of the crossbar applied to one input event. The weight's SRAM read "
      "is counted separately as `sram.synapse_read`.",
      false,
      {energy("binary", "A weight added to a neuron's accumulator because a binary spike arrived on its axon."),
       energy("graded", "A weight × activation_bits-bit value multiply-accumulate for a graded event."),
       energy("bit_serial",
              "One shifted add of a weight for one set bit of a graded value; a bit-serial graded op costs "
              "popcount(value) of these.")},
      std::nullopt});
  schema.push_back(SectionSpec{
      "energy_pj.neuron_update",
      "Neuron-unit updates of one neuron. State SRAM traffic is counted separately as `sram.state_*`.",
      false,
      {energy("lif", "A leaky integrate-and-fire update: leak, integrate, threshold compare, reset."),
       energy("other",
              "An update with any other neuron function (relu, relu2, identity, integrate_and_fire), priced at "
              "the costliest of them.")},
      std::nullopt});
  schema.push_back(SectionSpec{
      "energy_pj.sram",
      "SRAM accesses, each of the chip's access width for that SRAM.",
      false,
      {energy("synapse_read", "One read of read_width_bits from the synapse SRAM."),
       energy("state_read", "One read of access_width_bits from the state SRAM."),
       energy("state_write", "One write of access_width_bits to the state SRAM.")},
      std::nullopt});
  schema.push_back(SectionSpec{
      "energy_pj.core",
      "Core-level event handling.",
      false,
      {energy("event_out", "One outgoing event packetised: destination lookup and injection into the router.")},
      std::nullopt});
  schema.push_back(SectionSpec{
      "energy_pj.router",
      "On-chip network.",
      false,
      {energy("flit_hop",
              "One flit-hop: a flit leaving a router for the next one, mesh or inter-chip (buffer write and read, "
              "route, arbitrate, crossbar, and the link to that router). A packet of f flits crossing h links "
              "makes f·h, as the statistics count them; an inter-chip link adds `link.inter_chip_flit`."),
       energy("flit_delivery",
              "One flit handed from its destination router into the router's own core (buffer, crossbar and "
              "the local port): one per flit and destination core, the last router of every path.")},
      std::nullopt});
  schema.push_back(SectionSpec{
      "energy_pj.link",
      "Between chips.",
      false,
      {energy("inter_chip_flit", "One flit across one inter-chip link, gateway to gateway.")},
      std::nullopt});
  schema.push_back(SectionSpec{
      "energy_pj.dram",
      "Off-chip DRAM. The chip keeps weights and state on chip and never counts it; dense baselines that "
      "stream weights and state every token do.",
      false,
      {energy("access", "One 64-bit read or write of off-chip DRAM, interface included.")},
      std::nullopt});
  schema.push_back(SectionSpec{
      "energy_pj.sfu",
      "Special-function unit operations, each per element of sfu.operand_bits.",
      false,
      {energy("exp", "One exponential."), energy("sigmoid", "One logistic sigmoid."),
       energy("rsqrt", "One reciprocal square root."), energy("reciprocal", "One reciprocal."),
       energy("divide", "One division."), energy("multiply", "One element-wise product."),
       energy("mean_var",
              "One element folded into LayerNorm statistics (running sum and sum of squares); the per-vector "
              "finalisation is not counted separately.")},
      std::nullopt});

  std::vector<ParamSpec> derived_for;
  derived_for.push_back(chip_parameter("weight_bits", "bits", "core.weight_bits"));
  derived_for.push_back(chip_parameter("activation_bits", "bits", "core.activation_bits"));
  derived_for.push_back(chip_parameter("accumulator_bits", "bits", "core.accumulator_bits"));
  derived_for.push_back(chip_parameter("membrane_bits", "bits", "core.membrane_bits"));
  derived_for.push_back(chip_parameter("synapse_sram_bytes", "bytes", "core.synapse_sram.size_bytes"));
  derived_for.push_back(chip_parameter("synapse_read_width_bits", "bits", "core.synapse_sram.read_width_bits"));
  derived_for.push_back(chip_parameter("state_sram_bytes", "bytes", "core.state_sram.size_bytes"));
  derived_for.push_back(chip_parameter("state_access_width_bits", "bits", "core.state_sram.access_width_bits"));
  derived_for.push_back(chip_parameter("flit_bits", "bits", "router.flit_bits"));
  derived_for.push_back(chip_parameter("sfu_operand_bits", "bits", "core.sfu.operand_bits"));
  schema.push_back(SectionSpec{
      "derived_for",
      "The chip parameters the per-action numbers assume; a chip that differs gets a compatibility warning.",
      true, std::move(derived_for), std::nullopt});

  // low_pj / high_pj mirror energy_pj, every key optional: the ends of the range the sources give
  // for an action whose sources disagree.
  std::vector<SectionSpec> ranges;
  for (const char* end : {"low_pj", "high_pj"}) {
    const bool low = std::string(end) == "low_pj";
    ranges.push_back(SectionSpec{end,
                                 low ? "Where published sources disagree on an action's energy: the lowest value they "
                                       "support (at most the action's energy_pj). Optional, as every key below."
                                     : "Where published sources disagree: the highest value they support (at least "
                                       "the action's energy_pj).",
                                 true, {}, std::nullopt});
    for (const SectionSpec& section : schema) {
      if (section.path.rfind("energy_pj.", 0) != 0) continue;
      SectionSpec mirrored{std::string(end) + section.path.substr(std::string("energy_pj").size()),
                           fmt::format("The {} end of `{}` actions.", low ? "low" : "high", section.path), true, {},
                           std::nullopt};
      for (ParamSpec param : section.params) {
        param.need = Need::optional;
        param.description = fmt::format("{} end of `{}.{}`.", low ? "Low" : "High", section.path, param.key);
        mirrored.params.push_back(param);
      }
      ranges.push_back(mirrored);
    }
  }
  schema.insert(schema.end(), ranges.begin(), ranges.end());

  ParamSpec primitive = energy("", "A source number (e.g. Horowitz's int8 add) the actions were derived from.");
  schema.push_back(SectionSpec{"reference_primitives_pj",
                               "Informational: the published primitive energies the table was built from.", true,
                               {}, primitive});
  return schema;
}

}  // namespace

const config::Schema& energy_table_schema() {
  static const config::Schema kSchema = build_energy_schema();
  return kSchema;
}

const std::vector<std::string>& energy_action_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    const std::string prefix = "energy_pj.";
    for (const SectionSpec& section : energy_table_schema()) {
      if (section.path.compare(0, prefix.size(), prefix) != 0) continue;
      for (const ParamSpec& param : section.params) names.push_back(section.path.substr(prefix.size()) + "." + param.key);
    }
    return names;
  }();
  return kNames;
}

std::string describe_energy_table() { return config::describe_markdown(energy_table_schema()); }

double EnergyTable::energy_pj(const std::string& action) const {
  auto found = actions_pj.find(action);
  if (found != actions_pj.end()) return found->second;
  std::vector<std::string> known;
  for (const auto& [known_action, pj] : actions_pj) known.push_back(known_action);
  std::string suggestion = config::closest_match(action, known);
  throw EnergyTableError(fmt::format("energy table '{}' ({}) has no action '{}'{}", name, source_path, action,
                                     suggestion.empty() ? "" : fmt::format(" (did you mean '{}'?)", suggestion)));
}

EnergyTable load_energy_table(const std::string& path) {
  ProblemSink sink(path);
  const ParsedConfig parsed = config::parse_file(path, energy_table_schema(), sink);
  config::check_version(parsed, kEnergyTableVersion, "energy table", sink);

  // Problems of the ranges are reported with those of the parse, all at once.
  EnergyTable table;
  table.source_path = path;
  table.version = static_cast<int>(parsed.integer("version").value_or(0));
  table.name = parsed.string("name").value_or("");
  table.description = parsed.string("description").value_or("");
  table.technology = parsed.string("technology").value_or("");
  table.static_power_mw_per_core = parsed.number("static_power_mw_per_core").value_or(0.0);
  for (const std::string& action : energy_action_names()) {
    const std::optional<double> stated = parsed.number("energy_pj." + action);
    table.actions_pj[action] = stated.value_or(0.0);
    const double value = table.actions_pj[action];
    if (const auto low = parsed.number("low_pj." + action)) {
      if (stated && *low > value)
        sink.add(parsed.position("low_pj." + action),
                 fmt::format("low_pj.{}: {} pJ is above the action's energy_pj ({} pJ); a range's low end must not be",
                             action, *low, value));
      table.low_pj[action] = *low;
    }
    if (const auto high = parsed.number("high_pj." + action)) {
      if (stated && *high < value)
        sink.add(parsed.position("high_pj." + action),
                 fmt::format("high_pj.{}: {} pJ is below the action's energy_pj ({} pJ); a range's high end must not be",
                             action, *high, value));
      table.high_pj[action] = *high;
    }
  }
  if (!sink.empty()) throw EnergyTableError(config::problems_headline("energy table", sink), sink.sorted());
  for (const auto& [key, getter] : derived_for_getters()) {
    if (auto value = parsed.integer("derived_for." + key)) table.derived_for[key] = *value;
  }
  for (const std::string& key : parsed.keys_under("reference_primitives_pj")) {
    table.reference_primitives_pj[key] = parsed.number("reference_primitives_pj." + key).value_or(0.0);
  }
  return table;
}

namespace {
EnergyTable at_end(const EnergyTable& t, const std::map<std::string, double>& end, const char* which) {
  EnergyTable e = t;
  for (const auto& [action, pj] : end) e.actions_pj[action] = pj;
  e.low_pj.clear();
  e.high_pj.clear();
  e.name = t.name + " (" + which + ")";
  return e;
}
}  // namespace

EnergyTable EnergyTable::at_low_end() const { return at_end(*this, low_pj, "low"); }
EnergyTable EnergyTable::at_high_end() const { return at_end(*this, high_pj, "high"); }

std::vector<std::string> energy_table_compatibility_warnings(const EnergyTable& table, const ChipSpec& chip) {
  std::vector<std::string> warnings;
  for (const auto& [key, getter] : derived_for_getters()) {
    auto assumed = table.derived_for.find(key);
    if (assumed == table.derived_for.end()) continue;
    const int64_t actual = getter(chip);
    if (actual != assumed->second) {
      warnings.push_back(fmt::format("energy table '{}' was derived for {} = {}, but chip '{}' has {}", table.name,
                                     key, assumed->second, chip.name, actual));
    }
  }
  return warnings;
}

}  // namespace spiketile
