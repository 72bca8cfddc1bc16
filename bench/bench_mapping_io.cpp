// Save and load time and peak memory of a mapping file at SpikeGPT-216M scale: the writer must
// stream (no second copy of the weights) and the loader must hold little beyond the Mapping.
//
// The mapping is synthetic but shaped like the lowering's: every weight matrix of the model cut
// into crossbar-sized tiles (the tile with input index 0 of each row block reduces it), residual
// slices of one crossbar's width per layer, partial-sum flows to the reducers, each residual
// slice multicasting to the tiles that read its channels, units on cores in index order, and the
// routing tables of that placement.
//
//   bench_mapping_io                                # 216M shape (L18 C768 V50277) on chips/large.yaml
//   bench_mapping_io --shape 12,512,5458 --out /tmp/m.stmap
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/mapping_io.hpp"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Resident and peak resident bytes from /proc/self/status; the peak can be reset (reset_peak).
double status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) * 1024.0;
  return 0.0;
}
double rss() { return status_bytes("VmRSS"); }
double peak_rss() { return status_bytes("VmHWM"); }
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

struct Shape {
  int layers = 18, channels = 768, vocab = 50277;
};

spiketile::Mapping synthetic_mapping(const Shape& shape, const std::string& chip_path) {
  std::ifstream in(chip_path);
  std::stringstream yaml;
  yaml << in.rdbuf();
  spiketile::Mapping m;
  m.chip_yaml = yaml.str();
  const spiketile::ChipSpec chip = spiketile::load_chip_spec_from_string(m.chip_yaml, chip_path);
  m.chip_name = chip.name;
  m.config = spiketile::ModelConfig{shape.layers, shape.channels, shape.vocab};
  m.model_source = "synthetic (bench_mapping_io)";
  m.encoding_rule.graded_payload_bits = chip.core.activation_bits;
  const int64_t C = shape.channels, tile_rows = chip.core.crossbar.neurons, tile_cols = chip.core.crossbar.axons;

  auto fill = [](std::vector<uint8_t>& bytes, uint64_t seed) {
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t((i * 0x9e3779b1u + seed) >> 7);
  };
  auto add_array = [&](spiketile::Unit& u, const std::string& name, spiketile::ParamType type, int64_t count) {
    spiketile::ParamArray p;
    p.name = name;
    p.type = type;
    p.count = count;
    p.bytes.resize(std::size_t(count) * std::size_t(type));
    fill(p.bytes, uint64_t(u.id));
    u.params.push_back(std::move(p));
  };

  struct Matrix {
    spiketile::Op op;
    spiketile::NeuronFunction reducer;
    int64_t rows, cols;
  };
  // Residual slice s of a layer feeds input tile s of these (its channels are their columns).
  std::vector<std::vector<int>> slice_readers;
  auto add_matrix = [&](const Matrix& matrix, int layer, const std::string& prefix, int first_slice) {
    const int row_blocks = int((matrix.rows + tile_rows - 1) / tile_rows);
    const int col_blocks = int((matrix.cols + tile_cols - 1) / tile_cols);
    for (int r = 0; r < row_blocks; ++r) {
      const int reducer = int(m.units.size());
      for (int c = 0; c < col_blocks; ++c) {
        spiketile::Unit u;
        u.id = int(m.units.size());
        u.name = fmt::format("{}[{},{}]", prefix, r, c);
        u.kind = spiketile::UnitKind::Crossbar;
        u.op = matrix.op;
        u.layer = layer;
        u.function = c == 0 ? matrix.reducer : spiketile::NeuronFunction::PartialSum;
        u.out_begin = r * tile_rows;
        u.out_end = std::min<int64_t>(matrix.rows, (r + 1) * tile_rows);
        u.in_begin = c * tile_cols;
        u.in_end = std::min<int64_t>(matrix.cols, (c + 1) * tile_cols);
        u.out_index = r;
        u.out_tiles = row_blocks;
        u.in_index = c;
        u.in_tiles = col_blocks;
        add_array(u, spiketile::param::kWeights, spiketile::ParamType::i8, u.rows() * u.cols());
        for (const spiketile::ParamRule& rule : spiketile::expected_params(u, m.config))
          if (rule.name != spiketile::param::kWeights) add_array(u, rule.name, rule.type, rule.count);
        u.resources = {u.cols(), u.rows(), u.rows() * u.cols(), 16 * u.rows()};
        if (c > 0) m.flows.push_back({u.id, {reducer}, spiketile::FlowRole::PartialSum, spiketile::ir::Encoding::Wide,
                                      prefix + ".partial", u.out_begin, u.out_end, 32, double(u.rows())});
        if (first_slice >= 0) slice_readers[std::size_t(first_slice + c)].push_back(u.id);
        m.units.push_back(std::move(u));
      }
    }
  };

  for (int l = 0; l < shape.layers; ++l) {
    const int slices = int((C + tile_rows - 1) / tile_rows);
    const int first_slice = int(slice_readers.size());
    std::vector<int> slice_units;
    for (int s = 0; s < slices; ++s) {
      spiketile::Unit u;
      u.id = int(m.units.size());
      u.name = fmt::format("L{}.residual[{}]", l, s);
      u.kind = spiketile::UnitKind::Residual;
      u.op = spiketile::Op::Ln1;
      u.layer = l;
      u.out_begin = s * tile_rows;
      u.out_end = std::min<int64_t>(C, (s + 1) * tile_rows);
      u.slice = s;
      u.slices = slices;
      for (const spiketile::ParamRule& rule : spiketile::expected_params(u, m.config)) add_array(u, rule.name, rule.type, rule.count);
      u.resources = {0, u.rows(), 0, 0};
      for (const auto& p : u.params) u.resources.synapse_bytes += int64_t(p.bytes.size());
      slice_units.push_back(u.id);
      slice_readers.emplace_back();
      m.units.push_back(std::move(u));
    }
    const std::string L = fmt::format("L{}.", l);
    using F = spiketile::NeuronFunction;
    add_matrix({spiketile::Op::AttReceptance, F::Receptance, C, C}, l, L + "att.receptance", first_slice);
    add_matrix({spiketile::Op::AttKey, F::AttKey, C, C}, l, L + "att.key", first_slice);
    add_matrix({spiketile::Op::AttValue, F::AttValueWkvGate, C, C}, l, L + "att.value", first_slice);
    add_matrix({spiketile::Op::AttOutput, F::AttOutputLif, C, C}, l, L + "att.output", -1);
    add_matrix({spiketile::Op::FfnReceptance, F::Receptance, C, C}, l, L + "ffn.receptance", -1);
    add_matrix({spiketile::Op::FfnKey, F::FfnKeyRelu2, 4 * C, C}, l, L + "ffn.key", -1);
    add_matrix({spiketile::Op::FfnValue, F::FfnValueGateLif, C, 4 * C}, l, L + "ffn.value", -1);
    for (int s = 0; s < slices; ++s)
      m.flows.push_back({slice_units[std::size_t(s)], slice_readers[std::size_t(first_slice + s)], spiketile::FlowRole::Activation,
                         spiketile::ir::Encoding::Graded, L + "att.xk", s * tile_rows, std::min<int64_t>(C, (s + 1) * tile_rows),
                         8, double(tile_rows)});
  }
  add_matrix({spiketile::Op::Head, spiketile::NeuronFunction::HeadLogits, shape.vocab, C}, -1, "head", -1);

  m.host.embedding.assign(std::size_t(shape.vocab) * std::size_t(C), 4096);
  m.host.head_logit_scale.assign(std::size_t(shape.vocab), 1.0 / 4096);
  const spiketile::Topology topology(chip);
  if (int(m.units.size()) > topology.core_count())
    throw std::runtime_error(fmt::format("{} units do not fit the {} cores of {}", m.units.size(), topology.core_count(), chip.name));
  for (int u = 0; u < int(m.units.size()); ++u) m.unit_cores.push_back(topology.coord(u));
  m.placement.unit_cores = m.unit_cores;
  m.placement.start = "index order";
  m.routing_tables = spiketile::build_routing_tables(topology, m.unit_cores, spiketile::to_placement_flows(m.flows)).tables;
  m.decisions.push_back("synthetic mapping of bench_mapping_io");
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Mapping file save/load time and peak memory at SpikeGPT-216M scale"};
  std::string chip = std::string(SPIKETILE_SOURCE_DIR) + "/chips/large.yaml";
  std::string shape_text = "18,768,50277";
  std::string out = "/tmp/bench_mapping_io.stmap";
  app.add_option("--chip", chip, "Chip description");
  app.add_option("--shape", shape_text, "L,C,V of the synthetic model");
  app.add_option("--out", out, "Mapping file to write (removed at the end)");
  CLI11_PARSE(app, argc, argv);
  Shape shape;
  if (std::sscanf(shape_text.c_str(), "%d,%d,%d", &shape.layers, &shape.channels, &shape.vocab) != 3) {
    fmt::print(stderr, "--shape: expected L,C,V\n");
    return 2;
  }

  double t = now();
  double build_s = 0, save_s = 0, load_s = 0, rss_built = 0, save_peak = 0, load_peak = 0;
  int64_t weight_bytes = 0, array_bytes = 0;  // crossbar weights; every parameter and host array
  std::size_t units = 0, flows = 0;
  {
    const spiketile::Mapping m = synthetic_mapping(shape, chip);
    build_s = now() - t;
    weight_bytes = m.weight_bytes();
    for (const auto& u : m.units)
      for (const auto& p : u.params) array_bytes += int64_t(p.bytes.size());
    array_bytes += int64_t(m.host.embedding.size() * sizeof(int32_t) + m.host.head_logit_scale.size() * sizeof(double));
    units = m.units.size();
    flows = m.flows.size();
    rss_built = rss();
    reset_peak();
    t = now();
    spiketile::save_mapping(m, out);
    save_s = now() - t;
    save_peak = peak_rss();
  }
  std::FILE* f = std::fopen(out.c_str(), "rb");
  std::fseek(f, 0, SEEK_END);
  const double file_bytes = double(std::ftell(f));
  std::fclose(f);
  reset_peak();
  t = now();
  const spiketile::Mapping loaded = spiketile::load_mapping(out);
  load_s = now() - t;
  load_peak = peak_rss();
  std::remove(out.c_str());

  const double w = double(weight_bytes), a = double(array_bytes);
  fmt::print("shape L{} C{} V{} on {}: {} units, {} flows; {:.1f} MB int8 weights, {:.1f} MB of arrays in all "
             "(weights, other parameters, host embedding and scales); file {:.1f} MB\n",
             shape.layers, shape.channels, shape.vocab, loaded.chip_name, units, flows, w / 1e6, a / 1e6, file_bytes / 1e6);
  fmt::print("build (synthetic): {:.2f} s; resident after build {:.1f} MB\n", build_s, rss_built / 1e6);
  fmt::print("save:  {:.2f} s ({:.0f} MB/s); peak resident {:.1f} MB = resident before + {:.1f} MB\n", save_s,
             file_bytes / 1e6 / save_s, save_peak / 1e6, (save_peak - rss_built) / 1e6);
  fmt::print("load:  {:.2f} s ({:.0f} MB/s: checksums, parse, full validation); peak resident {:.1f} MB = arrays + {:.1f} "
             "MB ({:.2f}x the int8 weights)\n",
             load_s, file_bytes / 1e6 / load_s, load_peak / 1e6, (load_peak - a) / 1e6, load_peak / w);
  return 0;
}
