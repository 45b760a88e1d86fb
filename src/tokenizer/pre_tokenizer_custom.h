// Internal: hand-written pre-tokenizer splitters. Each one splits the byte range [begin, end) of
// `text` (which starts and ends on code point boundaries) and appends non-empty pieces covering it
// to `out`, exactly as llama.cpp would split that piece with the corresponding regex (or with its
// own hand-written splitter, where it has one - those define the behaviour).
#pragma once

#include <cstdint>
#include <string_view>

#include "tokenizer/pre_tokenizer_regex.h"

namespace ember::tokenizer::detail {

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)   (llama.cpp: custom)
void split_gpt2(std::string_view text, uint32_t begin, uint32_t end, Pieces& out);

// The Llama-3 family:
//   (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?LETTERS+|
//   \p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
struct Llama3Options {
  bool contractions = true;  // the leading contraction alternative is present
  int max_digits = 3;        // D in \p{N}{1,D}; 0 means \p{N}+
  bool marks = false;        // LETTERS is [\p{L}\p{M}] instead of \p{L} (and the punctuation
                             // class excludes \p{M} too): Qwen3.5
};
void split_llama3(std::string_view text, uint32_t begin, uint32_t end, const Llama3Options& opt,
                  Pieces& out);

// llama.cpp's hand-written Kimi-K2 splitter (triggered by the regex "\p{Han}+").
void split_kimi_k2(std::string_view text, uint32_t begin, uint32_t end, Pieces& out);

// llama.cpp's hand-written AFMoE digit splitter ("\p{AFMoE_digits}", also used for tiny_aya's
// "\d{1,3}(?=(?:\d{3})*\b)"): digit runs are cut into groups of three from the right, and the
// non-digit text before a run stays attached to the run's first group, as llama.cpp does.
void split_afmoe_digits(std::string_view text, uint32_t begin, uint32_t end, Pieces& out);

// Number-run splitters: \p{N} (each number alone), \p{N}+ (runs), \p{N}{1,3} (runs cut in threes
// from the left); the text between numbers stays as gap pieces.
void split_numbers(std::string_view text, uint32_t begin, uint32_t end, int max_run, Pieces& out);

// [^\n]+|[\n]+ : runs of newlines and runs of anything else.
void split_newline_runs(std::string_view text, uint32_t begin, uint32_t end, Pieces& out);

}  // namespace ember::tokenizer::detail
