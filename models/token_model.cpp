#include "models/token_model.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace spiketile {

void TokenModel::require_token_in_vocabulary(int token) const {
  if (token < 0 || token >= vocab_size())
    throw std::out_of_range(fmt::format("token id {} is outside the vocabulary [0, {})", token, vocab_size()));
}

}  // namespace spiketile
