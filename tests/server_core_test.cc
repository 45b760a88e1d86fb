// ember::Server, the serving core (no HTTP): results against the Engine (the reference, itself
// verified against llama.cpp), batch invariance (alone vs beside other requests, with and
// without a cached prefix), prefix sharing counts against token prefixes computed here, n
// choices, cancellation, limits and errors. Tiny models with random weights: the text is
// gibberish, but token streams are fully determined by model, prompt, parameters and seed.
#include "ember/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "ember/chat.h"
#include "ember/engine.h"
#include "testdata.h"

namespace ember {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const Model> load_model(const char* name) {
  auto m = Model::load((testing::testdata_dir() / "models" / name).string());
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::shared_ptr<const Model>(std::move(*m)) : nullptr;
}

std::unique_ptr<Server> make_server(std::shared_ptr<const Model> model, ServerOptions o) {
  if (o.n_threads == 0) o.n_threads = 2;
  auto s = Server::create(std::move(model), o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(*s) : nullptr;
}

GenerationParams sampled(uint32_t seed, int max_tokens) {
  GenerationParams p;
  p.sampling.temperature = 0.9f;
  p.sampling.seed = seed;
  p.max_tokens = max_tokens;
  return p;
}

// One choice's stream, assembled.
struct ChoiceOut {
  std::vector<int32_t> tokens;
  std::string text;
  FinishReason finish = FinishReason::kNone;
  std::string stop_string;
  Status error;
  GenerationUsage usage;
  int32_t n_last = 0;  // events with last = true (must be 1)
  std::vector<ChatChunk> chat;
};

void add_event(std::vector<ChoiceOut>& out, const RequestEvent& ev) {
  if (static_cast<size_t>(ev.index) >= out.size()) out.resize(static_cast<size_t>(ev.index) + 1);
  ChoiceOut& c = out[static_cast<size_t>(ev.index)];
  EXPECT_EQ(c.n_last, 0) << "event after the last one of choice " << ev.index;
  c.tokens.insert(c.tokens.end(), ev.generation.tokens.begin(), ev.generation.tokens.end());
  c.text += ev.generation.text;
  if (ev.chat) c.chat.push_back(*ev.chat);
  if (ev.last) {
    ++c.n_last;
    c.finish = ev.finish_reason;
    c.stop_string = ev.stop_string;
    c.error = ev.error;
    c.usage = ev.usage;
  }
}

// Pulls every event of a request.
std::vector<ChoiceOut> pull_all(ServerRequest& r) {
  std::vector<ChoiceOut> out;
  while (std::optional<RequestEvent> ev = r.next()) add_event(out, *ev);
  return out;
}

// Events pushed to a callback, collected until the request is done.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ChoiceOut> out;
  int32_t lasts = 0;

  RequestEventCallback callback() {
    return [this](RequestEvent ev) {
      std::lock_guard<std::mutex> lk(mu);
      add_event(out, ev);
      lasts += ev.last ? 1 : 0;
      cv.notify_all();
    };
  }
  std::vector<ChoiceOut> wait(int32_t n) {
    std::unique_lock<std::mutex> lk(mu);
    EXPECT_TRUE(cv.wait_for(lk, 60s, [&] { return lasts >= n; })) << "timed out";
    return out;
  }
};

// A callback that holds the scheduler thread in the first event until open() — a test's way
// to keep a request running (real callbacks must return quickly).
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool is_open = false;

  RequestEventCallback callback() {
    return [this](RequestEvent) {
      std::unique_lock<std::mutex> lk(mu);
      entered = true;
      cv.notify_all();
      cv.wait(lk, [&] { return is_open; });
    };
  }
  void wait_entered() {
    std::unique_lock<std::mutex> lk(mu);
    EXPECT_TRUE(cv.wait_for(lk, 60s, [&] { return entered; }));
  }
  void open() {
    std::lock_guard<std::mutex> lk(mu);
    is_open = true;
    cv.notify_all();
  }
};

CompletionRequest completion(std::string prompt, GenerationParams params, int32_t n = 1) {
  CompletionRequest r;
  r.prompt = std::move(prompt);
  r.params = std::move(params);
  r.n = n;
  return r;
}

// The reference: a fresh Engine on the same model.
GenerationResult engine_generate(const std::shared_ptr<const Model>& model, int32_t n_ctx,
                                 const std::string& prompt, const GenerationParams& params,
                                 KvCacheType kv = KvCacheType::kF16) {
  auto e = Engine::create(model, {.n_ctx = n_ctx, .n_threads = 2, .kv_cache_type = kv});
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  auto r = (*e)->generate(prompt, params);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : GenerationResult{};
}

// Waits until `pred(stats)` holds (the scheduler publishes stats after each step).
template <typename Pred>
bool wait_stats(const Server& s, Pred pred, std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred(s.stats())) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred(s.stats());
}

const char* const kPrompts[] = {
    "Once upon a time",
    "The quick brown fox jumps over the lazy dog, and then",
    "In a hole in the ground there lived",
    "It was the best of times, it was the worst of times, it was the age of wisdom",
    "Call me",
    "A long time ago in a galaxy far, far away there was a small planet whose people",
    "Hello",
    "The capital of France is",
};

TEST(ServerCore, CompletionEqualsEngineAloneAndPullEqualsCallback) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama-spm-q8_0.gguf");
  ASSERT_TRUE(model);
  auto server = make_server(model, {.n_parallel = 2, .n_ctx = 256});
  ASSERT_TRUE(server);
  for (uint32_t seed : {1u, 2u}) {
    const GenerationParams params = sampled(seed, 16);
    const GenerationResult ref = engine_generate(model, 256, kPrompts[0], params);
    auto h = server->submit(completion(kPrompts[0], params));
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    std::vector<ChoiceOut> out = pull_all(**h);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].tokens, ref.tokens) << "seed " << seed;
    EXPECT_EQ(out[0].text, ref.text);
    EXPECT_EQ(out[0].finish, ref.finish_reason);
    EXPECT_EQ(out[0].n_last, 1);
    EXPECT_EQ(out[0].usage.completion_tokens, static_cast<int32_t>(ref.tokens.size()));
    EXPECT_EQ(out[0].usage.prompt_tokens, (*h)->prompt_tokens());
    EXPECT_TRUE((*h)->done());

    Collector col;
    auto h2 = server->submit(completion(kPrompts[0], params), col.callback());
    ASSERT_TRUE(h2.ok()) << h2.status().to_string();
    std::vector<ChoiceOut> pushed = col.wait(1);
    ASSERT_EQ(pushed.size(), 1u);
    EXPECT_EQ(pushed[0].tokens, ref.tokens);
    EXPECT_EQ(pushed[0].text, ref.text);
  }
}

std::vector<ChatToolCall> assembled_calls(const std::vector<ChatChunk>& chunks) {
  std::vector<ChatToolCall> calls;
  for (const ChatChunk& c : chunks) {
    for (const ChatToolCallDelta& d : c.tool_calls) {
      if (static_cast<size_t>(d.index) >= calls.size())
        calls.resize(static_cast<size_t>(d.index) + 1);
      ChatToolCall& call = calls[static_cast<size_t>(d.index)];
      if (!d.id.empty()) call.id = d.id;
      if (!d.name.empty()) call.name = d.name;
      call.arguments += d.arguments;
    }
  }
  return calls;
}

std::string assembled_content(const std::vector<ChatChunk>& chunks) {
  std::string s;
  for (const ChatChunk& c : chunks) s += c.content;
  return s;
}

Json weather_tools() {
  return Json::parse(R"([{"type": "function", "function": {"name": "get_weather",
      "description": "Current weather in a city",
      "parameters": {"type": "object",
                     "properties": {"city": {"type": "string", "maxLength": 8}},
                     "required": ["city"]}}}])");
}

TEST(ServerCore, ChatEqualsEngineCreateIncludingStreamedToolCalls) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("qwen2-q8_0.gguf");
  ASSERT_TRUE(model);
  auto server = make_server(model, {.n_parallel = 2, .n_ctx = 512});
  ASSERT_TRUE(server);
  auto engine = Engine::create(model, {.n_ctx = 512, .n_threads = 2});
  ASSERT_TRUE(engine.ok());
  const std::vector<ChatMessage> messages = {ChatMessage::system("You are terse."),
                                             ChatMessage::user("What's the weather in Paris?")};
  for (bool tools : {false, true}) {
    ChatParams params;
    params.generation = sampled(3, tools ? 120 : 20);
    if (tools) {
      params.tools = weather_tools();
      params.tool_choice = "required";
    }
    auto ref = (*engine)->create(messages, params);
    ASSERT_TRUE(ref.ok()) << ref.status().to_string();
    ChatRequest req;
    req.messages = messages;
    req.params = params;
    auto h = server->submit(req);
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    std::vector<ChoiceOut> out = pull_all(**h);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].tokens, ref->tokens);
    ASSERT_FALSE(out[0].chat.empty());
    EXPECT_TRUE(out[0].chat.front().has_role);
    const ChatChunk& last = out[0].chat.back();
    EXPECT_EQ(last.finish_reason, ref->finish_reason);
    ASSERT_TRUE(last.usage.has_value());
    EXPECT_EQ(last.usage->completion_tokens, ref->usage.completion_tokens);
    EXPECT_EQ(last.id, ref->id);  // fixed seed: reproducible ids
    EXPECT_EQ(assembled_content(out[0].chat), ref->message.content);
    if (tools) {
      EXPECT_EQ(ref->finish_reason, ChatFinishReason::kToolCalls);
      EXPECT_EQ(assembled_calls(out[0].chat), ref->message.tool_calls);
      size_t deltas = 0;
      for (const ChatChunk& c : out[0].chat) deltas += c.tool_calls.size();
      EXPECT_GT(deltas, 1u) << "tool call arguments should stream in several deltas";
    }
  }
}

// A longer prompt from a few sentences (so prompts span several chunks and blocks).
std::string long_prompt(int i, int sentences) {
  std::string s;
  for (int k = 0; k < sentences; ++k) {
    s += kPrompts[(i + k) % 8];
    s += ". ";
  }
  return s;
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

std::vector<int32_t> tokens_of(const Model& m, const std::string& text) {
  auto t = m.tokenizer().tokenize(text, true, true);
  EXPECT_TRUE(t.ok());
  return t.ok() ? *t : std::vector<int32_t>{};
}

// The same seeded requests alone and eight at once (mixed prompt lengths, prompts evaluated in
// chunks beside other requests' tokens) give the Engine's tokens. llama3-bpe-f16 is a model
// whose logits change with the attention order (see runtime_paged_test.cc).
struct ConcurrentCase {
  const char* model;
  KvCacheType kv;
};

class ServerCoreKv : public ::testing::TestWithParam<ConcurrentCase> {};

TEST_P(ServerCoreKv, EightConcurrentRequestsEqualAloneAndEngine) {
  EMBER_REQUIRE_TESTDATA(data);
  const KvCacheType kv = GetParam().kv;
  auto model = load_model(GetParam().model);
  ASSERT_TRUE(model);
  constexpr int kN = 8;
  std::vector<std::string> prompts;
  std::vector<GenerationParams> params;
  std::vector<GenerationResult> refs;
  for (int i = 0; i < kN; ++i) {
    prompts.push_back(long_prompt(i, 1 + (i * 3) % 7));
    params.push_back(sampled(100 + static_cast<uint32_t>(i), 6 + (i * 5) % 11));
    refs.push_back(engine_generate(model, 256, prompts.back(), params.back(), kv));
  }
  auto server =
      make_server(model, {.n_parallel = kN, .n_ctx = 256, .batch_tokens = 48, .kv_cache_type = kv});
  ASSERT_TRUE(server);
  // Alone, one after the other (the cache keeps earlier prompts: later ones may reuse them).
  for (int i = 0; i < kN; ++i) {
    auto h = server->submit(completion(prompts[i], params[i]));
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    std::vector<ChoiceOut> out = pull_all(**h);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].tokens, refs[i].tokens) << "alone, request " << i;
    EXPECT_EQ(out[0].text, refs[i].text);
  }
  // All at once on a fresh server, submitted from several threads.
  server =
      make_server(model, {.n_parallel = kN, .n_ctx = 256, .batch_tokens = 48, .kv_cache_type = kv});
  ASSERT_TRUE(server);
  std::vector<std::shared_ptr<ServerRequest>> handles(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      auto h = server->submit(completion(prompts[i], params[i]));
      EXPECT_TRUE(h.ok()) << h.status().to_string();
      if (h.ok()) handles[i] = *h;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(handles[i]);
    std::vector<ChoiceOut> out = pull_all(*handles[i]);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].tokens, refs[i].tokens) << "concurrent, request " << i;
    EXPECT_EQ(out[0].text, refs[i].text);
    EXPECT_EQ(out[0].finish, refs[i].finish_reason);
  }
  // Stats are a snapshot taken after each step: wait for the one after the last step.
  EXPECT_TRUE(wait_stats(*server, [](const ServerStats& s) { return s.requests_running == 0; }));
  EXPECT_LT(server->stats().steps_total, 200u);  // batched: far fewer steps than tokens
}

// llama3-bpe-f16 is sensitive to the attention order (see runtime_paged_test.cc); gemma2 has
// sliding-window layers and soft-capping, qwen3moe routes tokens to experts.
INSTANTIATE_TEST_SUITE_P(Models, ServerCoreKv,
                         ::testing::Values(ConcurrentCase{"llama3-bpe-f16.gguf", KvCacheType::kF16},
                                           ConcurrentCase{"llama3-bpe-f16.gguf",
                                                          KvCacheType::kQ8_0},
                                           ConcurrentCase{"gemma2-q8_0.gguf", KvCacheType::kF16},
                                           ConcurrentCase{"qwen3moe-q8_0.gguf", KvCacheType::kF16}),
                         [](const ::testing::TestParamInfo<ConcurrentCase>& i) {
                           std::string name = i.param.model;
                           name = name.substr(0, name.find('.'));
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name + (i.param.kv == KvCacheType::kF16 ? "_F16" : "_Q8_0");
                         });

// A request repeated, and one sharing a long prefix with a finished one: the reused token count
// is the common token prefix (computed here from the tokenizer), and the tokens do not change.
TEST(ServerCore, CachedPrefixIsReportedAndChangesNothing) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama3-bpe-f16.gguf");
  ASSERT_TRUE(model);
  auto server = make_server(model, {.n_parallel = 2, .n_ctx = 384, .batch_tokens = 64});
  ASSERT_TRUE(server);
  const std::string system = long_prompt(0, 8);
  const std::string a = system + "Question one: what happened next?";
  const std::string b = system + "Another question, entirely different.";
  const GenerationParams pa = sampled(5, 8), pb = sampled(6, 8);
  const GenerationResult ref_a = engine_generate(model, 384, a, pa);
  const GenerationResult ref_b = engine_generate(model, 384, b, pb);
  const std::vector<int32_t> ta = tokens_of(*model, a), tb = tokens_of(*model, b);

  auto run = [&](const std::string& prompt, const GenerationParams& p) {
    auto h = server->submit(completion(prompt, p));
    EXPECT_TRUE(h.ok()) << h.status().to_string();
    std::vector<ChoiceOut> out = pull_all(**h);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? ChoiceOut{} : out[0];
  };
  const ChoiceOut first = run(a, pa);
  EXPECT_EQ(first.tokens, ref_a.tokens);
  EXPECT_EQ(first.usage.cached_prompt_tokens, 0);
  const ChoiceOut again = run(a, pa);
  EXPECT_EQ(again.tokens, ref_a.tokens);
  // The whole prompt is cached, but its last token is evaluated again (its logits are needed).
  EXPECT_EQ(again.usage.cached_prompt_tokens, static_cast<int32_t>(ta.size()) - 1);
  const ChoiceOut other = run(b, pb);
  EXPECT_EQ(other.tokens, ref_b.tokens);
  const size_t common = common_prefix(ta, tb);
  ASSERT_GT(common, 64u);
  EXPECT_EQ(other.usage.cached_prompt_tokens, static_cast<int32_t>(common));
  EXPECT_EQ(other.usage.prompt_tokens, static_cast<int32_t>(tb.size()));
}

// A second chat turn reuses the first turn's prompt and reply as far as the template reproduces
// them; the reply equals a fresh Engine's.
TEST(ServerCore, SecondChatTurnReusesTheFirst) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("qwen2-q8_0.gguf");
  ASSERT_TRUE(model);
  auto server = make_server(model, {.n_parallel = 2, .n_ctx = 512});
  ASSERT_TRUE(server);
  ChatParams params;
  params.generation = sampled(11, 12);
  std::vector<ChatMessage> messages = {ChatMessage::system(long_prompt(2, 4)),
                                       ChatMessage::user("Tell me a story.")};
  ChatRequest r1{messages, params, 1};
  auto t1 = server->apply_chat_template(messages, params);
  ASSERT_TRUE(t1.ok());
  auto h1 = server->submit(r1);
  ASSERT_TRUE(h1.ok()) << h1.status().to_string();
  const std::vector<ChoiceOut> out1 = pull_all(**h1);
  ASSERT_EQ(out1.size(), 1u);
  messages.push_back(ChatMessage::assistant(assembled_content(out1[0].chat)));
  messages.push_back(ChatMessage::user("And then?"));
  auto t2 = server->apply_chat_template(messages, params);
  ASSERT_TRUE(t2.ok());
  auto engine = Engine::create(model, {.n_ctx = 512, .n_threads = 2});
  ASSERT_TRUE(engine.ok());
  auto ref = (*engine)->create(messages, params);
  ASSERT_TRUE(ref.ok());
  auto h2 = server->submit(ChatRequest{messages, params, 1});
  ASSERT_TRUE(h2.ok()) << h2.status().to_string();
  const std::vector<ChoiceOut> out2 = pull_all(**h2);
  ASSERT_EQ(out2.size(), 1u);
  EXPECT_EQ(out2[0].tokens, ref->tokens);
  // What the cache held: turn 1's prompt and its reply except the last sampled token.
  std::vector<int32_t> held = t1->tokens;
  held.insert(held.end(), out1[0].tokens.begin(), out1[0].tokens.end() - 1);
  const size_t expected = std::min(common_prefix(held, t2->tokens), t2->tokens.size() - 1);
  EXPECT_GT(expected, t1->tokens.size() / 2);
  EXPECT_EQ(out2[0].usage.cached_prompt_tokens, static_cast<int32_t>(expected));
  ASSERT_TRUE(out2[0].chat.back().usage.has_value());
  EXPECT_EQ(out2[0].chat.back().usage->cached_prompt_tokens, static_cast<int32_t>(expected));
}

// Eight requests with one long system prompt submitted together: it is evaluated once.
TEST(ServerCore, SharedPrefixOfRequestsAdmittedTogetherIsEvaluatedOnce) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama3-bpe-f16.gguf");
  ASSERT_TRUE(model);
  constexpr int kN = 8;
  const std::string system = long_prompt(3, 10);
  std::vector<std::string> prompts;
  std::vector<std::vector<int32_t>> toks;
  for (int i = 0; i < kN; ++i) {
    prompts.push_back(system + std::to_string(i) + " " + kPrompts[i]);
    toks.push_back(tokens_of(*model, prompts.back()));
  }
  size_t common = toks[0].size();
  for (int i = 1; i < kN; ++i) common = std::min(common, common_prefix(toks[0], toks[i]));
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) {
      if (i != j) {
        ASSERT_EQ(common_prefix(toks[i], toks[j]), common) << "pick distinct suffixes";
      }
    }
  }
  ASSERT_GT(common, 100u);
  auto server = make_server(model, {.n_parallel = kN, .n_ctx = 384, .batch_tokens = 64});
  ASSERT_TRUE(server);
  std::vector<std::shared_ptr<ServerRequest>> handles;
  for (int i = 0; i < kN; ++i) {
    auto h = server->submit(completion(prompts[i], sampled(40 + static_cast<uint32_t>(i), 4)));
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    handles.push_back(*h);
  }
  int32_t zero = 0;
  uint64_t cached_sum = 0;
  for (int i = 0; i < kN; ++i) {
    std::vector<ChoiceOut> out = pull_all(*handles[i]);
    ASSERT_EQ(out.size(), 1u);
    const int32_t cached = out[0].usage.cached_prompt_tokens;
    cached_sum += static_cast<uint64_t>(cached);
    if (cached == 0) {
      ++zero;
    } else {
      EXPECT_EQ(cached, static_cast<int32_t>(common)) << "request " << i;
    }
    const GenerationResult ref =
        engine_generate(model, 384, prompts[i], sampled(40 + static_cast<uint32_t>(i), 4));
    EXPECT_EQ(out[0].tokens, ref.tokens) << "request " << i;
  }
  EXPECT_EQ(zero, 1) << "the shared prefix should be evaluated once";
  EXPECT_TRUE(wait_stats(
      *server, [&](const ServerStats& s) { return s.prompt_tokens_cached_total == cached_sum; }));
  EXPECT_EQ(cached_sum, (kN - 1) * common);
}

// Followers of a leader that ends right after its prompt (max_tokens 1) share what it left in
// the cache.
TEST(ServerCore, FollowersOfAShortLivedLeaderShareItsCachedPrompt) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama3-bpe-f16.gguf");
  ASSERT_TRUE(model);
  auto server = make_server(model, {.n_parallel = 4, .n_ctx = 384, .batch_tokens = 32});
  ASSERT_TRUE(server);
  const std::string system = long_prompt(5, 9);
  std::vector<std::shared_ptr<ServerRequest>> hs;
  std::vector<std::string> prompts;
  for (int i = 0; i < 4; ++i) {
    prompts.push_back(system + kPrompts[i]);
    auto h = server->submit(completion(prompts.back(), sampled(60 + i, i == 0 ? 1 : 5)));
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    hs.push_back(*h);
  }
  const std::vector<int32_t> t0 = tokens_of(*model, prompts[0]);
  for (int i = 0; i < 4; ++i) {
    std::vector<ChoiceOut> out = pull_all(*hs[i]);
    ASSERT_EQ(out.size(), 1u);
    const GenerationResult ref =
        engine_generate(model, 384, prompts[i], sampled(60 + i, i == 0 ? 1 : 5));
    EXPECT_EQ(out[0].tokens, ref.tokens) << "request " << i;
    if (i > 0) {
      const size_t common = common_prefix(t0, tokens_of(*model, prompts[i]));
      EXPECT_GE(out[0].usage.cached_prompt_tokens, static_cast<int32_t>(common)) << i;
    }
  }
}

// n = 3: three choices from one prompt evaluation; choice i equals a request with seed + i.
TEST(ServerCore, ChoicesShareThePromptAndUseConsecutiveSeeds) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama3-bpe-f16.gguf");
  ASSERT_TRUE(model);
  auto server = make_server(model, {.n_parallel = 4, .n_ctx = 256, .batch_tokens = 32});
  ASSERT_TRUE(server);
  const std::string prompt = long_prompt(1, 5);
  const int32_t n_prompt = static_cast<int32_t>(tokens_of(*model, prompt).size());
  auto h = server->submit(completion(prompt, sampled(70, 10), 3));
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  std::vector<ChoiceOut> out = pull_all(**h);
  ASSERT_EQ(out.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const GenerationResult ref =
        engine_generate(model, 256, prompt, sampled(70 + static_cast<uint32_t>(i), 10));
    EXPECT_EQ(out[i].tokens, ref.tokens) << "choice " << i;
    EXPECT_EQ(out[i].n_last, 1);
    EXPECT_EQ(out[i].usage.prompt_tokens, n_prompt);
    EXPECT_EQ(out[i].usage.cached_prompt_tokens, i == 0 ? 0 : n_prompt - 1) << "choice " << i;
  }
  EXPECT_NE(out[0].tokens, out[1].tokens);
  // A random seed: each choice gets its own.
  auto hr = server->submit(completion(prompt, sampled(kRandomSeed, 10), 2));
  ASSERT_TRUE(hr.ok());
  std::vector<ChoiceOut> random_out = pull_all(**hr);
  ASSERT_EQ(random_out.size(), 2u);
  EXPECT_NE(random_out[0].tokens, random_out[1].tokens);
  // A chat request with n = 2: one id for the completion, each choice its own stream.
  auto chat_model = load_model("qwen2-q8_0.gguf");
  ASSERT_TRUE(chat_model);
  auto chat_server = make_server(chat_model, {.n_parallel = 2, .n_ctx = 256});
  ChatParams params;
  params.generation = sampled(9, 8);
  auto hc = chat_server->submit(ChatRequest{{ChatMessage::user("Hi there")}, params, 2});
  ASSERT_TRUE(hc.ok()) << hc.status().to_string();
  std::vector<ChoiceOut> chat_out = pull_all(**hc);
  ASSERT_EQ(chat_out.size(), 2u);
  ASSERT_FALSE(chat_out[0].chat.empty());
  ASSERT_FALSE(chat_out[1].chat.empty());
  EXPECT_EQ(chat_out[0].chat.front().id, chat_out[1].chat.front().id);
  EXPECT_TRUE(chat_out[1].chat.front().has_role);
}

TEST(ServerCore, CancelFreesTheSlotAndEndsTheStream) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama-spm-q8_0.gguf");
  ASSERT_TRUE(model);
  // Long generations (far longer than the test takes to cancel them).
  auto server = make_server(model, {.n_parallel = 2, .n_ctx = 2048});
  ASSERT_TRUE(server);
  GenerationParams p = sampled(1, 2000);
  p.ignore_eos = true;
  auto h = server->submit(completion(kPrompts[0], p));
  ASSERT_TRUE(h.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*h)->next().has_value());
  EXPECT_TRUE(
      wait_stats(*server, [](const ServerStats& s) { return s.slots[0].busy || s.slots[1].busy; }));
  (*h)->cancel();
  std::vector<ChoiceOut> rest = pull_all(**h);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].finish, FinishReason::kCancelled);
  EXPECT_EQ(rest[0].n_last, 1);
  EXPECT_TRUE((*h)->done());
  EXPECT_TRUE(wait_stats(*server, [](const ServerStats& s) {
    return !s.slots[0].busy && !s.slots[1].busy && s.requests_running == 0 &&
           s.requests_finished.count("cancelled") == 1;
  }));
  // By id, with a callback.
  Collector col;
  auto h2 = server->submit(completion(kPrompts[1], p), col.callback());
  ASSERT_TRUE(h2.ok());
  EXPECT_TRUE(
      wait_stats(*server, [](const ServerStats& s) { return s.generation_tokens_total > 8; }));
  EXPECT_TRUE(server->cancel((*h2)->id()));
  std::vector<ChoiceOut> out = col.wait(1);
  EXPECT_EQ(out[0].finish, FinishReason::kCancelled);
  EXPECT_FALSE(server->cancel((*h2)->id()));
  EXPECT_FALSE(server->cancel(987654));
}

TEST(ServerCore, SubmitErrors) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama-spm-q8_0.gguf");
  ASSERT_TRUE(model);
  auto server = make_server(model, {.n_parallel = 1, .n_ctx = 64, .max_queue = 1});
  ASSERT_TRUE(server);
  const int32_t n_prompt = static_cast<int32_t>(tokens_of(*model, kPrompts[3]).size());
  auto r = server->submit(completion(kPrompts[3], sampled(1, 60)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  const std::string msg = r.status().message();
  EXPECT_EQ(msg.rfind("exceed_context_size_error:", 0), 0u) << msg;
  EXPECT_NE(msg.find(std::to_string(n_prompt + 60)), std::string::npos) << msg;
  EXPECT_NE(msg.find("64"), std::string::npos) << msg;

  EXPECT_EQ(server->submit(completion("Hi", sampled(1, 4), 2)).status().code(),
            StatusCode::kInvalidArgument);  // n > n_parallel
  GenerationParams bad = sampled(1, 4);
  bad.grammar = "root ::= (";
  EXPECT_EQ(server->submit(completion("Hi", bad)).status().code(), StatusCode::kInvalidArgument);
  bad = sampled(1, 4);
  bad.sampling.top_p = 2.0f;
  EXPECT_EQ(server->submit(completion("Hi", bad)).status().code(), StatusCode::kInvalidArgument);
  CompletionRequest ids = completion("", sampled(1, 4));
  ids.prompt_tokens = {1, -5};
  EXPECT_EQ(server->submit(ids).status().code(), StatusCode::kInvalidArgument);
  ChatRequest chat;  // no messages
  EXPECT_FALSE(server->submit(chat).ok());

  // Queue: one running (held in its callback: the scheduler waits there, so it stays running),
  // one waiting, the third is refused.
  GenerationParams longp = sampled(2, 40);
  longp.ignore_eos = true;
  Gate gate;
  auto running = server->submit(completion("Hi", longp), gate.callback());
  ASSERT_TRUE(running.ok());
  gate.wait_entered();
  auto waiting = server->submit(completion("Hi", longp));
  ASSERT_TRUE(waiting.ok()) << waiting.status().to_string();
  EXPECT_FALSE((*waiting)->next_for(1ms).has_value());  // nothing yet: it waits for the slot
  EXPECT_FALSE((*waiting)->done());
  auto refused = server->submit(completion("Hi", longp));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("queue is full"), std::string::npos);
  EXPECT_EQ(server->stats().requests_waiting, 1);
  (*waiting)->cancel();
  gate.open();
  // Shutdown: the grace ends, what still runs is cancelled, new requests are refused.
  server->shutdown(0ms);
  EXPECT_TRUE((*running)->done());
  EXPECT_TRUE((*waiting)->done());
  std::vector<ChoiceOut> w = pull_all(**waiting);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].finish, FinishReason::kCancelled);
  EXPECT_TRUE(w[0].tokens.empty());
  auto late = server->submit(completion("Hi", longp));
  EXPECT_EQ(late.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(late.status().message().find("shutting down"), std::string::npos);

  // max_queue = 0: a request runs when a slot is free, and is refused rather than queued.
  auto no_queue = make_server(model, {.n_parallel = 1, .n_ctx = 64, .max_queue = 0});
  ASSERT_TRUE(no_queue);
  Gate gate2;
  auto first = no_queue->submit(completion("Hi", longp), gate2.callback());
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  gate2.wait_entered();
  EXPECT_EQ(no_queue->submit(completion("Hi", longp)).status().code(),
            StatusCode::kResourceExhausted);
  gate2.open();
  while (!(*first)->done()) std::this_thread::sleep_for(1ms);
  // Once a request's last event is out, its slot is free for the next one.
  auto next = no_queue->submit(completion("Hi", sampled(1, 2)));
  EXPECT_TRUE(next.ok()) << next.status().to_string();

  EXPECT_FALSE(Server::create(model, {.n_parallel = 0}).ok());
  EXPECT_FALSE(Server::create(model, {.n_parallel = 65}).ok());
  EXPECT_FALSE(Server::create(model, {.n_ctx = 512, .kv_size = 100}).ok());
  EXPECT_FALSE(Server::create(model, {.batch_tokens = 0}).ok());
  EXPECT_FALSE(Server::create(model, {.max_queue = -1}).ok());
  EXPECT_FALSE(Server::create(nullptr, {}).ok());
}

TEST(ServerCore, GrammarSchemaAndStopStringsPerRequest) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama-spm-q8_0.gguf");
  ASSERT_TRUE(model);
  GenerationParams plain = sampled(21, 24);
  const GenerationResult free_ref = engine_generate(model, 256, kPrompts[2], plain);
  ASSERT_GT(free_ref.text.size(), 12u);
  GenerationParams stopped = plain;
  stopped.stop = {free_ref.text.substr(6, 3)};
  GenerationParams schema = sampled(22, 48);
  schema.json_schema = R"({"type": "object", "properties": {"a": {"type": "integer"}},
                           "required": ["a"]})";
  GenerationParams gbnf = sampled(23, 16);
  gbnf.grammar = R"(root ::= "yes" | "no" | [0-9]+)";
  const std::vector<GenerationParams> all = {plain, stopped, schema, gbnf};
  auto server = make_server(model, {.n_parallel = 4, .n_ctx = 256});
  ASSERT_TRUE(server);
  std::vector<std::shared_ptr<ServerRequest>> hs;
  for (const GenerationParams& p : all) {
    auto h = server->submit(completion(kPrompts[2], p));
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    hs.push_back(*h);
  }
  for (size_t i = 0; i < all.size(); ++i) {
    const GenerationResult ref = engine_generate(model, 256, kPrompts[2], all[i]);
    std::vector<ChoiceOut> out = pull_all(*hs[i]);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].tokens, ref.tokens) << "request " << i;
    EXPECT_EQ(out[0].text, ref.text) << "request " << i;
    EXPECT_EQ(out[0].finish, ref.finish_reason);
    EXPECT_EQ(out[0].stop_string, ref.stop_string);
  }
  // Log probabilities: per token, n_probs candidates and the sampled token's probability
  // (equal to its candidate's when it is among them).
  GenerationParams lp = sampled(24, 8);
  lp.sampling.n_probs = 3;
  auto h = server->submit(completion(kPrompts[2], lp));
  ASSERT_TRUE(h.ok());
  size_t n_tokens = 0;
  while (std::optional<RequestEvent> ev = (*h)->next()) {
    ASSERT_EQ(ev->generation.top_probabilities.size(), ev->generation.tokens.size());
    ASSERT_EQ(ev->sampled_probabilities.size(), ev->generation.tokens.size());
    for (size_t i = 0; i < ev->generation.tokens.size(); ++i) {
      ++n_tokens;
      const auto& top = ev->generation.top_probabilities[i];
      ASSERT_EQ(top.size(), 3u);
      EXPECT_GE(top[0].probability, top[1].probability);
      const float p = ev->sampled_probabilities[i];
      EXPECT_GT(p, 0.0f);
      EXPECT_LE(p, 1.0f);
      for (const TokenProbability& t : top) {
        if (t.token == ev->generation.tokens[i]) {
          EXPECT_FLOAT_EQ(t.probability, p);
        }
      }
    }
  }
  EXPECT_EQ(n_tokens, 8u);
}

// A cache far smaller than the requests together: they wait for blocks, start in submission
// order, evict finished sequences, and all produce the Engine's tokens.
TEST(ServerCore, SmallCacheQueuesAndEvictsButCompletesEverything) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama3-bpe-f16.gguf");
  ASSERT_TRUE(model);
  auto server =
      make_server(model, {.n_parallel = 4, .n_ctx = 128, .kv_size = 128, .batch_tokens = 32});
  ASSERT_TRUE(server);
  constexpr int kN = 7;
  std::vector<std::shared_ptr<ServerRequest>> hs;
  std::vector<std::string> prompts;
  for (int i = 0; i < kN; ++i) {
    prompts.push_back(std::string(kPrompts[i % 8]) + " " + std::to_string(i));
    auto h = server->submit(completion(prompts.back(), sampled(90 + static_cast<uint32_t>(i), 12)));
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    hs.push_back(*h);
  }
  std::vector<RequestTimes> times;
  for (int i = 0; i < kN; ++i) {
    std::vector<ChoiceOut> out;
    std::optional<RequestEvent> last;
    while (std::optional<RequestEvent> ev = hs[i]->next()) {
      add_event(out, *ev);
      last = ev;
    }
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(last.has_value());
    times.push_back(last->times);
    const GenerationResult ref =
        engine_generate(model, 128, prompts[i], sampled(90 + static_cast<uint32_t>(i), 12));
    EXPECT_EQ(out[0].tokens, ref.tokens) << "request " << i;
  }
  for (int i = 1; i < kN; ++i) EXPECT_LE(times[i - 1].started, times[i].started) << i;
  EXPECT_TRUE(wait_stats(*server, [](const ServerStats& s) { return s.kv_cells_live == 0; }));
  const ServerStats st = server->stats();
  EXPECT_LE(st.kv_cells_used, st.kv_cells_total);
  EXPECT_GT(st.kv_cells_used, 0);  // finished sequences stay cached
}

// A cached sequence that shares a prefix with the next request but fills most of the cache: the
// request must not wait for blocks that only that (evictable) sequence holds. It used to keep
// the sequence for its prefix, find too few blocks beside it, and wait forever with nothing
// running.
TEST(ServerCore, ACachedPrefixHolderIsEvictedWhenItsBlocksAreNeeded) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama3-bpe-f16.gguf");
  ASSERT_TRUE(model);
  // Two blocks of 64 cells.
  auto server =
      make_server(model, {.n_parallel = 1, .n_ctx = 128, .kv_size = 128, .batch_tokens = 32});
  ASSERT_TRUE(server);
  GenerationParams long_run = sampled(5, 100);
  long_run.ignore_eos = true;
  auto a = server->submit(completion(kPrompts[0], long_run));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  std::vector<ChoiceOut> out_a = pull_all(**a);
  ASSERT_EQ(out_a.size(), 1u);
  ASSERT_EQ(out_a[0].tokens.size(), 100u);  // the cache now holds ~110 positions: both blocks
  // The same prompt, a short generation: it shares the prompt but needs one block of its own
  // (the copied partial block), which only evicting the holder provides.
  auto b = server->submit(completion(kPrompts[0], sampled(6, 8)));
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (!(*b)->done() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE((*b)->done()) << "the request waits for blocks that nothing will free";
  std::vector<ChoiceOut> out_b = pull_all(**b);
  ASSERT_EQ(out_b.size(), 1u);
  EXPECT_EQ(out_b[0].tokens, engine_generate(model, 128, kPrompts[0], sampled(6, 8)).tokens);
}

// Many clients at once on a small cache: completions and chats sharing long prefixes (so
// requests wait for a leader's prompt, n > 1 siblings wait for choice 0, cached sequences are
// evicted), cancelled at random points (at once, while queued or waiting, mid-prompt,
// mid-generation, by handle or by id), through the pull and the callback paths. Afterwards every
// request has ended with one last event per choice, nothing holds a slot or waits, no live
// cells remain and a new request runs; completions that were not cancelled produced the
// Engine's tokens (sharing and eviction under load changed nothing).
TEST(ServerCore, StressWithCancellationsLeavesNothingBehind) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("qwen2-q8_0.gguf");
  ASSERT_TRUE(model);
  constexpr int32_t kCtx = 256;
  constexpr int kMaxTokens = 10;
  // 4 blocks of 64 cells for 4 slots: a choice takes up to 2 blocks and a request with n = 3
  // (n = 2 for chats) all 4, so requests wait for blocks and evict cached sequences.
  auto server = make_server(
      model,
      {.n_parallel = 4, .n_ctx = kCtx, .kv_size = kCtx, .batch_tokens = 16, .max_queue = 64});
  ASSERT_TRUE(server);
  // Prompts of 60..120 tokens sharing a long system part in pairs, with distinct endings.
  std::vector<std::string> prompts;
  for (int i = 0; i < 4; ++i) prompts.push_back(long_prompt(i / 2, 5 + i % 2) + kPrompts[4 + i]);
  // References: choice c of a request with seed s uses seed s + c.
  std::map<std::pair<size_t, uint32_t>, std::vector<int32_t>> refs;
  for (size_t pi = 0; pi < prompts.size(); ++pi) {
    for (uint32_t seed : {10u, 11u, 12u, 20u, 21u, 22u}) {
      refs[{pi, seed}] =
          engine_generate(model, kCtx, prompts[pi], sampled(seed, kMaxTokens)).tokens;
    }
  }
  const std::vector<ChatMessage> system_msgs = {ChatMessage::system(long_prompt(5, 4))};

  enum class Cancel { kNever, kAtOnce, kSoon, kAfterFirstEvent, kById };
  constexpr int kThreads = 6;
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::mutex fail_mu;
  std::vector<std::string> failure_notes;
  auto note = [&](std::string what) {
    failures.fetch_add(1);
    std::lock_guard<std::mutex> lk(fail_mu);
    if (failure_notes.size() < 20) failure_notes.push_back(std::move(what));
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;

  auto client = [&](int t) {
    std::mt19937 rng(1234u + static_cast<uint32_t>(t));
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
    for (int k = 0; k < kPerThread; ++k) {
      const std::string tag = "thread " + std::to_string(t) + " request " + std::to_string(k);
      const bool chat = pick(4) == 0;
      const int32_t n = 1 + pick(chat ? 2 : 3);
      const size_t pi = static_cast<size_t>(pick(static_cast<int>(prompts.size())));
      const uint32_t seed = pick(2) == 0 ? 10u : 20u;
      // Half run to their end.
      const int what = pick(8);
      const Cancel cancel = what < 4 ? Cancel::kNever : static_cast<Cancel>(what - 3);
      const bool use_callback = pick(2) == 0;
      // Shared with the callback: a request that never ends may still call it after this
      // iteration gave up on it.
      auto col = std::make_shared<Collector>();
      RequestEventCallback on_event = [col](RequestEvent ev) { col->callback()(std::move(ev)); };
      Result<std::shared_ptr<ServerRequest>> h = internal_error("not submitted");
      if (chat) {
        ChatParams params;
        params.generation = sampled(seed, kMaxTokens);
        std::vector<ChatMessage> msgs = system_msgs;
        msgs.push_back(ChatMessage::user(kPrompts[pi]));
        ChatRequest req{std::move(msgs), params, n};
        h = use_callback ? server->submit(std::move(req), on_event)
                         : server->submit(std::move(req));
      } else {
        CompletionRequest req = completion(prompts[pi], sampled(seed, kMaxTokens), n);
        h = use_callback ? server->submit(std::move(req), on_event)
                         : server->submit(std::move(req));
      }
      if (!h.ok()) {
        note(tag + ": submit failed: " + h.status().to_string());
        continue;
      }
      ServerRequest& r = **h;
      switch (cancel) {
        case Cancel::kAtOnce:
          r.cancel();
          break;
        case Cancel::kSoon:
          std::this_thread::sleep_for(std::chrono::microseconds(pick(5000)));
          r.cancel();
          break;
        case Cancel::kById:
          std::this_thread::sleep_for(std::chrono::microseconds(pick(5000)));
          server->cancel(r.id());
          break;
        default:
          break;
      }
      std::vector<ChoiceOut> out;
      if (use_callback) {
        if (cancel == Cancel::kAfterFirstEvent) {
          std::unique_lock<std::mutex> lk(col->mu);
          col->cv.wait_until(lk, deadline, [&] { return !col->out.empty() || col->lasts >= n; });
          lk.unlock();
          r.cancel();
        }
        std::unique_lock<std::mutex> lk(col->mu);
        if (!col->cv.wait_until(lk, deadline, [&] { return col->lasts >= n; })) {
          note(tag + ": never ended (callback)");
          continue;
        }
        out = col->out;
      } else {
        bool first = true;
        while (true) {
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - std::chrono::steady_clock::now());
          if (left.count() <= 0) break;
          std::optional<RequestEvent> ev = r.next_for(left);
          if (!ev) break;
          add_event(out, *ev);
          if (first && cancel == Cancel::kAfterFirstEvent) r.cancel();
          first = false;
        }
        if (!r.done()) {
          note(tag + ": never ended (pull)");
          continue;
        }
      }
      if (static_cast<int32_t>(out.size()) != n) {
        note(tag + ": " + std::to_string(out.size()) + " choices of " + std::to_string(n));
        continue;
      }
      for (int32_t c = 0; c < n; ++c) {
        const ChoiceOut& o = out[static_cast<size_t>(c)];
        const std::string which = tag + " choice " + std::to_string(c);
        if (o.n_last != 1) note(which + ": " + std::to_string(o.n_last) + " last events");
        if (o.finish == FinishReason::kCancelled) {
          if (cancel == Cancel::kNever) note(which + ": cancelled unasked");
          continue;
        }
        if (o.finish != FinishReason::kStop && o.finish != FinishReason::kLength) {
          note(which + ": finish " + std::string(finish_reason_name(o.finish)) + " " +
               o.error.to_string());
          continue;
        }
        if (!chat && o.tokens != refs[{pi, seed + static_cast<uint32_t>(c)}]) {
          note(which + ": tokens differ from the Engine's");
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(client, t);
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (const std::string& f : failure_notes) ADD_FAILURE() << f;

  EXPECT_TRUE(wait_stats(*server, [](const ServerStats& st) {
    bool busy = false;
    for (const SlotState& slot : st.slots) busy |= slot.busy;
    return !busy && st.requests_running == 0 && st.requests_waiting == 0 && st.kv_cells_live == 0;
  })) << "slots busy or requests left after every request ended";
  // And the server still serves.
  auto last = server->submit(completion(prompts[0], sampled(10, kMaxTokens)));
  ASSERT_TRUE(last.ok()) << last.status().to_string();
  std::vector<ChoiceOut> out;
  while (std::optional<RequestEvent> ev = (*last)->next_for(30s)) add_event(out, *ev);
  ASSERT_TRUE((*last)->done()) << "a request after the stress never ended";
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tokens, (refs[{size_t{0}, 10u}]));
}

// Destroying the server with requests in flight ends each with a last event.
TEST(ServerCore, DestructionCancelsCleanly) {
  EMBER_REQUIRE_TESTDATA(data);
  auto model = load_model("llama-spm-q8_0.gguf");
  ASSERT_TRUE(model);
  auto server = make_server(model, {.n_parallel = 1, .n_ctx = 256});
  ASSERT_TRUE(server);
  GenerationParams p = sampled(3, 200);
  p.ignore_eos = true;
  auto a = server->submit(completion(kPrompts[0], p));
  auto b = server->submit(completion(kPrompts[1], p));
  ASSERT_TRUE(a.ok() && b.ok());
  server.reset();
  for (auto* h : {&*a, &*b}) {
    std::vector<ChoiceOut> out = pull_all(**h);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].finish, FinishReason::kCancelled);
    EXPECT_EQ(out[0].n_last, 1);
  }
}

}  // namespace
}  // namespace ember
