// SpikeGPT's character vocabularies: upstream's training code (src/utils.py, Dataset) writes the
// sorted unique characters of its corpus as vocab.json, {"0": "\n", ...}, and encodes with
// `[stoi[c] for c in text]` over Python code points, with no normalization; the shipped
// vocab_book.json is one such file. Upstream has no rule for a character outside the vocabulary
// (its lookup would raise KeyError); here it reads as space when the vocabulary has one, as the
// book vocabulary's UNKNOWN_CHAR did, and is an error naming it otherwise.
#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "models/tokenizer.hpp"
#include "models/tokenizer_json.hpp"
#include "models/unicode_util.hpp"

namespace spiketile {
namespace {

constexpr std::string_view kExpectedFormat =
    "a JSON object mapping the ids 0..N-1 to single characters (upstream's vocab.json, UTF-16 or UTF-8)";

class CharTokenizer final : public Tokenizer {
 public:
  CharTokenizer(std::string name, std::vector<char32_t> chars_by_id, const std::string& origin)
      : Tokenizer(origin), name_(std::move(name)), chars_by_id_(std::move(chars_by_id)) {
    ascii_ids_.fill(kNotInVocab);
    for (std::size_t id = 0; id < chars_by_id_.size(); ++id) {
      const char32_t c = chars_by_id_[id];
      const int earlier = id_of(c);
      if (earlier != kNotInVocab) {
        throw std::runtime_error("'" + origin + "': character " + describe_character(c) + " appears under ids " +
                                 std::to_string(earlier) + " and " + std::to_string(id) +
                                 "; expected each character once");
      }
      if (c < 128) {
        ascii_ids_[c] = static_cast<int>(id);
      } else {
        other_ids_.emplace(c, static_cast<int>(id));
      }
      token_utf8_.emplace_back();
      unicode::append_utf8(token_utf8_.back(), c);
    }
    space_id_ = ascii_ids_[' '];
  }

  std::string name() const override { return name_; }
  int vocab_size() const override { return static_cast<int>(chars_by_id_.size()); }

  std::string token_bytes(int id) const override {
    if (id < 0 || id >= vocab_size()) {
      throw std::out_of_range("token id " + std::to_string(id) + " outside the " + std::to_string(vocab_size()) +
                              "-entry vocabulary of " + name_);
    }
    return token_utf8_[static_cast<std::size_t>(id)];
  }

 protected:
  std::vector<int> encode_text(const std::string& utf8, EncodeReport& report) const override {
    std::vector<int> ids;
    ids.reserve(utf8.size());
    std::size_t pos = 0;
    while (pos < utf8.size()) {
      if (report.stop_after_tokens > 0 && int64_t(ids.size()) >= report.stop_after_tokens) {
        report.stopped = true;
        break;
      }
      const std::size_t at = pos;
      const char32_t c = unicode::next_code_point(utf8, pos);
      const int id = id_of(c);
      if (id != kNotInVocab) {
        ids.push_back(id);
        continue;
      }
      if (space_id_ == kNotInVocab) {
        throw UnknownCharacterError("character " + describe_character(c) + " at " + describe_text_position(utf8, at) +
                                    " is not in the vocabulary " + origin() +
                                    ", which has no space to read unknown characters as");
      }
      report.note_replaced(c, at);
      ids.push_back(space_id_);
    }
    return ids;
  }

 private:
  static constexpr int kNotInVocab = -1;

  int id_of(char32_t c) const {
    if (c < 128) return ascii_ids_[c];
    const auto found = other_ids_.find(c);
    return found == other_ids_.end() ? kNotInVocab : found->second;
  }

  std::string name_;
  std::vector<char32_t> chars_by_id_;
  std::vector<std::string> token_utf8_;
  std::array<int, 128> ascii_ids_{};
  std::unordered_map<char32_t, int> other_ids_;
  int space_id_ = kNotInVocab;
};

[[noreturn]] void fail(const std::string& origin, const std::string& problem) {
  throw std::runtime_error("'" + origin + "': " + problem);
}

}  // namespace

std::unique_ptr<Tokenizer> char_tokenizer_from_json(const nlohmann::json& vocab, const std::string& origin) {
  if (!vocab.is_object() || vocab.empty()) {
    fail(origin, "expected " + std::string(kExpectedFormat) + ", found " +
                     (vocab.is_object() ? std::string("an empty object") : "JSON " + std::string(vocab.type_name())));
  }
  const std::size_t entries = vocab.size();
  const std::string id_range = "0.." + std::to_string(entries - 1);
  std::vector<char32_t> chars_by_id(entries, 0);
  for (const auto& [key, value] : vocab.items()) {
    // Exactly the decimal ids upstream writes: "01" or "+1" would be a second spelling of an id.
    std::size_t id = 0;
    bool canonical = !key.empty() && key.size() <= 9 && (key == "0" || key[0] != '0');
    for (const char digit : key) {
      canonical = canonical && digit >= '0' && digit <= '9';
      id = id * 10 + std::size_t(digit - '0');
    }
    if (!canonical || id >= entries) {
      fail(origin, "key \"" + key + "\" is not an id in " + id_range + "; a vocabulary of " + std::to_string(entries) +
                       " entries has exactly the contiguous ids " + id_range);
    }
    if (!value.is_string()) {
      fail(origin, "id " + key + " maps to a JSON " + value.type_name() + ", expected a one-character string");
    }
    const std::string& utf8 = value.get_ref<const std::string&>();
    if (utf8.empty()) fail(origin, "id " + key + " maps to an empty string; expected exactly one character");
    std::size_t pos = 0;
    const char32_t c = unicode::next_code_point(utf8, pos);
    if (pos != utf8.size()) fail(origin, "id " + key + " maps to \"" + utf8 + "\"; expected exactly one character");
    chars_by_id[id] = c;
  }
  return std::make_unique<CharTokenizer>("char:" + std::filesystem::path(origin).stem().string(), std::move(chars_by_id),
                                         origin);
}

std::unique_ptr<Tokenizer> load_char_tokenizer(const std::string& path) {
  const std::string text = json_text_from_bytes(unicode::read_file_bytes(path, kExpectedFormat), path);
  return char_tokenizer_from_json(parse_tokenizer_json(text, path, kExpectedFormat), path);
}

}  // namespace spiketile
