// spiketile explore end to end on the shipped model: a small sweep whose figures agree with the
// same point's commands run by hand, a failing point named while the others finish, the cache (a
// re-run computes nothing; a new axis value computes only the new points), the worker command
// line of one point, and an invalid sweep refused before any work.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>

#include "explore/sweep.hpp"
#include "tests/unit/cli_runner.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_cli::run_cli;

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("spiketile_explore_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

json read_json(const fs::path& p) { return json::parse(read_text(p)); }

std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) cells.push_back(cell), cell.clear();
      else cell += c;
    }
    cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

const std::string kDefaultChip = std::string(SPIKETILE_SOURCE_DIR) + "/chips/default.yaml";

std::string sweep_text(const std::string& clocks) {
  return "version: 1\n"
         "name: e2e\n"
         "run: {prompt_ids: \"20,45\", tokens: 2}\n"
         "grid:\n"
         "  compile.objective: [cores]\n"
         "  chip.clock_frequency_mhz: [" + clocks + "]\n"
         "points:\n"
         "  - {chip.system.chip_count: 1, chip.mesh.rows: 2, chip.mesh.cols: 2}   # 4 cores: the model does not fit\n";
}

TEST(CliExplore, ASweepMatchesItsCommandsRunByHandNamesItsFailureAndCachesByContent) {
  const fs::path dir = temp_dir("e2e");
  const fs::path sweep = dir / "sweep.yaml", out = dir / "out";
  std::ofstream(sweep) << sweep_text("500, 250");
  const std::string command = "explore " + sweep.string() + " -j 2 -o " + out.string() + " --progress off";
  const auto first = run_cli(command);
  ASSERT_EQ(exit_code(first.status), 2) << first.output;  // one point failed, the others finished
  EXPECT_NE(first.output.find("3 points: 3 computed, 0 cached, 1 failed"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("FAILED chip.system.chip_count=1 chip.mesh.rows=2 chip.mesh.cols=2"), std::string::npos)
      << first.output;

  const json results = read_json(out / "results.json");
  ASSERT_EQ(results["points"].size(), 3u);
  const json& fast = results["points"][0];
  const json& slow = results["points"][1];
  const json& broken = results["points"][2];
  ASSERT_EQ(fast["status"], "ok") << fast.dump(1);
  ASSERT_EQ(slow["status"], "ok") << slow.dump(1);
  EXPECT_EQ(broken["status"], "failed");
  EXPECT_EQ(broken["failed_step"], "compile");
  EXPECT_NE(broken["error"].get<std::string>().find("does not fit"), std::string::npos) << broken.dump(1);

  // The 250 MHz point by hand: the default chip with its clock halved, compiled, simulated, priced.
  const std::string chip = std::regex_replace(read_text(kDefaultChip), std::regex("clock_frequency_mhz: 500"),
                                              "clock_frequency_mhz: 250");
  std::ofstream(dir / "hand.yaml") << chip;
  const std::string map = (dir / "hand.stmap").string(), stats = (dir / "hand.json").string();
  const std::string report = (dir / "hand_report.json").string();
  ASSERT_EQ(run_cli("compile --objective cores --chip " + (dir / "hand.yaml").string() + " -o " + map).status, 0);
  ASSERT_EQ(run_cli("simulate --map " + map + " --prompt-ids 20,45 -n 2 --stats " + stats + " --progress off --quiet").status, 0);
  ASSERT_EQ(run_cli("report --stats " + stats + " --json " + report + " --quiet").status, 0);
  const json s = read_json(stats), r = read_json(report);
  const double steps = s["tokens"]["steps"].get<double>(), cycles = s["cycles"]["total"].get<double>();
  const double latency_us = cycles / steps / 250.0;
  const double energy = r["chip"]["energy_per_token_pj"].get<double>();
  const json& m = slow["metrics"];
  EXPECT_EQ(steps, 4);  // two prompt tokens, two generated
  EXPECT_EQ(m["cores_used"], s["chip"]["cores_used"]);
  EXPECT_DOUBLE_EQ(m["latency_per_token_cycles"].get<double>(), cycles / steps);
  EXPECT_NEAR(m["latency_per_token_us"].get<double>(), latency_us, 1e-9 * latency_us);
  EXPECT_NEAR(m["energy_per_token_pj"].get<double>(), energy, 1e-9 * energy);
  EXPECT_NEAR(m["dynamic_per_token_pj"].get<double>() + m["static_per_token_pj"].get<double>(), energy, 1e-9 * energy);
  EXPECT_NEAR(m["tokens_per_s"].get<double>(), 1e6 / latency_us, 1e-6 / latency_us * 1e6);
  EXPECT_NEAR(m["edp_pj_s"].get<double>(), energy * latency_us * 1e-6, 1e-9 * energy * latency_us * 1e-6);
  // A clock change moves no cycle: the same count, twice the time, twice the static energy.
  EXPECT_EQ(fast["metrics"]["latency_per_token_cycles"], m["latency_per_token_cycles"]);
  EXPECT_NEAR(fast["metrics"]["latency_per_token_us"].get<double>() * 2, latency_us, 1e-9 * latency_us);
  EXPECT_EQ(fast["metrics"]["dynamic_per_token_pj"], m["dynamic_per_token_pj"]);
  EXPECT_NEAR(fast["metrics"]["static_per_token_pj"].get<double>() * 2, m["static_per_token_pj"].get<double>(),
              1e-9 * m["static_per_token_pj"].get<double>());
  // Faster at more dynamic energy per second but the same dynamic energy per token: 500 MHz wins on both.
  EXPECT_TRUE(fast["on_front"].get<bool>());
  EXPECT_FALSE(slow["on_front"].get<bool>());
  EXPECT_EQ(results["front"], json::array({0}));

  // The CSV holds the same rows; the page draws them with no network access.
  const auto rows = csv_rows(read_text(out / "results.csv"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0][0], "index");
  EXPECT_EQ(rows[3][rows[0].size() - 1].find("does not fit") != std::string::npos, true) << read_text(out / "results.csv");
  const std::string html = read_text(out / "explore.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("The Pareto front"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);

  // Re-run: every point comes from the cache, the failure too (not fitting is a property of the point).
  const auto again = run_cli(command);
  EXPECT_EQ(exit_code(again.status), 2) << again.output;
  EXPECT_NE(again.output.find("3 points: 0 computed, 3 cached, 1 failed"), std::string::npos) << again.output;
  EXPECT_EQ(read_json(out / "results.json")["points"][1]["metrics"], m);

  // One more value on one axis: only the new point is computed.
  std::ofstream(sweep) << sweep_text("500, 250, 125");
  const auto grown = run_cli(command);
  EXPECT_NE(grown.output.find("4 points: 1 computed, 3 cached, 1 failed"), std::string::npos) << grown.output;
  const json more = read_json(out / "results.json");
  EXPECT_EQ(more["points"][2]["settings"]["chip.clock_frequency_mhz"], "125");
  EXPECT_TRUE(more["points"][2]["computed"].get<bool>());
  EXPECT_FALSE(more["points"][0]["computed"].get<bool>());

  // A point whose result is unreadable (a worker killed while writing it) is computed again.
  std::ofstream(out / more["points"][1]["dir"].get<std::string>() / "result.json") << "{\"format\": \"spiketile-ex";
  const auto repaired = run_cli(command);
  EXPECT_NE(repaired.output.find("4 points: 1 computed, 3 cached, 1 failed"), std::string::npos) << repaired.output;
  EXPECT_EQ(read_json(out / "results.json")["points"][1]["metrics"], m);
  fs::remove_all(dir);
}

TEST(CliExplore, AModelAxisComparesCheckpointsAndTheirCalibrationIsPartOfTheKey) {
  const fs::path dir = temp_dir("models");
  fs::copy_file(std::string(SPIKETILE_TEST_DATA) + "/fixtures/tiny_l2_c32_v77_fp32.pth", dir / "tiny.pth");
  const std::string calibrate = "calibrate --model " + (dir / "tiny.pth").string() + " --text " +
                                std::string(SPIKETILE_TEST_DATA) + "/heldout_excerpt.txt --max-tokens ";
  ASSERT_EQ(run_cli(calibrate + "200").status, 0);
  const fs::path sweep = dir / "sweep.yaml", out = dir / "out";
  std::ofstream(sweep) << "version: 1\nrun: {prompt_ids: \"20,45\", tokens: 2}\ngrid:\n"
                          "  model: [tiny.pth, " + std::string(SPIKETILE_SOURCE_DIR) + "/models/spikegpt-fortunes.pth]\n"
                          "  compile.objective: [cores]\n";
  const std::string command = "explore " + sweep.string() + " -o " + out.string() + " --progress off";
  const auto first = run_cli(command);
  ASSERT_EQ(first.status, 0) << first.output;
  const json results = read_json(out / "results.json");
  const json& tiny = results["points"][0];
  const json& shipped = results["points"][1];
  EXPECT_EQ(tiny["settings"]["model"], "tiny.pth");
  EXPECT_EQ(tiny["model"], (dir / "tiny.pth").string());
  // Two layers of width 32 against four of 192: fewer cores, less energy and time per token.
  EXPECT_LT(tiny["metrics"]["cores_used"].get<int>(), shipped["metrics"]["cores_used"].get<int>());
  EXPECT_LT(tiny["metrics"]["energy_per_token_pj"].get<double>(), shipped["metrics"]["energy_per_token_pj"].get<double>());
  EXPECT_EQ(results["front"], json::array({0}));
  // A new calibration is a new point: only the tiny model's is computed again.
  ASSERT_EQ(run_cli(calibrate + "100").status, 0);
  const auto again = run_cli(command);
  EXPECT_NE(again.output.find("2 points: 1 computed, 1 cached, 0 failed"), std::string::npos) << again.output;
  fs::remove_all(dir);
}

// A sweep that scores its points on a text (run.eval_text): each point's bits per character are
// what `eval --map` prints for its mapping, a spike-input variant carries its measured projection
// rate, and the page draws bits per character against energy per token.
TEST(CliExplore, AScoredSweepOverVariantsPutsBitsPerCharacterBesideEnergy) {
  const fs::path dir = temp_dir("frontier");
  const std::string excerpt = std::string(SPIKETILE_TEST_DATA) + "/heldout_excerpt.txt";
  for (const char* name : {"tiny_l2_c32_v77_fp32", "tiny_l2_c32_v77_binary"}) {
    fs::copy_file(std::string(SPIKETILE_TEST_DATA) + "/fixtures/" + name + ".pth", dir / (std::string(name) + ".pth"));
    ASSERT_EQ(run_cli("calibrate --model " + (dir / (std::string(name) + ".pth")).string() + " --text " + excerpt +
                      " --max-tokens 300 --progress off")
                  .status,
              0);
  }
  const fs::path sweep = dir / "sweep.yaml", out = dir / "out";
  std::ofstream(sweep) << "version: 1\nrun: {prompt_ids: \"20,45\", tokens: 2, eval_text: " << excerpt
                       << ", eval_tokens: 200}\ngrid:\n  model: [tiny_l2_c32_v77_fp32.pth, tiny_l2_c32_v77_binary.pth]\n"
                          "  compile.objective: [cores]\n";
  const auto ran = run_cli("explore " + sweep.string() + " -o " + out.string() + " --progress off");
  ASSERT_EQ(ran.status, 0) << ran.output;
  const json results = read_json(out / "results.json");
  ASSERT_EQ(results["points"].size(), 2u);
  for (const json& point : results["points"]) {
    const fs::path map = out / "points" / point["hash"].get<std::string>().substr(0, 16) / "model.stmap";
    const fs::path by_hand = dir / "eval.json";
    const auto eval = run_cli("eval --map " + map.string() + " --text " + excerpt + " --max-tokens 200 --progress off --json " +
                              by_hand.string());
    ASSERT_EQ(eval.status, 0) << eval.output;
    EXPECT_EQ(point["metrics"]["bits_per_token"], read_json(by_hand)["bits_per_token"]) << point["label"];
  }
  EXPECT_EQ(results["points"][0]["metrics"]["spike_input_steps"], 0);
  EXPECT_EQ(results["points"][1]["metrics"]["spike_input_steps"], 1);
  EXPECT_GT(results["points"][1]["metrics"]["projection_input_rate"].get<double>(), 0.0);
  EXPECT_LT(results["points"][1]["metrics"]["projection_input_rate"].get<double>(), 1.0);
  const auto rows = csv_rows(read_text(out / "results.csv"));
  const auto bpc_column = std::find(rows[0].begin(), rows[0].end(), "bits_per_token");
  ASSERT_NE(bpc_column, rows[0].end());
  EXPECT_FALSE(rows[1][std::size_t(bpc_column - rows[0].begin())].empty());
  const std::string html = read_text(out / "explore.html");
  EXPECT_NE(html.find("Bits per token against energy per token"), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"bits per token against energy per token\""), std::string::npos);
  fs::remove_all(dir);
}

TEST(CliExplore, OnePointIsOneSelfContainedCommandLine) {
  const fs::path dir = temp_dir("point");
  const fs::path sweep = dir / "sweep.yaml", out = dir / "out";
  std::ofstream(sweep) << "version: 1\npoints:\n  - {chip.system.chip_count: 1, chip.mesh.rows: 2, chip.mesh.cols: 2}\n";
  const auto listed = run_cli("explore " + sweep.string() + " -o " + out.string() + " --list");
  ASSERT_EQ(listed.status, 0) << listed.output;
  EXPECT_NE(listed.output.find("--point 0 --progress off"), std::string::npos) << listed.output;
  EXPECT_FALSE(fs::exists(out / "points"));
  const auto point = run_cli("explore " + sweep.string() + " -o " + out.string() + " --point 0");
  EXPECT_EQ(exit_code(point.status), 2) << point.output;
  EXPECT_NE(point.output.find("point 0 failed in compile"), std::string::npos) << point.output;
  const std::string hash = listed.output.substr(listed.output.find('\t') + 1, 16);
  const json result = read_json(out / "points" / hash / "result.json");
  EXPECT_EQ(result["status"], "failed");
  EXPECT_TRUE(fs::exists(out / "points" / hash / "commands.sh"));
  EXPECT_FALSE(fs::exists(out / "results.csv"));  // a worker writes its point only
  fs::remove_all(dir);
}

// The sweep file restates compile's ranges to report a bad value at its line before any work; a
// value just outside each range must be one compile itself refuses, so the two cannot drift apart.
TEST(CliExplore, EveryCompileRangeTheSweepCheckIsOneCompileRefusesPastItsEnds) {
  int checked = 0;
  for (const auto& param : explore::option_axis_params("compile")) {
    if (param.type != config::ParamType::integer && param.type != config::ParamType::number) continue;
    std::string flag = "--" + param.key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    const double step = param.type == config::ParamType::integer ? 1 : 0.5;
    std::vector<double> outside{param.min_value - step};
    if (param.max_value < 1e6) outside.push_back(param.max_value + step);  // above: our own caps on free counts
    for (double value : outside) {
      const auto r = run_cli("compile " + flag + " " + fmt::format("{}", value) + " --check");
      EXPECT_NE(exit_code(r.status), 0) << flag << " " << value << " is refused by the sweep but not by compile";
      EXPECT_NE(r.output.find(flag), std::string::npos) << r.output;
      ++checked;
    }
  }
  EXPECT_GE(checked, 12);
}

TEST(CliExplore, AnInvalidSweepIsRefusedWithEveryProblemBeforeAnyWork) {
  const fs::path dir = temp_dir("invalid");
  const fs::path sweep = dir / "sweep.yaml", out = dir / "out";
  std::ofstream(sweep) << "version: 1\ngrid:\n  chip.mesh.rowz: [4]\n  compile.objective: [fast]\n";
  const auto r = run_cli("explore " + sweep.string() + " -o " + out.string());
  EXPECT_EQ(exit_code(r.status), 1) << r.output;
  EXPECT_NE(r.output.find(sweep.string() + ":3:3: unknown axis 'chip.mesh.rowz' (did you mean 'chip.mesh.rows'?)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(sweep.string() + ":4:23: compile.objective: unknown value 'fast'"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(out));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace spiketile
