// Byte-level BPE (`tokenizer.ggml.model = gpt2`), as the reference implements it, and its
// SentencePiece-style variant on raw UTF-8 (`gemma4`, see BpeTables::raw_utf8).
//
// Invalid UTF-8 in the run is first replaced by U+FFFD. The pre-tokenizer named by
// `tokenizer.ggml.pre` splits the run into words; each word is a sequence of bytes, every byte
// one symbol (the GPT-2 byte alphabet maps each byte to one character). Adjacent symbols are
// merged by rank: at each step the pair with the lowest merge rank is merged (ties: leftmost pair
// first) until no listed merge applies. Each final symbol is emitted as its token; a symbol that
// is not a token falls back to the one-character tokens of its bytes where they exist. With
// `ignore_merges` (Llama 3 and similar) a word that is itself a token is emitted directly.
//
// Lookups work on raw bytes (see BpeTables): the merge table is keyed by a pair of piece ids, so
// the merge loop hashes two integers per candidate pair and never builds strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::tokenizer {

struct Vocab;

class BpeSession {
 public:
  explicit BpeSession(const Vocab& v) : v_(v) {}
  // Appends the tokens of one text run (no special tokens in it) to `out`.
  void tokenize(std::string_view run, std::vector<int32_t>& out);

 private:
  struct Symbol {
    int32_t piece;  // piece id, -1 when the byte string is no piece
    uint32_t offset;
    uint32_t n;  // bytes; 0 once merged into its left neighbour
    int32_t prev;
    int32_t next;
  };
  struct Bigram {
    int32_t rank;
    int32_t left;
    int32_t right;
    int32_t merged;
    uint32_t size;
  };
  void tokenize_raw(std::string_view text, std::vector<int32_t>& out);
  void tokenize_word(std::string_view word, std::vector<int32_t>& out);
  void try_add_bigram(int32_t left, int32_t right);
  void emit(std::string_view word, const Symbol& s, std::vector<int32_t>& out) const;

  const Vocab& v_;
  std::string sanitized_;
  std::string escaped_;
  std::vector<std::pair<uint32_t, uint32_t>> words_;
  std::vector<Symbol> symbols_;
  std::vector<Bigram> heap_;
};

// Convenience: one run through a fresh session.
void bpe_tokenize(const Vocab& v, std::string_view run, std::vector<int32_t>& out);

}  // namespace ember::tokenizer
