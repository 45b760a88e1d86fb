// BPE pre-tokenizers: names, hand-checked splits, coverage invariants for every kind, invalid
// UTF-8, and a differential test of every hand-written splitter against the llama.cpp regex it
// replaces (run through PCRE2 with llama.cpp's semantics) on adversarial and random strings.
//
// Hand-checked expectations are derived from the regex definitions by reasoning (explained next to
// each case), never from ember's output.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/pre_tokenizer_programs.h"
#include "tokenizer/pre_tokenizer_regex.h"
#include "tokenizer/unicode.h"

namespace ember::tokenizer {
namespace {

using Views = std::vector<std::string>;

Views split(PreTokenizer kind, std::string_view text) {
  Views out;
  for (std::string_view v : pre_tokenize_views(kind, text)) out.emplace_back(v);
  return out;
}

std::vector<PreTokenizer> all_kinds() {
  std::vector<PreTokenizer> kinds;
  for (int k = 0; k < kNumPreTokenizers; ++k) kinds.push_back(static_cast<PreTokenizer>(k));
  return kinds;
}

// Checks that `words` are non-empty, in order and cover [0, size) exactly.
::testing::AssertionResult covers(const std::vector<std::pair<uint32_t, uint32_t>>& words,
                                  size_t size) {
  uint32_t expect = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i].first != expect) {
      return ::testing::AssertionFailure()
             << "word " << i << " starts at " << words[i].first << ", expected " << expect;
    }
    if (words[i].second <= words[i].first) {
      return ::testing::AssertionFailure() << "word " << i << " is empty";
    }
    expect = words[i].second;
  }
  if (expect != size) {
    return ::testing::AssertionFailure() << "words end at " << expect << ", text has " << size;
  }
  return ::testing::AssertionSuccess();
}

// ---- names -------------------------------------------------------------------------------------

TEST(TokenizerPreNames, EveryKindHasACanonicalNameThatMapsBack) {
  std::set<std::string_view> seen;
  for (PreTokenizer kind : all_kinds()) {
    const std::string_view name = pre_tokenizer_name(kind);
    ASSERT_NE(name, "unknown") << static_cast<int>(kind);
    EXPECT_TRUE(seen.insert(name).second) << name;
    EXPECT_EQ(pre_tokenizer_from_name(name), kind) << name;
  }
}

TEST(TokenizerPreNames, AliasesAndUnknownNames) {
  EXPECT_EQ(pre_tokenizer_from_name("llama-bpe"), PreTokenizer::kLlama3);
  EXPECT_EQ(pre_tokenizer_from_name("llama-v3"), PreTokenizer::kLlama3);
  EXPECT_EQ(pre_tokenizer_from_name("smaug-bpe"), PreTokenizer::kSmaug);
  EXPECT_EQ(pre_tokenizer_from_name("stablelm2"), PreTokenizer::kStablelm2);
  EXPECT_EQ(pre_tokenizer_from_name("gpt-2"), PreTokenizer::kGpt2);
  EXPECT_EQ(pre_tokenizer_from_name("phi-2"), PreTokenizer::kGpt2);
  EXPECT_EQ(pre_tokenizer_from_name("default"), PreTokenizer::kDefault);
  EXPECT_EQ(pre_tokenizer_from_name("megrez"), PreTokenizer::kQwen2);
  EXPECT_EQ(pre_tokenizer_from_name("llama4"), PreTokenizer::kGpt4o);
  EXPECT_EQ(pre_tokenizer_from_name("chatglm-bpe"), PreTokenizer::kChatglm4);
  EXPECT_FALSE(pre_tokenizer_from_name("").has_value());
  EXPECT_FALSE(pre_tokenizer_from_name("Llama3").has_value());  // names are case-sensitive
  EXPECT_FALSE(pre_tokenizer_from_name("no-such-pre").has_value());
  for (std::string_view name : pre_tokenizer_names()) {
    EXPECT_TRUE(pre_tokenizer_from_name(name).has_value()) << name;
  }
}

TEST(TokenizerPreNames, DefaultsFollowTheName) {
  auto llama = pre_tokenizer_defaults("llama-bpe");
  ASSERT_TRUE(llama.has_value());
  EXPECT_TRUE(llama->ignore_merges);
  EXPECT_TRUE(llama->add_bos);
  EXPECT_TRUE(llama->clean_spaces);
  auto qwen = pre_tokenizer_defaults("qwen2");
  auto megrez = pre_tokenizer_defaults("megrez");
  ASSERT_TRUE(qwen && megrez);
  EXPECT_EQ(qwen->kind, megrez->kind);
  EXPECT_FALSE(qwen->clean_spaces);
  EXPECT_TRUE(megrez->clean_spaces);
  auto gemma = pre_tokenizer_defaults("gemma4");
  ASSERT_TRUE(gemma.has_value());
  EXPECT_FALSE(gemma->byte_encode);
  EXPECT_TRUE(gemma->escape_whitespaces);
  EXPECT_TRUE(pre_tokenizer_defaults("roberta-bpe")->add_sep);
  EXPECT_TRUE(pre_tokenizer_defaults("glm4")->bos_disabled);
  EXPECT_FALSE(pre_tokenizer_defaults("nope").has_value());
}

// ---- hand-checked splits ---------------------------------------------------------------------

TEST(TokenizerPreSplit, Gpt2) {
  using P = PreTokenizer;
  EXPECT_EQ(split(P::kGpt2, "Hello world"), (Views{"Hello", " world"}));
  // Contractions are case-sensitive in GPT-2: "'T" is punctuation then a letter run.
  EXPECT_EQ(split(P::kGpt2, "I'm don't DON'T"), (Views{"I", "'m", " don", "'t", " DON", "'", "T"}));
  EXPECT_EQ(split(P::kGpt2, " 42 years!!"), (Views{" 42", " years", "!!"}));
  // Two spaces before a letter: \s+(?!\S) keeps one, the other joins " hi".
  EXPECT_EQ(split(P::kGpt2, "  hi"), (Views{" ", " hi"}));
  // Trailing whitespace is one piece; a newline pair before a letter splits in two.
  EXPECT_EQ(split(P::kGpt2, "x   "), (Views{"x", "   "}));
  EXPECT_EQ(split(P::kGpt2, "a\n\nb"), (Views{"a", "\n", "\n", "b"}));
  // Letters, numbers and other symbols never mix; a space attaches to what follows.
  EXPECT_EQ(split(P::kGpt2, "abc123def ($5)"), (Views{"abc", "123", "def", " ($", "5", ")"}));
  EXPECT_EQ(split(P::kGpt2, "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87"),
            (Views{"caf\xC3\xA9", " \xE4\xB8\xAD\xE6\x96\x87"}));
}

TEST(TokenizerPreSplit, Llama3) {
  using P = PreTokenizer;
  EXPECT_EQ(split(P::kLlama3, "Hello world"), (Views{"Hello", " world"}));
  // Case-insensitive contractions.
  EXPECT_EQ(split(P::kLlama3, "DON'T we'LL"), (Views{"DON", "'T", " we", "'LL"}));
  // Numbers in groups of at most three, never with a leading space.
  EXPECT_EQ(split(P::kLlama3, "12345 678"), (Views{"123", "45", " ", "678"}));
  // One non-letter, non-number, non-newline code point may lead a word.
  EXPECT_EQ(split(P::kLlama3, "hello.world"), (Views{"hello", ".world"}));
  EXPECT_EQ(split(P::kLlama3, "$100"), (Views{"$", "100"}));
  // Punctuation takes the newlines after it; whitespace up to the last newline is one piece.
  EXPECT_EQ(split(P::kLlama3, "x!!\n\ny"), (Views{"x", "!!\n\n", "y"}));
  EXPECT_EQ(split(P::kLlama3, "a \n \n  b"), (Views{"a", " \n \n", " ", " b"}));
  EXPECT_EQ(split(P::kLlama3, "  hi"), (Views{" ", " hi"}));
  EXPECT_EQ(split(P::kLlama3, "end  "), (Views{"end", "  "}));
  // Non-ASCII whitespace is \s; non-ASCII digits are \p{N}.
  EXPECT_EQ(split(P::kLlama3,
                  "a\xC2\xA0\xC2\xA0"
                  "b"),
            (Views{"a", "\xC2\xA0",
                   "\xC2\xA0"
                   "b"}));
  EXPECT_EQ(split(P::kLlama3, "\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4"),
            (Views{"\xD9\xA1\xD9\xA2\xD9\xA3", "\xD9\xA4"}));
}

TEST(TokenizerPreSplit, Qwen2SingleDigits) {
  EXPECT_EQ(split(PreTokenizer::kQwen2, "x 2024!"), (Views{"x", " ", "2", "0", "2", "4", "!"}));
}

TEST(TokenizerPreSplit, DigitGroupings) {
  // starcoder: \p{N} first (each digit alone), then GPT-2 on the rest.
  EXPECT_EQ(split(PreTokenizer::kStarcoder, "v 12"), (Views{"v", " ", "1", "2"}));
  // deepseek-coder: letters (with one optional leading space), punctuation, CJK, single digits.
  EXPECT_EQ(split(PreTokenizer::kDeepseekCoder, "Hello 123"), (Views{"Hello", " ", "1", "2", "3"}));
  // superbpe: number runs, then cuts where the rest of the run is a multiple of three digits.
  EXPECT_EQ(split(PreTokenizer::kSuperbpe, "1234567 12"), (Views{"1", "234", "567", " ", "12"}));
  // AFMoE: groups of three from the right.
  EXPECT_EQ(split(PreTokenizer::kAfmoe, "1234567"), (Views{"1", "234", "567"}));
  // DeepSeek-V3: \p{N}{1,3} from the left.
  EXPECT_EQ(split(PreTokenizer::kDeepseekV3, "1234567"), (Views{"123", "456", "7"}));
}

TEST(TokenizerPreSplit, KimiK2SeparatesHan) {
  EXPECT_EQ(split(PreTokenizer::kKimiK2, "\xE4\xBD\xA0\xE5\xA5\xBDworld's"),
            (Views{"\xE4\xBD\xA0\xE5\xA5\xBD", "world's"}));
}

TEST(TokenizerPreSplit, Gpt4oSplitsCamelCase) {
  // [^a-z]*[^A-Z]+ over letters: an upper-case run may start a word, a lower-case run ends it.
  EXPECT_EQ(split(PreTokenizer::kGpt4o, "HelloWorld's"), (Views{"Hello", "World's"}));
  EXPECT_EQ(split(PreTokenizer::kGpt4o, "ABCdef"), (Views{"ABCdef"}));
}

TEST(TokenizerPreSplit, Gemma4SplitsOnlyAtNewlines) {
  EXPECT_EQ(split(PreTokenizer::kGemma4, "a b\n\nc"), (Views{"a b", "\n\n", "c"}));
}

TEST(TokenizerPreSplit, EmptyText) {
  for (PreTokenizer kind : all_kinds()) {
    std::vector<std::pair<uint32_t, uint32_t>> words;
    pre_tokenize(kind, "", words);
    EXPECT_TRUE(words.empty());
  }
}

TEST(TokenizerPreSplit, AppendsToExistingWords) {
  std::vector<std::pair<uint32_t, uint32_t>> words = {{7, 9}};
  pre_tokenize(PreTokenizer::kGpt2, "a b", words);
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0], (std::pair<uint32_t, uint32_t>{7, 9}));
  EXPECT_EQ(words[2], (std::pair<uint32_t, uint32_t>{1, 3}));
}

// ---- the regex layer -------------------------------------------------------------------------

TEST(TokenizerPreRegex, CollapseTranslationMatchesLlamaCpp) {
  using detail::collapse_regex;
  EXPECT_EQ(collapse_regex(R"(\p{L}+)"), R"([\xD2A-Za-z]+)");
  EXPECT_EQ(collapse_regex(R"([^\s\p{L}\p{N}]+)"), R"([^\s\xD2A-Za-z\xD10-9]+)");
  EXPECT_EQ(collapse_regex(R"([\p{Lu}\p{M}]*)"), R"([\xD2A-Za-z\xD4]*)");
  EXPECT_EQ(collapse_regex(R"(\p{Han}+)"), R"(\p{Han}+)");  // not a class llama.cpp rewrites
  EXPECT_TRUE(detail::uses_collapsed_classes(R"(\s?\p{P}+)"));
  EXPECT_FALSE(detail::uses_collapsed_classes(R"([0-9][0-9][0-9])"));
}

TEST(TokenizerPreRegex, AllProgramsCompile) {
  for (PreTokenizer kind : all_kinds()) {
    EXPECT_TRUE(pre_tokenizer_status(kind).ok())
        << pre_tokenizer_name(kind) << ": " << pre_tokenizer_status(kind).to_string();
  }
}

TEST(TokenizerPreRegex, RejectsBadPatterns) {
  EXPECT_FALSE(detail::LlamaRegex::compile("(unclosed").ok());
  EXPECT_FALSE(detail::LlamaRegex::compile("\\p{L}\xC3\xA9").ok());  // classes + non-ASCII
}

TEST(TokenizerPreRegex, EmptyMatchesAdvance) {
  // A lookahead-only pattern matches empty strings: they cut the piece but add no empty word.
  auto re = detail::LlamaRegex::compile(R"((?=(\d{3})+(?!\d)))");
  ASSERT_TRUE(re.ok());
  const std::string text = "1234567";
  detail::RegexSubject subject(text);
  detail::Pieces out;
  (*re)->split(subject, detail::Pieces{{0, 7}}, out);
  EXPECT_EQ(out, (detail::Pieces{{0, 1}, {1, 4}, {4, 7}}));
}

// ---- invariants for every kind ---------------------------------------------------------------

// Strings that exercise each alternative of the patterns: contractions in both cases, runs of
// every whitespace kind (ASCII, NBSP, ideographic space, NEL, line separator), digits of several
// scripts, marks, CJK/kana/Hangul/Thai, emoji, controls, unassigned and private-use code points,
// and the literal triggers of the rarer patterns.
const std::vector<std::string>& adversarial_strings() {
  static const std::vector<std::string> strings = {
      "",
      " ",
      "  ",
      "\t",
      "\n",
      "\r\n",
      " \n",
      "\n \n  ",
      "Hello world",
      " Hello World!",
      "I'm don't DON'T we'll WE'LL you've 'S 'd 're'Ve",
      "'",
      "''s",
      "x'",
      "'s'",
      "12345678901 1 22 333 4444",
      "\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4\xD9\xA5 \xC2\xB2\xC2\xB3 \xE2\x85\xAB",
      "caf\xC3\xA9 e\xCC\x81t\xC3\xA9 \xE1\xBA\xA5",
      "\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97 \xE3\x81\xB2\xE3\x82\x89\xE3\x81\x8C\xE3\x81\xAA",
      "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1\xE0\xB8\xAA",
      "\xF0\x9F\x98\x80\xF0\x9F\x98\x80 \xE2\x9C\x85 (normal) \xF0\x9F\xA6\x99\xE2\x80\x8D",
      "a\xC2\xA0\xC2\xA0"
      "b \xE3\x80\x80\xE3\x80\x80x \xC2\x85y\xE2\x80\xA8z",
      "tab\there\n\n\nthere  \t  end\t",
      "$100 + 5% = ~$105 | <tag> `code` ^_^",
      "x!!\n\ny?!\r\n\r\nz",
      "hello.world,again;and:more",
      "\x01\x02\x1f\x7f control",
      "\xCD\xB8\xEE\x80\x80\xEF\xBF\xBE",  // unassigned U+0378, private use, non-character
      "<sentinel:12> IMGIMGABZ IMGIMGABCDEFZ",
      "    four  two\t\n",
      "\xEF\xBC\x81\xEF\xBC\x8C\xE3\x80\x82\xE3\x80\x81\xE2\x80\xA6 \xE2\x80\x9Cq\xE2\x80\x9D",
      "\xE2\x80\x98quoted\xE2\x80\x99 \xE2\x80\x94 dash",
      "HelloWorld ABCdef abcDEF aBc XMLHttpRequest",
      "\xCE\xA9\xE2\x84\xA6 \xE2\x84\xAA K \xE1\xBE\xBE \xE1\xBD\xBD",  // look-alikes
      "\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\x82\xE0\xA4\xA6\xE0\xA5\x80 \xE0\xA5\xA4 \xD8\x8C \xDB\x94",
      "3.14159 1,000,000 -42 +7 0x1F",
      "line1\nline2\r\nline3\rline4",
      "     ",
      "a                                                                                          "
      "b",
      "\xE1\x9E\x80\xE1\x9E\xB6\xE1\x9E\x9A \xE1\x80\x80\xE1\x80\xAC",  // Khmer, Myanmar
      "\xEF\xBD\xB1\xEF\xBD\xB2 \xE2\xBC\x80 \xEA\xA9\xA0",
      "\xD0\xBD\xD0\xB5 \xD0\xBD\xD0\xB0 "
      "\xD0\x91\xD1\x8A\xD0\xBB\xD0\xB3\xD0\xB0\xD1\x80\xD1\x81\xD0\xBA\xD0\xB8",
  };
  return strings;
}

TEST(TokenizerPreInvariants, EveryKindCoversAdversarialStrings) {
  for (PreTokenizer kind : all_kinds()) {
    for (const std::string& s : adversarial_strings()) {
      std::vector<std::pair<uint32_t, uint32_t>> words;
      pre_tokenize(kind, s, words);
      EXPECT_TRUE(covers(words, s.size())) << pre_tokenizer_name(kind) << " on '" << s << "'";
    }
  }
}

TEST(TokenizerPreInvariants, InvalidUtf8IsCoveredAndNeverCrashes) {
  const std::vector<std::string> bad = {
      "\xFF",
      "\x80\x80",
      "ab\xC3",
      "\xE2\x82",
      "\xF0\x9F\x98",
      "\xC0\x80 x",
      "\xED\xA0\x80 y",
      "\xF5\x80\x80\x80",
      std::string("nul\0byte", 8),
      "mixed \xFF text \xE2\x82\xAC 12\x80"
      "3",
  };
  for (PreTokenizer kind : all_kinds()) {
    for (const std::string& s : bad) {
      std::vector<std::pair<uint32_t, uint32_t>> words;
      pre_tokenize(kind, s, words);
      EXPECT_TRUE(covers(words, s.size())) << pre_tokenizer_name(kind);
      // Invalid bytes act as U+FFFD: sanitizing first splits the same way, except that each
      // invalid byte then takes three bytes.
      const std::string clean = sanitize_utf8(s);
      std::vector<std::pair<uint32_t, uint32_t>> clean_words;
      pre_tokenize(kind, clean, clean_words);
      EXPECT_TRUE(covers(clean_words, clean.size()));
    }
  }
}

TEST(TokenizerPreInvariants, InvalidByteSplitsLikeReplacementCharacter) {
  // "a\xFF b" must split like "a\uFFFD b" (U+FFFD is a symbol).
  const auto raw = split(PreTokenizer::kLlama3,
                         "a\xFF"
                         "b");
  const auto clean = split(PreTokenizer::kLlama3,
                           "a\xEF\xBF\xBD"
                           "b");
  ASSERT_EQ(raw.size(), clean.size());
  EXPECT_EQ(raw, (Views{"a",
                        "\xFF"
                        "b"}));
}

// ---- differential: hand-written splitters vs llama.cpp's regexes -------------------------------

// Random text from fragments that hit the patterns' edge cases, plus occasional random code points.
std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> fragments = {
      " ",
      " ",
      "  ",
      "\t",
      "\n",
      "\r",
      "\r\n",
      "\xC2\xA0",
      "\xE3\x80\x80",
      "\xC2\x85",
      "\xE2\x80\xA8",
      "\x0B",
      "\x0C",
      "a",
      "Z",
      "hello",
      "World",
      "'",
      "'s",
      "'S",
      "'t",
      "'re",
      "'RE",
      "'ve",
      "'m",
      "'ll",
      "'Ll",
      "'d",
      "'x",
      "0",
      "7",
      "123",
      "4567",
      "\xD9\xA3",
      "\xC2\xB2",
      "\xE2\x85\xAB",
      "!",
      "?",
      ".",
      ",",
      "$",
      "+",
      "<",
      "=",
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
      "\xE6\x96\x87",
      "\xE3\x81\x82",
      "\xE3\x82\xA2",
      "\xEA\xB0\x80",
      "\xE0\xB8\x81",
      "\xE0\xB8\xB1",
      "\xCE\xB1",
      "\xCE\x91",
      "\xD0\x96",
      "\xF0\x9F\x98\x80",
      "\xE2\x82\xAC",
      "\xE2\x80\x8D",
      "\x01",
      "\x7F",
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
      "\xEF\xBF\xBD",
      "\xC7\x85",
      "\xCA\xB0",
      "\xE2\x84\xAA",
      "\xE1\xBD\xBD",
      "\xF0\xA0\x80\x80",
  };
  std::uniform_int_distribution<int> len_dist(0, 24);
  std::uniform_int_distribution<size_t> frag_dist(0, fragments.size() - 1);
  std::uniform_int_distribution<int> coin(0, 15);
  std::uniform_int_distribution<uint32_t> cp_dist(0x80, 0x2FFFF);
  std::string s;
  const int n = len_dist(rng);
  for (int i = 0; i < n; ++i) {
    if (coin(rng) == 0) {
      uint32_t cp = cp_dist(rng);
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
      append_utf8(cp, s);
    } else {
      s += fragments[frag_dist(rng)];
    }
  }
  return s;
}

void expect_same_as_reference(PreTokenizer kind, const std::string& text) {
  const detail::CompiledProgram& program = detail::compiled_program(kind);
  detail::Pieces fast;
  detail::Pieces reference;
  detail::run_program(program, text, /*reference=*/false, fast);
  detail::run_program(program, text, /*reference=*/true, reference);
  ASSERT_EQ(fast, reference) << pre_tokenizer_name(kind) << " differs on '" << text << "'";
}

bool has_hand_written_step(PreTokenizer kind) {
  for (const detail::Step& s : detail::program_steps(kind)) {
    if (s.type != detail::StepType::kRegex && s.has_regex_equivalent()) return true;
  }
  return false;
}

TEST(TokenizerPreDifferential, HandWrittenSplittersMatchRegexesOnAdversarialStrings) {
  for (PreTokenizer kind : all_kinds()) {
    if (!has_hand_written_step(kind)) continue;
    for (const std::string& s : adversarial_strings()) expect_same_as_reference(kind, s);
  }
}

TEST(TokenizerPreDifferential, HandWrittenSplittersMatchRegexesOnRandomStrings) {
  std::mt19937 rng(20240607);
  std::vector<std::string> texts;
  for (int i = 0; i < 3000; ++i) texts.push_back(random_text(rng));
  int checked = 0;
  for (PreTokenizer kind : all_kinds()) {
    if (!has_hand_written_step(kind)) continue;
    for (const std::string& s : texts) {
      expect_same_as_reference(kind, s);
      if (::testing::Test::HasFatalFailure()) return;
    }
    ++checked;
  }
  EXPECT_GE(checked, 10);  // gpt2, llama3, qwen2, starcoder, deepseek-v3, ... families
}

}  // namespace
}  // namespace ember::tokenizer
