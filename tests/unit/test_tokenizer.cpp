// Tokenizers against reference ids: tests/data/tokenizer/*_expected.json were produced by
// scripts/tokenizer_reference/encode_sample.mjs (Hugging Face tokenizers, Node binding).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "models/tokenizer.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;

const std::string kTokenizerTestData = std::string(SPIKETILE_TEST_DATA) + "/tokenizer";
const std::string kSharedData = std::string(SPIKETILE_SHARED_DIR) + "/data";

using test_fixtures::read_text;

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text(path)); }

// Loading the 2.5 MB BPE JSON takes a moment; every test shares one instance.
const Tokenizer& neox_bpe() {
  static const std::unique_ptr<Tokenizer> tokenizer = load_bpe_tokenizer(kSharedData + "/20B_tokenizer.json");
  return *tokenizer;
}

const Tokenizer& book_chars() {
  static const std::unique_ptr<Tokenizer> tokenizer = load_char_tokenizer(kSharedData + "/vocab_book.json");
  return *tokenizer;
}

std::vector<int> ids_of(const nlohmann::json& test_case) { return test_case.at("ids").get<std::vector<int>>(); }

// A fresh folder per test for files written to provoke loader errors.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(::testing::TempDir()) / (std::string("spiketile_tokenizer_") + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }
  // A folder named like the file a loader expects.
  std::string folder(const std::string& name) const {
    const fs::path folder = path_ / name;
    fs::create_directories(folder);
    return folder.string();
  }

 private:
  fs::path path_;
};

std::string utf16le_with_bom(const std::u16string& text) {
  std::string bytes = "\xFF\xFE";
  for (const char16_t unit : text) {
    bytes.push_back(static_cast<char>(unit & 0xFF));
    bytes.push_back(static_cast<char>(unit >> 8));
  }
  return bytes;
}

// Runs `load` and returns the runtime_error message; fails the test if nothing is thrown.
template <typename Load>
std::string load_error(Load load) {
  try {
    load();
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected std::runtime_error";
  return {};
}

// ---------------------------------------------------------------- GPT-NeoX BPE

TEST(BpeTokenizer, MatchesHuggingFaceOnMultilingualSample) {
  const nlohmann::json expected = read_json(kTokenizerTestData + "/bpe_expected.json");
  ASSERT_GE(expected.at("cases").size(), 15u);
  for (const nlohmann::json& test_case : expected.at("cases")) {
    SCOPED_TRACE(test_case.at("name").get<std::string>());
    EXPECT_EQ(neox_bpe().encode(test_case.at("text").get<std::string>()), ids_of(test_case));
  }
}

TEST(BpeTokenizer, DecodeRoundTripsToNfcText) {
  const nlohmann::json expected = read_json(kTokenizerTestData + "/bpe_expected.json");
  for (const nlohmann::json& test_case : expected.at("cases")) {
    SCOPED_TRACE(test_case.at("name").get<std::string>());
    const std::string decoded = neox_bpe().decode(neox_bpe().encode(test_case.at("text").get<std::string>()));
    EXPECT_EQ(decoded, test_case.at("nfc").get<std::string>());
    EXPECT_EQ(neox_bpe().decode(ids_of(test_case)), test_case.at("decoded").get<std::string>());
  }
}

TEST(BpeTokenizer, AddedTokenFlagsMatchHuggingFace) {
  const nlohmann::json expected = read_json(kTokenizerTestData + "/bpe_added_token_flags_expected.json");
  nlohmann::json config = read_json(kSharedData + "/20B_tokenizer.json");
  for (const nlohmann::json& change : expected.at("modifications")) {
    bool applied = false;
    for (nlohmann::json& token : config.at("added_tokens")) {
      if (token.at("content") == change.at("content")) {
        token.update(change);
        applied = true;
      }
    }
    ASSERT_TRUE(applied) << change.dump();
  }
  const std::unique_ptr<Tokenizer> tokenizer = load_bpe_tokenizer_from_json(config.dump(), "modified 20B_tokenizer.json");
  for (const nlohmann::json& test_case : expected.at("cases")) {
    SCOPED_TRACE(test_case.at("text").dump());
    EXPECT_EQ(tokenizer->encode(test_case.at("text").get<std::string>()), ids_of(test_case));
  }
}

TEST(BpeTokenizer, VocabularyAndKnownTokens) {
  const Tokenizer& bpe = neox_bpe();
  EXPECT_EQ(bpe.vocab_size(), 50277);
  EXPECT_EQ(bpe.encode("\n"), std::vector<int>{187});  // SpikeGPT's run.py asserts this
  EXPECT_EQ(bpe.token_bytes(187), "\n");
  EXPECT_EQ(bpe.token_bytes(0), "<|endoftext|>");
  EXPECT_EQ(bpe.token_bytes(1), "<|padding|>");
  EXPECT_EQ(bpe.token_bytes(50276), "  ");
  EXPECT_EQ(bpe.token_bytes(50254), std::string(24, ' '));
  EXPECT_EQ(bpe.encode("Hello world"), (std::vector<int>{12092, 1533}));
  EXPECT_EQ(bpe.encode("a  b"), (std::vector<int>{66, 50276, 67}));  // the two-space added token
  EXPECT_EQ(bpe.encode(""), std::vector<int>{});
  EXPECT_THROW(bpe.token_bytes(-1), std::out_of_range);
  EXPECT_THROW(bpe.token_bytes(50277), std::out_of_range);
}

TEST(BpeTokenizer, TokenBytesCanBePartialUtf8) {
  // "龘" is three bytes that BPE splits; streaming output must join bytes before printing.
  const std::vector<int> ids = neox_bpe().encode("\u9F98");
  ASSERT_GT(ids.size(), 1u);
  std::string joined;
  for (const int id : ids) joined += neox_bpe().token_bytes(id);
  EXPECT_EQ(joined, "\u9F98");
}

TEST(BpeTokenizer, IllFormedUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(neox_bpe().encode("a\xFF b"), neox_bpe().encode("a\uFFFD b"));
  EXPECT_EQ(neox_bpe().encode("x\xE2\x82"), neox_bpe().encode("x\uFFFD"));
}

TEST(BpeTokenizer, ConcurrentEncodingAgrees) {
  const std::string text = read_text(kTokenizerTestData + "/sample.txt");
  const std::vector<int> reference = neox_bpe().encode(text);
  std::vector<std::vector<int>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] {
      for (int repeat = 0; repeat < 5; ++repeat) result = neox_bpe().encode(text);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, reference);
}

TEST(BpeTokenizer, EncodesMegabytesQuickly) {
  // The NFC form of the sample, so that decoding must give back exactly the input.
  std::string nfc_sample;
  const nlohmann::json expected = read_json(kTokenizerTestData + "/bpe_expected.json");
  for (const nlohmann::json& test_case : expected.at("cases")) {
    if (test_case.at("name").get<std::string>() == "whole_sample_file") nfc_sample = test_case.at("nfc").get<std::string>();
  }
  ASSERT_FALSE(nfc_sample.empty());
  std::string text;
  for (int copy = 0; text.size() < (2u << 20); ++copy) text += "Copy " + std::to_string(copy) + ":\n" + nfc_sample;

  const auto start = std::chrono::steady_clock::now();
  const std::vector<int> ids = neox_bpe().encode(text);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[   INFO   ] BPE encoded " << text.size() / 1e6 << " MB into " << ids.size() << " ids in " << seconds
            << " s\n";
  EXPECT_LT(seconds, 20.0);  // generous for a shared 2-core VM; a Release build needs well under a second
  EXPECT_EQ(neox_bpe().decode(ids), text);
}

// tokenizers drops an empty added token and lets a repeated one shadow the first, silently; we
// refuse both, naming the file. JSON nested without bound is refused before it can overflow the
// stack.
TEST(BpeTokenizer, AddedTokensAreNonEmptyAndUniqueAndNestingIsBounded) {
  const nlohmann::json config = read_json(kSharedData + "/20B_tokenizer.json");
  auto message_for = [](const nlohmann::json& edited) {
    return load_error([&] { load_bpe_tokenizer_from_json(edited.dump(), "edited.json"); });
  };
  nlohmann::json empty = config;
  empty["added_tokens"][0]["content"] = "";
  EXPECT_NE(message_for(empty).find("added token 0 has empty content"), std::string::npos) << message_for(empty);
  nlohmann::json twice = config;
  twice["added_tokens"].push_back(config["added_tokens"][1]);
  EXPECT_NE(message_for(twice).find("added token id 1 appears twice"), std::string::npos) << message_for(twice);
  nlohmann::json shadow = config;
  nlohmann::json copy = config["added_tokens"][1];
  copy["id"] = 60000;
  shadow["added_tokens"].push_back(copy);
  EXPECT_NE(message_for(shadow).find("added token 60000 repeats the content of an earlier one"), std::string::npos)
      << message_for(shadow);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string message = load_error([&] { load_bpe_tokenizer_from_json(deep, "deep.json"); });
  EXPECT_NE(message.find("deep.json: JSON nests deeper than 32 levels"), std::string::npos) << message;
}

TEST(BpeTokenizer, LoadErrorsNameTheFileAndTheExpectation) {
  ScratchDir scratch;
  const std::string missing = "/nonexistent/20B_tokenizer.json";
  std::string message = load_error([&] { load_bpe_tokenizer(missing); });
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find("expected"), std::string::npos) << message;

  const std::string malformed = scratch.write("malformed.json", "{\"model\": {\"type\": \"BPE\",");
  message = load_error([&] { load_bpe_tokenizer(malformed); });
  EXPECT_NE(message.find(malformed), std::string::npos) << message;
  EXPECT_NE(message.find("malformed JSON"), std::string::npos) << message;

  const std::string no_model = scratch.write("no_model.json", R"({"version": "1.0", "added_tokens": []})");
  message = load_error([&] { load_bpe_tokenizer(no_model); });
  EXPECT_NE(message.find("model"), std::string::npos) << message;

  const std::string wrong_types = scratch.write(
      "wrong_types.json", R"({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": "no"}, "model": {"vocab": {}, "merges": []}})");
  message = load_error([&] { load_bpe_tokenizer(wrong_types); });
  EXPECT_NE(message.find(wrong_types), std::string::npos) << message;

  const std::string word_piece = scratch.write(
      "wordpiece.json", R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "WordPiece", "vocab": {}}})");
  message = load_error([&] { load_bpe_tokenizer(word_piece); });
  EXPECT_NE(message.find("WordPiece"), std::string::npos) << message;

  // The char vocabulary is not a BPE tokenizer file.
  EXPECT_THROW(load_bpe_tokenizer(kSharedData + "/vocab_book.json"), std::runtime_error);

  // A folder where the file belongs is named, never a bare "basic_filebuf::underflow error".
  const std::string folder = scratch.folder("20B_tokenizer.json");
  message = load_error([&] { load_bpe_tokenizer(folder); });
  EXPECT_NE(message.find("'" + folder + "' is a folder"), std::string::npos) << message;
  EXPECT_EQ(message.find("underflow"), std::string::npos) << message;
}

// ---------------------------------------------------------------- 77-character vocabulary

TEST(CharTokenizer, MatchesIndependentLookupOnSample) {
  const nlohmann::json expected = read_json(kTokenizerTestData + "/char_expected.json");
  EXPECT_EQ(book_chars().vocab_size(), expected.at("vocab_size").get<int>());
  for (const nlohmann::json& test_case : expected.at("cases")) {
    SCOPED_TRACE(test_case.at("name").get<std::string>());
    EXPECT_EQ(book_chars().encode(test_case.at("text").get<std::string>()), ids_of(test_case));
  }
}

TEST(CharTokenizer, VocabularySpecifics) {
  const Tokenizer& chars = book_chars();
  EXPECT_EQ(chars.vocab_size(), 77);
  EXPECT_EQ(chars.encode("\n"), std::vector<int>{0});
  EXPECT_EQ(chars.encode(" "), std::vector<int>{8});
  EXPECT_EQ(chars.encode("\x13\x14\x18\x19\x1C\x1D\x1F"), (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(chars.encode("!0az{~\x7F"), (std::vector<int>{9, 23, 46, 71, 72, 75, 76}));
  // No uppercase and no double quote in the vocabulary: they become spaces, as upstream.
  EXPECT_EQ(chars.encode("A\"Z"), (std::vector<int>{8, 8, 8}));
  // Unknown code points map one-to-one to spaces, however many UTF-8 bytes they take.
  EXPECT_EQ(chars.encode("\u00e9\u4e2d\U0001F600"), (std::vector<int>{8, 8, 8}));
  EXPECT_EQ(chars.encode("e\u0301"), (std::vector<int>{50, 8}));  // no normalization
  EXPECT_EQ(chars.encode("a\xFFz"), (std::vector<int>{46, 8, 71}));  // ill-formed byte -> U+FFFD -> space
  EXPECT_EQ(chars.token_bytes(0), "\n");
  EXPECT_EQ(chars.token_bytes(8), " ");
  EXPECT_EQ(chars.token_bytes(76), "\x7F");
  EXPECT_THROW(chars.token_bytes(77), std::out_of_range);
  const std::string text = "hello, world! 0123456789 {x|y} ~\n";
  EXPECT_EQ(chars.decode(chars.encode(text)), text);
}

TEST(CharTokenizer, ReadsUtf16SurrogatePairsAndEscapes) {
  ScratchDir scratch;
  const std::string path =
      scratch.write("vocab.json", utf16le_with_bom(u"{\"0\": \"\\n\", \"1\": \" \", \"2\": \"\U0001F600\", \"3\": \"\\ud83d\\ude80\", \"4\": \"\u00e9\"}"));
  const std::unique_ptr<Tokenizer> chars = load_char_tokenizer(path);
  EXPECT_EQ(chars->vocab_size(), 5);
  EXPECT_EQ(chars->encode("\U0001F600\U0001F680\u00e9x\n"), (std::vector<int>{2, 3, 4, 1, 0}));
  EXPECT_EQ(chars->token_bytes(2), "\U0001F600");
  EXPECT_EQ(chars->token_bytes(3), "\U0001F680");
}

TEST(CharTokenizer, LoadErrorsNameTheFileAndTheExpectation) {
  ScratchDir scratch;
  const std::string missing = "/nonexistent/vocab_book.json";
  std::string message = load_error([&] { load_char_tokenizer(missing); });
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find("UTF-16"), std::string::npos) << message;

  // The same JSON saved as UTF-8 (with and without BOM) or as UTF-16 BE is rejected by name.
  const std::string utf8 = scratch.write("utf8.json", "{\"0\": \"\\n\", \"1\": \" \"}");
  message = load_error([&] { load_char_tokenizer(utf8); });
  EXPECT_NE(message.find(utf8), std::string::npos) << message;
  EXPECT_NE(message.find("byte-order mark FF FE"), std::string::npos) << message;
  EXPECT_NE(message.find("no byte-order mark"), std::string::npos) << message;

  const std::string utf8_bom = scratch.write("utf8_bom.json", "\xEF\xBB\xBF{\"0\": \" \"}");
  message = load_error([&] { load_char_tokenizer(utf8_bom); });
  EXPECT_NE(message.find("UTF-8 byte-order mark"), std::string::npos) << message;

  const std::string utf16_be = scratch.write("utf16_be.json", std::string("\xFE\xFF\x00{\x00}", 6));
  message = load_error([&] { load_char_tokenizer(utf16_be); });
  EXPECT_NE(message.find("UTF-16 BE"), std::string::npos) << message;

  const std::string malformed = scratch.write("malformed.json", utf16le_with_bom(u"{\"0\": \"\\n\", "));
  message = load_error([&] { load_char_tokenizer(malformed); });
  EXPECT_NE(message.find(malformed), std::string::npos) << message;
  EXPECT_NE(message.find("malformed JSON"), std::string::npos) << message;

  // A folder where the file belongs is named, never a bare "basic_filebuf::underflow error".
  const std::string folder = scratch.folder("vocab_book.json");
  message = load_error([&] { load_char_tokenizer(folder); });
  EXPECT_NE(message.find("'" + folder + "' is a folder"), std::string::npos) << message;
  EXPECT_EQ(message.find("underflow"), std::string::npos) << message;

  const std::string odd_bytes = scratch.write("odd.json", utf16le_with_bom(u"{}") + "x");
  message = load_error([&] { load_char_tokenizer(odd_bytes); });
  EXPECT_NE(message.find("odd"), std::string::npos) << message;

  const std::string lone_surrogate = scratch.write("surrogate.json", utf16le_with_bom(std::u16string(u"{\"0\": \"") + char16_t(0xD83D) + u"\"}"));
  message = load_error([&] { load_char_tokenizer(lone_surrogate); });
  EXPECT_NE(message.find("surrogate"), std::string::npos) << message;

  const std::string two_chars = scratch.write("two_chars.json", utf16le_with_bom(u"{\"0\": \"ab\", \"1\": \" \"}"));
  message = load_error([&] { load_char_tokenizer(two_chars); });
  EXPECT_NE(message.find("exactly one character"), std::string::npos) << message;

  const std::string gap = scratch.write("gap.json", utf16le_with_bom(u"{\"0\": \"a\", \"5\": \" \"}"));
  message = load_error([&] { load_char_tokenizer(gap); });
  EXPECT_NE(message.find("contiguous"), std::string::npos) << message;

  const std::string no_space = scratch.write("no_space.json", utf16le_with_bom(u"{\"0\": \"a\"}"));
  message = load_error([&] { load_char_tokenizer(no_space); });
  EXPECT_NE(message.find("space"), std::string::npos) << message;

  const std::string array = scratch.write("array.json", utf16le_with_bom(u"[\" \"]"));
  message = load_error([&] { load_char_tokenizer(array); });
  EXPECT_NE(message.find("array"), std::string::npos) << message;
}

// ---------------------------------------------------------------- selection by vocabulary size

TEST(TokenizerForVocab, ChoosesByVocabularySize) {
  const std::unique_ptr<Tokenizer> chars = tokenizer_for_vocab(77, kSharedData);
  ASSERT_NE(chars, nullptr);
  EXPECT_EQ(chars->vocab_size(), 77);
  EXPECT_EQ(chars->encode("ab"), (std::vector<int>{46, 47}));

  const std::unique_ptr<Tokenizer> bpe = tokenizer_for_vocab(50277, kSharedData);
  ASSERT_NE(bpe, nullptr);
  EXPECT_EQ(bpe->vocab_size(), 50277);
  EXPECT_EQ(bpe->decode({12092, 1533}), "Hello world");

  EXPECT_EQ(tokenizer_for_vocab(256, kSharedData), nullptr);
  EXPECT_EQ(tokenizer_for_vocab(50254, kSharedData), nullptr);
  EXPECT_THROW(tokenizer_for_vocab(77, "/nonexistent"), std::runtime_error);
}

}  // namespace
}  // namespace spiketile
