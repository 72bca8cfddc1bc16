#include "models/token_model.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace spiketile {

void TokenModel::require_token_in_vocabulary(int token) const {
  if (token < 0 || token >= vocab_size())
    throw std::out_of_range(fmt::format("token id {} is outside the vocabulary [0, {})", token, vocab_size()));
}

void TokenModel::prefill(const std::vector<int>& tokens, const TokenCallback& on_token) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::vector<float>& logits = step(tokens[i]);
    if (on_token) on_token(int64_t(i), logits);
  }
}

}  // namespace spiketile
