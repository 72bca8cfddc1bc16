// Compiled NIR graphs: the lowering onto crossbars and the mapping executor, which must reproduce
// the integer model (nir::IntegerGraph) bit for bit — outputs and every population's spikes or
// membranes at every step — on the real files of other frameworks and on every fixture.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

#include "chips/chip_spec.hpp"
#include "cli_runner.hpp"
#include "compiler/nir/nir_lowering.hpp"
#include "models/nir/nir_graph.hpp"
#include "models/nir/nir_integer.hpp"
#include "models/output_file.hpp"
#include "runtime/nir_executor.hpp"
#include "runtime/npy.hpp"
#include "shipped_fixtures.hpp"

namespace fs = std::filesystem;
using namespace spiketile;

namespace {

using test_fixtures::kRepo;
const fs::path kReal = fs::path(SPIKETILE_SHARED_DIR) / "data" / "nir";
const fs::path kFixtures = fs::path(SPIKETILE_TEST_DATA) / "nir";

std::string chip_yaml(const std::string& name) {
  std::ifstream in(kRepo / "chips" / name);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Case {
  nir::Graph graph;
  nir::Shape input_shape;
  std::vector<double> input;
  nir::IntegerOptions options;
};

// Compiles `c` on `chip` and steps the integer model and the mapping executor side by side.
// Returns the mapping for further checks.
Mapping expect_executor_equals_integer_model(const Case& c, const std::string& chip = "default.yaml") {
  nir::IntegerGraph integer = nir::IntegerGraph::build(c.graph, c.options, c.input_shape, c.input);
  const std::string yaml = chip_yaml(chip);
  const ChipSpec spec = load_chip_spec_from_string(yaml, chip);
  auto mapping = std::make_shared<const Mapping>(compile_nir(c.graph, integer, spec, yaml));
  NirMappingExecutor executor(mapping);
  integer.reset();
  const int64_t T = c.input_shape[0], per_step = int64_t(c.input.size()) / T;
  int64_t activity = 0;  // spikes, non-zero membranes and outputs
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<double> x(c.input.begin() + t * per_step, c.input.begin() + (t + 1) * per_step);
    const std::vector<double> want = integer.step(x);
    const std::vector<double> got = executor.step(x);
    EXPECT_EQ(got, want) << "output at step " << t;
    activity += int64_t(want.size()) - std::count(want.begin(), want.end(), 0.0);
    for (std::size_t p = 1; p < integer.populations().size(); ++p) {
      const auto& v = integer.values(int(p));
      EXPECT_EQ(executor.last_observations().population_values[p], v)
          << integer.populations()[p].node << " at step " << t;
      activity += int64_t(v.size()) - std::count(v.begin(), v.end(), 0);
    }
    if (::testing::Test::HasFailure()) break;
  }
  // A comparison of all-zero steps proves nothing about the mapping.
  EXPECT_GT(activity, 0) << "nothing spiked or moved: the input does not exercise the mapping";
  return *mapping;
}

Case fixture_case(const nlohmann::json& entry) {
  Case c;
  c.graph = nir::read_nir((kFixtures / entry["files"]["nir"].get<std::string>()).string());
  const NpyValues input = read_npy_values((kFixtures / entry["files"]["input"].get<std::string>()).string());
  c.input_shape = input.shape;
  c.input = input.data;
  c.options.reference.dt = entry["dt"].get<double>();
  c.options.reference.reset = entry["reset"] == "subtract" ? nir::ResetMode::Subtract : nir::ResetMode::ToValue;
  return c;
}

// Every fixture but the Delay one (a delay does not run on the chip yet), by name.
std::vector<std::string> chip_fixtures() {
  std::ifstream in(kFixtures / "manifest.json");
  std::vector<std::string> names;
  if (!in) return names;
  const auto manifest = nlohmann::json::parse(in);
  for (const auto& f : manifest["fixtures"])
    if (f["name"] != "delay") names.push_back(f["name"]);
  return names;
}

nlohmann::json fixture_entry(const std::string& name) {
  std::ifstream in(kFixtures / "manifest.json");
  const auto manifest = nlohmann::json::parse(in);
  for (const auto& f : manifest["fixtures"])
    if (f["name"] == name) return f;
  throw std::runtime_error("no fixture " + name);
}

Case random_spikes(const std::string& file, double dt, const nir::Shape& frame, int steps, double rate, unsigned seed) {
  Case c;
  c.graph = nir::read_nir((kReal / file).string());
  c.options.reference.dt = dt;
  c.input_shape = {steps};
  c.input_shape.insert(c.input_shape.end(), frame.begin(), frame.end());
  std::mt19937 rng(seed);
  std::bernoulli_distribution spike(rate);
  c.input.resize(std::size_t(nir::element_count(c.input_shape)));
  for (double& s : c.input) s = spike(rng) ? 1.0 : 0.0;
  return c;
}

}  // namespace

class NirMappingFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(NirMappingFixture, ExecutorEqualsTheIntegerModelBitForBit) {
  const Case c = fixture_case(fixture_entry(GetParam()));
  const Mapping m = expect_executor_equals_integer_model(c);
  EXPECT_EQ(m.kind, MappingKind::Nir);
  EXPECT_EQ(m.unit_cores.size(), m.units.size());  // placed
  EXPECT_EQ(m.nir.flow_projection.size(), m.flows.size());
}

INSTANTIATE_TEST_SUITE_P(EveryChipFixture, NirMappingFixture, ::testing::ValuesIn(chip_fixtures()),
                         [](const auto& info) { return info.param; });

TEST(NirMappingRealFiles, SinabsCnnOnSpikeFramesUnrollsItsConvolutionsAndEqualsTheIntegerModel) {
  // 451 tiles: more than the default system's 256 cores.
  const Case c = random_spikes("cnn_sinabs.nir", 1.0, {2, 34, 34}, 12, 0.2, 7);
  const Mapping m = expect_executor_equals_integer_model(c, "large.yaml");
  bool shared = false, tiled = false;
  for (const auto& d : m.decisions) {
    shared |= d.find("shared weights unrolled") != std::string::npos;
    tiled |= d.find("column blocks") != std::string::npos;
  }
  EXPECT_TRUE(shared) << "the convolutions' weight sharing is reported";
  EXPECT_TRUE(tiled);
  int64_t partial_flows = 0;
  for (const auto& f : m.flows) partial_flows += f.role == FlowRole::PartialSum;
  EXPECT_GT(partial_flows, 0) << "a 2×34×34 input spans several crossbars: partial sums travel";
}

TEST(NirMappingRealFiles, NorseRockpoolAndTwoNeuronFilesEqualTheIntegerModel) {
  // Norse's and Rockpool's single LIF layers under a constant current; two_lif_neurons fires from
  // its leak potential alone.
  for (const auto& [file, dt] : {std::pair<const char*, double>{"lif_norse.nir", 1e-4}, {"lif_rockpool.nir", 1e-4},
                                 {"two_lif_neurons.nir", 1e-3}}) {
    SCOPED_TRACE(file);
    Case c;
    c.graph = nir::read_nir((kReal / file).string());
    c.options.reference.dt = dt;
    const nir::Node& in = c.graph.nodes[std::size_t(c.graph.inputs[0])];
    const int64_t n = nir::element_count(in.output_shape);
    c.input_shape = {200};
    c.input_shape.insert(c.input_shape.end(), in.output_shape.begin(), in.output_shape.end());
    c.input.assign(std::size_t(200 * n), 0.0);
    for (int64_t t = 20; t < 200; ++t)
      for (int64_t j = 0; j < n; ++j) c.input[std::size_t(t * n + j)] = 0.5 + 0.25 * double(j % 4);
    expect_executor_equals_integer_model(c);
  }
}

TEST(NirMappingErrors, AGraphTooLargeForTheChipNamesEveryResource) {
  Case c = random_spikes("cnn_sinabs.nir", 1.0, {2, 34, 34}, 4, 0.2, 3);
  nir::IntegerGraph integer = nir::IntegerGraph::build(c.graph, c.options, c.input_shape, c.input);
  std::string yaml = chip_yaml("default.yaml");
  // One chip of 2×2 cores: the CNN needs more.
  const ChipSpec full = load_chip_spec_from_string(yaml, "default");
  ChipSpec tiny = full;
  tiny.mesh.rows = 2;
  tiny.mesh.cols = 2;
  tiny.system.chip_count = 1;
  try {
    lower_nir_to_units(c.graph, integer, tiny, yaml);
    FAIL() << "the CNN fit 4 cores";
  } catch (const DoesNotFitError& e) {
    ASSERT_FALSE(e.problems().empty());
    EXPECT_EQ(e.problems().back().resource, "cores");
    EXPECT_EQ(e.problems().back().capacity, 4);
    EXPECT_NE(std::string(e.what()).find("system.chip_count"), std::string::npos) << e.what();
  }
}

// ---- the README's NIR flow through the command line ----------------------------------------------

namespace {
std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

// compile --nir -> simulate --input and run --map --input: the chip's output file is byte for byte
// the executor's and the integer model's (run --nir --quantized, calibrated on the same input).
TEST(NirMappingCli, CompileThenSimulateAndRunMapWriteTheIntegerModelsOutput) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_nir_flow_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string graph = (kFixtures / "braille_subtract.nir").string();
  const std::string input = (kFixtures / "braille_subtract.input.npy").string();
  const std::string conventions = " --dt 1e-4 --reset subtract";
  const std::string map = (dir / "braille.stmap").string();
  const auto compiled = testing_cli::run_cli("compile --nir " + graph + conventions + " --calibrate " + input + " -o " + map);
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  EXPECT_NE(compiled.output.find("spike agreement"), std::string::npos) << compiled.output;
  EXPECT_NE(compiled.output.find("units by population"), std::string::npos) << compiled.output;
  EXPECT_NE(compiled.output.find("(recurrent: its spikes of the previous step, sent as the step starts)"), std::string::npos)
      << compiled.output;
  const auto integer = testing_cli::run_cli("run --nir " + graph + conventions + " --quantized --input " + input +
                                            " --output " + (dir / "integer.npy").string());
  const auto executor = testing_cli::run_cli("run --map " + map + " --input " + input + " --output " + (dir / "executor.npy").string());
  const auto chip = testing_cli::run_cli("simulate --map " + map + " --input " + input + " --output " + (dir / "chip.npy").string());
  ASSERT_EQ(integer.status, 0) << integer.output;
  ASSERT_EQ(executor.status, 0) << executor.output;
  ASSERT_EQ(chip.status, 0) << chip.output;
  EXPECT_NE(chip.output.find("cycles per step"), std::string::npos) << chip.output;
  const std::string want = slurp(dir / "integer.npy");
  ASSERT_GT(want.size(), 128u);
  EXPECT_EQ(slurp(dir / "executor.npy"), want);
  EXPECT_EQ(slurp(dir / "chip.npy"), want);
  fs::remove_all(dir);
}

TEST(NirMappingCli, MisusedOptionsAreRefusedNamingThem) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_nir_misuse_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string graph = (kFixtures / "lif.nir").string();
  const std::string input = (kFixtures / "lif.input.npy").string();
  const std::string map = (dir / "lif.stmap").string();
  const auto no_calibration = testing_cli::run_cli("compile --nir " + graph + " --dt 1e-4 -o " + map);
  EXPECT_NE(no_calibration.status, 0);
  EXPECT_NE(no_calibration.output.find("--calibrate: compile --nir quantizes the graph on an input"), std::string::npos)
      << no_calibration.output;
  EXPECT_FALSE(fs::exists(map));
  const auto objective = testing_cli::run_cli("compile --nir " + graph + " --dt 1e-4 --calibrate " + input +
                                              " --objective energy -o " + map);
  EXPECT_NE(objective.status, 0);
  EXPECT_NE(objective.output.find("--objective: does not apply to a NIR graph"), std::string::npos) << objective.output;
  ASSERT_EQ(testing_cli::run_cli("compile --nir " + graph + " --dt 1e-4 --calibrate " + input + " -o " + map).status, 0);
  const auto no_input = testing_cli::run_cli("simulate --map " + map);
  EXPECT_NE(no_input.status, 0);
  EXPECT_NE(no_input.output.find("holds a NIR graph: it runs on an input"), std::string::npos) << no_input.output;
  const auto recompile_option = testing_cli::run_cli("run --map " + map + " --input " + input + " --dt 1e-4");
  EXPECT_NE(recompile_option.status, 0);
  EXPECT_NE(recompile_option.output.find("--dt: does not apply to a compiled NIR graph"), std::string::npos)
      << recompile_option.output;
  const auto logits = testing_cli::run_cli("simulate --map " + map + " --input " + input + " --counts-out " +
                                           (dir / "c.json").string());
  EXPECT_NE(logits.status, 0);
  EXPECT_NE(logits.output.find("logits, counts and spike files are SpikeGPT's"), std::string::npos) << logits.output;
  EXPECT_FALSE(fs::exists(dir / "c.json"));
  fs::remove_all(dir);
}

// simulate --stats of a NIR run -> report: the figures add up (population rows and the network to
// the dynamic energy, steps to the inference), the dense equivalent is the integer model's
// synapse count, the verdict and the HTML page speak of time steps and populations.
TEST(NirMappingCli, ReportOfASimulatedRunPricesEveryStepAndTheGraphsDenseEquivalent) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_nir_report_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string graph = (kFixtures / "braille_zero.nir").string();
  const std::string input = (kFixtures / "braille_zero.input.npy").string();
  const std::string map = (dir / "b.stmap").string(), stats = (dir / "s.json").string(), report = (dir / "r.json").string();
  ASSERT_EQ(testing_cli::run_cli("compile --nir " + graph + " --dt 1e-4 --calibrate " + input + " -o " + map).status, 0);
  const auto sim = testing_cli::run_cli("simulate --map " + map + " --input " + input + " --stats " + stats + " --quiet-stats");
  ASSERT_EQ(sim.status, 0) << sim.output;
  const auto rep = testing_cli::run_cli("report --stats " + stats + " --json " + report);
  ASSERT_EQ(rep.status, 0) << rep.output;
  EXPECT_NE(rep.output.find("per inference (the whole input, 50 steps"), std::string::npos) << rep.output;
  std::ifstream in(report);
  const auto r = nlohmann::json::parse(in);
  EXPECT_EQ(r["kind"], "nir");
  const double steps = r["tokens"]["steps"].get<double>();
  EXPECT_EQ(steps, 50);
  const auto& chip = r["chip"];
  double rows = 0;
  for (const auto& p : r["per_population"]) rows += p["energy_per_token_pj"].get<double>();
  EXPECT_NEAR(rows, chip["dynamic_per_token_pj"].get<double>(), 1e-6 * rows);
  EXPECT_NEAR(r["inference"]["energy_pj"].get<double>(), chip["energy_per_token_pj"].get<double>() * steps,
              1e-9 * r["inference"]["energy_pj"].get<double>());
  double per_step_sum = 0;
  for (const auto& row : r["per_token"]) per_step_sum += row["cycles"].get<double>();
  EXPECT_EQ(per_step_sum, r["inference"]["cycles"].get<double>());
  // The dense equivalent: every synapse of the integer model's projections, once per step.
  Case c;
  c.graph = nir::read_nir(graph);
  const NpyValues x = read_npy_values(input);
  c.options.reference.dt = 1e-4;
  const nir::IntegerGraph integer = nir::IntegerGraph::build(c.graph, c.options, x.shape, x.data);
  int64_t synapses = 0;
  for (const auto& p : integer.projections()) synapses += p.synapses();
  EXPECT_EQ(r["gpu"]["dense_per_token"]["macs"].get<double>(), double(synapses));
  ASSERT_FALSE(r["verdict"].empty());
  EXPECT_EQ(r["verdict"][0]["comparisons"][0]["metric"], "energy per time step");
  EXPECT_GT(r["per_population"][0]["firing_rate"].get<double>(), 0.0);
  const auto html = testing_cli::run_cli("report --stats " + stats + " --html " + (dir / "r.html").string() + " --quiet");
  ASSERT_EQ(html.status, 0) << html.output;
  const std::string page = slurp(dir / "r.html");
  for (const char* part : {"<h2>Per population", "<svg id=\"chart-energy-by-population\"", "<svg id=\"chart-chip-vs-gpu\"",
                           "Per inference (the whole input", "lif1.lif"})
    EXPECT_NE(page.find(part), std::string::npos) << part;
  EXPECT_EQ(page.find("Paper mode"), std::string::npos) << "the paper section is SpikeGPT's";
  EXPECT_EQ(page.find("per token"), std::string::npos) << "a NIR run's steps are time steps";
  fs::remove_all(dir);
}

// The README's NIR commands on a file another framework wrote: Sinabs's N-MNIST CNN on generated
// 2×34×34 spike frames goes through compile --nir (on the large system: 451 tiles), simulate and
// report; the chip's output is the integer model's.
TEST(NirMappingCli, SinabsCnnGoesThroughTheReadmeCommands) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_nir_sinabs_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string input = (dir / "frames.npy").string();
  {
    std::mt19937 rng(5);
    std::bernoulli_distribution spike(0.2);
    std::vector<float> frames(std::size_t(8 * 2 * 34 * 34));
    for (float& f : frames) f = spike(rng) ? 1.0f : 0.0f;
    OutputFile out(input);
    write_npy(out, {8, 2, 34, 34}, frames.data());
    out.commit();
  }
  const std::string graph = (kReal / "cnn_sinabs.nir").string(), map = (dir / "cnn.stmap").string();
  const std::string stats = (dir / "s.json").string();
  const auto compiled = testing_cli::run_cli("compile --nir " + graph + " --dt 1 --calibrate " + input + " --chip " +
                                             (kRepo / "chips" / "large.yaml").string() + " -o " + map);
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  EXPECT_NE(compiled.output.find("shared weights unrolled"), std::string::npos) << compiled.output;
  const auto chip = testing_cli::run_cli("simulate --map " + map + " --input " + input + " --output " +
                                         (dir / "chip.npy").string() + " --stats " + stats + " --quiet-stats");
  ASSERT_EQ(chip.status, 0) << chip.output;
  const auto integer = testing_cli::run_cli("run --nir " + graph + " --dt 1 --quantized --input " + input + " --output " +
                                            (dir / "integer.npy").string() + " --quiet-stats");
  ASSERT_EQ(integer.status, 0) << integer.output;
  EXPECT_EQ(slurp(dir / "chip.npy"), slurp(dir / "integer.npy"));
  const auto report = testing_cli::run_cli("report --stats " + stats);
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_NE(report.output.find("per inference (the whole input, 8 steps"), std::string::npos) << report.output;
  fs::remove_all(dir);
}
