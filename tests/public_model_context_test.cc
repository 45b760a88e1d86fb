// The public lower layer (ember/model.h, ember/context.h) on the shared tiny models: accessors
// against the GGUF file read independently, logits against llama.cpp's golden logits and
// bit-for-bit against the runtime context and the Engine, multi-sequence behaviour (batched
// sequences, seq_cp, seq_rm, seq_keep) against fresh evaluations, argument errors, and Engines
// sharing one Model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ember/context.h"
#include "ember/engine.h"
#include "ember/model.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/context.h"
#include "testdata.h"

namespace ember {
namespace {

std::string model_path(const std::filesystem::path& dir, const std::string& name) {
  return (dir / "models" / (name + ".gguf")).string();
}

std::shared_ptr<const Model> load_model(const std::filesystem::path& dir, const std::string& name) {
  auto m = Model::load(model_path(dir, name), {.n_threads = 2});
  EXPECT_TRUE(m.ok()) << name << ": " << m.status().to_string();
  return m.ok() ? *m : nullptr;
}

std::unique_ptr<Context> make_context(const std::shared_ptr<const Model>& m, ContextOptions o) {
  auto c = Context::create(m, o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(*c) : nullptr;
}

ContextOptions small_options(int32_t n_seq_max = 1) {
  ContextOptions o;
  o.n_ctx = 256;
  o.n_threads = 2;
  o.n_seq_max = n_seq_max;
  return o;
}

// A deterministic token sequence of length n inside the vocabulary (an LCG, not ember's output).
std::vector<int32_t> tokens(int32_t n_vocab, size_t n, uint32_t seed) {
  std::vector<int32_t> out;
  uint32_t s = seed;
  for (size_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    out.push_back(static_cast<int32_t>((s >> 8) % static_cast<uint32_t>(n_vocab)));
  }
  return out;
}

// Decodes `toks` into sequence `seq` from position `pos0` in one batch and returns the logits of
// every token, concatenated.
std::vector<float> eval(Context& ctx, const std::vector<int32_t>& toks, int32_t pos0 = 0,
                        int32_t seq = 0) {
  Batch b;
  for (size_t i = 0; i < toks.size(); ++i)
    b.add(toks[i], pos0 + static_cast<int32_t>(i), seq, true);
  const Status st = ctx.decode(b);
  EXPECT_TRUE(st.ok()) << st.to_string();
  std::vector<float> out;
  if (!st.ok()) return out;
  for (int32_t i = 0; i < ctx.n_outputs(); ++i) {
    auto l = ctx.logits(i);
    EXPECT_TRUE(l.ok());
    out.insert(out.end(), l->begin(), l->end());
  }
  return out;
}

// Bit-for-bit equality of two float arrays (memcmp: NaNs and signed zeros compare exactly).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<float> slice(const std::vector<float>& v, size_t row0, size_t rows, size_t n) {
  return std::vector<float>(v.begin() + static_cast<ptrdiff_t>(row0 * n),
                            v.begin() + static_cast<ptrdiff_t>((row0 + rows) * n));
}

// The architectures of the shared models, one file each.
const char* const kModels[] = {"llama-spm-q8_0", "llama3-bpe-f16", "qwen2-q8_0", "qwen3-f16",
                               "qwen3moe-q8_0",  "phi3-f16",       "gemma2-f16", "gemma3-q8_0"};

// ---- Model accessors vs the file read with the GGUF reader -------------------------------------

TEST(PublicModel, AccessorsMatchTheGgufFile) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    const std::string path = model_path(dir, name);
    auto file = GgufFile::open(path);
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    auto model = load_model(dir, name);
    ASSERT_TRUE(model);

    const std::string arch = *file->get_string("general.architecture");
    EXPECT_EQ(model->architecture(), arch);
    EXPECT_EQ(model->description().rfind(arch + " ", 0), 0u) << model->description();
    EXPECT_EQ(model->n_ctx_train(), *file->get_int(arch + ".context_length"));
    EXPECT_EQ(model->n_embd(), *file->get_int(arch + ".embedding_length"));
    EXPECT_EQ(model->n_layer(), *file->get_int(arch + ".block_count"));
    EXPECT_EQ(model->n_head(), *file->get_int(arch + ".attention.head_count"));
    auto head_kv = file->get_int(arch + ".attention.head_count_kv");
    EXPECT_EQ(model->n_head_kv(),
              head_kv.ok() ? *head_kv : *file->get_int(arch + ".attention.head_count"));
    const GgufValue* vocab = file->find("tokenizer.ggml.tokens");
    ASSERT_NE(vocab, nullptr);
    EXPECT_EQ(static_cast<size_t>(model->n_vocab()), vocab->array_size());

    auto tmpl = file->get_string("tokenizer.chat_template");
    ASSERT_TRUE(tmpl.ok()) << "every shared model has a chat template";
    EXPECT_EQ(model->chat_template(), *tmpl);
    EXPECT_EQ(model->metadata("tokenizer.chat_template"), *tmpl);
    EXPECT_EQ(model->metadata("general.architecture"), arch);
    EXPECT_EQ(model->metadata(arch + ".block_count"),
              std::to_string(*file->get_int(arch + ".block_count")));
    EXPECT_EQ(model->metadata("tokenizer.ggml.tokens"),
              "[string x " + std::to_string(vocab->array_size()) + "]");
    EXPECT_EQ(model->metadata("no.such.key"), std::nullopt);

    std::vector<std::string> keys;
    for (const auto& kv : file->metadata()) keys.push_back(kv.first);
    EXPECT_EQ(model->metadata_keys(), keys);

    uint64_t bytes = 0;
    for (const GgufTensorInfo& t : file->tensors()) bytes += t.n_bytes;
    EXPECT_EQ(model->weight_bytes(), bytes);

    // The Model's tokenizer is the file's tokenizer.
    auto standalone = Tokenizer::load(path);
    ASSERT_TRUE(standalone.ok());
    EXPECT_EQ(model->tokenizer().n_vocab(), standalone->n_vocab());
    const std::string text = "Hello world, 你好 <|im_end|> 123";
    EXPECT_EQ(*model->tokenizer().tokenize(text, true, true),
              *standalone->tokenize(text, true, true));
  }
}

TEST(PublicModel, LoadErrors) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto missing = Model::load((dir / "models" / "no-such-model.gguf").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no-such-model.gguf"), std::string::npos)
      << missing.status().to_string();
  auto bad_threads = Model::load(model_path(dir, "qwen2-q8_0"), {.n_threads = -1});
  ASSERT_FALSE(bad_threads.ok());
  EXPECT_EQ(bad_threads.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_threads.status().message().find("n_threads"), std::string::npos);
  // Not a GGUF file at all (the README of the test data).
  auto not_gguf = Model::load((dir / "README.md").string());
  EXPECT_FALSE(not_gguf.ok());
  // Loaded without mmap: same hyper-parameters.
  auto read = Model::load(model_path(dir, "qwen2-q8_0"), {.use_mmap = false, .n_threads = 2});
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ((*read)->n_vocab(), load_model(dir, "qwen2-q8_0")->n_vocab());
}

// ---- Logits: golden reference, runtime context, Engine
// -------------------------------------------

double nrmse(std::span<const float> ours, const float* ref) {
  const size_t n = ours.size();
  double mean = 0.0;
  for (size_t i = 0; i < n; ++i) mean += ref[i];
  mean /= static_cast<double>(n);
  double var = 0.0, err = 0.0;
  for (size_t i = 0; i < n; ++i) {
    var += (ref[i] - mean) * (ref[i] - mean);
    const double d = static_cast<double>(ours[i]) - ref[i];
    err += d * d;
  }
  return std::sqrt(err / var);
}

size_t argmax(std::span<const float> x) {
  return static_cast<size_t>(std::max_element(x.begin(), x.end()) - x.begin());
}

double top2_margin(std::span<const float> x) {
  float a = -INFINITY, b = -INFINITY;
  for (float v : x) {
    if (v > a) {
      b = a;
      a = v;
    } else if (v > b) {
      b = v;
    }
  }
  return static_cast<double>(a) - static_cast<double>(b);
}

TEST(PublicContext, LogitsMatchTheGoldenReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    for (const char* prompt : {"p1", "p2"}) {
      const std::string stem = std::string(name) + "." + prompt;
      SCOPED_TRACE(stem);
      std::ifstream in(dir / "golden" / (stem + ".json"));
      ASSERT_TRUE(in.good());
      const nlohmann::json j = nlohmann::json::parse(in);
      const auto prompt_tokens = j.at("prompt_tokens").get<std::vector<int32_t>>();
      const auto positions = j.at("logit_positions").get<std::vector<int32_t>>();
      const auto greedy = j.at("greedy_tokens").get<std::vector<int32_t>>();
      const auto margins = j.at("greedy_margins").get<std::vector<double>>();
      const auto bytes =
          testing::read_file_bytes(dir / "golden" / j.at("logits_file").get<std::string>());
      std::vector<float> ref(bytes.size() / sizeof(float));
      std::memcpy(ref.data(), bytes.data(), ref.size() * sizeof(float));

      auto model = load_model(dir, name);
      ASSERT_TRUE(model);
      ASSERT_EQ(model->n_vocab(), j.at("n_vocab").get<int32_t>());
      const size_t nv = static_cast<size_t>(model->n_vocab());
      // The public tokenizer reproduces the reference's prompt tokens.
      auto toks = model->tokenizer().tokenize(j.at("prompt").get<std::string>(),
                                              j.at("add_special").get<bool>(),
                                              j.at("parse_special").get<bool>());
      ASSERT_TRUE(toks.ok());
      EXPECT_EQ(*toks, prompt_tokens);

      ContextOptions o;
      o.n_ctx = 512;  // the reference's settings
      o.n_batch = 512;
      o.n_threads = 2;
      auto ctx = make_context(model, o);
      ASSERT_TRUE(ctx);
      Batch batch;
      for (size_t i = 0; i < prompt_tokens.size(); ++i) {
        const bool want = std::find(positions.begin(), positions.end(), static_cast<int32_t>(i)) !=
                          positions.end();
        batch.add(prompt_tokens[i], static_cast<int32_t>(i), 0, want);
      }
      ASSERT_TRUE(ctx->decode(batch).ok());
      ASSERT_EQ(ctx->n_outputs(), static_cast<int32_t>(positions.size()));
      const double tol = std::string(name).find("-f16") != std::string::npos ? 0.01 : 0.03;
      for (size_t i = 0; i < positions.size(); ++i) {
        auto ours = ctx->logits(static_cast<int32_t>(i));
        ASSERT_TRUE(ours.ok());
        ASSERT_EQ(ours->size(), nv);
        const float* r = ref.data() + i * nv;
        EXPECT_LE(nrmse(*ours, r), tol) << "position " << positions[i];
        const std::span<const float> rs(r, nv);
        if (top2_margin(rs) > 0.1) {
          EXPECT_EQ(argmax(*ours), argmax(rs)) << "position " << positions[i];
        }
      }
      // Greedy continuation up to the reference's first near-tie.
      int32_t pos = static_cast<int32_t>(prompt_tokens.size());
      std::vector<float> cur(ctx->logits(-1)->begin(), ctx->logits(-1)->end());
      for (size_t step = 0; step < greedy.size() && margins[step] >= 0.1; ++step) {
        ASSERT_EQ(static_cast<int32_t>(argmax(cur)), greedy[step]) << "greedy step " << step;
        batch.clear();
        batch.add(greedy[step], pos++, 0, true);
        ASSERT_TRUE(ctx->decode(batch).ok());
        cur.assign(ctx->logits(0)->begin(), ctx->logits(0)->end());
      }
    }
  }
}

TEST(PublicContext, BitIdenticalToTheRuntimeContext) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    auto model = load_model(dir, name);
    ASSERT_TRUE(model);
    auto rmodel = runtime::Model::load(model_path(dir, name), {.n_threads = 2});
    ASSERT_TRUE(rmodel.ok());
    const std::vector<int32_t> toks = tokens(model->n_vocab(), 40, 7);
    for (KvCacheType kv : {KvCacheType::kF16, KvCacheType::kF32}) {
      ContextOptions o = small_options();
      o.kv_cache_type = kv;
      o.n_ubatch = 16;  // the 40 tokens in three ubatches
      auto ctx = make_context(model, o);
      ASSERT_TRUE(ctx);
      runtime::ContextParams p;
      p.n_ctx = 256;
      p.n_ubatch = 16;
      p.n_threads = 2;
      p.kv_type = kv == KvCacheType::kF16 ? kernels::KvType::kF16 : kernels::KvType::kF32;
      auto rctx = runtime::Context::create(**rmodel, p);
      ASSERT_TRUE(rctx.ok());
      runtime::Batch rb;
      for (size_t i = 0; i < toks.size(); ++i) rb.add(toks[i], static_cast<int32_t>(i), 0, true);
      ASSERT_TRUE((*rctx)->decode(rb).ok());
      const std::vector<float> ours = eval(*ctx, toks);
      ASSERT_EQ(ours.size(), toks.size() * static_cast<size_t>(model->n_vocab()));
      const float* theirs = (*rctx)->logits(0);
      EXPECT_EQ(std::memcmp(ours.data(), theirs, ours.size() * sizeof(float)), 0);
    }
  }
}

// Greedy generation by the Engine equals argmax decoding through a public Context, token for
// token (the Engine evaluates the same prompt with the same batch size).
TEST(PublicContext, GreedyDecodingMatchesTheEngine) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : {"llama3-bpe-f16", "qwen2-q8_0", "gemma3-q8_0"}) {
    SCOPED_TRACE(name);
    auto model = load_model(dir, name);
    ASSERT_TRUE(model);
    auto engine = Engine::create(model, {.n_ctx = 256, .n_threads = 2});
    ASSERT_TRUE(engine.ok()) << engine.status().to_string();
    GenerationParams gp;
    gp.sampling.temperature = 0.0f;
    gp.max_tokens = 12;
    gp.ignore_eos = true;
    const std::string prompt = "Once upon a time";
    auto result = (*engine)->generate(prompt, gp);
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    ASSERT_EQ(result->tokens.size(), 12u);

    ContextOptions o = small_options();
    o.attention = ContextOptions::Attention::kTiled;  // the Engine's choice
    auto ctx = make_context(model, o);
    ASSERT_TRUE(ctx);
    std::vector<int32_t> toks =
        *model->tokenizer().tokenize(prompt, gp.add_special, gp.parse_special);
    Batch b;
    for (size_t i = 0; i < toks.size(); ++i) {
      b.add(toks[i], static_cast<int32_t>(i), 0, i + 1 == toks.size());
    }
    std::vector<int32_t> ours;
    for (size_t step = 0; step < 12; ++step) {
      ASSERT_TRUE(ctx->decode(b).ok());
      auto l = ctx->logits(0);
      ASSERT_TRUE(l.ok());
      // The Engine bans end-of-generation tokens with ignore_eos: do the same.
      std::vector<float> x(l->begin(), l->end());
      for (size_t t = 0; t < x.size(); ++t) {
        if (model->tokenizer().is_eog(static_cast<int32_t>(t))) x[t] = -INFINITY;
      }
      const int32_t next = static_cast<int32_t>(argmax(x));
      ours.push_back(next);
      b.clear();
      b.add(next, static_cast<int32_t>(toks.size() + step), 0, true);
    }
    EXPECT_EQ(ours, result->tokens);
  }
}

// ---- Sequences --------------------------------------------------------------------------------

TEST(PublicContext, TwoSequencesInOneBatchMatchEachAlone) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    auto model = load_model(dir, name);
    ASSERT_TRUE(model);
    const size_t nv = static_cast<size_t>(model->n_vocab());
    const auto a = tokens(model->n_vocab(), 20, 1);
    const auto b = tokens(model->n_vocab(), 13, 2);
    const auto a2 = tokens(model->n_vocab(), 3, 3);
    const auto b2 = tokens(model->n_vocab(), 5, 4);

    // Alone: each in its own context, prompt then continuation.
    auto ca = make_context(model, small_options());
    auto cb = make_context(model, small_options());
    ASSERT_TRUE(ca && cb);
    const auto la = eval(*ca, a), la2 = eval(*ca, a2, 20);
    const auto lb = eval(*cb, b), lb2 = eval(*cb, b2, 13);

    // Together: interleaved in one batch, then the continuations in a second batch (sequence 1
    // first this time).
    auto ctx = make_context(model, small_options(2));
    ASSERT_TRUE(ctx);
    Batch batch;
    std::vector<size_t> row_a, row_b;  // output index of each token
    int32_t out = 0;
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      if (i < a.size()) {
        batch.add(a[i], static_cast<int32_t>(i), 0, true);
        row_a.push_back(static_cast<size_t>(out++));
      }
      if (i < b.size()) {
        batch.add(b[i], static_cast<int32_t>(i), 1, true);
        row_b.push_back(static_cast<size_t>(out++));
      }
    }
    ASSERT_TRUE(ctx->decode(batch).ok());
    ASSERT_EQ(ctx->n_outputs(), 33);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(same_bits(std::vector<float>(ctx->logits(static_cast<int32_t>(row_a[i]))->begin(),
                                               ctx->logits(static_cast<int32_t>(row_a[i]))->end()),
                            slice(la, i, 1, nv)))
          << "sequence 0 token " << i;
    }
    for (size_t i = 0; i < b.size(); ++i) {
      EXPECT_TRUE(same_bits(std::vector<float>(ctx->logits(static_cast<int32_t>(row_b[i]))->begin(),
                                               ctx->logits(static_cast<int32_t>(row_b[i]))->end()),
                            slice(lb, i, 1, nv)))
          << "sequence 1 token " << i;
    }
    batch.clear();
    for (size_t i = 0; i < b2.size(); ++i) batch.add(b2[i], 13 + static_cast<int32_t>(i), 1, true);
    for (size_t i = 0; i < a2.size(); ++i) batch.add(a2[i], 20 + static_cast<int32_t>(i), 0, true);
    ASSERT_TRUE(ctx->decode(batch).ok());
    std::vector<float> all;
    for (int32_t i = 0; i < ctx->n_outputs(); ++i) {
      all.insert(all.end(), ctx->logits(i)->begin(), ctx->logits(i)->end());
    }
    EXPECT_TRUE(same_bits(slice(all, 0, b2.size(), nv), lb2));
    EXPECT_TRUE(same_bits(slice(all, b2.size(), a2.size(), nv), la2));
    EXPECT_EQ(*ctx->seq_pos_max(0), 22);
    EXPECT_EQ(*ctx->seq_pos_max(1), 17);
    EXPECT_EQ(*ctx->seq_pos_min(1), 0);
    EXPECT_EQ(ctx->n_cells_used(), 41);

    // seq_keep(1) drops sequence 0.
    ASSERT_TRUE(ctx->seq_keep(1).ok());
    EXPECT_EQ(*ctx->seq_pos_max(0), -1);
    EXPECT_EQ(*ctx->seq_pos_max(1), 17);
    EXPECT_EQ(ctx->n_cells_used(), 18);
    ctx->clear();
    EXPECT_EQ(ctx->n_cells_used(), 0);
    EXPECT_EQ(ctx->n_outputs(), 0);
    EXPECT_EQ(*ctx->seq_pos_max(1), -1);
  }
}

// seq_keep: the kept sequence continues exactly as if it had been alone. (Sequence 1 is decoded
// first so that its continuation lands after its own cells: the cache scans cells in index order,
// so a continuation placed in a freed cell before older ones would sum attention in another order
// and differ in the last bits.)
TEST(PublicContext, SeqKeepLeavesTheKeptSequenceAsIfAlone) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    auto model = load_model(dir, name);
    ASSERT_TRUE(model);
    const auto a = tokens(model->n_vocab(), 17, 51);
    const auto b = tokens(model->n_vocab(), 9, 52);
    const auto b2 = tokens(model->n_vocab(), 6, 53);
    auto ctx = make_context(model, small_options(2));
    ASSERT_TRUE(ctx);
    Batch batch;
    for (size_t i = 0; i < b.size(); ++i) batch.add(b[i], static_cast<int32_t>(i), 1, false);
    for (size_t i = 0; i < a.size(); ++i) batch.add(a[i], static_cast<int32_t>(i), 0, false);
    ASSERT_TRUE(ctx->decode(batch).ok());
    EXPECT_EQ(ctx->n_outputs(), 0);
    ASSERT_TRUE(ctx->seq_keep(1).ok());
    EXPECT_EQ(*ctx->seq_pos_max(0), -1);
    EXPECT_EQ(ctx->n_cells_used(), 9);

    auto alone = make_context(model, small_options());
    ASSERT_TRUE(alone);
    eval(*alone, b);
    EXPECT_TRUE(same_bits(eval(*ctx, b2, 9, 1), eval(*alone, b2, 9)));
  }
}

TEST(PublicContext, SeqCpThenContinueMatchesAFreshPrefix) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    auto model = load_model(dir, name);
    ASSERT_TRUE(model);
    const auto prompt = tokens(model->n_vocab(), 24, 11);
    const auto cont = tokens(model->n_vocab(), 6, 12);
    constexpr int32_t k = 15;  // the shared prefix [0, k)

    auto ctx = make_context(model, small_options(3));
    ASSERT_TRUE(ctx);
    eval(*ctx, prompt);
    ASSERT_TRUE(ctx->seq_cp(0, 1, 0, k).ok());
    ASSERT_TRUE(ctx->seq_cp(0, 2).ok());  // the whole prompt
    EXPECT_EQ(*ctx->seq_pos_max(1), k - 1);
    EXPECT_EQ(*ctx->seq_pos_max(2), 23);
    EXPECT_EQ(ctx->n_cells_used(), 24) << "copies share cells";
    const auto copied = eval(*ctx, cont, k, 1);
    const auto copied_all = eval(*ctx, cont, 24, 2);

    // Fresh: the prefix, then the continuation, in a new context.
    auto fresh = make_context(model, small_options());
    ASSERT_TRUE(fresh);
    eval(*fresh, std::vector<int32_t>(prompt.begin(), prompt.begin() + k));
    EXPECT_TRUE(same_bits(copied, eval(*fresh, cont, k)));
    auto fresh_all = make_context(model, small_options());
    eval(*fresh_all, prompt);
    EXPECT_TRUE(same_bits(copied_all, eval(*fresh_all, cont, 24)));
  }
}

TEST(PublicContext, SeqRmThenRedecode) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : kModels) {
    SCOPED_TRACE(name);
    auto model = load_model(dir, name);
    ASSERT_TRUE(model);
    const size_t nv = static_cast<size_t>(model->n_vocab());
    const auto prompt = tokens(model->n_vocab(), 30, 21);
    const auto other = tokens(model->n_vocab(), 8, 22);
    constexpr int32_t k = 22;

    auto ctx = make_context(model, small_options());
    ASSERT_TRUE(ctx);
    const auto full = eval(*ctx, std::vector<int32_t>(prompt.begin(), prompt.begin() + k));
    const auto tail = eval(*ctx, std::vector<int32_t>(prompt.begin() + k, prompt.end()), k);
    ASSERT_TRUE(ctx->seq_rm(0, k, -1).ok());
    EXPECT_EQ(*ctx->seq_pos_max(0), k - 1);
    EXPECT_EQ(ctx->n_cells_used(), k);
    // The same tail again: the same logits.
    EXPECT_TRUE(
        same_bits(eval(*ctx, std::vector<int32_t>(prompt.begin() + k, prompt.end()), k), tail));
    // A different tail: as evaluated after the prefix in a fresh context.
    ASSERT_TRUE(ctx->seq_rm(0, k).ok());
    const auto replaced = eval(*ctx, other, k);
    auto fresh = make_context(model, small_options());
    ASSERT_TRUE(fresh);
    EXPECT_TRUE(
        same_bits(slice(eval(*fresh, std::vector<int32_t>(prompt.begin(), prompt.begin() + k)), 0,
                        static_cast<size_t>(k), nv),
                  full));
    EXPECT_TRUE(same_bits(replaced, eval(*fresh, other, k)));
    // Everything of every sequence.
    ASSERT_TRUE(ctx->seq_rm(-1).ok());
    EXPECT_EQ(*ctx->seq_pos_max(0), -1);
    EXPECT_EQ(ctx->n_cells_used(), 0);
  }
}

// ---- Errors -----------------------------------------------------------------------------------

void expect_error(const Status& st, StatusCode code, const std::string& needle) {
  EXPECT_FALSE(st.ok()) << "expected an error mentioning \"" << needle << "\"";
  EXPECT_EQ(st.code(), code) << st.to_string();
  EXPECT_NE(st.message().find(needle), std::string::npos) << st.to_string();
}

TEST(PublicContext, RejectsInvalidOptions) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_model(dir, "qwen2-q8_0");
  ASSERT_TRUE(model);
  constexpr auto kInvalid = StatusCode::kInvalidArgument;
  expect_error(Context::create(nullptr, {}).status(), kInvalid, "null");
  auto with = [&](auto change) {
    ContextOptions o = small_options();
    change(o);
    return Context::create(model, o).status();
  };
  expect_error(with([](ContextOptions& o) { o.n_ctx = -1; }), kInvalid, "n_ctx");
  expect_error(with([](ContextOptions& o) { o.n_batch = 0; }), kInvalid, "n_batch");
  expect_error(with([](ContextOptions& o) { o.n_ubatch = -1; }), kInvalid, "n_ubatch");
  expect_error(with([](ContextOptions& o) { o.n_ubatch = o.n_batch + 1; }), kInvalid, "n_ubatch");
  expect_error(with([](ContextOptions& o) { o.n_seq_max = 0; }), kInvalid, "sequences");
  expect_error(with([](ContextOptions& o) { o.n_seq_max = 65; }), kInvalid, "sequences");
  expect_error(with([](ContextOptions& o) { o.n_threads = -1; }), kInvalid, "n_threads");
  expect_error(with([](ContextOptions& o) { o.kv_cache_type = static_cast<KvCacheType>(7); }),
               kInvalid, "kv_cache_type");
  expect_error(with([](ContextOptions& o) {
                 o.attention = static_cast<ContextOptions::Attention>(9);
               }),
               kInvalid, "attention");
  // n_ctx 0 is the model's training context (capped at 8192), read from the file.
  auto file = GgufFile::open(model_path(dir, "qwen2-q8_0"));
  ASSERT_TRUE(file.ok());
  auto dflt = Context::create(model, {.n_ctx = 0, .n_threads = 2});
  ASSERT_TRUE(dflt.ok()) << dflt.status().to_string();
  EXPECT_EQ((*dflt)->n_ctx(), std::min<int64_t>(*file->get_int("qwen2.context_length"), 8192));
  EXPECT_EQ((*dflt)->n_batch(), 512);
  EXPECT_EQ((*dflt)->n_ubatch(), 512);
  EXPECT_EQ((*dflt)->n_seq_max(), 1);
  EXPECT_EQ((*dflt)->n_threads(), 2);
  EXPECT_EQ((*dflt)->n_vocab(), model->n_vocab());
  EXPECT_GT((*dflt)->kv_bytes(), 0u);
  EXPECT_EQ((*dflt)->model().get(), model.get());
  expect_error(Engine::create(nullptr).status(), kInvalid, "null");
}

TEST(PublicContext, RejectsInvalidArguments) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_model(dir, "qwen2-q8_0");
  ASSERT_TRUE(model);
  ContextOptions o = small_options(2);
  o.n_ctx = 32;
  o.n_batch = 40;  // larger than the context, to reach the context-size check
  auto ctx = make_context(model, o);
  ASSERT_TRUE(ctx);
  constexpr auto kInvalid = StatusCode::kInvalidArgument;
  constexpr auto kRange = StatusCode::kOutOfRange;
  const int32_t nv = model->n_vocab();

  // No decode yet: no outputs.
  EXPECT_EQ(ctx->n_outputs(), 0);
  expect_error(ctx->logits(0).status(), kRange, "output index 0");

  const auto prompt = tokens(nv, 10, 31);
  const auto ok_logits = eval(*ctx, prompt);  // positions 0..9 of sequence 0, 10 outputs
  ASSERT_EQ(ctx->n_outputs(), 10);
  auto one = [](int32_t tok, int32_t pos, int32_t seq) {
    Batch b;
    b.add(tok, pos, seq, true);
    return b;
  };
  expect_error(ctx->decode(Batch{}), kInvalid, "empty");
  Batch big;
  for (int32_t i = 0; i < 41; ++i) big.add(1, 100 + i, 1, false);
  expect_error(ctx->decode(big), kInvalid, "n_batch");
  big.clear();
  for (int32_t i = 0; i < 33; ++i) big.add(1, 100 + i, 1, false);
  expect_error(ctx->decode(big), kRange, "n_ctx = 32");
  big.clear();
  for (int32_t i = 0; i < 23; ++i) big.add(1, 100 + i, 1, false);  // 10 + 23 > 32 cells
  expect_error(ctx->decode(big), kRange, "context is full");
  expect_error(ctx->decode(one(-1, 10, 0)), kInvalid, "token id -1");
  expect_error(ctx->decode(one(nv, 10, 0)), kInvalid, "token id " + std::to_string(nv));
  expect_error(ctx->decode(one(1, 10, -1)), kInvalid, "sequence id -1");
  expect_error(ctx->decode(one(1, 10, 2)), kInvalid, "sequence id 2");
  expect_error(ctx->decode(one(1, -1, 1)), kInvalid, "negative position");
  expect_error(ctx->decode(one(1, 9, 0)), kInvalid, "position 9");  // not after 9
  Batch twice;
  twice.add(1, 10, 0, false);
  twice.add(2, 10, 0, false);
  expect_error(ctx->decode(twice), kInvalid, "position 10");
  // Failed decodes changed nothing: the outputs and the cache are those of the good decode.
  ASSERT_EQ(ctx->n_outputs(), 10);
  EXPECT_TRUE(same_bits(std::vector<float>(ctx->logits(9)->begin(), ctx->logits(9)->end()),
                        slice(ok_logits, 9, 1, static_cast<size_t>(nv))));
  EXPECT_TRUE(same_bits(std::vector<float>(ctx->logits(-1)->begin(), ctx->logits(-1)->end()),
                        slice(ok_logits, 9, 1, static_cast<size_t>(nv))));
  EXPECT_TRUE(same_bits(std::vector<float>(ctx->logits(-10)->begin(), ctx->logits(-10)->end()),
                        slice(ok_logits, 0, 1, static_cast<size_t>(nv))));
  EXPECT_EQ(*ctx->seq_pos_max(0), 9);
  EXPECT_EQ(*ctx->seq_pos_max(1), -1);
  EXPECT_EQ(ctx->n_cells_used(), 10);

  expect_error(ctx->logits(10).status(), kRange, "output index 10");
  expect_error(ctx->logits(-11).status(), kRange, "output index -11");

  expect_error(ctx->seq_rm(-2), kInvalid, "sequence id -2");
  expect_error(ctx->seq_rm(2), kInvalid, "sequence id 2");
  expect_error(ctx->seq_rm(0, 5, 2), kInvalid, "[5, 2)");
  expect_error(ctx->seq_cp(-1, 1), kInvalid, "source sequence id -1");
  expect_error(ctx->seq_cp(2, 1), kInvalid, "source sequence id 2");
  expect_error(ctx->seq_cp(0, -1), kInvalid, "destination sequence id -1");
  expect_error(ctx->seq_cp(0, 2), kInvalid, "destination sequence id 2");
  expect_error(ctx->seq_cp(0, 1, 6, 3), kInvalid, "[6, 3)");
  expect_error(ctx->seq_keep(-1), kInvalid, "sequence id -1");
  expect_error(ctx->seq_keep(2), kInvalid, "sequence id 2");
  expect_error(ctx->seq_pos_max(-1).status(), kInvalid, "sequence id -1");
  expect_error(ctx->seq_pos_max(2).status(), kInvalid, "sequence id 2");
  expect_error(ctx->seq_pos_min(2).status(), kInvalid, "sequence id 2");
  // Copying onto a position the destination already holds in a cell of its own.
  ASSERT_TRUE(ctx->seq_cp(0, 1, 0, 4).ok());
  ASSERT_TRUE(ctx->decode(one(5, 4, 1)).ok());
  expect_error(ctx->seq_cp(0, 1, 2, 8), kInvalid, "already holds position 4");
  EXPECT_TRUE(ctx->seq_cp(0, 1, 0, 4).ok()) << "cells already shared: nothing to do";
  ASSERT_TRUE(ctx->seq_rm(1, 4).ok());
  ASSERT_TRUE(ctx->seq_cp(0, 1, 4, -1).ok());
  EXPECT_EQ(*ctx->seq_pos_max(1), 9);
  EXPECT_TRUE(ctx->seq_cp(1, 1).ok());  // onto itself: nothing to do
  EXPECT_EQ(ctx->n_cells_used(), 10);
  // Empty ranges are fine and remove nothing.
  EXPECT_TRUE(ctx->seq_rm(0, 3, 3).ok());
  EXPECT_EQ(*ctx->seq_pos_max(0), 9);
}

// ---- Sharing ----------------------------------------------------------------------------------

TEST(PublicModel, TwoEnginesShareOneModel) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : {"llama-spm-q8_0", "qwen3-f16"}) {
    SCOPED_TRACE(name);
    auto model = load_model(dir, name);
    ASSERT_TRUE(model);
    const EngineOptions eo{.n_ctx = 256, .n_threads = 2};
    auto e1 = Engine::create(model, eo);
    auto e2 = Engine::create(model, eo);
    ASSERT_TRUE(e1.ok() && e2.ok());
    EXPECT_EQ((*e1)->model().get(), model.get());
    EXPECT_EQ((*e2)->model().get(), model.get());
    EXPECT_EQ(&(*e1)->tokenizer(), &model->tokenizer());
    EXPECT_EQ((*e1)->model_description(), model->description());
    // The engines keep the model alive without the caller's pointer.
    std::weak_ptr<const Model> weak = model;
    model.reset();
    ASSERT_FALSE(weak.expired());

    auto own = Engine::load(model_path(dir, name), eo);
    ASSERT_TRUE(own.ok());
    GenerationParams gp;
    gp.sampling.temperature = 0.8f;
    gp.sampling.seed = 42;
    gp.max_tokens = 16;
    gp.ignore_eos = true;
    const std::string prompt = "The quick brown fox";
    auto r1 = (*e1)->generate(prompt, gp);
    auto r2 = (*e2)->generate(prompt, gp);
    auto r3 = (*own)->generate(prompt, gp);
    ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
    EXPECT_EQ(r1->tokens.size(), 16u);
    EXPECT_EQ(r1->tokens, r2->tokens);
    EXPECT_EQ(r1->text, r2->text);
    EXPECT_EQ(r1->tokens, r3->tokens);
    // Interleaved generations on the two engines: each engine's state is its own.
    auto g1 = (*e1)->begin("Hello", gp);
    auto g2 = (*e2)->begin("Hello", gp);
    ASSERT_TRUE(g1.ok() && g2.ok());
    for (int i = 0; i < 8; ++i) {
      auto c1 = g1->next();
      auto c2 = g2->next();
      ASSERT_TRUE(c1 && c2);
      EXPECT_EQ(c1->tokens, c2->tokens);
    }
    g1->end();
    g2->end();
    e1->reset();
    e2->reset();
    EXPECT_TRUE(weak.expired()) << "the last engine released the model";
  }
}

// A Context and an Engine on one Model at the same time.
TEST(PublicModel, ContextAndEngineShareOneModel) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto model = load_model(dir, "gemma2-f16");
  ASSERT_TRUE(model);
  auto ctx = make_context(model, small_options());
  auto engine = Engine::create(model, {.n_ctx = 256, .n_threads = 2});
  ASSERT_TRUE(ctx && engine.ok());
  EXPECT_EQ(model.use_count(), 3);
  const auto toks = tokens(model->n_vocab(), 12, 41);
  const auto before = eval(*ctx, toks);
  GenerationParams gp;
  gp.sampling.temperature = 0.0f;
  gp.max_tokens = 4;
  ASSERT_TRUE((*engine)->generate("Hi", gp).ok());
  ctx->clear();
  EXPECT_TRUE(same_bits(eval(*ctx, toks), before));
}

}  // namespace
}  // namespace ember
