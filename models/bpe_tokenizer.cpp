// Byte-level BPE in the Hugging Face `tokenizers` JSON form (GPT-NeoX-20B). The pipeline mirrors
// tokenizers' Tokenizer::encode step by step, because ids must match it exactly:
//   1. split out added tokens with normalized == false, on the raw text;
//   2. NFC-normalize each remaining piece, then split out added tokens with normalized == true;
//   3. ByteLevel pre-tokenizer: the GPT-2 regex split into words;
//   4. BPE merges by rank (same priority-queue order as tokenizers' Word::merge_all).
// Vocab strings are GPT-2 "byte characters"; they are decoded to raw bytes once at load time, so
// BPE runs on the UTF-8 bytes of each word directly.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "models/json_limits.hpp"
#include "models/tokenizer.hpp"
#include "models/tokenizer_json.hpp"
#include "models/unicode_util.hpp"

namespace spiketile {
namespace {

using unicode::CharClass;

// Ids index dense tables, so an absurd id in a corrupt file must not trigger a huge allocation.
constexpr long long kMaxTokenId = 1 << 24;

constexpr std::string_view kExpectedFormat =
    "a Hugging Face tokenizers JSON (BPE model, NFC or no normalizer, ByteLevel pre-tokenizer)";

[[noreturn]] void fail(const std::string& origin, const std::string& problem) {
  throw std::runtime_error("'" + origin + "': " + problem + "; expected " + std::string(kExpectedFormat));
}

// GPT-2's bytes_to_unicode(): every byte gets a printable code point so BPE tokens are strings.
// Printable Latin-1 bytes map to themselves, the rest to U+0100 onwards in byte order.
std::array<char32_t, 256> byte_to_code_point_table() {
  std::array<char32_t, 256> table{};
  char32_t next_unprintable = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
    table[byte] = printable ? static_cast<char32_t>(byte) : next_unprintable++;
  }
  return table;
}

struct AddedToken {
  int id = 0;
  std::string content;
  std::string pattern;  // content, NFC-normalized when `normalized` (tokenizers does the same)
  bool special = false;  // affects only decoding with skip_special_tokens, which this API lacks
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
};

struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  int added_token = -1;  // index into the added-token list, or -1 for ordinary text
};

// Leftmost-longest, non-overlapping matching of a few patterns: the semantics of the
// aho-corasick automaton (MatchKind::LeftmostLongest) that tokenizers builds for added tokens.
// A byte trie is enough for a couple of dozen short patterns.
class PatternTrie {
 public:
  PatternTrie() : nodes_(1) {}

  void add(std::string_view pattern, int value) {
    if (pattern.empty()) return;
    int node = 0;
    for (const char byte : pattern) {
      int child = child_of(node, static_cast<unsigned char>(byte));
      if (child < 0) {
        child = static_cast<int>(nodes_.size());
        nodes_[node].children.emplace_back(static_cast<unsigned char>(byte), child);
        nodes_.emplace_back();
      }
      node = child;
    }
    if (nodes_[node].value < 0) nodes_[node].value = value;  // first of duplicate patterns wins
  }

  bool empty() const { return nodes_.size() == 1; }

  // Finds the leftmost match at or after `from`; among matches starting there, the longest.
  std::optional<Span> find(std::string_view text, std::size_t from) const {
    for (std::size_t start = from; start < text.size(); ++start) {
      int node = 0;
      std::optional<Span> longest;
      for (std::size_t pos = start; pos < text.size(); ++pos) {
        node = child_of(node, static_cast<unsigned char>(text[pos]));
        if (node < 0) break;
        if (nodes_[node].value >= 0) longest = Span{start, pos + 1, nodes_[node].value};
      }
      if (longest) return longest;
    }
    return std::nullopt;
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int>> children;
    int value = -1;
  };

  int child_of(int node, unsigned char byte) const {
    for (const auto& [label, child] : nodes_[node].children) {
      if (label == byte) return child;
    }
    return -1;
  }

  std::vector<Node> nodes_;
};

char32_t last_code_point(std::string_view utf8) {
  std::size_t start = utf8.size();
  while (start > 0 && (static_cast<unsigned char>(utf8[start - 1]) & 0xC0) == 0x80) --start;
  if (start > 0) --start;
  std::size_t pos = start;
  return unicode::next_code_point(utf8, pos);
}

char32_t first_code_point(std::string_view utf8) {
  std::size_t pos = 0;
  return unicode::next_code_point(utf8, pos);
}

// Byte offset where the trailing run of whitespace of `text[0, end)` begins.
std::size_t start_of_trailing_whitespace(std::string_view text, std::size_t end) {
  while (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    std::size_t pos = start;
    if (!unicode::is_whitespace(unicode::next_code_point(text, pos))) break;
    end = start;
  }
  return end;
}

// Byte offset where the leading run of whitespace of `text[begin, ...)` ends.
std::size_t end_of_leading_whitespace(std::string_view text, std::size_t begin) {
  while (begin < text.size()) {
    std::size_t pos = begin;
    if (!unicode::is_whitespace(unicode::next_code_point(text, pos))) break;
    begin = pos;
  }
  return begin;
}

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(const nlohmann::json& config, const std::string& origin);

  std::string name() const override { return name_; }
  int vocab_size() const override { return static_cast<int>(token_utf8_.size()); }
  std::string token_bytes(int id) const override;

 protected:
  // Byte-level: every text has its tokens, so nothing is ever replaced.
  std::vector<int> encode_text(const std::string& utf8, EncodeReport& report) const override;

 private:
  struct MergeResult {
    int rank;
    int merged_id;
  };

  static std::uint64_t pair_key(int left, int right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
  }

  void load_model(const nlohmann::json& model, const std::string& origin);
  void load_added_tokens(const nlohmann::json& added_tokens, const std::string& origin);
  void check_pipeline(const nlohmann::json& config, const std::string& origin);

  // tokenizers' AddedVocabulary::find_matches: spans covering `text`, added tokens marked.
  std::vector<Span> split_on_added_tokens(std::string_view text, const PatternTrie& trie) const;
  void encode_normalized(std::string_view text, std::vector<int>& ids) const;
  void pre_tokenize(std::string_view text, std::vector<int>& ids) const;
  void encode_piece(std::string_view piece, std::vector<int>& ids) const;
  void merge_piece(std::string_view piece, std::vector<int>& ids) const;

  std::string name_;
  bool normalize_nfc_ = false;
  bool add_prefix_space_ = false;
  bool use_regex_ = true;
  bool ignore_merges_ = false;

  std::array<int, 256> byte_ids_{};               // id of each single-byte token, -1 if none
  std::unordered_map<std::string, int> model_ids_;  // raw token bytes -> id, for ignore_merges
  std::unordered_map<std::uint64_t, MergeResult> merges_;
  std::vector<std::string> token_utf8_;  // bytes of every id; ids with no token stay empty
  std::vector<bool> id_assigned_;

  std::vector<AddedToken> added_tokens_;
  PatternTrie raw_added_tokens_;         // normalized == false: matched before normalization
  PatternTrie normalized_added_tokens_;  // normalized == true: matched on NFC text

  // Words repeat heavily in real text; caching their ids makes BPE cost per distinct word.
  static constexpr std::size_t kMaxCachedPieceBytes = 64;
  static constexpr std::size_t kMaxCacheEntries = 1 << 18;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int>> piece_cache_;
};

BpeTokenizer::BpeTokenizer(const nlohmann::json& config, const std::string& origin)
    : Tokenizer(origin), name_("bpe:" + std::filesystem::path(origin).stem().string()) {
  if (!config.is_object()) fail(origin, std::string("top level is a JSON ") + config.type_name());
  if (!config.contains("model") || !config["model"].is_object()) fail(origin, "no \"model\" object");
  check_pipeline(config, origin);
  load_model(config["model"], origin);
  if (config.contains("added_tokens") && !config["added_tokens"].is_null()) load_added_tokens(config["added_tokens"], origin);
}

void BpeTokenizer::check_pipeline(const nlohmann::json& config, const std::string& origin) {
  const auto type_of = [](const nlohmann::json& section) -> std::string {
    if (section.is_null()) return "null";
    if (!section.is_object() || !section.contains("type") || !section["type"].is_string()) return "untyped";
    return section["type"].get<std::string>();
  };
  const nlohmann::json null_json;
  const auto section = [&](const char* key) -> const nlohmann::json& { return config.contains(key) ? config[key] : null_json; };

  const std::string normalizer = type_of(section("normalizer"));
  if (normalizer != "NFC" && normalizer != "null") fail(origin, "unsupported normalizer '" + normalizer + "'");
  normalize_nfc_ = normalizer == "NFC";

  const nlohmann::json& pre_tokenizer = section("pre_tokenizer");
  if (type_of(pre_tokenizer) != "ByteLevel") fail(origin, "unsupported pre_tokenizer '" + type_of(pre_tokenizer) + "'");
  add_prefix_space_ = pre_tokenizer.value("add_prefix_space", true);
  use_regex_ = pre_tokenizer.value("use_regex", true);

  // A template post-processor would insert ids that encode() here does not produce.
  const std::string post_processor = type_of(section("post_processor"));
  if (post_processor != "ByteLevel" && post_processor != "null") {
    fail(origin, "unsupported post_processor '" + post_processor + "'");
  }
}

void BpeTokenizer::load_model(const nlohmann::json& model, const std::string& origin) {
  if (model.value("type", std::string("BPE")) != "BPE") fail(origin, "model type is '" + model["type"].dump() + "'");
  const auto is_unset = [&](const char* key) {
    return !model.contains(key) || model[key].is_null() || (model[key].is_string() && model[key].get<std::string>().empty());
  };
  if (!is_unset("continuing_subword_prefix") || !is_unset("end_of_word_suffix")) {
    fail(origin, "BPE with continuing_subword_prefix / end_of_word_suffix is not supported");
  }
  if (model.contains("dropout") && model["dropout"].is_number() && model["dropout"].get<double>() > 0.0) {
    fail(origin, "BPE dropout makes encoding random; it is not supported");
  }
  if (model.value("byte_fallback", false)) fail(origin, "byte_fallback is not supported");
  ignore_merges_ = model.value("ignore_merges", false);

  if (!model.contains("vocab") || !model["vocab"].is_object()) fail(origin, "model has no \"vocab\" object");
  if (!model.contains("merges") || !model["merges"].is_array()) fail(origin, "model has no \"merges\" array");

  const std::array<char32_t, 256> byte_to_code_point = byte_to_code_point_table();
  std::unordered_map<char32_t, unsigned char> code_point_to_byte;
  for (int byte = 0; byte < 256; ++byte) code_point_to_byte.emplace(byte_to_code_point[byte], static_cast<unsigned char>(byte));

  // Token strings are byte characters; store the raw bytes they stand for.
  std::unordered_map<std::string, int> ids_by_token_string;
  for (const auto& [token, id_json] : model["vocab"].items()) {
    if (!id_json.is_number_integer() || id_json.get<long long>() < 0 || id_json.get<long long>() > kMaxTokenId) {
      fail(origin, "vocab entry \"" + token + "\" has id " + id_json.dump());
    }
    const int id = id_json.get<int>();
    std::string bytes;
    bool all_byte_chars = true;
    for (std::size_t pos = 0; pos < token.size() && all_byte_chars;) {
      const auto found = code_point_to_byte.find(unicode::next_code_point(token, pos));
      if (found == code_point_to_byte.end()) {
        all_byte_chars = false;
      } else {
        bytes.push_back(static_cast<char>(found->second));
      }
    }
    // Like tokenizers' ByteLevel decoder: a token that is not made of byte characters decodes to itself.
    if (!all_byte_chars) bytes = token;
    if (static_cast<std::size_t>(id) >= token_utf8_.size()) {
      token_utf8_.resize(static_cast<std::size_t>(id) + 1);
      id_assigned_.resize(static_cast<std::size_t>(id) + 1, false);
    }
    if (id_assigned_[id]) fail(origin, "id " + std::to_string(id) + " appears twice in the vocab");
    id_assigned_[id] = true;
    token_utf8_[id] = bytes;
    ids_by_token_string.emplace(token, id);
    if (all_byte_chars) model_ids_.emplace(std::move(bytes), id);
  }

  // GPT-NeoX's vocab lacks the bytes that never occur in UTF-8 (C0, C1, F5..FF); the text reaching
  // BPE is always valid UTF-8, so only a vocab missing a byte that UTF-8 does use is unusable.
  for (int byte = 0; byte < 256; ++byte) {
    std::string byte_char;
    unicode::append_utf8(byte_char, byte_to_code_point[byte]);
    const auto found = ids_by_token_string.find(byte_char);
    const bool occurs_in_utf8 = byte != 0xC0 && byte != 0xC1 && byte < 0xF5;
    if (found == ids_by_token_string.end() && occurs_in_utf8) {
      fail(origin, "the vocab lacks the byte token for byte " + std::to_string(byte) + " (byte-level BPE needs every UTF-8 byte)");
    }
    byte_ids_[byte] = found == ids_by_token_string.end() ? -1 : found->second;
  }

  const nlohmann::json& merges = model["merges"];
  merges_.reserve(merges.size() * 2);
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const nlohmann::json& merge = merges[rank];
    std::string left, right;
    // Older files write a merge as "left right"; tokenizers >= 0.20 writes ["left", "right"].
    if (merge.is_string()) {
      const std::string& line = merge.get_ref<const std::string&>();
      const std::size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        fail(origin, "merge " + std::to_string(rank) + " \"" + line + "\" is not two tokens separated by one space");
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      fail(origin, "merge " + std::to_string(rank) + " is " + merge.dump());
    }
    const auto left_id = ids_by_token_string.find(left);
    const auto right_id = ids_by_token_string.find(right);
    const auto merged_id = ids_by_token_string.find(left + right);
    if (left_id == ids_by_token_string.end() || right_id == ids_by_token_string.end() || merged_id == ids_by_token_string.end()) {
      fail(origin, "merge " + std::to_string(rank) + " (\"" + left + "\", \"" + right + "\") uses a token missing from the vocab");
    }
    // tokenizers keeps the first (lowest-rank) entry of a duplicated pair.
    merges_.emplace(pair_key(left_id->second, right_id->second), MergeResult{static_cast<int>(rank), merged_id->second});
  }
}

void BpeTokenizer::load_added_tokens(const nlohmann::json& added_tokens, const std::string& origin) {
  if (!added_tokens.is_array()) fail(origin, "\"added_tokens\" is not an array");
  std::set<int> ids;
  std::set<std::string> contents;
  for (const nlohmann::json& entry : added_tokens) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer() || !entry.contains("content") ||
        !entry["content"].is_string() || entry["id"].get<long long>() < 0 || entry["id"].get<long long>() > kMaxTokenId) {
      fail(origin, "added token " + entry.dump() + " lacks an integer id or a string content");
    }
    AddedToken token;
    token.id = entry["id"].get<int>();
    token.content = entry["content"].get<std::string>();
    token.special = entry.value("special", false);
    token.single_word = entry.value("single_word", false);
    token.lstrip = entry.value("lstrip", false);
    token.rstrip = entry.value("rstrip", false);
    token.normalized = entry.value("normalized", !token.special);
    token.pattern = token.normalized && normalize_nfc_ ? unicode::nfc_normalize(token.content) : token.content;
    // tokenizers silently drops an empty added token and lets a repeated one shadow the first:
    // either would make our ids differ from the file's without a word.
    if (token.content.empty()) fail(origin, "added token " + std::to_string(token.id) + " has empty content");
    if (!ids.insert(token.id).second) fail(origin, "added token id " + std::to_string(token.id) + " appears twice");
    if (!contents.insert(token.content).second)
      fail(origin, "added token " + std::to_string(token.id) + " repeats the content of an earlier one");

    if (static_cast<std::size_t>(token.id) >= token_utf8_.size()) {
      token_utf8_.resize(static_cast<std::size_t>(token.id) + 1);
      id_assigned_.resize(static_cast<std::size_t>(token.id) + 1, false);
    }
    token_utf8_[token.id] = token.content;  // added tokens decode to their content
    id_assigned_[token.id] = true;
    const int index = static_cast<int>(added_tokens_.size());
    (token.normalized ? normalized_added_tokens_ : raw_added_tokens_).add(token.pattern, index);
    added_tokens_.push_back(std::move(token));
  }
}

std::vector<Span> BpeTokenizer::split_on_added_tokens(std::string_view text, const PatternTrie& trie) const {
  std::vector<Span> spans;
  std::size_t covered = 0;  // end of the last span emitted
  std::size_t search_from = 0;
  if (!trie.empty()) {
    while (const std::optional<Span> match = trie.find(text, search_from)) {
      // The automaton resumes after the raw match, whatever lstrip / rstrip later do to the span.
      search_from = match->end;
      const AddedToken& token = added_tokens_[match->added_token];
      std::size_t start = match->begin;
      std::size_t stop = match->end;
      if (token.single_word) {
        const bool word_before = start > 0 && unicode::is_word_char(last_code_point(text.substr(0, start)));
        const bool word_after = stop < text.size() && unicode::is_word_char(first_code_point(text.substr(stop)));
        if (word_before || word_after) continue;
      }
      // lstrip may not reach into whitespace an earlier span (e.g. an rstrip) already took.
      if (token.lstrip) start = std::max(start_of_trailing_whitespace(text, start), covered);
      if (token.rstrip) stop = end_of_leading_whitespace(text, stop);
      if (covered < start) spans.push_back(Span{covered, start, -1});
      spans.push_back(Span{start, stop, match->added_token});
      covered = stop;
    }
  }
  if (covered < text.size()) spans.push_back(Span{covered, text.size(), -1});
  return spans;
}

std::vector<int> BpeTokenizer::encode_text(const std::string& utf8, EncodeReport&) const {
  std::vector<int> ids;
  ids.reserve(utf8.size() / 3);
  for (const Span& span : split_on_added_tokens(utf8, raw_added_tokens_)) {
    if (span.added_token >= 0) {
      ids.push_back(added_tokens_[span.added_token].id);
      continue;
    }
    const std::string_view piece = std::string_view(utf8).substr(span.begin, span.end - span.begin);
    if (normalize_nfc_) {
      encode_normalized(unicode::nfc_normalize(piece), ids);
    } else {
      // Without a normalizer, still make the text valid UTF-8 (ill-formed bytes become U+FFFD)
      // so the pre-tokenizer sees the same code points as a Rust &str would.
      std::string valid;
      valid.reserve(piece.size());
      for (std::size_t pos = 0; pos < piece.size();) unicode::append_utf8(valid, unicode::next_code_point(piece, pos));
      encode_normalized(valid, ids);
    }
  }
  return ids;
}

void BpeTokenizer::encode_normalized(std::string_view text, std::vector<int>& ids) const {
  for (const Span& span : split_on_added_tokens(text, normalized_added_tokens_)) {
    if (span.added_token >= 0) {
      ids.push_back(added_tokens_[span.added_token].id);
    } else {
      pre_tokenize(text.substr(span.begin, span.end - span.begin), ids);
    }
  }
}

// The GPT-2 split regex, matched by hand on code points:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Alternatives are tried in order at each position, exactly as the backtracking engine does.
// Every code point falls in some alternative, so the matches tile the text.
void BpeTokenizer::pre_tokenize(std::string_view text, std::vector<int>& ids) const {
  if (text.empty()) return;
  std::string prefixed;
  if (add_prefix_space_ && text.front() != ' ') {
    prefixed = " ";
    prefixed.append(text);
    text = prefixed;
  }
  if (!use_regex_) {
    encode_piece(text, ids);
    return;
  }

  std::vector<char32_t> code_points;
  std::vector<CharClass> classes;
  std::vector<std::size_t> offsets;  // byte offset of each code point, plus the end
  code_points.reserve(text.size());
  classes.reserve(text.size());
  offsets.reserve(text.size() + 1);
  for (std::size_t pos = 0; pos < text.size();) {
    offsets.push_back(pos);
    const char32_t c = unicode::next_code_point(text, pos);
    code_points.push_back(c);
    classes.push_back(unicode::classify(c));
  }
  offsets.push_back(text.size());
  const std::size_t count = code_points.size();

  const auto run_end = [&](std::size_t from, CharClass cls) {
    while (from < count && classes[from] == cls) ++from;
    return from;
  };
  const auto is_contraction = [&](std::size_t i) -> std::size_t {
    if (code_points[i] != '\'' || i + 1 >= count) return 0;
    const char32_t first = code_points[i + 1];
    if (first == 's' || first == 't' || first == 'm' || first == 'd') return 2;
    if (i + 2 < count) {
      const char32_t second = code_points[i + 2];
      if ((first == 'r' && second == 'e') || (first == 'v' && second == 'e') || (first == 'l' && second == 'l')) return 3;
    }
    return 0;
  };

  std::size_t i = 0;
  while (i < count) {
    std::size_t end = i;
    if (const std::size_t length = is_contraction(i)) {
      end = i + length;
    } else {
      const bool space_then_non_space = code_points[i] == ' ' && i + 1 < count && classes[i + 1] != CharClass::kWhitespace;
      if (space_then_non_space) {
        // " ?\p{L}+", " ?\p{N}+" and " ?[^\s\p{L}\p{N}]+" all take the optional space here.
        end = run_end(i + 1, classes[i + 1]);
      } else if (classes[i] != CharClass::kWhitespace) {
        end = run_end(i, classes[i]);
      } else {
        // "\s+(?!\S)" backtracks to leave the last whitespace for a following word's " ?";
        // a lone whitespace before a non-space falls through to "\s+".
        const std::size_t whitespace_end = run_end(i, CharClass::kWhitespace);
        if (whitespace_end == count || whitespace_end - i == 1) {
          end = whitespace_end;
        } else {
          end = whitespace_end - 1;
        }
      }
    }
    encode_piece(text.substr(offsets[i], offsets[end] - offsets[i]), ids);
    i = end;
  }
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int>& ids) const {
  if (piece.size() > kMaxCachedPieceBytes) {
    merge_piece(piece, ids);
    return;
  }
  const std::string key(piece);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto found = piece_cache_.find(key);
    if (found != piece_cache_.end()) {
      ids.insert(ids.end(), found->second.begin(), found->second.end());
      return;
    }
  }
  const std::size_t first_new = ids.size();
  merge_piece(piece, ids);
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (piece_cache_.size() >= kMaxCacheEntries) piece_cache_.clear();
  piece_cache_.emplace(key, std::vector<int>(ids.begin() + static_cast<std::ptrdiff_t>(first_new), ids.end()));
}

// tokenizers' Word::merge_all without dropout: repeatedly apply the lowest-rank merge, leftmost
// first on ties, on a linked list of symbols, skipping queue entries that earlier merges made stale.
void BpeTokenizer::merge_piece(std::string_view piece, std::vector<int>& ids) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    const auto whole = model_ids_.find(std::string(piece));
    if (whole != model_ids_.end()) {
      ids.push_back(whole->second);
      return;
    }
  }
  struct Symbol {
    int id;
    int prev;
    int next;
    bool alive;
  };
  struct Candidate {
    int rank;
    int position;
    int merged_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };

  const int count = static_cast<int>(piece.size());
  std::vector<Symbol> symbols(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    symbols[i] = Symbol{byte_ids_[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < count ? i + 1 : -1, true};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  const auto push_if_mergeable = [&](int left) {
    const int right = symbols[left].next;
    if (right < 0) return;
    const auto found = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (found != merges_.end()) queue.push(Candidate{found->second.rank, left, found->second.merged_id});
  };
  for (int i = 0; i + 1 < count; ++i) push_if_mergeable(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.position];
    if (!left.alive || left.next < 0) continue;
    const int right_index = left.next;
    const auto current = merges_.find(pair_key(left.id, symbols[right_index].id));
    if (current == merges_.end() || current->second.merged_id != top.merged_id) continue;  // stale entry

    left.id = top.merged_id;
    symbols[right_index].alive = false;
    left.next = symbols[right_index].next;
    if (left.next >= 0) symbols[left.next].prev = top.position;
    if (left.prev >= 0) push_if_mergeable(left.prev);
    push_if_mergeable(top.position);
  }
  for (int i = 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
}

std::string BpeTokenizer::token_bytes(int id) const {
  if (id < 0 || id >= vocab_size() || !id_assigned_[static_cast<std::size_t>(id)]) {
    throw std::out_of_range("token id " + std::to_string(id) + " is not in the vocabulary of " + name_ + " (" +
                            std::to_string(vocab_size()) + " ids)");
  }
  return token_utf8_[static_cast<std::size_t>(id)];
}

}  // namespace

std::unique_ptr<Tokenizer> bpe_tokenizer_from_json(const nlohmann::json& config, const std::string& origin) {
  try {
    return std::make_unique<BpeTokenizer>(config, origin);
  } catch (const nlohmann::json::exception& error) {
    // A field of the wrong JSON type (say, a string where a bool belongs).
    fail(origin, std::string("unexpected JSON structure (") + error.what() + ")");
  }
}

std::unique_ptr<Tokenizer> load_bpe_tokenizer_from_json(const std::string& json_text, const std::string& origin) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(json_text, nesting_limit(kMaxTokenizerJsonDepth, origin));
  } catch (const nlohmann::json::exception& error) {
    // parse_error, and out_of_range for a number beyond double (1e999).
    fail(origin, std::string("malformed JSON (") + error.what() + ")");
  }
  return bpe_tokenizer_from_json(config, origin);
}

std::unique_ptr<Tokenizer> load_bpe_tokenizer(const std::string& path) {
  return load_bpe_tokenizer_from_json(unicode::read_file_bytes(path, kExpectedFormat), path);
}

}  // namespace spiketile
