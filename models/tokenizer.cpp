#include "models/tokenizer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>
#include <stdexcept>

#include "models/json_limits.hpp"
#include "models/tokenizer_json.hpp"
#include "models/unicode_util.hpp"

namespace spiketile {

namespace {

constexpr std::string_view kAnyTokenizer =
    "a tokenizer file: upstream SpikeGPT's vocab.json (a JSON object of single characters under the ids 0..N-1) "
    "or a Hugging Face tokenizer.json (a JSON object with a \"model\" object)";

bool starts_with(std::string_view bytes, std::string_view prefix) { return bytes.substr(0, prefix.size()) == prefix; }

// The shipped tokenizer of a vocabulary size, in data_dir: its file name and why it is chosen.
struct ShippedTokenizer {
  const char* file;
  const char* description;
};
const ShippedTokenizer* shipped_tokenizer(int vocab_size) {
  static const ShippedTokenizer kBook{"vocab_book.json", "the shipped 77-character book vocabulary"};
  static const ShippedTokenizer kNeox{"20B_tokenizer.json", "the shipped GPT-NeoX-20B byte-level BPE"};
  if (vocab_size == 77) return &kBook;
  if (vocab_size == 50277) return &kNeox;
  return nullptr;
}

}  // namespace

void EncodeReport::note_replaced(char32_t character, std::size_t byte_offset) {
  if (replaced++ == 0) {
    first_replaced = character;
    first_replaced_byte = byte_offset;
  }
}

std::vector<int> Tokenizer::encode(const std::string& utf8) const {
  EncodeReport ignored;
  return encode_text(utf8, ignored);
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string text;
  for (const int id : ids) text += token_bytes(id);
  return text;
}

std::string describe_text_position(const std::string& utf8, std::size_t byte_offset) {
  int64_t characters = 0, line = 1, column = 1;
  for (std::size_t pos = 0; pos < byte_offset && pos < utf8.size();) {
    const char32_t c = unicode::next_code_point(utf8, pos);
    ++characters;
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return fmt::format("line {}, column {} (character {}, counting from 0)", line, column, characters);
}

std::string describe_character(char32_t c) {
  const std::string code = fmt::format("U+{:04X}", static_cast<unsigned>(c));
  if (c == unicode::kReplacementChar) return code + " (an ill-formed UTF-8 sequence, or U+FFFD itself)";
  const bool prints = c >= 0x20 && c != 0x7F && !(c >= 0x80 && c < 0xA0);
  if (!prints) return code;
  std::string utf8;
  unicode::append_utf8(utf8, c);
  return "'" + utf8 + "' (" + code + ")";
}

std::string json_text_from_bytes(std::string_view bytes, const std::string& origin) {
  if (starts_with(bytes, "\xEF\xBB\xBF")) return std::string(bytes.substr(3));
  if (starts_with(bytes, "\xFF\xFE")) return unicode::utf16_to_utf8(bytes.substr(2), false, origin);
  if (starts_with(bytes, "\xFE\xFF")) return unicode::utf16_to_utf8(bytes.substr(2), true, origin);
  // JSON text starts with ASCII ('{', whitespace), which UTF-16 pairs with a zero byte; UTF-8 JSON
  // has no zero bytes at all.
  if (bytes.size() >= 2 && bytes[0] != '\0' && bytes[1] == '\0') return unicode::utf16_to_utf8(bytes, false, origin);
  if (bytes.size() >= 2 && bytes[0] == '\0' && bytes[1] != '\0') return unicode::utf16_to_utf8(bytes, true, origin);
  return std::string(bytes);
}

nlohmann::json parse_tokenizer_json(const std::string& text, const std::string& origin, std::string_view expected) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw std::runtime_error("'" + origin + "' is empty; expected " + std::string(expected));
  // A key given twice would silently keep its last value (nlohmann, like Python's json): one
  // vocabulary entry would vanish and every id after it shift.
  std::set<std::string> top_level_keys;
  const auto limit = nesting_limit(kMaxTokenizerJsonDepth, "'" + origin + "'");
  const auto check = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 &&
        !top_level_keys.insert(parsed.get<std::string>()).second)
      throw std::runtime_error("'" + origin + "': key " + parsed.dump() + " appears twice; expected each key once");
    return limit(depth, event, parsed);
  };
  try {
    return nlohmann::json::parse(text, check);
  } catch (const nlohmann::json::exception& error) {  // parse_error, or out_of_range for 1e999
    throw std::runtime_error("'" + origin + "': malformed JSON (" + error.what() + "); expected " + std::string(expected));
  }
}

const char* tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::None: return "none";
    case TokenizerKind::Characters: return "character vocabulary";
    case TokenizerKind::ByteLevelBpe: return "byte-level BPE";
  }
  return "?";
}

std::string FoundTokenizer::describe() const {
  if (!tokenizer) return "none (" + source.rule + ")";
  return fmt::format("{} ({}, {} ids; {})", source.path, tokenizer_kind_name(source.kind), tokenizer->vocab_size(),
                     source.rule);
}

namespace {
TokenizerKind kind_of(const nlohmann::json& content, const std::string& origin) {
  if (!content.is_object())
    throw std::runtime_error("'" + origin + "': expected " + std::string(kAnyTokenizer) + ", found JSON " +
                             content.type_name());
  return content.contains("model") && content["model"].is_object() ? TokenizerKind::ByteLevelBpe
                                                                     : TokenizerKind::Characters;
}

std::unique_ptr<Tokenizer> tokenizer_of_kind(TokenizerKind kind, const nlohmann::json& content, const std::string& origin) {
  if (kind == TokenizerKind::ByteLevelBpe) return bpe_tokenizer_from_json(content, origin);
  return char_tokenizer_from_json(content, origin);
}
}  // namespace

FoundTokenizer read_tokenizer_file(const std::string& path, const std::string& rule) {
  FoundTokenizer found;
  found.source.path = path;
  found.source.rule = rule;
  found.source.json = json_text_from_bytes(unicode::read_file_bytes(path, kAnyTokenizer), path);
  const nlohmann::json content = parse_tokenizer_json(found.source.json, path, kAnyTokenizer);
  found.source.kind = kind_of(content, path);
  found.tokenizer = tokenizer_of_kind(found.source.kind, content, path);
  return found;
}

std::unique_ptr<Tokenizer> tokenizer_from_source(const TokenizerSource& source, const std::string& origin) {
  if (source.kind == TokenizerKind::None) return nullptr;
  const nlohmann::json content = parse_tokenizer_json(source.json, origin, kAnyTokenizer);
  if (kind_of(content, origin) != source.kind)
    throw std::runtime_error(fmt::format("'{}': recorded as a {}, but its content is a {}", origin,
                                         tokenizer_kind_name(source.kind),
                                         tokenizer_kind_name(kind_of(content, origin))));
  return tokenizer_of_kind(source.kind, content, origin);
}

bool same_tokenizer(const TokenizerSource& a, const TokenizerSource& b, std::string* difference) {
  const auto differ = [difference](std::string what) {
    if (difference) *difference = std::move(what);
    return false;
  };
  if (a.kind != b.kind)
    return differ(fmt::format("a {} against a {}", tokenizer_kind_name(a.kind), tokenizer_kind_name(b.kind)));
  if (a.kind == TokenizerKind::None) return true;
  const nlohmann::json left = parse_tokenizer_json(a.json, a.path, kAnyTokenizer);
  const nlohmann::json right = parse_tokenizer_json(b.json, b.path, kAnyTokenizer);
  if (left == right) return true;
  if (a.kind != TokenizerKind::Characters) return differ("the two tokenizer.json files differ");
  if (left.size() != right.size()) return differ(fmt::format("{} entries against {}", left.size(), right.size()));
  for (const auto& [id, character] : left.items()) {
    const auto other = right.find(id);
    if (other == right.end()) return differ(fmt::format("id {} is only in the first", id));
    if (*other != character) return differ(fmt::format("id {} is {} against {}", id, character.dump(), other->dump()));
  }
  return differ("their entries differ");
}

void require_tokenizer_size(const FoundTokenizer& found, int vocab_size) {
  if (!found.tokenizer || found.tokenizer->vocab_size() == vocab_size) return;
  throw std::runtime_error(fmt::format(
      "tokenizer '{}' ({}) has {} ids, but the model's vocabulary has {}: its ids would be the wrong rows of the "
      "embedding; give the model's own tokenizer with --tokenizer",
      found.source.path, found.source.rule, found.tokenizer->vocab_size(), vocab_size));
}

FoundTokenizer find_shipped_tokenizer(int vocab_size, const std::string& data_dir) {
  const ShippedTokenizer* shipped = shipped_tokenizer(vocab_size);
  if (!shipped) {
    FoundTokenizer none;
    none.source.rule = fmt::format("no shipped tokenizer has {} ids (vocab_book.json 77, 20B_tokenizer.json 50277)",
                                   vocab_size);
    return none;
  }
  FoundTokenizer found = read_tokenizer_file(
      data_dir + "/" + shipped->file,
      fmt::format("{}, chosen by the vocabulary size {}", shipped->description, vocab_size));
  require_tokenizer_size(found, vocab_size);
  return found;
}

FoundTokenizer find_tokenizer(const std::string& given_path, const std::string& checkpoint_path, int vocab_size,
                              const std::string& data_dir) {
  FoundTokenizer found;
  const std::filesystem::path beside = std::filesystem::path(checkpoint_path).parent_path() / kUpstreamVocabName;
  std::error_code ignored;
  if (!given_path.empty()) {
    found = read_tokenizer_file(given_path, "given with --tokenizer");
  } else if (!checkpoint_path.empty() && std::filesystem::exists(beside, ignored)) {
    found = read_tokenizer_file(beside.string(), "vocab.json beside the checkpoint");
  } else {
    found = find_shipped_tokenizer(vocab_size, data_dir);
    if (!found.tokenizer) found.source.rule = "no --tokenizer, no vocab.json beside the checkpoint, and " + found.source.rule;
    return found;
  }
  require_tokenizer_size(found, vocab_size);
  return found;
}

std::unique_ptr<Tokenizer> tokenizer_for_vocab(int vocab_size, const std::string& data_dir) {
  const ShippedTokenizer* shipped = shipped_tokenizer(vocab_size);
  if (!shipped) return nullptr;
  const std::string path = data_dir + "/" + shipped->file;
  std::unique_ptr<Tokenizer> tokenizer =
      vocab_size == 77 ? load_char_tokenizer(path) : load_bpe_tokenizer(path);
  // A file swapped for another vocabulary would silently produce ids the model cannot embed.
  if (tokenizer->vocab_size() != vocab_size) {
    throw std::runtime_error("tokenizer '" + tokenizer->name() + "' in '" + data_dir + "' has " +
                             std::to_string(tokenizer->vocab_size()) + " ids, expected " +
                             std::to_string(vocab_size));
  }
  return tokenizer;
}

}  // namespace spiketile
