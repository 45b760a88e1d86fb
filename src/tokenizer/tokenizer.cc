// ember::Tokenizer: the public face of src/tokenizer (special-token partitioning, then the
// vocabulary's algorithm on each text run; pieces and detokenization).
#include "ember/tokenizer.h"

#include <algorithm>
#include <climits>

#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pieces.h"
#include "tokenizer/special.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer_gguf.h"
#include "tokenizer/ugm.h"
#include "tokenizer/vocab.h"
#include "tokenizer/wpm.h"

namespace ember {

using tokenizer::Fragment;
using tokenizer::Vocab;

Result<Tokenizer> tokenizer_from_gguf(const GgufFile& file) {
  Result<Vocab> vocab = tokenizer::load_vocab(file);
  if (!vocab.ok()) return vocab.status().with_context("tokenizer");
  return Tokenizer(std::make_shared<const Vocab>(std::move(vocab).value()));
}

Result<Tokenizer> Tokenizer::load(const std::string& gguf_path) {
  GgufReadOptions options;
  options.load_all_splits = false;  // the tokenizer lives in the first file's metadata
  Result<GgufFile> file = GgufFile::open(gguf_path, options);
  if (!file.ok()) return file.status();
  Result<Tokenizer> tok = tokenizer_from_gguf(*file);
  if (!tok.ok()) return tok.status().with_context(gguf_path);
  return tok;
}

Tokenizer::Tokenizer(std::shared_ptr<const Vocab> vocab) : vocab_(std::move(vocab)) {}

Result<std::vector<int32_t>> Tokenizer::tokenize(std::string_view text, bool add_special,
                                                 bool parse_special) const {
  if (text.size() > kMaxTextBytes) {
    return out_of_range("text of " + std::to_string(text.size()) +
                        " bytes is longer than the tokenizer's limit of " +
                        std::to_string(kMaxTextBytes) + " bytes");
  }
  const Vocab& v = *vocab_;
  std::vector<Fragment> fragments;
  tokenizer::partition_special(v, text, parse_special, fragments);
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  auto run_of = [&](const Fragment& f) { return text.substr(f.offset, f.length); };

  switch (v.kind) {
    case VocabKind::kSentencePiece: {
      tokenizer::SpmSession session(v);
      // A text run at the start or right after a special token gets the space prefix.
      bool prev_special = true;
      if (add_special && v.add_bos) out.push_back(v.bos);
      for (const Fragment& f : fragments) {
        if (f.token >= 0) {
          out.push_back(f.token);
          prev_special = true;
        } else {
          session.tokenize(run_of(f), v.add_space_prefix && prev_special, out);
          prev_special = false;
        }
      }
      if (add_special && v.add_eos) out.push_back(v.eos);
      break;
    }
    case VocabKind::kBytePairBpe: {
      tokenizer::BpeSession session(v);
      if (add_special && v.add_bos) out.push_back(v.bos);
      for (const Fragment& f : fragments) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          session.tokenize(run_of(f), out);
        }
      }
      if (add_special && v.add_eos) out.push_back(v.eos);
      break;
    }
    case VocabKind::kWordPiece: {
      if (add_special && v.bos >= 0) out.push_back(v.bos);
      for (const Fragment& f : fragments) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          tokenizer::wpm_tokenize(v, run_of(f), out);
        }
      }
      if (add_special && v.sep >= 0) out.push_back(v.sep);
      break;
    }
    case VocabKind::kUnigram: {
      if (add_special && v.add_bos) out.push_back(v.bos);
      for (const Fragment& f : fragments) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          tokenizer::ugm_tokenize(v, run_of(f), out);
        }
      }
      if (add_special && v.add_eos) out.push_back(v.eos);
      break;
    }
  }
  // Unreachable with the input limit (at most 4n + 5 tokens), kept as the API contract.
  if (out.size() > static_cast<size_t>(INT32_MAX)) {
    return out_of_range("tokenization gives " + std::to_string(out.size()) +
                        " tokens, more than an int32 count can hold");
  }
  return out;
}

Result<size_t> Tokenizer::token_count(std::string_view text, bool add_special,
                                      bool parse_special) const {
  EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenize(text, add_special, parse_special));
  return ids.size();
}

Result<std::string> Tokenizer::detokenize(std::span<const int32_t> ids, bool remove_special,
                                          bool unparse_special) const {
  const Vocab& v = *vocab_;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!v.valid(ids[i])) {
      return out_of_range("token id " + std::to_string(ids[i]) + " at position " +
                          std::to_string(i) + " is outside the vocabulary [0, " +
                          std::to_string(v.n_vocab()) + ")");
    }
  }
  std::string out;
  tokenizer::detokenize(v, ids, remove_special, unparse_special, out);
  return out;
}

Result<std::string> Tokenizer::token_to_piece(int32_t id, bool special) const {
  if (!vocab_->valid(id)) {
    return out_of_range("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                        std::to_string(vocab_->n_vocab()) + ")");
  }
  return std::string(tokenizer::piece_of(*vocab_, id, special));
}

std::string_view Tokenizer::piece_view(int32_t id, bool special) const {
  if (!vocab_->valid(id)) return {};
  return tokenizer::piece_of(*vocab_, id, special);
}

int32_t Tokenizer::n_vocab() const {
  return vocab_->n_vocab();
}
VocabKind Tokenizer::kind() const {
  return vocab_->kind;
}
const std::string& Tokenizer::model_name() const {
  return vocab_->model_name;
}
const std::string& Tokenizer::pre_name() const {
  return vocab_->pre_name;
}
int32_t Tokenizer::bos() const {
  return vocab_->bos;
}
int32_t Tokenizer::eos() const {
  return vocab_->eos;
}
int32_t Tokenizer::eot() const {
  return vocab_->eot;
}
int32_t Tokenizer::eom() const {
  return vocab_->eom;
}
int32_t Tokenizer::unk() const {
  return vocab_->unk;
}
int32_t Tokenizer::pad() const {
  return vocab_->pad;
}
int32_t Tokenizer::sep() const {
  return vocab_->sep;
}
int32_t Tokenizer::cls() const {
  return vocab_->kind == VocabKind::kWordPiece ? vocab_->bos : -1;
}
int32_t Tokenizer::mask() const {
  return vocab_->mask;
}
int32_t Tokenizer::newline() const {
  return vocab_->newline;
}
bool Tokenizer::add_bos() const {
  return vocab_->add_bos;
}
bool Tokenizer::add_eos() const {
  return vocab_->add_eos;
}
bool Tokenizer::add_sep() const {
  return vocab_->add_sep;
}
bool Tokenizer::add_space_prefix() const {
  return vocab_->add_space_prefix;
}
const std::vector<int32_t>& Tokenizer::eog_tokens() const {
  return vocab_->eog;
}

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(vocab_->eog.begin(), vocab_->eog.end(), id);
}

bool Tokenizer::is_control(int32_t id) const {
  return vocab_->valid(id) &&
         (vocab_->tokens[static_cast<size_t>(id)].attr & tokenizer::kAttrControl) != 0;
}

Result<std::string_view> Tokenizer::token_text(int32_t id) const {
  if (!vocab_->valid(id)) return out_of_range("token id " + std::to_string(id) + " out of range");
  return std::string_view(vocab_->tokens[static_cast<size_t>(id)].text);
}

Result<TokenType> Tokenizer::token_type(int32_t id) const {
  if (!vocab_->valid(id)) return out_of_range("token id " + std::to_string(id) + " out of range");
  return vocab_->tokens[static_cast<size_t>(id)].type;
}

Result<float> Tokenizer::token_score(int32_t id) const {
  if (!vocab_->valid(id)) return out_of_range("token id " + std::to_string(id) + " out of range");
  return vocab_->tokens[static_cast<size_t>(id)].score;
}

const std::vector<std::string>& Tokenizer::warnings() const {
  return vocab_->warnings;
}

}  // namespace ember
