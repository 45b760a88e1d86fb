// Per-sequence recurrent state (runtime/recurrent_state.h): the state class's sequence
// operations on their own, and through a Context running the lfm2 hybrid test model
// (../shared/testdata/families): a prefix copied to another sequence and continued differently
// gives exactly what fresh evaluations give, refused and invalidating removals, seq_keep, thread
// counts, and decode's checks that a sequence continues where its state is; and the Engine's
// cache reuse between requests (only when the new prompt extends everything it evaluated).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ember/engine.h"
#include "interleaved_continuations.h"
#include "model/model.h"
#include "model/quant_recipe.h"
#include "model/synth.h"
#include "runtime/context.h"
#include "runtime/recurrent_state.h"
#include "testdata.h"

namespace ember {
namespace {

using runtime::AttentionMode;
using runtime::Batch;
using runtime::Context;
using runtime::ContextParams;
using runtime::Model;

std::unique_ptr<RecurrentState> make_state(int n_seq = 3) {
  auto rs = RecurrentState::create({{4, 0}, {0, 0}, {2, 6}}, n_seq);
  EXPECT_TRUE(rs.ok()) << rs.status().to_string();
  return rs.ok() ? std::move(rs).value() : nullptr;
}

// Marks `seq` as holding positions [0, pos] with recognizable contents.
void fill_state(RecurrentState& rs, int32_t seq, int32_t pos, float v) {
  rs.zero(seq);
  for (int64_t il : {0, 2}) {
    for (int64_t i = 0; i < rs.conv_size(il); ++i) rs.conv(il, seq)[i] = v + float(i);
    for (int64_t i = 0; i < rs.ssm_size(il); ++i) rs.ssm(il, seq)[i] = -v - float(i);
  }
  rs.set_pos(seq, pos);
}

TEST(RecurrentState, LayoutAndSizes) {
  auto rs = make_state();
  ASSERT_NE(rs, nullptr);
  EXPECT_EQ(rs->n_layer(), 3);
  EXPECT_TRUE(rs->has_layer(0));
  EXPECT_FALSE(rs->has_layer(1));
  EXPECT_TRUE(rs->has_layer(2));
  EXPECT_EQ(rs->ssm(0, 0), nullptr);
  EXPECT_EQ(rs->conv(1, 0), nullptr);
  EXPECT_EQ(rs->memory_bytes(), 3u * (4 + 2 + 6) * sizeof(float));
  // Parts of different layers and sequences never overlap.
  EXPECT_EQ(rs->conv(2, 0), rs->conv(0, 0) + 4);
  EXPECT_EQ(rs->ssm(2, 0), rs->conv(2, 0) + 2);
  EXPECT_EQ(rs->conv(0, 1), rs->ssm(2, 0) + 6);
  for (int s = 0; s < 3; ++s) EXPECT_EQ(rs->pos(s), -1);
  rs->zero(1);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(rs->ssm(2, 1)[i], 0.0f);

  EXPECT_FALSE(RecurrentState::create({{-1, 0}}, 1).ok());
  EXPECT_FALSE(RecurrentState::create({{1, 0}}, 0).ok());
  EXPECT_FALSE(RecurrentState::create({{1, 0}}, 65).ok());
  EXPECT_FALSE(RecurrentState::create({{int64_t{1} << 35, int64_t{1} << 35}}, 64).ok());
}

TEST(RecurrentState, RemovalRules) {
  auto rs = make_state();
  ASSERT_NE(rs, nullptr);
  fill_state(*rs, 0, 9, 1.0f);  // positions [0, 9]
  // Ranges after the state, or empty: nothing to do.
  EXPECT_TRUE(rs->check_rm(0, 10, -1).ok());
  EXPECT_TRUE(rs->check_rm(0, 5, 5).ok());
  rs->seq_rm(0, 10, -1);
  EXPECT_EQ(rs->pos(0), 9);
  // A leading or middle part: the state before it is gone, refused.
  EXPECT_FALSE(rs->check_rm(0, 0, 5).ok());
  EXPECT_FALSE(rs->check_rm(0, 3, 7).ok());
  EXPECT_TRUE(rs->check_rm(0, 3, 10).ok());   // [3, 10) is a tail: allowed
  EXPECT_FALSE(rs->check_rm(-1, 0, 5).ok());  // every sequence: sequence 0 refuses
  const Status st = rs->check_rm(0, 3, 7);
  EXPECT_NE(st.message().find("sequence 0"), std::string::npos) << st.message();
  // A tail: the state becomes unknown; removing everything makes it empty again.
  rs->seq_rm(0, 3, -1);
  EXPECT_EQ(rs->pos(0), RecurrentState::kInvalid);
  EXPECT_TRUE(rs->check_rm(0, 0, 2).ok());  // nothing known to protect
  rs->seq_rm(0, 2, -1);
  EXPECT_EQ(rs->pos(0), RecurrentState::kInvalid);
  rs->seq_rm(0, 0, -1);
  EXPECT_EQ(rs->pos(0), -1);
  // Everything from 0 (to the end, or past the state): empty.
  fill_state(*rs, 1, 4, 2.0f);
  rs->seq_rm(1, 0, 5);
  EXPECT_EQ(rs->pos(1), -1);
  fill_state(*rs, 1, 4, 2.0f);
  fill_state(*rs, 2, 6, 3.0f);
  rs->seq_rm(-1, 0, -1);
  EXPECT_EQ(rs->pos(1), -1);
  EXPECT_EQ(rs->pos(2), -1);
}

TEST(RecurrentState, CopyKeepAndClear) {
  auto rs = make_state();
  ASSERT_NE(rs, nullptr);
  fill_state(*rs, 0, 7, 5.0f);
  // A range covering all of the source's positions copies the state.
  rs->seq_cp(0, 1, 0, -1);
  EXPECT_EQ(rs->pos(1), 7);
  EXPECT_EQ(std::memcmp(rs->conv(0, 0), rs->conv(0, 1), 4 * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(rs->ssm(2, 0), rs->ssm(2, 1), 6 * sizeof(float)), 0);
  // Part of them: the destination's state is unknown.
  rs->seq_cp(0, 2, 0, 4);
  EXPECT_EQ(rs->pos(2), RecurrentState::kInvalid);
  // Nothing of the source: unchanged.
  rs->seq_rm(2, 0, -1);
  rs->seq_cp(0, 2, 8, -1);
  EXPECT_EQ(rs->pos(2), -1);
  // copy(): whole state whatever the ranges.
  fill_state(*rs, 2, 3, 9.0f);
  rs->copy(0, 2);
  EXPECT_EQ(rs->pos(2), 7);
  EXPECT_EQ(rs->ssm(2, 2)[5], rs->ssm(2, 0)[5]);
  rs->seq_keep(1);
  EXPECT_EQ(rs->pos(0), -1);
  EXPECT_EQ(rs->pos(1), 7);
  EXPECT_EQ(rs->pos(2), -1);
  rs->clear();
  EXPECT_EQ(rs->pos(1), -1);
}

// ---- through a Context, on lfm2 (conv conv attn conv attn) ----------------------------------

std::unique_ptr<Model> load_lfm2(const std::filesystem::path& dir) {
  auto m = Model::load((dir / "families" / "models" / "lfm2-q8_0.gguf").string());
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(m).value() : nullptr;
}

std::vector<int32_t> prompt(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream in(dir / "families" / "golden" / (name + ".json"));
  return nlohmann::json::parse(in).at("prompt_tokens").get<std::vector<int32_t>>();
}

std::unique_ptr<Context> make_context(const Model& m, int n_seq, int threads = 2) {
  ContextParams p;
  p.n_ctx = 256;
  p.n_seq_max = n_seq;
  p.n_threads = threads;
  p.attention = AttentionMode::kPerKey;
  auto c = Context::create(m, p);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

// Evaluates toks at positions pos0... of `seq`, all logits.
std::vector<float> eval(Context& ctx, const std::vector<int32_t>& toks, int32_t pos0, int32_t seq) {
  Batch b;
  for (size_t i = 0; i < toks.size(); ++i) b.add(toks[i], pos0 + int32_t(i), seq, true);
  const Status st = ctx.decode(b);
  EXPECT_TRUE(st.ok()) << st.to_string();
  if (!st.ok()) return {};
  return std::vector<float>(ctx.logits(0), ctx.logits(0) + b.size() * ctx.n_vocab());
}

std::vector<int32_t> slice(const std::vector<int32_t>& v, size_t b, size_t e) {
  return std::vector<int32_t>(v.begin() + b, v.begin() + e);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return !a.empty() && a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(RecurrentContext, Lfm2HasStateForItsConvolutionLayers) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_lfm2(dir);
  ASSERT_NE(model, nullptr);
  const ModelHParams& hp = model->hparams();
  EXPECT_EQ(hp.conv_kernel, 3);
  for (int il : {0, 1, 3}) EXPECT_TRUE(hp.is_recurrent(il)) << il;
  for (int il : {2, 4}) EXPECT_FALSE(hp.is_recurrent(il)) << il;
  auto ctx = make_context(*model, 2);
  ASSERT_NE(ctx, nullptr);
  ASSERT_TRUE(ctx->has_recurrent());
  // Three layers x (kernel - 1) inputs x 128 channels x 2 sequences.
  EXPECT_EQ(ctx->recurrent_bytes(), size_t{3 * 2 * 128 * 2 * 4});
  EXPECT_EQ(ctx->recurrent_state()->conv_size(0), 2 * 128);
  EXPECT_EQ(ctx->recurrent_state()->conv(2, 0), nullptr);
}

TEST(RecurrentContext, DecodeChecksThatSequencesContinueWhereTheirStateIs) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_lfm2(dir);
  ASSERT_NE(model, nullptr);
  auto ctx = make_context(*model, 2);
  ASSERT_NE(ctx, nullptr);
  Batch b;
  b.add(5, 1, 0, true);  // a fresh sequence starts at 0
  Status st = ctx->decode(b);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("must continue at position 0"), std::string::npos) << st.message();
  b.clear();
  b.add(5, 0, 0, false);
  b.add(6, 2, 0, true);  // a gap inside the batch
  EXPECT_FALSE(ctx->decode(b).ok());
  EXPECT_EQ(ctx->seq_pos_max(0), -1);  // nothing was evaluated
  b.clear();
  b.add(5, 0, 0, false);
  b.add(6, 1, 0, true);
  ASSERT_TRUE(ctx->decode(b).ok());
  EXPECT_EQ(ctx->recurrent_state()->pos(0), 1);
  EXPECT_TRUE(ctx->can_resume(0, 2));
  EXPECT_TRUE(ctx->can_resume(0, 0));
  EXPECT_FALSE(ctx->can_resume(0, 1));
  EXPECT_FALSE(ctx->can_resume(1, 3));
  b.clear();
  b.add(7, 3, 0, true);  // skips position 2
  EXPECT_FALSE(ctx->decode(b).ok());
}

// The scenario: evaluate a prefix, copy it to sequence 1, continue both differently
// (together in one batch); each must equal a fresh evaluation of its whole text.
TEST(RecurrentContext, CopiedPrefixContinuesLikeAFreshEvaluation) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_lfm2(dir);
  ASSERT_NE(model, nullptr);
  const auto p1 = prompt(dir, "lfm2-q8_0.p1");
  auto p2 = prompt(dir, "lfm2-q8_0.p2");
  ASSERT_GE(p1.size(), 20u);
  ASSERT_GE(p2.size(), 30u);
  const size_t n_prefix = 12;
  const auto prefix = slice(p1, 0, n_prefix);
  const auto tail_a = slice(p1, n_prefix, p1.size());
  const auto tail_b = slice(p2, 0, 17);

  auto fresh = make_context(*model, 1);
  ASSERT_NE(fresh, nullptr);
  std::vector<int32_t> text_a = prefix, text_b = prefix;
  text_a.insert(text_a.end(), tail_a.begin(), tail_a.end());
  text_b.insert(text_b.end(), tail_b.begin(), tail_b.end());
  const auto want_a = eval(*fresh, text_a, 0, 0);
  fresh->clear();
  const auto want_b = eval(*fresh, text_b, 0, 0);
  const size_t nv = static_cast<size_t>(fresh->n_vocab());

  auto ctx = make_context(*model, 3);
  ASSERT_NE(ctx, nullptr);
  const auto got_prefix = eval(*ctx, prefix, 0, 0);
  ASSERT_TRUE(ctx->seq_cp(0, 1, 0, -1).ok());
  EXPECT_EQ(ctx->recurrent_state()->pos(1), int32_t(n_prefix) - 1);
  // Both continuations in one batch, interleaved.
  Status decoded;
  const auto [got_a, got_b] =
      testing::decode_interleaved_tails(*ctx, got_prefix, n_prefix, tail_a, tail_b, decoded);
  ASSERT_TRUE(decoded.ok()) << decoded.to_string();
  EXPECT_TRUE(same_bits(want_a, got_a)) << "sequence 0";
  EXPECT_TRUE(same_bits(want_b, got_b)) << "sequence 1";

  // A middle range cannot be removed: refused, nothing changes (sequence 1 still continues).
  const Status refused = ctx->seq_rm(1, 3, 8);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(ctx->seq_pos_max(1), int32_t(text_b.size()) - 1);
  // A copy of part of a sequence has no usable state.
  ASSERT_TRUE(ctx->seq_cp(0, 2, 0, 5).ok());
  Batch c;
  c.add(p2[20], 5, 2, true);
  const Status st = ctx->decode(c);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown"), std::string::npos) << st.message();
  // Removed whole, it starts again from nothing and matches a fresh evaluation.
  ASSERT_TRUE(ctx->seq_rm(2, 0, -1).ok());
  fresh->clear();
  EXPECT_TRUE(same_bits(eval(*ctx, text_b, 0, 2), eval(*fresh, text_b, 0, 0)));

  // A tail removal leaves sequence 0 unusable until it is removed whole.
  ASSERT_TRUE(ctx->seq_rm(0, 4, -1).ok());
  EXPECT_FALSE(ctx->can_resume(0, 4));
  Batch d;
  d.add(text_a[4], 4, 0, true);
  EXPECT_FALSE(ctx->decode(d).ok());

  // seq_keep(1): the others are emptied; sequence 1 continues as a fresh evaluation would.
  ASSERT_TRUE(ctx->seq_keep(1).ok());
  EXPECT_EQ(ctx->recurrent_state()->pos(0), -1);
  EXPECT_EQ(ctx->recurrent_state()->pos(2), -1);
  std::vector<int32_t> more = text_b;
  more.push_back(p2[25]);
  fresh->clear();
  const auto want_more = eval(*fresh, more, 0, 0);
  // In an explicit cell past the others (a free hole below would put the key out of position
  // order for attention, which is another matter).
  Batch e;
  e.add(p2[25], int32_t(text_b.size()), 1, true, 255);
  ASSERT_TRUE(ctx->decode(e).ok());
  const std::vector<float> got_more(ctx->logits(0), ctx->logits(0) + nv);
  EXPECT_TRUE(
      same_bits(std::vector<float>(want_more.end() - int64_t(nv), want_more.end()), got_more));
  // And sequence 0 starts again from position 0.
  fresh->clear();
  EXPECT_TRUE(same_bits(eval(*ctx, text_a, 0, 0), eval(*fresh, text_a, 0, 0)));
}

TEST(RecurrentContext, ThreadCountsAndCopyStateAgree) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_lfm2(dir);
  ASSERT_NE(model, nullptr);
  const auto toks = prompt(dir, "lfm2-q8_0.p2");
  std::vector<float> first;
  for (int threads : {1, 3}) {
    auto ctx = make_context(*model, 1, threads);
    ASSERT_NE(ctx, nullptr);
    const auto got = eval(*ctx, toks, 0, 0);
    if (first.empty()) {
      first = got;
    } else {
      EXPECT_TRUE(same_bits(first, got)) << threads << " threads";
    }
  }
  // copy_state + copy_cells (the paged server's way to share a whole prefix) continue exactly.
  auto ctx = make_context(*model, 2);
  ASSERT_NE(ctx, nullptr);
  const size_t n = 10;
  // Sequence 0 in cells 128.., copied into cells 0.. for sequence 1, which then continues in
  // the cells after them (keys in position order, as in the fresh evaluation).
  Batch pre;
  for (size_t i = 0; i < n; ++i) pre.add(toks[i], int32_t(i), 0, false, int64_t(128 + i));
  ASSERT_TRUE(ctx->decode(pre).ok());
  std::vector<int64_t> src, dst;
  for (size_t i = 0; i < n; ++i) {
    src.push_back(int64_t(128 + i));
    dst.push_back(int64_t(i));
  }
  ASSERT_TRUE(ctx->copy_cells(src, dst, 1).ok());
  EXPECT_FALSE(ctx->can_resume(1, int32_t(n)));  // cells alone carry no state
  ASSERT_TRUE(ctx->copy_state(0, 1).ok());
  EXPECT_TRUE(ctx->can_resume(1, int32_t(n)));
  EXPECT_FALSE(ctx->copy_state(0, 2).ok());
  const auto got = eval(*ctx, slice(toks, n, toks.size()), int32_t(n), 1);
  const size_t nv = static_cast<size_t>(ctx->n_vocab());
  EXPECT_TRUE(same_bits(std::vector<float>(first.begin() + int64_t(n * nv), first.end()), got));
}

// A hybrid whose last layer is recurrent (synthesized lfm2: conv attn conv): the last layer runs
// every row through the state and keeps only the output rows, so asking for fewer logits, or
// evaluating token by token in ubatches of 3, gives the bits of the rows of a full evaluation.
TEST(RecurrentContext, LastLayerRecurrentKeepsOnlyTheOutputRows) {
  SynthOptions o;
  o.hparams = default_synth_hparams(Architecture::kLfm2);
  o.hparams.n_layer = 3;
  o.preset = *find_quant_preset("Q8_0");
  o.tied_output = true;
  o.n_threads = 2;
  const auto path = testing::temp_dir() / "recurrent-last-layer.gguf";
  ASSERT_TRUE(synthesize_model(o, path.string()).ok());
  auto model = Model::load(path.string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  ASSERT_TRUE((*model)->hparams().is_recurrent(2));
  std::vector<int32_t> toks;
  for (int i = 0; i < 30; ++i) toks.push_back(3 + (i * 37) % 4000);
  auto full_ctx = make_context(**model, 1);
  ASSERT_NE(full_ctx, nullptr);
  const auto full = eval(*full_ctx, toks, 0, 0);

  auto some_ctx = make_context(**model, 1);
  ASSERT_NE(some_ctx, nullptr);
  testing::expect_wanted_rows_equal_full(*some_ctx, toks, {0, 7, 8, 29}, full);

  ContextParams p;
  p.n_ctx = 256;
  p.n_ubatch = 3;
  p.attention = AttentionMode::kPerKey;
  auto ub_ctx = Context::create(**model, p);
  ASSERT_TRUE(ub_ctx.ok());
  EXPECT_TRUE(same_bits(full, eval(**ub_ctx, toks, 0, 0)));
}

// The Engine keeps its cache between requests; with recurrent layers it may reuse it only when the
// new prompt extends every token it evaluated (the state stands after them), and the tokens must
// be those of a fresh engine either way.
TEST(RecurrentEngine, ReusesTheCacheOnlyWhenThePromptExtendsIt) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::string path = (dir / "families" / "models" / "lfm2-q8_0.gguf").string();
  EngineOptions o;
  o.n_ctx = 256;
  auto engine = Engine::load(path, o);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  GenerationParams p;
  p.sampling.temperature = 0.8f;
  p.sampling.seed = 5;
  p.max_tokens = 1;  // the sampled token is never evaluated: the cache holds the prompt exactly
  const std::string head = "The capital of France is";
  const std::string longer = head + " Paris, and the capital of Italy is";
  auto first = (*engine)->generate(head, p);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->usage.cached_prompt_tokens, 0);

  p.max_tokens = 6;
  auto ext = (*engine)->generate(longer, p);
  ASSERT_TRUE(ext.ok()) << ext.status().to_string();
  auto head_ids = (*engine)->tokenize(head);
  auto longer_ids = (*engine)->tokenize(longer);
  ASSERT_TRUE(head_ids.ok() && longer_ids.ok());
  const bool extends = head_ids->size() < longer_ids->size() &&
                       std::equal(head_ids->begin(), head_ids->end(), longer_ids->begin());
  EXPECT_TRUE(extends) << "the test prompts no longer tokenize as a prefix";
  EXPECT_EQ(ext->usage.cached_prompt_tokens, extends ? int32_t(head_ids->size()) : 0);

  // The same prompt again: its last token must be evaluated again, which needs the state one
  // position earlier: nothing is reused.
  auto again = (*engine)->generate(longer, p);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->usage.cached_prompt_tokens, 0);

  auto fresh = Engine::load(path, o);
  ASSERT_TRUE(fresh.ok());
  auto ref = (*fresh)->generate(longer, p);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ext->tokens, ref->tokens);
  EXPECT_EQ(again->tokens, ref->tokens);
}

}  // namespace
}  // namespace ember
