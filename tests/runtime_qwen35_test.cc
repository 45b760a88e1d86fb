// qwen35 / qwen35moe (gated delta-net hybrids) on the shared recurrent state
// (runtime/recurrent_state.h): the delta-net layers own state and no cache rows, a whole-sequence
// copy continues exactly like a fresh evaluation, and a last layer that is a delta-net layer runs
// every row but keeps only the output rows, on any ubatch size and thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "interleaved_continuations.h"
#include "model/quant_recipe.h"
#include "model/synth.h"
#include "runtime/context.h"
#include "testdata.h"

namespace ember {
namespace {

using runtime::AttentionMode;
using runtime::Batch;
using runtime::Context;
using runtime::ContextParams;
using runtime::Model;

std::vector<int32_t> prompt(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream in(dir / "families" / "golden" / (name + ".json"));
  return nlohmann::json::parse(in).at("prompt_tokens").get<std::vector<int32_t>>();
}

std::unique_ptr<Context> make_context(const Model& m, int n_seq, int threads = 2,
                                      int64_t n_ubatch = 512) {
  ContextParams p;
  p.n_ctx = 256;
  p.n_seq_max = n_seq;
  p.n_threads = threads;
  p.n_ubatch = n_ubatch;
  p.attention = AttentionMode::kPerKey;
  auto c = Context::create(m, p);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

std::vector<float> eval(Context& ctx, const std::vector<int32_t>& toks, int32_t pos0, int32_t seq) {
  Batch b;
  for (size_t i = 0; i < toks.size(); ++i) b.add(toks[i], pos0 + int32_t(i), seq, true);
  const Status st = ctx.decode(b);
  EXPECT_TRUE(st.ok()) << st.to_string();
  if (!st.ok()) return {};
  return std::vector<float>(ctx.logits(0), ctx.logits(0) + b.size() * ctx.n_vocab());
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return !a.empty() && a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Qwen35, DeltaNetLayersHoldStateAndNoCacheRows) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = Model::load((dir / "families" / "models" / "qwen35-q8_0.gguf").string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const ModelHParams& hp = (*model)->hparams();
  // 4 layers, full_attention_interval 2: delta-net, attention, delta-net, attention; q/k heads
  // 2 x 32, v heads 4 x 32, conv kernel 4 over 2 * 64 + 128 channels.
  ASSERT_EQ(hp.n_layer, 4);
  for (int64_t il = 0; il < 4; ++il) EXPECT_EQ(hp.is_recurrent(il), il % 2 == 0) << il;
  EXPECT_EQ(hp.ssm_conv_channels(), 256);
  EXPECT_EQ(hp.recurrent_conv[0], 3 * 256);
  EXPECT_EQ(hp.recurrent_ssm[0], 4 * 32 * 32);
  auto ctx = make_context(**model, 3);
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(ctx->recurrent_bytes(), size_t{3} * 2 * (3 * 256 + 4 * 32 * 32) * sizeof(float));
  EXPECT_EQ(ctx->kv_cache().k_row_bytes(0), 0u);
  EXPECT_GT(ctx->kv_cache().k_row_bytes(1), 0u);
}

// A prefix evaluated in sequence 0, copied whole to sequence 1, then both continued in one
// interleaved batch: each matches a fresh evaluation of its whole text bit for bit.
TEST(Qwen35, CopiedPrefixContinuesLikeAFreshEvaluation) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : {"qwen35-q8_0", "qwen35moe-q4_k_m"}) {
    SCOPED_TRACE(name);
    auto model =
        Model::load((dir / "families" / "models" / (std::string(name) + ".gguf")).string());
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    const auto p1 = prompt(dir, std::string(name) + ".p1");
    const auto p2 = prompt(dir, std::string(name) + ".p2");
    const size_t n_prefix = 10;
    std::vector<int32_t> prefix(p1.begin(), p1.begin() + n_prefix);
    std::vector<int32_t> tail_a(p1.begin() + n_prefix, p1.end());
    std::vector<int32_t> tail_b(p2.begin(), p2.begin() + 15);
    std::vector<int32_t> text_a = prefix, text_b = prefix;
    text_a.insert(text_a.end(), tail_a.begin(), tail_a.end());
    text_b.insert(text_b.end(), tail_b.begin(), tail_b.end());

    auto fresh = make_context(**model, 1);
    ASSERT_NE(fresh, nullptr);
    const auto want_a = eval(*fresh, text_a, 0, 0);
    fresh->clear();
    const auto want_b = eval(*fresh, text_b, 0, 0);

    auto ctx = make_context(**model, 2);
    ASSERT_NE(ctx, nullptr);
    const auto got_prefix = eval(*ctx, prefix, 0, 0);
    ASSERT_TRUE(ctx->seq_cp(0, 1, 0, -1).ok());
    Status st;
    const auto [got_a, got_b] =
        testing::decode_interleaved_tails(*ctx, got_prefix, n_prefix, tail_a, tail_b, st);
    ASSERT_TRUE(st.ok()) << st.to_string();
    EXPECT_TRUE(same_bits(want_a, got_a)) << "sequence 0";
    EXPECT_TRUE(same_bits(want_b, got_b)) << "sequence 1";
  }
}

// A synthesized qwen35 whose last layer is a delta-net layer (3 layers, interval 2: delta-net,
// attention, delta-net): fewer wanted logits, ubatches of 3 and other thread counts all give the
// bits of the full evaluation's rows.
TEST(Qwen35, LastLayerDeltaNetKeepsOnlyTheOutputRows) {
  SynthOptions o;
  o.hparams = default_synth_hparams(Architecture::kQwen35);
  o.hparams.n_layer = 3;
  o.preset = *find_quant_preset("Q8_0");
  o.tied_output = true;
  o.n_threads = 2;
  const auto path = testing::temp_dir() / "qwen35-last-layer.gguf";
  ASSERT_TRUE(synthesize_model(o, path.string()).ok());
  auto model = Model::load(path.string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  ASSERT_TRUE((*model)->hparams().is_recurrent(2));
  std::vector<int32_t> toks;
  for (int i = 0; i < 30; ++i) toks.push_back(3 + (i * 37) % 4000);
  auto full_ctx = make_context(**model, 1);
  ASSERT_NE(full_ctx, nullptr);
  const auto full = eval(*full_ctx, toks, 0, 0);
  for (float v : full) ASSERT_TRUE(std::isfinite(v));

  auto some_ctx = make_context(**model, 1);
  ASSERT_NE(some_ctx, nullptr);
  testing::expect_wanted_rows_equal_full(*some_ctx, toks, {0, 6, 7, 29}, full);
  for (int threads : {1, 3}) {
    auto ub_ctx = make_context(**model, 1, threads, 3);
    ASSERT_NE(ub_ctx, nullptr);
    EXPECT_TRUE(same_bits(full, eval(*ub_ctx, toks, 0, 0))) << threads << " threads";
  }
}

}  // namespace
}  // namespace ember
