// Independent cross-check of every pre-tokenizer against std::regex, the engine llama.cpp itself
// uses: this test re-implements llama.cpp's unicode_regex_split (collapsed text + std::regex for
// patterns with \p{..} classes, std::wregex over code points otherwise, each piece of the previous
// step matched separately, gaps kept) and compares it with ember's pre_tokenize on adversarial and
// random strings. It catches both bugs in the hand-written splitters and any difference between
// PCRE2 and ECMAScript semantics for the patterns in use.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/pre_tokenizer_custom.h"
#include "tokenizer/pre_tokenizer_programs.h"
#include "tokenizer/pre_tokenizer_regex.h"
#include "tokenizer/unicode.h"

namespace ember::tokenizer {
namespace {

// The pattern as llama.cpp's source spells it: ember writes non-ASCII literals as \x{...}.
std::wstring to_wide_pattern(std::string_view p) {
  std::wstring out;
  size_t pos = 0;
  while (pos < p.size()) {
    if (p.compare(pos, 3, "\\x{") == 0) {
      const size_t close = p.find('}', pos);
      out.push_back(static_cast<wchar_t>(
          std::stoul(std::string(p.substr(pos + 3, close - pos - 3)), nullptr, 16)));
      pos = close + 1;
      continue;
    }
    out.push_back(static_cast<wchar_t>(decode_utf8(p, &pos)));
  }
  return out;
}

char collapsed_char(uint32_t cp) {
  if (cp < 0x80) return static_cast<char>(cp);
  const uint16_t f = codepoint_flags(cp);
  if (f & kWhitespace) return 0x0B;
  if (f & kNumber) return static_cast<char>(0xD1);
  if (f & kLetter) return static_cast<char>(0xD2);
  if (f & kPunctuation) return static_cast<char>(0xD3);
  if (f & kMark) return static_cast<char>(0xD4);
  if (f & kSymbol) return static_cast<char>(0xD5);
  return static_cast<char>(0xD0);
}

// One step compiled for std::regex: a narrow regex over the collapsed text or a wide one.
struct StdStep {
  std::optional<std::regex> narrow;
  std::optional<std::wregex> wide;
};

std::vector<StdStep> compile_std(PreTokenizer kind) {
  std::vector<StdStep> steps;
  for (const detail::Step& step : detail::program_steps(kind)) {
    StdStep s;
    if (step.has_regex_equivalent()) {
      if (detail::uses_collapsed_classes(step.regex)) {
        s.narrow.emplace(detail::collapse_regex(step.regex));
      } else {
        s.wide.emplace(to_wide_pattern(step.regex));
      }
    }
    steps.push_back(std::move(s));
  }
  return steps;
}

// Splits `text` with llama.cpp's algorithm; returns byte ranges.
std::vector<std::pair<uint32_t, uint32_t>> std_regex_split(PreTokenizer kind,
                                                           const std::vector<StdStep>& compiled,
                                                           const std::string& text) {
  std::vector<uint32_t> cps;
  std::vector<uint32_t> cp_byte;
  for (size_t pos = 0; pos < text.size();) {
    cp_byte.push_back(static_cast<uint32_t>(pos));
    cps.push_back(decode_utf8(text, &pos));
  }
  cp_byte.push_back(static_cast<uint32_t>(text.size()));
  std::string collapsed;
  std::wstring wide;
  for (uint32_t cp : cps) {
    collapsed.push_back(collapsed_char(cp));
    wide.push_back(
        static_cast<wchar_t>(cp > 0x7F && (codepoint_flags(cp) & kWhitespace) ? 0x0B : cp));
  }

  // Offsets are code point counts, as in llama.cpp.
  std::vector<size_t> lengths = {cps.size()};
  const std::vector<detail::Step>& steps = detail::program_steps(kind);
  for (size_t si = 0; si < steps.size(); ++si) {
    const detail::Step& step = steps[si];
    std::vector<size_t> next;
    size_t start = 0;
    if (!step.has_regex_equivalent()) {
      // Kimi-K2 / AFMoE: llama.cpp's own splitters are the specification; use ember's.
      for (size_t len : lengths) {
        detail::Pieces pieces;
        const uint32_t b = cp_byte[start], e = cp_byte[start + len];
        if (step.type == detail::StepType::kKimiK2) {
          detail::split_kimi_k2(text, b, e, pieces);
        } else {
          detail::split_afmoe_digits(text, b, e, pieces);
        }
        for (const auto& [pb, pe] : pieces) {
          size_t n = 0;
          for (size_t i = start; i < start + len; ++i) n += cp_byte[i] >= pb && cp_byte[i] < pe;
          next.push_back(n);
        }
        start += len;
      }
      lengths = std::move(next);
      continue;
    }
    auto run = [&](const auto& subject, const auto& re) {
      using It = decltype(subject.begin());
      for (size_t len : lengths) {
        std::regex_iterator<It> it(subject.begin() + static_cast<std::ptrdiff_t>(start),
                                   subject.begin() + static_cast<std::ptrdiff_t>(start + len), re);
        std::regex_iterator<It> end;
        size_t last = 0;
        for (; it != end; ++it) {
          const size_t pos = static_cast<size_t>(it->position());
          if (pos > last) next.push_back(pos - last);
          next.push_back(static_cast<size_t>(it->length()));
          last = pos + static_cast<size_t>(it->length());
        }
        if (last < len) next.push_back(len - last);
        start += len;
      }
    };
    if (compiled[si].narrow) {
      run(collapsed, *compiled[si].narrow);
    } else {
      run(wide, *compiled[si].wide);
    }
    lengths = std::move(next);
  }
  std::vector<std::pair<uint32_t, uint32_t>> words;
  size_t cp = 0;
  for (size_t len : lengths) {
    if (len > 0) words.emplace_back(cp_byte[cp], cp_byte[cp + len]);
    cp += len;
  }
  return words;
}

std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> fragments = {
      " ",
      " ",
      "  ",
      "\t",
      "\n",
      "\r\n",
      "\xC2\xA0",
      "\xE3\x80\x80",
      "\xC2\x85",
      "a",
      "Z",
      "hello",
      "World",
      "'",
      "'s",
      "'S",
      "'re",
      "'LL",
      "'d",
      "0",
      "7",
      "123",
      "4567",
      "\xD9\xA3",
      "\xC2\xB2",
      "!",
      "?",
      ".",
      ",",
      "$",
      "+",
      "<",
      "~",
      "|",
      "`",
      "^",
      "_",
      "(",
      ")",
      "[",
      "]",
      "{",
      "}",
      "\\",
      "/",
      "\"",
      "#",
      "%",
      "&",
      "*",
      ":",
      ";",
      "@",
      "-",
      "\xC3\xA9",
      "\xC3\x89",
      "e\xCC\x81",
      "\xCC\x81",
      "\xE4\xB8\xAD",
      "\xE3\x81\x82",
      "\xE3\x82\xA2",
      "\xEA\xB0\x80",
      "\xE0\xB8\x81",
      "\xCE\xB1",
      "\xD0\x96",
      "\xF0\x9F\x98\x80",
      "\xE2\x82\xAC",
      "\xE2\x80\x8D",
      "\x01",
      "\xCD\xB8",
      "\xEE\x80\x80",
      "\xEF\xBC\x81",
      "\xE2\x80\x9C",
      "\xE2\x80\xA6",
      "\xE3\x80\x82",
      "\xE0\xA5\xA4",
      "<sentinel:3>",
      "IMGIMGABZ",
      "    ",
      "\xE2\x84\xAA",
      "\xE1\xBD\xBD",
      "\xE1\x9E\x80",
      "\xEF\xBD\xB1",
      "ABc",
      "aBC",
  };
  std::uniform_int_distribution<int> len_dist(0, 16);
  std::uniform_int_distribution<size_t> frag_dist(0, fragments.size() - 1);
  std::string s;
  const int n = len_dist(rng);
  for (int i = 0; i < n; ++i) s += fragments[frag_dist(rng)];
  return s;
}

TEST(TokenizerPreStdRegex, EveryKindMatchesLlamaCppAlgorithm) {
  std::mt19937 rng(77);
  std::vector<std::string> texts = {
      "Hello world",
      " Hello World!",
      "I'm DON'T we'll",
      "12345678 9",
      "  hi\n\n  there  ",
      "x!!\n\ny",
      "$100 ~5 `a` ^b",
      "caf\xC3\xA9 e\xCC\x81t\xC3\xA9",
      "HelloWorld ABCdef",
      "\xE4\xB8\xAD\xE6\x96\x87 \xEA\xB0\x80 \xE3\x81\x82",
      "a\xC2\xA0\xC2\xA0"
      "b \xE3\x80\x80x",
      "<sentinel:12> IMGIMGABCZ",
      "    four  two\t\n",
      "end   ",
  };
  for (int i = 0; i < 2000; ++i) texts.push_back(random_text(rng));
  for (int k = 0; k < kNumPreTokenizers; ++k) {
    const auto kind = static_cast<PreTokenizer>(k);
    const std::vector<StdStep> compiled = compile_std(kind);
    for (const std::string& text : texts) {
      std::vector<std::pair<uint32_t, uint32_t>> ours;
      pre_tokenize(kind, text, ours);
      const auto reference = std_regex_split(kind, compiled, text);
      ASSERT_EQ(ours, reference) << pre_tokenizer_name(kind) << " on '" << text << "'";
    }
  }
}

}  // namespace
}  // namespace ember::tokenizer
