// Sampler tests on fixed logits. Expected candidate sets and values are worked out by hand from
// each algorithm's definition (see the comments), not taken from ember's output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "sampling/chain.h"
#include "sampling/sampler.h"

namespace ember::sampling {
namespace {

std::vector<float> logits_of(std::vector<double> probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::set<int32_t> ids_after(Sampler& s, const std::vector<float>& logits) {
  Candidates c;
  c.assign(logits);
  EXPECT_TRUE(s.apply(c).ok());
  std::set<int32_t> ids;
  for (const auto& cand : c.items()) ids.insert(cand.id);
  return ids;
}

TEST(Sampling, TopKKeepsTheKHighest) {
  const std::vector<float> logits = {1, 5, 3, 2, 4};
  EXPECT_EQ(ids_after(*make_top_k(2), logits), (std::set<int32_t>{1, 4}));
  EXPECT_EQ(ids_after(*make_top_k(0), logits).size(), 5u);   // off
  EXPECT_EQ(ids_after(*make_top_k(99), logits).size(), 5u);  // larger than the set
}

TEST(Sampling, TopKFromALazyRowEqualsAFullSort) {
  // keep_top on a lazily assigned row picks from the row directly (candidates.h); the expected
  // set is the definition: the row sorted by logit, highest first, ties by lower id (a stable
  // sort of the ids by descending logit), cut to k. Rows with many ties, -inf and NaN-free.
  std::mt19937 rng(7);
  for (size_t n : {1u, 5u, 17u, 100u, 1000u, 4099u}) {
    for (int kind = 0; kind < 3; ++kind) {
      std::vector<float> row(n);
      for (float& v : row) {
        if (kind == 0) v = static_cast<float>(rng() % 8);  // heavy ties
        if (kind == 1) v = std::normal_distribution<float>(0.0f, 3.0f)(rng);
        if (kind == 2) {
          v = rng() % 3 == 0 ? -std::numeric_limits<float>::infinity()
                             : static_cast<float>(static_cast<int>(rng() % 64) - 32) * 0.25f;
        }
      }
      if (kind == 1 && n > 40) {
        // Ascending logits: every token beats the k-th best so far (the worst case).
        std::sort(row.begin(), row.end());
      }
      std::vector<int32_t> order(n);
      for (size_t i = 0; i < n; ++i) order[i] = static_cast<int32_t>(i);
      std::stable_sort(order.begin(), order.end(),
                       [&](int32_t a, int32_t b) { return row[a] > row[b]; });
      for (size_t k : {size_t{1}, size_t{2}, size_t{3}, size_t{16}, size_t{40}, n - 1, n, n + 1}) {
        if (k == 0) continue;
        Candidates c;
        c.assign_lazy(row);
        EXPECT_EQ(c.size(), n);
        c.keep_top(std::min(k, n));
        const size_t want = std::min(k, n);
        ASSERT_EQ(c.size(), want) << n << " " << k;
        EXPECT_TRUE(c.sorted());
        for (size_t i = 0; i < want; ++i) {
          EXPECT_EQ(c[i].id, order[i]) << "n " << n << " kind " << kind << " k " << k << " i " << i;
          EXPECT_EQ(c[i].logit, row[static_cast<size_t>(order[i])]);
        }
      }
      // Without keep_top first, a lazy row reads as assign() would.
      Candidates lazy, eager;
      lazy.assign_lazy(row);
      eager.assign(row);
      ASSERT_EQ(lazy.items().size(), n);
      EXPECT_TRUE(lazy.id_indexed());
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(lazy[i].id, eager[i].id);
        EXPECT_EQ(lazy[i].logit, eager[i].logit);
      }
    }
  }
}

TEST(Sampling, TopPKeepsTheSmallestNucleus) {
  const auto logits = logits_of({0.5, 0.2, 0.15, 0.1, 0.05});
  // Cumulative: 0.5, 0.7, 0.85, 0.95, 1.0.
  EXPECT_EQ(ids_after(*make_top_p(0.65f), logits), (std::set<int32_t>{0, 1}));
  EXPECT_EQ(ids_after(*make_top_p(0.8f), logits), (std::set<int32_t>{0, 1, 2}));
  EXPECT_EQ(ids_after(*make_top_p(0.3f), logits), (std::set<int32_t>{0}));
  EXPECT_EQ(ids_after(*make_top_p(1.0f), logits).size(), 5u);
}

TEST(Sampling, MinPKeepsTokensAboveAFractionOfTheBest) {
  const auto logits = logits_of({0.5, 0.2, 0.15, 0.1, 0.05});
  // 0.25 * 0.5 = 0.125: keeps 0.5, 0.2, 0.15.
  EXPECT_EQ(ids_after(*make_min_p(0.25f), logits), (std::set<int32_t>{0, 1, 2}));
  // 0.5 * 0.5 = 0.25: keeps only 0.5.
  EXPECT_EQ(ids_after(*make_min_p(0.5f), logits), (std::set<int32_t>{0}));
  EXPECT_EQ(ids_after(*make_min_p(0.0f), logits).size(), 5u);
}

TEST(Sampling, TypicalKeepsTokensClosestToTheEntropy) {
  // p = 0.4, 0.3, 0.2, 0.1: entropy H = 1.2799 nats; surprises -ln p = 0.916, 1.204, 1.609,
  // 2.303; |surprise - H| = 0.364, 0.076, 0.329, 1.023, so the typical order is ids 1, 2, 0, 3
  // with cumulative mass 0.3, 0.5, 0.9, 1.0.
  const auto logits = logits_of({0.4, 0.3, 0.2, 0.1});
  EXPECT_EQ(ids_after(*make_typical(0.45f), logits), (std::set<int32_t>{1, 2}));
  EXPECT_EQ(ids_after(*make_typical(0.6f), logits), (std::set<int32_t>{0, 1, 2}));
  EXPECT_EQ(ids_after(*make_typical(0.2f), logits), (std::set<int32_t>{1}));
  EXPECT_EQ(ids_after(*make_typical(1.0f), logits).size(), 4u);
}

TEST(Sampling, TemperatureScalesLogitsAndZeroIsGreedy) {
  Candidates c;
  c.assign(std::vector<float>{1.0f, -2.0f, 4.0f});
  ASSERT_TRUE(make_temperature(0.5f)->apply(c).ok());
  EXPECT_FLOAT_EQ(c[0].logit, 2.0f);
  EXPECT_FLOAT_EQ(c[1].logit, -4.0f);
  EXPECT_FLOAT_EQ(c[2].logit, 8.0f);

  c.assign(std::vector<float>{1.0f, -2.0f, 4.0f});
  ASSERT_TRUE(make_temperature(0.0f)->apply(c).ok());
  c.softmax();
  EXPECT_EQ(c[0].id, 2);
  EXPECT_FLOAT_EQ(c[0].p, 1.0f);
  EXPECT_EQ(c[1].p, 0.0f);
}

TEST(Sampling, PenaltiesChangeExactlyTheTokensInTheWindow) {
  auto s = make_penalties(/*window=*/3, /*repeat=*/2.0f, /*frequency=*/0.5f, /*presence=*/0.25f);
  for (int32_t t : {1, 1, 2}) s->accept(t);
  Candidates c;
  c.assign(std::vector<float>{1.0f, 2.0f, -1.0f, 0.5f});
  ASSERT_TRUE(s->apply(c).ok());
  EXPECT_FLOAT_EQ(c[0].logit, 1.0f);    // not in the window
  EXPECT_FLOAT_EQ(c[1].logit, -0.25f);  // 2 / 2 - (2 * 0.5 + 0.25)
  EXPECT_FLOAT_EQ(c[2].logit, -2.75f);  // -1 * 2 - (1 * 0.5 + 0.25)
  EXPECT_FLOAT_EQ(c[3].logit, 0.5f);

  // Three more tokens push 1 and 2 out of the window.
  for (int32_t t : {3, 3, 3}) s->accept(t);
  c.assign(std::vector<float>{1.0f, 2.0f, -1.0f, 0.5f});
  ASSERT_TRUE(s->apply(c).ok());
  EXPECT_FLOAT_EQ(c[1].logit, 2.0f);
  EXPECT_FLOAT_EQ(c[2].logit, -1.0f);
  EXPECT_FLOAT_EQ(c[3].logit, 0.5f / 2.0f - (3 * 0.5f + 0.25f));

  s->reset();
  c.assign(std::vector<float>{1.0f, 2.0f, -1.0f, 0.5f});
  ASSERT_TRUE(s->apply(c).ok());
  EXPECT_FLOAT_EQ(c[3].logit, 0.5f);
}

TEST(Sampling, LogitBiasAddsAndBans) {
  Candidates c;
  c.assign(std::vector<float>{1.0f, 2.0f, 3.0f});
  auto bias = make_logit_bias({{2, -std::numeric_limits<float>::infinity()}, {0, 1.5f}});
  ASSERT_TRUE(bias->apply(c).ok());
  EXPECT_FLOAT_EQ(c[0].logit, 2.5f);
  EXPECT_TRUE(std::isinf(c[2].logit));
  ASSERT_TRUE(make_greedy()->apply(c).ok());
  EXPECT_EQ(c[static_cast<size_t>(c.selected)].id, 0);
}

// Chi-square goodness of fit of sampled frequencies against the expected distribution.
double chi_square(const std::vector<int>& counts, const std::vector<double>& expected_p, int n) {
  double chi = 0.0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double e = expected_p[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

TEST(Sampling, DistributionMatchesSoftmaxFrequencies) {
  const std::vector<double> probs = {0.5, 0.25, 0.15, 0.1};
  const auto logits = logits_of(probs);
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.seed = 1234;
  auto chain = SamplerChain::from_params(params, 4, 16);
  ASSERT_TRUE(chain.ok()) << chain.status().to_string();
  const int n = 20000;
  std::vector<int> counts(4, 0);
  for (int i = 0; i < n; ++i) {
    auto t = chain->sample(logits);
    ASSERT_TRUE(t.ok());
    ++counts[static_cast<size_t>(*t)];
  }
  // 3 degrees of freedom: P(chi2 > 16.27) = 0.001.
  EXPECT_LT(chi_square(counts, probs, n), 16.27);
}

TEST(Sampling, TopKThenDistributionRenormalizes) {
  const auto logits = logits_of({0.5, 0.25, 0.15, 0.1});
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_k = 2;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.seed = 99;
  auto chain = SamplerChain::from_params(params, 4, 16);
  ASSERT_TRUE(chain.ok());
  const int n = 20000;
  std::vector<int> counts(2, 0);
  for (int i = 0; i < n; ++i) {
    auto t = chain->sample(logits);
    ASSERT_TRUE(t.ok());
    ASSERT_LT(*t, 2) << "top_k = 2 must never yield token " << *t;
    ++counts[static_cast<size_t>(*t)];
  }
  // 1 degree of freedom: P(chi2 > 10.83) = 0.001. Renormalized: 2/3 and 1/3.
  EXPECT_LT(chi_square(counts, {2.0 / 3.0, 1.0 / 3.0}, n), 10.83);
}

TEST(Sampling, TemperatureSharpensTheDistribution) {
  // Temperature 0.5 squares the probabilities before renormalizing: 0.6^2 : 0.4^2 = 9 : 4.
  const auto logits = logits_of({0.6, 0.4});
  SamplingParams params;
  params.temperature = 0.5f;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.seed = 7;
  auto chain = SamplerChain::from_params(params, 2, 16);
  ASSERT_TRUE(chain.ok());
  const int n = 20000;
  std::vector<int> counts(2, 0);
  for (int i = 0; i < n; ++i) ++counts[static_cast<size_t>(*chain->sample(logits))];
  EXPECT_LT(chi_square(counts, {9.0 / 13.0, 4.0 / 13.0}, n), 10.83);
}

TEST(Sampling, GreedyChainIgnoresTheSeed) {
  SamplingParams params;
  params.temperature = 0.0f;
  for (uint32_t seed : {1u, 2u, kRandomSeed}) {
    params.seed = seed;
    auto chain = SamplerChain::from_params(params, 5, 16);
    ASSERT_TRUE(chain.ok());
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(*chain->sample(std::vector<float>{0.1f, 0.3f, 2.0f, 1.9f, -1.0f}), 2);
    }
  }
}

TEST(Sampling, SameSeedSameTokensAndCloneContinues) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_k = 0;
  params.seed = 42;
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(float(i));
  auto a = SamplerChain::from_params(params, 50, 64);
  auto b = SamplerChain::from_params(params, 50, 64);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<int32_t> seq_a, seq_b;
  for (int i = 0; i < 20; ++i) {
    seq_a.push_back(*a->sample(logits));
    seq_b.push_back(*b->sample(logits));
  }
  EXPECT_EQ(seq_a, seq_b);
  SamplerChain c = a->clone();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(*a->sample(logits), *c.sample(logits));
  a->reset();
  std::vector<int32_t> again;
  for (int i = 0; i < 20; ++i) again.push_back(*a->sample(logits));
  EXPECT_EQ(again, seq_a);
}

TEST(Sampling, MirostatV2UpdatesMuAsSpecified) {
  // tau = 0.5: mu starts at 2 * tau = 1, so only tokens with -log2 p <= 1 (p >= 0.5) survive:
  // token 0 (p = 0.5). Renormalized it has p = 1, surprise 0, so mu <- 1 - eta * (0 - 0.5).
  auto s = make_mirostat_v2(/*seed=*/5, /*tau=*/0.5f, /*eta=*/0.2f);
  const auto logits = logits_of({0.5, 0.25, 0.15, 0.1});
  Candidates c;
  c.assign(logits);
  ASSERT_TRUE(s->apply(c).ok());
  EXPECT_EQ(c[static_cast<size_t>(c.selected)].id, 0);
  EXPECT_FLOAT_EQ(*mirostat_mu(*s), 1.0f + 0.2f * 0.5f);

  // tau = 5: mu = 10 keeps every token; the chosen token's surprise is -log2 of its original p.
  auto wide = make_mirostat_v2(5, 5.0f, 0.1f);
  c.assign(logits);
  ASSERT_TRUE(wide->apply(c).ok());
  const double p = std::vector<double>{
      0.5, 0.25, 0.15, 0.1}[static_cast<size_t>(c[static_cast<size_t>(c.selected)].id)];
  EXPECT_NEAR(*mirostat_mu(*wide), 10.0 - 0.1 * (-std::log2(p) - 5.0), 1e-5);
  wide->reset();
  EXPECT_FLOAT_EQ(*mirostat_mu(*wide), 10.0f);
}

TEST(Sampling, MirostatV1UpdatesMuFromTheKeptSet) {
  auto s = make_mirostat(/*n_vocab=*/8, /*seed=*/3, /*tau=*/3.0f, /*eta=*/0.1f);
  const auto logits = logits_of({0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02});
  float mu = 6.0f;
  Candidates c;
  for (int step = 0; step < 5; ++step) {
    c.assign(logits);
    ASSERT_TRUE(s->apply(c).ok());
    // The kept set is renormalized; mu moves by eta times the surprise error of the choice.
    double total = 0.0;
    for (const auto& cand : c.items()) total += cand.p;
    EXPECT_NEAR(total, 1.0, 1e-5);
    mu -= 0.1f * (-std::log2(c[static_cast<size_t>(c.selected)].p) - 3.0f);
    EXPECT_NEAR(*mirostat_mu(*s), mu, 1e-4);
  }
  EXPECT_FALSE(mirostat_mu(*make_greedy()).has_value());
}

TEST(Sampling, InvalidParametersAreRejected) {
  auto bad = [](auto edit) {
    SamplingParams p;
    edit(p);
    return !p.validate(100).ok();
  };
  EXPECT_TRUE(bad([](SamplingParams& p) { p.temperature = NAN; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.temperature = -1; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.top_k = -1; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.top_p = 1.5f; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.min_p = -0.1f; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.typical_p = NAN; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.repeat_penalty = 0; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.repeat_last_n = -2; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.frequency_penalty = INFINITY; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.mirostat = 3; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.mirostat_eta = -1; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.logit_bias[100] = 1; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.logit_bias[-1] = 1; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.logit_bias[3] = NAN; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.order = {SamplerKind::kTopK, SamplerKind::kTopK}; }));
  EXPECT_TRUE(bad([](SamplingParams& p) { p.n_probs = -1; }));
  EXPECT_FALSE(bad([](SamplingParams& p) { p.logit_bias[3] = -INFINITY; }));
  EXPECT_FALSE(bad([](SamplingParams&) {}));
  EXPECT_FALSE(SamplerChain::from_params(SamplingParams{}, 0, 16).ok());
}

TEST(Sampling, SamplerNamesRoundTrip) {
  for (SamplerKind k : default_sampler_order()) {
    auto parsed = sampler_kind_from_name(sampler_kind_name(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_EQ(*sampler_kind_from_name("TEMP"), SamplerKind::kTemperature);
  EXPECT_FALSE(sampler_kind_from_name("xtc").ok());
}

TEST(Sampling, AllBannedIsAnError) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.logit_bias = {{0, -INFINITY}, {1, -INFINITY}};
  auto chain = SamplerChain::from_params(params, 2, 16);
  ASSERT_TRUE(chain.ok());
  auto t = chain->sample(std::vector<float>{1.0f, 2.0f});
  EXPECT_FALSE(t.ok());
  EXPECT_FALSE(chain->sample(std::vector<float>{1.0f}).ok());  // wrong row size
}

TEST(Sampling, TopProbabilities) {
  const auto logits = logits_of({0.1, 0.6, 0.3});
  auto top = top_probabilities(logits, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, 1);
  EXPECT_NEAR(top[0].second, 0.6, 1e-6);
  EXPECT_EQ(top[1].first, 2);
  EXPECT_NEAR(top[1].second, 0.3, 1e-6);
}

}  // namespace
}  // namespace ember::sampling
