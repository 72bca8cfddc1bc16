// Private helpers shared by the tokenizers: file reading with useful errors, UTF-8 / UTF-16
// conversion and the character classes the GPT-2 pre-tokenizer regex is defined on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace spiketile::unicode {

constexpr char32_t kReplacementChar = 0xFFFD;

// The most bytes an input file read whole may have: a stream (/dev/zero) or a runaway file is an
// error naming it, not an unbounded read.
constexpr std::size_t kMaxInputFileBytes = std::size_t(256) << 20;

// Whole file as bytes; throws std::runtime_error naming the file and `what_is_expected` (also for
// a folder, and for a file of more than max_bytes).
std::string read_file_bytes(const std::string& path, std::string_view what_is_expected,
                            std::size_t max_bytes = kMaxInputFileBytes);

// At most the first max_bytes of a file; *complete says whether that was the whole file.
std::string read_file_prefix(const std::string& path, std::string_view what_is_expected, std::size_t max_bytes,
                             bool* complete);

// Decodes one code point at `pos` and advances `pos`. An ill-formed sequence yields U+FFFD and
// consumes its maximal ill-formed subpart (the WHATWG / ICU convention), so decoding never stalls.
char32_t next_code_point(std::string_view utf8, std::size_t& pos);

void append_utf8(std::string& out, char32_t code_point);

// UTF-16 code units (no BOM) of the given byte order to UTF-8. Throws std::runtime_error
// mentioning `origin` on an odd byte count or an unpaired surrogate, since that means the file is
// not UTF-16.
std::string utf16_to_utf8(std::string_view bytes, bool big_endian, const std::string& origin);

// The character classes of `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
// \s is the Unicode White_Space property, which is what Oniguruma (used by Hugging Face
// tokenizers) means by \s: [\t-\r\x{85}] plus the Zs, Zl and Zp categories. The classes are disjoint.
enum class CharClass : std::uint8_t { kLetter, kNumber, kWhitespace, kOther };
CharClass classify(char32_t code_point);

// Rust's char::is_whitespace (White_Space) and the word-character test Hugging Face uses for
// an added token's lstrip / rstrip / single_word flags.
bool is_whitespace(char32_t code_point);
bool is_word_char(char32_t code_point);

// Unicode Normalization Form C via ICU. Ill-formed UTF-8 in the input becomes U+FFFD.
std::string nfc_normalize(std::string_view utf8);

// Unicode lowercase (ICU's full case mapping, root locale): a lowercase vocabulary's reading of a
// mixed-case text. Ill-formed UTF-8 in the input becomes U+FFFD.
std::string to_lowercase(std::string_view utf8);

}  // namespace spiketile::unicode
