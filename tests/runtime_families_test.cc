// The 2026 families (../shared/testdata/families) under the runtime's determinism contract: with a
// fixed attention algorithm, a prompt evaluated as one batch, token by token and in ubatches of 7
// gives bit-identical logits (per-layer shapes, shared-KV layers, per-layer embeddings, sinks,
// every MoE routing and lfm2's recurrent short-convolution state included), two sequences decoded
// together match each decoded alone, and
// decoding with attention spans split over threads matches one batch; the batch agreement holds
// in the reference numerics mode too.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/context.h"
#include "testdata.h"

namespace ember {
namespace {

using runtime::AttentionMode;
using runtime::Batch;
using runtime::Context;
using runtime::ContextParams;
using runtime::Model;

const char* const kFamilyModels[] = {"gemma4-q8_0",  "gemma4moe-q4_k_m", "gpt-oss-mxfp4_moe",
                                     "glm4moe-q8_0", "llama4-q8_0",      "mistral3-q8_0",
                                     "smollm3-q8_0", "granite-f16",      "deepseek2-q8_0", "lfm2-q8_0",
                                     "qwen35-q8_0",  "qwen35moe-q4_k_m"};

std::vector<int32_t> prompt(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream in(dir / "families" / "golden" / (name + ".json"));
  return nlohmann::json::parse(in).at("prompt_tokens").get<std::vector<int32_t>>();
}

std::vector<float> run(Context& ctx, const std::vector<int32_t>& toks, size_t step, int32_t seq) {
  std::vector<float> out;
  for (size_t i = 0; i < toks.size(); i += step) {
    Batch b;
    for (size_t j = i; j < std::min(toks.size(), i + step); ++j) {
      b.add(toks[j], static_cast<int32_t>(j), seq, true);
    }
    const Status st = ctx.decode(b);
    EXPECT_TRUE(st.ok()) << st.to_string();
    if (!st.ok()) return {};
    out.insert(out.end(), ctx.logits(0), ctx.logits(0) + b.size() * ctx.n_vocab());
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(RuntimeFamilies, BatchTokenByTokenAndUbatchesAgreeBitForBit) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kFamilyModels) {
    SCOPED_TRACE(name);
    auto model =
        Model::load((dir / "families" / "models" / (std::string(name) + ".gguf")).string());
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    auto toks = prompt(dir, std::string(name) + ".p2");
    toks.resize(std::min<size_t>(toks.size(), 80));  // past the sliding windows and a tile
    for (AttentionMode mode : {AttentionMode::kPerKey, AttentionMode::kTiled}) {
      ContextParams p;
      p.n_ctx = 256;
      p.n_threads = 2;
      p.attention = mode;
      auto a = Context::create(**model, p);
      auto b = Context::create(**model, p);
      p.n_ubatch = 7;
      auto c = Context::create(**model, p);
      ASSERT_TRUE(a.ok() && b.ok() && c.ok());
      const auto batch = run(**a, toks, toks.size(), 0);
      EXPECT_TRUE(same_bits(batch, run(**b, toks, 1, 0))) << "token by token, mode " << int(mode);
      EXPECT_TRUE(same_bits(batch, run(**c, toks, toks.size(), 0)))
          << "ubatch 7, mode " << int(mode);
    }
  }
}

// The same in the reference numerics mode (Q8_0 products in the reference's summation order,
// read in place): a row's product must not depend on how many tokens share its batch. The Q8_0
// models with the most different paths (per-layer embeddings and shared KV, MoE with sinks,
// latent attention) and the MXFP4 experts.
TEST(RuntimeFamilies, ReferenceNumericsBatchTokenByTokenAndUbatchesAgreeBitForBit) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : {"gemma4-q8_0", "gpt-oss-q8_0", "deepseek2-q8_0", "gpt-oss-mxfp4_moe"}) {
    SCOPED_TRACE(name);
    runtime::ModelLoadOptions lo;
    lo.numerics = Numerics::kReference;
    auto model =
        Model::load((dir / "families" / "models" / (std::string(name) + ".gguf")).string(), lo);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    auto toks = prompt(dir, std::string(name) + ".p2");
    toks.resize(std::min<size_t>(toks.size(), 80));
    ContextParams p;
    p.n_ctx = 256;
    p.n_threads = 2;
    p.attention = AttentionMode::kTiled;
    auto a = Context::create(**model, p);
    auto b = Context::create(**model, p);
    p.n_ubatch = 7;
    auto c = Context::create(**model, p);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    const auto batch = run(**a, toks, toks.size(), 0);
    EXPECT_TRUE(same_bits(batch, run(**b, toks, 1, 0))) << "token by token";
    EXPECT_TRUE(same_bits(batch, run(**c, toks, toks.size(), 0))) << "ubatch 7";
  }
}

// deepseek2-q8_0 caches [latent 64 | RoPE key 16] per cell: not a whole number of Q8_0 blocks,
// so a Q8_0 cache is refused with a message rather than run.
TEST(RuntimeFamilies, LatentAttentionRefusesQ8CacheOfOddRows) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = Model::load((dir / "families" / "models" / "deepseek2-q8_0.gguf").string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  ContextParams p;
  p.n_ctx = 64;
  p.kv_type = kernels::KvType::kQ8_0;
  auto ctx = Context::create(**model, p);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("multiples of 32"), std::string::npos)
      << ctx.status().to_string();
}

TEST(RuntimeFamilies, SequencesDecodedTogetherMatchEachAlone) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kFamilyModels) {
    SCOPED_TRACE(name);
    auto model =
        Model::load((dir / "families" / "models" / (std::string(name) + ".gguf")).string());
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    const auto a_toks = prompt(dir, std::string(name) + ".p1");
    auto b_toks = prompt(dir, std::string(name) + ".p2");
    b_toks.resize(40);
    ContextParams p;
    p.n_ctx = 256;
    p.attention = AttentionMode::kPerKey;
    auto solo = Context::create(**model, p);
    ASSERT_TRUE(solo.ok());
    const auto want_a = run(**solo, a_toks, a_toks.size(), 0);
    (*solo)->clear();
    const auto want_b = run(**solo, b_toks, b_toks.size(), 0);

    p.n_seq_max = 2;
    auto shared = Context::create(**model, p);
    ASSERT_TRUE(shared.ok());
    Batch batch;
    std::vector<std::pair<int, size_t>> order;
    for (size_t i = 0; i < std::max(a_toks.size(), b_toks.size()); ++i) {
      if (i < b_toks.size()) {
        batch.add(b_toks[i], static_cast<int32_t>(i), 1, true);
        order.push_back({1, i});
      }
      if (i < a_toks.size()) {
        batch.add(a_toks[i], static_cast<int32_t>(i), 0, true);
        order.push_back({0, i});
      }
    }
    ASSERT_TRUE((*shared)->decode(batch).ok());
    const int64_t nv = (*shared)->n_vocab();
    std::vector<float> got_a(want_a.size()), got_b(want_b.size());
    for (size_t o = 0; o < order.size(); ++o) {
      auto& dst = order[o].first == 0 ? got_a : got_b;
      std::memcpy(dst.data() + order[o].second * nv, (*shared)->logits(static_cast<int64_t>(o)),
                  static_cast<size_t>(nv) * sizeof(float));
    }
    EXPECT_TRUE(same_bits(want_a, got_a)) << "sequence 0";
    EXPECT_TRUE(same_bits(want_b, got_b)) << "sequence 1";
  }
}

// Beyond one 512-cell attention span, with the tiled algorithm: decoding token by token (each
// row's spans spread over the threads and folded by whichever thread finishes last) gives the
// bits of one big batch, on 1 and 3 threads. gpt-oss: attention sinks (joined once, after the
// last span) and sliding-window layers whose early spans see nothing; gemma4: shared-KV layers
// and per-layer head sizes (the span partials sized for the largest layer).
TEST(RuntimeFamilies, SpanSplitDecodingEqualsOneBatch) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : {"gpt-oss-mxfp4_moe", "gemma4-q8_0"}) {
    SCOPED_TRACE(name);
    auto model =
        Model::load((dir / "families" / "models" / (std::string(name) + ".gguf")).string());
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    const int n = 1100, tail = 6, head = n - tail;
    const int64_t nv = (*model)->hparams().n_vocab;
    std::vector<int32_t> toks(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
      toks[static_cast<size_t>(i)] = static_cast<int32_t>(3 + (i * 7919) % (nv - 3));
    ContextParams p;
    p.n_ctx = n + 64;
    p.attention = AttentionMode::kTiled;
    p.n_threads = 2;
    auto ref_ctx = Context::create(**model, p);
    ASSERT_TRUE(ref_ctx.ok()) << ref_ctx.status().to_string();
    Batch all;
    for (int i = 0; i < n; ++i) all.add(toks[static_cast<size_t>(i)], i, 0, i >= head);
    ASSERT_TRUE((*ref_ctx)->decode(all).ok());
    const std::vector<float> ref((*ref_ctx)->logits(0), (*ref_ctx)->logits(0) + tail * nv);
    for (int threads : {1, 3}) {
      p.n_threads = threads;
      auto ctx = Context::create(**model, p);
      ASSERT_TRUE(ctx.ok());
      Batch pre;
      for (int i = 0; i < head; ++i) pre.add(toks[static_cast<size_t>(i)], i, 0, false);
      ASSERT_TRUE((*ctx)->decode(pre).ok());
      for (int i = head; i < n; ++i) {
        Batch b;
        b.add(toks[static_cast<size_t>(i)], i, 0, true);
        ASSERT_TRUE((*ctx)->decode(b).ok());
        ASSERT_EQ(std::memcmp((*ctx)->logits(0), ref.data() + (i - head) * nv, nv * 4), 0)
            << threads << " threads, position " << i;
      }
    }
  }
}

}  // namespace
}  // namespace ember
