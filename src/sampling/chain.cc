#include "sampling/chain.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>

#include "base/strings.h"

namespace ember {

std::string_view sampler_kind_name(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::kPenalties:
      return "penalties";
    case SamplerKind::kTopK:
      return "top_k";
    case SamplerKind::kTypicalP:
      return "typ_p";
    case SamplerKind::kTopP:
      return "top_p";
    case SamplerKind::kMinP:
      return "min_p";
    case SamplerKind::kTemperature:
      return "temperature";
  }
  return "unknown";
}

Result<SamplerKind> sampler_kind_from_name(std::string_view name) {
  struct Alias {
    std::string_view name;
    SamplerKind kind;
  };
  static constexpr Alias kAliases[] = {
      {"penalties", SamplerKind::kPenalties},
      {"top_k", SamplerKind::kTopK},
      {"top-k", SamplerKind::kTopK},
      {"typ_p", SamplerKind::kTypicalP},
      {"typical_p", SamplerKind::kTypicalP},
      {"typical", SamplerKind::kTypicalP},
      {"top_p", SamplerKind::kTopP},
      {"top-p", SamplerKind::kTopP},
      {"min_p", SamplerKind::kMinP},
      {"min-p", SamplerKind::kMinP},
      {"temperature", SamplerKind::kTemperature},
      {"temp", SamplerKind::kTemperature},
  };
  for (const auto& a : kAliases) {
    if (iequals(a.name, name)) return a.kind;
  }
  return invalid_argument("unknown sampler '" + std::string(name) +
                          "' (known: penalties, top_k, typ_p, top_p, min_p, temperature)");
}

std::vector<SamplerKind> default_sampler_order() {
  return {SamplerKind::kPenalties, SamplerKind::kTopK, SamplerKind::kTypicalP,
          SamplerKind::kTopP,      SamplerKind::kMinP, SamplerKind::kTemperature};
}

namespace {

Status check_finite(std::string_view name, float v) {
  if (!std::isfinite(v)) return invalid_argument(std::string(name) + " must be a finite number");
  return Status::Ok();
}

std::string number(float v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

Status check_range(std::string_view name, float v, float lo, float hi) {
  EMBER_RETURN_IF_ERROR(check_finite(name, v));
  if (v < lo || v > hi) {
    return invalid_argument(std::string(name) + " = " + number(v) + " is outside [" + number(lo) +
                            ", " + number(hi) + "]");
  }
  return Status::Ok();
}

}  // namespace

Status SamplingParams::validate(int32_t n_vocab) const {
  EMBER_RETURN_IF_ERROR(check_finite("temperature", temperature));
  if (temperature < 0) return invalid_argument("temperature must be >= 0 (0 = greedy)");
  if (top_k < 0) return invalid_argument("top_k must be >= 0 (0 = off)");
  EMBER_RETURN_IF_ERROR(check_range("top_p", top_p, 0.0f, 1.0f));
  EMBER_RETURN_IF_ERROR(check_range("min_p", min_p, 0.0f, 1.0f));
  EMBER_RETURN_IF_ERROR(check_range("typical_p", typical_p, 0.0f, 1.0f));
  EMBER_RETURN_IF_ERROR(check_finite("repeat_penalty", repeat_penalty));
  if (repeat_penalty <= 0) return invalid_argument("repeat_penalty must be > 0 (1 = off)");
  if (repeat_last_n < -1) {
    return invalid_argument("repeat_last_n must be >= -1 (0 = off, -1 = whole context)");
  }
  EMBER_RETURN_IF_ERROR(check_finite("frequency_penalty", frequency_penalty));
  EMBER_RETURN_IF_ERROR(check_finite("presence_penalty", presence_penalty));
  if (mirostat < 0 || mirostat > 2) {
    return invalid_argument("mirostat must be 0 (off), 1 or 2, not " + std::to_string(mirostat));
  }
  EMBER_RETURN_IF_ERROR(check_finite("mirostat_tau", mirostat_tau));
  if (mirostat_tau < 0) return invalid_argument("mirostat_tau must be >= 0");
  EMBER_RETURN_IF_ERROR(check_finite("mirostat_eta", mirostat_eta));
  if (mirostat_eta < 0) return invalid_argument("mirostat_eta must be >= 0");
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || (n_vocab > 0 && id >= n_vocab)) {
      return invalid_argument("logit_bias: token id " + std::to_string(id) +
                              " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")");
    }
    // -infinity bans a token; NaN and +infinity have no meaning.
    if (std::isnan(bias) || (std::isinf(bias) && bias > 0)) {
      return invalid_argument("logit_bias for token " + std::to_string(id) +
                              " must be a number or -infinity");
    }
  }
  for (size_t i = 0; i < order.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (order[i] == order[j]) {
        return invalid_argument("sampler order lists '" + std::string(sampler_kind_name(order[i])) +
                                "' twice");
      }
    }
  }
  if (n_probs < 0 || n_probs > 100) return invalid_argument("n_probs must be in [0, 100]");
  return Status::Ok();
}

namespace sampling {

Result<SamplerChain> SamplerChain::from_params(const SamplingParams& params, int32_t n_vocab,
                                               int32_t n_ctx) {
  if (n_vocab <= 0) return invalid_argument("sampler chain: vocabulary size must be positive");
  EMBER_RETURN_IF_ERROR(params.validate(n_vocab));
  SamplerChain chain;
  chain.n_vocab_ = n_vocab;
  chain.seed_ = params.seed;
  if (chain.seed_ == kRandomSeed) {
    std::random_device rd;
    do {
      chain.seed_ = rd();
    } while (chain.seed_ == kRandomSeed);
  }

  if (!params.logit_bias.empty()) {
    chain.add(make_logit_bias({params.logit_bias.begin(), params.logit_bias.end()}));
  }
  const int32_t window = params.repeat_last_n == -1 ? n_ctx : params.repeat_last_n;
  auto penalties = [&] {
    return make_penalties(window, params.repeat_penalty, params.frequency_penalty,
                          params.presence_penalty);
  };

  if (params.mirostat != 0) {
    chain.add(penalties());
    chain.add(make_temperature(params.temperature));
    if (params.mirostat == 1) {
      chain.add(make_mirostat(n_vocab, chain.seed_, params.mirostat_tau, params.mirostat_eta));
    } else {
      chain.add(make_mirostat_v2(chain.seed_, params.mirostat_tau, params.mirostat_eta));
    }
    return chain;
  }

  const std::vector<SamplerKind> order =
      params.order.empty() ? default_sampler_order() : params.order;
  for (SamplerKind kind : order) {
    switch (kind) {
      case SamplerKind::kPenalties:
        chain.add(penalties());
        break;
      case SamplerKind::kTopK:
        chain.add(make_top_k(params.top_k));
        break;
      case SamplerKind::kTypicalP:
        chain.add(make_typical(params.typical_p));
        break;
      case SamplerKind::kTopP:
        chain.add(make_top_p(params.top_p));
        break;
      case SamplerKind::kMinP:
        chain.add(make_min_p(params.min_p));
        break;
      case SamplerKind::kTemperature:
        chain.add(make_temperature(params.temperature));
        break;
    }
  }
  if (params.temperature == 0.0f) {
    chain.add(make_greedy());
  } else {
    chain.add(make_distribution(chain.seed_));
  }
  return chain;
}

void SamplerChain::add(std::unique_ptr<Sampler> sampler) {
  samplers_.push_back(std::move(sampler));
}

void SamplerChain::insert(size_t index, std::unique_ptr<Sampler> sampler) {
  index = std::min(index, samplers_.size());
  samplers_.insert(samplers_.begin() + static_cast<std::ptrdiff_t>(index), std::move(sampler));
}

Result<int32_t> SamplerChain::sample(std::span<const float> logits) {
  if (n_vocab_ > 0 && logits.size() != static_cast<size_t>(n_vocab_)) {
    return invalid_argument("sampler chain: logits row has " + std::to_string(logits.size()) +
                            " values, expected " + std::to_string(n_vocab_));
  }
  candidates_.assign_lazy(logits);  // a leading top-k reads the row directly
  for (auto& s : samplers_) {
    Status st = s->apply(candidates_).with_context(s->name());
    if (!st.ok()) {
      candidates_.materialize();  // the row belongs to the caller: never keep it
      return st;
    }
    if (candidates_.selected >= 0) break;  // a selector decided
  }
  candidates_.materialize();
  if (candidates_.selected < 0) {
    return internal_error("sampler chain ended without selecting a token (no selector)");
  }
  return candidates_[static_cast<size_t>(candidates_.selected)].id;
}

void SamplerChain::accept(int32_t token) {
  for (auto& s : samplers_) s->accept(token);
}

void SamplerChain::reset() {
  for (auto& s : samplers_) s->reset();
}

SamplerChain SamplerChain::clone() const {
  SamplerChain copy;
  copy.seed_ = seed_;
  copy.n_vocab_ = n_vocab_;
  copy.samplers_.reserve(samplers_.size());
  for (const auto& s : samplers_) copy.samplers_.push_back(s->clone());
  return copy;
}

std::vector<std::pair<int32_t, float>> top_probabilities(std::span<const float> logits, size_t n) {
  std::vector<std::pair<int32_t, float>> out;
  if (logits.empty() || n == 0) return out;
  float max_logit = -INFINITY;
  for (float l : logits) max_logit = std::max(max_logit, l);
  double sum = 0.0;
  if (std::isfinite(max_logit)) {
    for (float l : logits) sum += std::exp(double(l) - double(max_logit));
  }
  Candidates c;
  c.assign_lazy(logits);
  c.keep_top(std::min(n, c.size()));  // picks from the row: cheap on a large vocabulary
  for (size_t i = 0; i < c.size(); ++i) {
    const double p = sum > 0.0 ? std::exp(double(c[i].logit) - double(max_logit)) / sum : 0.0;
    out.emplace_back(c[i].id, static_cast<float>(p));
  }
  return out;
}

}  // namespace sampling
}  // namespace ember
