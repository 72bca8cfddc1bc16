// Compiled NIR graphs on the cycle-accurate chip against the mapping executor: every fixture of
// our own (every primitive the chip runs, nesting, recurrence, both resets) and the Sinabs CNN on
// random spike frames give the same output integers and the same spikes or membranes in every
// population at every time step, with the steps overlapped on the chip. One TEST per process
// (SystemC elaborates once).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "chips/chip_spec.hpp"
#include "compiler/nir/nir_lowering.hpp"
#include "models/nir/nir_graph.hpp"
#include "models/nir/nir_integer.hpp"
#include "runtime/nir_executor.hpp"
#include "runtime/npy.hpp"
#include "sim/chip_simulator.hpp"

namespace spiketile::sim {
namespace {

namespace fs = std::filesystem;
const fs::path kRepo = SPIKETILE_SOURCE_DIR;
const fs::path kFixtures = kRepo / "tests" / "data" / "nir";

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Compiles the graph on the calibration input, then runs the input on the executor step by step
// and on the chip overlapped; both must agree at every step.
void expect_chip_equals_executor(const nir::Graph& graph, const nir::IntegerOptions& options, const nir::Shape& shape,
                                 const std::vector<double>& input, const std::string& chip_file,
                                 const SimulatorOptions& chip_options = {}) {
  const nir::IntegerGraph integer = nir::IntegerGraph::build(graph, options, shape, input);
  const std::string yaml = read_file(kRepo / "chips" / chip_file);
  auto mapping = std::make_shared<const Mapping>(compile_nir(graph, integer, load_chip_spec_from_string(yaml, chip_file), yaml));
  NirMappingExecutor executor(mapping);
  const int64_t T = shape[0], per_step = int64_t(input.size()) / T;
  std::vector<std::vector<int32_t>> steps;
  std::vector<std::vector<int64_t>> want_outputs;
  std::vector<TokenObservations> want_values;
  for (int64_t t = 0; t < T; ++t) {
    steps.push_back(nir_quantize_input(mapping->nir, std::vector<double>(input.begin() + t * per_step,
                                                                         input.begin() + (t + 1) * per_step)));
    want_outputs.push_back(executor.step_quantized(steps.back()));
    want_values.push_back(executor.last_observations());
  }
  ChipSimulator chip(mapping, chip_options);
  if (chip_options.rtl.enabled()) {
    EXPECT_EQ(chip.rtl_units().size(), mapping->units.size()) << "every tile on the RTL core";
  }
  int64_t seen = 0, active = 0;
  chip.run_nir_steps(steps, [&](int64_t t, const std::vector<int64_t>& outputs) {
    ASSERT_EQ(t, seen);
    EXPECT_EQ(outputs, want_outputs[std::size_t(t)]) << "outputs at step " << t;
    const auto& values = chip.last_observations().population_values;
    EXPECT_EQ(values, want_values[std::size_t(t)].population_values) << "population values at step " << t;
    for (const auto& p : values)
      for (int32_t v : p) active += v != 0;
    for (int64_t v : outputs) active += v != 0;
    ++seen;
  });
  EXPECT_EQ(seen, T);
  EXPECT_GT(active, 0) << "nothing spiked or moved: the input does not exercise the chip";
  EXPECT_GT(chip.now(), Cycle(0));
}

class NirChip : public ::testing::TestWithParam<std::string> {};

std::vector<std::string> fixture_names() {
  std::ifstream in(kFixtures / "manifest.json");
  std::vector<std::string> names;
  if (!in) return names;
  const auto manifest = nlohmann::json::parse(in);
  for (const auto& f : manifest["fixtures"])
    if (f["name"] != "delay") names.push_back(f["name"]);  // a delay does not run on the chip yet
  return names;
}

void run_fixture(const std::string& name, const SimulatorOptions& chip_options) {
  std::ifstream in(kFixtures / "manifest.json");
  const auto manifest = nlohmann::json::parse(in);
  for (const auto& f : manifest["fixtures"]) {
    if (f["name"] != name) continue;
    const nir::Graph graph = nir::read_nir((kFixtures / f["files"]["nir"].get<std::string>()).string());
    const NpyValues input = read_npy_values((kFixtures / f["files"]["input"].get<std::string>()).string());
    nir::IntegerOptions options;
    options.reference.dt = f["dt"].get<double>();
    options.reference.reset = f["reset"] == "subtract" ? nir::ResetMode::Subtract : nir::ResetMode::ToValue;
    expect_chip_equals_executor(graph, options, input.shape, input.data, "default.yaml", chip_options);
    return;
  }
  FAIL() << "no fixture " << name;
}

TEST_P(NirChip, FixtureGivesTheExecutorsBitsStepByStep) { run_fixture(GetParam(), {}); }

// Every tile accumulating and running its neurons on the verilated RTL neuron core (its neuron
// parameter table loaded with the graph's neurons): the same bits as the C++ rule.
TEST_P(NirChip, FixtureOnTheRtlNeuronCoreGivesTheExecutorsBits) {
  SimulatorOptions options;
  options.rtl.cores = {"all"};
  run_fixture(GetParam(), options);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NirChip, ::testing::ValuesIn(fixture_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(NirChipRealFiles, SinabsCnnOnRandomSpikeFramesGivesTheExecutorsBits) {
  const nir::Graph graph = nir::read_nir((fs::path(SPIKETILE_SHARED_DIR) / "data" / "nir" / "cnn_sinabs.nir").string());
  nir::IntegerOptions options;
  options.reference.dt = 1.0;
  const int64_t T = 6;
  std::vector<double> input(std::size_t(T * 2 * 34 * 34));
  std::mt19937 rng(11);
  std::bernoulli_distribution spike(0.2);
  for (double& s : input) s = spike(rng) ? 1.0 : 0.0;
  expect_chip_equals_executor(graph, options, {T, 2, 34, 34}, input, "large.yaml");  // 451 tiles
}

}  // namespace
}  // namespace spiketile::sim

namespace spiketile::sim {
namespace {

// Norse's and Rockpool's LIF layers and the two chained LIFs under a current that makes them fire.
class NirChipLifFile : public ::testing::TestWithParam<std::pair<std::string, double>> {};

TEST_P(NirChipLifFile, GivesTheExecutorsBits) {
  const auto& [file, dt] = GetParam();
  const nir::Graph graph = nir::read_nir((fs::path(SPIKETILE_SHARED_DIR) / "data" / "nir" / file).string());
  nir::IntegerOptions options;
  options.reference.dt = dt;
  const nir::Node& in = graph.nodes[std::size_t(graph.inputs[0])];
  const int64_t n = nir::element_count(in.output_shape), T = 200;
  nir::Shape shape = {T};
  shape.insert(shape.end(), in.output_shape.begin(), in.output_shape.end());
  std::vector<double> input(std::size_t(T * n), 0.0);
  for (int64_t t = 20; t < T; ++t)
    for (int64_t j = 0; j < n; ++j) input[std::size_t(t * n + j)] = 0.5 + 0.25 * double(j % 4);
  expect_chip_equals_executor(graph, options, shape, input, "default.yaml");
}

INSTANTIATE_TEST_SUITE_P(RealFiles, NirChipLifFile,
                         ::testing::Values(std::pair<std::string, double>{"lif_norse.nir", 1e-4},
                                           std::pair<std::string, double>{"lif_rockpool.nir", 1e-4},
                                           std::pair<std::string, double>{"two_lif_neurons.nir", 1e-3}),
                         [](const auto& info) {
                           std::string name = info.param.first.substr(0, info.param.first.find('.'));
                           return name;
                         });

}  // namespace
}  // namespace spiketile::sim
