// The C API's embeddings and reranking (include/ember/ember.h) against the reference outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ember/ember.h"
#include "testdata.h"

namespace {

nlohmann::json expected(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream f(dir / "embed" / "expected" / (name + ".json"));
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str());
}

ember_engine* load(const std::filesystem::path& model) {
  ember_engine_options o;
  ember_engine_options_init(&o);
  o.n_threads = 2;
  ember_engine* e = nullptr;
  EXPECT_EQ(ember_engine_load(model.string().c_str(), &o, &e), EMBER_OK) << ember_last_error();
  return e;
}

TEST(EmbedCApi, EmbedAndRerankMatchTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "embed" / "models" / "nomic-bert-f32.gguf";
  const auto reranker = dir / "embed" / "models" / "qwen3-rerank-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  const auto ref = expected(dir, "nomic-bert-f32");
  ember_engine* e = load(model);
  ASSERT_NE(e, nullptr);
  const std::string t0 = ref["inputs"][0]["text"], t1 = ref["inputs"][2]["text"];
  const char* inputs[] = {t0.c_str(), t1.c_str()};
  ember_embed_params p;
  ember_embed_params_init(&p);
  p.normalize = 0;
  ember_embeddings* out = nullptr;
  ASSERT_EQ(ember_embed(e, inputs, 2, &p, &out), EMBER_OK) << ember_last_error();
  ASSERT_EQ(ember_embeddings_count(out), 2u);
  EXPECT_EQ(ember_embeddings_dim(out), 128);
  for (size_t i = 0; i < 2; ++i) {
    size_t n = 0;
    const float* v = ember_embeddings_vector(out, i, &n);
    ASSERT_EQ(n, 128u);
    const auto r = ref["inputs"][i == 0 ? 0 : 2]["embedding"].get<std::vector<double>>();
    double ab = 0, aa = 0, bb = 0;
    for (size_t k = 0; k < n; ++k) {
      ab += v[k] * r[k];
      aa += static_cast<double>(v[k]) * v[k];
      bb += r[k] * r[k];
    }
    EXPECT_GE(ab / std::sqrt(aa * bb), 0.9999);
  }
  EXPECT_EQ(ember_embeddings_vector(out, 2, nullptr), nullptr);
  EXPECT_GT(ember_embeddings_total_tokens(out), 0);
  ember_embeddings_free(out);
  // Errors: not a reranker; bad pooling; null pointers.
  float score = 0;
  const char* docs[] = {"d"};
  EXPECT_NE(ember_rerank(e, "q", docs, 1, 0, &score, nullptr), EMBER_OK);
  p.pooling = 9;
  EXPECT_EQ(ember_embed(e, inputs, 2, &p, &out), EMBER_INVALID_ARGUMENT);
  EXPECT_EQ(ember_embed(e, nullptr, 2, nullptr, &out), EMBER_INVALID_ARGUMENT);
  ember_engine_free(e);

  const auto rref = expected(dir, "qwen3-rerank-f32");
  ember_engine* r = load(reranker);
  ASSERT_NE(r, nullptr);
  const std::string q = rref["inputs"][0]["query"];
  const std::string d0 = rref["inputs"][0]["document"], d1 = rref["inputs"][1]["document"];
  const char* rdocs[] = {d0.c_str(), d1.c_str()};
  float scores[2] = {};
  int64_t tokens = 0;
  ASSERT_EQ(ember_rerank(r, q.c_str(), rdocs, 2, 0, scores, &tokens), EMBER_OK)
      << ember_last_error();
  for (int i = 0; i < 2; ++i) {
    const double s = rref["inputs"][i]["score"];
    EXPECT_NEAR(scores[i], s, 0.02 * std::max(1.0, std::abs(s)));
  }
  EXPECT_EQ(tokens, static_cast<int64_t>(rref["inputs"][0]["tokens"].size() +
                                         rref["inputs"][1]["tokens"].size()));
  ember_engine_free(r);
}

}  // namespace
