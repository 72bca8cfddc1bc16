// spiketile simulate --rtl end to end: the shipped model compiled on the default chip, simulated
// with every crossbar core on the verilated neuron core, prints the same text and writes the same
// logits as the plain simulation; the summary reports the RTL cores; a core the RTL cannot run
// is refused by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "cli_runner.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using testing_cli::Result;
using testing_cli::run_cli;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// stdout only (the generated text): the summary on stderr differs by design.
Result simulate(const fs::path& map, const fs::path& logits, const std::string& extra) {
  return testing_cli::run_shell("(SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 " + std::string(SPIKETILE_CLI) +
                                " simulate --map " + map.string() +
                                " --prompt-ids 3,20,41 -n 13 --temperature 0 --progress off --logits-out " +
                                logits.string() + " " + extra + " 2>" + logits.string() + ".err)");
}

TEST(CliSimulateRtl, EveryCrossbarCoreVerilatedPrintsTheSameTextAndLogits) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_cli_rtl_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path map = dir / "m.stmap";
  ASSERT_EQ(run_cli("compile -o " + map.string()).status, 0);
  const Result plain = simulate(map, dir / "plain.npy", "");
  const Result rtl = simulate(map, dir / "rtl.npy", "--rtl");
  ASSERT_EQ(plain.status, 0) << plain.output << read_bytes(dir / "plain.npy.err");
  ASSERT_EQ(rtl.status, 0) << rtl.output << read_bytes(dir / "rtl.npy.err");
  EXPECT_FALSE(plain.output.empty());
  EXPECT_EQ(plain.output, rtl.output);
  const std::string logits = read_bytes(dir / "plain.npy");
  EXPECT_GT(logits.size(), 16u * 4u);   // 16 steps of float32 logits, at least one per step
  EXPECT_EQ(logits, read_bytes(dir / "rtl.npy"));
  const std::string summary = read_bytes(dir / "rtl.npy.err");
  EXPECT_NE(summary.find("crossbar cores on the verilated backend (model default)"), std::string::npos) << summary;
  EXPECT_EQ(read_bytes(dir / "plain.npy.err").find("RTL in the loop"), std::string::npos);

  // The RTL runs crossbar cores only.
  const Result refused = simulate(map, dir / "x.npy", "--rtl L0.att.key[0,0],L0.residual[0]");
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(read_bytes(dir / "x.npy.err").find("a residual unit without a crossbar"), std::string::npos)
      << read_bytes(dir / "x.npy.err");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace spiketile
