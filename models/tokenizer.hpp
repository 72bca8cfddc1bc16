// Tokenizers of the two SpikeGPT vocabularies: the 77-character book vocabulary and the
// GPT-NeoX-20B byte-level BPE. Encoding matches the upstream / Hugging Face behaviour exactly.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace spiketile {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  virtual int vocab_size() const = 0;
  virtual std::vector<int> encode(const std::string& utf8) const = 0;
  // Raw bytes of one token. For byte-level BPE a token can be part of a UTF-8 sequence, so
  // streaming output concatenates bytes and prints only complete characters.
  virtual std::string token_bytes(int id) const = 0;
  std::string decode(const std::vector<int>& ids) const;
};

// vocab_book.json: UTF-16 LE JSON object {"0": "\n", ...}; unknown characters map to space.
std::unique_ptr<Tokenizer> load_char_tokenizer(const std::string& path);
// Hugging Face tokenizers JSON (BPE model, NFC normalizer, ByteLevel pre-tokenizer, added tokens).
std::unique_ptr<Tokenizer> load_bpe_tokenizer(const std::string& path);
// The same from JSON text already in memory; `origin` names it in error messages.
std::unique_ptr<Tokenizer> load_bpe_tokenizer_from_json(const std::string& json_text, const std::string& origin);

// Chooses by vocabulary size: 77 -> vocab_book.json, 50277 -> 20B_tokenizer.json (in data_dir).
// Any other size has no text tokenizer; the caller must use token ids. Returns nullptr then.
std::unique_ptr<Tokenizer> tokenizer_for_vocab(int vocab_size, const std::string& data_dir);

}  // namespace spiketile
