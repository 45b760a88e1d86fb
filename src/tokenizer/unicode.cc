// Unicode helpers; see unicode.h for the policies (they follow llama.cpp).
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace ember::tokenizer {

namespace {

// Shortest UTF-8 length of a code point (surrogates count as 3 bytes, like any BMP value).
inline size_t encoded_length(uint32_t cp) {
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp < 0x10000) return 3;
  return 4;
}

// Decodes at s[pos]; returns the code point and stores the number of bytes consumed in *len.
inline uint32_t decode_at(const uint8_t* s, size_t n, size_t pos, size_t* len) {
  uint32_t l = 1;
  const uint32_t cp = decode_utf8_at(reinterpret_cast<const char*>(s), n, pos, &l);
  *len = l;
  return cp;
}

uint16_t flags_of_category(utf8proc_category_t cat) {
  switch (cat) {
    case UTF8PROC_CATEGORY_LU:
      return kLetter | kUppercase;
    case UTF8PROC_CATEGORY_LL:
      return kLetter | kLowercase;
    case UTF8PROC_CATEGORY_LT:
      return kLetter | kTitlecase;
    case UTF8PROC_CATEGORY_LM:
      return kLetter | kModifierLetter;
    case UTF8PROC_CATEGORY_LO:
      return kLetter | kOtherLetter;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return kMark;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kNumber;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return kPunctuation;
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
      return kSymbol;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return kSeparator | kWhitespace;
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
      return kControl;
    case UTF8PROC_CATEGORY_CN:
      return kUndefined;
  }
  return kUndefined;
}

std::vector<uint16_t> build_flags_table() {
  std::vector<uint16_t> table(size_t{kMaxCodepoint} + 1);
  for (uint32_t cp = 0; cp <= kMaxCodepoint; ++cp) {
    table[cp] = flags_of_category(utf8proc_category(static_cast<utf8proc_int32_t>(cp)));
  }
  // White_Space = every Z* code point (flagged above) plus the controls TAB..CR and NEL.
  for (uint32_t cp = 0x09; cp <= 0x0D; ++cp) table[cp] |= kWhitespace;
  table[0x85] |= kWhitespace;
  return table;
}

// GPT-2's printable byte ranges: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF map to themselves.
constexpr bool byte_is_printable(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

constexpr std::array<uint16_t, 256> make_byte_to_codepoint() {
  std::array<uint16_t, 256> map{};
  int next = 256;
  for (int b = 0; b < 256; ++b) map[b] = static_cast<uint16_t>(byte_is_printable(b) ? b : next++);
  return map;
}

constexpr std::array<uint16_t, 256> kByteToCodepoint = make_byte_to_codepoint();

}  // namespace

uint32_t decode_utf8(std::string_view text, size_t* pos) {
  size_t len = 1;
  const uint32_t cp =
      decode_at(reinterpret_cast<const uint8_t*>(text.data()), text.size(), *pos, &len);
  *pos += len;
  return cp;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= kMaxCodepoint) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    append_utf8(kReplacementChar, out);
  }
}

bool is_valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t pos = 0;
  while (pos < n) {
    // Skip ASCII eight bytes at a time: the common case for tokenizer input.
    if (pos + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + pos, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        pos += 8;
        continue;
      }
    }
    if (s[pos] < 0x80) {
      ++pos;
      continue;
    }
    size_t len = 1;
    const uint32_t cp = decode_at(s, n, pos, &len);
    // An invalid byte decodes to U+FFFD with length 1 (a real U+FFFD takes 3 bytes), and an
    // overlong form is longer than the shortest encoding.
    if (len != encoded_length(cp) || (cp == kReplacementChar && len == 1)) return false;
    pos += len;
  }
  return true;
}

std::string sanitize_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t len = 1;
    const uint32_t cp = decode_at(s, text.size(), pos, &len);
    append_utf8(cp, out);
    pos += len;
  }
  return out;
}

const uint16_t* codepoint_flags_table() {
  static const std::vector<uint16_t> table = build_flags_table();
  return table.data();
}

uint32_t to_lower(uint32_t cp) {
  if (cp > kMaxCodepoint) return cp;
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

uint32_t to_upper(uint32_t cp) {
  if (cp > kMaxCodepoint) return cp;
  return static_cast<uint32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp)));
}

bool is_han(uint32_t cp) {
  // Block ranges, most frequent first.
  return (cp >= 0x4E00 && cp <= 0x9FFF) ||    // CJK Unified Ideographs
         (cp >= 0x3400 && cp <= 0x4DBF) ||    // Extension A
         (cp >= 0x20000 && cp <= 0x2A6DF) ||  // Extension B
         (cp >= 0x2A700 && cp <= 0x2B73F) ||  // Extension C
         (cp >= 0x2B740 && cp <= 0x2B81F) ||  // Extension D
         (cp >= 0x2B820 && cp <= 0x2CEAF) ||  // Extension E
         (cp >= 0x2CEB0 && cp <= 0x2EBEF) ||  // Extension F
         (cp >= 0xF900 && cp <= 0xFAFF) ||    // CJK Compatibility Ideographs
         (cp >= 0x2F800 && cp <= 0x2FA1F);    // CJK Compatibility Ideographs Supplement
}

uint32_t byte_to_codepoint(uint8_t b) {
  return kByteToCodepoint[b];
}

int byte_from_codepoint(uint32_t cp) {
  if (cp < 256) return byte_is_printable(static_cast<int>(cp)) ? static_cast<int>(cp) : -1;
  if (cp > 0x143) return -1;
  // The 68 non-printable bytes map to U+0100.. in increasing byte order.
  for (int b = 0; b < 256; ++b) {
    if (kByteToCodepoint[b] == cp) return b;
  }
  return -1;
}

std::string nfd(std::string_view text) {
  // utf8proc wants strictly valid UTF-8: rebuild the text from decode_utf8's code points with
  // surrogates replaced, then decompose.
  std::string valid;
  valid.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t len = 1;
    uint32_t cp = decode_at(s, text.size(), pos, &len);
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = kReplacementChar;
    append_utf8(cp, valid);
    pos += len;
  }
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                   static_cast<utf8proc_ssize_t>(valid.size()), &out, UTF8PROC_DECOMPOSE);
  if (n < 0 || out == nullptr) {
    // Only possible on allocation failure; the input is valid by construction.
    std::free(out);
    return valid;
  }
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

uint32_t nfd_first(uint32_t cp) {
  if (cp > kMaxCodepoint || (cp >= 0xD800 && cp <= 0xDFFF)) return cp;
  // A canonical decomposition has at most 4 code points (Hangul: 3).
  utf8proc_int32_t buf[8];
  int last_boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 8,
                                                     UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n <= 0 || n > 8) return cp;
  return static_cast<uint32_t>(buf[0]);
}

}  // namespace ember::tokenizer
