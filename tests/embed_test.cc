// Embeddings and reranking against llama.cpp's outputs (../shared/testdata/embed: tiny
// random-weight bert / nomic-bert / qwen3 embedders and rerankers, 8 inputs each). Tolerances from
// the testdata README: token ids equal; cosine >= 0.9999 (f32) / 0.999 (quantized) for pooled
// vectors and per-token rows; rerank scores within 0.02 * max(1, |ref|).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ember/engine.h"
#include "testdata.h"

namespace ember {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

double cosine(const float* a, const std::vector<double>& b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) {
    ab += a[i] * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<double> bd(b.begin(), b.end());
  return cosine(a.data(), bd, a.size());
}

struct Case {
  std::string name;
  json j;
  std::filesystem::path model;
  bool quantized;
  bool rerank;
  double tol() const { return quantized ? 0.999 : 0.9999; }
};

std::vector<Case> cases(const std::filesystem::path& dir) {
  std::vector<Case> out;
  const auto exp_dir = dir / "embed" / "expected";
  if (!std::filesystem::is_directory(exp_dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(exp_dir)) {
    if (e.path().extension() != ".json") continue;
    Case c;
    c.name = e.path().stem().string();
    c.j = read_json(e.path());
    c.model = dir / "embed" / "models" / c.j.at("model").get<std::string>();
    c.quantized = c.name.find("f32") == std::string::npos;
    c.rerank = c.j.at("pooling").get<std::string>() == "rank";
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Case& a, const Case& b) { return a.name < b.name; });
  return out;
}

std::unique_ptr<Engine> load(const Case& c, int threads) {
  EngineOptions o;
  o.n_ctx = 2048;
  o.n_threads = threads;
  auto e = Engine::load(c.model.string(), o);
  EXPECT_TRUE(e.ok()) << c.name << ": " << e.status().to_string();
  return e.ok() ? std::move(e).value() : nullptr;
}

TEST(Embed, EveryModelAndInputMatchesTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::vector<Case> all = cases(dir);
  if (all.empty()) GTEST_SKIP() << "no embed/expected in " << dir;
  EXPECT_EQ(all.size(), 10u);
  for (const Case& c : all) {
    SCOPED_TRACE(c.name);
    auto engine = load(c, 2);
    ASSERT_NE(engine, nullptr);
    const json& inputs = c.j.at("inputs");
    double worst = 1.0;  // lowest cosine, or largest relative score error for rerankers
    if (!c.rerank) {
      std::vector<std::string> texts;
      for (const json& in : inputs) {
        texts.push_back(in.at("text").get<std::string>());
        // Token ids as llama-server's /embeddings tokenizes (add_special, parse_special).
        auto ids = engine->tokenize(texts.back(), true, true);
        ASSERT_TRUE(ids.ok());
        EXPECT_EQ(*ids, in.at("tokens").get<std::vector<int32_t>>()) << "input " << texts.back();
      }
      EmbedParams raw;
      raw.normalize = false;
      auto r = engine->embed(texts, raw);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      auto rn = engine->embed(texts);  // normalized (default)
      ASSERT_TRUE(rn.ok()) << rn.status().to_string();
      for (size_t i = 0; i < texts.size(); ++i) {
        const auto ref = inputs[i].at("embedding").get<std::vector<double>>();
        const auto& got = r->data[i].values;
        ASSERT_EQ(got.size(), ref.size());
        const double cs = cosine(got.data(), ref, ref.size());
        worst = std::min(worst, cs);
        EXPECT_GE(cs, c.tol()) << "input " << i;
        // The norm matters too (raw vectors, not just directions).
        double norm = 0;
        for (float v : got) norm += static_cast<double>(v) * v;
        EXPECT_NEAR(std::sqrt(norm), inputs[i].at("l2_norm").get<double>(),
                    0.01 * inputs[i].at("l2_norm").get<double>());
        const auto ref_l2 = inputs[i].at("embedding_l2").get<std::vector<double>>();
        double n2 = 0;
        for (float v : rn->data[i].values) n2 += static_cast<double>(v) * v;
        EXPECT_NEAR(n2, 1.0, 1e-5);
        EXPECT_GE(cosine(rn->data[i].values.data(), ref_l2, ref_l2.size()), c.tol());
        EXPECT_EQ(r->data[i].n_tokens, static_cast<int32_t>(inputs[i].at("tokens").size()));
      }
    } else {
      for (size_t i = 0; i < inputs.size(); ++i) {
        const json& in = inputs[i];
        auto r = engine->rerank(in.at("query").get<std::string>(),
                                {in.at("document").get<std::string>()});
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        const double ref = in.at("score").get<double>();
        EXPECT_NEAR(r->scores[0], ref, 0.02 * std::max(1.0, std::abs(ref))) << "pair " << i;
        worst = std::min(worst, 1.0 - std::abs(r->scores[0] - ref) / std::max(1.0, std::abs(ref)));
        EXPECT_EQ(r->n_tokens[0], static_cast<int32_t>(in.at("tokens").size())) << "pair " << i;
        // The head's full output on the reference's own pair tokens.
        EmbedParams rank;
        rank.pooling = Pooling::kRank;
        auto out = engine->embed_tokens({in.at("tokens").get<std::vector<int32_t>>()}, rank);
        ASSERT_TRUE(out.ok()) << out.status().to_string();
        const auto ref_out = in.at("rank_output").get<std::vector<double>>();
        ASSERT_EQ(out->data[0].values.size(), ref_out.size());
        for (size_t k = 0; k < ref_out.size(); ++k) {
          EXPECT_NEAR(out->data[0].values[k], ref_out[k],
                      0.02 * std::max(1.0, std::abs(ref_out[k])));
        }
      }
    }
    // Per-token hidden states (pooling none) of one input.
    const json& te = c.j.at("token_embeddings");
    EmbedParams none;
    none.pooling = Pooling::kNone;
    none.normalize = false;
    auto rows = engine->embed_tokens({te.at("tokens").get<std::vector<int32_t>>()}, none);
    ASSERT_TRUE(rows.ok()) << rows.status().to_string();
    const int32_t d = rows->data[0].dim;
    const auto positions = te.at("positions").get<std::vector<int32_t>>();
    for (size_t k = 0; k < positions.size(); ++k) {
      const auto ref = te.at("values")[k].get<std::vector<double>>();
      ASSERT_EQ(ref.size(), static_cast<size_t>(d));
      const float* row = rows->data[0].values.data() + static_cast<size_t>(positions[k]) * d;
      const double cs = cosine(row, ref, ref.size());
      worst = std::min(worst, cs);
      EXPECT_GE(cs, c.tol()) << "position " << positions[k];
    }
    std::printf("[ embed    ] %-20s worst %s %.3g\n", c.name.c_str(),
                c.rerank ? "1 - cos / score error" : "1 - cos", 1.0 - worst);
  }
}

// All inputs in one call (packed passes) = one input per call, within the tolerance; and the
// thread count changes nothing.
TEST(Embed, BatchedEqualsOneAtATimeAndThreadCountsAgree) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::vector<Case> all = cases(dir);
  if (all.empty()) GTEST_SKIP() << "no embed/expected in " << dir;
  for (const Case& c : all) {
    SCOPED_TRACE(c.name);
    auto one = load(c, 1);
    auto two = load(c, 2);
    ASSERT_TRUE(one && two);
    std::vector<std::vector<int32_t>> seqs;
    for (const json& in : c.j.at("inputs"))
      seqs.push_back(in.at("tokens").get<std::vector<int32_t>>());
    EmbedParams p;
    p.pooling = c.rerank ? Pooling::kRank : Pooling::kModel;
    auto batched = two->embed_tokens(seqs, p);
    ASSERT_TRUE(batched.ok()) << batched.status().to_string();
    auto batched1 = one->embed_tokens(seqs, p);
    ASSERT_TRUE(batched1.ok());
    for (size_t i = 0; i < seqs.size(); ++i) {
      // Bit-identical for 1 and 2 threads.
      EXPECT_EQ(batched->data[i].values, batched1->data[i].values) << "input " << i;
      auto single = two->embed_tokens({seqs[i]}, p);
      ASSERT_TRUE(single.ok());
      if (c.rerank) {
        EXPECT_NEAR(single->data[0].values[0], batched->data[i].values[0], 0.007) << i;
      } else {
        EXPECT_GE(cosine(single->data[0].values, batched->data[i].values), 1.0 - 2e-4) << i;
      }
    }
  }
}

TEST(Embed, OptionsAndErrors) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "embed" / "models" / "bert-cls-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  EngineOptions o;
  o.n_ctx = 64;
  o.n_threads = 2;
  auto e = Engine::load(model.string(), o);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  Engine& engine = **e;
  EXPECT_EQ(engine.pooling(), Pooling::kCls);
  EXPECT_EQ(engine.n_embd(), 128);
  // Matryoshka: the first 32 values of the raw vector, renormalized.
  EmbedParams raw;
  raw.normalize = false;
  auto full = engine.embed({"hello world"}, raw);
  ASSERT_TRUE(full.ok());
  EmbedParams dims;
  dims.dimensions = 32;
  auto cut = engine.embed({"hello world"}, dims);
  ASSERT_TRUE(cut.ok());
  ASSERT_EQ(cut->data[0].values.size(), 32u);
  std::vector<float> head(full->data[0].values.begin(), full->data[0].values.begin() + 32);
  EXPECT_NEAR(cosine(cut->data[0].values, head), 1.0, 1e-6);
  // Mean pooling override differs from CLS.
  EmbedParams mean;
  mean.pooling = Pooling::kMean;
  auto m = engine.embed({"hello world"}, mean);
  ASSERT_TRUE(m.ok());
  EXPECT_LT(cosine(m->data[0].values, full->data[0].values), 0.9999);

  // Errors.
  EXPECT_FALSE(engine.embed({}).ok());
  EmbedParams too_wide;
  too_wide.dimensions = 129;
  EXPECT_FALSE(engine.embed({"x"}, too_wide).ok());
  EXPECT_FALSE(engine.embed_tokens({{2, 5000, 3}}).ok());
  EXPECT_FALSE(engine.embed_tokens({{}}).ok());
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "the fox ";
  auto too_long = engine.embed({long_text});
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("64"), std::string::npos)
      << too_long.status().to_string();
  EmbedParams trunc;
  trunc.truncate = true;
  auto cut_long = engine.embed({long_text}, trunc);
  ASSERT_TRUE(cut_long.ok()) << cut_long.status().to_string();
  EXPECT_TRUE(cut_long->data[0].truncated);
  EXPECT_EQ(cut_long->data[0].n_tokens, 64);
  EXPECT_FALSE(engine.rerank("q", {"d"}).ok());  // not a reranker
  EmbedParams rank;
  rank.pooling = Pooling::kRank;
  EXPECT_FALSE(engine.embed({"x"}, rank).ok());  // no classification head
  GenerationParams gp;
  gp.max_tokens = 1;
  EXPECT_FALSE(engine.generate("hi", gp).ok());  // encoders cannot generate
}

}  // namespace
}  // namespace ember
