// `mpirun -n N spiketile simulate` (sim/README.md, "Runs over MPI ranks") as a user runs it: the
// shipped model compiled onto chips/default.yaml (four chips) gives, for 1 to 4 ranks, the tokens,
// the logits byte for byte and the statistics of the one-process run; a mapping with fewer chips
// than ranks is refused; a rank that is killed, or hangs, ends the run with an error naming it.
// Label `mpi` (needs mpirun; the ranks oversubscribe the machine's cores).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/unit/cli_runner.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using testing_cli::run_cli;
using testing_cli::run_shell;

// Open MPI refuses root without these two; the ranks share the cores (no binding).
std::string mpirun(int ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -n " + std::to_string(ranks) +
         " --oversubscribe --bind-to none " + std::string(SPIKETILE_CLI) + " ";
}

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_mpi_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

// Every value of `a` equals `b`'s, except router activations: they count the kernel's process
// runs, which depend on the order in which a kernel runs the processes of one cycle, and that
// differs between a kernel holding every chip and one holding some (sim/README.md).
void expect_same_stats(const nlohmann::json& a, const nlohmann::json& b, const std::string& at, int& compared) {
  if (a.is_object()) {
    ASSERT_TRUE(b.is_object()) << at;
    for (const auto& [key, value] : a.items()) {
      if (key == "spec_path" || key.find("activations") != std::string::npos) continue;
      ASSERT_TRUE(b.contains(key)) << at << "." << key;
      expect_same_stats(value, b.at(key), at + "." + key, compared);
    }
    return;
  }
  if (a.is_array()) {
    ASSERT_TRUE(b.is_array()) << at;
    ASSERT_EQ(a.size(), b.size()) << at;
    for (std::size_t k = 0; k < a.size(); ++k) expect_same_stats(a[k], b[k], at + "[" + std::to_string(k) + "]", compared);
    return;
  }
  ++compared;
  EXPECT_EQ(a, b) << at;
}

const std::string kRun = " --prompt \"the meaning\" -n 6 --sample-seed 3 --progress off";

class MpiSimulate : public ::testing::TestWithParam<int> {};

TEST_P(MpiSimulate, GivesTheOneProcessRun) {
  const int ranks = GetParam();
  const fs::path dir = scratch("ranks" + std::to_string(ranks));
  const std::string map = (dir / "shipped.stmap").string();
  const auto compiled = run_cli("compile --chip " + std::string(SPIKETILE_REPO) + "/chips/default.yaml -o " + map);
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  auto outputs = [&](const std::string& name) {
    return " --stats " + (dir / (name + ".json")).string() + " --logits-out " + (dir / (name + ".logits.npy")).string() +
           " --spikes-out " + (dir / (name + ".spikes.npy")).string();
  };
  // Standard output apart: the generated text, which rank 0 alone prints.
  auto text = [&](const std::string& name) { return " > " + (dir / (name + ".txt")).string() + ")"; };
  const auto one = run_shell("(" + std::string(SPIKETILE_CLI) + " simulate --map " + map + kRun + outputs("one") + text("one"));
  ASSERT_EQ(one.status, 0) << one.output;
  const auto over = run_shell("(" + mpirun(ranks) + "simulate --map " + map + kRun + outputs("ranks") + text("ranks"));
  ASSERT_EQ(over.status, 0) << over.output;
  EXPECT_NE(over.output.find("over MPI: " + std::to_string(ranks) + " rank"), std::string::npos) << over.output;
  const std::string generated = read_bytes(dir / "one.txt");
  ASSERT_EQ(generated.rfind("the meaning", 0), 0u) << generated;
  EXPECT_EQ(generated, read_bytes(dir / "ranks.txt"));
  EXPECT_EQ(read_bytes(dir / "one.logits.npy"), read_bytes(dir / "ranks.logits.npy"));
  EXPECT_EQ(read_bytes(dir / "one.spikes.npy"), read_bytes(dir / "ranks.spikes.npy"));
  const auto a = nlohmann::json::parse(read_bytes(dir / "one.json"));
  const auto b = nlohmann::json::parse(read_bytes(dir / "ranks.json"));
  int compared = 0;
  expect_same_stats(a, b, "stats", compared);
  EXPECT_GT(compared, 10000);  // tokens, cycles per step, counts, every core and router counter
  EXPECT_GT(a.at("network").at("inter_chip_flits").get<int64_t>(), 0);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Ranks, MpiSimulate, ::testing::Values(1, 2, 3, 4),
                         [](const auto& info) { return std::to_string(info.param) + "Ranks"; });

// The 46M shape (L12 C512 V5458, random weights) on chips/large.yaml, compiled onto as few cores as
// fit: 716 units over seven of the sixteen chips, the busiest rank holding one chip.
class MpiSimulate46M : public ::testing::TestWithParam<int> {};

TEST_P(MpiSimulate46M, GivesTheOneProcessRun) {
  const int ranks = GetParam();
  const fs::path dir = scratch("m46_ranks" + std::to_string(ranks));
  const std::string model = (dir / "m46.safetensors").string(), map = (dir / "m46.stmap").string();
  const auto made = run_shell(std::string(SPIKETILE_MAKE_RANDOM_MODEL) + " --shape 12,512,5458 -o " + model);
  ASSERT_EQ(made.status, 0) << made.output;
  const auto compiled = run_cli("compile --model " + model + " --chip " + std::string(SPIKETILE_REPO) +
                                "/chips/large.yaml --objective cores --progress off -o " + map);
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  const std::string run = " --prompt-ids 11,22 -n 2 --temperature 0 --progress off";
  auto outputs = [&](const std::string& name) {
    return " --stats " + (dir / (name + ".json")).string() + " --logits-out " + (dir / (name + ".logits.npy")).string();
  };
  const auto one = run_cli("simulate --map " + map + run + outputs("one"));
  ASSERT_EQ(one.status, 0) << one.output;
  const auto over = run_shell(mpirun(ranks) + "simulate --map " + map + run + outputs("ranks"));
  ASSERT_EQ(over.status, 0) << over.output;
  EXPECT_EQ(read_bytes(dir / "one.logits.npy"), read_bytes(dir / "ranks.logits.npy"));
  const auto a = nlohmann::json::parse(read_bytes(dir / "one.json"));
  const auto b = nlohmann::json::parse(read_bytes(dir / "ranks.json"));
  EXPECT_GE(a.at("chip").at("chips").get<int>(), 16);
  int compared = 0;
  expect_same_stats(a, b, "stats", compared);
  EXPECT_GT(compared, 20000);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Ranks, MpiSimulate46M, ::testing::Values(1, 2, 3, 4),
                         [](const auto& info) { return std::to_string(info.param) + "Ranks"; });

// Every rank simulates whole chips: a NIR graph on one chip cannot be split.
TEST(MpiSimulateErrors, MoreRanksThanChipsIsRefused) {
  const fs::path dir = scratch("refused");
  const fs::path nir = fs::path(SPIKETILE_TEST_DATA) / "nir";
  const std::string graph = (nir / "braille_subtract.nir").string(), input = (nir / "braille_subtract.input.npy").string();
  const std::string map = (dir / "braille.stmap").string();
  const auto compiled = run_cli("compile --nir " + graph + " --dt 1e-4 --reset subtract --calibrate " + input + " -o " + map);
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  const auto over = run_shell(mpirun(2) + "simulate --map " + map + " --input " + input);
  EXPECT_NE(over.status, 0) << over.output;
  EXPECT_NE(over.output.find("2 ranks for a mapping whose units sit on 1 chip of 4"), std::string::npos) << over.output;
  EXPECT_NE(over.output.find("at most 1 rank can take part"), std::string::npos) << over.output;
  fs::remove_all(dir);
}

// Starts a long run over two ranks, does `signal` to rank 1 once both ranks are simulating, and
// returns mpirun's output and status.
testing_cli::Result signal_rank_one(const fs::path& dir, const std::string& signal, const std::string& extra) {
  const std::string map = (dir / "shipped.stmap").string();
  const auto compiled = run_cli("compile --chip " + std::string(SPIKETILE_REPO) + "/chips/default.yaml -o " + map);
  EXPECT_EQ(compiled.status, 0) << compiled.output;
  const std::string log = (dir / "mpirun.log").string();
  // Rank 1 is the spiketile process whose environment says so; it is signalled a second into the run.
  const std::string script =
      mpirun(2) + "simulate --map " + map + " --prompt \"the meaning of life\" -n 5000 --progress off" + extra + " > " +
      log + " 2>&1 & mp=$!; sleep 3; for p in $(pgrep -f 'spiketile simulate --map " + map + "'); do "
      "if tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1; then kill -" + signal +
      " $p; echo signalled $p; fi; done; wait $mp; echo mpirun exit status $?; cat " + log;
  return run_shell("timeout 120 bash -c '" + [&] {
    std::string quoted;
    for (char ch : script) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return quoted;
  }() + "'");
}

TEST(MpiSimulateErrors, AKilledRankEndsTheRunNamingIt) {
  const fs::path dir = scratch("killed");
  const auto r = signal_rank_one(dir, "KILL", "");
  EXPECT_NE(r.output.find("signalled"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mpirun exit status"), std::string::npos) << r.output;  // it ended, before the timeout
  EXPECT_EQ(r.output.find("mpirun exit status 0"), std::string::npos) << r.output;
  // Open MPI's own line: "mpirun noticed that process rank 1 with PID … exited on signal 9 (Killed)".
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("signal 9"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(MpiSimulateErrors, AHungRankIsNamedAfterTheRankTimeout) {
  const fs::path dir = scratch("hung");
  const auto r = signal_rank_one(dir, "STOP", " --rank-timeout 5");
  EXPECT_NE(r.output.find("signalled"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("mpirun exit status 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rank 0 of 2: rank 1 did not answer within 5 s"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

// `mpirun -n 2 spiketile explore`: the points to compute are dealt over the ranks (one folder both
// see), and rank 0's results are those of one process computing them all.
TEST(MpiExplore, RanksShareThePointsAndRankZeroWritesTheSameResults) {
  const fs::path dir = scratch("explore");
  const std::string repo = SPIKETILE_REPO;
  {
    std::ofstream sweep(dir / "sweep.yaml");
    sweep << "version: 1\nname: points over ranks\nbase_chip: " << repo << "/chips/default.yaml\nmodel: " << repo
          << "/models/spikegpt-fortunes.pth\nrun:\n  prompt: \"the \"\n  tokens: 2\n  energy_table: " << repo
          << "/chips/energy/default.yaml\n  gpu: h100\ngrid:\n  compile.objective: [cores]\n"
             "  chip.clock_frequency_mhz: [250, 500, 1000, 2000]\n";
  }
  const std::string sweep = (dir / "sweep.yaml").string();
  const auto one = run_cli("explore " + sweep + " -o " + (dir / "one").string() + " -j 2 --progress off --quiet");
  ASSERT_EQ(one.status, 0) << one.output;
  const auto over = run_shell(mpirun(2) + "explore " + sweep + " -o " + (dir / "ranks").string() + " -j 1 --progress off --quiet");
  ASSERT_EQ(over.status, 0) << over.output;
  EXPECT_NE(over.output.find("explore: rank 1 of 2 computed 2 of the 4 points to compute"), std::string::npos) << over.output;
  EXPECT_NE(over.output.find("4 points: 4 computed, 0 cached, 0 failed"), std::string::npos) << over.output;
  const auto a = nlohmann::json::parse(read_bytes(dir / "one" / "results.json"));
  const auto b = nlohmann::json::parse(read_bytes(dir / "ranks" / "results.json"));
  ASSERT_EQ(a.at("points").size(), 4u);
  ASSERT_EQ(b.at("points").size(), 4u);
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(b["points"][k]["status"], "ok") << b["points"][k].dump();
    EXPECT_EQ(a["points"][k]["hash"], b["points"][k]["hash"]);
    EXPECT_EQ(a["points"][k]["metrics"], b["points"][k]["metrics"]) << k;
  }
  EXPECT_EQ(a.at("front"), b.at("front"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace spiketile
