// SentencePiece-style BPE (`tokenizer.ggml.model = llama`), as the reference implements it.
//
// The text run gets its spaces replaced by `▁` (U+2581), plus one leading `▁` when asked (the
// add_space_prefix rule). It is cut into characters (by UTF-8 lead byte, without validation, so
// invalid bytes stay single symbols), and adjacent symbols are merged greedily: at each step the
// adjacent pair whose concatenation is the token with the highest score is merged (ties: leftmost
// pair first), until no pair forms a token. Each final symbol is emitted as its token, or, when it
// is not one (a character missing from the vocabulary), as one byte token per byte (`<0xNN>`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ember::tokenizer {

struct Vocab;

class SpmSession {
 public:
  explicit SpmSession(const Vocab& v) : v_(v) {}
  // Appends the tokens of one text run (no special tokens in it) to `out`.
  void tokenize(std::string_view run, bool space_prefix, std::vector<int32_t>& out);

 private:
  struct Symbol {
    uint32_t offset;  // into chunk_
    uint32_t n;       // bytes; 0 once merged into its left neighbour
    int32_t prev;
    int32_t next;
  };
  struct Bigram {
    float score;
    int32_t left;
    int32_t right;
    uint32_t size;
  };
  void add_symbol(std::string_view bytes);
  void flush(std::vector<int32_t>& out);
  void try_add_bigram(int32_t left, int32_t right);
  void emit(const Symbol& s, std::vector<int32_t>& out) const;

  const Vocab& v_;
  std::string chunk_;  // escaped bytes of the symbols not yet merged
  std::vector<Symbol> symbols_;
  std::vector<Bigram> heap_;
};

}  // namespace ember::tokenizer
