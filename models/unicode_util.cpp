#include "models/unicode_util.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace spiketile::unicode {

std::string read_file_prefix(const std::string& path, std::string_view what_is_expected, std::size_t max_bytes,
                             bool* complete) {
  const std::string expected(what_is_expected);
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw std::runtime_error("'" + path + "' is a folder: expected " + expected);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "': expected " + expected);
  std::string bytes;
  constexpr std::size_t kChunk = 1 << 16;
  while (bytes.size() < max_bytes) {
    const std::size_t want = std::min(kChunk, max_bytes - bytes.size()), had = bytes.size();
    bytes.resize(had + want);
    in.read(bytes.data() + had, std::streamsize(want));
    bytes.resize(had + std::size_t(in.gcount()));
    if (in.bad()) throw std::runtime_error("error while reading '" + path + "' (" + expected + ")");
    if (!in) break;  // end of file
  }
  *complete = in.eof() || in.peek() == std::char_traits<char>::eof();
  return bytes;
}

std::string read_file_bytes(const std::string& path, std::string_view what_is_expected, std::size_t max_bytes) {
  bool complete = false;
  std::string bytes = read_file_prefix(path, what_is_expected, max_bytes, &complete);
  if (!complete)
    throw std::runtime_error("'" + path + "' is larger than " + std::to_string(max_bytes) + " bytes, the most this tool " +
                             "reads of " + std::string(what_is_expected));
  return bytes;
}

char32_t next_code_point(std::string_view utf8, std::size_t& pos) {
  const auto byte_at = [&](std::size_t i) { return static_cast<unsigned char>(utf8[i]); };
  const unsigned char lead = byte_at(pos);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  std::size_t length = 0;
  char32_t code_point = 0;
  // The allowed range of the first continuation byte excludes overlong forms and surrogates
  // (Unicode Table 3-7), so a bad sequence is rejected at the earliest byte.
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    ++pos;
    return kReplacementChar;
  }
  std::size_t consumed = 1;
  for (; consumed < length; ++consumed) {
    if (pos + consumed >= utf8.size()) break;
    const unsigned char continuation = byte_at(pos + consumed);
    const unsigned char low = consumed == 1 ? second_min : 0x80;
    const unsigned char high = consumed == 1 ? second_max : 0xBF;
    if (continuation < low || continuation > high) break;
    code_point = (code_point << 6) | (continuation & 0x3F);
  }
  pos += consumed;
  return consumed == length ? code_point : kReplacementChar;
}

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

std::string utf16_to_utf8(std::string_view bytes, bool big_endian, const std::string& origin) {
  const std::string expected = big_endian ? "expected UTF-16 BE text" : "expected UTF-16 LE text";
  if (bytes.size() % 2 != 0) {
    throw std::runtime_error("'" + origin + "': " + expected + ", but the byte count " + std::to_string(bytes.size()) +
                             " is odd");
  }
  const std::size_t unit_count = bytes.size() / 2;
  const int high_byte = big_endian ? 0 : 1;
  const auto unit_at = [&](std::size_t i) {
    return static_cast<char16_t>(static_cast<unsigned char>(bytes[2 * i + 1 - high_byte]) |
                                 (static_cast<unsigned char>(bytes[2 * i + high_byte]) << 8));
  };
  std::string utf8;
  utf8.reserve(unit_count);
  for (std::size_t i = 0; i < unit_count; ++i) {
    const char16_t unit = unit_at(i);
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const char16_t trail = i + 1 < unit_count ? unit_at(i + 1) : 0;
      if (trail < 0xDC00 || trail > 0xDFFF) {
        throw std::runtime_error("'" + origin + "': " + expected + ", found an unpaired high surrogate at code unit " +
                                 std::to_string(i));
      }
      append_utf8(utf8, 0x10000 + ((char32_t(unit) - 0xD800) << 10) + (char32_t(trail) - 0xDC00));
      ++i;
    } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
      throw std::runtime_error("'" + origin + "': " + expected + ", found an unpaired low surrogate at code unit " +
                               std::to_string(i));
    } else {
      append_utf8(utf8, unit);
    }
  }
  return utf8;
}

bool is_whitespace(char32_t code_point) {
  if (code_point < 0x80) {
    return code_point == ' ' || (code_point >= '\t' && code_point <= '\r');
  }
  return u_hasBinaryProperty(static_cast<UChar32>(code_point), UCHAR_WHITE_SPACE);
}

namespace {

CharClass classify_slow(char32_t code_point) {
  const auto cp = static_cast<UChar32>(code_point);
  const std::uint32_t category_mask = U_GET_GC_MASK(cp);
  if (category_mask & U_GC_L_MASK) return CharClass::kLetter;
  if (category_mask & U_GC_N_MASK) return CharClass::kNumber;
  if (is_whitespace(code_point)) return CharClass::kWhitespace;
  return CharClass::kOther;
}

// ASCII dominates real text; a table keeps the pre-tokenizer off ICU's lookups for it.
struct AsciiClassTable {
  CharClass classes[128];
  AsciiClassTable() {
    for (char32_t c = 0; c < 128; ++c) classes[c] = classify_slow(c);
  }
};

}  // namespace

CharClass classify(char32_t code_point) {
  static const AsciiClassTable ascii_table;
  if (code_point < 128) return ascii_table.classes[code_point];
  return classify_slow(code_point);
}

bool is_word_char(char32_t code_point) {
  // Rust regex's Unicode \w: Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control.
  const auto cp = static_cast<UChar32>(code_point);
  const std::uint32_t category_mask = U_GET_GC_MASK(cp);
  return u_hasBinaryProperty(cp, UCHAR_ALPHABETIC) || (category_mask & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) ||
         u_hasBinaryProperty(cp, UCHAR_JOIN_CONTROL);
}

std::string nfc_normalize(std::string_view utf8) {
  bool all_ascii = true;
  for (const char byte : utf8) all_ascii = all_ascii && static_cast<unsigned char>(byte) < 0x80;
  if (all_ascii) return std::string(utf8);  // ASCII is NFC; skip the UTF-16 round trip.

  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) {
    throw std::runtime_error(std::string("ICU NFC normalizer unavailable: ") + u_errorName(status));
  }
  const icu::UnicodeString text = icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  // Most text is already NFC; the quick check avoids building a second copy for it.
  const UNormalizationCheckResult quick = nfc->quickCheck(text, status);
  if (U_SUCCESS(status) && quick == UNORM_YES) {
    std::string out;
    text.toUTF8String(out);
    return out;
  }
  status = U_ZERO_ERROR;
  const icu::UnicodeString normalized = nfc->normalize(text, status);
  if (U_FAILURE(status)) {
    throw std::runtime_error(std::string("ICU NFC normalization failed: ") + u_errorName(status));
  }
  std::string out;
  normalized.toUTF8String(out);
  return out;
}

std::string to_lowercase(std::string_view utf8) {
  icu::UnicodeString text = icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  text.toLower(icu::Locale::getRoot());
  std::string out;
  text.toUTF8String(out);
  return out;
}

}  // namespace spiketile::unicode
