// NIR import: the reader on real files and malformed ones, and the float reference executor
// against hand-computed traces and the fixtures' independent numpy reference
// (scripts/make_nir_fixtures.py, tests/data/nir/).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <tuple>

#include "cli_runner.hpp"
#include "models/nir/nir_graph.hpp"
#include "models/nir/nir_integer.hpp"
#include "models/nir/nir_reference.hpp"
#include "nir_file_writer.hpp"
#include "runtime/npy.hpp"

namespace fs = std::filesystem;
using namespace spiketile;
using namespace spiketile::nir;
using spiketile::nir::testing::NirFileWriter;

namespace {

const fs::path kReal = fs::path(SPIKETILE_SHARED_DIR) / "data" / "nir";
const fs::path kFixtures = fs::path(SPIKETILE_TEST_DATA) / "nir";

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "spiketile_nir_tests";
  fs::create_directories(dir);
  return dir / name;
}

// The problems a file is refused with (empty if it reads).
std::vector<std::string> problems_of(const fs::path& path) {
  try {
    read_nir(path.string());
  } catch (const NirError& e) {
    return e.problems();
  }
  return {};
}

ReferenceOptions dt(double seconds) {
  ReferenceOptions o;
  o.dt = seconds;
  return o;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

// Input -> Linear(n x n, identity scaled by w) -> LIF(n) -> Output, ready to be altered.
void write_linear_lif(const fs::path& path, int n, double w) {
  NirFileWriter f(path.string());
  const hid_t nodes = f.graph(f.root(), {{"in", "fc"}, {"fc", "lif"}, {"lif", "out"}});
  f.ints(f.node(nodes, "in", "Input"), "shape", {n}, {1});
  std::vector<double> weight(std::size_t(n * n), 0.0);
  for (int i = 0; i < n; ++i) weight[std::size_t(i * n + i)] = w;
  f.floats(f.node(nodes, "fc", "Linear"), "weight", weight, {hsize_t(n), hsize_t(n)});
  const hid_t lif = f.node(nodes, "lif", "LIF");
  for (const char* p : {"tau", "r", "v_threshold"}) f.floats(lif, p, std::vector<double>(std::size_t(n), 0.01), {hsize_t(n)});
  f.floats(lif, "v_leak", std::vector<double>(std::size_t(n), 0.0), {hsize_t(n)});
  f.ints(f.node(nodes, "out", "Output"), "shape", {n}, {1});
}

}  // namespace

// ---- the real files of other frameworks ------------------------------------------------------

TEST(NirRealFiles, EveryFileImportsWithItsShapes) {
  const Graph cnn = read_nir((kReal / "cnn_sinabs.nir").string());
  EXPECT_EQ(cnn.version, "0.2.0");
  EXPECT_EQ(cnn.nodes.size(), 15u);
  EXPECT_EQ(cnn.node("input").output_shape, (Shape{2, 34, 34}));
  EXPECT_EQ(cnn.node("0").output_shape, (Shape{16, 16, 16}));  // (34 + 2 - 5) / 2 + 1
  EXPECT_EQ(cnn.node("4").output_shape, (Shape{16, 8, 8}));
  EXPECT_EQ(cnn.node("7").output_shape, (Shape{8, 4, 4}));
  EXPECT_EQ(cnn.node("8").output_shape, (Shape{128}));
  EXPECT_EQ(cnn.node("output").input_shape, (Shape{10}));
  // Weights and biases of the three convolutions and two Affine layers, plus r and v_threshold
  // of every IF neuron.
  EXPECT_EQ(cnn.parameter_count(), (800 + 16) + (2304 + 16) + (1152 + 8) + (32768 + 256) + (2560 + 10) +
                                       2 * (4096 + 4096 + 512 + 256 + 10));
  EXPECT_TRUE(cnn.cycles().empty());

  const Graph norse = read_nir((kReal / "lif_norse.nir").string());
  EXPECT_EQ(norse.version, "0.1.1");
  EXPECT_EQ(norse.node("1").op, Op::LIF);
  const Graph rockpool = read_nir((kReal / "lif_rockpool.nir").string());
  // Rockpool declares its output [1, 1, 1] after a one-neuron LIF: same size, taken with a note.
  EXPECT_EQ(rockpool.node("output").input_shape, (Shape{1, 1, 1}));
  EXPECT_TRUE(any_contains(rockpool.notes, "reshaped"));
  const Graph two = read_nir((kReal / "two_lif_neurons.nir").string());
  EXPECT_EQ(two.node("lif1").values("v_leak"), std::vector<double>{1.2});  // stored as float64
  EXPECT_EQ(two.order.front(), two.find("in"));
  EXPECT_EQ(two.order.back(), two.find("out"));
}

// A step current into Norse's LIF at dt = 1e-4: forward Euler with a = dt/tau = 0.04 gives, from
// rest, v_k = x·r·(1 − 0.96^k) until v > 0.1, then v = 0 and the same again.
TEST(NirRealFiles, NorseLifFollowsTheHandComputedTraceOfAStepCurrent) {
  const Graph g = read_nir((kReal / "lif_norse.nir").string());
  ReferenceExecutor run(g, dt(1e-4));
  const int lif = g.find("1");
  const double a = 1e-4 / g.node("1").values("tau")[0];  // tau = 0.0025 as float32 stores it
  const double x = 0.5;
  int since_reset = 0;
  std::vector<int> spikes, expected_spikes;
  for (int t = 0; t < 60; ++t) {
    const double input = t < 5 ? 0.0 : x;
    const auto out = run.step({{input}});
    if (out[0][0] == 1.0) spikes.push_back(t);
    if (t < 5) {
      EXPECT_EQ(run.membrane(lif)[0], 0.0);
      continue;
    }
    ++since_reset;
    const double v = x * (1.0 - std::pow(1.0 - a, since_reset));
    if (v > 0.1) {
      expected_spikes.push_back(t);
      EXPECT_EQ(run.membrane(lif)[0], 0.0) << "step " << t;
      since_reset = 0;
    } else {
      EXPECT_NEAR(run.membrane(lif)[0], v, 1e-12) << "step " << t;
    }
  }
  EXPECT_EQ(spikes, expected_spikes);
  EXPECT_EQ(expected_spikes, (std::vector<int>{10, 16, 22, 28, 34, 40, 46, 52, 58}));  // 6 steps per 0.1
}

// Rockpool's neuron: Linear 0.04 then r = 24.019737; the same closed form with x·w·r.
TEST(NirRealFiles, RockpoolLifIntegratesItsScaledInput) {
  const Graph g = read_nir((kReal / "lif_rockpool.nir").string());
  ReferenceExecutor run(g, dt(1e-4));
  const double w = g.node("0_LinearTorch").values("weight")[0], r = g.node("1_LIFNeuronTorch").values("r")[0];
  const double a = 1e-4 / g.node("1_LIFNeuronTorch").values("tau")[0];
  const double drive = 0.05 * w * r;  // 0.048: settles below the 0.1 threshold, never fires
  for (int k = 1; k <= 200; ++k) {
    const auto out = run.step({{0.05}});
    ASSERT_EQ(out[0][0], 0.0);
    ASSERT_NEAR(run.membrane(g.find("1_LIFNeuronTorch"))[0], drive * (1.0 - std::pow(1.0 - a, k)), 1e-12);
  }
}

// Two LIFs in a chain: lif1 leaks toward v_leak = 1.2 with no input and fires each time it
// passes 1; lif2 counts lif1's spikes (threshold 20), each adding r·1 through a·(... + 1).
TEST(NirRealFiles, TwoLifNeuronsFireFromTheirLeakPotential) {
  const Graph g = read_nir((kReal / "two_lif_neurons.nir").string());
  ReferenceExecutor run(g, dt(1e-3));
  const double a = 1e-3 / 0.01;
  int since_reset = 0, fired = 0;
  for (int t = 0; t < 100; ++t) {
    run.step({{0.0}});
    ++since_reset;
    const double v = 1.2 * (1.0 - std::pow(1.0 - a, since_reset));
    if (v > 1.0) {
      since_reset = 0;
      ++fired;
      ASSERT_EQ(run.membrane(g.find("lif1"))[0], 0.0) << t;
    } else {
      ASSERT_NEAR(run.membrane(g.find("lif1"))[0], v, 1e-12) << t;
    }
  }
  EXPECT_EQ(run.spike_count(g.find("lif1")), fired);
  EXPECT_GT(fired, 3);
  EXPECT_EQ(run.spike_count(g.find("lif2")), 0);  // 20 is far above what a few spikes give
}

// Sinabs's N-MNIST CNN on generated 2×34×34 spike frames (dt = 1: Sinabs's IAF adds its input
// each step). One neuron of the first IF layer is recomputed here from the weights directly.
TEST(NirRealFiles, SinabsCnnRunsOnSpikeFramesAndItsFirstLayerMatchesADirectConvolution) {
  const Graph g = read_nir((kReal / "cnn_sinabs.nir").string());
  ReferenceExecutor run(g, dt(1.0));
  std::mt19937 rng(7);
  std::bernoulli_distribution spike(0.2);
  const Node& conv = g.node("0");
  const auto& w = conv.values("weight");
  const auto& theta = g.node("1").values("v_threshold");
  const int oc = 5, oy = 7, ox = 9;  // one output position of conv "0" (stride 2, padding 1, 5×5)
  const std::size_t neuron = std::size_t((oc * 16 + oy) * 16 + ox);
  double v = 0;
  int64_t fired = 0;
  for (int t = 0; t < 30; ++t) {
    std::vector<double> frame(2 * 34 * 34);
    for (double& s : frame) s = spike(rng) ? 1.0 : 0.0;
    const auto out = run.step({frame});
    ASSERT_EQ(out[0].size(), 10u);
    double drive = 0;
    for (int c = 0; c < 2; ++c)
      for (int ky = 0; ky < 5; ++ky)
        for (int kx = 0; kx < 5; ++kx) {
          const int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
          if (iy >= 0 && iy < 34 && ix >= 0 && ix < 34)
            drive += w[std::size_t(((oc * 2 + c) * 5 + ky) * 5 + kx)] * frame[std::size_t((c * 34 + iy) * 34 + ix)];
        }
    drive += conv.values("bias")[std::size_t(oc)];
    v += drive;  // IF, r = 1, dt = 1
    const bool fires = v > theta[neuron];
    if (fires) v = 0, ++fired;
    ASSERT_NEAR(run.membrane(g.find("1"))[neuron], v, 1e-9) << "step " << t;
    ASSERT_EQ(run.output(g.find("1"))[neuron], fires ? 1.0 : 0.0);
  }
  EXPECT_GT(run.spike_count(g.find("1")), 0);
  EXPECT_GT(run.spike_count(g.find("10")), 0);  // spikes reach the dense layers  // spikes reach the dense layers
}

// ---- the fixtures: every primitive, nesting, recurrence, both versions ------------------------

class NirFixture : public ::testing::TestWithParam<std::string> {};

nlohmann::json fixture_entry(const std::string& name) {
  std::ifstream in(kFixtures / "manifest.json");
  const auto manifest = nlohmann::json::parse(in);
  for (const auto& f : manifest["fixtures"])
    if (f["name"] == name) return f;
  throw std::runtime_error("no fixture " + name);
}

std::vector<std::string> fixture_names() {
  std::ifstream in(kFixtures / "manifest.json");
  std::vector<std::string> names;
  if (!in) return names;
  const auto manifest = nlohmann::json::parse(in);
  for (const auto& f : manifest["fixtures"]) names.push_back(f["name"]);
  return names;
}

TEST_P(NirFixture, MatchesTheIndependentNumpyReferenceStepByStep) {
  const auto entry = fixture_entry(GetParam());
  const Graph g = read_nir((kFixtures / entry["files"]["nir"].get<std::string>()).string());
  ReferenceOptions options;
  options.dt = entry["dt"].get<double>();
  options.reset = entry["reset"] == "subtract" ? ResetMode::Subtract : ResetMode::ToValue;
  const NpyValues input = read_npy_values((kFixtures / entry["files"]["input"].get<std::string>()).string());
  const NpyValues expected = read_npy_values((kFixtures / entry["files"]["expected"].get<std::string>()).string());
  std::map<std::string, NpyValues> traces;
  for (const auto& [key, file] : entry["files"]["traces"].items())
    traces[key] = read_npy_values((kFixtures / file.get<std::string>()).string());

  ReferenceExecutor run(g, options);
  const int64_t T = input.shape[0], in_size = int64_t(input.data.size()) / T, out_size = int64_t(expected.data.size()) / T;
  ASSERT_EQ(T, entry["T"].get<int64_t>());
  ASSERT_EQ(g.node(g.nodes[std::size_t(g.outputs[0])].id).input_shape, entry["output_shape"].get<Shape>());
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<double> x(input.data.begin() + t * in_size, input.data.begin() + (t + 1) * in_size);
    const auto y = run.step({x});
    ASSERT_EQ(int64_t(y[0].size()), out_size);
    for (int64_t j = 0; j < out_size; ++j) {
      const double want = expected.data[std::size_t(t * out_size + j)];
      ASSERT_NEAR(y[0][std::size_t(j)], want, 1e-9 * std::max(1.0, std::abs(want))) << "step " << t << " element " << j;
    }
    for (const auto& [key, trace] : traces) {
      // "node path:v" or ":i"; nested paths are written with '/', flattened ids with '.'.
      std::string id = key.substr(0, key.rfind(':'));
      std::replace(id.begin(), id.end(), '/', '.');
      const int n = g.find(id);
      ASSERT_GE(n, 0) << key;
      const auto& state = key.back() == 'v' ? run.membrane(n) : run.synaptic_current(n);
      const int64_t size = int64_t(trace.data.size()) / T;
      ASSERT_EQ(int64_t(state.size()), size) << key;
      for (int64_t j = 0; j < size; ++j) {
        const double want = trace.data[std::size_t(t * size + j)];
        ASSERT_NEAR(state[std::size_t(j)], want, 1e-9 * std::max(1.0, std::abs(want))) << key << " step " << t << " element " << j;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NirFixture, ::testing::ValuesIn(fixture_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(NirFixtures, CoverEveryPrimitive) {
  std::set<Op> seen;
  for (const auto& name : fixture_names()) {
    const auto entry = fixture_entry(name);
    for (const auto& n : read_nir((kFixtures / entry["files"]["nir"].get<std::string>()).string()).nodes) seen.insert(n.op);
  }
  for (const auto& p : nir_primitives()) EXPECT_TRUE(seen.count(p.op)) << p.type << " has no fixture";
}

TEST(NirFixtures, RecurrentCubaLifNetworkHasOneRecurrentEdgeClosingTheHiddenLoop) {
  const Graph g = read_nir((kFixtures / "braille_subtract.nir").string());
  int recurrent = 0;
  for (const Edge& e : g.edges)
    if (e.recurrent) {
      ++recurrent;
      EXPECT_EQ(g.nodes[std::size_t(e.from)].id, "lif1.w_rec");
      EXPECT_EQ(g.nodes[std::size_t(e.to)].id, "lif1.lif");
    }
  EXPECT_EQ(recurrent, 1);
  ASSERT_EQ(g.cycles().size(), 1u);
  EXPECT_EQ(g.cycles()[0], (std::vector<std::string>{"lif1.lif", "lif1.w_rec", "lif1.lif"}));
}

TEST(NirFixtures, NestedGraphIsFlattenedThroughItsInputAndOutputNodes) {
  const Graph g = read_nir((kFixtures / "nested.nir").string());
  EXPECT_GE(g.find("hidden.lif"), 0);
  EXPECT_EQ(g.inputs.size(), 1u);  // the subgraph's own Input/Output are inner pass-throughs
  EXPECT_EQ(g.outputs.size(), 1u);
}

// ---- malformed files: refused with the node, what is wrong and what was expected -------------

TEST(NirErrors, NotHdf5AndTruncatedFilesAreRefusedNotCrashed) {
  const fs::path text = scratch("not_hdf5.nir");
  std::ofstream(text) << "hello";
  EXPECT_TRUE(any_contains(problems_of(text), "not an HDF5 file"));

  // Every prefix of a real file: each is refused with a message (or, past the data it needs, read).
  std::ifstream in(kReal / "lif_norse.nir", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (std::size_t cut : {std::size_t(8), std::size_t(100), std::size_t(600), bytes.size() / 2, bytes.size() - 10}) {
    const fs::path part = scratch("truncated.nir");
    std::ofstream(part, std::ios::binary).write(bytes.data(), std::streamsize(cut));
    try {
      read_nir(part.string());
    } catch (const NirError& e) {
      EXPECT_FALSE(e.problems().empty()) << cut;
    }
  }
  EXPECT_TRUE(any_contains(problems_of(scratch("missing_file.nir")), "cannot open"));
}

// A file found by fuzz_nir on which libhdf5 1.10.8 itself crashes (a damaged global heap: a
// negative-size memcpy in H5HG_read while it reads a variable-length string). The reader runs
// libhdf5 in a child process, so this is an error naming the file, never a crash of ours.
TEST(NirErrors, AFileThatCrashesLibhdf5IsAnErrorNotACrash) {
  const fs::path crasher = fs::path(SPIKETILE_FUZZ_INPUTS) / "regressions" / "nir" / "libhdf5-segfault-global-heap.nir";
  ASSERT_TRUE(fs::exists(crasher));
  const auto problems = problems_of(crasher);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(problems[0].find("libhdf5 crashed reading it") != std::string::npos ||
              problems[0].find("the reader process failed") != std::string::npos)  // under AddressSanitizer
      << problems[0];
  // The process that asked is unharmed and reads the next file.
  EXPECT_EQ(read_nir((kReal / "lif_norse.nir").string()).nodes.size(), 4u);
}

// Another fuzz_nir find: libhdf5 loops forever in its global-heap loader on this file. The child
// reading it gets a deadline (5 s plus 1 s per 10 MB) and is killed after it, with a message.
TEST(NirErrors, AFileOnWhichLibhdf5LoopsIsRefusedAtTheReadersDeadline) {
  const fs::path looper = fs::path(SPIKETILE_FUZZ_INPUTS) / "regressions" / "nir" / "libhdf5-endless-loop-global-heap.nir";
  const auto started = std::chrono::steady_clock::now();
  const auto problems = problems_of(looper);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("libhdf5 did not finish reading it within 5 s"), std::string::npos) << problems[0];
  EXPECT_LT(seconds, 30.0);
}

TEST(NirErrors, EveryProblemOfAFileIsReportedAtOnceWithNodeAndExpectation) {
  const fs::path path = scratch("many_problems.nir");
  {
    NirFileWriter f(path.string());
    const hid_t nodes = f.graph(f.root(), {{"in", "fc"}, {"fc", "spin"}, {"spin", "out"}, {"in", "ghost"}});
    f.ints(f.node(nodes, "in", "Input"), "shape", {3}, {1});
    f.node(nodes, "fc", "Affine");  // no weight, no bias
    f.node(nodes, "spin", "Hodgkin-Huxley");
    f.ints(f.node(nodes, "out", "Output"), "shape", {3}, {1});
  }
  const auto problems = problems_of(path);
  EXPECT_TRUE(any_contains(problems, "node 'fc' (Affine) is missing parameter 'weight'; expected a float array ([out, in])"));
  EXPECT_TRUE(any_contains(problems, "node 'fc' (Affine) is missing parameter 'bias'"));
  EXPECT_TRUE(any_contains(problems, "node 'spin' has type 'Hodgkin-Huxley', which this importer cannot map; known:"));
  EXPECT_TRUE(any_contains(problems, "edge to 'ghost' names no node of the graph"));
  EXPECT_GE(problems.size(), 4u);
}

TEST(NirErrors, ShapeMismatchAlongAnEdgeNamesBothEnds) {
  const fs::path path = scratch("mismatch.nir");
  {
    NirFileWriter f(path.string());
    const hid_t nodes = f.graph(f.root(), {{"in", "fc"}, {"fc", "out"}});
    f.ints(f.node(nodes, "in", "Input"), "shape", {4}, {1});
    f.floats(f.node(nodes, "fc", "Linear"), "weight", std::vector<double>(6, 0.5), {2, 3});
    f.ints(f.node(nodes, "out", "Output"), "shape", {2}, {1});
  }
  const auto problems = problems_of(path);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "edge 'in' -> 'fc': shape mismatch: 'in' (Input) gives [4] (4 values), 'fc' (Linear) expects [3] (3 values)");
}

TEST(NirErrors, BadParameterValuesAreRefused) {
  const fs::path path = scratch("bad_values.nir");
  write_linear_lif(path, 3, 1.0);
  {
    // Rewrite one parameter: a NaN weight and a negative tau.
    const hid_t file = H5Fopen(path.string().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(file, "node/nodes/lif/tau", H5P_DEFAULT);
    H5Ldelete(file, "node/nodes/fc/weight", H5P_DEFAULT);
    H5Fclose(file);
  }
  {
    const hid_t file = H5Fopen(path.string().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t lif = H5Gopen2(file, "node/nodes/lif", H5P_DEFAULT);
    const hid_t fc = H5Gopen2(file, "node/nodes/fc", H5P_DEFAULT);
    const double tau[3] = {0.01, -0.01, 0.01};
    const double weight[9] = {1, 0, 0, 0, std::nan(""), 0, 0, 0, 1};
    const hsize_t d3[1] = {3}, d33[2] = {3, 3};
    for (auto [group, name, data, rank, dims] :
         {std::tuple{lif, "tau", tau, 1, d3}, std::tuple{fc, "weight", weight, 2, d33}}) {
      const hid_t space = H5Screate_simple(rank, dims, nullptr);
      const hid_t ds = H5Dcreate2(group, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
      H5Dclose(ds);
      H5Sclose(space);
    }
    H5Gclose(lif);
    H5Gclose(fc);
    H5Fclose(file);
  }
  const auto problems = problems_of(path);
  EXPECT_TRUE(any_contains(problems, "node 'fc' (Linear) parameter 'weight' holds nan at index 4; expected finite values"));
  EXPECT_TRUE(any_contains(problems, "node 'lif' (LIF) has tau = -0.01"));
}

TEST(NirErrors, AGraphWithoutInputOrOutputAndAnEdgeLeavingOutputAreRefused) {
  const fs::path path = scratch("no_input.nir");
  {
    NirFileWriter f(path.string(), "");
    const hid_t nodes = f.graph(f.root(), {{"out", "fc"}});
    f.floats(f.node(nodes, "fc", "Linear"), "weight", {1.0}, {1, 1});
    f.ints(f.node(nodes, "out", "Output"), "shape", {1}, {1});
  }
  const auto problems = problems_of(path);
  EXPECT_TRUE(any_contains(problems, "the top-level graph has no Input node"));
}

TEST(NirErrors, TheRunNeedsATimeStepForNeuronsAndAnInputOfTheRightShape) {
  const fs::path path = scratch("linear_lif.nir");
  write_linear_lif(path, 3, 1.0);
  const Graph g = read_nir(path.string());
  EXPECT_TRUE(g.notes.empty());
  EXPECT_THROW(ReferenceExecutor(g, dt(0.0)), std::invalid_argument);
  try {
    run_reference(g, dt(1e-3), {5, 4}, std::vector<double>(20, 0.0));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("expected [T, 3] for input 'in' [3]"), std::string::npos) << e.what();
  }
  ReferenceOptions options = dt(1e-3);
  EXPECT_THROW(parse_reset_option("fc=subtract", g, options), std::invalid_argument);  // not a spiking neuron
  EXPECT_THROW(parse_reset_option("sideways", g, options), std::invalid_argument);
  parse_reset_option("lif=subtract", g, options);
  EXPECT_EQ(options.reset_of.at("lif"), ResetMode::Subtract);
}

TEST(NirGraph, ASelfLoopAndAFileWithoutVersionAreRead) {
  const fs::path path = scratch("self_loop.nir");
  {
    NirFileWriter f(path.string(), "");
    const hid_t nodes = f.graph(f.root(), {{"in", "lif"}, {"lif", "rec"}, {"rec", "lif"}, {"lif", "out"}});
    f.ints(f.node(nodes, "in", "Input"), "shape", {2}, {1});
    f.floats(f.node(nodes, "rec", "Linear"), "weight", {0.0, 1.0, 1.0, 0.0}, {2, 2});
    const hid_t lif = f.node(nodes, "lif", "IF");
    f.floats(lif, "r", {1.0, 1.0}, {2});
    f.floats(lif, "v_threshold", {0.5, 0.5}, {2});
    f.ints(f.node(nodes, "out", "Output"), "shape", {2}, {1});
  }
  const Graph g = read_nir(path.string());
  EXPECT_TRUE(any_contains(g.notes, "names no format version"));
  // Neuron 0 gets a pulse at step 0 and fires; the recurrent swap makes neuron 1 fire at step 1,
  // neuron 0 again at step 2, and so on: the loop carries the previous step's spikes.
  ReferenceExecutor run(g, dt(1.0));
  std::vector<std::vector<double>> out;
  for (int t = 0; t < 4; ++t) out.push_back(run.step({{t == 0 ? 1.0 : 0.0, 0.0}})[0]);
  EXPECT_EQ(out, (std::vector<std::vector<double>>{{1, 0}, {0, 1}, {1, 0}, {0, 1}}));
}

// ---- the command line --------------------------------------------------------------------------

TEST(NirCli, InspectPrintsNodesShapesEdgesAndCycles) {
  const auto r = testing_cli::run_cli("inspect " + (kFixtures / "braille_subtract.nir").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("CubaLIF"), std::string::npos);
  EXPECT_NE(r.output.find("lif1.w_rec -> lif1.lif   (recurrent"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cycles: 1\n  lif1.lif -> lif1.w_rec -> lif1.lif"), std::string::npos) << r.output;
  const auto j = testing_cli::run_cli("inspect --json " + (kReal / "cnn_sinabs.nir").string());
  ASSERT_EQ(j.status, 0) << j.output;
  EXPECT_EQ(nlohmann::json::parse(j.output)["parameters"], 57830);
}

TEST(NirCli, RunWritesTheReferenceOutputAndRefusesOptionsOfTheOtherKind) {
  const fs::path out = scratch("braille_out.npy");
  fs::remove(out);
  const auto r = testing_cli::run_cli("run --nir " + (kFixtures / "braille_subtract.nir").string() +
                                      " --dt 1e-4 --reset subtract --input " +
                                      (kFixtures / "braille_subtract.input.npy").string() + " --output " + out.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("lif1.lif"), std::string::npos);  // firing rates per spiking node
  const NpyArray got = read_npy(out.string());
  const NpyValues want = read_npy_values((kFixtures / "braille_subtract.expected.npy").string());
  ASSERT_EQ(got.shape, want.shape);
  for (std::size_t k = 0; k < got.data.size(); ++k) ASSERT_EQ(double(got.data[k]), want.data[k]) << k;  // spikes: exact

  const auto wrong = testing_cli::run_cli("run --nir " + (kFixtures / "braille_subtract.nir").string() +
                                          " --dt 1e-4 --input " + (kFixtures / "braille_subtract.input.npy").string() +
                                          " --temperature 1");
  EXPECT_NE(wrong.status, 0);
  EXPECT_NE(wrong.output.find("--temperature: does not apply to a NIR graph"), std::string::npos) << wrong.output;
  const auto stray = testing_cli::run_cli("run --dt 1e-4 -n 1");
  EXPECT_NE(stray.status, 0);
  EXPECT_NE(stray.output.find("--dt: applies to NIR graphs only"), std::string::npos) << stray.output;
}

TEST(NirDocs, PrimitiveTableEqualsTheReadersDeclaration) {
  std::ifstream in(fs::path(SPIKETILE_SOURCE_DIR) / "docs" / "nir.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(doc.find(primitives_markdown()), std::string::npos)
      << "docs/nir.md's primitive table differs from nir_primitives(); paste:\n"
      << primitives_markdown();
}

// ---- the integer model -------------------------------------------------------------------------

// The folding (paths of stateless nodes into one matrix, biases, the neuron constants and
// multipliers) is exact in the limit. With wide words (16-bit weights and inputs, 30-bit
// membranes) and time constants whose rates dt/τ lie on the contract's 1/4096 grid (its 12-bit
// rates are a rounding of their own), every membrane must follow the float reference to 0.1 % of
// its range until the first spike that differs — and that spike must be a near-threshold case
// (the neuron that did not fire sat within that tolerance of its threshold), not a wrong model.
// Recurrent networks then diverge chaotically, as any two simulators would.
TEST_P(NirFixture, IntegerModelWithWideWordsFollowsTheFloatReferenceUntilANearThresholdSpike) {
  const auto entry = fixture_entry(GetParam());
  Graph g = read_nir((kFixtures / entry["files"]["nir"].get<std::string>()).string());
  const double step = entry["dt"].get<double>();
  for (Node& n : g.nodes)
    for (const char* tau : {"tau", "tau_mem", "tau_syn"})
      if (n.has(tau))
        for (double& t : n.params.at(tau).values) t = step * 4096.0 / std::round(4096.0 * step / t);
  IntegerOptions options;
  options.weight_bits = 16;
  options.activation_bits = 16;
  options.membrane_bits = 30;
  options.reference.dt = step;
  options.reference.reset = entry["reset"] == "subtract" ? ResetMode::Subtract : ResetMode::ToValue;
  const NpyValues input = read_npy_values((kFixtures / entry["files"]["input"].get<std::string>()).string());
  if (std::any_of(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.op == Op::Delay; })) {
    EXPECT_THROW(IntegerGraph::build(g, options, input.shape, input.data), std::invalid_argument);  // not on the chip yet
    return;
  }
  IntegerGraph integer = IntegerGraph::build(g, options, input.shape, input.data);
  ReferenceExecutor reference(g, options.reference);
  const int64_t T = input.shape[0], per_step = int64_t(input.data.size()) / T;
  const auto& pops = integer.populations();
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<double> x(input.data.begin() + t * per_step, input.data.begin() + (t + 1) * per_step);
    const auto y_float = reference.step({x})[0];
    const auto y_int = integer.step(x);
    bool diverged = false;
    for (std::size_t p = 1; p < pops.size(); ++p) {
      const int n = g.find(pops[p].node);
      const double tolerance = 1e-3 * pops[p].scale * double(int64_t(1) << 28);
      for (int64_t j = 0; j < pops[p].size; ++j) {
        // A Threshold node keeps no membrane: its integer "membrane" is this step's input.
        const auto& float_state = reference.membrane(n).empty() ? reference.input(n) : reference.membrane(n);
        const double vf = float_state[std::size_t(j)];
        const double vi = integer.state(int(p))[std::size_t(j)].v * pops[p].scale;
        const bool sf = pops[p].binary && reference.output(n)[std::size_t(j)] != 0.0;
        const bool si = pops[p].binary && integer.values(int(p))[std::size_t(j)] != 0;
        if (sf != si) {
          const double theta = pops[p].params[std::size_t(j)].theta * pops[p].scale;
          EXPECT_NEAR(sf ? vi : vf, theta, tolerance)
              << pops[p].node << "[" << j << "] step " << t << ": a spike differs far from the threshold";
          diverged = true;
        } else if (!sf) {
          ASSERT_NEAR(vi, vf, tolerance) << pops[p].node << "[" << j << "] step " << t;
        }
      }
    }
    if (diverged) return;
    if (integer.output_kind() == OutputKind::Spikes) continue;
    for (std::size_t j = 0; j < y_float.size(); ++j)
      ASSERT_NEAR(y_int[j], y_float[j], 1e-3 * std::max(1.0, std::abs(y_float[j]))) << "output " << j << " step " << t;
  }
}

TEST(NirCli, QuantizedRunReportsDecisionsAndAgreementAndCalibrateNeedsIt) {
  const std::string graph = (kFixtures / "braille_zero.nir").string();
  const std::string input = (kFixtures / "braille_zero.input.npy").string();
  const fs::path out = scratch("braille_int.npy");
  fs::remove(out);
  const auto r = testing_cli::run_cli("run --nir " + graph + " --dt 1e-4 --input " + input + " --quantized --output " + out.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("quantization: 'lif1.lif' (CubaLIF, 16 neurons)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("its recurrent part from step 1 on"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("spike agreement"), std::string::npos);
  EXPECT_EQ(read_npy(out.string()).shape, (std::vector<int64_t>{50, 4}));
  const auto refused = testing_cli::run_cli("run --nir " + graph + " --dt 1e-4 --input " + input + " --calibrate " + input);
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("--calibrate: sets the integer model's scales: it needs --quantized"), std::string::npos)
      << refused.output;
  const auto delay = testing_cli::run_cli("run --nir " + (kFixtures / "delay.nir").string() + " --dt 1e-3 --input " +
                                          (kFixtures / "delay.input.npy").string() + " --quantized");
  EXPECT_NE(delay.status, 0);
  EXPECT_NE(delay.output.find("(Delay): delays are not mapped onto the chip yet"), std::string::npos) << delay.output;
}
