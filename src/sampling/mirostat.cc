// Mirostat (Basu et al., 2021, "Mirostat: a neural text decoding algorithm that directly controls
// perplexity"): a feedback loop that keeps the surprise (-log2 p) of sampled tokens near a target
// tau by adapting a running threshold mu (initially 2 * tau) after each token:
//   mu <- mu - eta * (surprise(sampled token) - tau)
//
// v1 estimates the Zipf exponent s of the distribution from the top m tokens and derives a top-k
// from it; v2 simply drops tokens whose surprise exceeds mu. In both, the surprise is measured with
// the probabilities renormalized over the kept tokens, as in the reference implementations.
#include <algorithm>
#include <cmath>
#include <optional>

#include "sampling/rng.h"
#include "sampling/sampler.h"

namespace ember::sampling {

Status select_by_distribution(Candidates& c, Rng& rng);  // distribution.cc

namespace {

class MirostatV1 final : public Sampler {
 public:
  MirostatV1(int32_t n_vocab, uint32_t seed, float tau, float eta, int32_t m)
      : n_vocab_(n_vocab), rng_(seed), tau_(tau), eta_(eta), m_(m), mu_(2.0f * tau) {}
  std::string_view name() const override { return "mirostat"; }

  Status apply(Candidates& c) override {
    if (c.empty()) return invalid_argument("mirostat: no candidate tokens left");
    c.softmax();
    // Least-squares fit of log(p_i / p_{i+1}) against log((i+2)/(i+1)) over the top m tokens.
    double sum_tb = 0.0, sum_tt = 0.0;
    for (size_t i = 0; i + 1 < c.size() && i + 1 < static_cast<size_t>(m_); ++i) {
      if (!(c[i + 1].p > 0.0f)) break;  // impossible tokens carry no information
      const double t = std::log(double(i + 2) / double(i + 1));
      const double b = std::log(double(c[i].p) / double(c[i + 1].p));
      sum_tb += t * b;
      sum_tt += t * t;
    }
    size_t k = c.size();
    if (sum_tt > 0.0) {
      const double s_hat = sum_tb / sum_tt;
      const double eps = s_hat - 1.0;
      const double kf = std::pow(
          eps * std::pow(2.0, double(mu_)) / (1.0 - std::pow(double(n_vocab_), -eps)), 1.0 / s_hat);
      // A degenerate fit (flat distribution) gives no finite k: keep everything then.
      if (std::isfinite(kf)) k = static_cast<size_t>(std::clamp(kf, 1.0, double(c.size())));
    }
    c.keep_top(k);
    EMBER_RETURN_IF_ERROR(select_by_distribution(c, rng_));
    update(c[static_cast<size_t>(c.selected)].p);
    return Status::Ok();
  }
  void reset() override {
    mu_ = 2.0f * tau_;
    rng_.reset();
  }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<MirostatV1>(*this); }
  float mu() const { return mu_; }

 private:
  void update(float p) { mu_ -= eta_ * (-std::log2(p) - tau_); }

  int32_t n_vocab_;
  Rng rng_;
  float tau_, eta_;
  int32_t m_;
  float mu_;
};

class MirostatV2 final : public Sampler {
 public:
  MirostatV2(uint32_t seed, float tau, float eta)
      : rng_(seed), tau_(tau), eta_(eta), mu_(2.0f * tau) {}
  std::string_view name() const override { return "mirostat_v2"; }

  Status apply(Candidates& c) override {
    if (c.empty()) return invalid_argument("mirostat 2: no candidate tokens left");
    c.softmax();
    size_t keep = 0;
    while (keep < c.size() && !(-std::log2(c[keep].p) > mu_)) ++keep;
    c.truncate(std::max<size_t>(keep, 1));
    EMBER_RETURN_IF_ERROR(select_by_distribution(c, rng_));
    mu_ -= eta_ * (-std::log2(c[static_cast<size_t>(c.selected)].p) - tau_);
    return Status::Ok();
  }
  void reset() override {
    mu_ = 2.0f * tau_;
    rng_.reset();
  }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<MirostatV2>(*this); }
  float mu() const { return mu_; }

 private:
  Rng rng_;
  float tau_, eta_;
  float mu_;
};

}  // namespace

std::optional<float> mirostat_mu(const Sampler& sampler) {
  if (auto* v1 = dynamic_cast<const MirostatV1*>(&sampler)) return v1->mu();
  if (auto* v2 = dynamic_cast<const MirostatV2*>(&sampler)) return v2->mu();
  return std::nullopt;
}

std::unique_ptr<Sampler> make_mirostat(int32_t n_vocab, uint32_t seed, float tau, float eta,
                                       int32_t m) {
  return std::make_unique<MirostatV1>(n_vocab, seed, tau, eta, m);
}

std::unique_ptr<Sampler> make_mirostat_v2(uint32_t seed, float tau, float eta) {
  return std::make_unique<MirostatV2>(seed, tau, eta);
}

}  // namespace ember::sampling
