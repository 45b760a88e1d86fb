// ember::Server, the serving core (no HTTP): results against the Engine (the reference, itself
// verified against llama.cpp), batch invariance (alone vs beside other requests, with and
// without a cached prefix), prefix sharing counts against token prefixes computed here, n
// choices, cancellation, limits and errors. Tiny models with random weights: the text is
// gibberish, but token streams are fully determined by model, prompt, parameters and seed.
#include "ember/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
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

}  // namespace
}  // namespace ember
