// Private to the tokenizers: building them from JSON already parsed, so a file whose kind is told
// by its content is parsed once.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "models/tokenizer.hpp"

namespace spiketile {

// vocab.json / tokenizer.json content; errors are std::runtime_error naming `origin`.
std::unique_ptr<Tokenizer> char_tokenizer_from_json(const nlohmann::json& vocab, const std::string& origin);
std::unique_ptr<Tokenizer> bpe_tokenizer_from_json(const nlohmann::json& config, const std::string& origin);

// A JSON file's bytes as UTF-8 text: a UTF-8 or UTF-16 byte-order mark is followed; without one,
// the zero bytes JSON's ASCII punctuation leaves in UTF-16 tell little from big endian (Python's
// "utf-16" codec writes a mark in the machine's order and reads little endian without one), and
// anything else is UTF-8. Throws std::runtime_error naming `origin` for UTF-16 that is not.
std::string json_text_from_bytes(std::string_view bytes, const std::string& origin);

// Parses a tokenizer file's text, refusing a top-level key given twice and nesting deeper than
// kMaxTokenizerJsonDepth; errors are std::runtime_error naming `origin` and what was `expected`.
nlohmann::json parse_tokenizer_json(const std::string& text, const std::string& origin, std::string_view expected);

// The deepest a tokenizer file nests (normalizer and pre-tokenizer sequences of a tokenizer.json).
inline constexpr int kMaxTokenizerJsonDepth = 32;

}  // namespace spiketile
