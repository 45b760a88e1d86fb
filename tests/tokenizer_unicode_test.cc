// Unicode helpers: UTF-8 decoding with llama.cpp's error policy, category flags, case mapping,
// GPT-2's byte alphabet and NFD. Expected values come from the Unicode standard (categories of
// well-known characters) and from the policies documented in unicode.h, never from ember.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/unicode.h"

namespace ember::tokenizer {
namespace {

std::vector<uint32_t> decode_all(std::string_view s) {
  std::vector<uint32_t> cps;
  size_t pos = 0;
  while (pos < s.size()) cps.push_back(decode_utf8(s, &pos));
  return cps;
}

std::string utf8(uint32_t cp) {
  std::string s;
  append_utf8(cp, s);
  return s;
}

TEST(TokenizerUnicode, DecodesValidSequences) {
  EXPECT_EQ(decode_all("a\x7f"), (std::vector<uint32_t>{'a', 0x7F}));
  EXPECT_EQ(decode_all("\xC3\xA9"), (std::vector<uint32_t>{0xE9}));             // é
  EXPECT_EQ(decode_all("\xE2\x82\xAC"), (std::vector<uint32_t>{0x20AC}));       // €
  EXPECT_EQ(decode_all("\xF0\x9F\x98\x80"), (std::vector<uint32_t>{0x1F600}));  // 😀
  EXPECT_EQ(decode_all("\xF4\x8F\xBF\xBF"), (std::vector<uint32_t>{0x10FFFF}));
}

TEST(TokenizerUnicode, InvalidBytesBecomeOneReplacementEach) {
  // Stray continuation byte, invalid lead bytes, truncated sequences: U+FFFD, one byte each, and
  // decoding resumes at the next byte.
  EXPECT_EQ(decode_all("\x80"
                       "a"),
            (std::vector<uint32_t>{0xFFFD, 'a'}));
  EXPECT_EQ(decode_all("\xFF\xFE"), (std::vector<uint32_t>{0xFFFD, 0xFFFD}));
  EXPECT_EQ(decode_all("\xF8\x88\x80\x80\x80"), (std::vector<uint32_t>(5, 0xFFFD)));
  EXPECT_EQ(decode_all("\xE2\x82"), (std::vector<uint32_t>{0xFFFD, 0xFFFD}));
  EXPECT_EQ(decode_all("\xE2\x82"
                       "a"),
            (std::vector<uint32_t>{0xFFFD, 0xFFFD, 'a'}));
  EXPECT_EQ(decode_all("\xC3"), (std::vector<uint32_t>{0xFFFD}));
  // A 4-byte form above U+10FFFF is treated as invalid (one byte at a time).
  EXPECT_EQ(decode_all("\xF5\x80\x80\x80"), (std::vector<uint32_t>(4, 0xFFFD)));
}

TEST(TokenizerUnicode, LenientFormsDecodeLikeLlamaCpp) {
  // llama.cpp checks only the lead byte and the continuation bytes: an overlong form decodes to
  // its value and an encoded surrogate to the surrogate.
  EXPECT_EQ(decode_all("\xC0\x80"), (std::vector<uint32_t>{0}));
  EXPECT_EQ(decode_all("\xE0\x81\x81"), (std::vector<uint32_t>{0x41}));
  EXPECT_EQ(decode_all("\xED\xA0\x80"), (std::vector<uint32_t>{0xD800}));
}

TEST(TokenizerUnicode, AppendUtf8RoundTrips) {
  for (uint32_t cp : {0u, 0x41u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    const std::string s = utf8(cp);
    EXPECT_EQ(decode_all(s), (std::vector<uint32_t>{cp})) << cp;
  }
  EXPECT_EQ(utf8(0x110000), "\xEF\xBF\xBD");
}

TEST(TokenizerUnicode, SanitizeAndValidate) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ASCII text, long enough for the 8-byte fast path"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBD"));  // a real U+FFFD
  EXPECT_FALSE(is_valid_utf8("abc\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));  // overlong
  EXPECT_FALSE(is_valid_utf8("0123456789\xE2\x82"));
  EXPECT_TRUE(is_valid_utf8("\xED\xA0\x80"));  // llama.cpp accepts surrogates

  EXPECT_EQ(sanitize_utf8("ok"), "ok");
  EXPECT_EQ(sanitize_utf8("a\x80"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize_utf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8(std::string("\xC0\x80", 2)), std::string(1, '\0'));
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  // The result is always valid and sanitizing is idempotent.
  const std::string messy = "x\xFF\xC3\xA9\xE2\x28\xA1\xF0\x90\x80y\xC1\xBF";
  const std::string clean = sanitize_utf8(messy);
  EXPECT_TRUE(is_valid_utf8(clean));
  EXPECT_EQ(sanitize_utf8(clean), clean);
}

TEST(TokenizerUnicode, CategoryFlagsOfKnownCharacters) {
  EXPECT_EQ(codepoint_flags('A') & kCategoryMask, kLetter);
  EXPECT_TRUE(codepoint_flags('A') & kUppercase);
  EXPECT_TRUE(codepoint_flags('z') & kLowercase);
  EXPECT_EQ(codepoint_flags('7') & kCategoryMask, kNumber);
  EXPECT_EQ(codepoint_flags('!') & kCategoryMask, kPunctuation);
  EXPECT_EQ(codepoint_flags('$') & kCategoryMask, kSymbol);
  EXPECT_EQ(codepoint_flags('~') & kCategoryMask, kSymbol);
  EXPECT_EQ(codepoint_flags(' ') & kCategoryMask, kSeparator);
  EXPECT_EQ(codepoint_flags('\n') & kCategoryMask, kControl);
  EXPECT_EQ(codepoint_flags(0x00E9) & kCategoryMask, kLetter);  // é
  EXPECT_EQ(codepoint_flags(0x4E2D) & kCategoryMask, kLetter);  // 中 (Lo)
  EXPECT_TRUE(codepoint_flags(0x4E2D) & kOtherLetter);
  EXPECT_EQ(codepoint_flags(0x0661) & kCategoryMask, kNumber);     // Arabic-Indic one
  EXPECT_EQ(codepoint_flags(0x00B2) & kCategoryMask, kNumber);     // superscript two (No)
  EXPECT_EQ(codepoint_flags(0x216B) & kCategoryMask, kNumber);     // Roman numeral twelve (Nl)
  EXPECT_EQ(codepoint_flags(0x0301) & kCategoryMask, kMark);       // combining acute
  EXPECT_EQ(codepoint_flags(0x20AC) & kCategoryMask, kSymbol);     // €
  EXPECT_EQ(codepoint_flags(0x1F600) & kCategoryMask, kSymbol);    // 😀
  EXPECT_EQ(codepoint_flags(0x00AD) & kCategoryMask, kControl);    // soft hyphen (Cf)
  EXPECT_EQ(codepoint_flags(0xE000) & kCategoryMask, kControl);    // private use (Co)
  EXPECT_EQ(codepoint_flags(0xD800) & kCategoryMask, kControl);    // surrogate (Cs)
  EXPECT_EQ(codepoint_flags(0x0378) & kCategoryMask, kUndefined);  // unassigned
  EXPECT_EQ(codepoint_flags(0xFFFE) & kCategoryMask, kUndefined);  // non-character
  EXPECT_EQ(codepoint_flags(0x110000), kUndefined);
  EXPECT_EQ(codepoint_flags(0x01C5) & (kLetter | kTitlecase), kLetter | kTitlecase);  // ǅ
  EXPECT_TRUE(codepoint_flags(0x02B0) & kModifierLetter);                             // ʰ
}

TEST(TokenizerUnicode, EveryCodepointHasExactlyOneCategory) {
  const uint16_t* table = codepoint_flags_table();
  for (uint32_t cp = 0; cp <= kMaxCodepoint; ++cp) {
    const uint16_t cat = table[cp] & kCategoryMask;
    ASSERT_NE(cat, 0) << cp;
    ASSERT_EQ(cat & (cat - 1), 0) << cp;  // one bit
  }
}

TEST(TokenizerUnicode, WhitespaceIsUnicodeWhiteSpace) {
  // The Unicode White_Space property (PropList.txt), which is llama.cpp's \s.
  const std::vector<uint32_t> expected = {0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x20,   0x85,
                                          0xA0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
                                          0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028,
                                          0x2029, 0x202F, 0x205F, 0x3000};
  std::vector<uint32_t> actual;
  for (uint32_t cp = 0; cp <= kMaxCodepoint; ++cp) {
    if (codepoint_flags(cp) & kWhitespace) actual.push_back(cp);
  }
  EXPECT_EQ(actual, expected);
  // Python's str.isspace() also has U+001C..U+001F; llama.cpp's \s does not.
  EXPECT_FALSE(codepoint_flags(0x1C) & kWhitespace);
  EXPECT_FALSE(codepoint_flags(0x200B) & kWhitespace);  // zero width space is Cf
}

TEST(TokenizerUnicode, CaseMapping) {
  EXPECT_EQ(to_lower('A'), uint32_t{'a'});
  EXPECT_EQ(to_lower('a'), uint32_t{'a'});
  EXPECT_EQ(to_lower(0x00C9), 0x00E9u);  // É -> é
  EXPECT_EQ(to_lower(0x0130), 0x0069u);  // İ -> i (first code point of the full mapping)
  EXPECT_EQ(to_lower(0x0391), 0x03B1u);  // Α -> α
  EXPECT_EQ(to_lower(0x212A), 0x006Bu);  // Kelvin sign -> k
  EXPECT_EQ(to_upper(0x00E9), 0x00C9u);  // é -> É
  EXPECT_EQ(to_upper('q'), uint32_t{'Q'});
  EXPECT_EQ(to_lower(0x4E2D), 0x4E2Du);
}

TEST(TokenizerUnicode, Gpt2ByteAlphabet) {
  // Printable Latin-1 bytes map to themselves; the rest to U+0100.. in byte order:
  // 0x00 -> U+0100, ' ' (0x20) -> U+0120 'Ġ', '\n' -> U+010A 'Ċ', 0x7F -> U+0121, 0xAD -> U+0143.
  EXPECT_EQ(byte_to_codepoint('A'), uint32_t{'A'});
  EXPECT_EQ(byte_to_codepoint(0xE9), 0xE9u);
  EXPECT_EQ(byte_to_codepoint(0x00), 0x100u);
  EXPECT_EQ(byte_to_codepoint(' '), 0x120u);
  EXPECT_EQ(byte_to_codepoint('\n'), 0x10Au);
  EXPECT_EQ(byte_to_codepoint(0x7F), 0x121u);
  EXPECT_EQ(byte_to_codepoint(0xA0), 0x142u);
  EXPECT_EQ(byte_to_codepoint(0xAD), 0x143u);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(byte_from_codepoint(byte_to_codepoint(static_cast<uint8_t>(b))), b);
  }
  EXPECT_EQ(byte_from_codepoint(0x20), -1);
  EXPECT_EQ(byte_from_codepoint(0x144), -1);
  EXPECT_EQ(byte_from_codepoint(0x4E2D), -1);
}

TEST(TokenizerUnicode, Nfd) {
  EXPECT_EQ(nfd("caf\xC3\xA9"), "cafe\xCC\x81");               // é -> e + U+0301
  EXPECT_EQ(nfd("\xE1\xBA\xA5"), "a\xCC\x82\xCC\x81");         // ấ -> a + ^ + ´
  EXPECT_EQ(nfd("\xEA\xB0\x80"), "\xE1\x84\x80\xE1\x85\xA1");  // 가 -> ᄀ + ᅡ
  EXPECT_EQ(nfd("plain"), "plain");
  EXPECT_EQ(nfd("a\xFF"), "a\xEF\xBF\xBD");
  EXPECT_EQ(nfd_first(0xE9), uint32_t{'e'});
  EXPECT_EQ(nfd_first(0x1EA5), uint32_t{'a'});
  EXPECT_EQ(nfd_first(0xAC00), 0x1100u);
  EXPECT_EQ(nfd_first('x'), uint32_t{'x'});
  EXPECT_EQ(nfd_first(0x212B), uint32_t{'A'});  // Angstrom sign -> A + ring
}

TEST(TokenizerUnicode, HanRanges) {
  EXPECT_TRUE(is_han(0x4E2D));
  EXPECT_TRUE(is_han(0x3400));
  EXPECT_TRUE(is_han(0x20000));
  EXPECT_TRUE(is_han(0xF900));
  EXPECT_FALSE(is_han(0x3042));  // hiragana
  EXPECT_FALSE(is_han(0xAC00));  // hangul
  EXPECT_FALSE(is_han('a'));
}

}  // namespace
}  // namespace ember::tokenizer
