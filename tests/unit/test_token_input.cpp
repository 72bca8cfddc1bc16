// Text given in memory (the Python module's evaluate(text=...)) encodes as the same text read from
// its file (eval --text), cut and noted the same way.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "models/checkpoint_files.hpp"
#include "models/unicode_util.hpp"
#include "runtime/token_input.hpp"

namespace spiketile {
namespace {

TEST(TokenInput, TextInMemoryEncodesAsItsFile) {
  const FoundTokenizer tokenizer = find_shipped_tokenizer(77, shipped_data_dir());
  const std::string path = std::string(SPIKETILE_TEST_DATA) + "/heldout_excerpt.txt";
  const std::string text = unicode::read_file_bytes(path, "a text");
  for (const int64_t max_tokens : {0, 1, 48, 100000}) {
    std::vector<std::string> file_notes, text_notes;
    const FileTokens from_file = encode_text_file(path, tokenizer, 77, max_tokens, kTextToCalibrate,
                                                  [&](const std::string& n) { file_notes.push_back(n); });
    const FileTokens from_text = encode_text(text, path, tokenizer, 77, max_tokens, kTextToCalibrate,
                                             [&](const std::string& n) { text_notes.push_back(n); });
    EXPECT_EQ(from_text.tokens, from_file.tokens) << max_tokens;
    EXPECT_EQ(from_text.report.replaced, from_file.report.replaced) << max_tokens;
    EXPECT_EQ(text_notes, file_notes) << max_tokens;
    if (max_tokens > 0 && max_tokens < 1000) EXPECT_EQ(int64_t(from_text.tokens.size()), max_tokens);
  }
}

TEST(TokenInput, CharactersReadAsSpaceAreNotedAndAnEmptyPromptIsRefused) {
  const FoundTokenizer tokenizer = find_shipped_tokenizer(77, shipped_data_dir());
  std::vector<std::string> notes;
  const auto note = [&](const std::string& n) { notes.push_back(n); };
  const std::vector<int> ids = encode_prompt("a \u2603 b", tokenizer, 77, {}, note);
  EXPECT_EQ(ids, encode_prompt("a   b", tokenizer, 77, {}, note));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("1 character of the prompt is not in the vocabulary"), std::string::npos) << notes[0];
  try {
    encode_prompt("", tokenizer, 77, {"prompt", "prompt_ids", "tokenizer="}, note);
    FAIL() << "an empty prompt encoded";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "the prompt is empty; give prompt or prompt_ids");
  }
}

// A lowercase vocabulary reads mixed-case text with --lowercase as its lowercase letters; without
// it the capitals are read as space, and the note says how many lowercasing would keep.
TEST(TokenInput, LowercaseReadsCapitalsAsTheVocabularysLetters) {
  const FoundTokenizer tokenizer = find_shipped_tokenizer(77, shipped_data_dir());
  std::vector<std::string> notes;
  const auto note = [&](const std::string& n) { notes.push_back(n); };
  EXPECT_EQ(encode_prompt("The Cat", tokenizer, 77, {}, note, TextCase::Lowercase),
            encode_prompt("the cat", tokenizer, 77, {}, note));
  EXPECT_TRUE(notes.empty()) << notes[0];
  EXPECT_EQ(encode_prompt("The Cat", tokenizer, 77, {}, note), encode_prompt(" he  at", tokenizer, 77, {}, note));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("2 characters of the prompt are not in the vocabulary"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("; lowercased (--lowercase), 2 of them would be read as the vocabulary's letters"),
            std::string::npos)
      << notes[0];
  // A character no case maps into the vocabulary gets no such hint.
  notes.clear();
  encode_prompt("a \u2603", tokenizer, 77, {}, note);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].find("--lowercase"), std::string::npos) << notes[0];
  // A file reads the same way, the cut counted in tokens of the lowercased text.
  const FileTokens lowered = encode_text("Hello World", "t", tokenizer, 77, 0, kTextToCalibrate, note, TextCase::Lowercase);
  EXPECT_EQ(lowered.tokens, encode_text("hello world", "t", tokenizer, 77, 0, kTextToCalibrate, note).tokens);
  EXPECT_EQ(lowered.report.replaced, 0);
}

}  // namespace
}  // namespace spiketile
