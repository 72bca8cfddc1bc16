// A SpikeGPT trained on one's own corpus, with its own character vocabulary (upstream's vocab.json
// beside the checkpoint, or --tokenizer): evaluated against PyTorch, calibrated, compiled and
// simulated from the mapping alone; token ids for vocabularies without a tokenizer; and every
// error that would otherwise shift ids without a word.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/cli_runner.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using testing_cli::Result;
using testing_cli::run_cli;

const fs::path kOwnVocab = fs::path(SPIKETILE_TEST_DATA) / "own_vocab";
const fs::path kFixtures = fs::path(SPIKETILE_TEST_DATA) / "fixtures";
const fs::path kSharedData = fs::path(SPIKETILE_SHARED_DIR) / "data";

#define EXPECT_CONTAINS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

nlohmann::json expect() { return nlohmann::json::parse(test_fixtures::read_text(kOwnVocab / "expect.json")); }

// A fresh folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / (std::string("spiketile_vocab_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path_ / name, std::ios::binary) << bytes;
    return (path_ / name).string();
  }

 private:
  fs::path path_;
};

// A 1-D .npy array of little-endian integers of `bytes` bytes each (format 1.0: the 10-byte
// preamble and the header end on a multiple of 64).
std::string integer_npy(const std::vector<int64_t>& values, char kind, int bytes) {
  std::string header = "{'descr': '" + std::string(bytes == 1 ? "|" : "<") + kind + std::to_string(bytes) +
                       "', 'fortran_order': False, 'shape': (" + std::to_string(values.size()) + ",), }";
  header.resize((10 + header.size() + 1 + 63) / 64 * 64 - 10 - 1, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += char(header.size() & 0xFF);
  out += char(header.size() >> 8);
  out += header;
  for (const int64_t v : values) out.append(reinterpret_cast<const char*>(&v), std::size_t(bytes));
  return out;
}

std::string joined(const std::vector<int>& ids, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? separator : "") + std::to_string(ids[i]);
  return out;
}

// "BPC:               7.467425" -> 7.467425
double bpc_in(const std::string& output) {
  const auto at = output.find("BPC:");
  return at == std::string::npos ? -1.0 : std::stod(output.substr(at + 4));
}

const std::string kModel = " --model " + (kOwnVocab / "model.pth").string();

// The bits per character of the sample on the float golden model agree with the independent
// PyTorch computation (scripts/make_vocab_fixture.py), the text encoded with the vocab.json found
// beside the checkpoint.
TEST(CliOwnVocabulary, EvalBpcAgreesWithPyTorch) {
  TempDir dir;
  const std::string json = dir / "eval.json";
  const Result r = run_cli("eval" + kModel + " --text " + (kOwnVocab / "sample.txt").string() + " --json " + json);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "BPC:");
  const auto j = nlohmann::json::parse(std::ifstream(json));
  EXPECT_EQ(j.at("unit"), "bits per character");
  EXPECT_EQ(j.at("tokens_evaluated"), expect().at("tokens_evaluated"));
  EXPECT_NEAR(j.at("bits_per_token").get<double>(), expect().at("bpc").get<double>(), 1e-4);
  EXPECT_EQ(j.at("unknown_characters_replaced"), 0);
  EXPECT_EQ(j.at("tokenizer").at("path"), (kOwnVocab / "vocab.json").string());
  EXPECT_EQ(j.at("tokenizer").at("rule"), "vocab.json beside the checkpoint");
  EXPECT_EQ(j.at("tokenizer").at("kind"), "character vocabulary");
}

// The same sequence given as ids (text, or .npy of several integer dtypes) scores the same; ids
// are checked against the vocabulary by position, and --ids excludes --text.
TEST(CliOwnVocabulary, EvalAndCalibrateTakeTokenIds) {
  TempDir dir;
  const std::vector<int> tokens = expect().at("tokens").get<std::vector<int>>();
  const double bpc = expect().at("bpc").get<double>();
  std::vector<int64_t> wide(tokens.begin(), tokens.end());
  const std::string as_text = dir.write("ids.txt", joined(tokens, " \n\t"));
  for (const std::string& ids : {as_text, dir.write("i64.npy", integer_npy(wide, 'i', 8)),
                                 dir.write("u8.npy", integer_npy(wide, 'u', 1)), dir.write("i16.npy", integer_npy(wide, 'i', 2))}) {
    const Result r = run_cli("eval" + kModel + " --ids " + ids);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_CONTAINS(r.output, "ids:               " + ids);
    EXPECT_NEAR(bpc_in(r.output), bpc, 1e-4) << r.output;
  }
  std::vector<int> bad = tokens;
  bad[3] = 108;
  Result r = run_cli("eval" + kModel + " --ids " + dir.write("bad.txt", joined(bad, " ")));
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, dir / "bad.txt" + ": token id 108 at position 3 (counting from 0) is outside the vocabulary [0, 108)");
  r = run_cli("eval" + kModel + " --ids " + dir.write("word.txt", "3 4 five 6"));
  EXPECT_CONTAINS(r.output, dir / "word.txt" + ": item 2 (counting from 0), 'five', is not an integer token id");
  r = run_cli("eval" + kModel + " --ids " + dir.write("negative.npy", integer_npy({3, -1}, 'i', 4)));
  EXPECT_CONTAINS(r.output, "token id -1 at position 1 (counting from 0) is outside the vocabulary [0, 108)");
  r = run_cli("eval" + kModel + " --ids " + as_text + " --text " + (kOwnVocab / "sample.txt").string());
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, "--text excludes --ids");
  r = run_cli("eval" + kModel);
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, "--text or --ids is required");
  r = run_cli("eval" + kModel + " --ids " + dir.write("one.txt", "5"));
  EXPECT_CONTAINS(r.output, dir / "one.txt" + ": 1 token id; evaluation needs at least two");

  // A vocabulary of no tokenizer at all (300 ids): calibrated and evaluated on ids alone.
  const std::string v300 = " --model " + (kFixtures / "tiny_l3_c24_v300_bf16.pth").string();
  const std::string calibration = dir / "v300.calib.json";
  const std::string v300_ids = dir.write("v300.txt", "17 299 0 5 42 42 7 250 3 1");
  r = run_cli("calibrate" + v300 + " --ids " + v300_ids + " -o " + calibration);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "calibrated on 10 tokens of " + v300_ids);
  EXPECT_TRUE(fs::exists(calibration));
  r = run_cli("eval" + v300 + " --quantized --calibration " + calibration + " --ids " + v300_ids);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "tokens evaluated:  9");
  EXPECT_CONTAINS(r.output, "bits/token:");
  r = run_cli("eval" + v300 + " --text " + (kOwnVocab / "sample.txt").string());
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, "vocabulary of 300 tokens has no tokenizer to encode");
  EXPECT_CONTAINS(r.output, "give one with --tokenizer, or token ids with --ids");
}

// A vocabulary with a space reads an unknown character as space and says how many; one without a
// space refuses it, naming the character, its position and the vocabulary file.
TEST(CliOwnVocabulary, UnknownCharactersAreCountedOrRefused) {
  TempDir dir;
  const std::string text = dir.write("text.txt", "Gr\xC3\xBC\xC3\x9F" "e $ aus K\xC3\xB6ln ~\n");
  const std::string json = dir / "eval.json";
  Result r = run_cli("eval" + kModel + " --text " + text + " --json " + json);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "spiketile: note: 2 characters of " + text + " are not in the vocabulary " +
                                (kOwnVocab / "vocab.json").string() +
                                " and read as space (the first, '$' (U+0024), at line 1, column 7 (character 6, "
                                "counting from 0))");
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(json)).at("unknown_characters_replaced"), 2);
  r = run_cli("run" + kModel + " --prompt 'a$b' -n 1 --quiet-stats");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "1 character of the prompt is not in the vocabulary");

  // The same vocabulary with '~' in place of the space: 108 ids still, none of them a space.
  std::string vocab_text;
  {
    std::ifstream in(kOwnVocab / "vocab.json", std::ios::binary);
    vocab_text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string space_entry = std::string("\"\0 \0\"\0", 6);  // UTF-16 LE: " "
  const auto at = vocab_text.find(std::string(":\0 \0", 4) + space_entry);
  ASSERT_NE(at, std::string::npos);
  vocab_text.replace(at + 4 + 2, 2, std::string("~\0", 2));
  const std::string no_space = dir.write("no_space.json", vocab_text);
  r = run_cli("eval" + kModel + " --tokenizer " + no_space + " --text " + text);
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, text + ": character ' ' (U+0020) at line 1, column 6 (character 5, counting from 0) is not in "
                                   "the vocabulary " + no_space + ", which has no space to read unknown characters as");
  r = run_cli("run" + kModel + " --tokenizer " + no_space + " --prompt 'Gr ' -n 1");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, "--prompt: character ' ' (U+0020) at line 1, column 3");
}

TEST(CliOwnVocabulary, ATokenizerOfAnotherSizeIsRefused) {
  const Result r = run_cli("run" + kModel + " --tokenizer " + (kSharedData / "vocab_book.json").string() + " -n 1");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, "vocab_book.json' (given with --tokenizer) has 77 ids, but the model's vocabulary has 108");
  // vocab.json beside the checkpoint is taken whatever the checkpoint: one of another size is an error, not skipped.
  TempDir dir;
  fs::copy_file(kFixtures / "tiny_l2_c32_v77_fp32.pth", dir / "model.pth");
  fs::copy_file(kOwnVocab / "vocab.json", dir / "vocab.json");
  const Result beside = run_cli("run --model " + dir / "model.pth" + " --prompt-ids 3 -n 1");
  EXPECT_NE(beside.status, 0);
  EXPECT_CONTAINS(beside.output, "(vocab.json beside the checkpoint) has 108 ids, but the model's vocabulary has 77");
}

// inspect names the tokenizer text would be encoded with, and the rule that chose it.
TEST(CliOwnVocabulary, InspectNamesTheTokenizerAndItsRule) {
  Result r = run_cli("inspect" + std::string(" ") + (kOwnVocab / "model.pth").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "tokenizer:         " + (kOwnVocab / "vocab.json").string() +
                                " (character vocabulary, 108 ids; vocab.json beside the checkpoint)");
  r = run_cli("inspect");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "tokenizer:         " + (kSharedData / "vocab_book.json").string() +
                                " (character vocabulary, 77 ids; the shipped 77-character book vocabulary, chosen by "
                                "the vocabulary size 77)");
  r = run_cli("inspect " + (kFixtures / "tiny_l3_c24_v300_bf16.pth").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "tokenizer:         none (no --tokenizer, no vocab.json beside the checkpoint, and no "
                            "shipped tokenizer has 300 ids");
  r = run_cli("inspect " + (kOwnVocab / "model.pth").string() + " --tokenizer " + (kSharedData / "vocab_book.json").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "tokenizer:         none usable: tokenizer '");
  EXPECT_CONTAINS(r.output, "has 77 ids, but the model's vocabulary has 108");
}

// The whole flow on the model with its own vocabulary: calibrate on its corpus, compile, then
// run and simulate the mapping with the checkpoint and its vocab.json gone, the text encoded
// and decoded with the tokenizer the mapping records; a different tokenizer is refused by name.
TEST(CliOwnVocabulary, CompileThenSimulateFromTheMappingAlone) {
  TempDir dir;
  fs::copy_file(kOwnVocab / "model.pth", dir / "model.pth");
  fs::copy_file(kOwnVocab / "vocab.json", dir / "vocab.json");
  const std::string model = " --model " + dir / "model.pth";
  Result r = run_cli("calibrate" + model + " --text " + (kOwnVocab / "corpus.txt").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string map = dir / "own.stmap";
  r = run_cli("compile" + model + " --objective cores --profile-tokens 4 -o " + map);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "tokenizer:           character vocabulary of 108 ids from " + dir / "vocab.json" +
                                " (vocab.json beside the checkpoint), recorded in the mapping");
  const std::string gen = " --prompt 'Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln, \xE6\x97\xA5 \xF0\x9D\x84\x9E' -n 12 --temperature 0 --quiet-stats";
  const Result functional = run_cli("run --quantized" + model + gen);
  ASSERT_EQ(functional.status, 0) << functional.output;
  EXPECT_EQ(functional.output.rfind("Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln, \xE6\x97\xA5 \xF0\x9D\x84\x9E", 0), 0u)
      << functional.output;

  fs::remove(dir / "model.pth");
  fs::remove(dir / "vocab.json");
  const Result mapped = run_cli("run --map " + map + gen);
  const Result simulated = run_cli("simulate --map " + map + gen + " --progress off");
  ASSERT_EQ(mapped.status, 0) << mapped.output;
  ASSERT_EQ(simulated.status, 0) << simulated.output;
  EXPECT_EQ(mapped.output, functional.output);
  EXPECT_EQ(simulated.output, functional.output);
  const Result scored = run_cli("simulate --map " + map + " --text " + (kOwnVocab / "sample.txt").string() +
                                " --max-tokens 24 --progress off --quiet-stats");
  ASSERT_EQ(scored.status, 0) << scored.output;
  EXPECT_CONTAINS(scored.output, "tokens evaluated:  23");
  EXPECT_GT(bpc_in(scored.output), 0.0) << scored.output;

  r = run_cli("inspect " + map + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto summary = nlohmann::json::parse(r.output).at("tokenizer");
  EXPECT_EQ(summary.at("kind"), "character vocabulary");
  EXPECT_EQ(summary.at("rule"), "vocab.json beside the checkpoint");

  // The same vocabulary in another byte order is the same tokenizer; another one is refused by name.
  std::string little_endian;
  {
    std::ifstream in(kOwnVocab / "vocab.json", std::ios::binary);
    little_endian.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string big_endian = little_endian;
  for (std::size_t i = 0; i + 1 < big_endian.size(); i += 2) std::swap(big_endian[i], big_endian[i + 1]);
  const Result same = run_cli("run --map " + map + " --tokenizer " + dir.write("be.json", big_endian) + gen);
  EXPECT_EQ(same.output, functional.output);
  std::string swapped = little_endian;
  const std::string a = std::string(":\0 \0\"\0a\0", 8), b = std::string(":\0 \0\"\0b\0", 8);
  const auto at_a = swapped.find(a), at_b = swapped.find(b);
  ASSERT_NE(at_a, std::string::npos);
  ASSERT_NE(at_b, std::string::npos);
  swapped.replace(at_a, a.size(), b);
  swapped.replace(at_b, b.size(), a);
  const std::string other = dir.write("swapped.json", swapped);
  const Result refused = run_cli("simulate --map " + map + " --tokenizer " + other + gen + " --progress off");
  EXPECT_NE(refused.status, 0);
  EXPECT_CONTAINS(refused.output, "is \"a\" against \"b\" (the recorded one against " + other + ")");
  const Result book = run_cli("simulate --map " + map + " --tokenizer " + (kSharedData / "vocab_book.json").string() +
                              " --prompt-ids 3 -n 1 --progress off");
  EXPECT_NE(book.status, 0);
  EXPECT_CONTAINS(book.output, "--tokenizer " + (kSharedData / "vocab_book.json").string() + " is not the tokenizer " +
                                   map + " was compiled with (" + dir / "vocab.json" +
                                   ", vocab.json beside the checkpoint): 108 entries against 77 (the recorded one "
                                   "against " + (kSharedData / "vocab_book.json").string() + ")");
  const Result own = run_cli("run --map " + map + " --tokenizer " + (kOwnVocab / "vocab.json").string() +
                             " --prompt-ids 3 -n 1 --quiet-stats");
  EXPECT_EQ(own.status, 0) << own.output;
}

// A mapping compiled before the record (format version 3: the fuzz corpus keeps one of the 77-id
// fixture) still runs text, with the shipped tokenizer of its size or a --tokenizer of that size.
TEST(CliOwnVocabulary, Version3MappingsFallBackToTheShippedTokenizerBySize) {
  const std::string old_map = (fs::path(SPIKETILE_FUZZ_INPUTS) / "corpus" / "mapping" / "l2_c32_default_chip.stmap").string();
  Result r = run_cli("run --map " + old_map + " --prompt 'hello' -n 4 --temperature 0 --quiet-stats");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.rfind("hello", 0), 0u) << r.output;
  r = run_cli("inspect " + old_map);
  EXPECT_CONTAINS(r.output, "tokenizer:           none recorded (mapping format version 3)");
  r = run_cli("run --map " + old_map + " --tokenizer " + (kOwnVocab / "vocab.json").string() + " --prompt 'hello' -n 1");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.output, "has 108 ids, but the model's vocabulary has 77");
  r = run_cli("run --map " + old_map + " --tokenizer " + (kSharedData / "vocab_book.json").string() +
              " --prompt 'hello' -n 4 --temperature 0 --quiet-stats");
  ASSERT_EQ(r.status, 0) << r.output;
}

}  // namespace
}  // namespace spiketile
