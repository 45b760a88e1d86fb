// Strict UTF-8 helpers shared by the grammar parser, the matcher and the JSON-schema converter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ember::grammar {

// Number of bytes of the sequence that starts with lead byte `b`, or 0 when `b` cannot start a
// well-formed sequence (continuation bytes, C0/C1 overlong leads, F5..FF).
inline int utf8_sequence_length(uint8_t b) {
  if (b < 0x80) return 1;
  if (b < 0xC2) return 0;
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  if (b < 0xF5) return 4;
  return 0;
}

// The allowed range of the second byte after lead byte `lead` (excludes overlong forms,
// surrogates and code points above U+10FFFF, per the Unicode well-formed byte table).
inline void utf8_second_byte_range(uint8_t lead, uint8_t* lo, uint8_t* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (lead == 0xE0) *lo = 0xA0;
  if (lead == 0xED) *hi = 0x9F;
  if (lead == 0xF0) *lo = 0x90;
  if (lead == 0xF4) *hi = 0x8F;
}

// Decodes one well-formed code point at s[*pos], advancing *pos; false (pos unchanged) when the
// bytes there are not well-formed UTF-8 or are cut off.
inline bool utf8_decode(std::string_view s, size_t* pos, uint32_t* cp) {
  const size_t i = *pos;
  if (i >= s.size()) return false;
  const uint8_t b0 = static_cast<uint8_t>(s[i]);
  const int n = utf8_sequence_length(b0);
  if (n == 0 || i + n > s.size()) return false;
  if (n == 1) {
    *cp = b0;
    *pos = i + 1;
    return true;
  }
  uint8_t lo, hi;
  utf8_second_byte_range(b0, &lo, &hi);
  const uint8_t b1 = static_cast<uint8_t>(s[i + 1]);
  if (b1 < lo || b1 > hi) return false;
  uint32_t v = b0 & (0x7F >> n);
  v = (v << 6) | (b1 & 0x3F);
  for (int k = 2; k < n; ++k) {
    const uint8_t b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return false;
    v = (v << 6) | (b & 0x3F);
  }
  *cp = v;
  *pos = i + n;
  return true;
}

// Appends the UTF-8 encoding of `cp` (which must be <= 0x10FFFF).
inline void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace ember::grammar
