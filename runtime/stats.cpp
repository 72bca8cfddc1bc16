#include "runtime/stats.hpp"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include "chips/chip_spec.hpp"
#include "runtime/json_fields.hpp"
#include "runtime/counts_report.hpp"

namespace spiketile {

using nlohmann::json;

const std::vector<std::string>& stats_level_names() {
  static const std::vector<std::string> kLevels{"golden", "quantized", "mapping", "simulator"};
  return kLevels;
}

namespace {

const JsonFields kStatsFields("stats");

[[noreturn]] void field_error(const std::string& path, const std::string& need) { kStatsFields.error(path, need); }

const json& field(const json& parent, const std::string& key, const std::string& path) {
  return kStatsFields.field(parent, key, path);
}

template <typename T>
T get_as(const json& parent, const std::string& key, const std::string& section) {
  return kStatsFields.get<T>(parent, key, section);
}

const json& section_object(const json& parent, const std::string& key) { return kStatsFields.object(parent, key); }

// Core counter names and members, one table for writing and reading: the work (also kept per
// step) and the core's cycles.
struct WorkCounter {
  const char* key;
  int64_t CoreWork::*member;
};
constexpr WorkCounter kWorkCounters[] = {
    {"sop_binary", &CoreWork::sop_binary},
    {"sop_graded", &CoreWork::sop_graded},
    {"sop_bit_serial", &CoreWork::sop_bit_serial},
    {"synapse_reads", &CoreWork::synapse_reads},
    {"state_reads", &CoreWork::state_reads},
    {"state_writes", &CoreWork::state_writes},
    {"neuron_updates_lif", &CoreWork::neuron_updates_lif},
    {"neuron_updates_other", &CoreWork::neuron_updates_other},
    {"events_out", &CoreWork::events_out},
};
struct CoreCounter {
  const char* key;
  int64_t CoreStats::*member;
};
constexpr CoreCounter kCycleCounters[] = {
    {"busy_cycles", &CoreStats::busy_cycles},
    {"stall_cycles", &CoreStats::stall_cycles},
};

struct RtlCounter {
  const char* key;
  int64_t RtlCoreStats::*member;
};
constexpr RtlCounter kRtlCounters[] = {
    {"events", &RtlCoreStats::events},           {"partial_sums", &RtlCoreStats::partial_sums},
    {"ticks", &RtlCoreStats::ticks},             {"readouts", &RtlCoreStats::readouts},
    {"busy_cycles", &RtlCoreStats::busy_cycles}, {"idle_cycles", &RtlCoreStats::idle_cycles},
    {"neuron_updates", &RtlCoreStats::neuron_updates}, {"sops", &RtlCoreStats::sops},
};

struct NetworkCounter {
  const char* key;
  int64_t NetworkStepStats::*member;
};
constexpr NetworkCounter kNetworkCounters[] = {
    {"packets", &NetworkStepStats::packets},
    {"flit_hops", &NetworkStepStats::flit_hops},
    {"flits_delivered", &NetworkStepStats::flits_delivered},
    {"inter_chip_flits", &NetworkStepStats::inter_chip_flits},
};

// Tile and chip counts of the power section, one table for writing and reading.
struct PowerCounter {
  const char* key;
  int64_t StatsPower::*member;
};
constexpr PowerCounter kPowerCounters[] = {
    {"tiles_total", &StatsPower::tiles_total},
    {"tiles_powered", &StatsPower::tiles_powered},
    {"tiles_gated", &StatsPower::tiles_gated},
    {"tiles_routing_only", &StatsPower::tiles_routing_only},
};

json power_to_json(const StatsPower& p) {
  json j{{"gating", p.gating}, {"gated_static_fraction", p.gated_static_fraction},
         {"chips_total", p.chips_total}, {"chips_powered", p.chips_powered}};
  for (const auto& counter : kPowerCounters) j[counter.key] = p.*counter.member;
  return j;
}

StatsPower power_from_json(const json& j, const StatsChip& chip) {
  StatsPower p;
  p.gating = get_as<std::string>(j, "gating", "power");
  if (!parse_power_gating(p.gating)) field_error("power.gating", fmt::format("is '{}'; expected none, chip or core", p.gating));
  p.gated_static_fraction = get_as<double>(j, "gated_static_fraction", "power");
  if (p.gated_static_fraction < 0 || p.gated_static_fraction > 1)
    field_error("power.gated_static_fraction", fmt::format("must be within [0, 1] (got {})", p.gated_static_fraction));
  for (const auto& counter : kPowerCounters) p.*counter.member = get_as<int64_t>(j, counter.key, "power");
  p.chips_total = get_as<int>(j, "chips_total", "power");
  p.chips_powered = get_as<int>(j, "chips_powered", "power");
  if (p.tiles_total != chip.cores_total)
    field_error("power.tiles_total", fmt::format("is {} but chip.cores_total is {}", p.tiles_total, chip.cores_total));
  if (p.tiles_powered + p.tiles_gated != p.tiles_total)
    field_error("power", fmt::format("tiles_powered ({}) + tiles_gated ({}) must equal tiles_total ({})",
                                     p.tiles_powered, p.tiles_gated, p.tiles_total));
  if (p.tiles_routing_only > p.tiles_powered)
    field_error("power.tiles_routing_only",
                fmt::format("is {}, more than the {} powered tiles", p.tiles_routing_only, p.tiles_powered));
  if (p.chips_total != chip.chips || p.chips_powered > p.chips_total)
    field_error("power", fmt::format("chips_powered ({}) of chips_total ({}) does not fit chip.chips ({})",
                                     p.chips_powered, p.chips_total, chip.chips));
  return p;
}

json work_to_json(const CoreWork& w) {
  json j{{"sfu", json::object()}};
  for (const auto& counter : kWorkCounters) j[counter.key] = w.*counter.member;
  for (const auto& [name, n] : w.sfu) j["sfu"][name] = n;
  return j;
}

void work_from_json(const json& j, const std::string& where, CoreWork& w) {
  for (const auto& counter : kWorkCounters) w.*counter.member = get_as<int64_t>(j, counter.key, where);
  const json& sfu = field(j, "sfu", where + ".sfu");
  if (!sfu.is_object()) field_error(where + ".sfu", "must be an object of op name -> count");
  for (const auto& [name, n] : sfu.items()) w.sfu[name] = get_as<int64_t>(sfu, name, where + ".sfu");
}

json core_to_json(const CoreStats& c) {
  json j = work_to_json(c);
  j["index"] = c.index;
  j["chip"] = c.chip;
  j["row"] = c.row;
  j["col"] = c.col;
  j["unit"] = c.unit;
  j["layer"] = c.layer;
  j["op"] = c.op;
  for (const auto& counter : kCycleCounters) j[counter.key] = c.*counter.member;
  if (c.rtl) {
    json r{{"backend", c.rtl->backend}, {"model", c.rtl->model}};
    for (const auto& counter : kRtlCounters) r[counter.key] = (*c.rtl).*counter.member;
    j["rtl"] = r;
  }
  return j;
}

CoreStats core_from_json(const json& j, std::size_t position) {
  const std::string where = fmt::format("cores[{}]", position);
  if (!j.is_object()) field_error(where, "must be an object");
  CoreStats c;
  c.index = get_as<int>(j, "index", where);
  c.chip = get_as<int>(j, "chip", where);
  c.row = get_as<int>(j, "row", where);
  c.col = get_as<int>(j, "col", where);
  c.unit = get_as<std::string>(j, "unit", where);
  const json& layer = field(j, "layer", where + ".layer");
  if (!layer.is_number_integer() || layer.get<int>() < -1) field_error(where + ".layer", "must be an integer >= -1");
  c.layer = layer.get<int>();
  c.op = get_as<std::string>(j, "op", where);
  work_from_json(j, where, c);
  for (const auto& counter : kCycleCounters) c.*counter.member = get_as<int64_t>(j, counter.key, where);
  if (j.contains("rtl")) {
    const std::string at = where + ".rtl";
    const json& r = field(j, "rtl", at);
    if (!r.is_object()) field_error(at, "must be an object");
    RtlCoreStats rtl;
    rtl.backend = get_as<std::string>(r, "backend", at);
    rtl.model = get_as<std::string>(r, "model", at);
    for (const auto& counter : kRtlCounters) rtl.*counter.member = get_as<int64_t>(r, counter.key, at);
    c.rtl = rtl;
  }
  return c;
}

}  // namespace

json nir_to_json(const StatsNir& n) {
  json pops = json::array();
  for (const auto& p : n.populations)
    pops.push_back({{"node", p.node}, {"type", p.type}, {"neurons", p.neurons}, {"spiking", p.spiking}, {"spikes", p.spikes}});
  return {{"graph", n.graph},
          {"dt", n.dt},
          {"input_shape", n.input_shape},
          {"output_shape", n.output_shape},
          {"populations", pops},
          {"dense_macs_per_step", n.dense_macs_per_step},
          {"weight_elements", n.weight_elements},
          {"state_elements", n.state_elements}};
}

json stats_model_json(const StatsModel& m) {
  return {{"path", m.path},
          {"n_layer", m.n_layer},
          {"n_embd", m.n_embd},
          {"vocab", m.vocab},
          {"params", m.params},
          {"weight_bits", m.weight_bits},
          {"activation_bits", m.activation_bits},
          {"membrane_bits", m.membrane_bits},
          {"spike_input_steps", m.spike_input_steps}};
}

json estimate_to_json(const StatsEstimate& e) {
  json j = {{"profile_tokens", e.profile_tokens},
            {"bound_cycles_per_token", e.cycles_per_token},
            {"stages", json::array()},
            {"critical_path", json::array()}};
  for (const auto& st : e.stages)
    j["stages"].push_back({{"tensor", st.tensor}, {"layer", st.layer}, {"first_send", st.first_send},
                           {"last_send", st.last_send}});
  for (const auto& step : e.critical_path)
    j["critical_path"].push_back({{"unit", step.unit}, {"layer", step.layer}, {"start", step.start}, {"end", step.end}});
  return j;
}

namespace {

// A cycle time of the estimate: finite and at least 0.
double cycle_time(const json& parent, const std::string& key, const std::string& section) {
  const double v = get_as<double>(parent, key, section);
  if (!std::isfinite(v) || v < 0) field_error(section + "." + key, fmt::format("must be a finite time >= 0 (got {})", v));
  return v;
}

// A layer: -1 (head and global ops) or a layer index.
int layer_of(const json& parent, const std::string& section) {
  const json& v = field(parent, "layer", section + ".layer");
  if (!v.is_number_integer() || v.get<int64_t>() < -1 || v.get<int64_t>() > 100000)
    field_error(section + ".layer", fmt::format("must be -1 or a layer index (got {})", v.dump()));
  return v.get<int>();
}

StatsEstimate estimate_from_json(const json& j) {
  StatsEstimate e;
  e.profile_tokens = get_as<int>(j, "profile_tokens", "estimate");
  e.cycles_per_token = cycle_time(j, "bound_cycles_per_token", "estimate");
  const json& stages = field(j, "stages", "estimate.stages");
  const json& path = field(j, "critical_path", "estimate.critical_path");
  if (!stages.is_array()) field_error("estimate.stages", "must be an array");
  if (!path.is_array()) field_error("estimate.critical_path", "must be an array");
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const std::string at = fmt::format("estimate.stages[{}]", i);
    StatsEstimate::Stage st{get_as<std::string>(stages[i], "tensor", at), layer_of(stages[i], at),
                            cycle_time(stages[i], "first_send", at), cycle_time(stages[i], "last_send", at)};
    if (st.last_send < st.first_send) field_error(at, "has last_send before first_send");
    e.stages.push_back(st);
  }
  for (std::size_t i = 0; i < path.size(); ++i) {
    const std::string at = fmt::format("estimate.critical_path[{}]", i);
    StatsEstimate::PathStep step{get_as<std::string>(path[i], "unit", at), layer_of(path[i], at),
                                 cycle_time(path[i], "start", at), cycle_time(path[i], "end", at)};
    if (step.end < step.start) field_error(at, "ends before it starts");
    e.critical_path.push_back(step);
  }
  return e;
}

}  // namespace

json stats_to_json(const RunStats& s) {
  json j;
  j["format"] = kStatsFormat;
  j["level"] = s.level;
  j["model"] = stats_model_json(s.model);
  if (s.nir) j["nir"] = nir_to_json(*s.nir);
  j["tokens"] = {{"prompt", s.tokens.prompt}, {"generated", s.tokens.generated}, {"steps", s.tokens.steps}};
  j["counts"] = counts_json(s.counts);
  if (s.chip) {
    j["chip"] = {{"name", s.chip->name},           {"spec_path", s.chip->spec_path},
                 {"clock_mhz", s.chip->clock_mhz}, {"chips", s.chip->chips},
                 {"cores_total", s.chip->cores_total}, {"cores_used", s.chip->cores_used}};
  }
  if (s.power) j["power"] = power_to_json(*s.power);
  if (s.cycles) {
    j["cycles"] = {{"per_step", s.cycles->per_step}, {"total", s.cycles->total}};
    if (s.cycles->prefill_steps > 0)
      j["cycles"]["prefill"] = {{"steps", s.cycles->prefill_steps}, {"cycles", s.cycles->prefill_cycles}};
  }
  if (s.network) {
    json per_step = json::array();
    for (const auto& step : s.network->per_step) {
      json e;
      for (const auto& counter : kNetworkCounters) e[counter.key] = step.*counter.member;
      per_step.push_back(e);
    }
    j["network"] = {{"packets", s.network->packets},
                    {"flit_hops", s.network->flit_hops},
                    {"flits_delivered", s.network->flits_delivered},
                    {"inter_chip_flits", s.network->inter_chip_flits},
                    {"per_step", per_step}};
    if (!s.network->detail_json.empty()) j["network"]["detail"] = json::parse(s.network->detail_json);
  }
  if (s.cores) {
    j["cores"] = json::array();
    for (const auto& c : *s.cores) j["cores"].push_back(core_to_json(c));
  }
  if (s.cores_per_step) {
    j["cores_per_step"] = json::array();
    for (const auto& w : *s.cores_per_step) j["cores_per_step"].push_back(work_to_json(w));
  }
  if (s.estimate) j["estimate"] = estimate_to_json(*s.estimate);
  return j;
}

RunStats stats_from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("stats: expected a JSON object");
  const std::string format = get_as<std::string>(j, "format", "");
  if (format != kStatsFormat)
    field_error("format", fmt::format("is '{}'; this build reads '{}'", format, kStatsFormat));
  RunStats s;
  s.level = get_as<std::string>(j, "level", "");
  const auto& levels = stats_level_names();
  if (std::find(levels.begin(), levels.end(), s.level) == levels.end())
    field_error("level", fmt::format("is '{}'; expected one of golden, quantized, mapping, simulator", s.level));

  const json& model = section_object(j, "model");
  s.model.path = get_as<std::string>(model, "path", "model");
  s.model.n_layer = get_as<int>(model, "n_layer", "model");
  s.model.n_embd = get_as<int>(model, "n_embd", "model");
  s.model.vocab = get_as<int>(model, "vocab", "model");
  s.model.params = get_as<int64_t>(model, "params", "model");
  s.model.weight_bits = get_as<int>(model, "weight_bits", "model");
  s.model.activation_bits = get_as<int>(model, "activation_bits", "model");
  s.model.membrane_bits = get_as<int>(model, "membrane_bits", "model");
  // Written since spike-input variants exist; a file from before is of the released graph.
  if (model.contains("spike_input_steps")) s.model.spike_input_steps = get_as<int>(model, "spike_input_steps", "model");

  const json& tokens = section_object(j, "tokens");
  s.tokens.prompt = field(tokens, "prompt", "tokens.prompt").get<std::vector<int>>();
  s.tokens.generated = field(tokens, "generated", "tokens.generated").get<std::vector<int>>();
  s.tokens.steps = get_as<int64_t>(tokens, "steps", "tokens");

  try {
    s.counts = count_totals_from_json(section_object(j, "counts"));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("stats: counts: {}", e.what()));
  }
  if (int64_t(s.counts.per_step.size()) != s.tokens.steps)
    field_error("tokens.steps", fmt::format("is {} but counts hold {} steps", s.tokens.steps, s.counts.per_step.size()));
  if (j.contains("nir")) {
    const json& n = section_object(j, "nir");
    StatsNir nir;
    nir.graph = get_as<std::string>(n, "graph", "nir");
    nir.dt = get_as<double>(n, "dt", "nir");
    nir.input_shape = field(n, "input_shape", "nir.input_shape").get<std::vector<int64_t>>();
    nir.output_shape = field(n, "output_shape", "nir.output_shape").get<std::vector<int64_t>>();
    nir.dense_macs_per_step = get_as<int64_t>(n, "dense_macs_per_step", "nir");
    nir.weight_elements = get_as<int64_t>(n, "weight_elements", "nir");
    nir.state_elements = get_as<int64_t>(n, "state_elements", "nir");
    const json& pops = field(n, "populations", "nir.populations");
    if (!pops.is_array()) field_error("nir.populations", "must be an array");
    for (std::size_t i = 0; i < pops.size(); ++i) {
      const std::string at = fmt::format("nir.populations[{}]", i);
      StatsNir::Population p;
      p.node = get_as<std::string>(pops[i], "node", at);
      p.type = get_as<std::string>(pops[i], "type", at);
      p.neurons = get_as<int64_t>(pops[i], "neurons", at);
      p.spiking = get_as<bool>(pops[i], "spiking", at);
      p.spikes = get_as<int64_t>(pops[i], "spikes", at);
      if (p.neurons < 1 || p.spikes < 0) field_error(at, "needs neurons ≥ 1 and spikes ≥ 0");
      nir.populations.push_back(p);
    }
    if (nir.dense_macs_per_step < 0 || nir.weight_elements < 0 || nir.state_elements < 0)
      field_error("nir", "dense_macs_per_step, weight_elements and state_elements must be ≥ 0");
    s.nir = nir;
  }
  if (int(s.counts.sum.layers.size()) != s.model.n_layer)
    field_error("counts.sum.layers",
                fmt::format("has {} layers but model.n_layer is {}", s.counts.sum.layers.size(), s.model.n_layer));

  if (j.contains("chip")) {
    const json& chip = section_object(j, "chip");
    StatsChip c;
    c.name = get_as<std::string>(chip, "name", "chip");
    c.spec_path = get_as<std::string>(chip, "spec_path", "chip");
    c.clock_mhz = get_as<double>(chip, "clock_mhz", "chip");
    if (c.clock_mhz <= 0) field_error("chip.clock_mhz", "must be positive");
    c.chips = get_as<int>(chip, "chips", "chip");
    c.cores_total = get_as<int64_t>(chip, "cores_total", "chip");
    c.cores_used = get_as<int64_t>(chip, "cores_used", "chip");
    s.chip = c;
  }
  if (j.contains("power")) {
    const json& power = section_object(j, "power");
    if (!s.chip) field_error("chip", "is missing; the power section counts the chip's tiles");
    s.power = power_from_json(power, *s.chip);
  }
  if (j.contains("cycles")) {
    const json& cycles = section_object(j, "cycles");
    StatsCycles c;
    c.per_step = field(cycles, "per_step", "cycles.per_step").get<std::vector<int64_t>>();
    c.total = get_as<int64_t>(cycles, "total", "cycles");
    if (int64_t(c.per_step.size()) != s.tokens.steps)
      field_error("cycles.per_step", fmt::format("has {} entries for {} steps", c.per_step.size(), s.tokens.steps));
    if (cycles.contains("prefill")) {
      const json& prefill = section_object(cycles, "prefill");
      c.prefill_steps = get_as<int64_t>(prefill, "steps", "cycles.prefill");
      c.prefill_cycles = get_as<int64_t>(prefill, "cycles", "cycles.prefill");
      if (c.prefill_steps < 0 || c.prefill_steps > s.tokens.steps)
        field_error("cycles.prefill.steps", fmt::format("is {} for a run of {} steps", c.prefill_steps, s.tokens.steps));
      if (c.prefill_cycles < 0 || c.prefill_cycles > c.total)
        field_error("cycles.prefill.cycles", fmt::format("is {}, outside [0, {}] (the run's cycles)", c.prefill_cycles, c.total));
    }
    if (!s.chip) field_error("chip", "is missing; cycles need the chip's clock to become time");
    s.cycles = c;
  }
  if (j.contains("network")) {
    const json& network = section_object(j, "network");
    StatsNetwork n;
    n.packets = get_as<int64_t>(network, "packets", "network");
    n.flit_hops = get_as<int64_t>(network, "flit_hops", "network");
    n.flits_delivered = get_as<int64_t>(network, "flits_delivered", "network");
    n.inter_chip_flits = get_as<int64_t>(network, "inter_chip_flits", "network");
    const json& per_step = field(network, "per_step", "network.per_step");
    if (!per_step.is_array()) field_error("network.per_step", "must be an array");
    for (std::size_t i = 0; i < per_step.size(); ++i) {
      NetworkStepStats step;
      for (const auto& counter : kNetworkCounters)
        step.*counter.member = get_as<int64_t>(per_step[i], counter.key, fmt::format("network.per_step[{}]", i));
      n.per_step.push_back(step);
    }
    if (!n.per_step.empty() && int64_t(n.per_step.size()) != s.tokens.steps)
      field_error("network.per_step", fmt::format("has {} entries for {} steps", n.per_step.size(), s.tokens.steps));
    if (network.contains("detail")) {
      if (!network["detail"].is_object()) field_error("network.detail", "must be an object of named statistics");
      n.detail_json = network["detail"].dump();
    }
    s.network = n;
  }
  if (j.contains("cores")) {
    const json& cores = field(j, "cores", "cores");
    if (!cores.is_array()) field_error("cores", "must be an array");
    std::vector<CoreStats> list;
    std::map<int, std::size_t> entry_of_core;  // a repeated core would count its events twice
    for (std::size_t i = 0; i < cores.size(); ++i) {
      list.push_back(core_from_json(cores[i], i));
      if (s.chip && list.back().index >= s.chip->cores_total)
        field_error(fmt::format("cores[{}].index", i), fmt::format("is {}; the chip has {} cores (chip.cores_total)",
                                                                   list.back().index, s.chip->cores_total));
      const auto [at, fresh] = entry_of_core.emplace(list.back().index, i);
      if (!fresh)
        field_error(fmt::format("cores[{}].index", i), fmt::format("is {}, the core of cores[{}] already", list.back().index,
                                                                   at->second));
    }
    s.cores = std::move(list);
  }
  if (j.contains("cores_per_step")) {
    const json& steps = field(j, "cores_per_step", "cores_per_step");
    if (!steps.is_array()) field_error("cores_per_step", "must be an array");
    if (!s.cores) field_error("cores_per_step", "needs the cores section whose counters it splits by step");
    if (int64_t(steps.size()) != s.tokens.steps)
      field_error("cores_per_step", fmt::format("has {} entries for {} steps", steps.size(), s.tokens.steps));
    std::vector<CoreWork> list;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::string where = fmt::format("cores_per_step[{}]", i);
      if (!steps[i].is_object()) field_error(where, "must be an object");
      work_from_json(steps[i], where, list.emplace_back());
    }
    // The steps split the cores' counters: each adds up to the cores' total.
    for (const auto& counter : kWorkCounters) {
      int64_t by_step = 0, by_core = 0;
      for (const CoreWork& w : list) by_step += w.*counter.member;
      for (const CoreStats& c : *s.cores) by_core += c.*counter.member;
      if (by_step != by_core)
        field_error("cores_per_step", fmt::format("has {} adding up to {} over its steps; the cores count {}", counter.key,
                                                  by_step, by_core));
    }
    s.cores_per_step = std::move(list);
  }
  if (j.contains("estimate")) s.estimate = estimate_from_json(section_object(j, "estimate"));
  return s;
}

void write_stats(OutputFile& out, const RunStats& stats) { out.write(stats_to_json(stats).dump(1) + "\n"); }

// The format nests six levels (counts → layers → op → group → count); the network detail adds none.
constexpr int kMaxStatsDepth = 16;

RunStats read_stats(const std::string& path) {
  const json j = parse_json_file(path, "stats file", kMaxStatsDepth);
  RunStats stats;
  try {
    stats = stats_from_json(j);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
  // The chip description sits beside the statistics: a relative path is relative to their folder,
  // not to wherever the report runs.
  if (stats.chip && !stats.chip->spec_path.empty() && std::filesystem::path(stats.chip->spec_path).is_relative())
    stats.chip->spec_path = (std::filesystem::path(path).parent_path() / stats.chip->spec_path).string();
  return stats;
}

}  // namespace spiketile
