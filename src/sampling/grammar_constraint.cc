#include "sampling/grammar_constraint.h"

#include <limits>

#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"

namespace ember::sampling {

std::shared_ptr<const grammar::TokenTrie> GrammarConstraint::build_trie(
    const Tokenizer& tokenizer) {
  std::vector<std::string> bytes(static_cast<size_t>(tokenizer.n_vocab()));
  for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) {
    // Control tokens render as nothing: they never continue a grammar.
    Result<std::string> piece = tokenizer.token_to_piece(id, /*special=*/false);
    if (piece.ok()) bytes[static_cast<size_t>(id)] = std::move(*piece);
  }
  return std::make_shared<const grammar::TokenTrie>(std::span<const std::string>(bytes));
}

Result<GrammarConstraint> GrammarConstraint::create(
    std::shared_ptr<const grammar::Grammar> g, const Tokenizer& tokenizer,
    std::shared_ptr<const grammar::TokenTrie> trie) {
  EMBER_ASSIGN_OR_RETURN(grammar::GrammarMatcher matcher, grammar::GrammarMatcher::create(g));
  auto filter = std::make_unique<grammar::TokenFilter>(std::move(g), std::move(trie));
  return GrammarConstraint(tokenizer, std::move(matcher), std::move(filter));
}

Result<GrammarConstraint> GrammarConstraint::from_gbnf(
    std::string_view gbnf, const Tokenizer& tokenizer,
    std::shared_ptr<const grammar::TokenTrie> trie) {
  auto g = grammar::parse_gbnf(gbnf);
  if (!g.ok()) return g.status().with_context("grammar");
  return create(std::move(*g), tokenizer, std::move(trie));
}

Result<GrammarConstraint> GrammarConstraint::from_json_schema(
    std::string_view schema, const Tokenizer& tokenizer,
    std::shared_ptr<const grammar::TokenTrie> trie) {
  auto gbnf = grammar::json_schema_text_to_gbnf(schema);
  if (!gbnf.ok()) return gbnf.status().with_context("JSON schema");
  return from_gbnf(*gbnf, tokenizer, std::move(trie));
}

Result<bool> GrammarConstraint::allows(int32_t token) {
  if (tokenizer_->is_eog(token)) return matcher_.is_complete();
  return filter_->allows(matcher_, token);
}

Status GrammarConstraint::apply_mask(std::span<float> logits) {
  EMBER_RETURN_IF_ERROR(filter_->fill_mask(matcher_, &mask_));
  const bool complete = matcher_.is_complete();
  bool any = false;
  for (size_t id = 0; id < logits.size(); ++id) {
    const auto t = static_cast<int32_t>(id);
    const bool ok = tokenizer_->is_eog(t) ? complete : mask_.test(t);
    if (ok) {
      any = any || logits[id] != -std::numeric_limits<float>::infinity();
    } else {
      logits[id] = -std::numeric_limits<float>::infinity();
    }
  }
  if (!any) {
    return invalid_argument(
        "grammar: no token can continue the output here (the grammar is not complete and none of "
        "the model's allowed tokens matches it)");
  }
  return Status::Ok();
}

Status GrammarConstraint::accept(int32_t token) {
  if (tokenizer_->is_eog(token)) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(bool accepted, filter_->accept_token(matcher_, token));
  if (!accepted) {
    return internal_error("grammar: token " + std::to_string(token) +
                          " was sampled but the grammar rejects it");
  }
  return Status::Ok();
}

}  // namespace ember::sampling
