// Chip descriptions and energy tables: the shipped files load; broken files are rejected with
// every problem at once, each at the right line; every energy number cites its source.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "chips/chip_spec.hpp"
#include "chips/core_area.hpp"
#include "chips/energy_table.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir{SPIKETILE_SOURCE_DIR};

using test_fixtures::read_text;

// A chip description with only the required keys; everything else takes schema defaults.
const char* const kMinimalChip = R"(version: 1
name: test-chip
clock_frequency_mhz: 500
mesh:
  rows: 2
  cols: 2
core:
  crossbar:
    axons: 16
    neurons: 16
  weight_bits: 8
  activation_bits: 8
  accumulator_bits: 24
  membrane_bits: 16
  synapse_sram:
    size_bytes: 256
  state_sram:
    size_bytes: 64
router:
  flit_bits: 32
)";

// 1-based line of the first line containing `needle` (fails the test if absent).
int line_of(const std::string& text, const std::string& needle) {
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (line.find(needle) != std::string::npos) return number;
  }
  ADD_FAILURE() << "'" << needle << "' not in the test text";
  return -1;
}

// `text` with the only occurrence of `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "ambiguous: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class ChipFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("spiketile_chip_") + info->test_suite_name() + "_" + info->name() + "_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  // The problems a broken chip description produces (none if it loads).
  std::vector<ConfigProblem> chip_problems(const std::string& text) {
    const std::string path = write("chip.yaml", text);
    try {
      load_chip_spec(path);
    } catch (const ChipSpecError& error) {
      EXPECT_NE(std::string(error.what()).find(path), std::string::npos);
      for (const ConfigProblem& problem : error.problems()) EXPECT_EQ(problem.file, path);
      return error.problems();
    }
    return {};
  }

  std::vector<ConfigProblem> energy_problems(const std::string& text) {
    try {
      load_energy_table(write("energy.yaml", text));
    } catch (const EnergyTableError& error) {
      return error.problems();
    }
    return {};
  }

  fs::path dir_;
};

std::string listing(const std::vector<ConfigProblem>& problems) {
  std::string text;
  for (const ConfigProblem& problem : problems) text += "\n  " + problem.to_string();
  return text.empty() ? " (none)" : text;
}

::testing::AssertionResult has_problem(const std::vector<ConfigProblem>& problems, int line,
                                       const std::string& fragment) {
  for (const ConfigProblem& problem : problems) {
    if (problem.line == line && problem.message.find(fragment) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no problem at line " << line << " containing \"" << fragment
                                       << "\"; got:" << listing(problems);
}

// ---------------------------------------------------------------------------------------------
// Shipped chips

TEST(ChipSpec, DefaultChipLoadsWithTheDocumentedNumbers) {
  const ChipSpec chip = load_chip_spec((kSourceDir / "chips/default.yaml").string());
  EXPECT_EQ(chip.name, "spiketile-default");
  EXPECT_DOUBLE_EQ(chip.clock_frequency_mhz, 500.0);
  EXPECT_DOUBLE_EQ(chip.clock_period_ns(), 2.0);
  EXPECT_EQ(chip.system.chip_count, 4);
  EXPECT_EQ(chip.system.topology.impl, "chain_1d");
  EXPECT_EQ(chip.system.topology.grid_rows, 1);
  EXPECT_EQ(chip.system.topology.grid_cols, 4);
  EXPECT_EQ(chip.mesh.rows, 8);
  EXPECT_EQ(chip.mesh.cols, 8);
  EXPECT_EQ(chip.cores_per_chip(), 64);
  EXPECT_EQ(chip.total_cores(), 256);
  EXPECT_EQ(chip.core.crossbar.axons, 256);
  EXPECT_EQ(chip.core.crossbar.neurons, 256);
  EXPECT_EQ(chip.crossbar_weight_capacity(), 65536);
  EXPECT_EQ(chip.crossbar_weight_bytes(), 65536);
  EXPECT_EQ(chip.synapse_bytes_per_core(), 65536);
  EXPECT_EQ(chip.core.weight_bits, 8);
  EXPECT_TRUE(chip.core.weight_signed);
  EXPECT_EQ(chip.core.activation_bits, 8);
  EXPECT_EQ(chip.core.accumulator_bits, 32);
  EXPECT_EQ(chip.core.membrane_bits, 16);
  EXPECT_EQ(chip.core.synapse_sram.access_width_bits, 256);
  EXPECT_EQ(chip.core.neuron_unit.lanes, 32);
  EXPECT_EQ(chip.core.sfu.units, 4);
  EXPECT_EQ(chip.router.input_buffer_depth_flits, 16);
  EXPECT_EQ(chip.core.state_sram.size_bytes, 8192);
  EXPECT_TRUE(chip.core.neuron_unit.supports("lif"));
  EXPECT_TRUE(chip.core.neuron_unit.supports("relu2"));
  EXPECT_TRUE(chip.core.neuron_unit.supports("identity"));
  EXPECT_FALSE(chip.core.neuron_unit.supports("relu"));
  for (const std::string& op : sfu_op_names()) EXPECT_TRUE(chip.core.sfu.supports(op)) << op;
  EXPECT_EQ(chip.core.sfu.ops.at("sigmoid").latency_cycles, 12);
  EXPECT_EQ(chip.router.ports, 5);
  EXPECT_EQ(chip.router.routing, "xy");
  EXPECT_EQ(chip.router.arbitration, "round_robin");
  EXPECT_EQ(chip.router.flit_bits, 32);

  // 1 kind + max(2 chip + 3 row + 3 col, 8 route id) + 8 axon + 8 payload.
  const EventPacketFormat packet = chip.event_packet_format();
  EXPECT_EQ(packet.address_bits(), 8);
  EXPECT_EQ(packet.route_id_bits, 8);
  EXPECT_EQ(packet.total_bits(), 25);
  EXPECT_EQ(chip.inter_chip_cycles_per_flit(), 4);
  EXPECT_EQ(chip.gateway_offsets(chip.mesh.rows), std::vector<int>{4});
  EXPECT_EQ(chip.power.gating, PowerGating::core);
  EXPECT_DOUBLE_EQ(chip.power.gated_static_fraction, 1.0 / 20);  // a 20× leakage reduction
}

// yaml-cpp leaks when handed a folder; the loader says what it is instead of asking it.
TEST(ChipSpec, AFolderIsNotAChipDescription) {
  try {
    load_chip_spec(::testing::TempDir());
    FAIL() << "no error";
  } catch (const ChipSpecError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read the file: it is a folder"), std::string::npos) << e.what();
  }
}

TEST(ChipSpec, LargeChipHoldsSpikeGpt216mAtInt8) {
  const ChipSpec chip = load_chip_spec((kSourceDir / "chips/large.yaml").string());
  EXPECT_EQ(chip.system.topology.impl, "grid_2d");
  EXPECT_EQ(chip.system.topology.grid_rows * chip.system.topology.grid_cols, chip.system.chip_count);
  EXPECT_EQ(chip.total_cores(), 4096);
  EXPECT_GE(chip.total_synapse_bytes(), 216'000'000);
  EXPECT_EQ(chip.event_packet_format().total_bits(), 29);
  EXPECT_EQ(chip.gateway_offsets(16), (std::vector<int>{1, 3, 5, 7, 9, 11, 13, 15}));
}

TEST(ChipSpec, TinyChipIsSmallAndTakesDefaults) {
  const ChipSpec chip = load_chip_spec((kSourceDir / "chips/tiny.yaml").string());
  EXPECT_EQ(chip.total_cores(), 4);
  EXPECT_EQ(chip.crossbar_weight_capacity(), 256);
  EXPECT_EQ(chip.router.routing, "xy");
  EXPECT_EQ(chip.router.input_buffer_depth_flits, 16);  // the schema default, as chips/default.yaml
  EXPECT_EQ(chip.system.inter_chip_link.latency_cycles, 20);
  EXPECT_EQ(chip.core.sfu.ops.at("exp").initiation_interval_cycles, 1);
  EXPECT_EQ(chip.power.gating, PowerGating::none);  // no power section: the default
}

// The shipped chips' policies as docs/chip.md states them, and every gated fraction with its source.
TEST(ChipSpec, ShippedPowerPoliciesCiteTheirGatedFraction) {
  EXPECT_EQ(load_chip_spec((kSourceDir / "chips/large.yaml").string()).power.gating, PowerGating::core);
  const std::regex fraction_line(R"(^\s*gated_static_fraction\s*:\s*([0-9.]+)\s*(#.*)?$)");
  int cited = 0;
  for (const char* name : {"default", "large", "tiny"}) {
    const ChipSpec chip = load_chip_spec((kSourceDir / "chips" / (std::string(name) + ".yaml")).string());
    std::istringstream lines(read_text(kSourceDir / "chips" / (std::string(name) + ".yaml")));
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (!std::regex_match(line, m, fraction_line)) continue;
      ++cited;
      EXPECT_DOUBLE_EQ(std::stod(m[1]), chip.power.gated_static_fraction) << name;
      EXPECT_NE(m[2].str().find("Tschanz et al., IEEE JSSC 38(11), 2003"), std::string::npos)
          << name << ": a gated fraction without its source: " << line;
    }
  }
  EXPECT_EQ(cited, 2);  // default and large; tiny takes gating none
}

TEST_F(ChipFiles, ChipMinimalDescriptionGetsSchemaDefaults) {
  const ChipSpec chip = load_chip_spec(write("chip.yaml", kMinimalChip));
  EXPECT_EQ(chip.system.chip_count, 1);
  EXPECT_EQ(chip.system.topology.impl, "chain_1d");
  EXPECT_EQ(chip.router.ports, 5);
  EXPECT_EQ(chip.router.routing, "xy");
  EXPECT_EQ(chip.router.arbitration, "round_robin");
  // The default chip's values where a crossbar of any size can take them; lanes stay at 16, which
  // the minimal chip's 16-neuron crossbar allows (the default chip sets 32).
  EXPECT_EQ(chip.core.synapse_sram.access_width_bits, 256);
  EXPECT_EQ(chip.core.neuron_unit.lanes, 16);
  EXPECT_EQ(chip.core.sfu.units, 4);
  EXPECT_EQ(chip.router.input_buffer_depth_flits, 16);
  EXPECT_EQ(chip.core.neuron_unit.functions, (std::vector<std::string>{"lif", "relu2", "identity"}));
  EXPECT_TRUE(chip.core.sfu.ops.empty()) << "no ops listed means none supported";
  EXPECT_TRUE(chip.core.weight_signed);
  EXPECT_EQ(chip.power.gating, PowerGating::none);
  EXPECT_DOUBLE_EQ(chip.power.gated_static_fraction, 1.0);
}

TEST_F(ChipFiles, ChipPowerSectionLoadsEveryPolicy) {
  for (PowerGating gating : kPowerGatings) {
    const std::string name = power_gating_name(gating);
    const std::string text = std::string(kMinimalChip) + "power:\n  gating: " +
                             (gating == PowerGating::none ? name : "{impl: " + name + ", gated_static_fraction: 0}") +
                             "\n";
    const ChipSpec chip = load_chip_spec(write("chip.yaml", text));
    EXPECT_EQ(chip.power.gating, gating) << name;
    EXPECT_DOUBLE_EQ(chip.power.gated_static_fraction, gating == PowerGating::none ? 1.0 : 0.0) << name;
    EXPECT_EQ(parse_power_gating(name), gating);
  }
  EXPECT_FALSE(parse_power_gating("cores").has_value());
  const std::string whole = std::string(kMinimalChip) + "power:\n  gating:\n    impl: chip\n    gated_static_fraction: 1\n";
  EXPECT_DOUBLE_EQ(load_chip_spec(write("chip.yaml", whole)).power.gated_static_fraction, 1.0);
}

TEST_F(ChipFiles, ChipPowerGatingProblemsNameTheirLines) {
  // A misspelt policy, with the nearest name and the list.
  const std::string misspelt = std::string(kMinimalChip) + "power:\n  gating: {impl: cores, gated_static_fraction: 0.05}\n";
  auto problems = chip_problems(misspelt);
  EXPECT_TRUE(has_problem(problems, line_of(misspelt, "gating:"),
                          "power.gating: unknown implementation 'cores' (did you mean 'core'?); known: none, chip, core"));
  EXPECT_EQ(problems.size(), 1u) << listing(problems);

  // Fractions outside [0, 1], reported together with an unrelated problem, each at its line.
  std::string above = std::string(kMinimalChip) + "power:\n  gating:\n    impl: core\n    gated_static_fraction: 1.5\n";
  above = replaced(above, "rows: 2", "rows: 0");
  problems = chip_problems(above);
  EXPECT_TRUE(has_problem(problems, line_of(above, "gated_static_fraction"),
                          "power.gating.gated_static_fraction: must be at most 1, got 1.5"));
  EXPECT_TRUE(has_problem(problems, line_of(above, "rows: 0"), "mesh.rows: must be at least 1, got 0"));
  EXPECT_EQ(problems.size(), 2u) << listing(problems);
  const std::string below = replaced(std::string(kMinimalChip) + "power:\n  gating:\n    impl: chip\n"
                                     "    gated_static_fraction: 1.5\n", "1.5", "-0.05");
  EXPECT_TRUE(has_problem(chip_problems(below), line_of(below, "gated_static_fraction"),
                          "power.gating.gated_static_fraction: must be at least 0, got -0.05"));
  const std::string text = replaced(below, "-0.05", "some");
  EXPECT_TRUE(has_problem(chip_problems(text), line_of(text, "gated_static_fraction"), "expected a number, got 'some'"));

  // A policy that gates must say what a gated tile draws; `none` gates nothing and takes no fraction.
  const std::string silent = std::string(kMinimalChip) + "power:\n  gating: core\n";
  EXPECT_TRUE(has_problem(chip_problems(silent), line_of(silent, "gating:"),
                          "missing required key 'gated_static_fraction' in power.gating (implementation 'core')"));
  const std::string needless = std::string(kMinimalChip) + "power:\n  gating: {impl: none, gated_static_fraction: 0.05}\n";
  EXPECT_TRUE(has_problem(chip_problems(needless), line_of(needless, "gating:"),
                          "unknown key 'gated_static_fraction' in power.gating (implementation 'none')"));
  const std::string typo = std::string(kMinimalChip) + "power:\n  gatting: core\n";
  EXPECT_TRUE(has_problem(chip_problems(typo), line_of(typo, "gatting:"),
                          "unknown key 'gatting' in power (did you mean 'gating'?)"));
}

// ---------------------------------------------------------------------------------------------
// Broken chip descriptions

TEST_F(ChipFiles, ChipWrongTypeNamesValueAndLine) {
  const std::string text = replaced(kMinimalChip, "axons: 16", "axons: abc");
  auto problems = chip_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "axons:"), "core.crossbar.axons: expected an integer, got 'abc'"));
  EXPECT_EQ(problems.size(), 1u) << listing(problems);  // the consistency rules using axons stay quiet

  const std::string mapping = replaced(kMinimalChip, "clock_frequency_mhz: 500", "clock_frequency_mhz: [500]");
  EXPECT_TRUE(has_problem(chip_problems(mapping), 3, "expected a number, got a list"));

  const std::string boolean = replaced(kMinimalChip, "  weight_bits: 8", "  weight_bits: 8\n  weight_signed: yes");
  EXPECT_TRUE(has_problem(chip_problems(boolean), line_of(boolean, "weight_signed"), "expected true or false"));
}

TEST_F(ChipFiles, ChipNegativeAndZeroSizesAreOutOfRange) {
  std::string text = replaced(kMinimalChip, "size_bytes: 256", "size_bytes: -5");
  text = replaced(text, "rows: 2", "rows: 0");
  auto problems = chip_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "size_bytes: -5"),
                          "core.synapse_sram.size_bytes: must be at least 1, got -5"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "rows: 0"), "mesh.rows: must be at least 1, got 0"));
}

TEST_F(ChipFiles, ChipMissingKeyIsReportedAtItsParentMapping) {
  const std::string text = replaced(kMinimalChip, "    axons: 16\n", "");
  EXPECT_TRUE(has_problem(chip_problems(text), line_of(text, "crossbar:"),
                          "missing required key 'axons' in core.crossbar"));
}

TEST_F(ChipFiles, ChipMissingSectionIsReportedOnce) {
  const std::string text = replaced(kMinimalChip, "router:\n  flit_bits: 32\n", "");
  auto problems = chip_problems(text);
  EXPECT_TRUE(has_problem(problems, 1, "missing required section 'router' at the top level"));
  EXPECT_EQ(problems.size(), 1u) << listing(problems);
}

TEST_F(ChipFiles, ChipUnknownKeySuggestsTheNearestKnownKey) {
  const std::string text = replaced(kMinimalChip, "axons: 16", "axon: 16");
  auto problems = chip_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "axon:"),
                          "unknown key 'axon' in core.crossbar (did you mean 'axons'?)"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "crossbar:"), "missing required key 'axons'"));

  const std::string far_off = replaced(kMinimalChip, "name: test-chip", "name: test-chip\ncolour: blue");
  EXPECT_TRUE(has_problem(chip_problems(far_off), 3, "unknown key 'colour' at the top level (expected one of:"));
}

TEST_F(ChipFiles, ChipDuplicateKeyIsReported) {
  const std::string text = replaced(kMinimalChip, "  rows: 2\n", "  rows: 2\n  rows: 4\n");
  EXPECT_TRUE(has_problem(chip_problems(text), line_of(text, "rows: 4"),
                          "duplicate key 'rows' in mesh (first given on line 5)"));
}

TEST_F(ChipFiles, ChipUnknownImplementationNamesAreRejected) {
  std::string text = replaced(kMinimalChip, "  flit_bits: 32\n", "  flit_bits: 32\n  routing: {impl: xyy}\n");
  text = replaced(text, "  membrane_bits: 16\n",
                  "  membrane_bits: 16\n  neuron_unit:\n    functions: [lif, relu3]\n");
  auto problems = chip_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "routing:"),
                          "router.routing: unknown implementation 'xyy' (did you mean 'xy'?); known: xy, yx"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "functions:"),
                          "core.neuron_unit.functions: unknown implementation 'relu3' (did you mean 'relu2'?)"));
}

TEST_F(ChipFiles, ChipImplementationParametersAreChecked) {
  const std::string grid = replaced(kMinimalChip, "name: test-chip",
                                    "name: test-chip\nsystem:\n  chip_count: 4\n  topology: {impl: grid_2d, rows: 2, "
                                    "colls: 3}");
  auto problems = chip_problems(grid);
  const int line = line_of(grid, "topology:");
  EXPECT_TRUE(has_problem(problems, line, "unknown key 'colls' in system.topology (implementation 'grid_2d') "
                                          "(did you mean 'cols'?)"));
  EXPECT_TRUE(has_problem(problems, line, "missing required key 'cols' in system.topology"));

  const std::string mismatch = replaced(grid, "colls: 3", "cols: 3");
  EXPECT_TRUE(has_problem(chip_problems(mismatch), line,
                          "a 2 × 3 chip grid holds 6 chips but system.chip_count is 4"));
}

TEST_F(ChipFiles, ChipSramTooSmallForTheCrossbar) {
  const std::string text = replaced(kMinimalChip, "size_bytes: 256", "size_bytes: 128");
  EXPECT_TRUE(has_problem(chip_problems(text), line_of(text, "size_bytes: 128"),
                          "cannot hold the crossbar's weights: 16 axons × 16 neurons × 8 bits / 8 = 256 bytes"));
}

TEST_F(ChipFiles, ChipInconsistentWidthsAreReported) {
  std::string text = replaced(kMinimalChip, "accumulator_bits: 24", "accumulator_bits: 12");
  auto problems = chip_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "accumulator_bits"),
                          "needs 8 + 8 + ceil(log2(16)) = 20 bits"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "membrane_bits"),
                          "core.membrane_bits: 16 bits is wider than core.accumulator_bits (12)"));

  const std::string narrow_flit = replaced(kMinimalChip, "flit_bits: 32", "flit_bits: 16");
  EXPECT_TRUE(has_problem(chip_problems(narrow_flit), line_of(narrow_flit, "flit_bits"),
                          "router.flit_bits: 16 bits cannot carry an event packet of 21 bits"));

  const std::string ragged_read = replaced(kMinimalChip, "size_bytes: 256", "size_bytes: 256\n    read_width_bits: 12");
  EXPECT_TRUE(has_problem(chip_problems(ragged_read), line_of(ragged_read, "read_width_bits"),
                          "is not a multiple of core.weight_bits (8)"));
}

TEST_F(ChipFiles, ChipRouterStructureIsChecked) {
  std::string text = replaced(kMinimalChip, "  flit_bits: 32\n",
                              "  flit_bits: 32\n  ports: 4\n  input_buffer_depth_flits: 0\n");
  auto problems = chip_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "ports:"), "a 2D mesh router has 5 ports"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "input_buffer_depth_flits"), "must be at least 1, got 0"));
}

// A burst bit joins every event packet once bursts are on, so the 21-bit packet of the minimal
// chip needs 22 bits; without bursts 21-bit flits are enough.
TEST_F(ChipFiles, ChipBurstsNeedRoomForTheBurstBit) {
  const std::string exact = replaced(kMinimalChip, "flit_bits: 32", "flit_bits: 21");
  EXPECT_TRUE(chip_problems(exact).empty()) << listing(chip_problems(exact));
  const std::string bursting = replaced(exact, "  flit_bits: 21\n", "  flit_bits: 21\n  max_burst_events: 8\n");
  EXPECT_TRUE(has_problem(chip_problems(bursting), line_of(bursting, "max_burst_events"),
                          "router.max_burst_events: bursts add a burst bit to every event packet, which then needs "
                          "22 bits, more than router.flit_bits = 21"));
  const std::string wide = replaced(kMinimalChip, "  flit_bits: 32\n", "  flit_bits: 32\n  max_burst_events: 256\n");
  EXPECT_TRUE(has_problem(chip_problems(wide), line_of(wide, "max_burst_events"), "at most 255"));
}

// A packet moves whole from buffer to buffer: a chip whose input buffers cannot hold its widest
// packet (a partial sum: 13 header + 24 accumulator bits, 2 flits of 32) is refused where it is
// described, not left to stall the simulator.
TEST_F(ChipFiles, ChipBuffersHoldTheWidestPacket) {
  const std::string one = replaced(kMinimalChip, "  flit_bits: 32\n", "  flit_bits: 32\n  input_buffer_depth_flits: 1\n");
  EXPECT_TRUE(has_problem(chip_problems(one), line_of(one, "input_buffer_depth_flits"),
                          "router.input_buffer_depth_flits: 1 flit cannot hold the widest event packet, a partial sum "
                          "of up to core.accumulator_bits = 24 bits, which takes 2 flits of 32 bits"));
  const std::string two = replaced(kMinimalChip, "  flit_bits: 32\n", "  flit_bits: 32\n  input_buffer_depth_flits: 2\n");
  EXPECT_TRUE(chip_problems(two).empty()) << listing(chip_problems(two));
}

// A multicast branch moves whole into an output's branch buffer, so the buffer holds anything an
// input buffer does; 0 turns branch buffers off.
TEST_F(ChipFiles, BranchBuffersHoldWhatAnInputBufferHolds) {
  auto with = [](const std::string& lines) {
    return replaced(kMinimalChip, "  flit_bits: 32\n", "  flit_bits: 32\n" + lines);
  };
  const std::string narrow = with("  input_buffer_depth_flits: 8\n  multicast_branch_buffer_flits: 4\n");
  EXPECT_TRUE(has_problem(chip_problems(narrow), line_of(narrow, "multicast_branch_buffer_flits"),
                          "router.multicast_branch_buffer_flits: 4 flits is less than an input buffer "
                          "(router.input_buffer_depth_flits = 8)"));
  for (const std::string ok : {"  input_buffer_depth_flits: 8\n  multicast_branch_buffer_flits: 0\n",
                               "  input_buffer_depth_flits: 8\n  multicast_branch_buffer_flits: 8\n"})
    EXPECT_TRUE(chip_problems(with(ok)).empty()) << listing(chip_problems(with(ok)));
  const std::string negative = with("  multicast_branch_buffer_flits: -1\n");
  EXPECT_FALSE(chip_problems(negative).empty());
}

// Names end up in JSON and HTML: a chip whose name is not UTF-8 is refused at its line. A file
// that is not a chip description at all is described, never reproduced, in the message.
TEST_F(ChipFiles, ChipTextIsUtf8AndNotEchoed) {
  const std::string bad_name = replaced(kMinimalChip, "name: ", "name: bad\xff");
  EXPECT_TRUE(has_problem(chip_problems(bad_name), line_of(bad_name, "name: "), "name: is not valid UTF-8"));
  const std::string secret(200, 'x');
  const auto problems = chip_problems("secret: " + secret + "\n" + secret + " more\n");
  ASSERT_FALSE(problems.empty());
  for (const auto& p : problems) EXPECT_EQ(p.message.find("xxxxxxxxxx"), std::string::npos) << p.message;
  const auto text = chip_problems(secret + "\n" + secret + "\n");
  EXPECT_TRUE(has_problem(text, 1, "the file: expected a mapping of keys, got a text of 401 characters"));
}

TEST_F(ChipFiles, ChipSfuOperationsAreValidated) {
  const std::string text = replaced(kMinimalChip, "  membrane_bits: 16\n",
                                    "  membrane_bits: 16\n  sfu:\n    ops:\n      expp: {latency_cycles: 4}\n"
                                    "      divide: {latency_cycles: 2, initiation_interval_cycles: 3}\n"
                                    "      sigmoid: {initiation_interval_cycles: 1}\n");
  auto problems = chip_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "expp"), "unknown key 'expp' in core.sfu.ops (did you mean 'exp'?)"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "divide"), "exceeds its latency_cycles (2)"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "sigmoid"),
                          "missing required key 'latency_cycles' in core.sfu.ops.sigmoid"));
}

TEST_F(ChipFiles, ChipSeveralProblemsAreReportedTogetherInLineOrder) {
  std::string text = replaced(kMinimalChip, "version: 1", "version: 2");
  text = replaced(text, "neurons: 16", "nuerons: 16");
  text = replaced(text, "flit_bits: 32", "flit_bits: lots");
  text = replaced(text, "membrane_bits: 16", "membrane_bits: 40");
  const std::string path = write("chip.yaml", text);
  try {
    load_chip_spec(path);
    FAIL() << "expected a ChipSpecError";
  } catch (const ChipSpecError& error) {
    const auto& problems = error.problems();
    EXPECT_TRUE(has_problem(problems, 1, "unsupported chip description version 2"));
    EXPECT_TRUE(has_problem(problems, line_of(text, "nuerons"), "did you mean 'neurons'?"));
    EXPECT_TRUE(has_problem(problems, line_of(text, "crossbar:"), "missing required key 'neurons'"));
    EXPECT_TRUE(has_problem(problems, line_of(text, "flit_bits"), "expected an integer, got 'lots'"));
    EXPECT_TRUE(has_problem(problems, line_of(text, "membrane_bits"), "wider than core.accumulator_bits"));
    EXPECT_EQ(problems.size(), 5u) << listing(problems);
    for (std::size_t i = 1; i < problems.size(); ++i) EXPECT_LE(problems[i - 1].line, problems[i].line);
    const std::string what = error.what();
    EXPECT_NE(what.find("(5 problems)"), std::string::npos) << what;
    EXPECT_NE(what.find(path + ":" + std::to_string(line_of(text, "flit_bits")) + ":"), std::string::npos) << what;
  }
}

TEST_F(ChipFiles, ChipUnreadableFilesAreReportedWithTheirName) {
  EXPECT_TRUE(has_problem(chip_problems("version: 1\nmesh: [rows: 2\n"), 3, "YAML syntax error"));
  EXPECT_TRUE(has_problem(chip_problems(""), 1, "the file is empty"));
  EXPECT_TRUE(has_problem(chip_problems("- 1\n- 2\n"), 1, "expected a mapping of keys, got a list"));
  const std::string missing = (dir_ / "no-such-chip.yaml").string();
  try {
    load_chip_spec(missing);
    FAIL() << "expected a ChipSpecError";
  } catch (const ChipSpecError& error) {
    EXPECT_NE(std::string(error.what()).find(missing + ": cannot open the file"), std::string::npos) << error.what();
  }
  EXPECT_THROW(load_chip_spec(dir_.string()), ChipSpecError);  // a directory, not a file
}

// ---------------------------------------------------------------------------------------------
// Self-description

TEST(ChipSpec, SchemaDefaultsMatchTheShippedDefaultChip) {
  // The schema's defaults are documented as the default chip's values; keep them in step.
  const ChipSpec shipped = load_chip_spec((kSourceDir / "chips/default.yaml").string());
  const ChipSpec tiny = load_chip_spec((kSourceDir / "chips/tiny.yaml").string());
  EXPECT_EQ(tiny.router.input_buffer_depth_flits, shipped.router.input_buffer_depth_flits);
  EXPECT_EQ(tiny.router.pipeline_latency_cycles, shipped.router.pipeline_latency_cycles);
  EXPECT_EQ(tiny.core.synapse_sram.access_width_bits, shipped.core.synapse_sram.access_width_bits);
  EXPECT_EQ(tiny.core.axon_input_queue_depth, shipped.core.axon_input_queue_depth);
  EXPECT_EQ(tiny.core.sfu.operand_bits, shipped.core.sfu.operand_bits);
  EXPECT_EQ(tiny.system.inter_chip_link.bandwidth_bits_per_cycle, shipped.system.inter_chip_link.bandwidth_bits_per_cycle);
  EXPECT_EQ(tiny.mesh.link.latency_cycles, shipped.mesh.link.latency_cycles);
  EXPECT_EQ(tiny.core.neuron_unit.functions, shipped.core.neuron_unit.functions);
}

TEST(ChipSpec, DescribeListsEverySectionAndParameter) {
  const std::string text = describe_chip_spec();
  for (const config::SectionSpec& section : chip_spec_schema()) {
    if (!section.path.empty()) {
      EXPECT_NE(text.find("`" + section.path + "`"), std::string::npos) << section.path;
    }
    for (const config::ParamSpec& param : section.params) {
      EXPECT_NE(text.find("`" + param.key + "`"), std::string::npos) << param.key;
      EXPECT_FALSE(param.description.empty()) << section.path << "." << param.key;
    }
  }
  EXPECT_NE(text.find("`grid_2d`"), std::string::npos);
  EXPECT_NE(text.find("| `axons` | integer | axons | required |"), std::string::npos) << text;
}

// docs/chip.md embeds the rendered schemas; SPIKETILE_UPDATE_DOCS=1 rewrites that block.
TEST(ChipSpec, DocsEmbedTheCurrentSchemaReference) {
  const fs::path docs = kSourceDir / "docs/chip.md";
  const std::string begin_marker = "<!-- BEGIN GENERATED: schema reference (tests/unit/test_chip_spec.cpp) -->";
  const std::string end_marker = "<!-- END GENERATED: schema reference -->";
  const std::string generated = begin_marker + "\n\n### Chip description (`chips/*.yaml`)\n\n" + describe_chip_spec() +
                                "### Energy table (`chips/energy/*.yaml`)\n\n" + describe_energy_table() + end_marker;
  std::string text = read_text(docs);
  const std::size_t begin = text.find(begin_marker), end = text.find(end_marker);
  ASSERT_NE(begin, std::string::npos) << docs;
  ASSERT_NE(end, std::string::npos) << docs;
  const std::string current = text.substr(begin, end + end_marker.size() - begin);
  if (current != generated && std::getenv("SPIKETILE_UPDATE_DOCS")) {
    text.replace(begin, current.size(), generated);
    std::ofstream(docs) << text;
    return;
  }
  EXPECT_EQ(current, generated) << "docs/chip.md is out of date; rerun this test with SPIKETILE_UPDATE_DOCS=1";
}

// ---------------------------------------------------------------------------------------------
// Energy tables

std::vector<fs::path> shipped_energy_tables() {
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(kSourceDir / "chips/energy")) {
    if (entry.path().extension() == ".yaml") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

TEST(EnergyTable, ShippedTablesLoadAndPriceEveryAction) {
  const auto paths = shipped_energy_tables();
  ASSERT_EQ(paths.size(), 3u);
  for (const fs::path& path : paths) {
    const EnergyTable table = load_energy_table(path.string());
    EXPECT_EQ(table.name, path.stem().string());
    for (const std::string& action : energy_action_names()) {
      EXPECT_TRUE(table.has_action(action)) << path << " " << action;
      EXPECT_GE(table.energy_pj(action), 0.0);
    }
  }
}

TEST(EnergyTable, ShippedNumbersMatchTheirSources) {
  const EnergyTable horowitz = load_energy_table((kSourceDir / "chips/energy/45nm-horowitz.yaml").string());
  EXPECT_DOUBLE_EQ(horowitz.energy_pj("synaptic_op.binary"), 0.9);  // E_AC
  EXPECT_DOUBLE_EQ(horowitz.energy_pj("synaptic_op.graded"), 4.6);  // E_MAC
  EXPECT_DOUBLE_EQ(horowitz.reference_primitives_pj.at("int8_add"), 0.03);
  EXPECT_DOUBLE_EQ(horowitz.reference_primitives_pj.at("int32_mult"), 3.1);
  EXPECT_DOUBLE_EQ(horowitz.reference_primitives_pj.at("dram_read_64b_high"), 2600.0);

  const EnergyTable loihi = load_energy_table((kSourceDir / "chips/energy/loihi.yaml").string());
  EXPECT_DOUBLE_EQ(loihi.energy_pj("synaptic_op.binary"), 35.5);
  EXPECT_DOUBLE_EQ(loihi.energy_pj("neuron_update.lif"), 72.8);
  EXPECT_DOUBLE_EQ(loihi.energy_pj("core.event_out"), 76.8);
  EXPECT_DOUBLE_EQ(loihi.energy_pj("router.flit_hop"), (3.0 + 4.2) / 2);

  const EnergyTable table = load_energy_table((kSourceDir / "chips/energy/default.yaml").string());
  EXPECT_DOUBLE_EQ(table.energy_pj("synaptic_op.binary"), 0.1);   // int32 add
  EXPECT_DOUBLE_EQ(table.energy_pj("synaptic_op.graded"), 0.3);   // int8 mult + int32 add
  // A 256-bit read as four 64-bit reads (A6), each on Horowitz's power law in capacity (A2).
  EXPECT_NEAR(table.energy_pj("sram.synapse_read"), 4 * 20.0 * std::pow(2.0, std::log(5.0) / std::log(32.0)), 0.01);
  EXPECT_NEAR(table.static_power_mw_per_core, 65.0 / 4096 * 9, 0.001);
}

TEST(EnergyTable, DefaultTableMatchesTheDefaultChipOnly) {
  const EnergyTable table = load_energy_table((kSourceDir / "chips/energy/default.yaml").string());
  const ChipSpec chip = load_chip_spec((kSourceDir / "chips/default.yaml").string());
  EXPECT_TRUE(energy_table_compatibility_warnings(table, chip).empty());
  const ChipSpec large = load_chip_spec((kSourceDir / "chips/large.yaml").string());
  EXPECT_TRUE(energy_table_compatibility_warnings(table, large).empty());
  const ChipSpec tiny = load_chip_spec((kSourceDir / "chips/tiny.yaml").string());
  const auto warnings = energy_table_compatibility_warnings(table, tiny);
  const std::string expected = "energy table 'default' was derived for synapse_sram_bytes = 65536, but chip "
                               "'spiketile-tiny' has 256";
  EXPECT_NE(std::find(warnings.begin(), warnings.end(), expected), warnings.end());
  EXPECT_EQ(warnings.size(), 3u);  // accumulator_bits, synapse_sram_bytes, state_sram_bytes
}

TEST(EnergyTable, MissingActionNamesTheActionAndTheTable) {
  const EnergyTable table = load_energy_table((kSourceDir / "chips/energy/default.yaml").string());
  try {
    table.energy_pj("synaptic_op.binray");
    FAIL() << "expected an EnergyTableError";
  } catch (const EnergyTableError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("energy table 'default'"), std::string::npos) << what;
    EXPECT_NE(what.find("no action 'synaptic_op.binray' (did you mean 'synaptic_op.binary'?)"), std::string::npos)
        << what;
  }
}

TEST_F(ChipFiles, EnergyTableProblemsAreReportedTogether) {
  std::string text = read_text(kSourceDir / "chips/energy/default.yaml");
  text = replaced(text, "    graded: 0.3 ", "    gradd: 0.3 ");
  text = replaced(text, "    lif: 0.15 ", "    lif: -0.15 ");
  text = replaced(text, "    exp: 12.7 ", "    exp: cheap ");
  auto problems = energy_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "gradd:"),
                          "unknown key 'gradd' in energy_pj.synaptic_op (did you mean 'graded'?)"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "  synaptic_op:"),
                          "missing required key 'graded' in energy_pj.synaptic_op"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "lif: -0.15"), "energy_pj.neuron_update.lif: must be at least 0"));
  EXPECT_TRUE(has_problem(problems, line_of(text, "exp: cheap"), "expected a number, got 'cheap'"));
  EXPECT_EQ(problems.size(), 4u) << listing(problems);
}

// An energy table's name reaches the report's JSON and HTML as the chip's does: one that is not
// UTF-8 is refused at its line, not left for the JSON library to fail on naming no file.
TEST_F(ChipFiles, EnergyTableTextIsUtf8) {
  const std::string text = replaced(read_text(kSourceDir / "chips/energy/default.yaml"), "name: default", "name: \xc0\xaf");
  const auto problems = energy_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "name: "), "name: is not valid UTF-8")) << listing(problems);
}

// Where sources disagree a table gives low and high ends around an action's value; an end on the
// wrong side of the value, or one for an action that does not exist, is refused at its line.
TEST_F(ChipFiles, EnergyRangesSurroundTheirValue) {
  const EnergyTable loihi = load_energy_table((kSourceDir / "chips/energy/loihi.yaml").string());
  EXPECT_DOUBLE_EQ(loihi.low_pj.at("synaptic_op.binary"), 21.1);   // SANA-FE's commented alternative
  EXPECT_DOUBLE_EQ(loihi.high_pj.at("neuron_update.lif"), 81.0);   // KerasSpiking's per-update figure
  EXPECT_EQ(loihi.high_pj.count("synaptic_op.binary"), 0u);
  const EnergyTable low = loihi.at_low_end(), high = loihi.at_high_end();
  EXPECT_DOUBLE_EQ(low.energy_pj("synaptic_op.binary"), 21.1);
  EXPECT_DOUBLE_EQ(high.energy_pj("synaptic_op.binary"), 35.5);    // no high end stated: the value
  EXPECT_DOUBLE_EQ(high.energy_pj("router.flit_hop"), 4.2);
  EXPECT_DOUBLE_EQ(low.energy_pj("router.flit_delivery"), 0.0);
  EXPECT_FALSE(low.has_ranges());

  std::string text = read_text(kSourceDir / "chips/energy/default.yaml");
  text = replaced(text, "    flit_hop: 9.6 ", "    flit_hop: 12.0 ");
  text = replaced(text, "    flit_hop: 13.5 ", "    flit_hop: 10.0 ");
  text = replaced(text, "    flit_delivery: 0.0 ", "    flit_delivry: 0.0 ");
  const auto problems = energy_problems(text);
  EXPECT_TRUE(has_problem(problems, line_of(text, "flit_hop: 12.0"),
                          "low_pj.router.flit_hop: 12 pJ is above the action's energy_pj (11.6 pJ); a range's low end "
                          "must not be"))
      << listing(problems);
  EXPECT_TRUE(has_problem(problems, line_of(text, "flit_hop: 10.0"),
                          "high_pj.router.flit_hop: 10 pJ is below the action's energy_pj (11.6 pJ); a range's high "
                          "end must not be"))
      << listing(problems);
  EXPECT_TRUE(has_problem(problems, line_of(text, "flit_delivry:"),
                          "unknown key 'flit_delivry' in low_pj.router (did you mean 'flit_delivery'?)"))
      << listing(problems);
  EXPECT_EQ(problems.size(), 3u) << listing(problems);
}

TEST_F(ChipFiles, EnergyTableMissingSectionAndStaticPower) {
  const std::string text = "version: 1\nname: bare\ntechnology: none\n";
  auto problems = energy_problems(text);
  EXPECT_TRUE(has_problem(problems, 1, "missing required key 'static_power_mw_per_core' at the top level"));
  EXPECT_TRUE(has_problem(problems, 1, "missing required section 'energy_pj' at the top level"));
}

// yaml-cpp drops comments, so the "every number cites its source" rule is checked on the text.
TEST(EnergyTable, EveryNumberCarriesASourceComment) {
  const std::regex numeric_entry(R"(^\s*(-\s*|[A-Za-z0-9_.]+\s*:\s*)[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*(#.*)?$)");
  for (const fs::path& path : shipped_energy_tables()) {
    std::istringstream lines(read_text(path));
    std::string line;
    int numeric_lines = 0;
    for (int number = 1; std::getline(lines, line); ++number) {
      std::smatch match;
      if (!std::regex_match(line, match, numeric_entry)) continue;
      ++numeric_lines;
      const std::string comment = match[4].str();
      EXPECT_GT(comment.size(), 3u) << path.string() << ":" << number << ": a number without a source comment: "
                                    << line;
    }
    EXPECT_GE(numeric_lines, static_cast<int>(energy_action_names().size()) + 1) << path;
  }
}

TEST(EnergyTable, DescribeExplainsEveryAction) {
  const std::string text = describe_energy_table();
  for (const std::string& action : energy_action_names()) {
    const std::string key = action.substr(action.find('.') + 1);
    EXPECT_NE(text.find("| `" + key + "` | number | pJ | required |"), std::string::npos) << action;
  }
  EXPECT_NE(text.find("`static_power_mw_per_core` | number | mW"), std::string::npos);
}

}  // namespace
}  // namespace spiketile

namespace spiketile {
namespace {

// The area proxy reproduces the two syntheses it is fitted to (rtl/README.md: the default core
// 575,650 cells and 57,217 flip-flops, the small one 63,176 and 2,853) and refuses widths it was
// not calibrated at rather than extrapolate.
TEST(CoreAreaProxy, ReproducesTheSynthesizedCoresAndRefusesOtherWidths) {
  const fs::path chips = kSourceDir / "chips";
  ChipSpec chip = load_chip_spec((chips / "default.yaml").string());
  const auto area = core_area_proxy(chip);
  ASSERT_TRUE(area.has_value());
  EXPECT_NEAR(double(area->logic_cells), 575650.0, 2.0);
  EXPECT_NEAR(double(area->flip_flops), 57217.0, 2.0);
  EXPECT_EQ(area->synapse_sram_bits, 256 * 256 * 8);
  chip.core.neuron_unit.lanes = 4;
  chip.core.crossbar.neurons = 8;
  chip.core.crossbar.axons = 16;
  const auto small = core_area_proxy(chip);
  ASSERT_TRUE(small.has_value());
  EXPECT_NEAR(double(small->logic_cells), 63176.0, 2.0);
  EXPECT_NEAR(double(small->flip_flops), 2853.0, 2.0);
  EXPECT_EQ(small->synapse_sram_bits, 1024);
  std::string why;
  EXPECT_FALSE(core_area_proxy(load_chip_spec((chips / "tiny.yaml").string()), &why).has_value());
  EXPECT_EQ(why, "core.accumulator_bits is 24 bits, the synthesis that calibrates it used 32");
}

}  // namespace
}  // namespace spiketile
