// A tokenizer vocabulary read from GGUF `tokenizer.ggml.*` metadata: token texts, scores, types,
// special ids, flags, the end-of-generation set and the lookup tables the three algorithms need.
//
// Loading follows llama.cpp's rules (defaults per model kind, per-`pre` flags, token attributes
// derived from types and adjusted by well-known token texts) so that tokenization matches it.
// A loaded Vocab is immutable; all tokenizer code takes it by const reference.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ember/status.h"
#include "ember/tokenizer.h"
#include "tokenizer/hash_tables.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/special.h"
#include "tokenizer/ugm.h"

namespace ember {
class GgufFile;
}

namespace ember::tokenizer {

// Token attribute bits. The type stored in the file sets one of the first six; loading may add
// kControl (to tokens whose text is a known end-of-turn marker), kUnused, kLstrip/kRstrip.
enum TokenAttr : uint16_t {
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,  // special-token match swallows ASCII whitespace on its left
  kAttrRstrip = 1u << 8,  // ... and on its right
};

struct TokenData {
  std::string text;
  float score = 0.0f;
  TokenType type = TokenType::kNormal;
  uint16_t attr = kAttrNormal;
};

// Byte-level BPE tables, in raw-byte space: every token text and merge side is mapped back
// through the GPT-2 byte<->code point table to the bytes it stands for, so the tokenizer works
// on the input bytes directly without re-encoding each word.
struct BpeTables {
  // Raw bytes -> piece id. Piece ids < n_vocab are token ids; larger ids name merge sides and
  // results that are not tokens themselves.
  StringIdMap raw_to_piece;
  // (left piece, right piece) -> (merge rank, merged piece).
  PairMap merges;
  // Piece of each single byte (-1 when no token or merge uses it).
  std::array<int32_t, 256> byte_piece{};
  // Token ids the reference falls back to for one byte of a symbol that is not a token: it looks
  // up each byte of the byte's encoded character as a one-byte token text (usually only printable
  // ASCII bytes have one). -1 = none.
  std::array<std::array<int32_t, 2>, 256> byte_fallback{};
  int32_t n_pieces = 0;
  // SentencePiece-style BPE (tokenizer model "gemma4"): token texts and merges are raw UTF-8 with
  // U+2581 for a space, symbols start as whole characters, a symbol that is no token falls back
  // to its bytes' `<0xXX>` tokens (byte_fallback[b][0]), and the text is split only into runs of
  // newlines and runs of everything else.
  bool raw_utf8 = false;
};

struct Vocab {
  VocabKind kind = VocabKind::kSentencePiece;
  std::string model_name;  // tokenizer.ggml.model
  std::string pre_name;    // tokenizer.ggml.pre
  PreTokenizer pre = PreTokenizer::kGpt2;

  std::vector<TokenData> tokens;
  StringIdMap text_to_id;  // token text -> id (every token)
  size_t max_token_len = 0;

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  int32_t newline = -1;

  bool add_bos = false;
  bool add_eos = false;
  bool add_sep = false;
  bool add_space_prefix = false;
  bool remove_extra_whitespaces = false;  // read for completeness; the reference ignores it
  bool ignore_merges = false;             // BPE: a pre-token that is a whole token is emitted as is
  bool clean_spaces = false;              // detokenize applies clean_up_tokenization_spaces
  bool lowercase = true;                  // WordPiece normalizer
  bool strip_accents = true;              // WordPiece normalizer

  std::vector<int32_t> eog;             // sorted
  std::vector<int32_t> special_tokens;  // control/user-defined/unknown, longest text first
  SpecialTrie special_trie;             // over the texts of special_tokens
  std::vector<std::string> pieces;      // token_to_piece(id, special=true) for every id

  // SentencePiece: token of each byte (`<0xNN>`, else the one-byte text), -1 when absent.
  std::array<int32_t, 256> byte_token{};
  // SentencePiece: ASCII bytes that no token longer than one byte contains. Such a byte can
  // never be part of a merge, so the text on each side of it is tokenized independently.
  std::array<bool, 128> spm_separator{};

  BpeTables bpe;
  UgmTables ugm;  // Unigram (t5) only

  std::vector<std::string> warnings;

  int32_t n_vocab() const { return static_cast<int32_t>(tokens.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < n_vocab(); }
  int32_t find(std::string_view text) const { return text_to_id.find(text); }
};

// Reads the vocabulary of `file`. Errors name the offending key.
Result<Vocab> load_vocab(const GgufFile& file);

}  // namespace ember::tokenizer
