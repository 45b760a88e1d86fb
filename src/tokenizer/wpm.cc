#include "tokenizer/wpm.h"

#include <algorithm>
#include <string>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace ember::tokenizer {
namespace {

// CJK ideograph blocks as BERT's tokenizer defines them (Hugging Face's ranges, including its
// 0x2B920 lower bound for Extension E).
bool is_chinese_char(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// BERT normalization and word splitting; words are appended to `words` (none empty).
void split_words(const Vocab& v, std::string_view text, std::vector<std::string>& words) {
  words.assign(1, std::string());
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t cp = decode_utf8(text, &pos);
    if (v.strip_accents) cp = nfd_first(cp);
    const uint16_t flags = codepoint_flags(cp);
    if (flags & kWhitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == kReplacementChar || (flags & kControl)) continue;
    if (v.strip_accents && (flags & kMark)) continue;
    const uint32_t out_cp = v.lowercase ? to_lower(cp) : cp;
    if ((flags & kPunctuation) || (cp < 0x7F && (flags & kSymbol)) || is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      append_utf8(out_cp, words.back());
      words.emplace_back();
    } else {
      append_utf8(out_cp, words.back());
    }
  }
  if (words.back().empty()) words.pop_back();
}

}  // namespace

void wpm_tokenize(const Vocab& v, std::string_view run, std::vector<int32_t>& out) {
  std::vector<std::string> words;
  split_words(v, run, words);
  std::string word;
  for (const std::string& w : words) {
    word = "\xe2\x96\x81";  // '▁' marks the start of a word
    word += w;
    const size_t n = word.size();
    const size_t first = out.size();
    for (size_t i = 0; i < n;) {
      // The longest vocabulary entry starting at byte i.
      size_t matched = 0;
      for (size_t j = std::min(n, i + v.max_token_len + 1); j > i; --j) {
        const int32_t id = v.find(std::string_view(word).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          matched = j - i;
          break;
        }
      }
      if (matched == 0) {
        out.resize(first);  // the word cannot be cut completely: all or nothing
        break;
      }
      i += matched;
    }
    if (out.size() == first && v.unk >= 0) out.push_back(v.unk);
  }
}

}  // namespace ember::tokenizer
