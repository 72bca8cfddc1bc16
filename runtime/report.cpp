#include "runtime/report.hpp"

#include "runtime/report_parts.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "compiler/placement.hpp"
#include "models/spikegpt.hpp"
#include "runtime/power_states.hpp"

namespace spiketile {

using nlohmann::json;

GradedEncoding parse_graded_encoding(const std::string& name) {
  if (name == "graded") return GradedEncoding::Graded;
  if (name == "bit_serial") return GradedEncoding::BitSerial;
  throw std::invalid_argument(fmt::format("encoding must be graded or bit_serial (got '{}')", name));
}

const char* graded_encoding_name(GradedEncoding e) { return e == GradedEncoding::Graded ? "graded" : "bit_serial"; }

ActionMapping action_mapping(const ChipSpec& chip, GradedEncoding encoding) {
  ActionMapping m;
  m.synapse_read_width_bits = chip.core.synapse_sram.access_width_bits;
  m.state_access_width_bits = chip.core.state_sram.access_width_bits;
  m.encoding = encoding;
  return m;
}

ActionCounts chip_actions(const Counts& c, double lif_updates, const ActionMapping& m) {
  const bool graded = m.encoding == GradedEncoding::Graded;
  ActionCounts a;
  a["synaptic_op.binary"] = double(c.sop_binary);
  a["synaptic_op.graded"] = graded ? double(c.sop_graded) : 0.0;
  a["synaptic_op.bit_serial"] = graded ? 0.0 : double(c.sop_bit_serial);
  a["neuron_update.lif"] = lif_updates;
  a["neuron_update.other"] = double(c.neuron_updates) - lif_updates;
  // Counted weight bits are those of crossbar SOPs (one weight read per SOP, graded or a binary
  // spike-input variant's); a bit-serial event re-reads its weights for every set bit, so the graded
  // SOPs' reads become the bit-serial SOPs'.
  double weight_bits = double(c.synapse_read_bits);
  if (!graded) weight_bits += double(c.sop_bit_serial - c.sop_graded) * m.weight_bits;
  a["sram.synapse_read"] = weight_bits / m.synapse_read_width_bits;
  a["sram.state_read"] = double(c.state_read_bytes) * 8 / m.state_access_width_bits;
  a["sram.state_write"] = double(c.state_write_bytes) * 8 / m.state_access_width_bits;
  a["core.event_out"] = double(c.events_binary) + double(graded ? c.events_graded : c.events_bit_serial);
  for (int i = 0; i < kSfuCount; ++i) a[std::string("sfu.") + sfu_name(Sfu(i))] = double(c.sfu[i]);
  return a;
}

ActionCounts core_actions(const CoreWork& core) {
  ActionCounts a;
  a["synaptic_op.binary"] = double(core.sop_binary);
  a["synaptic_op.graded"] = double(core.sop_graded);
  a["synaptic_op.bit_serial"] = double(core.sop_bit_serial);
  a["neuron_update.lif"] = double(core.neuron_updates_lif);
  a["neuron_update.other"] = double(core.neuron_updates_other);
  a["sram.synapse_read"] = double(core.synapse_reads);
  a["sram.state_read"] = double(core.state_reads);
  a["sram.state_write"] = double(core.state_writes);
  a["core.event_out"] = double(core.events_out);
  for (const auto& [name, n] : core.sfu) a["sfu." + name] += double(n);
  return a;
}

double price_pj(const ActionCounts& actions, const EnergyTable& table) {
  double pj = 0;
  for (const auto& [action, n] : actions)
    if (n != 0) pj += n * table.energy_pj(action);
  return pj;
}

PaperEnergy paper_table1(const PaperSetting& s) {
  const double T = s.tokens, d = s.width;
  const double projections = 3 * T * d * d;  // Q/R, K, V rows
  const double ffn = 9 * T * d * d;          // FL_MLP1..3 = d·4d + d·d + 4d·d per token, times T
  PaperEnergy e;
  e.vanilla_pj = s.e_mac_pj * (projections + ffn);
  if (s.quadratic_attention) e.vanilla_pj += s.e_mac_pj * (2 * T * T * d + T * T + 2 * T * T);
  e.spikegpt_pj = s.e_ac_pj * s.rate * (projections + ffn) + s.e_mac_pj * s.wkv_macs_per_channel * T * d;
  return e;
}

// The mesh as the simulator measured it: every core's utilization (busy cycles over the run's
// cycles; null where no unit ran) and every link's flits, by the router that sends on it, from the
// network's named statistics (noc.router[i].out.<port>.flits). A link that leaves its chip's mesh
// is an inter-chip link. Null without per-core counters.
json mesh_view(const ChipSpec& chip, const RunStats& s) {
  if (!s.cores || !s.cycles || s.cycles->total <= 0) return nullptr;
  const Topology topology(chip);
  json cores = json::array();
  std::map<int, const CoreStats*> by_index;
  for (const CoreStats& c : *s.cores) by_index[c.index] = &c;
  for (int i = 0; i < topology.core_count(); ++i) {
    const CoreCoord at = topology.coord(i);
    const auto it = by_index.find(i);
    json core{{"core", i}, {"chip", at.chip}, {"row", at.row}, {"col", at.col}};
    if (it == by_index.end()) {
      core["unit"] = nullptr;
      core["utilization"] = nullptr;
    } else {
      core["unit"] = it->second->unit;
      core["utilization"] = double(it->second->busy_cycles) / double(s.cycles->total);
    }
    cores.push_back(core);
  }
  json links = json::array();
  if (s.network && !s.network->detail_json.empty()) {
    const json detail = json::parse(s.network->detail_json);
    for (int i = 0; i < topology.core_count(); ++i) {
      const CoreCoord at = topology.coord(i);
      for (int p = 0; p < kMeshPortCount; ++p) {
        const auto it = detail.find(fmt::format("noc.router[{}].out.{}.flits", i, port_name(Port(p))));
        if (it == detail.end() || !it->is_number() || it->get<double>() <= 0) continue;
        const int row = at.row + (p == int(Port::south)) - (p == int(Port::north));
        const int col = at.col + (p == int(Port::east)) - (p == int(Port::west));
        const bool inter_chip = row < 0 || col < 0 || row >= topology.mesh_rows() || col >= topology.mesh_cols();
        links.push_back({{"core", i}, {"port", port_name(Port(p))}, {"flits", it->get<int64_t>()}, {"inter_chip", inter_chip}});
      }
    }
  }
  return {{"chip_grid", {topology.params().chip_grid_rows, topology.params().chip_grid_cols}},
          {"mesh", {topology.mesh_rows(), topology.mesh_cols()}},
          {"cycles", s.cycles->total},
          {"cores", cores},
          {"links", links}};
}

// The compiler's critical path for the mapping that ran, beside what the chip measured: the
// stages (when each tensor sends), the path's steps, and the path's cycles by layer. Null when the
// statistics carry no estimate (not a simulator run, or a mapping compiled without a profile).
json critical_path_view(const RunStats& s) {
  if (!s.estimate) return nullptr;
  const StatsEstimate& e = *s.estimate;
  json j = estimate_to_json(e);
  std::map<int, double> by_layer;
  double on_path = 0;
  for (const auto& step : e.critical_path) {
    by_layer[step.layer] += step.end - step.start;
    on_path += step.end - step.start;
  }
  json layers = json::array();
  for (const auto& [layer, cycles] : by_layer)
    layers.push_back({{"layer", layer < 0 ? json("global") : json(layer)},
                      {"cycles", cycles},
                      {"share", on_path > 0 ? cycles / on_path : 0.0}});
  j["per_layer"] = layers;
  if (s.cycles) {
    const int64_t decode = s.tokens.steps - s.cycles->prefill_steps;
    int64_t decode_cycles = 0;
    for (std::size_t i = std::size_t(s.cycles->prefill_steps); i < s.cycles->per_step.size(); ++i)
      decode_cycles += s.cycles->per_step[i];
    j["measured_decode_cycles_per_token"] = decode > 0 ? json(double(decode_cycles) / double(decode)) : json();
  } else {
    j["measured_decode_cycles_per_token"] = nullptr;
  }
  return j;
}

namespace {

bool is_lif(Op op) { return op == Op::AttLif || op == Op::FfnLif; }

int64_t sfu_total(const Counts& c) { return std::accumulate(c.sfu.begin(), c.sfu.end(), int64_t{0}); }

// Counts of one op summed over the run, with the op it belongs to.
struct OpCounts {
  int layer;  // -1 for global ops
  Op op;
  const Counts* counts;
};

std::vector<OpCounts> all_ops(const TokenCounts& t) {
  std::vector<OpCounts> ops;
  for (int k = 0; k < kOpCount; ++k)
    if (!op_is_per_layer(Op(k))) ops.push_back({-1, Op(k), &t.global[k]});
  for (std::size_t i = 0; i < t.layers.size(); ++i)
    for (int k = 0; k < kOpCount; ++k)
      if (op_is_per_layer(Op(k))) ops.push_back({int(i), Op(k), &t.layers[i][k]});
  return ops;
}

json counts_per_token_json(const Counts& c, double steps) {
  return {{"sop_binary", c.sop_binary / steps},
          {"sop_graded", c.sop_graded / steps},
          {"sop_bit_serial", c.sop_bit_serial / steps},
          {"dense_macs", c.dense_macs / steps},
          {"neuron_updates", c.neuron_updates / steps},
          {"sfu_ops", sfu_total(c) / steps},
          {"spikes", c.spikes / steps},
          {"synapse_read_bits", c.synapse_read_bits / steps},
          {"state_read_bytes", c.state_read_bytes / steps},
          {"state_write_bytes", c.state_write_bytes / steps}};
}

}  // namespace

ActionCounts& operator+=(ActionCounts& a, const ActionCounts& b) {
  for (const auto& [action, n] : b) a[action] += n;
  return a;
}

ActionCounts scaled(ActionCounts a, double factor) {
  for (auto& [action, n] : a) n *= factor;
  return a;
}

json actions_json(const ActionCounts& a) {
  json j = json::object();
  for (const auto& [action, n] : a) j[action] = n;
  return j;
}

// One breakdown row: its actions per token, priced.
json breakdown_row(json row, const ActionCounts& per_token, const EnergyTable& table) {
  row["energy_per_token_pj"] = price_pj(per_token, table);
  row["actions_per_token"] = actions_json(per_token);
  return row;
}

// The component an energy-table action belongs to, for the by-component view (docs/report.md).
std::string energy_component(const std::string& action) {
  auto starts = [&action](const char* prefix) { return action.rfind(prefix, 0) == 0; };
  if (starts("synaptic_op.") || starts("neuron_update.") || starts("sfu.")) return "compute";
  if (action == "sram.synapse_read") return "synapse SRAM";
  if (starts("sram.state_")) return "state SRAM";
  if (action == "core.event_out" || starts("router.") || starts("link.")) return "network and events";
  return "other";
}

std::string table_source(const EnergyTable& t) { return fmt::format("{} ({})", t.name, t.source_path); }

// The tiles that drew static power and how much of it (docs/report.md §1): powered tiles draw all
// of static_power_mw_per_core, gated tiles gated_static_fraction of it. A stats file without a
// power section predates power states; it is charged as policy none, and the summary says so.
StatsPower charged_power(const StatsChip& chip, const std::optional<StatsPower>& recorded) {
  if (recorded) return *recorded;
  StatsPower p;
  p.gating = power_gating_name(PowerGating::none);
  p.tiles_total = p.tiles_powered = chip.cores_total;
  p.chips_total = p.chips_powered = chip.chips;
  return p;
}

json power_json(const StatsChip& chip, const std::optional<StatsPower>& recorded) {
  const StatsPower p = charged_power(chip, recorded);
  const std::string policy = p.gating == power_gating_name(PowerGating::none) ? "no" : p.gating;
  std::string summary = p.tiles_gated == 0
                            ? fmt::format("{} gating: all {} tiles powered", policy, p.tiles_total)
                            : fmt::format("{} gating: {} of {} tiles powered, {} gated at {:.3g} %", policy,
                                          p.tiles_powered, p.tiles_total, p.tiles_gated, 100 * p.gated_static_fraction);
  if (p.chips_powered < p.chips_total) summary += fmt::format(", {} of {} chips on", p.chips_powered, p.chips_total);
  if (!recorded) summary += "; the stats file has no power section (written before power states), so none is assumed";
  return {{"gating", p.gating},
          {"gated_static_fraction", p.gated_static_fraction},
          {"tiles_total", p.tiles_total},
          {"tiles_powered", p.tiles_powered},
          {"tiles_gated", p.tiles_gated},
          {"tiles_routing_only", recorded ? json(p.tiles_routing_only) : json(nullptr)},
          {"chips_total", p.chips_total},
          {"chips_powered", p.chips_powered},
          {"charged_tiles", charged_tiles(p)},
          {"recorded", bool(recorded)},
          {"summary", summary}};
}

// The measurement files as the report shows them: each file's own JSON (runtime/gpu_measured.hpp)
// with its path, and per row the energy per token in pJ and the step's latency, the units of the
// rest of the report. Null when no file was given.
json measured_json(const std::vector<GpuMeasurement>& files) {
  if (files.empty()) return nullptr;
  json all = json::array();
  for (const GpuMeasurement& m : files) {
    json file = gpu_measurement_to_json(m);
    file["file"] = m.source_path;
    for (auto& row : file["rows"]) {
      row["energy_per_token_pj"] = row["energy_per_token_j"].is_null() ? json(nullptr) : json(row["energy_per_token_j"].get<double>() * 1e12);
      row["latency_per_step_ns"] = 1e9 / row["steps_per_s"].get<double>();
    }
    all.push_back(file);
  }
  return all;
}

std::string convention_row_name(const json& row) {
  return fmt::format("GPU dense, 45 nm convention + DDR DRAM (Horowitz), batch {}", row["batch"].get<int>());
}

std::string gpu_memory_row_name(const std::string& gpu_name, const json& row) {
  return fmt::format("GPU dense, 45 nm convention + {} {}, batch {}", gpu_name,
                     row["gpu_memory"]["level"].get<std::string>(), row["batch"].get<int>());
}

std::string measured_row_name(const json& file, const json& row) {
  return fmt::format("{} measured, {} {}, batch {}", file["gpu"]["name"].get<std::string>(),
                     row["precision"].get<std::string>(), row["variant"].get<std::string>(), row["batch"].get<int>());
}

// The chip's energy over the run (dynamic from the actions, static from the simulated time and the
// tiles that drew power), per step, by component, with latency and throughput where measured.
json chip_section(const ReportInputs& in, const ActionCounts& run_actions, const std::string& counts_source,
                  const json& warnings) {
  const RunStats& s = in.stats;
  const EnergyTable& table = in.table;
  const double steps = double(s.tokens.steps);
  json action_rows = json::array();
  const double dynamic_pj = price_pj(run_actions, table);
  for (const auto& [action, n] : run_actions) {
    const double each = table.energy_pj(action);
    action_rows.push_back({{"action", action},
                           {"count", n},
                           {"count_per_token", n / steps},
                           {"pj_each", each},
                           {"energy_pj", n * each},
                           {"energy_per_token_pj", n * each / steps},
                           {"share", dynamic_pj > 0 ? n * each / dynamic_pj : 0.0}});
  }
  json chip;
  chip["counts_source"] = counts_source;
  chip["actions"] = action_rows;
  chip["dynamic_energy_pj"] = dynamic_pj;
  chip["dynamic_per_token_pj"] = dynamic_pj / steps;
  chip["static_power_mw_per_core"] = table.static_power_mw_per_core;
  std::optional<double> run_seconds;
  if (s.cycles && s.chip) {
    run_seconds = double(s.cycles->total) / (s.chip->clock_mhz * 1e6);
    const json power = power_json(*s.chip, s.power);
    const double static_pj = static_energy_pj(table, charged_power(*s.chip, s.power), *run_seconds);
    chip["power"] = power;
    chip["cores_total"] = s.chip->cores_total;
    chip["cores_used"] = s.chip->cores_used;
    chip["run_seconds"] = *run_seconds;
    chip["static_energy_pj"] = static_pj;
    chip["static_per_token_pj"] = static_pj / steps;
    chip["energy_per_token_pj"] = (dynamic_pj + static_pj) / steps;
    chip["latency_per_token_ns"] = double(s.cycles->total) / steps / s.chip->clock_mhz * 1e3;
    chip["tokens_per_s"] = steps / *run_seconds;
    // A pipelined prefill overlaps its tokens: its throughput and the decode's latency apart.
    const double mhz = s.chip->clock_mhz;
    const int64_t prefill = s.cycles->prefill_steps, decode = int64_t(s.cycles->per_step.size()) - prefill;
    chip["prefill_tokens"] = prefill;
    chip["prefill_tokens_per_s"] = prefill > 0 ? json(double(prefill) / (double(s.cycles->prefill_cycles) / (mhz * 1e6))) : json();
    int64_t decode_cycles = 0;
    for (std::size_t i = std::size_t(prefill); i < s.cycles->per_step.size(); ++i) decode_cycles += s.cycles->per_step[i];
    chip["decode_tokens"] = decode;
    chip["decode_latency_per_token_ns"] = decode > 0 ? json(double(decode_cycles) / double(decode) / mhz * 1e3) : json();
  } else {
    chip["power"] = nullptr;  // not measured: no simulated time, so no static energy to split
    chip["cores_total"] = nullptr;
    chip["cores_used"] = nullptr;
    chip["run_seconds"] = nullptr;
    chip["static_energy_pj"] = nullptr;  // not measured: no simulated time
    chip["static_per_token_pj"] = nullptr;
    chip["energy_per_token_pj"] = dynamic_pj / steps;
    chip["latency_per_token_ns"] = nullptr;
    chip["tokens_per_s"] = nullptr;
    chip["prefill_tokens"] = nullptr;
    chip["prefill_tokens_per_s"] = nullptr;
    chip["decode_tokens"] = nullptr;
    chip["decode_latency_per_token_ns"] = nullptr;
  }
  chip["energy_includes_static"] = bool(run_seconds);
  // The run's energy per token under a table: dynamic, and static where the run was timed.
  struct PerToken {
    double dynamic;
    std::optional<double> static_pj;
    double total() const { return dynamic + static_pj.value_or(0.0); }
  };
  const auto per_token_under = [&](const EnergyTable& t) {
    PerToken e{price_pj(run_actions, t) / steps, std::nullopt};
    if (run_seconds) e.static_pj = static_energy_pj(t, charged_power(*s.chip, s.power), *run_seconds) / steps;
    return e;
  };
  // The ends of the ranges the table gives where its sources disagree (null without ranges).
  const auto ends = [&](const EnergyTable& t, json& into) {
    into["low_per_token_pj"] = t.has_ranges() ? json(per_token_under(t.at_low_end()).total()) : json();
    into["high_per_token_pj"] = t.has_ranges() ? json(per_token_under(t.at_high_end()).total()) : json();
  };
  chip["range"] = json();
  if (table.has_ranges()) {
    json range, disputed = json::array();
    for (const auto& [action, pj] : table.actions_pj) {
      const auto low = table.low_pj.find(action), high = table.high_pj.find(action);
      const auto counted = run_actions.find(action);
      if ((low == table.low_pj.end() && high == table.high_pj.end()) || counted == run_actions.end() ||
          counted->second == 0)
        continue;  // agreed on, or never counted in this run: no spread
      disputed.push_back({{"action", action},
                          {"low", low != table.low_pj.end() ? low->second : pj},
                          {"pj_each", pj},
                          {"high", high != table.high_pj.end() ? high->second : pj}});
    }
    ends(table, range);
    range["actions"] = disputed;
    chip["range"] = range;
  }
  // The same actions and simulated time under every shipped table (null when none was given).
  json tables = json::array();
  for (const EnergyTable& other : in.side_by_side) {
    json row{{"name", other.name}, {"path", other.source_path}, {"technology", other.technology}};
    try {
      const PerToken e = per_token_under(other);
      const double total = e.total();
      row["dynamic_per_token_pj"] = e.dynamic;
      row["static_per_token_pj"] = e.static_pj ? json(*e.static_pj) : json();
      row["energy_per_token_pj"] = total;
      row["ratio_to_report_table"] = chip["energy_per_token_pj"].get<double>() > 0
                                         ? total / chip["energy_per_token_pj"].get<double>()
                                         : 0.0;
      ends(other, row);
    } catch (const std::exception& e) {
      row["unavailable"] = e.what();  // the table lacks an action the run counted
    }
    tables.push_back(row);
  }
  chip["side_by_side"] = in.side_by_side.empty() ? json() : tables;
  chip["warnings"] = warnings;
  // Shares of the whole energy per token, static included where it was measured: the dynamic-only
  // share ("share") hides static energy however large it is.
  const double total_per_token = chip["energy_per_token_pj"].get<double>();
  std::map<std::string, double> component_pj;
  for (auto& a : chip["actions"]) {
    const double e = a["energy_per_token_pj"].get<double>();
    a["share_of_total"] = total_per_token > 0 ? e / total_per_token : 0.0;
    component_pj[energy_component(a["action"].get<std::string>())] += e;
  }
  if (!chip["static_per_token_pj"].is_null()) component_pj["static"] = chip["static_per_token_pj"].get<double>();
  json components = json::array();
  for (const char* name : {"compute", "synapse SRAM", "state SRAM", "network and events", "other", "static"}) {
    if (!component_pj.count(name)) continue;
    components.push_back({{"component", name},
                          {"energy_per_token_pj", component_pj[name]},
                          {"share_of_total", total_per_token > 0 ? component_pj[name] / total_per_token : 0.0}});
  }
  chip["components"] = components;
  return chip;
}

// Each step's counts, dynamic energy, network traffic and cycles. Only step totals are stored per
// step: `lif_share` of each step's neuron updates are LIF updates.
json per_step_rows(const ReportInputs& in, const ActionMapping& mapping, double lif_share) {
  const RunStats& s = in.stats;
  const EnergyTable& table = in.table;
  json per_token = json::array();
  for (std::size_t i = 0; i < s.counts.per_step.size(); ++i) {
    const Counts& c = s.counts.per_step[i];
    // The simulator's cores' work of the step where recorded: what the run's headline prices
    // (whole SRAM accesses); else the functional counts mapped to actions.
    ActionCounts a = s.cores_per_step ? core_actions((*s.cores_per_step)[i])
                                      : chip_actions(c, lif_share * double(c.neuron_updates), mapping);
    json row{{"step", i}, {"sop_binary", c.sop_binary}, {"sop_graded", c.sop_graded},
             {"sop_bit_serial", c.sop_bit_serial}, {"dense_macs", c.dense_macs},
             {"neuron_updates", c.neuron_updates}, {"sfu_ops", sfu_total(c)}, {"spikes", c.spikes},
             {"synapse_read_bits", c.synapse_read_bits}, {"state_read_bytes", c.state_read_bytes},
             {"state_write_bytes", c.state_write_bytes}};
    if (s.network && !s.network->per_step.empty()) {
      const NetworkStepStats& n = s.network->per_step[i];
      a += network_actions(n);
      row["flit_hops"] = n.flit_hops;
      row["flits_delivered"] = n.flits_delivered;
      row["inter_chip_flits"] = n.inter_chip_flits;
    } else {
      row["flit_hops"] = nullptr;
      row["flits_delivered"] = nullptr;
      row["inter_chip_flits"] = nullptr;
    }
    row["dynamic_energy_pj"] = price_pj(a, table);
    if (s.cycles) {
      row["cycles"] = s.cycles->per_step[i];
      row["latency_ns"] = double(s.cycles->per_step[i]) / s.chip->clock_mhz * 1e3;
    } else {
      row["cycles"] = nullptr;
      row["latency_ns"] = nullptr;
    }
    per_token.push_back(row);
  }
  return per_token;
}

namespace {

// The batches every dense baseline is shown at: 1 and the report's.
std::vector<int> baseline_batches(const ReportInputs& in) {
  std::vector<int> batches{1};
  if (in.batch != 1) batches.push_back(in.batch);
  return batches;
}

std::string megabytes(double bytes) { return fmt::format("{:.3g} MB", bytes / 1e6); }

// A per-bit energy with the range its sources give: "0.906 pJ/bit (0.906 to 1.56 where sources disagree)".
std::string per_bit(const BitEnergy& e) {
  if (e.low == e.pj && e.high == e.pj) return fmt::format("{:g} pJ/bit", e.pj);
  return fmt::format("{:g} pJ/bit ({:g} to {:g} where sources disagree)", e.pj, e.low, e.high);
}

}  // namespace

WeightResidence weight_residence(const GpuSpec& gpu, const DenseWork& w, int batch) {
  WeightResidence r;
  r.held_bytes = w.weight_bytes + batch * w.state_held_bytes;
  r.capacity_bytes = gpu.l2_resident_mb * 1e6;
  r.in_l2 = r.capacity_bytes > 0 && r.held_bytes <= r.capacity_bytes;
  r.bandwidth_tb_per_s = r.in_l2 ? gpu.l2_read_bandwidth_tb_per_s : gpu.memory_bandwidth_tb_per_s;
  r.energy = r.in_l2 ? gpu.l2_energy : gpu.hbm_energy;
  return r;
}

std::vector<std::string> memory_assumptions(const ReportInputs& in, const DenseWork& w) {
  const GpuSpec& gpu = in.gpu;
  std::vector<std::string> said;
  for (int b : baseline_batches(in)) {
    const WeightResidence r = weight_residence(gpu, w, b);
    const std::string held = fmt::format("{} of weights + {} × {} of recurrent state = {}", megabytes(w.weight_bytes),
                                         b, megabytes(w.state_held_bytes), megabytes(r.held_bytes));
    if (r.capacity_bytes <= 0)
      said.push_back(fmt::format("batch {}: weights and state read from HBM at {:g} TB/s every step: the spec gives "
                                 "no L2 figures",
                                 b, r.bandwidth_tb_per_s));
    else
      said.push_back(fmt::format(
          "batch {}: weights and state {} in the {}'s L2{}: {} {} {}, what data every SM reads can occupy of its "
          "{:g} MB L2 (each of its partitions keeps its own copy), read at {:g} TB/s",
          b, r.in_l2 ? "resident" : "read from HBM, not resident", gpu.name, r.in_l2 ? "" : " (too large)", held,
          r.in_l2 ? "<=" : ">", megabytes(r.capacity_bytes), gpu.l2_cache_mb, r.bandwidth_tb_per_s));
  }
  if (gpu.hbm_energy.given()) {
    std::string levels = "HBM " + per_bit(gpu.hbm_energy);
    if (gpu.l2_energy.given()) levels += ", L2 " + per_bit(gpu.l2_energy);
    said.push_back(fmt::format(
        "data movement beside the 45 nm convention: weight and state bytes read from where they reside at {}, a "
        "state write priced as a read; the roofline charges board power, which contains the memory's, so these "
        "per-bit figures price only those rows",
        levels));
  } else {
    said.push_back("the spec gives no energy per bit for its memories: no data-movement row for this GPU's own memory");
  }
  return said;
}

// The dense baseline's rows, per step: the 45 nm convention (compute, and data movement priced
// with the convention table's DDR-era DRAM and with the GPU's own memory where the weights
// reside) and the GPU roofline, at batch 1 and the report's batch. `prompt_tokens` steps are
// known in advance and run as one batched pass per sequence.
std::pair<json, json> dense_baseline_rows(const ReportInputs& in, const DenseWork& w, int64_t prompt_tokens) {
  const EnergyTable& conv = in.convention_table;
  const double steps = double(in.stats.tokens.steps);
  const double macs = w.macs, nonlinear_ops = w.nonlinear_ops, weight_bytes = w.weight_bytes, state_bytes = w.state_bytes;
  const double e_mac = conv.energy_pj("synaptic_op.graded");
  const double dram_pj_per_byte = conv.energy_pj("dram.access") / 8;
  const double conv_compute_pj = macs * e_mac + price_pj(w.nonlinear, conv);
  json convention = json::array(), roofline = json::array();
  for (int b : baseline_batches(in)) {
    const WeightResidence residence = weight_residence(in.gpu, w, b);
    const double dram_bytes = weight_bytes / b + state_bytes;
    json gpu_memory;  // null: the spec gives no energy per bit for where the weights reside
    if (residence.energy.given()) {
      const auto priced = [&](double pj_per_bit) { return dram_bytes * 8 * pj_per_bit; };
      gpu_memory = {{"level", residence.level()},
                    {"bytes", dram_bytes},
                    {"pj_per_bit", residence.energy.pj},
                    {"pj", priced(residence.energy.pj)},
                    {"total_pj", conv_compute_pj + priced(residence.energy.pj)},
                    {"low_total_pj", conv_compute_pj + priced(residence.energy.low)},
                    {"high_total_pj", conv_compute_pj + priced(residence.energy.high)}};
    }
    convention.push_back({{"batch", b},
                          {"compute_pj", conv_compute_pj},
                          {"mac_pj", macs * e_mac},
                          {"nonlinear_pj", conv_compute_pj - macs * e_mac},
                          {"dram_bytes", dram_bytes},
                          {"dram_pj", dram_bytes * dram_pj_per_byte},
                          {"total_pj", conv_compute_pj + dram_bytes * dram_pj_per_byte},
                          {"gpu_memory", gpu_memory}});
    const double compute_s =
        b * (2 * macs / (in.gpu.peak_dense_tensor_tflops * 1e12) + nonlinear_ops / (in.gpu.peak_fp32_tflops * 1e12));
    const double memory_s = (weight_bytes + b * state_bytes) / (residence.bandwidth_tb_per_s * 1e12);
    const double step_s = std::max(compute_s, memory_s);
    // The prompt's tokens are known in advance, so a GPU takes them in one batched pass per
    // sequence: the compute of all of them, the weights read once. The run's mean per token then
    // weighs that pass and the decode steps by their tokens, as the chip's mean does.
    const double prefill_compute_s = double(prompt_tokens) * compute_s;
    const double prefill_step_s = std::max(prefill_compute_s, memory_s);
    const double decode_pj = in.gpu.board_power_w * step_s / b * 1e12;
    const double prefill_pj = prompt_tokens ? in.gpu.board_power_w * prefill_step_s / (b * double(prompt_tokens)) * 1e12 : 0.0;
    roofline.push_back({{"batch", b},
                        {"weights_in", residence.level()},
                        {"held_bytes", residence.held_bytes},
                        {"memory_bandwidth_tb_per_s", residence.bandwidth_tb_per_s},
                        {"compute_s", compute_s},
                        {"memory_s", memory_s},
                        {"step_s", step_s},
                        {"bound", compute_s >= memory_s ? "compute" : "memory"},
                        {"tokens_per_s", b / step_s},
                        {"energy_per_token_pj", decode_pj},
                        {"prefill", {{"tokens", prompt_tokens},
                                     {"step_s", prefill_step_s},
                                     {"bound", prefill_compute_s >= memory_s ? "compute" : "memory"},
                                     {"energy_per_token_pj", prefill_pj}}},
                        {"energy_per_token_run_pj",
                         (double(prompt_tokens) * prefill_pj + (steps - double(prompt_tokens)) * decode_pj) / steps}});
  }
  return {convention, roofline};
}

// The chip beside every dense baseline, per step: energy, latency, throughput and EDP where the
// row has a time (the 45 nm convention has none).
json versus_rows(const ReportInputs& in, const json& chip_json, double conv_compute_pj, const json& convention,
                 const json& roofline, const json& measured, bool run_timed) {
  const EnergyTable& table = in.table;
  const double chip_pj = chip_json["energy_per_token_pj"].get<double>();
  json versus = json::array();
  // Latency per token, tokens/s and the energy-delay product beside the energy, where the row has a
  // time (null for the 45 nm convention, which has none).
  auto add_versus = [&](const std::string& name, double pj, const std::string& basis, const json& latency_ns,
                        const json& tokens_per_s) {
    versus.push_back({{"name", name}, {"energy_per_token_pj", pj}, {"basis", basis},
                      {"ratio_to_chip", chip_pj > 0 ? pj / chip_pj : 0.0},
                      {"latency_per_token_ns", latency_ns},
                      {"tokens_per_s", tokens_per_s},
                      {"edp_pj_s", latency_ns.is_null() ? json() : json(pj * latency_ns.get<double>() * 1e-9)}});
  };
  const json chip_latency = chip_json.contains("decode_latency_per_token_ns") && !chip_json["decode_latency_per_token_ns"].is_null()
                                ? chip_json["decode_latency_per_token_ns"]
                                : chip_json["latency_per_token_ns"];
  add_versus(fmt::format("chip ({})", table.name), chip_pj,
             run_timed ? "counted actions × table + static power × powered tiles (gated ones at their "
                           "fraction) × simulated time"
                         : "counted actions × table (dynamic only: no simulated time at this level)",
             chip_latency, chip_json["tokens_per_s"]);
  add_versus("GPU dense, 45 nm convention, compute only", conv_compute_pj, "MACs × E_MAC + element-wise ops", json(),
             json());
  for (const auto& row : convention)
    add_versus(convention_row_name(row), row["total_pj"].get<double>(),
               "compute + weight and state bytes × dram.access / 8 (Horowitz's DDR-era DRAM)", json(), json());
  for (const auto& row : convention) {
    if (row["gpu_memory"].is_null()) continue;
    const json& memory = row["gpu_memory"];
    add_versus(gpu_memory_row_name(in.gpu.name, row), memory["total_pj"].get<double>(),
               fmt::format("compute + weight and state bytes × {} {:g} pJ/bit ({} to {} where sources disagree)",
                           memory["level"].get<std::string>(), memory["pj_per_bit"].get<double>(),
                           format_energy_pj(memory["low_total_pj"].get<double>()),
                           format_energy_pj(memory["high_total_pj"].get<double>())),
               json(), json());
  }
  for (const auto& row : roofline)
    add_versus(fmt::format("{} {} roofline, batch {}", in.gpu.name, in.gpu.variant, row["batch"].get<int>()),
               row["energy_per_token_run_pj"].get<double>(),
               "board power × roofline step time / batch, the prompt in one batched pass",
               row["step_s"].get<double>() * 1e9, row["tokens_per_s"]);
  for (const auto& file : measured.is_null() ? json::array() : measured)
    for (const auto& row : file["rows"]) {
      // A row without an energy counter has nothing to set beside the chip's energy.
      if (row["energy_per_token_pj"].is_null()) continue;
      add_versus(measured_row_name(file, row), row["energy_per_token_pj"].get<double>(),
                 fmt::format("measured: the board's energy counter over {} timed steps / tokens, idle power included "
                             "({} above idle)",
                             row["steps"].get<int64_t>(),
                             row["energy_per_token_above_idle_j"].is_null()
                                 ? std::string("no idle measurement")
                                 : format_energy_pj(row["energy_per_token_above_idle_j"].get<double>() * 1e12)),
                 row["latency_per_step_ns"], row["tokens_per_s"]);
    }
  return versus;
}

json inputs_json(const ReportInputs& in) {
  const EnergyTable& table = in.table;
  const EnergyTable& conv = in.convention_table;
  return {{"stats", in.stats_path},
          {"level", in.stats.level},
          {"energy_table", {{"name", table.name}, {"path", table.source_path}, {"technology", table.technology}}},
          {"convention_table", {{"name", conv.name}, {"path", conv.source_path}, {"technology", conv.technology}}},
          {"chip", {{"name", in.chip.name}, {"path", in.chip.source_path}}},
          {"gpu", {{"name", in.gpu.name}, {"variant", in.gpu.variant}, {"path", in.gpu.source_path},
                   {"sources", in.gpu.sources}, {"precision", in.gpu_precision}}},
          {"batch", in.batch},
          {"encoding", graded_encoding_name(in.encoding)}};
}

namespace {
// null where the spec does not give the figure.
json bit_energy_json(const BitEnergy& e) {
  if (!e.given()) return nullptr;
  return {{"pj", e.pj}, {"low", e.low}, {"high", e.high}};
}
}  // namespace

json gpu_spec_json(const ReportInputs& in) {
  return {{"name", in.gpu.name},
          {"variant", in.gpu.variant},
          {"path", in.gpu.source_path},
          {"sources", in.gpu.sources},
          {"peak_dense_tensor_tflops", in.gpu.peak_dense_tensor_tflops},
          {"peak_fp32_tflops", in.gpu.peak_fp32_tflops},
          {"memory_bandwidth_tb_per_s", in.gpu.memory_bandwidth_tb_per_s},
          {"board_power_w", in.gpu.board_power_w},
          {"l2_cache_mb", in.gpu.l2_cache_mb},
          {"l2_resident_mb", in.gpu.l2_resident_mb},
          {"l2_read_bandwidth_tb_per_s", in.gpu.l2_read_bandwidth_tb_per_s},
          {"hbm_pj_per_bit", bit_energy_json(in.gpu.hbm_energy)},
          {"l2_pj_per_bit", bit_energy_json(in.gpu.l2_energy)},
          {"weight_bytes", in.gpu.weight_bytes},
          {"state_bytes", in.gpu.state_bytes}};
}

json per_core_rows(const ReportInputs& in) {
  const RunStats& s = in.stats;
  if (!s.cores) return nullptr;
  const double steps = double(s.tokens.steps);
  json cores = json::array();
  for (const CoreStats& core : *s.cores) {
    json row{{"core", core.index}, {"chip", core.chip}, {"row", core.row}, {"col", core.col},
             {"unit", core.unit},  {"layer", core.layer}, {"op", core.op},
             {"busy_cycles", core.busy_cycles}, {"stall_cycles", core.stall_cycles}};
    cores.push_back(breakdown_row(row, scaled(core_actions(core), 1 / steps), in.table));
  }
  return cores;
}

namespace {
// What the blocks' weight matrices receive, per projection: the fraction of their inputs that are
// non-zero events (a spike-input variant's spikes, the paper's R̂; the released graph's non-zero
// graded activations), over all layers and steps, and per layer.
json projection_inputs_view(const TokenCounts& sum, const StatsModel& model, double steps) {
  const int T = model.spike_input_steps;
  json view;
  view["kind"] = projection_inputs_description(T);
  view["spike_input_steps"] = T;
  json per_op = json::array();
  double events_all = 0, inputs_all = 0;
  const int64_t C = model.n_embd;
  for (Op op : {Op::AttReceptance, Op::AttKey, Op::AttValue, Op::AttOutput, Op::FfnReceptance, Op::FfnKey,
                Op::FfnValue}) {
    const double cols = double(op == Op::FfnValue ? 4 * C : C);
    json layers = json::array();
    double events_op = 0;
    for (std::size_t l = 0; l < sum.layers.size(); ++l) {
      const Counts& c = sum.layers[l][std::size_t(op)];
      const double events = double(c.events_binary + c.events_graded);
      events_op += events;
      layers.push_back(steps > 0 ? events / (cols * steps) : 0.0);
    }
    const double inputs = cols * steps * double(sum.layers.size());
    events_all += events_op;
    inputs_all += inputs;
    per_op.push_back({{"op", op_name(op)}, {"rate", inputs > 0 ? events_op / inputs : 0.0}, {"per_layer", layers}});
  }
  view["per_op"] = per_op;
  view["rate_mean"] = inputs_all > 0 ? events_all / inputs_all : 0.0;
  return view;
}
}  // namespace

json build_report(const ReportInputs& in) {
  if (in.stats.nir) return build_nir_report(in);
  const RunStats& s = in.stats;
  const TokenCounts& sum = s.counts.sum;
  const double steps = double(s.tokens.steps);
  if (s.tokens.steps <= 0) throw std::invalid_argument("stats: the run has no steps; nothing to report");
  ActionMapping mapping = action_mapping(in.chip, in.encoding);
  if (s.model.weight_bits > 0) mapping.weight_bits = s.model.weight_bits;
  const EnergyTable& table = in.table;
  const EnergyTable& conv = in.convention_table;
  const int L = s.model.n_layer;

  json r;
  r["format"] = kReportFormat;
  r["inputs"] = inputs_json(in);
  r["model"] = stats_model_json(s.model);
  r["tokens"] = {{"prompt", s.tokens.prompt.size()}, {"generated", s.tokens.generated.size()}, {"steps", s.tokens.steps}};
  r["measured"] = {{"counts", true}, {"cycles", bool(s.cycles)}, {"network", bool(s.network)}, {"cores", bool(s.cores)}};

  json not_measured = json::array();
  if (!s.cycles)
    not_measured.push_back(fmt::format("cycles, latency, tokens/s and static energy: not measured at the {} level "
                                       "(needs the cycle-accurate simulator)",
                                       s.level));
  if (!s.network)
    not_measured.push_back(fmt::format("router.flit_hop, router.flit_delivery and link.inter_chip_flit (the "
                                       "network's traffic): not measured at the {} level (needs the cycle-accurate "
                                       "simulator's network)",
                                       s.level));
  if (!s.cores) not_measured.push_back(fmt::format("per-core counters: not measured at the {} level", s.level));
  r["not_measured"] = not_measured;

  json warnings = json::array();
  for (const auto& w : energy_table_compatibility_warnings(table, in.chip)) warnings.push_back(w);
  if (s.chip && s.chip->name != in.chip.name)
    warnings.push_back(fmt::format("the stats were simulated on chip '{}' but the report maps counts with '{}'",
                                   s.chip->name, in.chip.name));

  // ---- chip: actions over the run ------------------------------------------------------------
  ActionCounts run_actions;
  std::string counts_source;
  json per_layer = json::array(), per_op = json::array();
  std::map<std::string, ActionCounts> op_actions;     // op name -> actions over the run
  std::map<std::string, Counts> op_counts;            // op name -> counts over the run
  std::vector<ActionCounts> layer_actions(L + 1);     // [L] = global ops
  for (const OpCounts& oc : all_ops(sum)) {
    const ActionCounts a = chip_actions(*oc.counts, is_lif(oc.op) ? double(oc.counts->neuron_updates) : 0.0, mapping);
    op_actions[op_name(oc.op)] += a;
    op_counts[op_name(oc.op)] += *oc.counts;
    layer_actions[oc.layer < 0 ? L : oc.layer] += a;
  }
  if (s.cores) {
    counts_source = "simulator per-core counters (cores section)";
    std::vector<ActionCounts> core_layer_actions(L + 1);
    std::map<std::string, ActionCounts> core_op_actions;
    for (const CoreStats& core : *s.cores) {
      const ActionCounts a = core_actions(core);
      run_actions += a;
      core_layer_actions[core.layer < 0 || core.layer >= L ? L : core.layer] += a;
      core_op_actions[core.op.empty() ? "(several)" : core.op] += a;
    }
    layer_actions = core_layer_actions;
    op_actions = core_op_actions;
  } else {
    counts_source = fmt::format("{}-level event counts mapped to actions (docs/report.md §2)", s.level);
    for (const auto& a : layer_actions) run_actions += a;
  }
  // Router and link actions come from the network statistics only (never estimated).
  if (s.network) run_actions += network_actions(*s.network);

  const json chip = chip_section(in, run_actions, counts_source, warnings);
  const bool run_timed = chip["energy_includes_static"].get<bool>();
  r["chip"] = chip;

  // ---- per token ---------------------------------------------------------------------------
  // Only step totals are stored per step; neuron updates do not depend on data (every neuron
  // updates every step), so the run's LIF share splits each step's updates exactly.
  int64_t lif_updates_run = 0, updates_run = 0;
  for (const OpCounts& oc : all_ops(sum)) {
    if (is_lif(oc.op)) lif_updates_run += oc.counts->neuron_updates;
    updates_run += oc.counts->neuron_updates;
  }
  const double lif_share = updates_run ? double(lif_updates_run) / double(updates_run) : 0.0;
  const json per_token = per_step_rows(in, mapping, lif_share);
  r["per_token"] = per_token;

  // ---- per layer and per op ----------------------------------------------------------------
  double spikes_all = 0, lif_all = 0;
  for (int i = 0; i <= L; ++i) {
    json row;
    if (i < L) {
      const auto& layer = sum.layers[i];
      const Counts& att = layer[int(Op::AttLif)];
      const Counts& ffn = layer[int(Op::FfnLif)];
      const Counts& value = layer[int(Op::FfnValue)];
      spikes_all += double(att.spikes + ffn.spikes);
      lif_all += double(att.neuron_updates + ffn.neuron_updates);
      // ffn.value's input is ReLU²(key) of 4C values; its graded events are the non-zeros.
      const double hidden = value.neuron_updates ? double(value.dense_macs) / double(value.neuron_updates) : 0.0;
      row = {{"layer", std::to_string(i)},
             {"firing_rate_att", att.neuron_updates ? double(att.spikes) / double(att.neuron_updates) : 0.0},
             {"firing_rate_ffn", ffn.neuron_updates ? double(ffn.spikes) / double(ffn.neuron_updates) : 0.0},
             {"relu2_density", hidden > 0 ? double(value.events_graded) / (hidden * steps) : 0.0},
             {"counts_per_token", counts_per_token_json(sum.layer_total(i), steps)}};
    } else {
      Counts global;
      for (const auto& c : sum.global) global += c;
      row = {{"layer", "global"},
             {"firing_rate_att", nullptr},
             {"firing_rate_ffn", nullptr},
             {"relu2_density", nullptr},
             {"counts_per_token", counts_per_token_json(global, steps)}};
    }
    per_layer.push_back(breakdown_row(row, scaled(layer_actions[i], 1 / steps), table));
  }
  // The network's energy belongs to no layer: its own row, so the rows add up to the dynamic total.
  if (s.network) {
    const ActionCounts network = network_actions(*s.network);
    per_layer.push_back(breakdown_row({{"layer", "network"},
                                       {"firing_rate_att", nullptr},
                                       {"firing_rate_ffn", nullptr},
                                       {"relu2_density", nullptr},
                                       {"counts_per_token", nullptr}},
                                      scaled(network, 1 / steps), table));
  }
  r["per_layer"] = per_layer;
  for (int k = 0; k < kOpCount; ++k) {
    const std::string name = op_name(Op(k));
    if (!op_actions.count(name)) continue;
    json row{{"op", name}, {"counts_per_token", counts_per_token_json(op_counts[name], steps)}};
    per_op.push_back(breakdown_row(row, scaled(op_actions[name], 1 / steps), table));
  }
  if (op_actions.count("(several)"))
    per_op.push_back(breakdown_row({{"op", "(several)"}, {"counts_per_token", nullptr}},
                                   scaled(op_actions["(several)"], 1 / steps), table));
  r["per_op"] = per_op;

  r["per_core"] = per_core_rows(in);
  r["mesh"] = mesh_view(in.chip, s);
  r["critical_path"] = critical_path_view(s);
  r["raster"] = in.raster ? spike_raster_json(*in.raster) : json();
  const double lif_rate = lif_all > 0 ? spikes_all / lif_all : 0.0;
  r["firing_rate_mean"] = lif_rate;
  r["projection_inputs"] = projection_inputs_view(sum, s.model, steps);
  // The paper's R̂ is the rate of the spikes its weight matrices receive: a spike-input variant's
  // measured projection rate; the released graph's projections receive none, so the LIF's rate.
  const bool spiking_projections = s.model.spike_input_steps > 0;
  const double measured_rate = spiking_projections ? r["projection_inputs"]["rate_mean"].get<double>() : lif_rate;

  // ---- dense GPU baseline ------------------------------------------------------------------
  const Counts total = sum.total();
  const double macs = double(total.dense_macs) / steps;
  ActionCounts nonlinear;  // the element-wise work a GPU also does, per token
  for (int i = 0; i < kSfuCount; ++i) nonlinear[std::string("sfu.") + sfu_name(Sfu(i))] = double(total.sfu[i]) / steps;
  nonlinear["neuron_update.lif"] = double(lif_updates_run) / steps;
  nonlinear["neuron_update.other"] = double(updates_run - lif_updates_run) / steps;
  const double nonlinear_ops = std::accumulate(nonlinear.begin(), nonlinear.end(), 0.0,
                                               [](double acc, const auto& kv) { return acc + kv.second; });
  const int64_t C = s.model.n_embd, V = s.model.vocab;
  // Every weight is read each step except the embedding table, of which one row is.
  const double weight_elements = double(s.model.params - V * C + C);
  const double weight_bytes = weight_elements * in.gpu.weight_bytes;
  const int kStateVectorsPerLayer = 7;  // att and ffn token shift, WKV a, b, p, two LIF membranes
  const double state_elements = double(kStateVectorsPerLayer) * L * C;
  const double state_held_bytes = state_elements * in.gpu.state_bytes;
  const double state_bytes = 2 * state_held_bytes;  // read and written every step
  const DenseWork work{macs, nonlinear_ops, nonlinear, weight_bytes, state_bytes, state_held_bytes};

  json gpu;
  gpu["spec"] = gpu_spec_json(in);
  gpu["assumptions"] = {
      "the same model runs densely, one token step at a time as an RNN (no T² attention): every weight "
      "multiplies every input, zeros included",
      fmt::format("weights stored at {} byte{} ({}) and read once per step (shared by the batch) from where they "
                  "reside (below); the embedding table contributes one row; the matrix products at the {} tensor "
                  "peak, {:g} TFLOP/s dense",
                  in.gpu.weight_bytes, in.gpu.weight_bytes == 1 ? "" : "s", in.gpu_precision, in.gpu_precision,
                  in.gpu.peak_dense_tensor_tflops),
      fmt::format("recurrent state ({} vectors of n_embd per layer) at {} bytes per element, read and written once "
                  "per step per sequence",
                  kStateVectorsPerLayer, in.gpu.state_bytes),
      "activations stay on chip (registers, shared memory, L2): no memory traffic counted for them",
      "roofline: step time = max(compute, memory); compute = 2·MACs / dense tensor peak + element-wise ops / "
      "fp32 peak, each element-wise op (SFU op or neuron update of the counts) one FLOP; memory = weight and "
      "state bytes / the bandwidth of where they reside",
      "roofline energy = board power (TDP) × step time / batch: the board is charged at full power for the whole "
      "step",
      "kernel-launch and synchronisation overheads are ignored, so roofline times are lower bounds (for a model "
      "this small a real GPU step is launch-bound, far slower)",
      fmt::format("45 nm convention: MACs × E_MAC (= {} synaptic_op.graded), element-wise ops at the same "
                  "table's sfu.* and neuron_update.* prices; its DDR DRAM rows charge the weight and state bytes at "
                  "its dram.access per 64 bits (Horowitz's DDR-era DRAM)",
                  conv.name)};
  for (const std::string& said : memory_assumptions(in, work)) gpu["assumptions"].push_back(said);
  gpu["dense_per_token"] = {{"macs", macs},
                            {"flops", 2 * macs + nonlinear_ops},
                            {"nonlinear_ops", nonlinear_ops},
                            {"nonlinear", actions_json(nonlinear)},
                            {"weight_elements", weight_elements},
                            {"weight_bytes", weight_bytes},
                            {"state_elements", state_elements},
                            {"state_bytes", state_bytes}};
  const double e_mac = conv.energy_pj("synaptic_op.graded");
  const double conv_compute_pj = macs * e_mac + price_pj(nonlinear, conv);
  // Prompt tokens the run took before generating (all of a teacher-forced text), at most its steps.
  const int64_t prompt_tokens = std::min<int64_t>(int64_t(s.tokens.prompt.size()), s.tokens.steps);
  const auto [convention, roofline] = dense_baseline_rows(in, work, prompt_tokens);
  gpu["convention_45nm"] = convention;
  gpu["roofline"] = roofline;
  gpu["measured"] = measured_json(in.gpu_measured);
  r["gpu"] = gpu;

  // ---- chip vs GPU, per token ----------------------------------------------------------------
  const double chip_pj = r["chip"]["energy_per_token_pj"].get<double>();
  r["chip_vs_gpu"] = versus_rows(in, r["chip"], conv_compute_pj, convention, roofline, gpu["measured"], run_timed);

  // ---- paper mode ----------------------------------------------------------------------------
  const double e_ac = conv.energy_pj("synaptic_op.binary");
  json paper;
  paper["claim"] = "32.2× fewer operations (ICLR 2024 submission and arXiv v5 abstract; spikegpt.md §1)";
  paper["formulas"] = {
      "vanilla GPT: E_MAC · (3Td² [Q/R,K,V] + 9Td² [FFN, FL_MLP = d·4d + d·d + 4d·d per token]) "
      "(+ E_MAC · (2T²d + T² + 2T²) [f(Q,K,V), scale, softmax] when quadratic rows are included)",
      "SpikeGPT: E_AC · R̂ · (3Td² + 9Td²) + E_MAC · w·T·d [WKV], w = 6 ([ISSUE12]) or 7 ([T-REIMPL])"};
  paper["sources"] = {
      "Table 1 structure and T = 3072, d = 512, R̂ = 0.15, E_AC = 0.9 pJ, E_MAC = 4.5 pJ: third-party "
      "re-implementation [T-REIMPL] and ICLR review [REV], ../shared/reference/spikegpt.md §7.4",
      fmt::format("E_MAC = 4.6 pJ (Horowitz fp32 mult 3.7 + add 0.9) and E_AC = {} pJ: {} synaptic_op.graded / "
                  "synaptic_op.binary",
                  e_ac, table_source(conv)),
      "the paper's full text and numeric table cells were not retrievable: which reading it used is unverified"};
  json readings = json::array();
  for (double mac : {4.5, e_mac})
    for (int w : {6, 7})
      for (bool quad : {false, true}) {
        PaperSetting ps;
        ps.e_mac_pj = mac;
        ps.e_ac_pj = e_ac;
        ps.wkv_macs_per_channel = w;
        ps.quadratic_attention = quad;
        const PaperEnergy e = paper_table1(ps);
        readings.push_back({{"e_mac_pj", mac}, {"e_ac_pj", e_ac}, {"wkv_macs_per_channel", w},
                            {"quadratic_attention", quad}, {"tokens", ps.tokens}, {"width", ps.width},
                            {"rate", ps.rate}, {"vanilla_pj", e.vanilla_pj}, {"spikegpt_pj", e.spikegpt_pj},
                            {"ratio", e.ratio()}});
      }
  paper["readings"] = readings;
  PaperSetting primary;  // linear rows, E_MAC 4.5, 6Td: the reading closest to the printed 32.2×
  primary.e_ac_pj = e_ac;
  const PaperEnergy stated = paper_table1(primary);
  paper["stated_setting"] = {{"tokens", primary.tokens}, {"width", primary.width}, {"rate", primary.rate},
                             {"e_mac_pj", primary.e_mac_pj}, {"e_ac_pj", primary.e_ac_pj},
                             {"wkv_macs_per_channel", primary.wkv_macs_per_channel},
                             {"quadratic_attention", primary.quadratic_attention},
                             {"ratio", stated.ratio()}};
  PaperSetting with_measured = primary;
  with_measured.rate = measured_rate;
  PaperSetting on_model = with_measured;
  on_model.tokens = steps;
  on_model.width = double(C);
  paper["measured_rate"] = {{"rate", measured_rate},
                            {"source", spiking_projections
                                           ? "Σ spiking projection inputs / Σ projection inputs over all layers and "
                                             "steps of this run (the spike-input variant's measured R̂)"
                                           : "Σ spikes / Σ LIF neuron updates over all layers and steps of this run"},
                            {"ratio_paper_T_d", paper_table1(with_measured).ratio()},
                            {"ratio_model_T_d", paper_table1(on_model).ratio()},
                            {"model_tokens", steps},
                            {"model_width", C}};
  // What the chip does for the shipped model, priced with the same convention (compute only, as
  // the paper counts), next to the dense work of the same model.
  ActionCounts chip_compute = scaled(run_actions, 1 / steps);
  for (const char* excluded : {"sram.synapse_read", "sram.state_read", "sram.state_write", "core.event_out",
                               "router.flit_hop", "router.flit_delivery", "link.inter_chip_flit"})
    chip_compute.erase(excluded);
  const double chip_conv_pj = price_pj(chip_compute, conv);
  const double chip_sops = chip_compute["synaptic_op.binary"] + chip_compute["synaptic_op.graded"] +
                           chip_compute["synaptic_op.bit_serial"];
  paper["counted"] = {
      {"dense_macs_per_token", macs},
      {"chip_sops_per_token", chip_sops},
      {"operation_ratio", chip_sops > 0 ? macs / chip_sops : 0.0},
      {"dense_convention_pj", conv_compute_pj},
      {"chip_convention_pj", chip_conv_pj},
      {"convention_ratio", chip_conv_pj > 0 ? conv_compute_pj / chip_conv_pj : 0.0},
      {"chip_table_pj", chip_pj},
      {"gpu_roofline_batch1_pj", roofline[0]["energy_per_token_pj"]},
      {"roofline_ratio", chip_pj > 0 ? roofline[0]["energy_per_token_pj"].get<double>() / chip_pj : 0.0},
      {"note", spiking_projections
                   ? fmt::format("a spike-input variant ({}): every block projection receives spike counts, so "
                                 "{:.1f} % of the chip's SOPs are binary (E_AC) and the rest are the head's graded ones",
                                 s.model.spike_input_steps == 1
                                     ? std::string("binary")
                                     : fmt::format("{} steps, graded counts", s.model.spike_input_steps),
                                 chip_sops > 0 ? 100.0 * chip_compute["synaptic_op.binary"] / chip_sops : 0.0)
                   : fmt::format("the chip performs {} SOPs for real-valued inputs ({} encoding); in the released "
                                 "graph no weight matrix receives a spike, so the paper's E_AC · R̂ discount applies "
                                 "to none of them",
                                 graded_encoding_name(in.encoding), graded_encoding_name(in.encoding))}};
  r["paper"] = paper;
  r["verdict"] = report_verdict(r);
  return r;
}

}  // namespace spiketile
