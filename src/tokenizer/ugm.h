// Unigram language-model tokenizer (`tokenizer.ggml.model = t5`), as the reference implements
// it; used by T5 and the XLM-RoBERTa family (bge-m3, multilingual-e5, bge-reranker-v2-m3).
//
// 1. Normalization. Left to right, the longest prefix that is the text of a user-defined token is
//    copied unchanged; otherwise the longest prefix found in the precompiled charsmap (an
//    XOR-compressed double array over input bytes, `tokenizer.ggml.precompiled_charsmap`) is
//    replaced by its NUL-terminated replacement string; otherwise one UTF-8 character is copied
//    (an invalid byte becomes U+FFFD). Spaces become `▁` (U+2581); with remove_extra_whitespaces
//    runs of spaces collapse into the `▁` that starts the next word and trailing spaces vanish;
//    with add_space_prefix the text starts with `▁`.
// 2. Viterbi. Over the normalized bytes, every token (normal, user-defined with score 0, unused)
//    that starts at a character boundary extends the best path ending there; a character that no
//    token of exactly that character covers may also be taken as <unk> with score
//    min(normal scores) - 10. Scores are summed in double. Ties keep the earlier candidate.
// 3. The best path is read back; consecutive <unk> collapse into one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ember/status.h"
#include "tokenizer/hash_tables.h"

namespace ember {
class GgufFile;
}

namespace ember::tokenizer {

struct Vocab;

// What the Unigram tokenizer needs beyond the token list (built once at load).
struct UgmTables {
  StringIdMap candidates;           // text -> id of normal, user-defined and unused tokens
  StringIdMap user_defined;         // text -> id of user-defined tokens
  std::vector<uint32_t> xcda;       // double-array units of the charsmap (may be empty)
  std::string replacements;         // NUL-terminated replacement strings, indexed by offset
  double unknown_score = 0.0;       // min normal score - 10
  size_t max_match_len = 0;         // longest candidate token text in bytes
  size_t max_user_defined_len = 0;  // longest user-defined token text (0 = none)
  bool escape_whitespaces = true;
  bool treat_whitespace_as_suffix = false;
};

// Reads `tokenizer.ggml.precompiled_charsmap` (optional) and derives the scores and lengths.
// Errors: a charsmap whose header does not fit its size.
Status build_ugm_tables(const GgufFile& file, Vocab& v);

// Appends the tokens of one text run (no special tokens in it) to `out`.
void ugm_tokenize(const Vocab& v, std::string_view run, std::vector<int32_t>& out);

}  // namespace ember::tokenizer
