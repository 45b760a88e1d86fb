// ember — text <-> token ids, exactly as the model was trained.
//
// A Tokenizer is read from a GGUF file's `tokenizer.ggml.*` metadata and reproduces the token ids
// llama.cpp produces for the same file, byte for byte. Three vocabulary kinds are supported:
//
//   tokenizer.ggml.model = "llama"  SentencePiece-style BPE over token scores, with byte fallback
//                                    (`<0x41>` tokens) and the `▁` word-boundary marker
//   tokenizer.ggml.model = "gpt2"   byte-level BPE over `tokenizer.ggml.merges`, with the
//                                    pre-tokenizer named by `tokenizer.ggml.pre`
//   tokenizer.ggml.model = "bert"   WordPiece with BERT normalization (lower-case, strip accents)
//
// Quick start:
//
//   ember::Result<ember::Tokenizer> tok = ember::Tokenizer::load("model.gguf");
//   if (!tok.ok()) { std::cerr << tok.status().to_string() << "\n"; return 1; }
//   ember::Result<std::vector<int32_t>> ids = tok->tokenize("Hello world");
//   ember::Result<std::string> text = tok->detokenize(*ids, /*remove_special=*/true);
//
// Special tokens and security. Control tokens such as `<|im_start|>` or `<|eot_id|>` steer the
// model. `tokenize(text)` never turns text into a control token unless `parse_special` is true, so
// user-supplied content can be tokenized safely: `"<|im_end|>"` typed by a user becomes ordinary
// text tokens. Pass `parse_special = true` only for text you built yourself (e.g. a rendered chat
// template). User-defined tokens (vocabulary entries of type kUserDefined, added by the model's
// authors as ordinary words) are matched as whole tokens in both modes, as in the reference.
//
// Leading space (SentencePiece vocabularies with `add_space_prefix`, e.g. Llama 2, Mistral,
// Gemma). tokenize() prepends one space to the text (and to each text run that follows a special
// token), so "Hello" and " Hello" tokenize differently ("▁Hello" vs "▁▁Hello"). detokenize() drops
// one leading space from the first token it renders, so detokenize(tokenize(x, false)) == x.
// When `remove_special` removes a leading BOS, the space is kept (the reference's rule).
//
// Invalid UTF-8. Input text may hold any bytes. SentencePiece vocabularies keep invalid bytes as
// byte tokens; byte-level BPE and WordPiece replace each invalid byte by U+FFFD first, as the
// reference does. detokenize()/token_to_piece() return the tokens' bytes as they are, which may
// be invalid or partial UTF-8 (a multi-byte character split across tokens); a streaming caller
// decides what to show.
//
// Threads: a Tokenizer is immutable once loaded; every method is const and safe to call from
// many threads at once. Copies are cheap and share the vocabulary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ember/status.h"

namespace ember {

namespace tokenizer {
struct Vocab;
}

// Token types as stored in `tokenizer.ggml.token_type`.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,       // an ordinary piece of text
  kUnknown = 2,      // the `<unk>` token
  kControl = 3,      // BOS, EOS, chat-turn markers, ...: never produced from text unless asked
  kUserDefined = 4,  // an added word that is always matched as a whole
  kUnused = 5,       // a reserved slot
  kByte = 6,         // a raw byte (`<0x0A>`), SentencePiece byte fallback
};

// Which algorithm the vocabulary uses (`tokenizer.ggml.model`).
enum class VocabKind {
  kSentencePiece,  // "llama"
  kBytePairBpe,    // "gpt2"
  kWordPiece,      // "bert"
  kUnigram,        // "t5" (SentencePiece Unigram: T5, XLM-RoBERTa / bge-m3 family)
};

class Tokenizer {
 public:
  // Inputs larger than this are rejected with kOutOfRange. A text of n bytes gives at most
  // 4n + 5 tokens (the worst case is a SentencePiece vocabulary spelling escaped spaces with byte
  // tokens), so the limit keeps every token count well inside int32_t (the reference's id and
  // count type) and bounds the memory one call can use.
  static constexpr size_t kMaxTextBytes = size_t{256} << 20;  // 256 MiB

  // Reads the tokenizer of a GGUF model (or a vocabulary-only GGUF). Only metadata is read;
  // tensor data is not touched. Errors: unreadable file, missing or malformed `tokenizer.ggml.*`
  // keys, duplicate token texts, an unsupported `tokenizer.ggml.model` (named in the message).
  static Result<Tokenizer> load(const std::string& gguf_path);

  // Internal: wraps an already loaded vocabulary. Use load(), or, inside ember, the
  // `tokenizer_from_gguf()` function of src/tokenizer/tokenizer_gguf.h.
  explicit Tokenizer(std::shared_ptr<const tokenizer::Vocab> vocab);

  // Text -> token ids.
  //  add_special:   add BOS/EOS as the model's metadata says (`tokenizer.ggml.add_bos_token`,
  //                 `add_eos_token`); for WordPiece, CLS before and SEP after.
  //  parse_special: turn the text of control tokens (e.g. `<|im_start|>`) into those tokens. Off
  //                 by default: see "Special tokens and security" above.
  // Errors: text longer than kMaxTextBytes (kOutOfRange).
  Result<std::vector<int32_t>> tokenize(std::string_view text, bool add_special = true,
                                        bool parse_special = false) const;

  // The number of tokens tokenize() would return, with the same arguments.
  Result<size_t> token_count(std::string_view text, bool add_special = true,
                             bool parse_special = false) const;

  // Token ids -> text: the concatenated pieces, with the reference's rules.
  //  remove_special:  drop a leading BOS (when the model adds one) and a trailing EOS (when the
  //                   model adds one).
  //  unparse_special: render control and unknown tokens as their text (e.g. "<|im_end|>");
  //                   when false they render as nothing.
  // Byte tokens are reassembled into the bytes they stand for; `▁` becomes a space; the
  // SentencePiece leading space is removed as described above; byte-level BPE vocabularies that
  // ask for it (e.g. GPT-2, Llama 3) get Hugging Face's `clean_up_tokenization_spaces` pass
  // (" ," -> ",", " 's" -> "'s", ...). Errors: an id outside [0, n_vocab()) (kOutOfRange).
  Result<std::string> detokenize(std::span<const int32_t> ids, bool remove_special = false,
                                 bool unparse_special = false) const;

  // The bytes one token stands for (no leading-space removal, no clean-up). Control and unknown
  // tokens render as their text when `special` is true and as "" otherwise. The bytes may be
  // partial UTF-8. Errors: id out of range.
  Result<std::string> token_to_piece(int32_t id, bool special = true) const;
  // The same bytes as a view into the Tokenizer's own tables (valid while any copy of this
  // Tokenizer lives), without allocating; "" for an id outside the vocabulary. For hot loops
  // such as samplers and grammar matchers that look at every token's piece.
  std::string_view piece_view(int32_t id, bool special = true) const;

  // Vocabulary size (number of token ids).
  int32_t n_vocab() const;
  VocabKind kind() const;
  // `tokenizer.ggml.model` and `tokenizer.ggml.pre` as stored ("" when absent).
  const std::string& model_name() const;
  const std::string& pre_name() const;

  // Special token ids, or -1 when the model has none.
  int32_t bos() const;
  int32_t eos() const;
  int32_t eot() const;  // end of turn (e.g. <|eot_id|>, <|im_end|>, <end_of_turn>)
  int32_t eom() const;  // end of message (<|eom_id|>)
  int32_t unk() const;
  int32_t pad() const;
  int32_t sep() const;
  int32_t cls() const;  // WordPiece: the token added in front (same as bos())
  int32_t mask() const;
  int32_t newline() const;  // the token of "\n" (-1 when it has none)

  // Whether tokenize(..., add_special=true) adds BOS / EOS, and the SentencePiece space prefix.
  bool add_bos() const;
  bool add_eos() const;
  // The file's add_sep_token (tokenizer.ggml.add_sep_token): rerank pairs put SEP between the
  // query and the document when set.
  bool add_sep() const;
  bool add_space_prefix() const;

  // End-of-generation tokens: EOS, EOT, EOM and the tokens models use to stop (e.g.
  // `<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`, `<|endoftext|>`), sorted ascending.
  const std::vector<int32_t>& eog_tokens() const;
  bool is_eog(int32_t id) const;
  // True for control tokens (out-of-range ids: false).
  bool is_control(int32_t id) const;

  // A token's stored text (e.g. "▁Hello", "Ġworld", "<0x0A>") and type. Errors: id out of range.
  Result<std::string_view> token_text(int32_t id) const;
  Result<TokenType> token_type(int32_t id) const;
  Result<float> token_score(int32_t id) const;

  // Non-fatal problems found while loading (e.g. an unknown `tokenizer.ggml.pre`, for which the
  // default GPT-2 splitter is used). Tools should show them to the user.
  const std::vector<std::string>& warnings() const;

 private:
  std::shared_ptr<const tokenizer::Vocab> vocab_;
};

}  // namespace ember
