// Unicode helpers for the tokenizers: UTF-8 decoding with llama.cpp's error policy, code point
// category flags (from utf8proc), case mapping, NFD, and GPT-2's byte <-> printable code point map.
//
// The reference for every behaviour here is llama.cpp (src/unicode.cpp), because ember's tokens
// must match the ids llama.cpp produces for the same text:
//   * Decoding is lenient the way llama.cpp's decoder is: a lead byte followed by the right number
//     of continuation bytes is accepted even when the form is overlong or encodes a surrogate;
//     anything else (stray continuation byte, bad lead byte 0xF8..0xFF, missing continuation) is
//     one U+FFFD and consumes exactly one byte. Sequences that would decode above U+10FFFF (lead
//     bytes 0xF4..0xF7) are also treated as one invalid byte; llama.cpp throws on those later.
//   * Category flags follow llama.cpp's table semantics: one general category per code point,
//     unassigned code points are kUndefined, and kWhitespace is the Unicode White_Space property
//     (what Python's `regex` \s matches), which llama.cpp uses for \s.
// The flag table comes from utf8proc's Unicode 15.0 data; llama.cpp's generated table is Unicode
// 15.1, so the 627 code points added in 15.1 (CJK Extension I, U+2FFC..U+2FFF, U+31EF) are
// kUndefined here but letters/symbols in llama.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ember::tokenizer {

inline constexpr uint32_t kReplacementChar = 0xFFFD;
inline constexpr uint32_t kMaxCodepoint = 0x10FFFF;

// Decodes the code point at s[pos] (requires pos < n) and stores its length in bytes in *len.
// Invalid or truncated sequences yield U+FFFD with *len = 1. Inline: the splitters' hot path.
inline uint32_t decode_utf8_at(const char* text, size_t n, size_t pos, uint32_t* len) {
  const auto* s = reinterpret_cast<const uint8_t*>(text);
  const uint32_t b0 = s[pos];
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  auto cont = [&](size_t i) { return (s[i] & 0xC0) == 0x80; };
  if (b0 >= 0xC0 && b0 < 0xE0) {
    if (pos + 1 < n && cont(pos + 1)) {
      *len = 2;
      return ((b0 & 0x1Fu) << 6) | (s[pos + 1] & 0x3Fu);
    }
  } else if (b0 >= 0xE0 && b0 < 0xF0) {
    if (pos + 2 < n && cont(pos + 1) && cont(pos + 2)) {
      *len = 3;
      return ((b0 & 0x0Fu) << 12) | ((s[pos + 1] & 0x3Fu) << 6) | (s[pos + 2] & 0x3Fu);
    }
  } else if (b0 >= 0xF0 && b0 < 0xF8) {
    if (pos + 3 < n && cont(pos + 1) && cont(pos + 2) && cont(pos + 3)) {
      const uint32_t cp = ((b0 & 0x07u) << 18) | ((s[pos + 1] & 0x3Fu) << 12) |
                          ((s[pos + 2] & 0x3Fu) << 6) | (s[pos + 3] & 0x3Fu);
      if (cp <= 0x10FFFF) {
        *len = 4;
        return cp;
      }
    }
  }
  *len = 1;
  return 0xFFFD;
}

// Decodes one code point at text[*pos] (requires *pos < text.size()) and advances *pos past it.
// Invalid or truncated sequences yield U+FFFD and advance by one byte, as llama.cpp does.
uint32_t decode_utf8(std::string_view text, size_t* pos);

// Appends the UTF-8 encoding of `cp` (surrogates are encoded as 3 bytes, like llama.cpp does;
// values above U+10FFFF append U+FFFD).
void append_utf8(uint32_t cp, std::string& out);

// Returns `text` as llama.cpp sees it after its decode/re-encode round trip: every invalid byte
// becomes U+FFFD (EF BF BD), following decode_utf8's policy, and overlong forms are re-encoded in
// their shortest form. Valid input is returned unchanged.
std::string sanitize_utf8(std::string_view text);

// True when sanitize_utf8(text) == text: every sequence is well formed, in shortest form and at
// most U+10FFFF. Encoded surrogates (ED A0..BF xx) are accepted, because llama.cpp accepts them.
bool is_valid_utf8(std::string_view text);

// Number of bytes of the UTF-8 sequence a lead byte announces (1 for ASCII and for invalid lead
// bytes). Same table as llama.cpp's unicode_len_utf8, which its BPE uses to split words into
// symbols.
inline size_t utf8_sequence_length(uint8_t lead) {
  constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

// Per-code-point flags. Exactly one of the category flags (kLetter .. kControl, kUndefined) is set
// for every code point <= U+10FFFF; the others are extra properties.
enum CodepointFlags : uint16_t {
  kLetter = 1 << 0,           // \p{L}: Lu Ll Lt Lm Lo
  kNumber = 1 << 1,           // \p{N}: Nd Nl No
  kPunctuation = 1 << 2,      // \p{P}: Pc Pd Ps Pe Pi Pf Po
  kSymbol = 1 << 3,           // \p{S}: Sm Sc Sk So
  kSeparator = 1 << 4,        // \p{Z}: Zs Zl Zp
  kWhitespace = 1 << 5,       // \s as llama.cpp defines it (Unicode White_Space)
  kMark = 1 << 6,             // \p{M}: Mn Mc Me
  kControl = 1 << 7,          // \p{C} except unassigned: Cc Cf Cs Co
  kLowercase = 1 << 8,        // general category Ll
  kUppercase = 1 << 9,        // general category Lu
  kUndefined = 1 << 10,       // Cn: unassigned (and non-characters)
  kTitlecase = 1 << 11,       // general category Lt
  kModifierLetter = 1 << 12,  // general category Lm
  kOtherLetter = 1 << 13,     // general category Lo
};

// Mask of the category flags (one of them is set for each valid code point).
inline constexpr uint16_t kCategoryMask =
    kLetter | kNumber | kPunctuation | kSymbol | kSeparator | kMark | kControl | kUndefined;

// The flags table: kMaxCodepoint + 1 entries, built from utf8proc on first use and immutable
// afterwards (a function-local static, so concurrent first calls are safe).
const uint16_t* codepoint_flags_table();

// Flags of `cp`; code points above U+10FFFF get kUndefined.
inline uint16_t codepoint_flags(uint32_t cp) {
  return cp <= kMaxCodepoint ? codepoint_flags_table()[cp] : uint16_t{kUndefined};
}

// Simple (1:1) case mappings from utf8proc. For code points whose full mapping has several code
// points this returns the simple mapping, which equals the first code point of the full mapping
// everywhere llama.cpp's table (built from Python's str.lower()[0]) is used.
uint32_t to_lower(uint32_t cp);
uint32_t to_upper(uint32_t cp);

// Han ideographs, by the block ranges llama.cpp's unicode_cpt_is_han uses for the Kimi-K2
// pre-tokenizer (CJK Unified Ideographs and extensions A..F, compatibility ideographs).
bool is_han(uint32_t cp);

// GPT-2's byte-level alphabet: each byte maps to a printable code point (bytes that are already
// printable Latin-1 map to themselves, the other 68 to U+0100..U+0143 in byte order).
uint32_t byte_to_codepoint(uint8_t b);
// The byte a code point of that alphabet stands for, or -1 when it is not in the alphabet.
int byte_from_codepoint(uint32_t cp);

// Canonical decomposition (NFD) of `text` via utf8proc, for BERT-style accent stripping. Invalid
// bytes are first replaced as in sanitize_utf8; surrogate code points become U+FFFD.
std::string nfd(std::string_view text);

// The first code point of cp's canonical decomposition (cp itself when it has none). llama.cpp's
// WordPiece pre-processing maps every code point this way (so combining marks are dropped and a
// Hangul syllable becomes its leading jamo); use it to reproduce llama.cpp exactly.
uint32_t nfd_first(uint32_t cp);

}  // namespace ember::tokenizer
