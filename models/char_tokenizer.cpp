// SpikeGPT's character vocabulary (vocab_book.json). Upstream encodes with
// `[stoi.get(c, stoi[' ']) for c in text]` over Python code points, with no normalization.
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "models/json_limits.hpp"
#include "models/tokenizer.hpp"
#include "models/unicode_util.hpp"

namespace spiketile {
namespace {

constexpr std::string_view kExpectedFormat = "a UTF-16 LE JSON object (with BOM FF FE) mapping id strings to single characters";

std::string describe_leading_bytes(std::string_view bytes) {
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") return "a UTF-8 byte-order mark";
  if (bytes.size() >= 2 && bytes.substr(0, 2) == "\xFE\xFF") return "a UTF-16 BE byte-order mark";
  if (bytes.empty()) return "an empty file";
  return "no byte-order mark";
}

class CharTokenizer final : public Tokenizer {
 public:
  CharTokenizer(std::string name, std::vector<char32_t> chars_by_id, const std::string& origin)
      : name_(std::move(name)), chars_by_id_(std::move(chars_by_id)) {
    ascii_ids_.fill(kNotInVocab);
    for (std::size_t id = 0; id < chars_by_id_.size(); ++id) {
      const char32_t c = chars_by_id_[id];
      const bool fresh = c < 128 ? ascii_ids_[c] == kNotInVocab : other_ids_.count(c) == 0;
      if (!fresh) {
        throw std::runtime_error("'" + origin + "': character U+" + hex(c) + " appears under two ids; expected a one-to-one vocabulary");
      }
      if (c < 128) {
        ascii_ids_[c] = static_cast<int>(id);
      } else {
        other_ids_.emplace(c, static_cast<int>(id));
      }
      token_utf8_.emplace_back();
      unicode::append_utf8(token_utf8_.back(), c);
    }
    unknown_id_ = ascii_ids_[' '];
    if (unknown_id_ == kNotInVocab) {
      throw std::runtime_error("'" + origin + "': expected the space character in the vocabulary (unknown characters map to it)");
    }
  }

  std::string name() const override { return name_; }
  int vocab_size() const override { return static_cast<int>(chars_by_id_.size()); }

  std::vector<int> encode(const std::string& utf8) const override {
    std::vector<int> ids;
    ids.reserve(utf8.size());
    std::size_t pos = 0;
    while (pos < utf8.size()) {
      const char32_t c = unicode::next_code_point(utf8, pos);
      if (c < 128) {
        const int id = ascii_ids_[c];
        ids.push_back(id == kNotInVocab ? unknown_id_ : id);
      } else {
        const auto found = other_ids_.find(c);
        ids.push_back(found == other_ids_.end() ? unknown_id_ : found->second);
      }
    }
    return ids;
  }

  std::string token_bytes(int id) const override {
    if (id < 0 || id >= vocab_size()) {
      throw std::out_of_range("token id " + std::to_string(id) + " outside the " + std::to_string(vocab_size()) +
                              "-entry vocabulary of " + name_);
    }
    return token_utf8_[static_cast<std::size_t>(id)];
  }

 private:
  static constexpr int kNotInVocab = -1;

  static std::string hex(char32_t c) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "%04X", static_cast<unsigned>(c));
    return buffer;
  }

  std::string name_;
  std::vector<char32_t> chars_by_id_;
  std::vector<std::string> token_utf8_;
  std::array<int, 128> ascii_ids_{};
  std::unordered_map<char32_t, int> other_ids_;
  int unknown_id_ = kNotInVocab;
};

}  // namespace

std::unique_ptr<Tokenizer> load_char_tokenizer(const std::string& path) {
  const std::string bytes = unicode::read_file_bytes(path, kExpectedFormat);
  if (bytes.size() < 2 || bytes[0] != '\xFF' || bytes[1] != '\xFE') {
    throw std::runtime_error("'" + path + "': expected UTF-16 LE with byte-order mark FF FE, found " +
                             describe_leading_bytes(bytes));
  }
  const std::string text = unicode::utf16le_to_utf8(std::string_view(bytes).substr(2), path);

  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(text, nesting_limit(2, "'" + path + "'"));  // one object of strings
  } catch (const nlohmann::json::exception& error) {  // parse_error, or out_of_range for 1e999
    throw std::runtime_error("'" + path + "': malformed JSON (" + error.what() + "); expected " + std::string(kExpectedFormat));
  }
  if (!vocab.is_object() || vocab.empty()) {
    throw std::runtime_error("'" + path + "': expected " + std::string(kExpectedFormat) + ", found JSON " + vocab.type_name());
  }

  std::vector<char32_t> chars_by_id(vocab.size(), 0);
  std::vector<bool> seen(vocab.size(), false);
  for (const auto& [key, value] : vocab.items()) {
    std::size_t parsed_length = 0;
    long id = -1;
    try {
      id = std::stol(key, &parsed_length);
    } catch (const std::exception&) {
      parsed_length = 0;
    }
    if (parsed_length != key.size() || id < 0 || id >= static_cast<long>(vocab.size()) || seen[static_cast<std::size_t>(id)]) {
      throw std::runtime_error("'" + path + "': key \"" + key + "\" is not a unique id in 0.." +
                               std::to_string(vocab.size() - 1) + "; expected contiguous ids");
    }
    if (!value.is_string()) {
      throw std::runtime_error("'" + path + "': id " + key + " maps to a JSON " + value.type_name() + ", expected a one-character string");
    }
    const std::string& utf8 = value.get_ref<const std::string&>();
    std::size_t pos = 0;
    const char32_t c = utf8.empty() ? 0 : unicode::next_code_point(utf8, pos);
    if (utf8.empty() || pos != utf8.size()) {
      throw std::runtime_error("'" + path + "': id " + key + " maps to \"" + utf8 + "\", expected exactly one character");
    }
    chars_by_id[static_cast<std::size_t>(id)] = c;
    seen[static_cast<std::size_t>(id)] = true;
  }
  return std::make_unique<CharTokenizer>("char:" + std::filesystem::path(path).stem().string(), std::move(chars_by_id), path);
}

}  // namespace spiketile
