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
#include "models/unicode_util.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;

const std::string kTokenizerTestData = std::string(SPIKETILE_TEST_DATA) + "/tokenizer";
const std::string kSharedData = std::string(SPIKETILE_SHARED_DIR) + "/data";
// A checkpoint with its own 108-character vocabulary, as upstream's training code writes it
// (scripts/make_vocab_fixture.py).
const std::string kOwnVocab = std::string(SPIKETILE_TEST_DATA) + "/own_vocab";

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

// UTF-8 text as UTF-16 bytes of either byte order, with or without the byte-order mark.
std::string utf16_bytes(const std::string& utf8, bool big_endian, bool bom) {
  std::string bytes;
  const auto unit = [&](char16_t u) {
    const char high = static_cast<char>(u >> 8), low = static_cast<char>(u & 0xFF);
    bytes += big_endian ? std::string{high, low} : std::string{low, high};
  };
  if (bom) unit(0xFEFF);
  for (std::size_t pos = 0; pos < utf8.size();) {
    const char32_t c = unicode::next_code_point(utf8, pos);
    if (c < 0x10000) {
      unit(static_cast<char16_t>(c));
    } else {
      unit(static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10)));
      unit(static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
    }
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

  // An empty object, here in UTF-16 BE with its byte-order mark.
  const std::string utf16_be = scratch.write("utf16_be.json", std::string("\xFE\xFF\x00{\x00}", 6));
  message = load_error([&] { load_char_tokenizer(utf16_be); });
  EXPECT_NE(message.find(utf16_be + "': expected"), std::string::npos) << message;
  EXPECT_NE(message.find("found an empty object"), std::string::npos) << message;

  const std::string empty = scratch.write("empty.json", "");
  message = load_error([&] { load_char_tokenizer(empty); });
  EXPECT_NE(message.find(empty + "' is empty; expected"), std::string::npos) << message;

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

  const std::string array = scratch.write("array.json", utf16le_with_bom(u"[\" \"]"));
  message = load_error([&] { load_char_tokenizer(array); });
  EXPECT_NE(message.find("array"), std::string::npos) << message;
}

// ---------------------------------------------------------------- a vocabulary of one's own

TEST(CharTokenizer, ReadsAnUpstreamVocabJsonOfAnySize) {
  const nlohmann::json expect = read_json(kOwnVocab + "/expect.json");
  const FoundTokenizer found = read_tokenizer_file(kOwnVocab + "/vocab.json", "a test");
  ASSERT_NE(found.tokenizer, nullptr);
  EXPECT_EQ(found.source.kind, TokenizerKind::Characters);
  EXPECT_EQ(found.tokenizer->vocab_size(), expect.at("V").get<int>());
  EXPECT_EQ(found.tokenizer->vocab_size(), 108);
  // The ids Python's upstream lookup gave, one per code point: é, ß, 日 and the astral 𝄞 included.
  const std::string sample = read_text(kOwnVocab + "/sample.txt");
  EXPECT_EQ(found.tokenizer->encode(sample), expect.at("tokens").get<std::vector<int>>());
  EXPECT_EQ(found.tokenizer->decode(found.tokenizer->encode(sample)), sample);
  for (const char* character : {"\u00e9", "\u00df", "\u65e5", "\U0001D11E"})
    EXPECT_EQ(found.tokenizer->encode(character).size(), 1u) << character;
  EXPECT_EQ(found.tokenizer->decode({0, 1}), "\n ");  // sorted: '\n' (U+000A) first, then space
}

// Python's "utf-16" codec writes a byte-order mark in the machine's order and reads little endian
// without one; a vocabulary saved as UTF-8 (with or without mark) is read as well. Every form is
// the same tokenizer.
TEST(CharTokenizer, ReadsEveryEncodingOfAVocabJson) {
  ScratchDir scratch;
  const FoundTokenizer original = read_tokenizer_file(kOwnVocab + "/vocab.json", "a test");
  const std::string& json = original.source.json;
  const std::string sample = read_text(kOwnVocab + "/sample.txt");
  const std::vector<int> expected = original.tokenizer->encode(sample);
  const std::pair<std::string, std::string> forms[] = {
      {"utf16le_bom", utf16_bytes(json, false, true)}, {"utf16le", utf16_bytes(json, false, false)},
      {"utf16be_bom", utf16_bytes(json, true, true)},  {"utf16be", utf16_bytes(json, true, false)},
      {"utf8", json},                                  {"utf8_bom", "\xEF\xBB\xBF" + json},
  };
  EXPECT_EQ(forms[0].second, read_text(kOwnVocab + "/vocab.json"));  // upstream's own form
  for (const auto& [name, bytes] : forms) {
    SCOPED_TRACE(name);
    const FoundTokenizer found = read_tokenizer_file(scratch.write(name + ".json", bytes), "a test");
    EXPECT_EQ(found.source.kind, TokenizerKind::Characters);
    EXPECT_EQ(found.source.json, json);
    EXPECT_EQ(found.tokenizer->encode(sample), expected);
    std::string difference;
    EXPECT_TRUE(same_tokenizer(original.source, found.source, &difference)) << difference;
  }
}

// With a space in the vocabulary, a character outside it reads as space and is counted, the first
// one named with its position; nothing is dropped, so ids never shift.
TEST(CharTokenizer, UnknownCharactersReadAsSpaceAndAreCounted) {
  const FoundTokenizer found = read_tokenizer_file(kOwnVocab + "/vocab.json", "a test");
  const Tokenizer& chars = *found.tokenizer;
  EncodeReport report;
  const std::vector<int> ids = chars.encode("ab\nc$d~\u03a9", report);
  EXPECT_EQ(ids, chars.encode("ab\nc d  "));
  EXPECT_EQ(report.replaced, 3);
  EXPECT_EQ(report.first_replaced, U'$');
  EXPECT_EQ(report.first_replaced_byte, 4u);
  EXPECT_EQ(describe_text_position("ab\nc$d", report.first_replaced_byte), "line 2, column 2 (character 4, counting from 0)");
  EXPECT_EQ(describe_character(U'$'), "'$' (U+0024)");
  EXPECT_EQ(describe_character(U'\x13'), "U+0013");
  // A caller keeping only the first tokens counts (and refuses) nothing past them.
  EncodeReport first_two;
  first_two.stop_after_tokens = 2;
  EXPECT_EQ(chars.encode("ab$$", first_two).size(), 2u);
  EXPECT_TRUE(first_two.stopped);
  EXPECT_EQ(first_two.replaced, 0);
}

TEST(CharTokenizer, UnknownCharacterWithoutASpaceIsAnErrorNamingIt) {
  ScratchDir scratch;
  const std::string path = scratch.write("vocab.json", utf16le_with_bom(u"{\"0\": \"\\n\", \"1\": \"a\", \"2\": \"b\"}"));
  const std::unique_ptr<Tokenizer> chars = load_char_tokenizer(path);
  EXPECT_EQ(chars->encode("ab\nba"), (std::vector<int>{1, 2, 0, 2, 1}));
  try {
    chars->encode("ab\nb\u00dfa");
    ADD_FAILURE() << "encoded a character the vocabulary lacks";
  } catch (const UnknownCharacterError& e) {
    EXPECT_EQ(std::string(e.what()), "character '\u00df' (U+00DF) at line 2, column 2 (character 4, counting from 0) is "
                                     "not in the vocabulary " + path + ", which has no space to read unknown characters as");
  }
}

// Everything that would shift ids without a word is refused, naming the file and the entry.
TEST(CharTokenizer, RefusesVocabulariesThatWouldShiftIds) {
  ScratchDir scratch;
  const struct {
    std::string name;
    std::u16string json;
    std::string problem;
  } cases[] = {
      {"duplicate_char", u"{\"0\": \"a\", \"1\": \" \", \"2\": \"a\"}",
       "character 'a' (U+0061) appears under ids 0 and 2; expected each character once"},
      {"duplicate_key", u"{\"0\": \"a\", \"1\": \" \", \"1\": \"b\"}", "key \"1\" appears twice"},
      {"empty_entry", u"{\"0\": \"a\", \"1\": \"\"}", "id 1 maps to an empty string"},
      {"gap", u"{\"0\": \"a\", \"2\": \" \"}",
       "key \"2\" is not an id in 0..1; a vocabulary of 2 entries has exactly the contiguous ids 0..1"},
      {"leading_zero", u"{\"00\": \"a\", \"1\": \" \"}", "key \"00\" is not an id in 0..1"},
      {"negative", u"{\"-1\": \"a\", \"1\": \" \"}", "key \"-1\" is not an id"},
      {"number", u"{\"0\": 7}", "id 0 maps to a JSON number"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = scratch.write(c.name + ".json", utf16le_with_bom(c.json));
    const std::string message = load_error([&] { read_tokenizer_file(path, "a test"); });
    EXPECT_NE(message.find("'" + path + "': " + c.problem), std::string::npos) << message;
  }
}

// vocab.json and tokenizer.json are told apart by what they hold, whatever their names.
TEST(TokenizerFile, KindIsToldByContent) {
  const FoundTokenizer neox = read_tokenizer_file(kSharedData + "/20B_tokenizer.json", "a test");
  EXPECT_EQ(neox.source.kind, TokenizerKind::ByteLevelBpe);
  EXPECT_EQ(neox.tokenizer->vocab_size(), 50277);
  EXPECT_EQ(neox.tokenizer->encode("Hello world"), (std::vector<int>{12092, 1533}));
  const FoundTokenizer book = read_tokenizer_file(kSharedData + "/vocab_book.json", "a test");
  EXPECT_EQ(book.source.kind, TokenizerKind::Characters);
  EXPECT_EQ(book.tokenizer->encode("ab"), (std::vector<int>{46, 47}));
  EXPECT_EQ(book.describe(), kSharedData + "/vocab_book.json (character vocabulary, 77 ids; a test)");
  ScratchDir scratch;
  const std::string array = scratch.write("tokenizer.json", "[1, 2]");
  const std::string message = load_error([&] { read_tokenizer_file(array, "a test"); });
  EXPECT_NE(message.find("vocab.json"), std::string::npos) << message;
  EXPECT_NE(message.find("tokenizer.json (a JSON object with a \"model\" object), found JSON array"), std::string::npos)
      << message;
  // A recorded source is rebuilt from its JSON text alone.
  const std::unique_ptr<Tokenizer> again = tokenizer_from_source(book.source, "a recorded copy");
  EXPECT_EQ(again->encode("ab"), (std::vector<int>{46, 47}));
  std::string difference;
  EXPECT_FALSE(same_tokenizer(book.source, neox.source, &difference));
  EXPECT_EQ(difference, "a character vocabulary against a byte-level BPE");
  const FoundTokenizer own = read_tokenizer_file(kOwnVocab + "/vocab.json", "a test");
  EXPECT_FALSE(same_tokenizer(own.source, book.source, &difference));
  EXPECT_EQ(difference, "108 entries against 77");
}

// The rule: the file given, else vocab.json beside the checkpoint, else the shipped one of the
// vocabulary's size, else none; a tokenizer of another size than the model's is an error naming
// the file, the rule and both sizes.
TEST(FindTokenizer, GivenThenBesideTheCheckpointThenShippedBySize) {
  ScratchDir scratch;
  const std::string checkpoint = scratch.folder("run") + "/model.pth";  // only its folder is looked at
  FoundTokenizer found = find_tokenizer("", checkpoint, 77, kSharedData);
  EXPECT_EQ(found.source.path, kSharedData + "/vocab_book.json");
  EXPECT_EQ(found.source.rule, "the shipped 77-character book vocabulary, chosen by the vocabulary size 77");
  found = find_tokenizer("", checkpoint, 108, kSharedData);
  EXPECT_EQ(found.tokenizer, nullptr);
  EXPECT_EQ(found.describe(), "none (no --tokenizer, no vocab.json beside the checkpoint, and no shipped tokenizer has "
                              "108 ids (vocab_book.json 77, 20B_tokenizer.json 50277))");

  const std::string beside = scratch.write("run/vocab.json", read_text(kOwnVocab + "/vocab.json"));
  found = find_tokenizer("", checkpoint, 108, kSharedData);
  EXPECT_EQ(found.source.path, beside);
  EXPECT_EQ(found.source.rule, "vocab.json beside the checkpoint");
  EXPECT_EQ(found.tokenizer->vocab_size(), 108);

  found = find_tokenizer(kSharedData + "/vocab_book.json", checkpoint, 77, kSharedData);
  EXPECT_EQ(found.source.rule, "given with --tokenizer");
  EXPECT_EQ(found.tokenizer->vocab_size(), 77);

  std::string message = load_error([&] { find_tokenizer("", checkpoint, 77, kSharedData); });
  EXPECT_EQ(message, "tokenizer '" + beside + "' (vocab.json beside the checkpoint) has 108 ids, but the model's "
                     "vocabulary has 77: its ids would be the wrong rows of the embedding; give the model's own "
                     "tokenizer with --tokenizer");
  message = load_error([&] { find_tokenizer(kSharedData + "/vocab_book.json", checkpoint, 108, kSharedData); });
  EXPECT_NE(message.find("(given with --tokenizer) has 77 ids, but the model's vocabulary has 108"), std::string::npos)
      << message;
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
