// Tokenizers of SpikeGPT checkpoints: a character vocabulary of any size in upstream's vocab.json
// form (the 77-character vocab_book.json is one), and byte-level BPE in the Hugging Face
// tokenizer.json form (GPT-NeoX-20B). Encoding matches the upstream / Hugging Face behaviour
// exactly, except where upstream would crash (a character outside the vocabulary, see below).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace spiketile {

// What encoding a text had to change: characters a character vocabulary lacks, read as its space.
struct EncodeReport {
  // A caller that keeps only the first tokens of a long text says so: a character vocabulary stops
  // there, so characters past the cut are neither counted nor refused (0: encode everything).
  int64_t stop_after_tokens = 0;
  bool stopped = false;  // the tokenizer stopped there: the text goes on
  int64_t replaced = 0;
  char32_t first_replaced = 0;
  std::size_t first_replaced_byte = 0;  // byte offset in the text

  void note_replaced(char32_t character, std::size_t byte_offset);
};

// A character the vocabulary lacks, in a vocabulary without a space to stand for it.
class UnknownCharacterError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class Tokenizer {
 public:
  explicit Tokenizer(std::string origin) : origin_(std::move(origin)) {}
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  // The file it was read from (messages name it).
  const std::string& origin() const { return origin_; }
  virtual int vocab_size() const = 0;
  std::vector<int> encode(const std::string& utf8) const;
  std::vector<int> encode(const std::string& utf8, EncodeReport& report) const { return encode_text(utf8, report); }
  // Raw bytes of one token. For byte-level BPE a token can be part of a UTF-8 sequence, so
  // streaming output concatenates bytes and prints only complete characters.
  virtual std::string token_bytes(int id) const = 0;
  std::string decode(const std::vector<int>& ids) const;

 protected:
  virtual std::vector<int> encode_text(const std::string& utf8, EncodeReport& report) const = 0;

 private:
  std::string origin_;
};

// "character 12 (line 1, column 13)" for the character at `byte_offset` of `utf8`.
std::string describe_text_position(const std::string& utf8, std::size_t byte_offset);
// "'é' (U+00E9)"; the character itself only when it prints.
std::string describe_character(char32_t c);

// Upstream's vocab.json: a JSON object {"0": "\n", "1": " ", ...} of single characters under the
// ids 0..N-1, in UTF-16 (with or without byte-order mark, as Python's "utf-16" codec writes and
// reads it) or UTF-8. A text character outside the vocabulary reads as space where the vocabulary
// has one (the 77-character book vocabulary's rule, counted in EncodeReport); without a space it
// is an UnknownCharacterError naming the character, its position and the vocabulary file.
std::unique_ptr<Tokenizer> load_char_tokenizer(const std::string& path);
// Hugging Face tokenizers JSON (BPE model, NFC normalizer, ByteLevel pre-tokenizer, added tokens).
std::unique_ptr<Tokenizer> load_bpe_tokenizer(const std::string& path);
// The same from JSON text already in memory; `origin` names it in error messages.
std::unique_ptr<Tokenizer> load_bpe_tokenizer_from_json(const std::string& json_text, const std::string& origin);

enum class TokenizerKind : uint8_t {
  None = 0,          // the vocabulary has no tokenizer: token ids only
  Characters = 1,    // vocab.json
  ByteLevelBpe = 2,  // tokenizer.json
};
inline constexpr int kTokenizerKindCount = 3;
const char* tokenizer_kind_name(TokenizerKind kind);

// A tokenizer file's content and why it was chosen: what 'inspect' prints and a compiled mapping
// records, so text can be encoded from the mapping alone.
struct TokenizerSource {
  TokenizerKind kind = TokenizerKind::None;
  std::string path;   // the file it was read from ("" for none)
  std::string rule;   // why this file (or why none)
  std::string json;   // the file's text as UTF-8 JSON (a UTF-16 file decoded; "" for none)
};

struct FoundTokenizer {
  std::shared_ptr<const Tokenizer> tokenizer;  // null: the vocabulary has no tokenizer
  TokenizerSource source;
  // "PATH (RULE)", or "none (RULE)".
  std::string describe() const;
};

// Reads a tokenizer file: a vocab.json or a tokenizer.json, told apart by content (a JSON object
// holding a "model" object is a tokenizer.json; any other object a vocab.json). `rule` says why
// this file was read.
FoundTokenizer read_tokenizer_file(const std::string& path, const std::string& rule);
// The tokenizer a recorded source describes (std::runtime_error naming `origin` if it is not one).
std::unique_ptr<Tokenizer> tokenizer_from_source(const TokenizerSource& source, const std::string& origin);
// Whether two sources hold the same tokenizer (the same kind and equal JSON, whatever the file's
// encoding or layout); if not, *difference says how they differ.
bool same_tokenizer(const TokenizerSource& a, const TokenizerSource& b, std::string* difference);

// The name upstream's training code gives the vocabulary it writes beside its checkpoints.
inline constexpr const char* kUpstreamVocabName = "vocab.json";

// The tokenizer of a checkpoint whose vocabulary has `vocab_size` ids, by the first rule that
// applies: the file given (--tokenizer), a vocab.json beside the checkpoint, then the shipped
// files by vocabulary size (77: vocab_book.json, 50277: 20B_tokenizer.json in data_dir); none
// otherwise. A tokenizer of another size is an error naming the file, the rule and both sizes.
FoundTokenizer find_tokenizer(const std::string& given_path, const std::string& checkpoint_path, int vocab_size,
                              const std::string& data_dir);
// The shipped-files rule alone.
FoundTokenizer find_shipped_tokenizer(int vocab_size, const std::string& data_dir);
// Refuses a tokenizer whose id count is not the model's `vocab_size`, naming its file and rule.
void require_tokenizer_size(const FoundTokenizer& found, int vocab_size);

// Chooses by vocabulary size: 77 -> vocab_book.json, 50277 -> 20B_tokenizer.json (in data_dir).
// Any other size has no text tokenizer; the caller must use token ids. Returns nullptr then.
std::unique_ptr<Tokenizer> tokenizer_for_vocab(int vocab_size, const std::string& data_dir);

}  // namespace spiketile
