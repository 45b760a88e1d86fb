// Token ids -> bytes: per-token pieces and whole-sequence detokenization with the reference's
// rules (byte tokens, `▁` -> space, byte-level decoding, leading-space removal, special tokens
// shown or hidden, clean_up_tokenization_spaces).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "tokenizer/vocab.h"

namespace ember::tokenizer {

// The bytes token `id` stands for, rendering control/unknown tokens as their text. Computed once
// per token while loading (Vocab::pieces). `id` must be valid.
std::string render_piece(const Vocab& v, int32_t id);

// The piece of a valid id; "" for control and unknown tokens unless `special`.
inline std::string_view piece_of(const Vocab& v, int32_t id, bool special) {
  const TokenData& t = v.tokens[static_cast<size_t>(id)];
  if (!special && (t.attr & (kAttrControl | kAttrUnknown))) return {};
  return v.pieces[static_cast<size_t>(id)];
}

// Appends the text of `ids` (all valid) to `out`; see Tokenizer::detokenize.
void detokenize(const Vocab& v, std::span<const int32_t> ids, bool remove_special,
                bool unparse_special, std::string& out);

// Hugging Face's clean_up_tokenization_spaces as the reference applies it: removes the space
// before ? ! . , and before 's 'm 're 've, and the spaces around a lone apostrophe (" ' ").
void clean_up_spaces(std::string& text);

}  // namespace ember::tokenizer
