// The spiketile binary end to end: options, output files and error messages.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "runtime/npy.hpp"
#include "tests/unit/cli_runner.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
const fs::path kFixtures = fs::path(SPIKETILE_TEST_DATA) / "fixtures";

using testing_cli::Result;
using testing_cli::run_cli;

TEST(Cli, RunWritesReferenceLogitsForPromptIds) {
  nlohmann::json expect;
  std::ifstream(kFixtures / "tiny_l3_c24_v300_bf16.expect.json") >> expect;
  const auto tokens = expect["tokens"].get<std::vector<int>>();
  std::string ids;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) ids += std::to_string(tokens[i]) + (i + 2 < tokens.size() ? "," : "");
  const std::string out = ::testing::TempDir() + "/cli_logits.npy";
  const Result r = run_cli("run --model " + (kFixtures / "tiny_l3_c24_v300_bf16.pth").string() + " --prompt-ids " + ids +
                           " -n 0 --logits-out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const NpyArray got = read_npy(out), ref = read_npy((kFixtures / "tiny_l3_c24_v300_bf16.logits.npy").string());
  ASSERT_EQ(got.shape, (std::vector<int64_t>{int64_t(tokens.size()) - 1, 300}));
  for (std::size_t i = 0; i < got.data.size(); ++i) ASSERT_NEAR(got.data[i], ref.data[i], 1e-5f * 40) << i;
}

// --lowercase: the shipped lowercase vocabulary reads "The " as "the " (the same logits), where
// without it the capital is read as space and stderr says lowercasing would keep it.
TEST(Cli, LowercaseReadsAMixedCasePromptAsItsLowercase) {
  const std::string dir = ::testing::TempDir();
  const std::string run = "run -n 2 --temperature 0 --quiet --logits-out ";
  const Result lowered = run_cli(run + dir + "/lowered.npy --prompt \"The \" --lowercase");
  const Result lower = run_cli(run + dir + "/lower.npy --prompt \"the \"");
  const Result as_given = run_cli(run + dir + "/as_given.npy --prompt \"The \"");
  ASSERT_EQ(lowered.status, 0) << lowered.output;
  ASSERT_EQ(lower.status, 0) << lower.output;
  ASSERT_EQ(as_given.status, 0) << as_given.output;
  EXPECT_EQ(read_npy(dir + "/lowered.npy").data, read_npy(dir + "/lower.npy").data);
  EXPECT_NE(read_npy(dir + "/as_given.npy").data, read_npy(dir + "/lower.npy").data);
  EXPECT_EQ(lowered.output.find("read as space"), std::string::npos) << lowered.output;
  EXPECT_NE(as_given.output.find("1 character of the prompt is not in the vocabulary"), std::string::npos)
      << as_given.output;
  EXPECT_NE(as_given.output.find("lowercased (--lowercase), 1 of them would be read as the vocabulary's letters"),
            std::string::npos)
      << as_given.output;
  const Result with_ids = run_cli("run -n 1 --prompt-ids 3 --lowercase");
  EXPECT_NE(with_ids.status, 0);
  EXPECT_NE(with_ids.output.find("--lowercase"), std::string::npos) << with_ids.output;
}

TEST(Cli, TextPromptOnAVocabularyWithoutTokenizerIsAClearError) {
  const Result r = run_cli("run --model " + (kFixtures / "tiny_l3_c24_v300_bf16.pth").string() + " --prompt hello -n 3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("has no text tokenizer; give the prompt with --prompt-ids"), std::string::npos) << r.output;
}

// --version prints the version the top-level CMakeLists.txt declares, and exits 0 without a
// subcommand.
TEST(Cli, VersionIsTheProjectVersion) {
  std::ifstream cmake(std::string(SPIKETILE_SOURCE_DIR) + "/CMakeLists.txt");
  std::stringstream text;
  text << cmake.rdbuf();
  std::smatch m;
  const std::string s = text.str();
  ASSERT_TRUE(std::regex_search(s, m, std::regex(R"(project\(spiketile VERSION ([0-9.]+))"))) << "no project() version";
  const Result r = run_cli("--version");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "spiketile " + m[1].str() + "\n");
}

TEST(Cli, BadPromptIdIsNamed) {
  const Result r = run_cli("run --model " + (kFixtures / "tiny_l2_c32_v77_fp32.pth").string() + " --prompt-ids 3,99 -n 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("token id 99 is outside the vocabulary [0, 77)"), std::string::npos) << r.output;
}

// Numeric options out of their range (negative counts and seeds, NaN) and an empty --prompt-ids
// are refused, naming the option, instead of running with a wrapped or meaningless value.
TEST(Cli, NumericOptionsOutsideTheirRangeAreRefused) {
  const std::string model = " --model " + (kFixtures / "tiny_l2_c32_v77_fp32.pth").string();
  const std::string text = (fs::path(SPIKETILE_TEST_DATA) / "heldout_excerpt.txt").string();
  const struct {
    std::string command, option;
  } cases[] = {
      {"eval" + model + " --text " + text + " --max-tokens -5", "--max-tokens"},
      {"run" + model + " --prompt-ids 3 -n 1 --sample-seed -1", "--sample-seed"},
      {"run" + model + " --prompt-ids 3 -n 1 --seed -1", "--seed"},
      {"run" + model + " --prompt-ids 3 -n 1 --top-p 0", "--top-p"},
      {"run" + model + " --prompt-ids 3 -n 1 --temperature nan", "--temperature"},
      {"run" + model + " --prompt-ids 3 -n 1 --top-p nan", "--top-p"},
      {"run" + model + " --prompt-ids '' -n 1", "--prompt-ids"},
      {"compile" + model + " --placement-effort nan --check", "--placement-effort"},
      {"compile" + model + " --firing-rate inf --check", "--firing-rate"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.command);
    const Result r = run_cli(c.command);
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(c.option), std::string::npos) << r.output;
  }
}

// A folder or an endless stream as a text input: an error naming it, or only what --max-tokens
// needs read, never an unbounded read or a bare library message.
TEST(Cli, TextInputsAreFilesAndBounded) {
  const std::string model = " --model " + (kFixtures / "tiny_l2_c32_v77_fp32.pth").string();
  const Result folder = run_cli("eval" + model + " --text " + ::testing::TempDir());
  EXPECT_NE(folder.status, 0);
  EXPECT_NE(folder.output.find("is a folder: expected a text file to encode"), std::string::npos) << folder.output;
  EXPECT_EQ(folder.output.find("underflow"), std::string::npos) << folder.output;
  // Too little text to evaluate names the file.
  const std::string empty = ::testing::TempDir() + "/spiketile_empty_text.txt";
  std::ofstream{empty};
  const Result too_short = run_cli("eval" + model + " --text " + empty);
  EXPECT_NE(too_short.status, 0);
  EXPECT_NE(too_short.output.find(empty + ": 0 tokens of text; evaluation needs at least two"), std::string::npos)
      << too_short.output;
  // Calibrating on no text wrote a calibration of zero ranges; it is refused, and nothing written.
  const std::string calibration = ::testing::TempDir() + "/spiketile_empty_text.calib.json";
  const Result no_ranges = run_cli("calibrate" + model + " --text " + empty + " -o " + calibration);
  EXPECT_NE(no_ranges.status, 0);
  EXPECT_NE(no_ranges.output.find(empty + ": 0 tokens of text; calibration needs at least one"), std::string::npos)
      << no_ranges.output;
  EXPECT_FALSE(fs::exists(calibration));
  const Result endless = run_cli("eval" + model + " --text /dev/zero");
  EXPECT_NE(endless.status, 0);
  EXPECT_NE(endless.output.find("'/dev/zero' is larger than 268435456 bytes"), std::string::npos) << endless.output;
  const Result bounded = run_cli("eval" + model + " --text /dev/zero --max-tokens 20");
  EXPECT_EQ(bounded.status, 0) << bounded.output;
  EXPECT_NE(bounded.output.find("tokens evaluated:  19"), std::string::npos) << bounded.output;
}

TEST(Cli, MissingCheckpointNamesTheFile) {
  const Result r = run_cli("inspect /nonexistent/model.pth");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("/nonexistent/model.pth"), std::string::npos) << r.output;
}

TEST(Cli, QuantizedWithoutCalibrationExplainsHowToCreateIt) {
  const Result r = run_cli("run --quantized --model " + (kFixtures / "tiny_l2_c32_v77_fp32.pth").string() + " -n 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("spiketile calibrate"), std::string::npos) << r.output;
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* sub : {"run", "eval", "inspect", "calibrate", "chip"}) {
    const Result r = run_cli(std::string(sub) + " --help");
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << sub << ": " << r.output;
  }
}

TEST(Cli, InspectPrintsInferredConfig) {
  const Result r = run_cli("inspect " + (kFixtures / "tiny_l8_c16_v77_fp16.pth").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("n_layer:           8"), std::string::npos);
  EXPECT_NE(r.output.find("blocks.7.ffn.value.weight"), std::string::npos);
  EXPECT_NE(r.output.find("float16"), std::string::npos);
}

// `spiketile chip` names the core's datapath, the router buffers and the power policy: the
// parameters the measured sweep chose (docs/chip.md) and what static energy is charged to.
TEST(Cli, ChipNamesItsDatapathBuffersAndPowerPolicy) {
  const fs::path chips = fs::path(SPIKETILE_SOURCE_DIR) / "chips";
  const Result shipped = run_cli("chip " + (chips / "default.yaml").string());
  ASSERT_EQ(shipped.status, 0) << shipped.output;
  EXPECT_NE(shipped.output.find("core datapath:     256-bit synapse reads, 32 neuron-unit lanes, 4 SFU(s); axon queue 64"),
            std::string::npos)
      << shipped.output;
  EXPECT_NE(shipped.output.find("router buffers 16 flits per port, bursts of up to 16"), std::string::npos) << shipped.output;
  EXPECT_NE(shipped.output.find("power gating:      core (a switched-off tile draws 5 % of its static power)"),
            std::string::npos)
      << shipped.output;
  const Result tiny = run_cli("chip " + (chips / "tiny.yaml").string());
  ASSERT_EQ(tiny.status, 0) << tiny.output;
  EXPECT_NE(tiny.output.find("power gating:      none"), std::string::npos) << tiny.output;
  // The packet as it travels: kind 1 + burst 1 + destination max(2 + 3 + 3 address, 8 route-id
  // bits) + 8 axon + 8 payload bits on the default chip (bursts of 16); 1 + 4 (max(0 + 1 + 1, 4))
  // + 4 + 8 = 17 on tiny (one chip: no chip bits), which sends no bursts.
  EXPECT_NE(shipped.output.find("event packet:      26 bits in a 32-bit flit (its burst bit included)"),
            std::string::npos)
      << shipped.output;
  EXPECT_NE(tiny.output.find("event packet:      17 bits in a 32-bit flit;"), std::string::npos) << tiny.output;
}

// One vocabulary (README): seeds named by purpose with the former --seed as a hidden alias giving
// the same run, --quiet for every summary (--quiet-stats its former spelling), the file of
// inspect and chip by the names other commands use, --progress only where asked or on a terminal.
TEST(Cli, OneVocabularyWithFormerSpellingsAsHiddenAliases) {
  const std::string model = " --model " + (kFixtures / "tiny_l2_c32_v77_fp32.pth").string();
  const std::string sample = "run" + model + " --prompt-ids 3,4 -n 12 --temperature 1";
  const Result by_purpose = run_cli(sample + " --sample-seed 7 --quiet");
  const Result former = run_cli(sample + " --seed 7 --quiet-stats");
  const Result other_seed = run_cli(sample + " --sample-seed 8 --quiet");
  ASSERT_EQ(by_purpose.status, 0) << by_purpose.output;
  ASSERT_EQ(former.status, 0) << former.output;
  EXPECT_EQ(by_purpose.output, former.output);
  EXPECT_NE(by_purpose.output, other_seed.output) << "the seed changes the sample";
  EXPECT_EQ(by_purpose.output.find("tokens/s"), std::string::npos) << "--quiet silences the summary: " << by_purpose.output;
  const Result both = run_cli(sample + " --sample-seed 7 --seed 7");
  EXPECT_NE(both.status, 0);
  EXPECT_NE(both.output.find("--seed: is the former spelling of --sample-seed"), std::string::npos) << both.output;
  const Result help = run_cli("run --help");
  EXPECT_NE(help.output.find("--sample-seed"), std::string::npos);
  EXPECT_EQ(help.output.find("--seed "), std::string::npos) << "the former spelling stays out of the help";
  EXPECT_EQ(help.output.find("--quiet-stats"), std::string::npos);
  EXPECT_NE(run_cli("compile --help").output.find("--placement-seed"), std::string::npos);
  EXPECT_NE(run_cli("verify-rtl --help").output.find("--stimulus-seed"), std::string::npos);

  const std::string checkpoint = (kFixtures / "tiny_l2_c32_v77_fp32.pth").string();
  const Result positional = run_cli("inspect " + checkpoint), named = run_cli("inspect -m " + checkpoint);
  ASSERT_EQ(named.status, 0) << named.output;
  EXPECT_EQ(positional.output, named.output);
  const std::string chip = (fs::path(SPIKETILE_SOURCE_DIR) / "chips" / "tiny.yaml").string();
  const Result chip_named = run_cli("chip -c " + chip);
  ASSERT_EQ(chip_named.status, 0) << chip_named.output;
  EXPECT_EQ(run_cli("chip " + chip).output, chip_named.output);

  const std::string text = (fs::path(SPIKETILE_TEST_DATA) / "heldout_excerpt.txt").string();
  const Result progress = run_cli("eval" + model + " --text " + text + " --max-tokens 1100 --progress on");
  ASSERT_EQ(progress.status, 0) << progress.output;
  EXPECT_NE(progress.output.find("[eval] 1024/"), std::string::npos) << progress.output;
  const Result redirected = run_cli("eval" + model + " --text " + text + " --max-tokens 1100");
  ASSERT_EQ(redirected.status, 0) << redirected.output;
  EXPECT_EQ(redirected.output.find('\r'), std::string::npos) << "no progress lines into a redirected stream";
  const std::string calibration = ::testing::TempDir() + "/spiketile_progress.calib.json";
  const Result calibrating = run_cli("calibrate" + model + " --text " + text + " --max-tokens 1100 --progress on -o " + calibration);
  ASSERT_EQ(calibrating.status, 0) << calibrating.output;
  EXPECT_NE(calibrating.output.find("\r\033[K[calibrate] 1024/1100 tokens"), std::string::npos) << calibrating.output;
  const Result compiling = run_cli("compile" + model + " --calibration " + calibration +
                                   " --search-steps 2 --profile-tokens 2 --check --progress on");
  ASSERT_EQ(compiling.status, 0) << compiling.output;
  EXPECT_NE(compiling.output.find("\r\033[K[compile] objective latency: split 1 tried (at most 2)"), std::string::npos)
      << compiling.output;
  fs::remove(calibration);
  const std::string verify = "verify-rtl --config small --cycles 40000 --skip-backends --skip-loop";
  const Result verifying = run_cli(verify + " --progress on");
  ASSERT_EQ(verifying.status, 0) << verifying.output;
  EXPECT_NE(verifying.output.find("\r\033[K[verify-rtl] bench: 16384/40000 cycles"), std::string::npos)
      << verifying.output;
  EXPECT_EQ(run_cli(verify).output.find('\r'), std::string::npos) << "no progress lines into a redirected stream";
}

// A mapping runs as compiled: the options it fixed are refused by name, not silently ignored, and a
// NIR graph's mapping asks for its input instead of a prompt.
TEST(Cli, OptionsTheMappingFixedAreRefusedWithMap) {
  const std::string checkpoint = (kFixtures / "tiny_l2_c32_v77_fp32.pth").string();
  const std::string map = ::testing::TempDir() + "/spiketile_fixed_options.stmap";
  const std::string calibration = ::testing::TempDir() + "/spiketile_fixed_options.calib.json";
  ASSERT_EQ(run_cli("calibrate --model " + checkpoint + " --text " +
                    (fs::path(SPIKETILE_TEST_DATA) / "heldout_excerpt.txt").string() + " --max-tokens 300 -o " + calibration)
                .status,
            0);
  const Result compiled = run_cli("compile --model " + checkpoint + " --calibration " + calibration +
                                  " --objective cores --profile-tokens 0 -o " + map);
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  ASSERT_EQ(run_cli("run --map " + map + " --prompt-ids 3 -n 2 --quiet").status, 0);
  for (const std::string& option :
       std::vector<std::string>{"--weight-bits 4", "--model " + checkpoint, "--quantized", "--no-rescale"}) {
    SCOPED_TRACE(option);
    const Result r = run_cli("run --map " + map + " --prompt-ids 3 -n 2 " + option);
    EXPECT_NE(r.status, 0);
    const std::string flag = option.substr(0, option.find(' '));
    EXPECT_NE(r.output.find(flag + ": was fixed when the mapping was compiled"), std::string::npos) << r.output;
  }
  const Result nir = run_cli("compile --nir " + (fs::path(SPIKETILE_TEST_DATA) / "nir" / "lif.nir").string() +
                             " --dt 1e-4 --calibrate " + (fs::path(SPIKETILE_TEST_DATA) / "nir" / "lif.input.npy").string() +
                             " -o " + map);
  ASSERT_EQ(nir.status, 0) << nir.output;
  const Result prompt = run_cli("run --map " + map + " --prompt-ids 3 -n 2");
  EXPECT_NE(prompt.status, 0);
  EXPECT_NE(prompt.output.find("it runs time steps from an input (run --map MAP --input IN.npy"), std::string::npos)
      << prompt.output;
  fs::remove(map);
  fs::remove(calibration);
}

}  // namespace
}  // namespace spiketile
