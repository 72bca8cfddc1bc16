// spiketile explore's parts (explore/): the content hash, the Pareto front on hand-made points,
// the sweep file's grid expansion and its validation (every problem at once, with its line).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "chips/chip_spec.hpp"
#include "explore/pareto.hpp"
#include "explore/point.hpp"
#include "explore/sha256.hpp"
#include "explore/sweep.hpp"

namespace spiketile::explore {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() / ("spiketile_explore_unit_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

std::string write_sweep(const std::string& name, const std::string& text) {
  const fs::path path = temp_dir() / name;
  std::ofstream(path) << text;
  return path.string();
}

const std::string kModel = std::string(SPIKETILE_SOURCE_DIR) + "/models/spikegpt-fortunes.pth";

TEST(ExploreHash, Sha256MatchesTheStandardsTestVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Two blocks: the padding crosses a block boundary (FIPS 180-4, example C.2).
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 pieces;
  const std::string million(1000000, 'a');
  for (std::size_t i = 0; i < million.size(); i += 997) pieces.update(million.substr(i, 997));
  EXPECT_EQ(pieces.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ExplorePareto, KeepsExactlyThePointsNoOtherBeatsOnBoth) {
  // {energy, latency}
  const std::vector<Objectives> points{
      {1, 10},  // 0: least energy
      {2, 5},   // 1
      {3, 6},   // 2: beaten by 1 on both
      {5, 1},   // 3: least latency
      {2, 5},   // 4: equal to 1: neither beats the other
      {4, 4},   // 5: between 1 and 3
      {1, 11},  // 6: same energy as 0, slower: beaten by 0
      {5, 2},   // 7: same energy as 3, slower: beaten by 3
  };
  EXPECT_EQ(pareto_front(points), (std::vector<bool>{true, true, false, true, true, true, false, false}));
  EXPECT_TRUE(pareto_front({}).empty());
  EXPECT_EQ(pareto_front({{7, 7}}), std::vector<bool>{true});
}

TEST(ExploreSweep, GridIsTheCartesianProductFirstAxisSlowestThenExplicitPoints) {
  const std::string path = write_sweep("grid.yaml", "version: 1\n"
                                                    "model: " + kModel + "\n"
                                                    "run: {tokens: 3}\n"
                                                    "grid:\n"
                                                    "  chip.mesh.rows: [4, 8]\n"
                                                    "  compile.objective: [latency, cores, energy]\n"
                                                    "points:\n"
                                                    "  - {chip.clock_frequency_mhz: 250, compile.weight_bits: 4, "
                                                    "report.encoding: bit_serial}\n");
  const Sweep sweep = load_sweep(path);
  ASSERT_EQ(sweep.points.size(), 7u);
  EXPECT_EQ(sweep.points[0].label(), "chip.mesh.rows=4 compile.objective=latency");
  EXPECT_EQ(sweep.points[2].label(), "chip.mesh.rows=4 compile.objective=energy");
  EXPECT_EQ(sweep.points[3].label(), "chip.mesh.rows=8 compile.objective=latency");
  EXPECT_EQ(sweep.points[6].label(), "chip.clock_frequency_mhz=250 compile.weight_bits=4 report.encoding=bit_serial");
  EXPECT_EQ(sweep.axes, (std::vector<std::string>{"chip.mesh.rows", "compile.objective", "chip.clock_frequency_mhz",
                                                  "compile.weight_bits", "report.encoding"}));
  EXPECT_EQ(sweep.run.tokens, 3);
  EXPECT_EQ(sweep.run.gpu, "h100");

  // The derived chip is the base with the point's values, and nothing else changed.
  const ChipSpec base = load_chip_spec(sweep.base_chip);
  const ChipSpec first = load_chip_spec_from_string(derived_chip_yaml(sweep, sweep.points[0]), "p0");
  EXPECT_EQ(first.mesh.rows, 4);
  EXPECT_EQ(first.mesh.cols, base.mesh.cols);
  EXPECT_EQ(first.core.synapse_sram.size_bytes, base.core.synapse_sram.size_bytes);
  EXPECT_EQ(first.power.gated_static_fraction, base.power.gated_static_fraction);
  const ChipSpec last = load_chip_spec_from_string(derived_chip_yaml(sweep, sweep.points[6]), "p6");
  EXPECT_EQ(last.clock_frequency_mhz, 250);
  EXPECT_EQ(last.mesh.rows, base.mesh.rows);
  EXPECT_EQ(option_arguments(sweep.points[6], "compile"), (std::vector<std::string>{"--weight-bits", "4"}));
  EXPECT_EQ(option_arguments(sweep.points[1], "compile"), (std::vector<std::string>{"--objective", "cores"}));
  EXPECT_EQ(option_arguments(sweep.points[6], "report"), (std::vector<std::string>{"--encoding", "bit_serial"}));
  EXPECT_TRUE(option_arguments(sweep.points[1], "report").empty());
}

TEST(ExploreSweep, TheShippedSweepAndTheDocumentedExampleAreValid) {
  const std::string source = SPIKETILE_SOURCE_DIR;
  const Sweep shipped = load_sweep(source + "/chips/sweeps/default-architecture.yaml");
  EXPECT_EQ(shipped.points.size(), 24u);  // docs/performance.md times this sweep
  EXPECT_EQ(shipped.run.tokens, 64);
  // docs/explore.md's file-format block, its paths made absolute (it is written for chips/sweeps/).
  std::ifstream doc(source + "/docs/explore.md");
  const std::string text{std::istreambuf_iterator<char>(doc), {}};
  const std::size_t start = text.find("```yaml\n") + 8;
  std::string block = text.substr(start, text.find("```", start) - start);
  for (const auto& [relative, absolute] :
       std::vector<std::pair<std::string, std::string>>{{"../../models/", source + "/models/"},
                                                        {"../energy/", source + "/chips/energy/"},
                                                        {"../default.yaml", source + "/chips/default.yaml"},
                                                        {"../../tests/", source + "/tests/"}})
    for (std::size_t at = block.find(relative); at != std::string::npos; at = block.find(relative, at + absolute.size()))
      block.replace(at, relative.size(), absolute);
  const Sweep example = load_sweep(write_sweep("doc_example.yaml", block));
  EXPECT_EQ(example.points.size(), 2u * 3u * 2u + 1u);
  EXPECT_EQ(example.run.prompt, "the ");
  EXPECT_EQ(example.run.eval_tokens, 20000);
  // The frontier sweep of docs/spiking-frontier.md scores every model on the held-out split.
  const Sweep frontier = load_sweep(source + "/chips/sweeps/spiking-frontier.yaml");
  EXPECT_EQ(fs::path(frontier.run.eval_text).lexically_normal(), fs::path(source + "/tests/data/fortunes_heldout.txt").lexically_normal());
  EXPECT_GE(frontier.points.size(), 2u);
}

TEST(ExploreSweep, AnImplementationAndItsParameterCanBothBeSet) {
  const std::string path = write_sweep("impl.yaml", "version: 1\n"
                                                    "grid:\n"
                                                    "  chip.power.gating: [chip, core]\n"
                                                    "  chip.power.gating.gated_static_fraction: [0.1]\n"
                                                    "  chip.router.routing: [yx]\n");
  const Sweep sweep = load_sweep(path);
  ASSERT_EQ(sweep.points.size(), 2u);
  // The base chip gates by core with its own fraction: the new name takes the swept fraction too.
  const ChipSpec chip = load_chip_spec_from_string(derived_chip_yaml(sweep, sweep.points[0]), "p0");
  const ChipSpec core = load_chip_spec_from_string(derived_chip_yaml(sweep, sweep.points[1]), "p1");
  EXPECT_EQ(chip.power.gating, PowerGating::chip);
  EXPECT_DOUBLE_EQ(chip.power.gated_static_fraction, 0.1);
  EXPECT_EQ(core.power.gating, PowerGating::core);
  EXPECT_DOUBLE_EQ(core.power.gated_static_fraction, 0.1);
  EXPECT_EQ(core.router.routing, "yx");
}

TEST(ExploreSweep, EveryProblemIsReportedAtOnceWithItsLine) {
  const std::string path = write_sweep("bad.yaml", "version: 1\n"                                 // 1
                                                   "grids: {}\n"                                  // 2
                                                   "run:\n"                                       // 3
                                                   "  tokens: 0\n"                                // 4
                                                   "  gpu_precission: fp8\n"                      // 5
                                                   "grid:\n"                                      // 6
                                                   "  chip.core.crossbar.axon: [128]\n"           // 7
                                                   "  chip.mesh.rows: [4, 0, 4]\n"                // 8
                                                   "  compile.objective: [fastest]\n"             // 9
                                                   "  model: [no/such/model.pth]\n"               // 10
                                                   "  compile.weight_bits: []\n"                  // 11
                                                   "points:\n"                                    // 12
                                                   "  - {runs: 3}\n");                            // 13
  try {
    load_sweep(path);
    FAIL() << "an invalid sweep was accepted";
  } catch (const ConfigError& e) {
    const std::string text = e.what();
    auto has = [&](int line, const std::string& words) {
      for (const ConfigProblem& p : e.problems())
        if (p.file == path && p.line == line && p.message.find(words) != std::string::npos) return true;
      return false;
    };
    EXPECT_TRUE(has(2, "unknown key 'grids' at the top level (did you mean 'grid'?)")) << text;
    EXPECT_TRUE(has(4, "run.tokens: must be at least 1, got 0")) << text;
    EXPECT_TRUE(has(5, "unknown key 'gpu_precission' in run (did you mean 'gpu_precision'?)")) << text;
    EXPECT_TRUE(has(7, "unknown axis 'chip.core.crossbar.axon' (did you mean 'chip.core.crossbar.axons'?)")) << text;
    EXPECT_TRUE(has(8, "chip.mesh.rows: must be at least 1, got 0")) << text;
    EXPECT_TRUE(has(8, "chip.mesh.rows: value '4' is listed twice")) << text;
    EXPECT_TRUE(has(9, "compile.objective: unknown value 'fastest'; known: latency, energy, edp, cores")) << text;
    EXPECT_TRUE(has(10, "model: no checkpoint")) << text;
    EXPECT_TRUE(has(11, "compile.weight_bits: an axis needs at least one value")) << text;
    EXPECT_TRUE(has(13, "unknown axis 'runs'")) << text;
    EXPECT_EQ(e.problems().size(), 10u) << text;
    EXPECT_NE(text.find(path + ":8:"), std::string::npos) << text;
  }
}

TEST(ExploreSweep, APointWhoseChipBreaksTheChipsOwnRulesIsRefusedAtItsValue) {
  const std::string path = write_sweep("sram.yaml", "version: 1\n"
                                                    "grid:\n"
                                                    "  chip.core.crossbar.axons: [256,\n"
                                                    "                            512]\n");
  try {
    load_sweep(path);
    FAIL() << "a chip whose SRAM cannot hold its crossbar was accepted";
  } catch (const ConfigError& e) {
    ASSERT_GE(e.problems().size(), 1u) << e.what();
    for (const ConfigProblem& p : e.problems()) EXPECT_EQ(p.line, 4) << e.what();
    EXPECT_NE(e.problems()[0].message.find("point 1 (chip.core.crossbar.axons=512): its chip is invalid: "
                                           "core.synapse_sram.size_bytes: 65536 bytes cannot hold"),
              std::string::npos)
        << e.what();
  }
}

TEST(ExploreSweep, AChipProblemIsReportedOnceAtTheValueItNamesWithEveryPointItBreaks) {
  const std::string path = write_sweep("buffers.yaml", "version: 1\n"
                                                       "grid:\n"
                                                       "  chip.clock_frequency_mhz: [250, 500]\n"
                                                       "  chip.router.input_buffer_depth_flits: [16, 32]\n");
  try {
    load_sweep(path);
    FAIL() << "input buffers deeper than the branch buffers were accepted";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.problems().size(), 1u) << e.what();
    EXPECT_EQ(e.problems()[0].line, 4) << e.what();
    EXPECT_EQ(e.problems()[0].column, 46) << e.what();
    EXPECT_NE(e.problems()[0].message.find("points 1, 3 (2 points, the first chip.clock_frequency_mhz=250 "
                                           "chip.router.input_buffer_depth_flits=32): their chip is invalid: "
                                           "router.multicast_branch_buffer_flits: 16 flits is less than an input buffer"),
              std::string::npos)
        << e.what();
  }
}

TEST(ExplorePoint, TheCacheKeyChangesWithWhatChangesTheResultAndOnlyThen) {
  const std::string a = write_sweep("key_a.yaml", "version: 1\nrun: {tokens: 2}\ngrid: {chip.mesh.rows: [4, 8]}\n");
  const std::string b = write_sweep("key_b.yaml", "version: 1\nrun: {tokens: 2}\ngrid: {chip.mesh.rows: [8, 2]}\n");
  const std::string c = write_sweep("key_c.yaml", "version: 1\nrun: {tokens: 3}\ngrid: {chip.mesh.rows: [8]}\n");
  const auto pa = plan_points(load_sweep(a), "out", "1.0");
  const auto pb = plan_points(load_sweep(b), "out", "1.0");
  const auto pc = plan_points(load_sweep(c), "out", "1.0");
  EXPECT_NE(pa[0].hash, pa[1].hash);
  EXPECT_EQ(pa[1].hash, pb[0].hash);  // the same point in another sweep file: the same result
  EXPECT_EQ(pa[1].dir, pb[0].dir);
  EXPECT_NE(pb[0].hash, pc[0].hash);  // more tokens
  EXPECT_NE(pa[1].hash, plan_points(load_sweep(a), "out", "1.1")[1].hash);  // another spiketile
  // A file counts by its bytes: the shipped H100 named or given by its path is the same point.
  const std::string d = write_sweep("key_d.yaml", "version: 1\nrun: {tokens: 2, gpu: " + std::string(SPIKETILE_SOURCE_DIR) +
                                                      "/chips/gpu/h100.yaml}\ngrid: {chip.mesh.rows: [4]}\n");
  EXPECT_EQ(plan_points(load_sweep(d), "out", "1.0")[0].hash, pa[0].hash);
}

TEST(ExplorePoint, AFailedStepsErrorIsWhatItPrintedAfterItsName) {
  EXPECT_EQ(step_error("mapping...\nspiketile: the model does not fit\n  cores: need 49, have 16\n"),
            "the model does not fit\n  cores: need 49, have 16");
  EXPECT_EQ(step_error("spiketile: error: cannot write x\n"), "cannot write x");
  EXPECT_EQ(step_error("Segmentation fault\n\n"), "Segmentation fault");
}

}  // namespace
}  // namespace spiketile::explore
