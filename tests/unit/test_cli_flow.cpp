// The whole flow as a user runs it: compile the shipped model, run the mapping, simulate it on the
// chip, report — the three execution levels print the same text, and the statistics carry what
// only the simulator measures.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>

#include "runtime/npy.hpp"
#include "runtime/stats.hpp"
#include "tests/unit/cli_runner.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using testing_cli::run_cli;

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() / ("spiketile_flow_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

TEST(CliFlow, CompileThenRunMapSimulateAndReportAgreeWithTheFunctionalModel) {
  const fs::path dir = temp_dir();
  const std::string map = (dir / "shipped.stmap").string();
  const auto compiled = run_cli("compile --objective cores -o " + map);
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  EXPECT_NE(compiled.output.find("cores used:          49 of 256"), std::string::npos) << compiled.output;
  EXPECT_NE(compiled.output.find("latency bound:"), std::string::npos) << compiled.output;
  EXPECT_NE(compiled.output.find("critical path of the last profile token"), std::string::npos) << compiled.output;

  const std::string gen = " --prompt-ids 20,45,57,1 -n 24 --temperature 0 --quiet-stats";
  auto raster = [&](const std::string& level) {
    return " --spikes-out " + (dir / (level + ".spikes.npy")).string() + " --membranes-out " +
           (dir / (level + ".membranes.npy")).string();
  };
  const auto functional = run_cli("run --quantized" + gen + raster("quantized"));
  const auto mapped = run_cli("run --map " + map + gen + raster("mapping"));
  const std::string stats = (dir / "sim.json").string();
  const auto simulated = run_cli("simulate --map " + map + gen + " --progress off --stats " + stats + raster("simulator"));
  ASSERT_EQ(functional.status, 0) << functional.output;
  ASSERT_EQ(mapped.status, 0) << mapped.output;
  ASSERT_EQ(simulated.status, 0) << simulated.output;
  EXPECT_EQ(functional.output, mapped.output);
  EXPECT_EQ(functional.output, simulated.output);
  // Every LIF spike of every step is the same on the three levels, and the raster holds spikes.
  auto read_bytes = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  const std::string quantized_raster = read_bytes(dir / "quantized.spikes.npy");
  EXPECT_NE(quantized_raster.find("'descr': '|u1', 'fortran_order': False, 'shape': (28, 4, 2, 192)"), std::string::npos);
  EXPECT_EQ(quantized_raster, read_bytes(dir / "mapping.spikes.npy"));
  EXPECT_EQ(quantized_raster, read_bytes(dir / "simulator.spikes.npy"));
  EXPECT_NE(quantized_raster.find('\x01', 128), std::string::npos);
  // So is every membrane, and it agrees with the raster: 0 where its LIF fired, below the threshold
  // (1.0) everywhere else, and not all 0.
  const std::string quantized_membranes = read_bytes(dir / "quantized.membranes.npy");
  EXPECT_EQ(quantized_membranes, read_bytes(dir / "mapping.membranes.npy"));
  EXPECT_EQ(quantized_membranes, read_bytes(dir / "simulator.membranes.npy"));
  const NpyArray membranes = read_npy((dir / "quantized.membranes.npy").string());
  const NpyValues spikes = read_npy_values((dir / "quantized.spikes.npy").string());
  ASSERT_EQ(membranes.shape, (std::vector<int64_t>{28, 4, 2, 192}));
  ASSERT_EQ(membranes.data.size(), spikes.data.size());
  std::size_t resting = 0;
  for (std::size_t i = 0; i < membranes.data.size(); ++i) {
    if (spikes.data[i] != 0) EXPECT_EQ(membranes.data[i], 0.0f) << "entry " << i;
    EXPECT_LT(membranes.data[i], 1.0f) << "entry " << i;
    resting += membranes.data[i] == 0.0f;
  }
  EXPECT_LT(resting, membranes.data.size());

  std::ifstream in(stats);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("level"), "simulator");
  EXPECT_EQ(j.at("cycles").at("per_step").size(), 28u);  // 4 prompt ids + 24 generated
  EXPECT_EQ(j.at("cores").size(), 49u);
  EXPECT_GT(j.at("network").at("flit_hops").get<int64_t>(), 0);

  const auto report = run_cli("report --stats " + stats + " --html " + (dir / "r.html").string() + " --raster " +
                              (dir / "simulator.spikes.npy").string() + " --raster-layer 2 --json " +
                              (dir / "r.json").string());
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_NE(report.output.find("router.flit_hop"), std::string::npos) << report.output;
  EXPECT_NE(report.output.find("latency per token"), std::string::npos) << report.output;
  EXPECT_NE(read_bytes(dir / "r.html").find("Spike raster, layer 2: 28 steps × 192 neurons"), std::string::npos);
  // The raster lists layer 2's spikes of the run, as many as its file holds there.
  std::size_t layer2_spikes = 0;
  for (int64_t t = 0; t < 28; ++t)
    for (int64_t i = 0; i < 2 * 192; ++i) layer2_spikes += spikes.data[std::size_t((t * 4 + 2) * 2 * 192 + i)] != 0;
  std::ifstream report_json(dir / "r.json");
  const auto rj = nlohmann::json::parse(report_json);
  // The per-token energies are the cores' work of each token: they add up to the run's.
  double steps_pj = 0;
  for (const auto& row : rj.at("per_token")) steps_pj += row.at("dynamic_energy_pj").get<double>();
  EXPECT_NEAR(steps_pj, rj.at("chip").at("dynamic_energy_pj").get<double>(),
              1e-9 * rj.at("chip").at("dynamic_energy_pj").get<double>());
  EXPECT_EQ(rj.at("raster").at("att").size() + rj.at("raster").at("ffn").size(), layer2_spikes);

  // The same mapping under the magic of the tool's earlier name: every command that takes a
  // mapping refuses it and says how to recompile, none reads it as something else.
  std::string bytes;
  {
    std::ifstream f(map, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  bytes.replace(1, 2, "SF");
  bytes[8] = 1;
  const std::string former = (dir / "former.sfmap").string();
  std::ofstream(former, std::ios::binary) << bytes;
  for (const std::string& command : {"inspect " + former, "run --map " + former + gen, "simulate --map " + former + gen}) {
    const auto refused = run_cli(command);
    EXPECT_NE(refused.status, 0) << command;
    EXPECT_NE(refused.output.find("written by spikeforge, the earlier name of this tool"), std::string::npos)
        << command << ": " << refused.output;
    EXPECT_NE(refused.output.find("spiketile compile"), std::string::npos) << refused.output;
  }
  fs::remove_all(dir);
}

// The latency bound travels in the mapping: simulate sets its measured cycles beside it, and a
// mapping compiled without a profile says it has none.
TEST(CliFlow, SimulatePrintsItsCyclesBesideTheCompilersBound) {
  const fs::path dir = temp_dir();
  const std::string with = (dir / "with.stmap").string(), without = (dir / "without.stmap").string();
  ASSERT_EQ(run_cli("compile --profile-tokens 4 -o " + with).status, 0);
  const auto plain = run_cli("compile --profile-tokens 0 -o " + without);
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_EQ(plain.output.find("latency bound:"), std::string::npos) << plain.output;
  const std::string gen = " --prompt-ids 20,45,57,1 -n 4 --temperature 0 --progress off";
  const auto measured = run_cli("simulate --map " + with + gen);
  ASSERT_EQ(measured.status, 0) << measured.output;
  EXPECT_NE(measured.output.find("latency bound (compiler, no network contention):"), std::string::npos) << measured.output;
  EXPECT_NE(measured.output.find("the bound"), std::string::npos) << measured.output;
  const auto none = run_cli("simulate --map " + without + gen);
  ASSERT_EQ(none.status, 0) << none.output;
  EXPECT_NE(none.output.find("latency bound: none in this mapping (compiled with --profile-tokens 0)"), std::string::npos)
      << none.output;
  const auto inspected = run_cli("inspect " + with + " --json");
  ASSERT_EQ(inspected.status, 0) << inspected.output;
  const auto j = nlohmann::json::parse(inspected.output);
  EXPECT_EQ(j.at("estimate").at("profile_tokens"), 4);
  // Every core with its unit: as many entries as units, each core once, the coordinates matching
  // the core index (chip-major, row-major: 4 chips of 8 × 8 on the default chip).
  std::set<int> cores;
  for (const auto& c : j.at("placement")) {
    const int core = c.at("core");
    EXPECT_TRUE(cores.insert(core).second) << core;
    EXPECT_EQ(core, (c.at("chip").get<int>() * 8 + c.at("row").get<int>()) * 8 + c.at("col").get<int>());
  }
  EXPECT_EQ(cores.size(), std::size_t(j.at("cores").at("used").get<int>()));
  const auto text = run_cli("inspect " + with);
  EXPECT_NE(text.output.find("cores (each unit and where it runs"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find(j.at("placement")[0].at("unit").get<std::string>()), std::string::npos);
  EXPECT_GT(j.at("estimate").at("bound_cycles_per_token").get<double>(), 0.0);
  fs::remove_all(dir);
}

// simulate --text scores a text on the chip as eval scores it on the mapping, the text streamed
// through as one pipelined prefill; the summary and the report show prefill and decode apart.
TEST(CliFlow, SimulateTextScoresLikeEvalAndShowsPrefillApartFromDecode) {
  const fs::path dir = temp_dir();
  const std::string map = (dir / "m.stmap").string(), stats = (dir / "s.json").string();
  ASSERT_EQ(run_cli("compile --profile-tokens 4 -o " + map).status, 0);
  const std::string text = (fs::path(SPIKETILE_SOURCE_DIR) / "tests" / "data" / "heldout_excerpt.txt").string();
  const auto evaluated = run_cli("eval --map " + map + " --text " + text + " --max-tokens 48");
  ASSERT_EQ(evaluated.status, 0) << evaluated.output;
  const auto simulated =
      run_cli("simulate --map " + map + " --text " + text + " --max-tokens 48 --progress off --stats " + stats);
  ASSERT_EQ(simulated.status, 0) << simulated.output;
  auto bpc = [](const std::string& out) {
    const auto at = out.find("BPC:");
    return at == std::string::npos ? std::string("none") : out.substr(at, out.find('\n', at) - at);
  };
  EXPECT_NE(bpc(evaluated.output), "none") << evaluated.output;
  EXPECT_EQ(bpc(simulated.output), bpc(evaluated.output)) << simulated.output;
  EXPECT_NE(simulated.output.find("prefill (tokens overlapped through the layers): 48 tokens"), std::string::npos)
      << simulated.output;
  const auto reported = run_cli("report --stats " + stats);
  ASSERT_EQ(reported.status, 0) << reported.output;
  EXPECT_NE(reported.output.find("prefill (pipelined): 48 tokens"), std::string::npos) << reported.output;
  // A prompt is a prefill too; the generated tokens are decoded one at a time.
  const auto generated = run_cli("simulate --map " + map + " --prompt-ids 20,45,57,1 -n 3 --temperature 0 --progress off");
  ASSERT_EQ(generated.status, 0) << generated.output;
  EXPECT_NE(generated.output.find("prefill (tokens overlapped through the layers): 4 tokens"), std::string::npos)
      << generated.output;
  EXPECT_NE(generated.output.find("decode (one token at a time, each needs the last): 3 tokens"), std::string::npos)
      << generated.output;
  const auto both = run_cli("simulate --map " + map + " --text " + text + " --prompt hello");
  EXPECT_NE(both.status, 0);
  // Statistics written from their own folder name their chip beside them: the report finds it
  // from anywhere.
  const auto here = testing_cli::run_shell("cd " + dir.string() + " && " + SPIKETILE_CLI + " simulate --map m.stmap " +
                                           "--prompt-ids 20,45 -n 1 --temperature 0 --progress off --stats here.json");
  ASSERT_EQ(here.status, 0) << here.output;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(dir / "here.json")).at("chip").at("spec_path"), "here.json.chip.yaml");
  const auto elsewhere = run_cli("report --stats " + (dir / "here.json").string());
  EXPECT_EQ(elsewhere.status, 0) << elsewhere.output;
  // The chip is read only as a chip description: a spec_path naming another file (here a
  // passwd-like one) is an error naming that file, which never shows its content.
  const fs::path secret = dir / "secret.txt";
  std::ofstream(secret) << "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n";
  auto pointed = nlohmann::json::parse(std::ifstream(dir / "here.json"));
  pointed["chip"]["spec_path"] = secret.string();
  std::ofstream(dir / "pointed.json") << pointed.dump();
  const auto pointing = run_cli("report --stats " + (dir / "pointed.json").string());
  EXPECT_NE(pointing.status, 0);
  EXPECT_NE(pointing.output.find(secret.string()), std::string::npos) << pointing.output;
  EXPECT_EQ(pointing.output.find("nologin"), std::string::npos) << pointing.output;
  fs::remove_all(dir);
}

// The latency objective spends idle cores on the critical path, within --max-cores, and every
// split it tried is a decision line; the cores objective stays on the fewest cores.
TEST(CliFlow, LatencyObjectiveSplitsTheCriticalPathWithinTheCoresAllowed) {
  const fs::path dir = temp_dir();
  auto compile = [&](const std::string& args, const std::string& name) {
    const std::string map = (dir / name).string();
    const auto r = run_cli("compile --profile-tokens 4 " + args + " -o " + map);
    EXPECT_EQ(r.status, 0) << r.output;
    const auto inspected = run_cli("inspect " + map + " --json");
    return std::make_pair(r.output, nlohmann::json::parse(inspected.output));
  };
  const auto [cores_text, cores] = compile("--objective cores", "cores.stmap");
  const auto [latency_text, latency] = compile("--objective latency --max-cores 120", "latency.stmap");
  EXPECT_EQ(cores.at("cores").at("used"), 49);
  const int used = latency.at("cores").at("used");
  EXPECT_GT(used, 49);
  EXPECT_LE(used, 120);
  EXPECT_LT(latency.at("estimate").at("bound_cycles_per_token").get<double>(),
            0.8 * cores.at("estimate").at("bound_cycles_per_token").get<double>());
  EXPECT_NE(latency_text.find("objective latency: att.receptance/key/value in smaller row blocks: bound"), std::string::npos)
      << latency_text;
  EXPECT_NE(latency_text.find("needs"), std::string::npos) << "a split past --max-cores is named: " << latency_text;
  EXPECT_NE(cores_text.find("objective cores: every matrix in as few tiles as fit"), std::string::npos) << cores_text;
  // Split matrices and residual slices compute the same bits: tokens, spikes and counts.
  const std::string gen = " --prompt-ids 20,45,57,1 -n 12 --temperature 0 --quiet-stats";
  const auto functional = run_cli("run --quantized" + gen);
  const auto mapped = run_cli("run --map " + (dir / "latency.stmap").string() + gen);
  const auto simulated = run_cli("simulate --map " + (dir / "latency.stmap").string() + gen + " --progress off");
  ASSERT_EQ(functional.status, 0) << functional.output;
  EXPECT_EQ(functional.output, mapped.output);
  EXPECT_EQ(functional.output, simulated.output);
  fs::remove_all(dir);
}

// The energy and edp objectives run the same search but keep a split only when the estimated
// energy per token (energy) or energy × bound (edp) falls; every kept line shows it falling.
TEST(CliFlow, EnergyAndEdpObjectivesKeepOnlySplitsThatLowerTheirCost) {
  const fs::path dir = temp_dir();
  const std::regex kept(R"(objective (energy|edp): .*: ([0-9.]+) -> ([0-9.]+) µJ per token, bound ([0-9]+) -> ([0-9]+) cycles, [0-9]+ -> [0-9]+ cores: kept)");
  for (const std::string objective : {"energy", "edp"}) {
    const auto r = run_cli("compile --profile-tokens 4 --objective " + objective + " -o " + (dir / "m.stmap").string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("objective " + objective + ": "), std::string::npos) << r.output;
    int lines = 0;
    for (auto it = std::sregex_iterator(r.output.begin(), r.output.end(), kept); it != std::sregex_iterator(); ++it) {
      const double e0 = std::stod((*it)[2]), e1 = std::stod((*it)[3]), b0 = std::stod((*it)[4]), b1 = std::stod((*it)[5]);
      // Printed to three digits: the kept split is no worse than its predecessor at that precision.
      if (objective == "energy") {
        EXPECT_LE(e1, e0) << it->str();
      } else {
        EXPECT_LT(e1 * b1, e0 * b0 * 1.001) << it->str();
      }
      ++lines;
    }
    if (objective == "edp") {
      EXPECT_GT(lines, 0) << "the edp objective spends cores on the shipped model: " << r.output;
    }
  }
  // The estimate the energy objective weighs against what the report prices on a simulated run of
  // text the profile never saw (its own tokens, with contention): within 8 %.
  const std::string map = (dir / "energy.stmap").string(), stats = (dir / "energy.json").string();
  const auto compiled = run_cli("compile --objective energy -o " + map);
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(compiled.output, m, std::regex(R"(splits? kept of [0-9]+ tried, [^:]*: [0-9.]+ -> ([0-9.]+) µJ per token)")))
      << compiled.output;
  const double estimated_uj = std::stod(m[1]);
  ASSERT_EQ(run_cli("simulate --map " + map + " --prompt 'the meaning of life is ' -n 24 --seed 1 --progress off "
                    "--quiet-stats --stats " + stats).status,
            0);
  const auto reported = run_cli("report --stats " + stats + " --json " + (dir / "energy.report.json").string());
  ASSERT_EQ(reported.status, 0) << reported.output;
  std::ifstream report_file(dir / "energy.report.json");
  const double measured_uj = nlohmann::json::parse(report_file).at("chip").at("energy_per_token_pj").get<double>() / 1e6;
  EXPECT_NEAR(estimated_uj, measured_uj, 0.08 * measured_uj);

  const auto bad = run_cli("compile --objective speed -o " + (dir / "x.stmap").string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("latency"), std::string::npos) << bad.output;
  fs::remove_all(dir);
}

// `simulate --rtl` puts what the RTL neuron core did, by its own clock, into the core's entry of
// the statistics, for exactly the cores on it; the file reads back.
TEST(CliFlow, SimulateWithAnRtlCoreRecordsItsCommandsAndCycles) {
  const fs::path dir = temp_dir();
  const std::string map = (dir / "shipped.stmap").string();
  ASSERT_EQ(run_cli("compile --objective cores -o " + map).status, 0);
  const std::string stats = (dir / "rtl.json").string();
  const auto simulated = run_cli("simulate --map " + map +
                                 " --prompt-ids 20,45 -n 2 --temperature 0 --quiet-stats --progress off --rtl "
                                 "L0.att.key[0,0] --rtl-backend reference --stats " +
                                 stats);
  ASSERT_EQ(simulated.status, 0) << simulated.output;
  const RunStats s = read_stats(stats);
  ASSERT_TRUE(s.cores.has_value());
  int on_rtl = 0;
  for (const CoreStats& c : *s.cores) {
    if (!c.rtl) continue;
    ++on_rtl;
    EXPECT_EQ(c.unit, "L0.att.key[0,0]");
    EXPECT_EQ(c.rtl->backend, "reference");
    EXPECT_EQ(c.rtl->readouts + c.rtl->ticks, s.tokens.steps);  // one accumulator read per token
    EXPECT_GT(c.rtl->events, 0);
    // Every input event of the tile went through the RTL: 192 SOPs each (C = 192 rows) as the
    // simulator counts; the RTL counts all 256 neurons of its array.
    EXPECT_EQ(c.rtl->events * 192, c.sop_graded + c.sop_binary);
    EXPECT_EQ(c.rtl->sops, c.rtl->events * 256);
    EXPECT_GT(c.rtl->busy_cycles, 0);
  }
  EXPECT_EQ(on_rtl, 1);
  fs::remove_all(dir);
}

TEST(CliFlow, CompileCheckOnATooSmallChipExplainsWhatDoesNotFit) {
  const fs::path dir = temp_dir();
  const fs::path chip = fs::path(SPIKETILE_SOURCE_DIR) / "chips" / "tiny.yaml";
  const auto r = run_cli("compile --check --chip " + chip.string());
  EXPECT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 2) << r.output;
  EXPECT_NE(r.output.find("does not fit chip"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cores at the chip system: need"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("capacity 4"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

// simulate's core indices and watchdog window are checked against their range, naming the option,
// before any simulation (a core the chip lacks was a bare "no core N" from the network); a text
// too short to score names the file.
TEST(CliFlow, SimulateOptionsOutsideTheirRangeAreRefused) {
  const fs::path dir = temp_dir();
  const std::string map = (dir / "range.stmap").string();
  ASSERT_EQ(run_cli("compile --objective cores --profile-tokens 0 -o " + map).status, 0);
  const std::string simulate = "simulate --map " + map + " --prompt-ids 3 -n 1 --progress off";
  const auto far_core = run_cli(simulate + " --trace " + (dir / "t.vcd").string() + " --trace-cores 0,100000");
  EXPECT_NE(far_core.status, 0);
  EXPECT_NE(far_core.output.find("--trace-cores: 100000 is not a core of the mapping's chip 'spiketile-default' "
                                 "(cores 0 to 255)"),
            std::string::npos)
      << far_core.output;
  EXPECT_FALSE(fs::exists(dir / "t.vcd"));
  // The same words as --rtl: a unit's name (its comma inside the brackets kept) or a core index;
  // a word that is neither is named; --trace and --trace-cores need each other.
  const auto inspected = nlohmann::json::parse(run_cli("inspect --json " + map).output);
  std::string unit_with_comma;
  for (const auto& c : inspected.at("placement"))
    if (c.at("unit").get<std::string>().find(',') != std::string::npos) unit_with_comma = c.at("unit");
  ASSERT_FALSE(unit_with_comma.empty());
  const auto by_name = run_cli(simulate + " --trace " + (dir / "n.vcd").string() + " --trace-cores '" + unit_with_comma + ",3'");
  EXPECT_EQ(by_name.status, 0) << by_name.output;
  EXPECT_TRUE(fs::exists(dir / "n.vcd"));
  const auto unknown = run_cli(simulate + " --trace " + (dir / "u.vcd").string() + " --trace-cores L9.nothing");
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.output.find("--trace-cores: 'L9.nothing' is neither a core index nor a unit of this mapping"),
            std::string::npos)
      << unknown.output;
  EXPECT_NE(run_cli(simulate + " --trace " + (dir / "alone.vcd").string()).output.find("--trace requires --trace-cores"),
            std::string::npos);
  EXPECT_NE(run_cli(simulate + " --trace-cores 3").output.find("--trace-cores requires --trace"), std::string::npos);
  const auto negative_watchdog = run_cli(simulate + " --watchdog-cycles -1");
  EXPECT_NE(negative_watchdog.status, 0);
  EXPECT_NE(negative_watchdog.output.find("--watchdog-cycles"), std::string::npos) << negative_watchdog.output;
  const fs::path one_char = dir / "one.txt";
  std::ofstream(one_char) << "a";
  const auto short_text = run_cli("simulate --map " + map + " --progress off --text " + one_char.string());
  EXPECT_NE(short_text.status, 0);
  EXPECT_NE(short_text.output.find(one_char.string() + ": 1 token of text; evaluation needs at least two"),
            std::string::npos)
      << short_text.output;
  fs::remove_all(dir);
}

TEST(CliFlow, DumpIrPrintsTheTokenGraph) {
  const auto r = run_cli("compile --dump-ir");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("L0.att.xk"), std::string::npos) << r.output.substr(0, 2000);
}

}  // namespace
}  // namespace spiketile
