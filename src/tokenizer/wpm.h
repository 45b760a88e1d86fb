// WordPiece (`tokenizer.ggml.model = bert`), as the reference implements it.
//
// BERT normalization first: invalid UTF-8 becomes U+FFFD; with strip_accents every code point is
// replaced by the first code point of its canonical decomposition and combining marks are
// dropped; NUL, U+FFFD and control characters are dropped; text is lower-cased (when the
// vocabulary says so); whitespace separates words; punctuation, ASCII symbols and CJK ideographs
// each become a word of their own. Each word, prefixed with `▁` (how GGUF spells a word start),
// is then cut greedily into the longest vocabulary entries from left to right; a word that
// cannot be cut completely becomes one <unk>.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace ember::tokenizer {

struct Vocab;

// Appends the tokens of one text run (no special tokens in it) to `out`.
void wpm_tokenize(const Vocab& v, std::string_view run, std::vector<int32_t>& out);

}  // namespace ember::tokenizer
