// The compiled-mapping file: round trip, and rejection of every kind of damage with a message that
// names what is wrong. The file layout is read here independently of the loader, from
// docs/mapping-format.md (header, section table, per-section and whole-file CRC-32).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <sstream>

#include "compiler/lowering.hpp"
#include "compiler/mapping_io.hpp"
#include "tests/unit/cli_runner.hpp"
#include "tests/unit/output_file_checks.hpp"
#include "models/checkpoint_io.hpp"
#include "runtime/mapping_summary.hpp"
#include "tests/unit/shipped_fixtures.hpp"
#include "topology_fixtures.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;

using test_fixtures::read_text;

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/mapio_" + name + ".stmap"; }

// chips/tiny.yaml as two chips in a chain: 2 × (2 × 2) cores, 16 × 16 crossbars, 16 table entries.
std::string two_tiny_chips_yaml() {
  std::string yaml = read_text(test_fixtures::kChipsDir + "tiny.yaml");
  const std::string one = "chip_count: 1";
  const auto at = yaml.find(one);
  EXPECT_NE(at, std::string::npos);
  yaml.replace(at, one.size(), "chip_count: 2");
  return yaml;
}

template <class T>
ParamArray filled(const std::string& name, int64_t count, int seed) {
  std::vector<T> v(static_cast<std::size_t>(count));
  for (int64_t i = 0; i < count; ++i) v[std::size_t(i)] = T((i * 37 + seed * 11) % 101 - 50);
  return make_param(name, v);
}

Unit crossbar(int id, const std::string& name, Op op, NeuronFunction f, int layer, int64_t in_begin, int64_t in_end,
              int64_t out_begin, int64_t out_end, int in_index, int in_tiles) {
  Unit u;
  u.id = id;
  u.name = name;
  u.kind = UnitKind::Crossbar;
  u.function = f;
  u.layer = layer;
  u.op = op;
  u.in_begin = in_begin;
  u.in_end = in_end;
  u.out_begin = out_begin;
  u.out_end = out_end;
  u.in_index = in_index;
  u.in_tiles = in_tiles;
  u.params.push_back(filled<int8_t>(param::kWeights, u.rows() * u.cols(), id));
  return u;
}

Unit residual(int id, int slice, int64_t begin, int64_t end) {
  Unit u;
  u.id = id;
  u.name = fmt::format("L0.residual[{}]", slice);
  u.kind = UnitKind::Residual;
  u.layer = 0;
  u.op = Op::Ln1;
  u.out_begin = begin;
  u.out_end = end;
  u.slice = slice;
  u.slices = 2;
  for (const char* ln : {param::kLn0, param::kLn1, param::kLn2, param::kLnOut}) {  // layer 0 is also the last
    u.params.push_back(filled<int64_t>(std::string(ln) + ".gain", end - begin, id));
    u.params.push_back(filled<int64_t>(std::string(ln) + ".bias", end - begin, id + 1));
  }
  for (const char* mix : {param::kMixAttK, param::kMixAttV, param::kMixAttR, param::kMixFfnK, param::kMixFfnR})
    u.params.push_back(filled<int32_t>(mix, end - begin, id + 2));
  return u;
}

void add_multiplier_arrays(Unit& u, const std::string& prefix, int64_t count) {
  u.params.push_back(filled<int32_t>(prefix + ".mantissa", count, u.id));
  u.params.push_back(filled<int8_t>(prefix + ".shift", count, u.id + 3));
}

MappedFlow flow(int source, std::vector<int> destinations, FlowRole role, ir::Encoding encoding, std::string tensor,
                int64_t begin, int64_t end, int bits, double flits) {
  MappedFlow f;
  f.source = source;
  f.destinations = std::move(destinations);
  f.role = role;
  f.encoding = encoding;
  f.tensor = std::move(tensor);
  f.index_begin = begin;
  f.index_end = end;
  f.payload_bits = bits;
  f.flits_per_token = flits;
  return f;
}

// A small but complete mapping: L1 C8 V4 on two tiny chips, six units placed by hand on six of
// the eight cores, flows within a core's chip and across chips, tables from the router model.
Mapping small_mapping() {
  Mapping m;
  m.config = ModelConfig{1, 8, 4};
  m.quant = QuantOptions{8, 8, 16};
  m.binary_embedding = true;
  m.rescale_every_6_layers = false;
  m.model_source = "hand-built";
  m.chip_name = "spiketile-tiny";
  m.chip_yaml = two_tiny_chips_yaml();
  m.encoding_rule.graded_payload_bits = 8;

  m.units.push_back(residual(0, 0, 0, 4));
  m.units.push_back(residual(1, 1, 4, 8));
  Unit key = crossbar(2, "L0.att.key[0,0]", Op::AttKey, NeuronFunction::AttKey, 0, 0, 8, 0, 8, 0, 1);
  add_multiplier_arrays(key, param::kOut, 8);
  m.units.push_back(key);
  Unit value = crossbar(3, "L0.att.value[0,0]", Op::AttValue, NeuronFunction::AttValueWkvGate, 0, 0, 8, 0, 8, 0, 1);
  add_multiplier_arrays(value, param::kOut, 8);
  add_multiplier_arrays(value, param::kGate, 1);
  value.params.push_back(filled<int32_t>(param::kTimeFirst, 8, 5));
  value.params.push_back(filled<int32_t>(param::kTimeDecay, 8, 6));
  m.units.push_back(value);
  m.units.push_back(crossbar(4, "head[0,0]", Op::Head, NeuronFunction::HeadLogits, -1, 0, 4, 0, 4, 0, 2));
  m.units.push_back(crossbar(5, "head[0,1]", Op::Head, NeuronFunction::PartialSum, -1, 4, 8, 0, 4, 1, 2));
  // Resources: distinct values so max and mean are checkable by hand.
  const int64_t axons[] = {0, 0, 8, 8, 4, 4}, neurons[] = {4, 4, 8, 8, 4, 4};
  const int64_t synapse[] = {200, 200, 64, 64, 16, 16}, state[] = {40, 40, 48, 64, 32, 16};
  for (std::size_t i = 0; i < m.units.size(); ++i)
    m.units[i].resources = UnitResources{axons[i], neurons[i], synapse[i], state[i]};

  using E = ir::Encoding;
  m.flows.push_back(flow(0, {2, 3}, FlowRole::Activation, E::Graded, "L0.att.xk", 0, 4, 8, 2.5));
  m.flows.push_back(flow(1, {2, 3}, FlowRole::Activation, E::Graded, "L0.att.xk", 4, 8, 8, 2.5));
  m.flows.push_back(flow(0, {1}, FlowRole::LnGather, E::Wide, "L0.ln1.partial", 0, 1, 32, 1.0));
  m.flows.push_back(flow(1, {0}, FlowRole::LnScatter, E::Wide, "L0.ln1.mean", 0, 1, 32, 1.0));
  m.flows.push_back(flow(2, {3}, FlowRole::Key, E::Wide, "L0.att.k", 0, 8, 16, 8.0));
  m.flows.push_back(flow(5, {4}, FlowRole::PartialSum, E::Wide, "head.partial", 0, 4, 32, 4.0));
  m.flows.push_back(flow(0, {2, 4}, FlowRole::Activation, E::Graded, "ln_out.z", 0, 4, 8, 1.5));

  m.host.embedding.resize(4 * 8);
  for (std::size_t i = 0; i < m.host.embedding.size(); ++i) m.host.embedding[i] = int32_t(i % 2 ? 4096 : 0);
  m.host.head_logit_scale = {0.5, 0.25, 1e-3, 3.0};

  m.unit_cores = {{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1}, {1, 0, 0}, {1, 0, 1}};
  m.placement.unit_cores = m.unit_cores;
  m.placement.cost = 21.5;
  m.placement.baseline_cost = 30.5;
  m.placement.constructive_cost = 24.0;
  m.placement.lower_bound = 12.0;
  m.placement.mesh_flit_hops_per_token = 17.0;
  m.placement.inter_chip_flits_per_token = 3.0;
  m.placement.start = "hilbert";
  m.placement.moves_proposed = 50000;
  m.placement.moves_accepted = 1234;

  const Topology topology(load_chip_spec_from_string(m.chip_yaml, "two tiny chips"));
  m.routing_tables = build_routing_tables(topology, m.unit_cores, to_placement_flows(m.flows)).tables;
  m.decisions = {"one residual slice per 4 channels", "head split in two input tiles"};
  // What a profiled compile would have estimated (the numbers are arbitrary; the file keeps them).
  m.estimate.profile_tokens = 3;
  m.estimate.cycles_per_token = 1234.5;
  m.estimate.packets_per_token = 17;
  m.estimate.flits_injected_per_token = 21.25;
  m.estimate.flits_delivered_per_token = 30;
  m.estimate.mesh_flit_hops_per_token = 44.5;
  m.estimate.inter_chip_flits_per_token = 0;
  m.estimate.unit_busy_cycles = {10, 20, 30, 40, 50, 60};
  m.estimate.stages = {{"L0.att.k", 0, 12.5, 40}, {"head.logits", -1, 900, 1200}};
  m.estimate.critical_path = {{0, 0, 100}, {3, 120, 700}, {4, 710, 1234.5}};
  // A four-character vocabulary as upstream's vocab.json holds it, decoded to UTF-8.
  m.tokenizer.kind = TokenizerKind::Characters;
  m.tokenizer.path = "/data/own/vocab.json";
  m.tokenizer.rule = "vocab.json beside the checkpoint";
  m.tokenizer.json = R"({"0": "\n", "1": " ", "2": "a", "3": "é"})";
  return m;
}

void expect_same_params(const Unit& a, const Unit& b) {
  ASSERT_EQ(a.params.size(), b.params.size()) << a.name;
  for (std::size_t k = 0; k < a.params.size(); ++k) {
    EXPECT_EQ(a.params[k].name, b.params[k].name);
    EXPECT_EQ(a.params[k].type, b.params[k].type);
    EXPECT_EQ(a.params[k].count, b.params[k].count);
    EXPECT_EQ(a.params[k].bytes, b.params[k].bytes) << a.name << " " << a.params[k].name;
  }
}

bool same_entry(const RouteEntry& a, const RouteEntry& b) {
  return a.flow == b.flow && a.input_port == b.input_port && a.output_ports == b.output_ports &&
         a.next_index == b.next_index;
}

// Doubles compared by bit pattern: the file keeps them bit for bit (a NaN or -0.0 included).
std::vector<uint64_t> bits_of(const std::vector<double>& values) {
  std::vector<uint64_t> bits(values.size());
  if (!values.empty()) std::memcpy(bits.data(), values.data(), values.size() * sizeof(double));
  return bits;
}

void expect_same_nir(const NirProgram& a, const NirProgram& b) {
  EXPECT_EQ(a.source_path, b.source_path);
  EXPECT_EQ(a.input_shape, b.input_shape);
  EXPECT_EQ(a.output_shape, b.output_shape);
  EXPECT_EQ(bits_of({a.dt}), bits_of({b.dt}));
  EXPECT_EQ(std::vector<int>({a.weight_bits, a.activation_bits, a.membrane_bits}),
            std::vector<int>({b.weight_bits, b.activation_bits, b.membrane_bits}));
  ASSERT_EQ(a.populations.size(), b.populations.size());
  for (std::size_t i = 0; i < a.populations.size(); ++i) {
    const NirProgram::Population &x = a.populations[i], &y = b.populations[i];
    SCOPED_TRACE("population " + std::to_string(i));
    EXPECT_EQ(x.node, y.node);
    EXPECT_EQ(x.type, y.type);
    EXPECT_EQ(x.binary, y.binary);
    EXPECT_EQ(bits_of({x.scale}), bits_of({y.scale}));
    EXPECT_EQ(std::vector<int64_t>({x.size, x.columns, x.bias_column, x.late_bias_column}),
              std::vector<int64_t>({y.size, y.columns, y.bias_column, y.late_bias_column}));
  }
  ASSERT_EQ(a.projections.size(), b.projections.size());
  for (std::size_t k = 0; k < a.projections.size(); ++k) {
    const NirProgram::Projection &x = a.projections[k], &y = b.projections[k];
    SCOPED_TRACE("projection " + std::to_string(k));
    EXPECT_EQ(std::vector<int>({x.source, x.target, x.spike_value}), std::vector<int>({y.source, y.target, y.spike_value}));
    EXPECT_EQ(x.recurrent, y.recurrent);
    EXPECT_EQ(std::vector<int64_t>({x.column_begin, x.synapses, x.distinct_weights}),
              std::vector<int64_t>({y.column_begin, y.synapses, y.distinct_weights}));
    EXPECT_EQ(x.path, y.path);
  }
  EXPECT_EQ(a.output, b.output);
  EXPECT_EQ(a.output_population, b.output_population);
  EXPECT_EQ(bits_of(a.output_scale), bits_of(b.output_scale));
  EXPECT_EQ(bits_of(a.output_bias), bits_of(b.output_bias));
  EXPECT_EQ(a.flow_projection, b.flow_projection);
}

void expect_same_mapping(const Mapping& a, const Mapping& b) {
  EXPECT_EQ(a.kind, b.kind);
  expect_same_nir(a.nir, b.nir);
  EXPECT_EQ(a.config.n_layer, b.config.n_layer);
  EXPECT_EQ(a.config.n_embd, b.config.n_embd);
  EXPECT_EQ(a.config.vocab_size, b.config.vocab_size);
  EXPECT_EQ(a.quant.weight_bits, b.quant.weight_bits);
  EXPECT_EQ(a.quant.activation_bits, b.quant.activation_bits);
  EXPECT_EQ(a.quant.membrane_bits, b.quant.membrane_bits);
  EXPECT_EQ(a.binary_embedding, b.binary_embedding);
  EXPECT_EQ(a.rescale_every_6_layers, b.rescale_every_6_layers);
  EXPECT_EQ(a.model_source, b.model_source);
  EXPECT_EQ(a.chip_name, b.chip_name);
  EXPECT_EQ(a.chip_yaml, b.chip_yaml);
  EXPECT_EQ(a.encoding_rule.graded_payload_bits, b.encoding_rule.graded_payload_bits);
  ASSERT_EQ(a.units.size(), b.units.size());
  for (std::size_t i = 0; i < a.units.size(); ++i) {
    const Unit &x = a.units[i], &y = b.units[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.function, y.function);
    EXPECT_EQ(x.layer, y.layer);
    EXPECT_EQ(x.op, y.op);
    EXPECT_EQ(std::vector<int64_t>({x.in_begin, x.in_end, x.out_begin, x.out_end}),
              std::vector<int64_t>({y.in_begin, y.in_end, y.out_begin, y.out_end}));
    EXPECT_EQ(std::vector<int>({x.in_index, x.out_index, x.in_tiles, x.out_tiles, x.slice, x.slices}),
              std::vector<int>({y.in_index, y.out_index, y.in_tiles, y.out_tiles, y.slice, y.slices}));
    EXPECT_EQ(std::vector<int64_t>({x.resources.axons, x.resources.neurons, x.resources.synapse_bytes, x.resources.state_bytes}),
              std::vector<int64_t>({y.resources.axons, y.resources.neurons, y.resources.synapse_bytes, y.resources.state_bytes}));
    expect_same_params(x, y);
  }
  ASSERT_EQ(a.flows.size(), b.flows.size());
  for (std::size_t i = 0; i < a.flows.size(); ++i) {
    const MappedFlow &x = a.flows[i], &y = b.flows[i];
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(x.destinations, y.destinations);
    EXPECT_EQ(x.role, y.role);
    EXPECT_EQ(x.encoding, y.encoding);
    EXPECT_EQ(x.tensor, y.tensor);
    EXPECT_EQ(x.index_begin, y.index_begin);
    EXPECT_EQ(x.index_end, y.index_end);
    EXPECT_EQ(x.payload_bits, y.payload_bits);
    EXPECT_EQ(x.flits_per_token, y.flits_per_token);
  }
  EXPECT_EQ(a.host.embedding, b.host.embedding);
  EXPECT_EQ(a.host.head_logit_scale, b.host.head_logit_scale);
  EXPECT_EQ(a.unit_cores, b.unit_cores);
  EXPECT_EQ(a.placement.unit_cores, b.placement.unit_cores);
  EXPECT_EQ(a.placement.cost, b.placement.cost);
  EXPECT_EQ(a.placement.baseline_cost, b.placement.baseline_cost);
  EXPECT_EQ(a.placement.constructive_cost, b.placement.constructive_cost);
  EXPECT_EQ(a.placement.lower_bound, b.placement.lower_bound);
  EXPECT_EQ(a.placement.mesh_flit_hops_per_token, b.placement.mesh_flit_hops_per_token);
  EXPECT_EQ(a.placement.inter_chip_flits_per_token, b.placement.inter_chip_flits_per_token);
  EXPECT_EQ(a.placement.start, b.placement.start);
  EXPECT_EQ(a.placement.moves_proposed, b.placement.moves_proposed);
  EXPECT_EQ(a.placement.moves_accepted, b.placement.moves_accepted);
  EXPECT_EQ(a.routing_options.unicast_single_destination, b.routing_options.unicast_single_destination);
  EXPECT_EQ(a.routing_options.enforce_table_capacity, b.routing_options.enforce_table_capacity);
  ASSERT_EQ(a.routing_tables.size(), b.routing_tables.size());
  for (std::size_t r = 0; r < a.routing_tables.size(); ++r) {
    ASSERT_EQ(a.routing_tables[r].size(), b.routing_tables[r].size()) << "router " << r;
    for (std::size_t e = 0; e < a.routing_tables[r].size(); ++e)
      EXPECT_TRUE(same_entry(a.routing_tables[r][e], b.routing_tables[r][e])) << "router " << r << " entry " << e;
  }
  EXPECT_EQ(a.decisions, b.decisions);
  EXPECT_EQ(a.tokenizer.kind, b.tokenizer.kind);
  EXPECT_EQ(a.tokenizer.path, b.tokenizer.path);
  EXPECT_EQ(a.tokenizer.rule, b.tokenizer.rule);
  EXPECT_EQ(a.tokenizer.json, b.tokenizer.json);
  EXPECT_EQ(a.tokenizer_recorded, b.tokenizer_recorded);
  const LatencyEstimate &x = a.estimate, &y = b.estimate;
  EXPECT_EQ(x.profile_tokens, y.profile_tokens);
  EXPECT_EQ(std::vector<double>({x.cycles_per_token, x.packets_per_token, x.flits_injected_per_token,
                                 x.flits_delivered_per_token, x.mesh_flit_hops_per_token, x.inter_chip_flits_per_token}),
            std::vector<double>({y.cycles_per_token, y.packets_per_token, y.flits_injected_per_token,
                                 y.flits_delivered_per_token, y.mesh_flit_hops_per_token, y.inter_chip_flits_per_token}));
  EXPECT_EQ(x.unit_busy_cycles, y.unit_busy_cycles);
  ASSERT_EQ(x.stages.size(), y.stages.size());
  for (std::size_t i = 0; i < x.stages.size(); ++i) {
    EXPECT_EQ(x.stages[i].tensor, y.stages[i].tensor);
    EXPECT_EQ(x.stages[i].layer, y.stages[i].layer);
    EXPECT_EQ(x.stages[i].first_send, y.stages[i].first_send);
    EXPECT_EQ(x.stages[i].last_send, y.stages[i].last_send);
  }
  ASSERT_EQ(x.critical_path.size(), y.critical_path.size());
  for (std::size_t i = 0; i < x.critical_path.size(); ++i) {
    EXPECT_EQ(x.critical_path[i].unit, y.critical_path[i].unit);
    EXPECT_EQ(x.critical_path[i].start, y.critical_path[i].start);
    EXPECT_EQ(x.critical_path[i].end, y.critical_path[i].end);
  }
}

// The file layout of docs/mapping-format.md, read without the loader.
struct SectionSpan {
  std::string name;
  uint64_t offset, length;
};
constexpr std::size_t kTableOffset = 24, kEntryBytes = 32, kSections = 11;

template <class T>
T load(const std::vector<unsigned char>& b, std::size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}
template <class T>
void store(std::vector<unsigned char>& b, std::size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

std::vector<SectionSpan> sections_of(const std::vector<unsigned char>& b) {
  std::vector<SectionSpan> out;
  const std::size_t sections = load<uint32_t>(b, 12);
  for (std::size_t i = 0; i < sections; ++i) {
    const std::size_t at = kTableOffset + i * kEntryBytes;
    out.push_back({std::string(reinterpret_cast<const char*>(b.data() + at), strnlen(reinterpret_cast<const char*>(b.data() + at), 16)),
                   load<uint64_t>(b, at + 16), load<uint64_t>(b, at + 24)});
  }
  return out;
}

// Recomputes every section CRC and the whole-file CRC, so a test can change a field and reach the
// loader's structural checks rather than its checksums.
void reseal(std::vector<unsigned char>& b) {
  for (const SectionSpan& s : sections_of(b))
    store(b, s.offset + s.length, checkpoint_io::crc32(b.data() + s.offset, s.length));
  store(b, b.size() - 4, checkpoint_io::crc32(b.data(), b.size() - 4));
}

std::string load_error(const std::string& path) {
  try {
    load_mapping(path);
  } catch (const MappingError& e) {
    return e.what();
  }
  return "(accepted)";
}

std::string error_for_bytes(const std::vector<unsigned char>& bytes, const std::string& name) {
  const std::string path = temp_path(name);
  write_bytes(path, bytes);
  return load_error(path);
}

std::string error_for_mapping(const Mapping& m, const std::string& name) {
  const std::string path = temp_path(name);
  save_mapping(m, path);
  return load_error(path);
}

#define EXPECT_CONTAINS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

std::vector<unsigned char> saved(const Mapping& m, const std::string& name) {
  const std::string path = temp_path(name);
  save_mapping(m, path);
  return read_bytes(path);
}
std::vector<unsigned char> saved_small_mapping() { return saved(small_mapping(), "small"); }

// Validates, saves and loads `m`, expects every field back, and that saving what was loaded gives
// the same bytes; returns what was loaded.
Mapping round_trip(const Mapping& m, const std::string& name) {
  validate_mapping(m);
  const std::string path = temp_path(name);
  save_mapping(m, path);
  EXPECT_TRUE(testing_output::temporaries_beside(path).empty());
  EXPECT_TRUE(is_mapping_file(path));
  Mapping back = load_mapping(path);
  expect_same_mapping(m, back);
  EXPECT_EQ(read_bytes(path), saved(back, name + "_again"));
  return back;
}

TEST(MappingIo, RoundTripKeepsEveryField) { round_trip(small_mapping(), "roundtrip"); }

TEST(MappingIo, LayoutMatchesTheDocumentedFormat) {
  const std::vector<unsigned char> b = saved_small_mapping();
  const unsigned char magic[8] = {0x89, 'S', 'T', 'M', 'A', 'P', '\r', '\n'};
  EXPECT_EQ(std::memcmp(b.data(), magic, 8), 0);
  EXPECT_EQ(load<uint32_t>(b, 8), 6u);
  EXPECT_EQ(load<uint32_t>(b, 12), 11u);
  EXPECT_EQ(load<uint64_t>(b, 16), b.size());
  const std::size_t table_end = kTableOffset + kSections * kEntryBytes;
  EXPECT_EQ(load<uint32_t>(b, table_end), checkpoint_io::crc32(b.data(), table_end));
  const std::vector<std::string> names{"model",   "chip",      "units",    "flows",    "host",     "placement",
                                       "routing", "decisions", "estimate", "tokenizer", "nir"};
  EXPECT_EQ(mapping_section_names(), names);
  uint64_t at = table_end + 4;
  const auto spans = sections_of(b);
  for (std::size_t i = 0; i < kSections; ++i) {
    EXPECT_EQ(spans[i].name, names[i]);
    EXPECT_EQ(spans[i].offset, at);
    EXPECT_EQ(load<uint32_t>(b, spans[i].offset + spans[i].length), checkpoint_io::crc32(b.data() + at, spans[i].length));
    at += spans[i].length + 4;
  }
  EXPECT_EQ(at + 4, b.size());
  EXPECT_EQ(load<uint32_t>(b, b.size() - 4), checkpoint_io::crc32(b.data(), b.size() - 4));
  // The model section starts with n_layer, n_embd, vocab_size as little-endian int32.
  EXPECT_EQ(load<int32_t>(b, spans[0].offset), 1);
  EXPECT_EQ(load<int32_t>(b, spans[0].offset + 4), 8);
  EXPECT_EQ(load<int32_t>(b, spans[0].offset + 8), 4);
  // The host section: u64 count then V × C int32 values.
  EXPECT_EQ(load<uint64_t>(b, spans[4].offset), 32u);
  EXPECT_EQ(load<int32_t>(b, spans[4].offset + 8 + 4), 4096);
  // The tokenizer section: u8 kind (1: character vocabulary), then the path as a string.
  EXPECT_EQ(b[spans[9].offset], 1);
  EXPECT_EQ(load<uint32_t>(b, spans[9].offset + 1), std::string("/data/own/vocab.json").size());
  // A SpikeGPT's nir section: kind 0, then the empty program (docs: 86 bytes), ending in the three
  // empty f64/i32 arrays of the host side.
  EXPECT_EQ(spans[10].length, 86u);
  EXPECT_EQ(b[spans[10].offset], 0);
  for (std::size_t tail = 1; tail <= 3; ++tail) EXPECT_EQ(load<uint64_t>(b, spans[10].offset + 86 - 8 * tail), 0u);
}

// The file as an older format version wrote it: its first `sections` sections (versions before 6
// only appended sections; 6 appended spike_input_steps, 0 here, to 'model'), the table that much
// shorter, every offset moved, all checksums anew.
std::vector<unsigned char> as_version(const std::vector<unsigned char>& current, uint32_t version, std::size_t sections) {
  const std::vector<SectionSpan> spans = sections_of(current);
  const std::size_t table_end = kTableOffset + sections * kEntryBytes;
  std::vector<unsigned char> b(current.begin(), current.begin() + std::ptrdiff_t(table_end));
  b.resize(b.size() + 4);  // the table's CRC
  for (std::size_t i = 0; i < sections; ++i) {
    const uint64_t length = spans[i].length - (i == 0 && version < 6 ? 4 : 0);
    if (i == 0 && version < 6) {
      EXPECT_EQ(load<int32_t>(current, spans[i].offset + length), 0);
    }
    store<uint64_t>(b, kTableOffset + i * kEntryBytes + 16, b.size());
    store<uint64_t>(b, kTableOffset + i * kEntryBytes + 24, length);
    b.insert(b.end(), current.begin() + std::ptrdiff_t(spans[i].offset),
             current.begin() + std::ptrdiff_t(spans[i].offset + length));
    b.resize(b.size() + 4);  // its CRC, set by reseal
  }
  b.resize(b.size() + 4);  // the whole-file CRC
  store<uint32_t>(b, 8, version);
  store<uint32_t>(b, 12, uint32_t(sections));
  store<uint64_t>(b, 16, b.size());
  store<uint32_t>(b, table_end, checkpoint_io::crc32(b.data(), table_end));
  reseal(b);
  return b;
}

// Mappings compiled before the tokenizer record keep loading: everything but the record, which
// says it is absent, so text falls back to the shipped tokenizers by vocabulary size.
TEST(MappingIo, ReadsVersion3MappingsWithoutATokenizerRecord) {
  const std::string path = temp_path("version3");
  write_bytes(path, as_version(saved_small_mapping(), 3, 9));
  const Mapping back = load_mapping(path);
  EXPECT_FALSE(back.tokenizer_recorded);
  EXPECT_EQ(back.tokenizer.kind, TokenizerKind::None);
  Mapping expected = small_mapping();
  expected.tokenizer = TokenizerSource{};
  expected.tokenizer_recorded = false;
  expect_same_mapping(expected, back);
  EXPECT_CONTAINS(mapping_summary(back), "tokenizer:           none recorded (mapping format version 3)");
  // The mapping the fuzz corpus keeps was written by a version-3 compile of the 2-layer fixture.
  const Mapping committed = load_mapping(std::string(SPIKETILE_FUZZ_INPUTS) + "/corpus/mapping/l2_c32_default_chip.stmap");
  EXPECT_FALSE(committed.tokenizer_recorded);
  EXPECT_EQ(committed.config.vocab_size, 77);
  EXPECT_EQ(committed.kind, MappingKind::SpikeGpt);
}

// Mappings compiled before NIR mappings existed load as what they are: SpikeGPTs with an empty
// NIR program, everything else as written.
TEST(MappingIo, ReadsVersion4MappingsAsSpikeGpt) {
  const std::vector<unsigned char> v4 = as_version(saved_small_mapping(), 4, 10);
  EXPECT_EQ(load<uint32_t>(v4, 8), 4u);
  EXPECT_EQ(sections_of(v4).back().name, "tokenizer");
  const std::string path = temp_path("version4");
  write_bytes(path, v4);
  const Mapping back = load_mapping(path);
  EXPECT_EQ(back.kind, MappingKind::SpikeGpt);
  EXPECT_TRUE(back.tokenizer_recorded);
  expect_same_mapping(small_mapping(), back);
  // Saving it again writes the current version: the same sections plus an empty 'nir'.
  EXPECT_EQ(saved(back, "version4_again"), saved_small_mapping());
  // The version-4 mapping the fuzz corpus keeps (a compile of the 2-layer fixture).
  const Mapping committed = load_mapping(std::string(SPIKETILE_FUZZ_INPUTS) + "/corpus/mapping/l2_c32_default_chip_v4.stmap");
  EXPECT_EQ(committed.kind, MappingKind::SpikeGpt);
  EXPECT_TRUE(committed.tokenizer_recorded);
  EXPECT_EQ(committed.nir.populations.size(), 0u);
  EXPECT_EQ(committed.config.vocab_size, 77);
  EXPECT_EQ(committed.config.spike_input_steps, 0);  // before version 6: the released graph
  EXPECT_EQ(mapping_section_names(4).size(), 10u);
  EXPECT_EQ(mapping_section_names(3).size(), 9u);
  EXPECT_EQ(mapping_section_names(5), mapping_section_names());
  EXPECT_EQ(mapping_section_names(6), mapping_section_names());
}

// The recorded tokenizer is one, of the model's vocabulary size, or the file is refused naming the
// section: text encoded with it must give ids the embedding has rows for.
TEST(MappingIo, RejectsATokenizerRecordThatDoesNotFitTheModel) {
  Mapping m = small_mapping();
  m.tokenizer.json = R"({"0": "\n", "1": " ", "2": "a", "3": "é", "4": "b"})";
  EXPECT_CONTAINS(error_for_mapping(m, "tok-size"),
                  "section 'tokenizer': the recorded character vocabulary (/data/own/vocab.json) has 5 ids; the "
                  "model's vocabulary has 4");
  m.tokenizer.json = R"({"0": "\n", "1": " ", "2": "a", "3": "a"})";
  EXPECT_CONTAINS(error_for_mapping(m, "tok-dup"), "section 'tokenizer': ");
  EXPECT_CONTAINS(error_for_mapping(m, "tok-dup"), "character 'a' (U+0061) appears under ids 2 and 3");
  m.tokenizer.json = "{\"0\": ";
  EXPECT_CONTAINS(error_for_mapping(m, "tok-json"), "section 'tokenizer': ");
  EXPECT_CONTAINS(error_for_mapping(m, "tok-json"), "malformed JSON");
  m.tokenizer.kind = TokenizerKind::ByteLevelBpe;
  m.tokenizer.json = R"({"0": "\n", "1": " ", "2": "a", "3": "é"})";
  EXPECT_CONTAINS(error_for_mapping(m, "tok-kind"), "recorded as a byte-level BPE, but its content is a character vocabulary");
  m.tokenizer.kind = TokenizerKind::None;
  EXPECT_CONTAINS(error_for_mapping(m, "tok-none"), "section 'tokenizer': kind none, yet it holds");
  std::vector<unsigned char> b = saved_small_mapping();
  b[sections_of(b)[9].offset] = 3;
  reseal(b);
  EXPECT_CONTAINS(error_for_bytes(b, "tok-enum"),
                  "section 'tokenizer': kind is 3; expected one of 0 none, 1 character vocabulary, 2 byte-level BPE");
}

TEST(MappingIo, RejectsWrongMagicAndOtherVersions) {
  std::vector<unsigned char> b = saved_small_mapping();
  b[1] = 'X';
  EXPECT_CONTAINS(error_for_bytes(b, "magic"), "not a spiketile mapping: the file starts with [89 58 54 4d 41 50 0d 0a]");
  b = saved_small_mapping();
  store<uint32_t>(b, 8, 2);
  const std::string e = error_for_bytes(b, "version");
  EXPECT_CONTAINS(e, "mapping format version 2; this build reads versions 3 to 6");
  EXPECT_CONTAINS(e, temp_path("version"));
  store<uint32_t>(b, 8, 7);
  EXPECT_CONTAINS(error_for_bytes(b, "version"), "mapping format version 7; this build reads versions 3 to 6");
  EXPECT_CONTAINS(error_for_bytes({'h', 'i'}, "short"), "not a spiketile mapping: the file starts with [68 69]");
}

// A mapping written under the tool's earlier name (its magic, format version 1) is refused by
// name with the command that replaces it, and still counts as a mapping file so that `inspect`
// reaches the refusal instead of reading it as a checkpoint.
TEST(MappingIo, RefusesMappingsOfTheEarlierNameWithHowToRecompile) {
  std::vector<unsigned char> b = saved_small_mapping();
  const unsigned char former[8] = {0x89, 'S', 'F', 'M', 'A', 'P', '\r', '\n'};
  std::memcpy(b.data(), former, sizeof former);
  store<uint32_t>(b, 8, 1);
  const std::string path = temp_path("former");
  write_bytes(path, b);
  EXPECT_TRUE(is_mapping_file(path));
  const std::string e = load_error(path);
  EXPECT_CONTAINS(e, path + ": this mapping was written by spikeforge, the earlier name of this tool");
  EXPECT_CONTAINS(e, "recompile the model with `spiketile compile");
  // Only a whole former magic is recognised: a file cut inside it is not a mapping at all.
  EXPECT_CONTAINS(error_for_bytes(std::vector<unsigned char>(b.begin(), b.begin() + 5), "former-cut"),
                  "not a spiketile mapping");
}

// The estimate describes this mapping or the file is refused: one busy figure per unit, path
// steps on its units, finite non-negative cycles.
TEST(MappingIo, RejectsAnEstimateThatDoesNotDescribeTheMapping) {
  Mapping m = small_mapping();
  m.estimate.unit_busy_cycles.pop_back();
  EXPECT_CONTAINS(error_for_mapping(m, "busy"), "section 'estimate': 5 unit busy figures for 6 units");
  m = small_mapping();
  m.estimate.critical_path[1].unit = 6;
  EXPECT_CONTAINS(error_for_mapping(m, "path"), "section 'estimate': a critical-path step is on unit 6; the mapping has 6");
  m = small_mapping();
  m.estimate.cycles_per_token = -1;
  EXPECT_CONTAINS(error_for_mapping(m, "negative"), "section 'estimate': a per-token figure is -1");
  m = small_mapping();
  m.estimate.profile_tokens = 0;
  EXPECT_CONTAINS(error_for_mapping(m, "none"), "section 'estimate': no profile tokens, yet it holds figures");
}

TEST(MappingIo, RejectsTruncationNamingTheSectionItCuts) {
  const std::vector<unsigned char> whole = saved_small_mapping();
  auto cut = [&](std::size_t size) {
    return error_for_bytes(std::vector<unsigned char>(whole.begin(), whole.begin() + std::ptrdiff_t(size)), "cut");
  };
  EXPECT_CONTAINS(cut(0), "not a spiketile mapping");
  EXPECT_CONTAINS(cut(10), "truncated: the format version needs 4 bytes at offset 8; the file ends at 10");
  EXPECT_CONTAINS(cut(20), "truncated: the header needs 24 bytes at offset 0; the file ends at 20");
  EXPECT_CONTAINS(cut(100), "truncated: the section table needs 356 bytes at offset 24; the file ends at 100");
  for (const SectionSpan& s : sections_of(whole)) {
    const std::string needs = fmt::format("truncated: section '{}' needs {} bytes at offset {}", s.name, s.length + 4, s.offset);
    for (uint64_t at : {s.offset, s.offset + s.length / 2, s.offset + s.length + 2}) {
      SCOPED_TRACE(fmt::format("{} cut at {}", s.name, at));
      EXPECT_CONTAINS(cut(at), needs + fmt::format("; the file ends at {}", at));
    }
  }
  EXPECT_CONTAINS(cut(whole.size() - 1),
                  fmt::format("truncated: the whole-file CRC needs 4 bytes at offset {}", whole.size() - 4));
  std::vector<unsigned char> longer = whole;
  longer.push_back(0);
  EXPECT_CONTAINS(error_for_bytes(longer, "long"), "1 bytes of trailing data");
}

TEST(MappingIo, FlippedByteInEachSectionFailsItsCrc) {
  const std::vector<unsigned char> whole = saved_small_mapping();
  for (const SectionSpan& s : sections_of(whole)) {
    for (uint64_t at : {s.offset, s.offset + s.length / 2, s.offset + s.length - 1, s.offset + s.length}) {
      std::vector<unsigned char> b = whole;
      b[at] ^= 0x10;
      EXPECT_CONTAINS(error_for_bytes(b, "flip"), fmt::format("section '{}' CRC mismatch", s.name)) << "byte " << at;
    }
  }
  std::vector<unsigned char> b = whole;
  b[kTableOffset + 2 * kEntryBytes + 20] ^= 1;  // the 'units' offset
  EXPECT_CONTAINS(error_for_bytes(b, "flip"), "header and section table CRC mismatch");
  b = whole;
  b[b.size() - 2] ^= 1;
  EXPECT_CONTAINS(error_for_bytes(b, "flip"), "whole-file CRC mismatch");
}

TEST(MappingIo, CorruptCountIsRejectedBeforeAllocating) {
  const std::vector<unsigned char> whole = saved_small_mapping();
  const auto spans = sections_of(whole);
  std::vector<unsigned char> b = whole;
  store<uint64_t>(b, spans[2].offset, uint64_t(1) << 60);  // unit count
  reseal(b);
  EXPECT_CONTAINS(error_for_bytes(b, "count"),
                  fmt::format("section 'units': unit count is 1152921504606846976, which needs more than 2^64 bytes at 107 "
                              "bytes each; only {} bytes remain at offset {}",
                              spans[2].length - 8, spans[2].offset + 8));
  b = whole;
  store<uint64_t>(b, spans[4].offset, uint64_t(1) << 40);  // embedding count: 4 TiB of int32
  reseal(b);
  EXPECT_CONTAINS(error_for_bytes(b, "count"),
                  fmt::format("section 'host': embedding count is 1099511627776, which needs at least 4398046511104 bytes "
                              "at 4 bytes each; only {} bytes remain",
                              spans[4].length - 8));
  // The first parameter of unit 0: after id (4), name (4 + 14), kind/function/op (3), layer (4),
  // ranges (32), tile indices (24), resources (32) and the parameter count (4); then its name
  // (4 + 8) and type (1) come before count and byte length.
  const std::size_t param = spans[2].offset + 8 + 4 + 4 + 14 + 3 + 4 + 32 + 24 + 32 + 4;
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(b.data() + param + 4), 8), "ln0.gain");
  const std::size_t count_at = param + 4 + 8 + 1;
  ASSERT_EQ(load<int64_t>(whole, count_at), 4);
  b = whole;
  store<int64_t>(b, count_at, int64_t(1) << 59);
  store<uint64_t>(b, count_at + 8, (uint64_t(1) << 62) + 8);
  reseal(b);
  EXPECT_CONTAINS(error_for_bytes(b, "count"),
                  "section 'units', unit 0 (L0.residual[0]), parameter 'ln0.gain': byte length is 4611686018427387912; "
                  "576460752303423488 × i64 needs 4611686018427387904");
  store<uint64_t>(b, count_at + 8, uint64_t(1) << 62);
  reseal(b);
  EXPECT_CONTAINS(error_for_bytes(b, "count"),
                  "parameter 'ln0.gain': 576460752303423488 × i64 needs 4611686018427387904 bytes; only ");
}

// A change to a valid mapping and (part of) the error the loader must give for it.
struct MappingDamage {
  std::string what;
  std::function<void(Mapping&)> change;
  std::string message;
};

// Each change made to `base`: the loader refuses the saved file with its message, and
// validate_mapping refuses the mapping.
void expect_refused(const std::vector<MappingDamage>& cases, const Mapping& base, const std::string& name) {
  for (const MappingDamage& c : cases) {
    SCOPED_TRACE(c.what);
    Mapping m = base;
    c.change(m);
    EXPECT_CONTAINS(error_for_mapping(m, name), c.message);
    EXPECT_THROW(validate_mapping(m), MappingError);
  }
}

TEST(MappingIo, RejectsOutOfRangeIdsAndSizes) {
  const std::vector<MappingDamage> cases{
      {"unit id", [](Mapping& m) { m.units[2].id = 7; },
       "unit 2 (L0.att.key[0,0]): id is 7; units are numbered by position, expected 2"},
      {"flow destination", [](Mapping& m) { m.flows[6].destinations[1] = 99; },
       "flow 6 (ln_out.z): destination 99 is not a unit (the mapping has 6 units)"},
      {"flow outside its destination's columns", [](Mapping& m) { m.flows[1].destinations = {2, 4}; },
       "flow 1 (L0.att.xk): carries indices [4, 8), outside the input columns [0, 4) of unit 4 (head[0,0])"},
      {"flow outside its source's outputs", [](Mapping& m) { m.flows[0].index_end = 6; },
       "flow 0 (L0.att.xk): carries indices [0, 6), outside the outputs [0, 4) of unit 0 (L0.residual[0])"},
      {"flow of a kind its destination cannot take", [](Mapping& m) { m.flows[4].destinations = {0}; },
       "flow 4 (L0.att.k): a key flow cannot go to unit 0 (L0.residual[0]), a residual unit"},
      {"flow source", [](Mapping& m) { m.flows[0].source = -1; }, "flow 0 (L0.att.xk): source -1 is not a unit"},
      {"weights bytes", [](Mapping& m) { m.units[2].params[0].bytes.pop_back(); },
       "unit 2 (L0.att.key[0,0]), parameter 'weights': byte length is 63; 64 × i8 needs 64"},
      {"weights count", [](Mapping& m) { m.units[2].params[0] = filled<int8_t>(param::kWeights, 60, 0); },
       "unit 2 (L0.att.key[0,0]): parameter 'weights' is 60 × i8; expected 64 × i8"},
      {"out count", [](Mapping& m) { m.units[3].params[1] = filled<int32_t>("out.mantissa", 7, 0); },
       "unit 3 (L0.att.value[0,0]): parameter 'out.mantissa' is 7 × i32; expected 8 × i32"},
      {"residual slice arrays", [](Mapping& m) { m.units[1].params[2] = filled<int64_t>("ln1.gain", 8, 0); },
       "unit 1 (L0.residual[1]): parameter 'ln1.gain' is 8 × i64; expected 4 × i64"},
      {"missing array", [](Mapping& m) { m.units[3].params.pop_back(); },
       "unit 3 (L0.att.value[0,0]): parameter 'time_decay' (8 × i32) is missing"},
      {"unknown array", [](Mapping& m) { m.units[4].params.push_back(filled<int32_t>("bias", 4, 0)); },
       "unit 4 (head[0,0]): unexpected parameter 'bias'; a crossbar logits unit holds [weights]"},
      {"output range", [](Mapping& m) { m.units[4].out_end = 5; },
       "unit 4 (head[0,0]): output range [0, 5) is not a non-empty range inside [0, 4)"},
      {"channel range", [](Mapping& m) { m.units[1].out_end = 9; },
       "unit 1 (L0.residual[1]): channel range [4, 9) is not a non-empty range inside [0, 8) (n_embd)"},
      {"reducer function", [](Mapping& m) { m.units[5].function = NeuronFunction::HeadLogits; },
       "unit 5 (head[0,1]): function 'logits'; tile 1 of op 'head' must be 'partial-sum'"},
      {"layer", [](Mapping& m) { m.units[2].layer = 1; }, "unit 2 (L0.att.key[0,0]): layer 1 for op 'att.key'; expected 0 to 0"},
      {"resources", [](Mapping& m) { m.units[3].resources.state_bytes = 65; },
       "unit 3 (L0.att.value[0,0]): needs 65 state bytes; a core of 'spiketile-tiny' has 64 (core.state_sram.size_bytes)"},
      {"embedding", [](Mapping& m) { m.host.embedding.pop_back(); },
       "section 'host': the embedding has 31 values; V × C = 4 × 8 = 32"},
      {"logit scales", [](Mapping& m) { m.host.head_logit_scale.push_back(1.0); },
       "section 'host': head_logit_scale has 5 values; expected V = 4"},
      {"chip name", [](Mapping& m) { m.chip_name = "other"; },
       "chip_name is 'other' but the embedded description is named 'spiketile-tiny'"},
      {"chip yaml", [](Mapping& m) { m.chip_yaml += "\nbogus_key: 1\n"; }, "section 'chip': invalid chip description"},
      {"weight bits", [](Mapping& m) { m.quant.weight_bits = 9; }, "section 'model': weight_bits is 9; expected 1 to 8"},
      {"two units on one core", [](Mapping& m) { m.unit_cores[3] = m.unit_cores[1]; m.placement.unit_cores = m.unit_cores; },
       "unit 1 (L0.residual[1]) and unit 3 (L0.att.value[0,0]) are both placed on chip 0 (row 0, col 1); each unit needs its own core"},
      {"core off the chip", [](Mapping& m) { m.unit_cores[5] = {2, 0, 0}; m.placement.unit_cores = m.unit_cores; },
       "unit 5 (head[0,1]): placed on chip 2 (row 0, col 0), which the chip 'spiketile-tiny' does not have"},
      {"unit cores", [](Mapping& m) { m.unit_cores.pop_back(); m.placement.unit_cores = m.unit_cores; },
       "section 'placement': 5 unit cores for 6 units"},
  };
  expect_refused(cases, small_mapping(), "bad");
}

// Every string of the file reaches JSON, HTML or a terminal: one that is not UTF-8 (here a bare
// continuation byte, an overlong '/', a surrogate, a truncated sequence) is refused by the loader,
// naming the file, the section and the field, before validation or any use of the name.
TEST(MappingIo, StringsThatAreNotUtf8AreRefusedNamingFileAndField) {
  const std::vector<MappingDamage> cases{
      {"model source", [](Mapping& m) { m.model_source = "hand\x80" "built"; },
       "section 'model': model_source (the 10 bytes at offset "},
      {"chip name", [](Mapping& m) { m.chip_name = "tiny\xC0\xAF"; }, "section 'chip': chip_name (the 6 bytes at offset "},
      {"unit name", [](Mapping& m) { m.units[2].name = "L0.\xED\xA0\x80key"; },
       "section 'units', unit 2: name (the 9 bytes at offset "},
      {"flow tensor", [](Mapping& m) { m.flows[1].tensor = "xk\xE2\x82"; },
       "section 'flows', flow 1: tensor (the 4 bytes at offset "},
      {"decision", [](Mapping& m) { m.decisions.push_back("split \xFF"); },
       "section 'decisions': decision (the 7 bytes at offset "},
  };
  for (const MappingDamage& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string path = temp_path("not_utf8");
    Mapping m = small_mapping();
    c.change(m);
    save_mapping(m, path);
    const std::string error = load_error(path);
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_CONTAINS(error, c.message);
    EXPECT_CONTAINS(error, ") is not valid UTF-8");
  }
  // Well-formed multi-byte text, up to U+10FFFF, stays accepted.
  Mapping m = small_mapping();
  m.model_source = "h\xC3\xA9 \xE2\x82\xAC \xF4\x8F\xBF\xBF";
  const std::string path = temp_path("utf8");
  save_mapping(m, path);
  EXPECT_EQ(load_mapping(path).model_source, m.model_source);
}

TEST(MappingIo, RejectsRoutingTablesThatDoNotMatchPlacementAndFlows) {
  const Mapping good = small_mapping();
  std::size_t router = 0;
  while (good.routing_tables[router].empty()) ++router;
  const RouteEntry& entry = good.routing_tables[router][0];
  const std::string where = fmt::format("routing tables do not match placement and flows: router {} ({}) entry 0: the file has ",
                                        router, to_string(Topology(load_chip_spec_from_string(good.chip_yaml, "x")).coord(int(router))));
  Mapping m = good;
  m.routing_tables[router][0].output_ports ^= 1u << int(Port::local);
  EXPECT_CONTAINS(error_for_mapping(m, "route"), where + fmt::format("flow {}", entry.flow));
  m = good;
  m.routing_tables[router].erase(m.routing_tables[router].begin());
  EXPECT_CONTAINS(error_for_mapping(m, "route"), where);
  m = good;
  m.routing_tables.pop_back();
  EXPECT_CONTAINS(error_for_mapping(m, "route"), "section 'routing': 7 router tables; the chip has 8 routers");
  // Tables must come from the stored options: all-multicast tables differ from unicast ones.
  m = good;
  m.routing_options.unicast_single_destination = false;
  EXPECT_CONTAINS(error_for_mapping(m, "route"), "routing tables do not match placement and flows");
}

TEST(MappingIo, EverySingleByteFlipIsRejected) {
  const std::vector<unsigned char> whole = saved_small_mapping();
  std::mt19937_64 rng(20261129);
  const std::string path = temp_path("fuzz");
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<unsigned char> b = whole;
    const std::size_t at = std::size_t(rng() % b.size());
    b[at] ^= uint8_t(1 + rng() % 255);
    write_bytes(path, b);
    try {
      load_mapping(path);
      ADD_FAILURE() << "flip at byte " << at << " was accepted";
    } catch (const MappingError&) {
    }
  }
}

// Past the checksums (the CRCs recomputed after the damage), the parser and the validator must
// still turn any field value into a MappingError or a valid mapping — never a crash, a huge
// allocation or another exception.
TEST(MappingIo, DamagedFieldsBehindValidChecksumsAreRejectedCleanly) {
  const std::vector<unsigned char> whole = saved_small_mapping();
  const auto spans = sections_of(whole);
  std::mt19937_64 rng(7);
  const std::string path = temp_path("fuzz_sealed");
  int rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<unsigned char> b = whole;
    const SectionSpan& s = spans[std::size_t(rng() % spans.size())];
    for (int k = 0, flips = 1 + int(rng() % 3); k < flips; ++k) b[s.offset + rng() % s.length] ^= uint8_t(1u << (rng() % 8));
    reseal(b);
    write_bytes(path, b);
    try {
      load_mapping(path);
    } catch (const MappingError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 150);  // most fields are checked; some (a cost, a name) may take any value
}

// The compile streams the host's embedding into the file; the bytes are those of a mapping that
// holds the table, and a stream that comes up short leaves no file behind.
TEST(MappingIo, StreamedEmbeddingWritesTheSameBytesAndAShortStreamWritesNothing) {
  const Mapping m = small_mapping();
  const std::string held = temp_path("held");
  save_mapping(m, held);
  Mapping without = m;
  without.host.embedding.clear();
  EmbeddingStream stream;
  stream.values = int64_t(m.host.embedding.size());
  stream.produce = [&](const std::function<void(const int32_t*, std::size_t)>& emit) {
    for (std::size_t i = 0; i < m.host.embedding.size(); i += 3)  // uneven pieces
      emit(m.host.embedding.data() + i, std::min<std::size_t>(3, m.host.embedding.size() - i));
  };
  const std::string streamed = temp_path("streamed");
  save_mapping(without, streamed, &stream);
  EXPECT_EQ(read_bytes(held), read_bytes(streamed));

  stream.produce = [&](const std::function<void(const int32_t*, std::size_t)>& emit) {
    emit(m.host.embedding.data(), m.host.embedding.size() - 1);
  };
  const std::string short_path = temp_path("stream_short");
  try {
    save_mapping(without, short_path, &stream);
    FAIL() << "saved";
  } catch (const MappingError& e) {
    EXPECT_CONTAINS(std::string(e.what()), "embedding stream produced");
  }
  EXPECT_FALSE(fs::exists(short_path));
  EXPECT_TRUE(testing_output::temporaries_beside(short_path).empty());
}

TEST(MappingIo, SaveToAMissingFolderIsAClearError) {
  try {
    save_mapping(small_mapping(), "/nonexistent-folder/x.stmap");
    FAIL() << "saved";
  } catch (const std::runtime_error& e) {
    EXPECT_CONTAINS(std::string(e.what()), "cannot write /nonexistent-folder/x.stmap: No such file or directory");
  }
}

// ---------------------------------------------------------------------------------------------
// NIR mappings (format version 5): the 'nir' section, the NIR tiles and their checks.

// A tile of NIR population `population`; a neuron reducer holds its multipliers and constants.
Unit nir_tile(int id, const std::string& name, NeuronFunction f, int population, int64_t in_begin, int64_t in_end,
              int64_t out_begin, int64_t out_end, int in_index, int in_tiles) {
  Unit u = crossbar(id, name, Op::Head, f, population, in_begin, in_end, out_begin, out_end, in_index, in_tiles);
  u.kind = UnitKind::NirCrossbar;
  if (f != NeuronFunction::NirNeuron) return u;
  add_multiplier_arrays(u, param::kOut, u.rows());
  int seed = id;
  for (const char* name_i32 : {param::kNeuronDv, param::kNeuronDi, param::kNeuronBias, param::kNeuronTheta,
                               param::kNeuronVReset})
    u.params.push_back(filled<int32_t>(name_i32, u.rows(), ++seed));
  u.params.push_back(filled<int8_t>(param::kNeuronMode, u.rows(), ++seed));
  return u;
}

// A recurrent CubaLIF layer of 6 neurons on a 2 × 2 input and a readout of 3, by hand, placed and
// routed on chips/tiny.yaml. lif1's columns: the input [0, 4), its own spikes of the previous step
// [4, 10), the bias 10; as two input tiles. The readout's: lif1's spikes [0, 6), bias 6, late bias 7.
Mapping nir_mapping() {
  Mapping m;
  m.kind = MappingKind::Nir;
  m.chip_yaml = read_text(test_fixtures::kChipsDir + "tiny.yaml");
  m.chip_name = "spiketile-tiny";
  NirProgram& p = m.nir;
  p.source_path = "tests/data/nir/cuba_recurrent.nir";
  p.input_shape = {2, 2};
  p.output_shape = {3};
  p.dt = 1e-4;  // not a binary fraction: read back bit for bit or not at all
  p.weight_bits = 6;
  p.activation_bits = 7;
  p.membrane_bits = 20;
  p.populations = {
      {"input", "Input", 4, false, 0.1, 0, -1, -1},
      {"lif1", "CubaLIF", 6, true, 1.0 / 3.0, 11, 10, -1},
      {"<output>", "Readout", 3, false, -2.5e-7, 8, 6, 7},
  };
  p.projections = {
      {0, 1, false, 1, 0, {"fc1"}, 24, 24},
      {1, 1, true, 3, 4, {"lif1.w_rec", "scale"}, 36, 30},
      {1, 2, false, 1, 0, {"fc_out"}, 18, 17},
  };
  p.output = NirProgram::Output::Readout;
  p.output_population = 2;
  p.output_scale = {0.5, 1e-3, 0.1};
  p.output_bias = {-0.25, -0.0, 2.5};

  using F = NeuronFunction;
  m.units.push_back(nir_tile(0, "lif1[0,0]", F::NirNeuron, 1, 0, 4, 0, 6, 0, 2));
  m.units.push_back(nir_tile(1, "lif1[0,1]", F::PartialSum, 1, 4, 11, 0, 6, 1, 2));
  m.units.push_back(nir_tile(2, "<output>[0,0]", F::NirReadout, 2, 0, 8, 0, 3, 0, 1));
  m.units[0].resources = UnitResources{4, 6, 24, 60};
  m.units[1].resources = UnitResources{7, 6, 42, 24};
  m.units[2].resources = UnitResources{8, 3, 24, 12};

  using E = ir::Encoding;
  m.flows.push_back(flow(1, {0}, FlowRole::PartialSum, E::Wide, "lif1.partial", 0, 6, 24, 6.0));
  m.flows.push_back(flow(0, {1}, FlowRole::Activation, E::Graded, "lif1.rec", 0, 6, 2, 1.5));
  m.flows.push_back(flow(0, {2}, FlowRole::Spikes, E::Binary, "lif1.spikes", 0, 6, 0, 1.25));
  p.flow_projection = {-1, 1, 2};
  m.decisions = {"lif1: two input tiles (input, then recurrent spikes and bias)"};
  m.estimate.profile_tokens = 2;
  m.estimate.cycles_per_token = 77.5;
  m.estimate.unit_busy_cycles = {30, 12, 9};
  m.estimate.stages = {{"lif1.spikes", 1, 20, 30}, {"<output>", 2, 40, 77.5}};
  return place_and_route(std::move(m), load_chip_spec_from_string(read_text(test_fixtures::kChipsDir + "tiny.yaml"), "tiny"));
}

std::vector<unsigned char> saved_nir_mapping() { return saved(nir_mapping(), "nir"); }

TEST(MappingIoNir, RoundTripKeepsEveryField) {
  const Mapping m = nir_mapping();
  ASSERT_EQ(m.unit_cores.size(), 3u);  // placed and routed
  const Mapping back = round_trip(m, "nir_roundtrip");
  // Key fields against the values written above, not only against each other.
  EXPECT_EQ(back.kind, MappingKind::Nir);
  EXPECT_EQ(bits_of({back.nir.dt}), bits_of({1e-4}));
  EXPECT_EQ(bits_of(back.nir.output_bias), bits_of({-0.25, -0.0, 2.5}));
  EXPECT_EQ(back.nir.populations[2].type, "Readout");
  EXPECT_EQ(back.nir.populations[2].late_bias_column, 7);
  EXPECT_EQ(back.nir.projections[1].path, std::vector<std::string>({"lif1.w_rec", "scale"}));
  EXPECT_TRUE(back.nir.projections[1].recurrent);
  EXPECT_EQ(back.nir.projections[1].spike_value, 3);
  EXPECT_EQ(back.nir.flow_projection, std::vector<int>({-1, 1, 2}));
  EXPECT_EQ(back.nir.output, NirProgram::Output::Readout);
  EXPECT_EQ(back.units[1].kind, UnitKind::NirCrossbar);
  EXPECT_EQ(back.units[0].function, NeuronFunction::NirNeuron);
  EXPECT_EQ(back.units[2].function, NeuronFunction::NirReadout);
  EXPECT_EQ(back.units[0].param(param::kNeuronMode).count, 6);
  EXPECT_EQ(back.tokenizer.kind, TokenizerKind::None);
  // The fuzz corpus keeps this mapping as version 5 wrote it: it still loads, field for field.
  const Mapping committed = load_mapping(std::string(SPIKETILE_FUZZ_INPUTS) + "/corpus/mapping/nir_cuba_readout_v5.stmap");
  expect_same_mapping(m, committed);
}

// The 'nir' section read field by field as docs/mapping-format.md lays it out, without the loader.
TEST(MappingIoNir, SectionLayoutMatchesTheDocumentedFormat) {
  const std::vector<unsigned char> b = saved_nir_mapping();
  EXPECT_EQ(load<uint32_t>(b, 8), 6u);
  const SectionSpan nir = sections_of(b)[10];
  ASSERT_EQ(nir.name, "nir");
  std::size_t at = nir.offset;
  const auto string_at = [&]() {
    const auto length = load<uint32_t>(b, at);
    std::string s(reinterpret_cast<const char*>(b.data() + at + 4), length);
    at += 4 + length;
    return s;
  };
  const auto take = [&](auto value) {
    value = load<decltype(value)>(b, at);
    at += sizeof value;
    return value;
  };
  EXPECT_EQ(take(uint8_t()), 1);  // kind nir
  EXPECT_EQ(string_at(), "tests/data/nir/cuba_recurrent.nir");
  EXPECT_EQ(take(uint64_t()), 2u);  // input_shape
  EXPECT_EQ(std::vector<int64_t>({take(int64_t()), take(int64_t())}), std::vector<int64_t>({2, 2}));
  EXPECT_EQ(take(uint64_t()), 1u);  // output_shape
  EXPECT_EQ(take(int64_t()), 3);
  EXPECT_EQ(take(double()), 1e-4);
  EXPECT_EQ(std::vector<int32_t>({take(int32_t()), take(int32_t()), take(int32_t())}), std::vector<int32_t>({6, 7, 20}));
  EXPECT_EQ(take(uint64_t()), 3u);  // populations
  for (const char* node : {"input", "lif1", "<output>"}) {
    EXPECT_EQ(string_at(), node);
    const std::string type = string_at();
    const auto size = take(int64_t());
    const auto binary = take(uint8_t());
    const auto scale = take(double());
    const std::vector<int64_t> columns{take(int64_t()), take(int64_t()), take(int64_t())};
    if (type == "CubaLIF") {
      EXPECT_EQ(size, 6);
      EXPECT_EQ(binary, 1);
      EXPECT_EQ(scale, 1.0 / 3.0);
      EXPECT_EQ(columns, std::vector<int64_t>({11, 10, -1}));
    }
  }
  EXPECT_EQ(take(uint64_t()), 3u);  // projections
  for (int k = 0; k < 3; ++k) {
    const std::vector<int32_t> ends{take(int32_t()), take(int32_t())};
    const auto recurrent = take(uint8_t());
    const auto spike_value = take(int32_t());
    const auto column_begin = take(int64_t());
    std::vector<std::string> path(take(uint32_t()));
    for (std::string& node : path) node = string_at();
    const std::vector<int64_t> counts{take(int64_t()), take(int64_t())};
    if (k == 1) {
      EXPECT_EQ(ends, std::vector<int32_t>({1, 1}));
      EXPECT_EQ(recurrent, 1);
      EXPECT_EQ(spike_value, 3);
      EXPECT_EQ(column_begin, 4);
      EXPECT_EQ(path, std::vector<std::string>({"lif1.w_rec", "scale"}));
      EXPECT_EQ(counts, std::vector<int64_t>({36, 30}));
    }
  }
  EXPECT_EQ(take(uint8_t()), 2);   // output: readout
  EXPECT_EQ(take(int32_t()), 2);   // output_population
  EXPECT_EQ(take(uint64_t()), 3u);
  EXPECT_EQ(std::vector<double>({take(double()), take(double()), take(double())}), std::vector<double>({0.5, 1e-3, 0.1}));
  EXPECT_EQ(take(uint64_t()), 3u);
  EXPECT_EQ(std::vector<double>({take(double()), take(double()), take(double())}), std::vector<double>({-0.25, 0.0, 2.5}));
  EXPECT_EQ(take(uint64_t()), 3u);  // flow_projection
  EXPECT_EQ(std::vector<int32_t>({take(int32_t()), take(int32_t()), take(int32_t())}), std::vector<int32_t>({-1, 1, 2}));
  EXPECT_EQ(at, nir.offset + nir.length);  // nothing else in the section
  // The units section stores the NIR kind and functions as their enum values.
  const Mapping m = nir_mapping();
  EXPECT_EQ(int(UnitKind::NirCrossbar), 2);
  EXPECT_EQ(int(NeuronFunction::NirReadout), 9);
  EXPECT_EQ(m.units[2].function, NeuronFunction::NirReadout);
}

// The mapping file with its last section ('nir') replaced by `payload`: table, size and CRCs anew.
std::vector<unsigned char> with_nir_payload(const std::vector<unsigned char>& whole, const std::vector<unsigned char>& payload) {
  const SectionSpan nir = sections_of(whole).back();
  std::vector<unsigned char> b(whole.begin(), whole.begin() + std::ptrdiff_t(nir.offset));
  b.insert(b.end(), payload.begin(), payload.end());
  b.resize(b.size() + 8);  // the section's CRC and the whole-file CRC
  const std::size_t table_end = kTableOffset + kSections * kEntryBytes;
  store<uint64_t>(b, kTableOffset + (kSections - 1) * kEntryBytes + 24, payload.size());
  store<uint64_t>(b, 16, b.size());
  store<uint32_t>(b, table_end, checkpoint_io::crc32(b.data(), table_end));
  reseal(b);
  return b;
}

std::vector<unsigned char> nir_payload(const std::vector<unsigned char>& whole) {
  const SectionSpan nir = sections_of(whole).back();
  return {whole.begin() + std::ptrdiff_t(nir.offset), whole.begin() + std::ptrdiff_t(nir.offset + nir.length)};
}

TEST(MappingIoNir, RejectsACorruptNirSectionNamingTheField) {
  const std::vector<unsigned char> whole = saved_nir_mapping();
  ASSERT_EQ(load_error(temp_path("nir")), "(accepted)");
  const std::vector<unsigned char> payload = nir_payload(whole);
  ASSERT_EQ(error_for_bytes(with_nir_payload(whole, payload), "nir_same"), "(accepted)");  // the helper itself
  // The file cut inside the section.
  const SectionSpan nir = sections_of(whole).back();
  EXPECT_CONTAINS(error_for_bytes(std::vector<unsigned char>(whole.begin(), whole.begin() + std::ptrdiff_t(nir.offset + 20)), "nir_cut"),
                  fmt::format("truncated: section 'nir' needs {} bytes at offset {}", nir.length + 4, nir.offset));
  // The section itself shorter (its CRCs valid): the field it cuts is named.
  std::vector<unsigned char> shorter(payload.begin(), payload.end() - 4);
  EXPECT_CONTAINS(error_for_bytes(with_nir_payload(whole, shorter), "nir_short"),
                  "section 'nir': flow_projection count is 3, which needs at least 12 bytes at 4 bytes each; only 8 bytes remain");
  shorter.assign(payload.begin(), payload.begin() + 3);
  EXPECT_CONTAINS(error_for_bytes(with_nir_payload(whole, shorter), "nir_short"),
                  "section 'nir': source_path needs 4 bytes at offset");
  EXPECT_CONTAINS(error_for_bytes(with_nir_payload(whole, {}), "nir_empty"), "section 'nir': kind needs 1 bytes at offset");
  std::vector<unsigned char> longer = payload;
  longer.push_back(0);
  EXPECT_CONTAINS(error_for_bytes(with_nir_payload(whole, longer), "nir_long"),
                  "section 'nir': 1 bytes left after the last field");
  // Enumerations out of range: the kind (first byte) and the output (before output_population,
  // output_scale, output_bias and flow_projection: 4 + 2 × (8 + 3 × 8) + 8 + 3 × 4 bytes from the end).
  std::vector<unsigned char> bad = payload;
  bad[0] = 2;
  EXPECT_CONTAINS(error_for_bytes(with_nir_payload(whole, bad), "nir_kind"),
                  "section 'nir': kind is 2; expected one of 0 spikegpt, 1 nir");
  bad = payload;
  const std::size_t output_at = payload.size() - (1 + 4 + 2 * (8 + 24) + 8 + 12);
  ASSERT_EQ(bad[output_at], 2);
  bad[output_at] = 3;
  EXPECT_CONTAINS(error_for_bytes(with_nir_payload(whole, bad), "nir_output"),
                  "section 'nir': output is 3; expected one of 0 spikes, 1 membrane, 2 readout");
  // The first population's binary flag is not a bool: after kind, source_path, the shapes, dt,
  // the widths, the population count, node "input" and type "Input" and size.
  bad = payload;
  const std::size_t binary_at = 1 + 4 + 33 + (8 + 16) + (8 + 8) + 8 + 12 + 8 + (4 + 5) + (4 + 5) + 8;
  ASSERT_EQ(bad[binary_at], 0);
  bad[binary_at] = 7;
  EXPECT_CONTAINS(error_for_bytes(with_nir_payload(whole, bad), "nir_bool"),
                  "section 'nir', population 0 (input): binary is 7; expected 0 or 1");
  // A count beyond the section's bytes is refused before anything is allocated.
  bad = payload;
  store<uint64_t>(bad, binary_at - 8 - 9 - 9 - 8, uint64_t(1) << 61);
  EXPECT_CONTAINS(error_for_bytes(with_nir_payload(whole, bad), "nir_count"),
                  "section 'nir': population count is 2305843009213693952, which needs more than 2^64 bytes");
  // A flow_projection of the wrong size and a unit outside its population, behind valid checksums.
  expect_refused({{"flow_projection size", [](Mapping& m) { m.nir.flow_projection.pop_back(); },
                   "section 'nir': flow_projection has 2 entries for 3 flows"},
                  {"rows outside the population", [](Mapping& m) { m.units[2].out_end = 4; },
                   "unit 2 (<output>[0,0]): output range [0, 4) is not a non-empty range inside [0, 3) (the neurons "
                   "of population 2 (<output>))"}},
                 nir_mapping(), "nir_bad");
}

TEST(MappingIoNir, RejectsMappingsThatDoNotFitTheirProgram) {
  using F = NeuronFunction;
  const std::vector<MappingDamage> cases{
      {"unit kind", [](Mapping& m) { m.units[0].kind = UnitKind::Crossbar; },
       "unit 0 (lif1[0,0]): a crossbar unit in a NIR mapping; every unit of a NIR mapping is a nir-crossbar tile"},
      {"layer 0", [](Mapping& m) { m.units[0].layer = 0; },
       "unit 0 (lif1[0,0]): layer 0 is not a population on the chip; expected 1 to 2"},
      {"layer 3", [](Mapping& m) { m.units[2].layer = 3; },
       "unit 2 (<output>[0,0]): layer 3 is not a population on the chip; expected 1 to 2"},
      {"columns", [](Mapping& m) { m.units[1].in_end = 12; },
       "unit 1 (lif1[0,1]): input range [4, 12) is not a non-empty range inside [0, 11) (the columns of population 1 (lif1))"},
      {"readout function", [](Mapping& m) { m.units[2].function = F::NirNeuron; },
       "unit 2 (<output>[0,0]): function 'neuron'; tile 0 of population 2 (<output>) must be 'readout'"},
      {"neuron function", [](Mapping& m) { m.units[0].function = F::NirReadout; },
       "unit 0 (lif1[0,0]): function 'readout'; tile 0 of population 1 (lif1) must be 'neuron'"},
      {"partial-sum function", [](Mapping& m) { m.units[1].function = F::NirNeuron; },
       "unit 1 (lif1[0,1]): function 'neuron'; tile 1 of population 1 (lif1) must be 'partial-sum'"},
      {"missing neuron constant", [](Mapping& m) { m.units[0].params.pop_back(); },
       "unit 0 (lif1[0,0]): parameter 'neuron.mode' (6 × i8) is missing"},
      {"readout with neuron constants", [](Mapping& m) { m.units[2].params.push_back(filled<int32_t>(param::kNeuronTheta, 3, 0)); },
       "unit 2 (<output>[0,0]): unexpected parameter 'neuron.theta'; a nir-crossbar readout unit holds [weights]"},
      {"neuron constant count", [](Mapping& m) { m.units[0].params[3] = filled<int32_t>(param::kNeuronDv, 5, 0); },
       "unit 0 (lif1[0,0]): parameter 'neuron.dv' is 5 × i32; expected 6 × i32"},
      {"spikes as partial sums", [](Mapping& m) { m.nir.flow_projection[2] = -1; },
       "flow 2 (lif1.spikes): flow_projection is -1 (partial sums), but the flow's role is 'spikes'"},
      {"partial sums as a projection", [](Mapping& m) { m.nir.flow_projection[0] = 0; },
       "flow 0 (lif1.partial): a 'partial-sum' flow carries projection 0"},
      {"no such projection", [](Mapping& m) { m.nir.flow_projection[1] = 3; },
       "flow 1 (lif1.rec): flow_projection is 3; expected -1 (partial sums) or a projection, 0 to 2"},
      {"projection into another population", [](Mapping& m) { m.nir.flow_projection[2] = 1; },
       "flow 2 (lif1.spikes): carries projection 1 into population 1, but its destination unit 2 (<output>[0,0]) is a "
       "tile of population 2"},
      {"projection from a partial-sum tile", [](Mapping& m) { m.flows[1].source = 1; },
       "flow 1 (lif1.rec): carries projection 1 from population 1, but its source unit 1 (lif1[0,1]) is a "
       "'partial-sum' tile of population 1"},
      {"partial sums to another population", [](Mapping& m) { m.flows[0].destinations = {2}; },
       "flow 0 (lif1.partial): partial sums of population 1 go to unit 2 (<output>[0,0]), which is no reducer of it"},
      {"columns outside the destination", [](Mapping& m) { m.nir.projections[1].column_begin = 3; },
       "flow 1 (lif1.rec): carries columns [3, 9), outside the input columns [4, 11) of unit 1 (lif1[0,1])"},
      {"projection outside its target's columns", [](Mapping& m) { m.nir.projections[2].column_begin = 3; },
       "section 'nir': projection 2: column_begin is 3: the 6 neurons of population 1 (lif1) would take columns "
       "[3, 9), outside the 8 columns of population 2 (<output>)"},
      {"projection into the input", [](Mapping& m) { m.nir.projections[0].target = 0; },
       "section 'nir': projection 0: target 0 is not a population on the chip; expected 1 to 2"},
      {"projection source", [](Mapping& m) { m.nir.projections[2].source = 3; },
       "section 'nir': projection 2: source 3 is not a population (the program has 3)"},
      {"spike value", [](Mapping& m) { m.nir.projections[2].spike_value = 0; },
       "section 'nir': projection 2: spike_value is 0; expected 1 or more"},
      {"bias column", [](Mapping& m) { m.nir.populations[2].bias_column = 8; },
       "section 'nir': population 2 (<output>): bias_column is 8; expected -1 (none) or one of its columns, 0 to 7"},
      {"late bias column", [](Mapping& m) { m.nir.populations[1].late_bias_column = -2; },
       "section 'nir': population 1 (lif1): late_bias_column is -2; expected -1 (none)"},
      {"population size", [](Mapping& m) { m.nir.populations[1].size = 0; },
       "section 'nir': population 1 (lif1): size is 0; expected 1 to 2^40"},
      {"population scale", [](Mapping& m) { m.nir.populations[1].scale = std::nan(""); },
       "section 'nir': population 1 (lif1): scale is nan"},
      {"output scales", [](Mapping& m) { m.nir.output_scale.push_back(1.0); },
       "section 'nir': output_scale has 4 values; output_shape [3] holds 3"},
      {"output biases", [](Mapping& m) { m.nir.output_bias.pop_back(); },
       "section 'nir': output_bias has 2 values; output_shape [3] holds 3"},
      {"output bias value", [](Mapping& m) { m.nir.output_bias[1] = std::numeric_limits<double>::infinity(); },
       "section 'nir': output_bias[1] is inf"},
      {"output population", [](Mapping& m) { m.nir.output_population = 3; },
       "section 'nir': output_population is 3; the program has 3 populations"},
      {"input size", [](Mapping& m) { m.nir.input_shape = {2, 3}; },
       "section 'nir': input_shape [2, 3] holds 6 values; population 0 (input) has 4 neurons"},
      {"input shape", [](Mapping& m) { m.nir.input_shape = {4, -1}; },
       "section 'nir': input_shape is [4, -1]; expected dimensions >= 1"},
      {"no populations", [](Mapping& m) { m.nir.populations.clear(); }, "section 'nir': no populations"},
      {"dt", [](Mapping& m) { m.nir.dt = 0; }, "section 'nir': dt is 0; expected a finite time step > 0"},
      {"weight bits", [](Mapping& m) { m.nir.weight_bits = 9; }, "section 'nir': weight_bits is 9; expected 1 to 8"},
      {"membrane bits", [](Mapping& m) { m.nir.membrane_bits = 0; }, "section 'nir': membrane_bits is 0; expected 1 to 32"},
      {"host data", [](Mapping& m) { m.host.head_logit_scale = {1.0}; },
       "section 'host': a NIR mapping keeps no embedding or logit scales"},
      {"tokenizer", [](Mapping& m) { m.tokenizer.kind = TokenizerKind::Characters; },
       "section 'tokenizer': a NIR mapping encodes no text, yet it records a character vocabulary"},
      {"estimate stage", [](Mapping& m) { m.estimate.stages[1].layer = 3; },
       "section 'estimate': stage <output> is in layer 3"},
      {"resources", [](Mapping& m) { m.units[0].resources.state_bytes = 65; },
       "unit 0 (lif1[0,0]): needs 65 state bytes; a core of 'spiketile-tiny' has 64"},
  };
  const Mapping base = nir_mapping();
  ASSERT_NO_THROW(validate_mapping(base));
  expect_refused(cases, base, "nir_bad");
}

// A SpikeGPT mapping holds the empty NIR program and no NIR tiles; the section's kind decides
// which rules a file is checked by.
TEST(MappingIoNir, SpikeGptMappingsHoldNoNirProgramOrTiles) {
  const std::vector<MappingDamage> cases{
      {"dt", [](Mapping& m) { m.nir.dt = 0.5; }, "section 'nir': a SpikeGPT mapping holds the NIR field dt"},
      {"populations", [](Mapping& m) { m.nir.populations.resize(1); },
       "section 'nir': a SpikeGPT mapping holds the NIR field populations"},
      {"flow_projection", [](Mapping& m) { m.nir.flow_projection.assign(m.flows.size(), -1); },
       "section 'nir': a SpikeGPT mapping holds the NIR field flow_projection"},
      {"bit widths", [](Mapping& m) { m.nir.membrane_bits = 24; },
       "section 'nir': a SpikeGPT mapping holds the NIR field membrane_bits"},
      {"output", [](Mapping& m) { m.nir.output = NirProgram::Output::Membrane; },
       "section 'nir': a SpikeGPT mapping holds the NIR field output"},
      {"NIR tile", [](Mapping& m) { m.units[4].kind = UnitKind::NirCrossbar; },
       "unit 4 (head[0,0]): a nir-crossbar unit in a SpikeGPT mapping (only a NIR mapping has them)"},
      {"NIR function", [](Mapping& m) { m.units[4].function = NeuronFunction::NirReadout; },
       "unit 4 (head[0,0]): function 'readout'; tile 0 of op 'head' must be 'logits'"},
  };
  expect_refused(cases, small_mapping(), "gpt_nir");
  // The kind byte of a SpikeGPT's section set to nir: its empty program is then checked as one.
  const std::vector<unsigned char> whole = saved_small_mapping();
  std::vector<unsigned char> payload = nir_payload(whole);
  payload[0] = 1;
  EXPECT_CONTAINS(error_for_bytes(with_nir_payload(whole, payload), "gpt_as_nir"),
                  "section 'nir': dt is 0; expected a finite time step > 0");
}

// Past the checksums, any value in the 'nir' section becomes a MappingError or a valid mapping.
TEST(MappingIoNir, DamagedFieldsBehindValidChecksumsAreRejectedCleanly) {
  const std::vector<unsigned char> whole = saved_nir_mapping();
  const SectionSpan nir = sections_of(whole).back();
  std::mt19937_64 rng(5);
  const std::string path = temp_path("nir_fuzz_sealed");
  int rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<unsigned char> b = whole;
    for (int k = 0, flips = 1 + int(rng() % 3); k < flips; ++k) b[nir.offset + rng() % nir.length] ^= uint8_t(1u << (rng() % 8));
    reseal(b);
    write_bytes(path, b);
    try {
      load_mapping(path);
    } catch (const MappingError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 150);  // most fields are checked; names, scales and counts of synapses may take any value
}

// The parameter table of docs/mapping-format.md names every array expected_params asks of a unit.
TEST(MappingIoNir, DocumentedParameterTableNamesEveryExpectedArray) {
  const std::string doc = read_text(test_fixtures::kRepo / "docs" / "mapping-format.md");
  const auto begin = doc.find("#### Parameter arrays per unit");
  ASSERT_NE(begin, std::string::npos);
  const std::string table = doc.substr(begin, doc.find("\n### ", begin) - begin);
  std::vector<Unit> units = small_mapping().units;
  for (const Unit& u : nir_mapping().units) units.push_back(u);
  Unit ffn_key = crossbar(9, "L0.ffn.key[0,0]", Op::FfnKey, NeuronFunction::FfnKeyRelu2, 0, 0, 8, 0, 8, 0, 1);
  units.push_back(ffn_key);
  int arrays = 0;
  for (const Unit& u : units)
    for (const ParamRule& rule : expected_params(u, ModelConfig{1, 8, 4})) {
      EXPECT_CONTAINS(table, "`" + rule.name + "`");
      ++arrays;
    }
  EXPECT_GT(arrays, 40);
  EXPECT_CONTAINS(table, "| NIR neuron reducers | `neuron.mode` | i8 | rows |");
}

TEST(MappingSummary, ReportsUseAgainstTheChip) {
  const Mapping m = small_mapping();
  const std::string text = mapping_summary(m);
  EXPECT_CONTAINS(text, "SpikeGPT L1 C8 V4");
  EXPECT_CONTAINS(text, "cores used:          6 of 8 (75.0 %), on 2 of 2 chips");
  // Hand figures from small_mapping: axons {0,0,8,8,4,4} max 8 mean 4 of 16; state {40,40,48,64,32,16}
  // max 64 mean 40 of 64.
  EXPECT_CONTAINS(text, fmt::format("  {:<58} {:>12} {:>12} {:>9} {:>8}% {:>8}%", "axons (over used cores)", 8, "4.0", 16, "50.0", "25.0"));
  EXPECT_CONTAINS(text, fmt::format("  {:<58} {:>12} {:>12} {:>9} {:>8}% {:>8}%", "state bytes (over used cores)", 64, "40.0", 64, "100.0", "62.5"));
  // Flits injected: 2.5 + 2.5 + 1 + 1 + 8 + 4 + 1.5 = 20.5; flows: 7, the three with several
  // destinations multicast, the single-destination ones unicast.
  EXPECT_CONTAINS(text, "  flits injected:    20.5\n");
  EXPECT_CONTAINS(text, "  flows:             7 (3 multicast, 4 unicast, 0 within one core)\n");
  // Mesh links of each flow's xy tree × its flits (tiny.yaml chips: 2 × 2, one gateway per edge at
  // row 1): xk from (0,0) to (1,0),(1,1): 3 × 2.5; xk from (0,1): 3 × 2.5; LN gather and scatter
  // 1 + 1; k 1 × 8; head partial sums 1 × 4; ln_out.z from chip 0 (0,0) to (1,0) (1 link) and,
  // x first, through (0,1) to the gateway (1,1) (2 links), over the gateway link to chip 1 (1,0),
  // then to (0,0) (1 link): 4 × 1.5, and one inter-chip crossing × 1.5. Busiest mesh link: chip 0
  // (1,0) -> (1,1), the 8 key flits.
  EXPECT_CONTAINS(text, "  mesh flit-hops:    35.0 (busiest link 8.00 flits)\n");
  EXPECT_CONTAINS(text, "  inter-chip flits:  1.5 (busiest link 1.50 flits)\n");
  EXPECT_CONTAINS(text, "  placement cost:    21.5 mesh-hop equivalents; baseline 30.5, lower bound 12.0");
  // L0: 2 residual, 1 key, 1 value+wkv+gate; head: 1 partial-sum, 1 logits.
  EXPECT_CONTAINS(text, fmt::format("  {:<16} {:>9} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>7}", "L0", 2, 0, 0, 1, 1, 0, 0, 0, 0, 4));
  EXPECT_CONTAINS(text, fmt::format("  {:<16} {:>9} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>7}", "head", 0, 1, 0, 0, 0, 0, 0, 0, 1, 2));
  // Both L0.att.xk flows in one row: 2 flows, 5 flits.
  EXPECT_CONTAINS(text, fmt::format("  {:<24} {:<11} {:>5} {:<12} {:>7} {:>14.1f}", "L*.att.xk", "graded", 8, "activation", 2, 5.0));
  EXPECT_CONTAINS(text, m.encoding_rule.describe());
  EXPECT_CONTAINS(text, "  - head split in two input tiles");
  const nlohmann::json j = mapping_summary_json(m);
  EXPECT_EQ(j["cores"]["used"], 6);
  EXPECT_EQ(j["traffic"]["flows"], 7);
  EXPECT_EQ(j["units"]["head"]["logits"], 1);
}

using CliResult = testing_cli::Result;
using testing_cli::run_cli;

TEST(MappingCli, InspectPrintsTheMappingSummaryAndRejectsACorruptFile) {
  const std::string path = temp_path("cli");
  save_mapping(small_mapping(), path);
  CliResult r = run_cli("inspect " + path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "cores used:          6 of 8");
  r = run_cli("inspect --json " + path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["cores"]["chips_used"], 2);
  // Dispatch is on the magic too, whatever the file is called.
  const std::string renamed = ::testing::TempDir() + "/mapio_cli.bin";
  fs::copy_file(path, renamed, fs::copy_options::overwrite_existing);
  EXPECT_CONTAINS(run_cli("inspect " + renamed).output, "cores used:          6 of 8");
  std::vector<unsigned char> b = read_bytes(path);
  b[b.size() / 2] ^= 0xff;
  write_bytes(path, b);
  r = run_cli("inspect " + path);
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, "CRC mismatch");
}

}  // namespace
}  // namespace spiketile
