#include "runtime/token_input.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "models/unicode_util.hpp"

namespace spiketile {

FoundTokenizer mapping_tokenizer(const Mapping& mapping, const std::string& map_path, const std::string& given_path,
                                 const std::string& data_dir) {
  const TokenizerSource& recorded = mapping.tokenizer;
  if (mapping.tokenizer_recorded && recorded.kind != TokenizerKind::None) {
    if (!given_path.empty()) {
      const FoundTokenizer given = read_tokenizer_file(given_path, "given with --tokenizer");
      std::string difference;
      if (!same_tokenizer(recorded, given.source, &difference))
        throw std::invalid_argument(fmt::format(
            "--tokenizer {} is not the tokenizer {} was compiled with ({}, {}): {} (the recorded one against {}); "
            "leave --tokenizer out to use the recorded one, or recompile with 'spiketile compile --tokenizer {}'",
            given_path, map_path, recorded.path, recorded.rule, difference, given_path, given_path));
    }
    FoundTokenizer found;
    found.source = recorded;
    found.source.rule = fmt::format("recorded in {} ({})", map_path, recorded.rule);
    found.tokenizer = tokenizer_from_source(recorded, fmt::format("the tokenizer {} records ({})", map_path, recorded.path));
    return found;
  }
  const std::string no_record = mapping.tokenizer_recorded
                                    ? fmt::format("{} records no tokenizer: {}", map_path, recorded.rule)
                                    : fmt::format("{} (mapping format version 3) records no tokenizer", map_path);
  if (!given_path.empty()) {
    FoundTokenizer given = read_tokenizer_file(given_path, "given with --tokenizer; " + no_record);
    require_tokenizer_size(given, mapping.config.vocab_size);
    return given;
  }
  FoundTokenizer shipped = find_shipped_tokenizer(mapping.config.vocab_size, data_dir);
  shipped.source.rule = no_record + "; " + shipped.source.rule;
  return shipped;
}

void print_note_to_stderr(const std::string& note) { fmt::print(stderr, "spiketile: note: {}\n", note); }

namespace {
// Characters read as space are never silent: their count, and the first of them.
// Where lowercasing would have kept some of them (a lowercase vocabulary reading mixed-case text),
// the note says how many, so the user knows --lowercase is there.
void note_replaced_characters(const EncodeReport& report, const std::string& text, const std::string& what,
                              const FoundTokenizer& tokenizer, const NoteSink& note, TextCase text_case) {
  if (report.replaced == 0) return;
  std::string hint;
  if (text_case == TextCase::AsGiven) {
    EncodeReport lowered;
    lowered.stop_after_tokens = report.stop_after_tokens;
    try {
      tokenizer.tokenizer->encode(unicode::to_lowercase(text), lowered);
    } catch (const UnknownCharacterError&) {
      lowered.replaced = report.replaced;  // no better lowercased
    }
    if (lowered.replaced < report.replaced)
      hint = fmt::format("; lowercased (--lowercase), {} of them would be read as the vocabulary's letters",
                         report.replaced - lowered.replaced);
  }
  note(fmt::format("{} character{} of {} {} not in the vocabulary {} and read as space (the first, {}, at {}){}",
                   report.replaced, report.replaced == 1 ? "" : "s", what, report.replaced == 1 ? "is" : "are",
                   tokenizer.source.path, describe_character(report.first_replaced),
                   describe_text_position(text, report.first_replaced_byte), hint));
}

std::string as_cased(std::string text, TextCase text_case) {
  return text_case == TextCase::Lowercase ? unicode::to_lowercase(text) : text;
}

// Encodes `text`, naming `what` it is (the prompt, a file) in the error for a character a
// vocabulary without a space lacks.
std::vector<int> encode_naming(const FoundTokenizer& tokenizer, const std::string& text, const std::string& what,
                               EncodeReport& report) {
  try {
    return tokenizer.tokenizer->encode(text, report);
  } catch (const UnknownCharacterError& e) {
    throw UnknownCharacterError(fmt::format("{}: {}", what, e.what()));
  }
}
}  // namespace

std::vector<int> encode_prompt(const std::string& given, const FoundTokenizer& tokenizer, int vocab_size,
                               const PromptNames& names, const NoteSink& note, TextCase text_case) {
  if (!tokenizer.tokenizer)
    throw std::invalid_argument(fmt::format(
        "this model's vocabulary ({} tokens) has no text tokenizer; give the prompt with {}, or a tokenizer with {} ({})",
        vocab_size, names.ids, names.tokenizer, tokenizer.source.rule));
  const std::string text = as_cased(given, text_case);
  EncodeReport report;
  std::vector<int> tokens = encode_naming(tokenizer, text, names.text, report);
  note_replaced_characters(report, text, "the prompt", tokenizer, note, text_case);
  if (tokens.empty()) throw std::invalid_argument(fmt::format("the prompt is empty; give {} or {}", names.text, names.ids));
  return tokens;
}

namespace {
// Up to `bytes` of a text (all of it for 0); *complete says whether that was the whole text.
using TextPrefixReader = std::function<std::string(std::size_t bytes, bool* complete)>;

// The text the tokens were taken from, and its tokens.
struct EncodedPrefix {
  std::string text;
  FileTokens encoded;
};

EncodedPrefix encode_text_prefix(const std::string& name, const TextPrefixReader& read, const FoundTokenizer& tokenizer,
                                 int vocab_size, int64_t max_tokens) {
  if (!tokenizer.tokenizer)
    throw std::invalid_argument(fmt::format("vocabulary of {} tokens has no tokenizer to encode {} ({}); give one with "
                                            "--tokenizer, or token ids with --ids",
                                            vocab_size, name, tokenizer.source.rule));
  EncodedPrefix prefix;
  if (max_tokens <= 0) {
    bool complete = true;
    prefix.text = read(0, &complete);
    prefix.encoded.tokens = encode_naming(tokenizer, prefix.text, name, prefix.encoded.report);
    return prefix;
  }
  // Only as much of the text as the tokens need (a stream such as /dev/zero has no end): a prefix
  // that encodes to more tokens than asked for, by a margin that keeps the BPE merges at the cut
  // those of the whole text; a character vocabulary stops at the cut itself.
  constexpr int64_t kMargin = 64;
  for (std::size_t bytes = std::size_t(max_tokens + kMargin) * 4;; bytes *= 2) {
    bytes = std::min(bytes, unicode::kMaxInputFileBytes);
    bool complete = false;
    prefix.text = read(bytes, &complete);
    prefix.encoded.report = EncodeReport{};
    prefix.encoded.report.stop_after_tokens = max_tokens;
    std::vector<int>& tokens = prefix.encoded.tokens;
    tokens = encode_naming(tokenizer, prefix.text, name, prefix.encoded.report);
    if (complete || prefix.encoded.report.stopped || int64_t(tokens.size()) >= max_tokens + kMargin) {
      if (int64_t(tokens.size()) > max_tokens) tokens.resize(std::size_t(max_tokens));
      return prefix;
    }
    if (bytes == unicode::kMaxInputFileBytes)
      throw std::invalid_argument(fmt::format("the first {} bytes of {} encode to only {} tokens of the {} asked for",
                                              bytes, name, tokens.size(), max_tokens));
  }
}

FileTokens encode_checked(const std::string& name, const TextPrefixReader& read_as_given, const FoundTokenizer& tokenizer,
                          int vocab_size, int64_t max_tokens, TextNeed need, const NoteSink& note, TextCase text_case) {
  const TextPrefixReader read = [&](std::size_t bytes, bool* complete) {
    return as_cased(read_as_given(bytes, complete), text_case);
  };
  EncodedPrefix prefix = encode_text_prefix(name, read, tokenizer, vocab_size, max_tokens);
  note_replaced_characters(prefix.encoded.report, prefix.text, name, tokenizer, note, text_case);
  require_enough(name, prefix.encoded.tokens.size(), need, "token", " of text");
  return std::move(prefix.encoded);
}
}  // namespace

void require_enough(const std::string& path, std::size_t tokens, TextNeed need, const char* noun, const char* of_what) {
  if (tokens < need.tokens)
    throw std::invalid_argument(
        fmt::format("{}: {} {}{}{}; {}", path, tokens, noun, tokens == 1 ? "" : "s", of_what, need.reason));
}

FileTokens encode_text_file(const std::string& path, const FoundTokenizer& tokenizer, int vocab_size,
                            int64_t max_tokens, TextNeed need, const NoteSink& note, TextCase text_case) {
  constexpr const char* kWhat = "a text file to encode";
  const auto read = [&](std::size_t bytes, bool* complete) {
    return bytes == 0 ? unicode::read_file_bytes(path, kWhat) : unicode::read_file_prefix(path, kWhat, bytes, complete);
  };
  return encode_checked(path, read, tokenizer, vocab_size, max_tokens, need, note, text_case);
}

FileTokens encode_text(const std::string& text, const std::string& name, const FoundTokenizer& tokenizer,
                       int vocab_size, int64_t max_tokens, TextNeed need, const NoteSink& note, TextCase text_case) {
  const auto read = [&](std::size_t bytes, bool* complete) {
    *complete = bytes == 0 || bytes >= text.size();
    return *complete ? text : text.substr(0, bytes);
  };
  return encode_checked(name, read, tokenizer, vocab_size, max_tokens, need, note, text_case);
}

}  // namespace spiketile
