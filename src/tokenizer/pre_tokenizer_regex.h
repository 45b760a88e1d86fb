// Internal: llama.cpp-compatible evaluation of pre-tokenizer regular expressions with PCRE2.
//
// llama.cpp runs its pre-tokenizer regexes with std::regex (ECMAScript syntax) in one of two
// ways, and this file reproduces both with PCRE2:
//   * "Collapsed" (the regex uses \p{N}, \p{L}, \p{P}, \p{M}, \p{S} or \p{Lu}/\p{Ll}/\p{Lt}/
//     \p{Lm}/\p{Lo}): every code point becomes one byte - ASCII stays itself, non-ASCII
//     whitespace becomes 0x0B, a non-ASCII letter 0xD2, number 0xD1, punctuation 0xD3, mark 0xD4,
//     symbol 0xD5, anything else 0xD0 - and each \p{X} in the regex becomes a class of that byte
//     plus the ASCII members of X. So \p{Lu} and \p{Ll} both mean "any letter" for non-ASCII text,
//     which is what llama.cpp does and what ember must match.
//   * "Wide" (no such class): the regex runs over the code points, with non-ASCII whitespace
//     replaced by 0x0B so that \s (ASCII-only in std::regex) still sees it.
// Each piece of the previous step is matched as a separate subject (so $, \b and lookarounds stop
// at piece boundaries, as with llama.cpp's std::regex_iterator over the piece), and the unmatched
// gaps between matches are kept as pieces too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/status.h"

namespace ember::tokenizer::detail {

using Pieces = std::vector<std::pair<uint32_t, uint32_t>>;

// Per-call views of the text the regexes run on, built lazily (only when a regex step needs
// them). Not shared between calls or threads.
class RegexSubject {
 public:
  explicit RegexSubject(std::string_view text) : text_(text) {}

  std::string_view text() const { return text_; }
  // Code point index of a byte offset that starts a code point (or equals text.size()).
  uint32_t cp_index(uint32_t byte_offset);
  // The same for every byte offset at once: index with a byte offset (valid at code point starts).
  const uint32_t* cp_index_table();
  // Byte offset of code point `index` (index == count gives text.size()).
  uint32_t byte_offset(uint32_t cp_index);
  // One byte per code point, see above.
  const std::string& collapsed();
  // UTF-8 of the code points with non-ASCII whitespace -> 0x0B (and surrogates -> U+FFFD), and the
  // offset of each code point in it.
  const std::string& wide();
  uint32_t wide_offset(uint32_t cp_index);
  uint32_t cp_index_of_wide(uint32_t wide_offset) {
    wide();
    return wide_cp_[wide_offset];
  }

 private:
  void ensure_codepoints();

  std::string_view text_;
  bool have_cps_ = false;
  std::vector<uint32_t> cps_;
  std::vector<uint32_t> cp_byte_;  // size cps_.size() + 1
  std::vector<uint32_t> byte_cp_;  // size text.size() + 1, built on demand
  bool have_collapsed_ = false;
  std::string collapsed_;
  bool have_wide_ = false;
  std::string wide_;
  std::vector<uint32_t> cp_wide_;  // size cps_.size() + 1
  std::vector<uint32_t> wide_cp_;  // size wide_.size() + 1 (valid at code point starts)
};

// One compiled llama.cpp pre-tokenizer regex. Immutable after construction and safe to share
// between threads (each split call uses its own match data).
class LlamaRegex {
 public:
  // Compiles a regex written the way llama.cpp's llama-vocab.cpp writes it.
  static Result<std::shared_ptr<const LlamaRegex>> compile(std::string_view pattern);
  ~LlamaRegex();
  LlamaRegex(const LlamaRegex&) = delete;
  LlamaRegex& operator=(const LlamaRegex&) = delete;

  bool collapsed() const { return collapsed_; }
  // The PCRE2 pattern actually compiled (for diagnostics and tests).
  const std::string& translated() const { return translated_; }

  // Splits each byte range in `pieces` of subject.text() and appends the sub-pieces (matches and
  // gaps, non-empty, covering the piece) to `out`, in order.
  void split(RegexSubject& subject, const Pieces& pieces, Pieces& out) const;

 private:
  LlamaRegex() = default;

  struct Code;
  std::unique_ptr<Code> code_;
  bool collapsed_ = false;
  std::string translated_;
};

// The translation llama.cpp applies to a regex that uses unicode classes; exposed for tests.
std::string collapse_regex(std::string_view pattern);
// True when llama.cpp would evaluate `pattern` on the collapsed text.
bool uses_collapsed_classes(std::string_view pattern);

}  // namespace ember::tokenizer::detail
