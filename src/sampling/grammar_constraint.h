// Grammar-constrained sampling: only tokens whose bytes continue the grammar may be chosen, and
// end of generation only where the grammar is complete.
//
// Used like llama.cpp uses its grammar sampler: the sampler chain first picks a token from the
// unconstrained logits; if the grammar allows it, it is taken (the common case, cheap: one cached
// transition walk). Otherwise every disallowed token is masked to -infinity and the chain samples
// again. `apply_mask` is also usable on its own (mirostat chains mask first, because they update
// their state while sampling).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ember/status.h"
#include "ember/tokenizer.h"
#include "grammar/grammar_matcher.h"
#include "grammar/token_filter.h"
#include "grammar/token_trie.h"

namespace ember::sampling {

class GrammarConstraint {
 public:
  // The bytes of every token of `tokenizer` in a trie; built once per vocabulary and shared by all
  // constraints on it (it is immutable).
  static std::shared_ptr<const grammar::TokenTrie> build_trie(const Tokenizer& tokenizer);

  // From GBNF text or from a JSON schema (text). Errors: a grammar or schema error (with its
  // position), an unsupported schema keyword.
  static Result<GrammarConstraint> from_gbnf(std::string_view gbnf, const Tokenizer& tokenizer,
                                             std::shared_ptr<const grammar::TokenTrie> trie);
  static Result<GrammarConstraint> from_json_schema(std::string_view schema,
                                                    const Tokenizer& tokenizer,
                                                    std::shared_ptr<const grammar::TokenTrie> trie);

  // Whether `token` may come next.
  Result<bool> allows(int32_t token);
  // Sets the logits [n_vocab] of every token that may not come next to -infinity. Error when no
  // token at all is allowed (the grammar cannot continue and is not complete).
  Status apply_mask(std::span<float> logits);
  // Advances the grammar by `token` (which must be allowed). End-of-generation tokens end it.
  Status accept(int32_t token);
  bool is_complete() const { return matcher_.is_complete(); }

 private:
  GrammarConstraint(const Tokenizer& tokenizer, grammar::GrammarMatcher matcher,
                    std::unique_ptr<grammar::TokenFilter> filter)
      : tokenizer_(&tokenizer), matcher_(std::move(matcher)), filter_(std::move(filter)) {}
  static Result<GrammarConstraint> create(std::shared_ptr<const grammar::Grammar> g,
                                          const Tokenizer& tokenizer,
                                          std::shared_ptr<const grammar::TokenTrie> trie);

  const Tokenizer* tokenizer_;
  grammar::GrammarMatcher matcher_;
  std::unique_ptr<grammar::TokenFilter> filter_;
  grammar::TokenMask mask_;
};

}  // namespace ember::sampling
