#include "runtime/mapping_summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>
#include <tuple>

#include "compiler/mapping_io.hpp"

namespace spiketile {

namespace {

constexpr int kFunctionCount = 10;  // NeuronFunction values

// The neuron functions a mapping of this kind can hold, the columns of its units table.
std::vector<NeuronFunction> functions_of(MappingKind kind) {
  if (kind == MappingKind::Nir) return {NeuronFunction::PartialSum, NeuronFunction::NirNeuron, NeuronFunction::NirReadout};
  std::vector<NeuronFunction> f;
  for (int k = 0; k <= int(NeuronFunction::HeadLogits); ++k) f.push_back(NeuronFunction(k));
  return f;
}

struct ResourceUse {
  std::string name;
  std::string over;  // what the max and mean are taken over
  int64_t max = 0;
  double mean = 0;
  int64_t capacity = 0;
  std::string capacity_key;  // the chip parameter that bounds it
};

// Units of one layer (or the head) by kind and function.
struct LayerUnits {
  std::string label;
  int residual = 0;
  std::array<int, kFunctionCount> crossbar{};  // by NeuronFunction
  int total() const {
    int n = residual;
    for (int c : crossbar) n += c;
    return n;
  }
};

// Flows of one tensor kind ("L*.att.xk": the same tensor in every layer) with one encoding.
struct EncodingUse {
  std::string tensor, encoding, role;
  int payload_bits = 0;
  int flows = 0;
  double flits_per_token = 0;
};

struct Stats {
  ChipSpec chip;
  int cores_used = 0, cores_total = 0, chips_used = 0, chip_count = 0;
  std::string system;
  int64_t weight_bytes = 0, parameter_bytes = 0, host_bytes = 0;
  std::vector<ResourceUse> resources;
  std::vector<LayerUnits> layers;
  std::vector<EncodingUse> encodings;
  int flows = 0, multicast = 0, unicast = 0, local_only = 0;
  double flits_per_token = 0, mesh_flit_hops = 0, inter_chip_flits = 0, max_mesh_link = 0, max_inter_chip_link = 0;
};

template <class Values>
ResourceUse resource(std::string name, std::string over, const Values& values, int64_t capacity, std::string key) {
  ResourceUse r{std::move(name), std::move(over), 0, 0.0, capacity, std::move(key)};
  double sum = 0;
  for (int64_t v : values) {
    r.max = std::max(r.max, v);
    sum += double(v);
  }
  r.mean = values.empty() ? 0.0 : sum / double(values.size());
  return r;
}

// "L3.att.xk" -> "L*.att.xk": one row per tensor kind rather than per layer.
std::string tensor_kind(const std::string& tensor) {
  if (tensor.size() > 2 && tensor[0] == 'L' && std::isdigit(static_cast<unsigned char>(tensor[1]))) {
    const auto dot = tensor.find('.');
    if (dot != std::string::npos) return "L*" + tensor.substr(dot);
  }
  return tensor;
}

Stats compute(const Mapping& m) {
  Stats s;
  s.chip = mapping_chip_spec(m);
  const ChipSpec& chip = s.chip;
  const Topology topology(chip);
  const RoutingTables routing = rebuild_routing_tables(m, topology);
  s.system = topology.describe();
  s.cores_used = int(m.units.size());
  s.cores_total = topology.core_count();
  s.chip_count = topology.chip_count();
  std::set<int> chips;
  for (const CoreCoord& c : m.unit_cores) chips.insert(c.chip);
  s.chips_used = int(chips.size());

  std::vector<int64_t> axons, neurons, synapse, state;
  for (const Unit& u : m.units) {
    axons.push_back(u.resources.axons);
    neurons.push_back(u.resources.neurons);
    synapse.push_back(u.resources.synapse_bytes);
    state.push_back(u.resources.state_bytes);
    for (const ParamArray& p : u.params) s.parameter_bytes += int64_t(p.bytes.size());
  }
  s.weight_bytes = m.weight_bytes();
  // The embedding is V × C int32 whether the mapping holds it or the compile streams it to the file.
  s.host_bytes = m.kind == MappingKind::Nir ? int64_t(m.nir.output_scale.size() + m.nir.output_bias.size()) * 8 :
                 int64_t(m.config.vocab_size) * m.config.n_embd * int64_t(sizeof(int32_t)) +
                 int64_t(m.host.head_logit_scale.size() * sizeof(double));
  std::vector<int64_t> entries, peak_flows;
  for (std::size_t r = 0; r < routing.tables.size(); ++r) {
    if (!routing.tables[r].empty()) entries.push_back(int64_t(routing.tables[r].size()));
    const int peak = routing.router_loads[r].peak_input_flows();
    if (peak > 0) peak_flows.push_back(peak);
  }
  const std::string per_core = "used cores";
  s.resources = {
      resource("axons", per_core, axons, chip.core.crossbar.axons, "core.crossbar.axons"),
      resource("neurons", per_core, neurons, chip.core.crossbar.neurons, "core.crossbar.neurons"),
      resource("synapse bytes", per_core, synapse, chip.core.synapse_sram.size_bytes, "core.synapse_sram.size_bytes"),
      resource("state bytes", per_core, state, chip.core.state_sram.size_bytes, "core.state_sram.size_bytes"),
      resource("routing-table entries", "routers with entries", entries, chip.router.routing_table_entries,
               "router.routing_table_entries"),
      resource("peak flows into one input port", "routers with traffic", peak_flows, chip.router.input_buffer_depth_flits,
               "router.input_buffer_depth_flits"),
  };

  if (m.kind == MappingKind::Nir) {  // one row per population that receives input
    for (const auto& p : m.nir.populations) s.layers.push_back({p.node});
  } else {
    s.layers.resize(std::size_t(m.config.n_layer) + 1);
    for (int l = 0; l < m.config.n_layer; ++l) s.layers[std::size_t(l)].label = fmt::format("L{}", l);
    s.layers.back().label = "head";
  }
  const int rows = int(s.layers.size()) - (m.kind == MappingKind::Nir ? 0 : 1);
  for (const Unit& u : m.units) {
    LayerUnits& row = u.layer >= 0 && u.layer < rows ? s.layers[std::size_t(u.layer)] : s.layers.back();
    if (u.kind == UnitKind::Residual)
      ++row.residual;
    else
      ++row.crossbar[std::size_t(u.function)];
  }

  std::map<std::tuple<std::string, int, int, int>, EncodingUse> by_kind;  // tensor kind, encoding, bits, role
  for (const MappedFlow& f : m.flows) {
    EncodingUse& e = by_kind[{tensor_kind(f.tensor), int(f.encoding), f.payload_bits, int(f.role)}];
    e.tensor = tensor_kind(f.tensor);
    e.encoding = ir::encoding_name(f.encoding);
    e.role = flow_role_name(f.role);
    e.payload_bits = f.payload_bits;
    ++e.flows;
    e.flits_per_token += f.flits_per_token;
    s.flits_per_token += f.flits_per_token;
  }
  for (auto& [key, use] : by_kind) s.encodings.push_back(use);

  s.flows = int(m.flows.size());
  for (const FlowRoute& r : routing.flows) {
    s.multicast += r.packet == FlowPacket::multicast;
    s.unicast += r.packet == FlowPacket::unicast;
    s.local_only += r.packet == FlowPacket::none;
  }
  s.mesh_flit_hops = routing.mesh_flit_hops_per_token;
  s.inter_chip_flits = routing.inter_chip_flits_per_token;
  s.max_mesh_link = routing.max_mesh_link_flits_per_token;
  s.max_inter_chip_link = routing.max_inter_chip_link_flits_per_token;
  return s;
}

double percent(double used, int64_t capacity) { return capacity > 0 ? 100.0 * used / double(capacity) : 0.0; }

// "L3.att.xk" -> "att.xk"; tensors outside a layer keep their name.
std::string stage_kind(const std::string& tensor) {
  if (tensor.size() > 1 && tensor[0] == 'L' && std::isdigit(static_cast<unsigned char>(tensor[1]))) {
    const auto dot = tensor.find('.');
    if (dot != std::string::npos) return tensor.substr(dot + 1);
  }
  return tensor;
}

// The compiler's estimate (runtime/latency_estimate.hpp): the bound, the traffic it counted, when
// each stage of each layer sends, and the critical path of the last profile token.
std::string latency_section(const Mapping& m, const ChipSpec& chip) {
  const LatencyEstimate& e = m.estimate;
  std::string out = fmt::format("\nlatency per token (compiler's estimate: {} profile tokens replayed through the units "
                                "with the chip's timing, no network contention)\n",
                                e.profile_tokens);
  out += fmt::format("  {:<18} {:.0f} cycles ({:.2f} µs at {:g} MHz)\n", "bound:", e.cycles_per_token,
                     e.cycles_per_token / chip.clock_frequency_mhz, chip.clock_frequency_mhz);
  out += fmt::format("  {:<18} {:.1f} packets, {:.1f} flits injected, {:.1f} delivered, {:.1f} mesh flit-hops, "
                     "{:.1f} inter-chip flits\n",
                     "traffic:", e.packets_per_token, e.flits_injected_per_token, e.flits_delivered_per_token,
                     e.mesh_flit_hops_per_token, e.inter_chip_flits_per_token);
  // Stages as columns in the order they finish in the first layer that has them; layers as rows.
  std::vector<std::string> kinds;
  std::map<std::pair<int, std::string>, const LatencyEstimate::Stage*> cell;
  for (const LatencyEstimate::Stage& st : e.stages) {
    const std::string kind = stage_kind(st.tensor);
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
    cell[{st.layer, kind}] = &st;
  }
  out += "  stages: the cycle the last packet of each tensor leaves its core, by layer\n";
  out += fmt::format("    {:<6}", "layer");
  for (const std::string& k : kinds) out += fmt::format(" {:>{}}", k, std::max<std::size_t>(8, k.size()));
  out += "\n";
  for (int layer = -1; layer < m.config.n_layer; ++layer) {
    std::string row;
    bool any = false;
    for (const std::string& k : kinds) {
      const auto it = cell.find({layer, k});
      any |= it != cell.end();
      row += fmt::format(" {:>{}}", it == cell.end() ? std::string("-") : fmt::format("{:.0f}", it->second->last_send),
                         std::max<std::size_t>(8, k.size()));
    }
    if (any) out += fmt::format("    {:<6}{}\n", layer < 0 ? "head" : fmt::format("L{}", layer), row);
  }
  out += "  critical path of the last profile token (a core working or waiting for its input, cycles):\n";
  for (const LatencyEstimate::PathStep& step : e.critical_path)
    out += fmt::format("    {:<32} {:>9.0f} → {:>9.0f}\n", m.units[std::size_t(step.unit)].name, step.start, step.end);
  return out;
}

// What the mapping records of its tokenizer, in a line.
std::string tokenizer_record(const Mapping& m) {
  const TokenizerSource& t = m.tokenizer;
  if (!m.tokenizer_recorded)
    return "none recorded (mapping format version 3): text uses the shipped tokenizer of the vocabulary size, or "
           "--tokenizer";
  if (t.kind == TokenizerKind::None) return "none (" + t.rule + "): text needs --tokenizer, or token ids";
  return fmt::format("{} of {} ids from {} ({}), recorded in the mapping", tokenizer_kind_name(t.kind),
                     m.config.vocab_size, t.path, t.rule);
}

}  // namespace

std::optional<StatsEstimate> stats_estimate(const Mapping& m) {
  if (m.estimate.profile_tokens <= 0) return std::nullopt;
  StatsEstimate e;
  e.profile_tokens = m.estimate.profile_tokens;
  e.cycles_per_token = m.estimate.cycles_per_token;
  for (const auto& st : m.estimate.stages) e.stages.push_back({st.tensor, st.layer, st.first_send, st.last_send});
  for (const auto& step : m.estimate.critical_path) {
    const Unit& u = m.units[std::size_t(step.unit)];
    e.critical_path.push_back({u.name, u.layer, step.start, step.end});
  }
  return e;
}

namespace {

// What a core's unit computes, for the cores table: SpikeGPT's crossbar op, or the NIR
// population whose input matrix the tile holds.
std::string unit_op_label(const Mapping& m, const Unit& u) {
  if (u.kind == UnitKind::NirCrossbar) return m.nir.populations.at(std::size_t(u.layer)).node;
  return op_name(u.op);
}

std::string nir_shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

struct PlacedUnit {
  int core;
  CoreCoord at;
  const Unit* unit;
};

// Every unit with its core, in core order.
std::vector<PlacedUnit> core_list(const Mapping& m, const ChipSpec& chip) {
  const Topology topology(chip);
  std::vector<PlacedUnit> list;
  for (std::size_t id = 0; id < m.units.size(); ++id)
    list.push_back({topology.core_index(m.unit_cores[id]), m.unit_cores[id], &m.units[id]});
  std::sort(list.begin(), list.end(), [](const PlacedUnit& a, const PlacedUnit& b) { return a.core < b.core; });
  return list;
}

}  // namespace

std::string mapping_summary(const Mapping& m) {
  const Stats s = compute(m);
  std::string out;
  auto line = [&out](const std::string& label, const std::string& value) { out += fmt::format("{:<20} {}\n", label, value); };
  if (m.kind == MappingKind::Nir) {
    const NirProgram& p = m.nir;
    int64_t neurons = 0;
    for (std::size_t k = 1; k < p.populations.size(); ++k) neurons += p.populations[k].type == "Readout" ? 0 : p.populations[k].size;
    line("model:", fmt::format("NIR graph {}: input {} {}, {} populations ({} neurons), {} projections; output {} ({}); "
                               "dt {:g} s",
                               p.source_path, nir_shape_text(p.input_shape), p.populations[0].binary ? "spikes" : "graded",
                               p.populations.size() - 1, neurons, p.projections.size(), nir_shape_text(p.output_shape),
                               p.output == NirProgram::Output::Spikes     ? "spikes"
                               : p.output == NirProgram::Output::Membrane ? "membranes"
                                                                          : "readout accumulators",
                               p.dt));
    line("quantization:", fmt::format("{}-bit weights, {}-bit graded inputs, {}-bit membranes", m.quant.weight_bits,
                                      m.quant.activation_bits, m.quant.membrane_bits));
  } else {
    line("model:", fmt::format("SpikeGPT L{} C{} V{} ({:.2f} M parameters){}", m.config.n_layer, m.config.n_embd,
                               m.config.vocab_size, double(m.config.parameter_count()) / 1e6,
                               m.model_source.empty() ? "" : ", from " + m.model_source));
    line("tokenizer:", tokenizer_record(m));
    line("quantization:", fmt::format("{}-bit weights, {}-bit activations, {}-bit membranes; binary embedding {}; "
                                      "rescale every 6 layers {}",
                                      m.quant.weight_bits, m.quant.activation_bits, m.quant.membrane_bits,
                                      m.binary_embedding ? "on" : "off", m.rescale_every_6_layers ? "on" : "off"));
    const int steps = m.config.spike_input_steps;
    line("projection inputs:", projection_inputs_description(steps) +
                                   (steps == 0 ? "" : steps == 1 ? ": binary SOPs" : ": graded events"));
  }
  const ChipSpec& chip = s.chip;
  line("chip:", fmt::format("{}: {}; {} × {} crossbars (axons × neurons), {}-bit weights", chip.name, s.system,
                            chip.core.crossbar.axons, chip.core.crossbar.neurons, chip.core.weight_bits));
  line("cores used:", fmt::format("{} of {} ({:.1f} %), on {} of {} chips", s.cores_used, s.cores_total,
                                  percent(s.cores_used, s.cores_total), s.chips_used, s.chip_count));
  const bool nir = m.kind == MappingKind::Nir;
  line("weights:", fmt::format("{} bytes at {} bits; {} parameter bytes on cores; {} bytes kept by the host ({})",
                               s.weight_bytes, m.quant.weight_bits, s.parameter_bytes, s.host_bytes,
                               nir ? "output scales and biases" : "embedding, logit scales"));
  if (m.estimate.profile_tokens > 0)
    line("latency bound:", fmt::format("{:.0f} cycles per token ({:.2f} µs at {:g} MHz), the critical path of {} profile "
                                       "tokens without network contention (details below)",
                                       m.estimate.cycles_per_token, m.estimate.cycles_per_token / chip.clock_frequency_mhz,
                                       chip.clock_frequency_mhz, m.estimate.profile_tokens));

  constexpr const char* kResourceRow = "  {:<58} {:>12} {:>12} {:>9} {:>8}% {:>8}%\n";
  out += fmt::format("\nresource use per core\n");
  out += fmt::format(kResourceRow, "", "max", "mean", "capacity", "max ", "mean ");
  for (const ResourceUse& r : s.resources)
    out += fmt::format(kResourceRow, r.name + " (over " + r.over + ")", r.max, fmt::format("{:.1f}", r.mean), r.capacity,
                       fmt::format("{:.1f}", percent(double(r.max), r.capacity)),
                       fmt::format("{:.1f}", percent(r.mean, r.capacity)));

  const auto functions = functions_of(m.kind);
  out += fmt::format("\nunits by {:<10} {:>9}", m.kind == MappingKind::Nir ? "population" : "layer", "residual");
  for (NeuronFunction f : functions) out += fmt::format(" {:>12}", neuron_function_name(f));
  out += fmt::format(" {:>7}\n", "total");
  for (const LayerUnits& row : s.layers) {
    if (row.total() == 0) continue;
    out += fmt::format("  {:<16} {:>9}", row.label, row.residual);
    for (NeuronFunction f : functions) out += fmt::format(" {:>12}", row.crossbar[std::size_t(f)]);
    out += fmt::format(" {:>7}\n", row.total());
  }

  out += nir ? "\ntraffic per time step (spikes at the expected firing rate)\n" : "\ntraffic per token\n";
  line("  flows:", fmt::format("{} ({} multicast, {} unicast, {} within one core)", s.flows, s.multicast, s.unicast,
                               s.local_only));
  line("  flits injected:", fmt::format("{:.1f}", s.flits_per_token));
  line("  mesh flit-hops:", fmt::format("{:.1f} (busiest link {:.2f} flits)", s.mesh_flit_hops, s.max_mesh_link));
  line("  inter-chip flits:", fmt::format("{:.1f} (busiest link {:.2f} flits)", s.inter_chip_flits, s.max_inter_chip_link));
  line("  placement cost:", fmt::format("{:.1f} mesh-hop equivalents; baseline {:.1f}, lower bound {:.1f}, start '{}' "
                                        "({:.1f})",
                                        m.placement.cost, m.placement.baseline_cost, m.placement.lower_bound,
                                        m.placement.start, m.placement.constructive_cost));

  if (m.estimate.profile_tokens > 0) out += latency_section(m, chip);

  out += fmt::format("\nencodings ({})\n", m.encoding_rule.describe());
  out += fmt::format("  {:<24} {:<11} {:>5} {:<12} {:>7} {:>14}\n", "tensor", "encoding", "bits", "role", "flows",
                     "flits/token");
  for (const EncodingUse& e : s.encodings)
    out += fmt::format("  {:<24} {:<11} {:>5} {:<12} {:>7} {:>14.1f}\n", e.tensor, e.encoding, e.payload_bits, e.role,
                       e.flows, e.flits_per_token);

  out += "\ncores (each unit and where it runs; --rtl and --trace-cores take either column)\n";
  out += fmt::format("  {:>5} {:>9}  {:<34} {:<9} {:>5}  {:<12} {}\n", "core", "chip/r/c", "unit", "kind", "layer", "op",
                     "neuron function");
  for (const auto& c : core_list(m, s.chip))
    out += fmt::format("  {:>5} {:>9}  {:<34} {:<9} {:>5}  {:<12} {}\n", c.core,
                       fmt::format("{}/{}/{}", c.at.chip, c.at.row, c.at.col), c.unit->name, unit_kind_name(c.unit->kind),
                       c.unit->layer < 0 ? std::string("-") : std::to_string(c.unit->layer), unit_op_label(m, *c.unit),
                       c.unit->crossbar() ? neuron_function_name(c.unit->function) : "-");

  out += "\ndecisions\n";
  if (m.decisions.empty()) out += "  (none recorded)\n";
  for (const std::string& d : m.decisions) out += "  - " + d + "\n";
  return out;
}

nlohmann::json mapping_summary_json(const Mapping& m) {
  const Stats s = compute(m);
  nlohmann::json j;
  j["kind"] = mapping_kind_name(m.kind);
  j["model"] = {{"n_layer", m.config.n_layer},           {"n_embd", m.config.n_embd},
                {"vocab_size", m.config.vocab_size},     {"weight_bits", m.quant.weight_bits},
                {"activation_bits", m.quant.activation_bits}, {"membrane_bits", m.quant.membrane_bits},
                {"spike_input_steps", m.config.spike_input_steps}, {"source", m.model_source}};
  j["tokenizer"] = {{"recorded", m.tokenizer_recorded},
                    {"kind", tokenizer_kind_name(m.tokenizer.kind)},
                    {"path", m.tokenizer.path},
                    {"rule", m.tokenizer.rule}};
  j["chip"] = {{"name", m.chip_name}, {"system", s.system}};
  j["cores"] = {{"used", s.cores_used}, {"total", s.cores_total}, {"chips_used", s.chips_used}, {"chips", s.chip_count}};
  j["bytes"] = {{"weights", s.weight_bytes}, {"parameters", s.parameter_bytes}, {"host", s.host_bytes}};
  for (const ResourceUse& r : s.resources)
    j["resources"].push_back({{"name", r.name}, {"over", r.over}, {"max", r.max}, {"mean", r.mean},
                              {"capacity", r.capacity}, {"capacity_key", r.capacity_key}});
  for (const LayerUnits& row : s.layers) {
    nlohmann::json counts = {{"residual", row.residual}};
    for (NeuronFunction f : functions_of(m.kind)) counts[neuron_function_name(f)] = row.crossbar[std::size_t(f)];
    j["units"][row.label] = counts;
  }
  j["traffic"] = {{"flows", s.flows},
                  {"multicast", s.multicast},
                  {"unicast", s.unicast},
                  {"within_core", s.local_only},
                  {"flits_per_token", s.flits_per_token},
                  {"mesh_flit_hops_per_token", s.mesh_flit_hops},
                  {"inter_chip_flits_per_token", s.inter_chip_flits},
                  {"placement_cost", m.placement.cost},
                  {"baseline_cost", m.placement.baseline_cost},
                  {"lower_bound", m.placement.lower_bound}};
  if (const auto e = stats_estimate(m)) {
    nlohmann::json est = estimate_to_json(*e);
    est["packets_per_token"] = m.estimate.packets_per_token;
    est["flits_injected_per_token"] = m.estimate.flits_injected_per_token;
    est["flits_delivered_per_token"] = m.estimate.flits_delivered_per_token;
    est["mesh_flit_hops_per_token"] = m.estimate.mesh_flit_hops_per_token;
    est["inter_chip_flits_per_token"] = m.estimate.inter_chip_flits_per_token;
    j["estimate"] = est;
  }
  j["encoding_rule"] = m.encoding_rule.describe();
  for (const EncodingUse& e : s.encodings)
    j["encodings"].push_back({{"tensor", e.tensor}, {"encoding", e.encoding}, {"payload_bits", e.payload_bits},
                              {"role", e.role}, {"flows", e.flows}, {"flits_per_token", e.flits_per_token}});
  j["placement"] = nlohmann::json::array();
  for (const auto& c : core_list(m, s.chip))
    j["placement"].push_back({{"core", c.core},
                              {"chip", c.at.chip},
                              {"row", c.at.row},
                              {"col", c.at.col},
                              {"unit", c.unit->name},
                              {"kind", unit_kind_name(c.unit->kind)},
                              {"layer", c.unit->layer},
                              {"op", unit_op_label(m, *c.unit)},
                              {"function", c.unit->crossbar()
                                               ? nlohmann::json(neuron_function_name(c.unit->function))
                                               : nlohmann::json(nullptr)}});
  j["decisions"] = m.decisions;
  return j;
}

}  // namespace spiketile
