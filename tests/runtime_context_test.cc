// Context behaviour on the shared test models: determinism (batch vs token by token, thread
// counts, ubatch sizes), several sequences in one context, removing and copying cache ranges,
// cache types, long prompts and argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

std::unique_ptr<Model> load_model(const std::filesystem::path& dir, const std::string& name) {
  auto m = Model::load((dir / "models" / (name + ".gguf")).string());
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(m).value() : nullptr;
}

std::vector<int32_t> golden_prompt(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream in(dir / "golden" / (name + ".json"));
  return nlohmann::json::parse(in).at("prompt_tokens").get<std::vector<int32_t>>();
}

std::unique_ptr<Context> make_context(const Model& m, ContextParams p) {
  auto c = Context::create(m, p);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

// Logits of every token, evaluated as one batch.
std::vector<float> eval_batch(Context& ctx, const std::vector<int32_t>& toks, int32_t pos0 = 0,
                              int32_t seq = 0) {
  Batch b;
  for (size_t i = 0; i < toks.size(); ++i)
    b.add(toks[i], pos0 + static_cast<int32_t>(i), seq, true);
  const Status st = ctx.decode(b);
  EXPECT_TRUE(st.ok()) << st.to_string();
  if (!st.ok()) return {};
  return std::vector<float>(ctx.logits(0), ctx.logits(0) + toks.size() * ctx.n_vocab());
}

// Logits of every token, evaluated one token per decode.
std::vector<float> eval_steps(Context& ctx, const std::vector<int32_t>& toks, int32_t pos0 = 0,
                              int32_t seq = 0) {
  std::vector<float> out;
  for (size_t i = 0; i < toks.size(); ++i) {
    Batch b;
    b.add(toks[i], pos0 + static_cast<int32_t>(i), seq, true);
    const Status st = ctx.decode(b);
    EXPECT_TRUE(st.ok()) << st.to_string();
    if (!st.ok()) return {};
    out.insert(out.end(), ctx.logits(0), ctx.logits(0) + ctx.n_vocab());
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return a.size() == b.size() ? m : INFINITY;
}

// Models covering dense GQA, soft-capping + sliding window, and a mixture of experts.
const char* const kModels[] = {"llama-spm-q4_0", "gemma2-f16", "qwen3moe-q8_0"};

TEST(RuntimeDeterminism, BatchEqualsTokenByTokenForAFixedAlgorithm) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    auto model = load_model(dir, name);
    ASSERT_NE(model, nullptr);
    auto toks = golden_prompt(dir, std::string(name) + ".p2");
    toks.resize(80);  // long enough for several attention tiles and the sliding window
    for (AttentionMode mode : {AttentionMode::kPerKey, AttentionMode::kTiled}) {
      ContextParams p;
      p.n_ctx = 256;
      p.n_threads = 2;
      p.attention = mode;
      auto a = make_context(*model, p);
      auto b = make_context(*model, p);
      p.n_ubatch = 7;
      auto c = make_context(*model, p);
      const auto batch = eval_batch(*a, toks);
      const auto steps = eval_steps(*b, toks);
      const auto ubatched = eval_batch(*c, toks);
      EXPECT_TRUE(same_bits(batch, steps))
          << name << " mode " << int(mode) << ": batch vs token by token, max diff "
          << max_abs_diff(batch, steps);
      EXPECT_TRUE(same_bits(batch, ubatched)) << name << " mode " << int(mode) << ": ubatch 7";
    }
  }
}

TEST(RuntimeDeterminism, AutoModeBatchAndStepsAgreeClosely) {
  // The default follows the reference, which uses a different attention algorithm for large
  // batches: the results then agree only closely.
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_model(dir, "llama-spm-f16");
  ASSERT_NE(model, nullptr);
  auto toks = golden_prompt(dir, "llama-spm-f16.p2");
  ContextParams p;
  p.n_ctx = 256;
  auto a = make_context(*model, p);
  auto b = make_context(*model, p);
  const auto batch = eval_batch(*a, toks);
  const auto steps = eval_steps(*b, toks);
  EXPECT_LT(max_abs_diff(batch, steps), 0.05);
}

TEST(RuntimeDeterminism, ThreadCountDoesNotChangeResults) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    auto model = load_model(dir, name);
    ASSERT_NE(model, nullptr);
    const auto toks = golden_prompt(dir, std::string(name) + ".p2");
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
      ContextParams p;
      p.n_ctx = 256;
      p.n_threads = threads;
      auto ctx = make_context(*model, p);
      auto logits = eval_batch(*ctx, toks);
      // And a few decode steps after the prompt.
      auto more = eval_steps(*ctx, {5, 6, 7}, static_cast<int32_t>(toks.size()));
      logits.insert(logits.end(), more.begin(), more.end());
      if (first.empty()) {
        first = logits;
      } else {
        EXPECT_TRUE(same_bits(first, logits)) << name << " with " << threads << " threads";
      }
    }
  }
}

// BF16 / F16 weights in the on-the-fly split-BF16 form (AMX-BF16; kernels/matmul.h
// kSplitBf16Fly, the decoder default where the CPU has it; F16 products with 1..15 tokens run on
// FMA instructions that reproduce the tile unit's arithmetic): the same bits in one batch, token
// by token, in ubatches of 7 and with 1 or 3 threads, for both attention algorithms; and close to
// the exact form (ModelLoadOptions::decoder_split_bf16 / decoder_split_f16 = false: about 16
// significant bits per operand). The activations go into the split layout's 16-token tiles row by
// row (Context::convert_row, after the norms) and, for 80-token batches with several threads, in
// parallel token blocks (Context::convert: the attention output).
void check_split_form_batch_equals_token_by_token(const std::filesystem::path& dir,
                                                  const std::string& name, bool f16) {
  if (const char* env = std::getenv("EMBER_F16_TILES"); f16 && env != nullptr && *env != '\0') {
    GTEST_SKIP() << "EMBER_F16_TILES is set: no exact F16 model to compare with";
  }
  const std::string path = (dir / "models" / (name + ".gguf")).string();
  runtime::ModelLoadOptions split_opts;
  split_opts.decoder_split_f16 = f16;  // opt-in for F16 (BF16: the default)
  auto split = Model::load(path, split_opts);
  ASSERT_TRUE(split.ok()) << split.status().to_string();
  auto in_split_form = [f16](const Model& m) { return f16 ? m.f16_split() : m.bf16_split(); };
  if (!in_split_form(**split)) {
    GTEST_SKIP() << "no AMX-BF16 here (or, for F16, the start-up check failed): the weights stay "
                    "exact";
  }
  runtime::ModelLoadOptions exact_opts;
  (f16 ? exact_opts.decoder_split_f16 : exact_opts.decoder_split_bf16) = false;
  auto exact = Model::load(path, exact_opts);
  ASSERT_TRUE(exact.ok()) << exact.status().to_string();
  EXPECT_FALSE(in_split_form(**exact));
  // The reference numerics mode keeps BF16 / F16 weights exact (it covers no such product).
  runtime::ModelLoadOptions ref_opts;
  ref_opts.numerics = Numerics::kReference;
  auto reference = Model::load(path, ref_opts);
  ASSERT_TRUE(reference.ok()) << reference.status().to_string();
  EXPECT_FALSE(in_split_form(**reference));
  auto toks = golden_prompt(dir, name + ".p2");
  toks.resize(80);
  for (AttentionMode mode : {AttentionMode::kPerKey, AttentionMode::kTiled}) {
    ContextParams p;
    p.n_ctx = 256;
    p.n_threads = 2;
    p.attention = mode;
    auto a = make_context(**split, p);
    auto b = make_context(**split, p);
    auto e = make_context(**exact, p);
    p.n_ubatch = 7;
    p.n_threads = 3;
    auto c = make_context(**split, p);
    p.n_ubatch = 512;
    p.n_threads = 1;
    auto d = make_context(**split, p);
    const auto batch = eval_batch(*a, toks);
    const auto steps = eval_steps(*b, toks);
    EXPECT_TRUE(same_bits(batch, steps))
        << "mode " << int(mode) << ": batch vs token by token, max diff "
        << max_abs_diff(batch, steps);
    EXPECT_TRUE(same_bits(batch, eval_batch(*c, toks))) << "mode " << int(mode) << ": ubatch 7";
    EXPECT_TRUE(same_bits(batch, eval_batch(*d, toks))) << "mode " << int(mode) << ": 1 thread";
    const auto ref = eval_batch(*e, toks);
    double scale = 0.0;
    for (float v : ref) scale = std::max(scale, std::fabs(double(v)));
    EXPECT_LT(max_abs_diff(batch, ref), 1e-3 * scale) << "mode " << int(mode) << ": vs exact";
  }
}

TEST(RuntimeDeterminism, Bf16SplitFormBatchEqualsTokenByToken) {
  EMBER_REQUIRE_TESTDATA(dir);
  check_split_form_batch_equals_token_by_token(dir, "llama-spm-bf16", false);
}

TEST(RuntimeDeterminism, F16SplitFormBatchEqualsTokenByToken) {
  EMBER_REQUIRE_TESTDATA(dir);
  check_split_form_batch_equals_token_by_token(dir, "llama-spm-f16", true);
}

// A context beyond 2,048 tokens (several 512-cell attention spans, the last one partial):
// decoding token by token (each row's spans spread over the threads), a few rows per decode,
// a warm cache filled in pieces, other thread counts, and the sequence batched with another one
// (explicit cells, as the server places them) all give the bits of one big batch, for every
// cache type. The tiny model keeps it fast.
TEST(RuntimeDeterminism, LongContextDecodeEqualsOneBatch) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_model(dir, "llama-spm-q4_0");
  ASSERT_NE(model, nullptr);
#if defined(__SANITIZE_ADDRESS__)
  const int n = 2100, tail = 12;  // sanitizers are slow
#else
  const int n = 2100, tail = 40;
#endif
  const int head = n - tail;
  const int64_t nv = model->hparams().n_vocab;
  std::vector<int32_t> toks(static_cast<size_t>(n)), other(300);
  for (int i = 0; i < n; ++i) toks[static_cast<size_t>(i)] = 3 + (i * 7919) % 4000;
  for (int i = 0; i < 300; ++i) other[static_cast<size_t>(i)] = 5 + (i * 104729) % 4000;
#if defined(__SANITIZE_ADDRESS__)
  const kernels::KvType kv_types[] = {kernels::KvType::kQ8_0};  // the release build checks all
#else
  const kernels::KvType kv_types[] = {kernels::KvType::kF16, kernels::KvType::kF32,
                                      kernels::KvType::kQ8_0};
#endif
  for (kernels::KvType kv : kv_types) {
    SCOPED_TRACE(kernels::kv_type_name(kv));
    ContextParams p;
    p.n_ctx = n + 64;
    p.attention = AttentionMode::kTiled;
    p.kv_type = kv;
    p.n_threads = 2;
    // Reference: one batch, logits of the last `tail` positions.
    auto ref_ctx = make_context(*model, p);
    Batch all;
    for (int i = 0; i < n; ++i) all.add(toks[static_cast<size_t>(i)], i, 0, i >= head);
    ASSERT_TRUE(ref_ctx->decode(all).ok());
    const std::vector<float> ref(ref_ctx->logits(0), ref_ctx->logits(0) + tail * nv);

    auto prefix = [&](Context& ctx, int pieces) {
      for (int k = 0; k < pieces; ++k) {
        Batch b;
        for (int i = head * k / pieces; i < head * (k + 1) / pieces; ++i)
          b.add(toks[static_cast<size_t>(i)], i, 0, false);
        ASSERT_TRUE(ctx.decode(b).ok());
      }
    };
    auto check_steps = [&](Context& ctx, int per_decode, const std::string& what) {
      for (int i = head; i < n; i += per_decode) {
        Batch b;
        const int e = std::min(n, i + per_decode);
        for (int j = i; j < e; ++j) b.add(toks[static_cast<size_t>(j)], j, 0, true);
        ASSERT_TRUE(ctx.decode(b).ok());
        for (int j = i; j < e; ++j) {
          ASSERT_EQ(std::memcmp(ctx.logits(j - i), ref.data() + (j - head) * nv, nv * 4), 0)
              << what << ": position " << j;
        }
      }
    };
    p.n_threads = 3;
    auto steps = make_context(*model, p);
    prefix(*steps, 1);
    check_steps(*steps, 1, "token by token, 3 threads");
    p.n_threads = 1;
    auto warm = make_context(*model, p);
    prefix(*warm, 3);  // the cache filled in three pieces
    check_steps(*warm, 5, "warm cache, 5 tokens per decode, 1 thread");
    p.n_threads = 2;

    // Batched with another sequence: sequence 0 at cell = position, sequence 1 in the blocks
    // after it, one token of each per decode after a joint prefill.
    ContextParams pp = p;
    pp.n_seq_max = 2;
    pp.n_ctx = (n + 63) / 64 * 64 + 320;
    auto both = make_context(*model, pp);
    const int64_t base1 = (n + 63) / 64 * 64;
    Batch b;
    for (int i = 0; i < 280; ++i) b.add(other[static_cast<size_t>(i)], i, 1, false, base1 + i);
    for (int i = 0; i < head; ++i) b.add(toks[static_cast<size_t>(i)], i, 0, false, i);
    ASSERT_TRUE(both->decode(b).ok());
    for (int i = head; i < n; ++i) {
      Batch s;
      const int o = 280 + (i - head) % 20;
      if (i - head < 20) s.add(other[static_cast<size_t>(o)], o, 1, true, base1 + o);
      s.add(toks[static_cast<size_t>(i)], i, 0, true, i);
      ASSERT_TRUE(both->decode(s).ok());
      const int64_t row = i - head < 20 ? 1 : 0;
      ASSERT_EQ(std::memcmp(both->logits(row), ref.data() + (i - head) * nv, nv * 4), 0)
          << "batched with another sequence: position " << i;
    }
  }
}

TEST(RuntimeSequences, SequencesInOneContextAreIsolated) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    auto model = load_model(dir, name);
    ASSERT_NE(model, nullptr);
    auto a_toks = golden_prompt(dir, std::string(name) + ".p1");
    auto b_toks = golden_prompt(dir, std::string(name) + ".p2");
    b_toks.resize(40);
    ContextParams p;
    p.n_ctx = 256;
    p.attention = AttentionMode::kPerKey;
    auto solo_a = make_context(*model, p);
    auto solo_b = make_context(*model, p);
    const auto want_a = eval_batch(*solo_a, a_toks);
    const auto want_b = eval_batch(*solo_b, b_toks);

    p.n_seq_max = 3;
    auto shared = make_context(*model, p);
    // Interleave the two prompts in one batch (sequence 2 stays empty).
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
    ASSERT_TRUE(shared->decode(batch).ok());
    const int64_t nv = shared->n_vocab();
    std::vector<float> got_a(want_a.size()), got_b(want_b.size());
    for (size_t o = 0; o < order.size(); ++o) {
      auto& dst = order[o].first == 0 ? got_a : got_b;
      std::memcpy(dst.data() + order[o].second * nv, shared->logits(static_cast<int64_t>(o)),
                  static_cast<size_t>(nv) * sizeof(float));
    }
    EXPECT_TRUE(same_bits(want_a, got_a)) << name << ": sequence 0";
    EXPECT_TRUE(same_bits(want_b, got_b)) << name << ": sequence 1";
  }
}

TEST(RuntimeSequences, RemoveAndCopyRanges) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_model(dir, "llama-spm-q4_0");
  ASSERT_NE(model, nullptr);
  const auto prompt = golden_prompt(dir, "llama-spm-q4_0.p1");
  const std::vector<int32_t> detour = {100, 200, 300, 400};
  const std::vector<int32_t> cont = {11, 12, 13};
  ContextParams p;
  p.n_ctx = 128;
  p.n_seq_max = 2;
  p.attention = AttentionMode::kPerKey;
  const int32_t n = static_cast<int32_t>(prompt.size());

  // prompt + cont, directly.
  auto direct = make_context(*model, p);
  eval_batch(*direct, prompt);
  const auto want = eval_steps(*direct, cont, n);

  // prompt + detour, remove the detour, then cont: the same logits.
  auto edited = make_context(*model, p);
  eval_batch(*edited, prompt);
  eval_batch(*edited, detour, n);
  EXPECT_EQ(edited->seq_pos_max(0), n + 3);
  ASSERT_TRUE(edited->seq_rm(0, n, -1).ok());
  EXPECT_EQ(edited->seq_pos_max(0), n - 1);
  EXPECT_TRUE(same_bits(want, eval_steps(*edited, cont, n)));

  // Copy the prompt to sequence 1 and continue both: each equals a fresh context.
  auto forked = make_context(*model, p);
  eval_batch(*forked, prompt);
  ASSERT_TRUE(forked->seq_cp(0, 1, 0, -1).ok());
  EXPECT_EQ(forked->seq_pos_max(1), n - 1);
  EXPECT_EQ(forked->kv_cache().n_used(), n);  // shared cells, no copies
  Batch b;
  b.add(detour[0], n, 0, true);
  b.add(cont[0], n, 1, true);
  ASSERT_TRUE(forked->decode(b).ok());
  std::vector<float> got0(forked->logits(0), forked->logits(0) + forked->n_vocab());
  std::vector<float> got1(forked->logits(1), forked->logits(1) + forked->n_vocab());
  auto fresh0 = make_context(*model, p);
  eval_batch(*fresh0, prompt);
  EXPECT_TRUE(same_bits(got0, eval_steps(*fresh0, {detour[0]}, n)));
  std::vector<float> want1(want.begin(), want.begin() + forked->n_vocab());
  EXPECT_TRUE(same_bits(got1, want1));

  // Removing a sequence entirely frees its cells; keep_seq drops the others.
  ASSERT_TRUE(forked->seq_rm(1, 0, -1).ok());
  EXPECT_EQ(forked->seq_pos_max(1), -1);
  EXPECT_EQ(forked->kv_cache().n_used(), n + 1);
  ASSERT_TRUE(forked->seq_keep(1).ok());
  EXPECT_EQ(forked->kv_cache().n_used(), 0);
}

TEST(RuntimeCache, CacheTypesStayCloseToF16) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_model(dir, "llama-spm-f16");
  ASSERT_NE(model, nullptr);
  const auto toks = golden_prompt(dir, "llama-spm-f16.p2");
  ContextParams p;
  p.n_ctx = 256;
  auto ref = make_context(*model, p);
  const auto want = eval_batch(*ref, toks);
  for (kernels::KvType t : {kernels::KvType::kF32, kernels::KvType::kQ8_0}) {
    p.kv_type = t;
    for (AttentionMode mode : {AttentionMode::kAuto, AttentionMode::kPerKey}) {
      p.attention = mode;
      auto ctx = make_context(*model, p);
      const auto got = eval_batch(*ctx, toks);
      // Relative to the logits' spread (about 1 here).
      EXPECT_LT(max_abs_diff(want, got), t == kernels::KvType::kF32 ? 0.01 : 0.1)
          << kernels::kv_type_name(t);
      EXPECT_EQ(ctx->kv_bytes(), static_cast<size_t>(model->hparams().n_layer) * 256 * 2 *
                                     kernels::kv_row_bytes(t, model->hparams().n_embd_k_gqa()));
    }
  }
}

TEST(RuntimeCache, LongPromptWithLinearMemory) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_model(dir, "llama-spm-q4_0");
  ASSERT_NE(model, nullptr);
#if defined(__SANITIZE_ADDRESS__)
  const int n = 1024;  // sanitizers are slow; the release build checks 4096
#else
  const int n = 4096;
#endif
  ContextParams p;
  p.n_ctx = n;
  auto ctx = make_context(*model, p);
  std::vector<int32_t> toks(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) toks[static_cast<size_t>(i)] = 3 + (i * 7919) % 4000;
  Batch b;
  for (int i = 0; i < n; ++i) b.add(toks[static_cast<size_t>(i)], i, 0, i == n - 1);
  ASSERT_TRUE(ctx->decode(b).ok());
  ASSERT_EQ(ctx->n_outputs(), 1);
  for (int64_t i = 0; i < ctx->n_vocab(); ++i) ASSERT_TRUE(std::isfinite(ctx->logits(0)[i]));
  // Scratch is sized by the ubatch, not the context: nothing quadratic in n.
  EXPECT_LT(ctx->scratch_bytes(), size_t{64} << 20);
  // The context is full now.
  Batch one;
  one.add(1, n, 0, true);
  const Status st = ctx->decode(one);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.to_string();
}

TEST(RuntimeErrors, BadBatchesAreRejected) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_model(dir, "llama-spm-q4_0");
  ASSERT_NE(model, nullptr);
  ContextParams p;
  p.n_ctx = 16;
  auto ctx = make_context(*model, p);
  auto expect_error = [&](Batch b, StatusCode code, const std::string& needle) {
    const Status st = ctx->decode(b);
    EXPECT_EQ(st.code(), code) << st.to_string();
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.to_string();
  };
  expect_error(Batch{}, StatusCode::kInvalidArgument, "empty");
  Batch b;
  b.add(99999, 0, 0, true);
  expect_error(b, StatusCode::kInvalidArgument, "outside the vocabulary");
  b.clear();
  b.add(1, 0, 1, true);
  expect_error(b, StatusCode::kInvalidArgument, "sequence id");
  b.clear();
  b.add(1, 0, 0, true);
  b.add(2, 0, 0, true);
  expect_error(b, StatusCode::kInvalidArgument, "does not follow");
  b.clear();
  for (int i = 0; i < 17; ++i) b.add(1, i, 0, false);
  expect_error(b, StatusCode::kOutOfRange, "context is full");
  // Nothing was evaluated: the context is still empty and usable.
  EXPECT_EQ(ctx->seq_pos_max(0), -1);
  b.clear();
  b.add(1, 0, 0, true);
  EXPECT_TRUE(ctx->decode(b).ok());
  EXPECT_EQ(ctx->n_outputs(), 1);

  ContextParams bad;
  bad.n_ctx = 0;
  EXPECT_FALSE(Context::create(*model, bad).ok());
  bad = ContextParams{};
  bad.n_seq_max = 65;
  EXPECT_FALSE(Context::create(*model, bad).ok());
  bad = ContextParams{};
  bad.kv_type = kernels::KvType::kQ8_0;
  EXPECT_TRUE(Context::create(*model, bad).ok());  // head size 64: fine
}

}  // namespace
}  // namespace ember
