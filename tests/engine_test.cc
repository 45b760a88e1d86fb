// Engine: the three generation styles agree, cancellation, stop strings, UTF-8 chunks, limits and
// KV prefix reuse, on the shared tiny models (random weights: the text is gibberish, but the token
// streams are fully determined by the model, the prompt, the parameters and the seed).
#include "ember/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "testdata.h"
#include "text/utf8_stream.h"

namespace ember {
namespace {

std::string model_path(const char* name) {
  return (testing::testdata_dir() / "models" / name).string();
}

std::unique_ptr<Engine> load(const char* name, EngineOptions options = {}) {
  if (options.n_ctx == 4096) options.n_ctx = 512;
  auto e = Engine::load(model_path(name), options);
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return e.ok() ? std::move(*e) : nullptr;
}

GenerationParams sampled(uint32_t seed, int max_tokens = 24) {
  GenerationParams p;
  p.sampling.temperature = 0.8f;
  p.sampling.seed = seed;
  p.max_tokens = max_tokens;
  return p;
}

bool is_valid_utf8(const std::string& s) {
  return text::utf8_sanitize(s) == s;
}

class EngineModels : public ::testing::TestWithParam<const char*> {};

TEST_P(EngineModels, PushPullAndRangeGiveTheSameTokens) {
  EMBER_REQUIRE_TESTDATA(data);
  auto engine = load(GetParam());
  ASSERT_TRUE(engine);
  const std::string prompt = "Once upon a time";
  for (uint32_t seed : {1u, 2u, 3u, 4u, 5u}) {
    const GenerationParams params = sampled(seed);
    std::string pushed_text;
    auto pushed = engine->generate(prompt, params, [&](const GenerationChunk& c) {
      EXPECT_TRUE(is_valid_utf8(c.text));
      pushed_text += c.text;
      return true;
    });
    ASSERT_TRUE(pushed.ok()) << pushed.status().to_string();
    EXPECT_EQ(pushed_text, pushed->text);

    auto g = engine->begin(prompt, params);
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    std::vector<int32_t> pulled;
    std::string pulled_text;
    while (auto chunk = g->next()) {
      pulled.insert(pulled.end(), chunk->tokens.begin(), chunk->tokens.end());
      pulled_text += chunk->text;
    }
    GenerationResult pulled_result = g->end();
    pulled_text += pulled_result.tail;

    std::string ranged_text;
    auto stream = engine->stream(prompt, params);
    for (const GenerationChunk& c : stream) ranged_text += c.text;

    EXPECT_EQ(pulled, pushed->tokens) << "seed " << seed;
    EXPECT_EQ(pulled_result.tokens, pushed->tokens);
    EXPECT_EQ(stream.result().tokens, pushed->tokens);
    EXPECT_EQ(pulled_text, pushed->text);
    EXPECT_EQ(ranged_text, pushed->text);
    EXPECT_EQ(pushed->finish_reason, pulled_result.finish_reason);
  }
}

TEST_P(EngineModels, OneAndTwoThreadsAndTwoRunsAgree) {
  EMBER_REQUIRE_TESTDATA(data);
  EngineOptions one;
  one.n_threads = 1;
  EngineOptions two;
  two.n_threads = 2;
  auto a = load(GetParam(), one);
  auto b = load(GetParam(), two);
  ASSERT_TRUE(a && b);
  for (uint32_t seed : {11u, 12u, 13u, 14u, 15u}) {
    auto ra = a->generate("The quick brown fox", sampled(seed));
    auto rb = b->generate("The quick brown fox", sampled(seed));
    auto rb2 = b->generate("The quick brown fox", sampled(seed));
    ASSERT_TRUE(ra.ok() && rb.ok() && rb2.ok());
    EXPECT_EQ(ra->tokens, rb->tokens) << "seed " << seed;
    EXPECT_EQ(rb->tokens, rb2->tokens) << "seed " << seed;
  }
}

// A prompt long enough to be evaluated as one large batch the first time, and (all but its last
// token) reused from the cache the second time: the sampled tokens and their probabilities must
// not depend on the cache state, so two identical requests give identical results.
TEST_P(EngineModels, ColdAndWarmCacheGiveIdenticalProbabilities) {
  EMBER_REQUIRE_TESTDATA(data);
  std::string prompt;
  for (int i = 0; i < 12; ++i) prompt += "The quick brown fox jumps over the lazy dog. ";
  auto cold = load(GetParam());
  auto warm = load(GetParam());
  ASSERT_TRUE(cold && warm);
  // Tokens and the probabilities of the top candidates at every step.
  auto run = [&](Engine& engine, const GenerationParams& params, int32_t* cached) {
    std::vector<float> probs;
    auto r = engine.generate(prompt, params, [&](const GenerationChunk& c) {
      for (const auto& step : c.top_probabilities)
        for (const TokenProbability& tp : step) probs.push_back(tp.probability);
      return true;
    });
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return std::make_pair(std::vector<int32_t>{}, probs);
    EXPECT_GE(r->usage.prompt_tokens, 64);
    if (cached != nullptr) *cached = r->usage.cached_prompt_tokens;
    return std::make_pair(r->tokens, probs);
  };
  for (uint32_t seed : {21u, 22u}) {
    GenerationParams params = sampled(seed, 8);
    params.sampling.n_probs = 5;
    const auto first = run(*warm, params, nullptr);  // fills the cache from empty
    int32_t cached = 0;
    const auto again = run(*warm, params, &cached);  // reuses the prompt from the cache
    const auto fresh = run(*cold, params, nullptr);
    cold = load(GetParam());  // the next seed starts cold again
    ASSERT_TRUE(cold);
    EXPECT_GT(cached, 0);
    ASSERT_FALSE(first.first.empty());
    ASSERT_EQ(first.second.size(), first.first.size() * 5);
    EXPECT_EQ(again.first, first.first) << "seed " << seed;
    EXPECT_EQ(fresh.first, first.first) << "seed " << seed;
    // Bit-identical probabilities: exact float equality on purpose.
    EXPECT_EQ(again.second, first.second) << "seed " << seed;
    EXPECT_EQ(fresh.second, first.second) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, EngineModels,
                         ::testing::Values("llama-spm-q8_0.gguf", "qwen2-q8_0.gguf",
                                           "llama3-bpe-q4_k_m.gguf"));

TEST(Engine, GreedyMatchesTheReferenceContinuation) {
  // golden/<model>.p1.json holds llama.cpp's greedy continuation; with temperature 0 ember must
  // produce the same tokens up to the first step whose reference margin is below 0.1.
  EMBER_REQUIRE_TESTDATA(data);
  const auto golden = testing::testdata_dir() / "golden" / "llama-spm-f32.p1.json";
  auto json = nlohmann::json::parse(testing::read_file_bytes(golden));
  auto engine = load("llama-spm-f32.gguf");
  ASSERT_TRUE(engine);
  GenerationParams p;
  p.sampling.temperature = 0.0f;
  p.max_tokens = 16;
  p.add_special = json["add_special"].get<bool>();
  p.parse_special = json["parse_special"].get<bool>();
  auto r = engine->generate(json["prompt"].get<std::string>(), p);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const auto ref = json["greedy_tokens"].get<std::vector<int32_t>>();
  const auto margins = json["greedy_margins"].get<std::vector<double>>();
  for (size_t i = 0; i < ref.size() && i < r->tokens.size(); ++i) {
    if (margins[i] < 0.1) break;
    ASSERT_EQ(r->tokens[i], ref[i]) << "step " << i;
  }
}

TEST(Engine, StopStringSpanningTokensIsNotEmitted) {
  EMBER_REQUIRE_TESTDATA(data);
  auto engine = load("llama-spm-q8_0.gguf");
  ASSERT_TRUE(engine);
  GenerationParams p = sampled(7, 40);
  p.sampling.temperature = 0.0f;
  auto free_run = engine->generate("Hello", p);
  ASSERT_TRUE(free_run.ok());
  const std::string& text = free_run->text;
  // Pick a stop string that straddles the boundary between two generated tokens.
  std::string first_piece;
  for (int32_t t : free_run->tokens) {
    first_piece = *engine->tokenizer().token_to_piece(t, false);
    if (!first_piece.empty()) break;
  }
  ASSERT_GT(text.size(), first_piece.size() + 2);
  const size_t cut = text.find(first_piece) + first_piece.size();
  const std::string stop = text.substr(cut - 1, 3);
  p.stop = {stop};
  std::string streamed;
  auto r = engine->generate("Hello", p, [&](const GenerationChunk& c) {
    streamed += c.text;
    EXPECT_EQ(streamed.find(stop), std::string::npos);
    return true;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, FinishReason::kStop);
  EXPECT_EQ(r->stop_string, stop);
  EXPECT_EQ(r->text, text.substr(0, text.find(stop)));
  EXPECT_EQ(streamed, r->text);
}

TEST(Engine, CancelFromCallbackAndFromAnotherThread) {
  EMBER_REQUIRE_TESTDATA(data);
  auto engine = load("llama-spm-q8_0.gguf");
  ASSERT_TRUE(engine);
  GenerationParams p = sampled(3, 200);
  p.ignore_eos = true;
  int seen = 0;
  auto r = engine->generate("Tell me", p, [&](const GenerationChunk&) {
    if (++seen == 5) engine->cancel();
    return true;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(r->tokens.size(), 5u);

  // From another thread, mid-generation.
  std::atomic<bool> stop_hammer{false};
  auto g = engine->begin("Tell me", p);
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->next().has_value());
  std::thread canceller([&] { engine->cancel(); });
  canceller.join();
  EXPECT_FALSE(g->next().has_value());
  EXPECT_EQ(g->end().finish_reason, FinishReason::kCancelled);

  // Mid-prefill: a long prompt evaluated one token per batch while another thread keeps
  // cancelling; the engine stays usable afterwards.
  EngineOptions small_batches;
  small_batches.n_batch = 1;
  small_batches.n_ctx = 2048;
  auto slow = load("llama-spm-q8_0.gguf", small_batches);
  ASSERT_TRUE(slow);
  std::string long_prompt;
  // ~1,500 single-token batches: long enough for the other thread to be scheduled even on a
  // loaded machine.
  for (int i = 0; i < 1500; ++i) long_prompt += "word ";
  std::atomic<bool> hammering{false};
  std::thread hammer([&] {
    while (!stop_hammer.load()) {
      slow->cancel();
      hammering = true;
    }
  });
  while (!hammering.load()) std::this_thread::yield();
  auto cancelled = slow->generate(long_prompt, p);
  stop_hammer = true;
  hammer.join();
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->finish_reason, FinishReason::kCancelled);
  EXPECT_TRUE(cancelled->tokens.empty());
  auto after = slow->generate("Hello", sampled(1, 4));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->tokens.size(), 4u);
}

TEST(Engine, CallbackReturningFalseStops) {
  EMBER_REQUIRE_TESTDATA(data);
  auto engine = load("qwen2-q8_0.gguf");
  ASSERT_TRUE(engine);
  GenerationParams p = sampled(5, 50);
  p.ignore_eos = true;
  auto r = engine->generate("Hi", p, [](const GenerationChunk&) { return false; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(r->tokens.size(), 1u);
}

TEST(Engine, LengthLimitsAndContextFull) {
  EMBER_REQUIRE_TESTDATA(data);
  EngineOptions o;
  o.n_ctx = 32;
  auto engine = load("llama-spm-q8_0.gguf", o);
  ASSERT_TRUE(engine);
  GenerationParams p = sampled(9, 5);
  p.ignore_eos = true;
  auto r = engine->generate("Hello", p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, FinishReason::kLength);
  EXPECT_EQ(r->tokens.size(), 5u);

  p.max_tokens = -1;
  auto full = engine->generate("Hello", p);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->finish_reason, FinishReason::kLength);
  EXPECT_EQ(full->usage.prompt_tokens + full->usage.completion_tokens, 33)
      << "every cell used, plus the last sampled token that needs none";

  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += " word";
  auto too_long = engine->generate(long_prompt, p);
  ASSERT_FALSE(too_long.ok());
  const std::string msg = too_long.status().message();
  EXPECT_NE(msg.find("32"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(*engine->token_count(long_prompt, true, true))),
            std::string::npos)
      << msg;
}

TEST(Engine, PrefixReuseEvaluatesOnlyTheNewSuffix) {
  EMBER_REQUIRE_TESTDATA(data);
  auto engine = load("qwen2-q8_0.gguf");
  ASSERT_TRUE(engine);
  GenerationParams p = sampled(1, 4);
  auto first = engine->generate("The capital of France is", p);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->usage.cached_prompt_tokens, 0);
  auto again = engine->generate("The capital of France is", p);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->usage.cached_prompt_tokens, again->usage.prompt_tokens - 1);
  EXPECT_EQ(again->tokens, first->tokens) << "reuse must not change the result";
  auto longer = engine->generate("The capital of France is Paris, and", p);
  ASSERT_TRUE(longer.ok());
  EXPECT_GE(longer->usage.cached_prompt_tokens, again->usage.prompt_tokens - 1);

  // The same prompt evaluated from scratch gives the same tokens.
  auto fresh = load("qwen2-q8_0.gguf");
  auto ref = fresh->generate("The capital of France is Paris, and", p);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->tokens, longer->tokens);
}

TEST(Engine, SplitCharactersArriveWhole) {
  // The SPM model has byte-fallback tokens: characters outside its vocabulary are generated as
  // several <0xNN> tokens. Sampling flat (temperature 2, no filters) emits many of them, in
  // valid and invalid orders; every chunk must still be valid UTF-8.
  EMBER_REQUIRE_TESTDATA(data);
  auto engine = load("llama-spm-q8_0.gguf");
  ASSERT_TRUE(engine);
  for (int32_t seed : {1, 2, 3}) {
    GenerationParams p = sampled(static_cast<uint32_t>(seed), 30);
    p.sampling.temperature = 2.0f;
    p.sampling.top_k = 0;
    p.sampling.min_p = 0.0f;
    p.sampling.top_p = 1.0f;
    auto r = engine->generate("x", p, [&](const GenerationChunk& c) {
      EXPECT_TRUE(is_valid_utf8(c.text)) << "chunk is not valid UTF-8";
      return true;
    });
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(is_valid_utf8(r->text));
  }
}

TEST(Engine, InvalidParametersAndOptions) {
  EMBER_REQUIRE_TESTDATA(data);
  auto engine = load("qwen2-q8_0.gguf");
  ASSERT_TRUE(engine);
  GenerationParams p;
  p.sampling.top_p = 2.0f;
  EXPECT_FALSE(engine->generate("x", p).ok());
  p = GenerationParams{};
  p.max_tokens = -5;
  EXPECT_FALSE(engine->generate("x", p).ok());
  p = GenerationParams{};
  p.sampling.logit_bias[1 << 30] = 1.0f;
  EXPECT_FALSE(engine->generate("x", p).ok());
  EngineOptions o;
  o.n_batch = 0;
  EXPECT_FALSE(Engine::load(model_path("qwen2-q8_0.gguf"), o).ok());
  EXPECT_FALSE(Engine::load("/nonexistent.gguf").ok());
  // One generation at a time.
  auto g = engine->begin("x", sampled(1, 3));
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(engine->begin("y", sampled(1, 3)).ok());
  g->end();
  EXPECT_TRUE(engine->begin("y", sampled(1, 3)).ok());
}

}  // namespace
}  // namespace ember
