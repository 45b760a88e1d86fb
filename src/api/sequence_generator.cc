#include "api/sequence_generator.h"

#include <cmath>
#include <limits>

namespace ember::detail {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// softmax(logits)[token], computed as sampling::top_probabilities does.
float token_probability(std::span<const float> logits, int32_t token) {
  float max_logit = -INFINITY;
  for (float l : logits) max_logit = std::max(max_logit, l);
  if (!std::isfinite(max_logit)) return 0.0f;
  double sum = 0.0;
  for (float l : logits) sum += std::exp(double(l) - double(max_logit));
  const double p = std::exp(double(logits[static_cast<size_t>(token)]) - double(max_logit)) / sum;
  return static_cast<float>(p);
}

}  // namespace

Status SequenceGenerator::validate(const GenerationParams& params, int32_t n_vocab) {
  EMBER_RETURN_IF_ERROR(params.sampling.validate(n_vocab));
  if (params.max_tokens < -1) return invalid_argument("max_tokens must be >= -1 (-1 = no limit)");
  if (!params.grammar.empty() && !params.json_schema.empty()) {
    return invalid_argument("give either a grammar or a JSON schema, not both");
  }
  return Status::Ok();
}

Result<std::unique_ptr<SequenceGenerator>> SequenceGenerator::create(
    const Tokenizer& tokenizer, const std::shared_ptr<const grammar::TokenTrie>& trie,
    const GenerationParams& params, std::span<const int32_t> prompt, int32_t n_ctx,
    bool render_special) {
  std::unique_ptr<SequenceGenerator> g(new SequenceGenerator());
  g->tokenizer_ = &tokenizer;
  g->params_ = params;
  g->n_ctx_ = n_ctx;
  g->render_special_ = render_special;
  EMBER_ASSIGN_OR_RETURN(
      g->chain_, sampling::SamplerChain::from_params(params.sampling, tokenizer.n_vocab(), n_ctx));
  g->stops_ = text::StopStringMatcher(params.stop);
  if (needs_trie(params)) {
    if (!trie) return internal_error("the vocabulary trie is missing for a constrained generation");
    auto constraint =
        params.grammar.empty()
            ? sampling::GrammarConstraint::from_json_schema(params.json_schema, tokenizer, trie)
            : sampling::GrammarConstraint::from_gbnf(params.grammar, tokenizer, trie);
    if (!constraint.ok()) return constraint.status();
    g->grammar_.emplace(std::move(*constraint));
  }
  if (params.ignore_eos) g->banned_ = tokenizer.eog_tokens();
  // Like llama.cpp, repetition penalties also look at the prompt's tokens.
  for (int32_t t : prompt) g->chain_.accept(t);
  g->result_.usage.prompt_tokens = static_cast<int32_t>(prompt.size());
  return g;
}

void SequenceGenerator::finish(FinishReason reason, Status error) {
  if (finished_) return;
  finished_ = true;
  result_.finish_reason = reason;
  result_.error = std::move(error);
}

std::optional<GenerationChunk> SequenceGenerator::sample(std::span<const float> row,
                                                         int64_t n_cached) {
  if (finished_) return std::nullopt;
  if (!gen_started_) {
    gen_started_ = true;
    gen_start_ = Clock::now();
  }
  const Clock::time_point sampling_start = Clock::now();
  std::span<const float> logits = row;
  // The edited copy lives in a member: a vocabulary-sized allocation per token would cost page
  // faults on large vocabularies.
  std::vector<float>& edited = edited_;
  bool copied = false;
  auto editable = [&]() -> std::span<float> {
    if (!copied) {
      copied = true;
      edited.assign(row.begin(), row.end());
      for (int32_t t : banned_) {
        edited[static_cast<size_t>(t)] = -std::numeric_limits<float>::infinity();
      }
      logits = edited;
    }
    return edited;
  };
  if (!banned_.empty()) editable();
  // With a grammar: mirostat updates its state while sampling, so mask first; the other chains
  // sample freely and only mask and resample when the grammar rejects the choice (llama.cpp's
  // strategy: most tokens pass, and a check is far cheaper than a full mask).
  if (grammar_ && params_.sampling.mirostat != 0) {
    if (Status st = grammar_->apply_mask(editable()); !st.ok()) {
      finish(FinishReason::kError, st);
      return std::nullopt;
    }
  }
  Result<int32_t> sampled = chain_.sample(logits);
  if (sampled.ok() && grammar_ && params_.sampling.mirostat == 0) {
    Result<bool> allowed = grammar_->allows(*sampled);
    if (!allowed.ok()) {
      sampled = allowed.status();
    } else if (!*allowed) {
      Status st = grammar_->apply_mask(editable());
      sampled = st.ok() ? chain_.sample(logits) : Result<int32_t>(st);
    }
  }
  if (!sampled.ok()) {
    finish(FinishReason::kError, sampled.status());
    return std::nullopt;
  }
  if (grammar_) {
    if (Status st = grammar_->accept(*sampled); !st.ok()) {
      finish(FinishReason::kError, st);
      return std::nullopt;
    }
  }
  const int32_t token = *sampled;
  chain_.accept(token);
  result_.usage.sampling_ms += ms_since(sampling_start);
  result_.tokens.push_back(token);
  ++result_.usage.completion_tokens;

  GenerationChunk chunk;
  chunk.tokens.push_back(token);
  last_probability_ = 0.0f;
  if (params_.sampling.n_probs > 0) {
    std::vector<TokenProbability> probs;
    for (const auto& [id, p] :
         sampling::top_probabilities(logits, static_cast<size_t>(params_.sampling.n_probs))) {
      Result<std::string> piece = tokenizer_->token_to_piece(id, true);
      probs.push_back({id, piece.ok() ? *piece : std::string(), p});
    }
    chunk.top_probabilities.push_back(std::move(probs));
    last_probability_ = token_probability(logits, token);
  }

  if (tokenizer_->is_eog(token)) {
    finish(FinishReason::kStop);
    return chunk;
  }
  Result<std::string> piece = tokenizer_->token_to_piece(token, render_special_);
  if (!piece.ok()) {
    finish(FinishReason::kError, piece.status());
    return std::nullopt;
  }
  text::StopStringMatcher::Output out = stops_.push(utf8_.push(*piece));
  chunk.text = std::move(out.text);
  result_.text += chunk.text;
  if (out.stopped) {
    result_.stop_string = params_.stop[*out.stopped];
    finish(FinishReason::kStop);
    return chunk;
  }
  const bool budget_spent =
      params_.max_tokens >= 0 && result_.usage.completion_tokens >= params_.max_tokens;
  const bool context_full = n_cached + 1 > n_ctx_;
  if (budget_spent || context_full) finish(FinishReason::kLength);
  return chunk;
}

GenerationResult SequenceGenerator::end() {
  if (ended_) return result_;
  ended_ = true;
  if (!finished_) finish(FinishReason::kCancelled);
  if (!stops_.stopped()) {
    // Held-back bytes: an unfinished character (becomes U+FFFD) and a possible stop-string start.
    text::StopStringMatcher::Output out = stops_.push(utf8_.finish());
    result_.tail = out.text;
    if (out.stopped) {
      result_.stop_string = params_.stop[*out.stopped];
    } else {
      result_.tail += stops_.finish();
    }
    result_.text += result_.tail;
  }
  if (gen_started_) {
    result_.usage.generation_ms = ms_since(gen_start_);
    if (result_.usage.generation_ms > 0) {
      result_.usage.generation_tokens_per_second =
          result_.usage.completion_tokens * 1000.0 / result_.usage.generation_ms;
    }
  }
  return result_;
}

}  // namespace ember::detail
