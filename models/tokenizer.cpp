#include "models/tokenizer.hpp"

#include <stdexcept>

namespace spiketile {

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string text;
  for (const int id : ids) text += token_bytes(id);
  return text;
}

std::unique_ptr<Tokenizer> tokenizer_for_vocab(int vocab_size, const std::string& data_dir) {
  constexpr int kCharVocabSize = 77;
  constexpr int kNeoxVocabSize = 50277;
  std::unique_ptr<Tokenizer> tokenizer;
  if (vocab_size == kCharVocabSize) {
    tokenizer = load_char_tokenizer(data_dir + "/vocab_book.json");
  } else if (vocab_size == kNeoxVocabSize) {
    tokenizer = load_bpe_tokenizer(data_dir + "/20B_tokenizer.json");
  } else {
    return nullptr;
  }
  // A file swapped for another vocabulary would silently produce ids the model cannot embed.
  if (tokenizer->vocab_size() != vocab_size) {
    throw std::runtime_error("tokenizer '" + tokenizer->name() + "' in '" + data_dir + "' has " +
                             std::to_string(tokenizer->vocab_size()) + " ids, expected " +
                             std::to_string(vocab_size));
  }
  return tokenizer;
}

}  // namespace spiketile
