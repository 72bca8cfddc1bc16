// Text turned into a SpikeGPT model's token ids: a prompt, a text to evaluate, a mapping's
// tokenizer. The command line and the Python module both encode here, so the same text gives the
// same ids, the same notes on characters read as space and the same errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/mapping.hpp"
#include "models/tokenizer.hpp"

namespace spiketile {

// The tokenizer a compiled mapping encodes text with: the one it records (a --tokenizer given must
// hold the same, else it is refused naming both); for a mapping that records none (format version
// 3, or a vocabulary compile found none for), the one given with --tokenizer, else the shipped one
// by vocabulary size.
FoundTokenizer mapping_tokenizer(const Mapping& mapping, const std::string& map_path, const std::string& given_path,
                                 const std::string& data_dir);

// Where a note goes (characters read as space are never silent): the command line prints it on
// stderr, the Python module raises a warning with it.
using NoteSink = std::function<void(const std::string& note)>;
void print_note_to_stderr(const std::string& note);

// How the caller's user names the prompt, its ids and the tokenizer, for the errors that say what
// to give instead.
struct PromptNames {
  const char* text = "--prompt";
  const char* ids = "--prompt-ids";
  const char* tokenizer = "--tokenizer";
};

// Whether a text is read as given or lowercased first (--lowercase: a lowercase vocabulary such
// as the shipped one then reads "The" as "the", not as " he").
enum class TextCase { AsGiven, Lowercase };
// The case a --lowercase flag (Python: lowercase=) asks for.
inline TextCase text_case_of(bool lowercase) { return lowercase ? TextCase::Lowercase : TextCase::AsGiven; }

// The prompt a generation starts from when none is given (run --prompt's default).
inline constexpr const char* kDefaultPrompt = "\n";
// The tokens a generation makes when not told (run -n's default).
inline constexpr int kDefaultGeneratedTokens = 200;

// A prompt text encoded with the model's tokenizer. Errors: no tokenizer, a character a vocabulary
// without a space lacks, a prompt that encodes to nothing.
std::vector<int> encode_prompt(const std::string& text, const FoundTokenizer& tokenizer, int vocab_size,
                               const PromptNames& names = {}, const NoteSink& note = print_note_to_stderr,
                               TextCase text_case = TextCase::AsGiven);

// What a command needs of a text: at least `tokens` of it, and the sentence saying so in an error.
struct TextNeed {
  std::size_t tokens;
  const char* reason;   // e.g. "evaluation needs at least two (one to predict the next)"
};
inline constexpr TextNeed kTextToEvaluate{2, "evaluation needs at least two (one to predict the next)"};
inline constexpr TextNeed kTextToCalibrate{1, "calibration needs at least one (ranges measured on nothing are zero)"};

// Tokens read from a text, and the characters its encoding had to replace.
struct FileTokens {
  std::vector<int> tokens;
  EncodeReport report;
};

// A text file encoded with the model's tokenizer, cut to max_tokens (0 = all); characters read as
// space are counted in a note. Errors name the file when it cannot be read, the vocabulary has no
// tokenizer, a character is not in a vocabulary without a space, or it gives fewer tokens than
// `need` asks for.
FileTokens encode_text_file(const std::string& path, const FoundTokenizer& tokenizer, int vocab_size,
                            int64_t max_tokens, TextNeed need, const NoteSink& note = print_note_to_stderr,
                            TextCase text_case = TextCase::AsGiven);
// The same of a text in memory, which `name` names in notes and errors; the same text gives the
// same tokens as its file.
FileTokens encode_text(const std::string& text, const std::string& name, const FoundTokenizer& tokenizer,
                       int vocab_size, int64_t max_tokens, TextNeed need, const NoteSink& note = print_note_to_stderr,
                       TextCase text_case = TextCase::AsGiven);

// Refuses fewer tokens than `need`; `noun` and `of_what` spell the count: "1 token of text", "0 token ids".
void require_enough(const std::string& path, std::size_t tokens, TextNeed need, const char* noun, const char* of_what);

}  // namespace spiketile
