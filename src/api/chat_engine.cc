// Engine::create / begin_chat / apply_chat_template, ChatGeneration and ChatSession: the chat API
// on top of the engine's generation loop (see include/ember/chat.h).
#include <chrono>
#include <deque>

#include "api/engine_impl.h"
#include "chat/chat_prompt.h"
#include "ember/chat.h"

namespace ember {
namespace detail {

// One chat completion in progress: the raw generation, the output parser and the chunks that
// are ready to be handed out.
struct ChatState {
  std::optional<Generation> generation;
  std::optional<chat::OutputParser> parser;
  std::deque<ChatChunk> queue;
  bool sent_role = false;
  bool done = false;
  ChatCompletion completion;

  ChatChunk make_chunk() const {
    ChatChunk c;
    c.id = completion.id;
    c.created = completion.created;
    c.model = completion.model;
    return c;
  }

  void push_deltas(std::vector<chat::ChatDelta> deltas) {
    for (chat::ChatDelta& d : deltas) {
      ChatChunk c = make_chunk();
      c.content = std::move(d.content);
      c.reasoning_content = std::move(d.reasoning_content);
      if (d.tool_call) {
        ChatToolCallDelta t;
        t.index = static_cast<int32_t>(d.tool_call->index);
        t.id = std::move(d.tool_call->id);
        t.name = std::move(d.tool_call->name);
        t.arguments = std::move(d.tool_call->arguments);
        c.tool_calls.push_back(std::move(t));
      }
      queue.push_back(std::move(c));
    }
  }

  // Ends the generation and the parser; queues the last deltas and the final chunk.
  void finalize() {
    if (done) return;
    done = true;
    GenerationResult r = generation->end();
    if (!r.tail.empty()) push_deltas(parser->feed(r.tail));
    chat::OutputParser::Final fin = parser->finish();
    push_deltas(std::move(fin.deltas));

    ChatMessage& m = completion.message;
    m.role = ChatRole::kAssistant;
    m.content = std::move(fin.message.content);
    m.reasoning_content = std::move(fin.message.reasoning_content);
    for (chat::ToolCall& c : fin.message.tool_calls) {
      m.tool_calls.push_back({std::move(c.id), std::move(c.name), std::move(c.arguments)});
    }
    completion.warnings = std::move(fin.message.warnings);
    switch (r.finish_reason) {
      case FinishReason::kStop:
      case FinishReason::kNone:
        completion.finish_reason =
            m.tool_calls.empty() ? ChatFinishReason::kStop : ChatFinishReason::kToolCalls;
        break;
      case FinishReason::kLength:
        completion.finish_reason = ChatFinishReason::kLength;
        break;
      case FinishReason::kCancelled:
        completion.finish_reason = ChatFinishReason::kCancelled;
        break;
      case FinishReason::kError:
        completion.finish_reason = ChatFinishReason::kError;
        completion.error = r.error;
        break;
    }
    completion.tokens = std::move(r.tokens);
    completion.usage.prompt_tokens = r.usage.prompt_tokens;
    completion.usage.completion_tokens = r.usage.completion_tokens;
    completion.usage.cached_prompt_tokens = r.usage.cached_prompt_tokens;
    completion.usage.timings = r.usage;

    ChatChunk last = make_chunk();
    last.finish_reason = completion.finish_reason;
    last.usage = completion.usage;
    queue.push_back(std::move(last));
  }

  std::optional<ChatChunk> next() {
    while (queue.empty() && !done) {
      if (std::optional<GenerationChunk> g = generation->next()) {
        if (!g->text.empty()) push_deltas(parser->feed(g->text));
      } else {
        finalize();
      }
    }
    if (queue.empty()) return std::nullopt;
    ChatChunk c = std::move(queue.front());
    queue.pop_front();
    if (!sent_role) {
      c.has_role = true;
      sent_role = true;
    }
    return c;
  }

  ChatCompletion end() {
    finalize();
    queue.clear();
    return completion;
  }
};

}  // namespace detail

namespace {

std::string model_chat_template(const runtime::Model& model) {
  Result<std::string> t = model.file().get_string("tokenizer.chat_template");
  return t.ok() ? *t : std::string();
}

// splitmix64: spreads a counter and a time into id characters.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string completion_id(uint64_t seed) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id = "chatcmpl-";
  uint64_t x = seed;
  for (int i = 0; i < 24; ++i) {
    x = mix(x);
    id += kChars[x % (sizeof(kChars) - 1)];
  }
  return id;
}

}  // namespace

Result<ChatPrompt> Engine::apply_chat_template(const std::vector<ChatMessage>& messages,
                                               const ChatParams& params) const {
  EMBER_ASSIGN_OR_RETURN(
      chat::ChatPlan plan,
      chat::plan_chat(*impl_->tokenizer, model_chat_template(*impl_->model), messages, params));
  ChatPrompt p;
  p.text = std::move(plan.rendered);
  p.tokens = std::move(plan.tokens);
  p.format = std::string(chat::chat_format_name(plan.syntax.format));
  return p;
}

Result<ChatGeneration> Engine::begin_chat(const std::vector<ChatMessage>& messages,
                                          const ChatParams& params) {
  Impl& e = *impl_;
  EMBER_ASSIGN_OR_RETURN(
      chat::ChatPlan plan,
      chat::plan_chat(*e.tokenizer, model_chat_template(*e.model), messages, params));
  auto state = std::make_unique<detail::ChatState>();
  const auto now = std::chrono::system_clock::now();
  state->completion.created =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const uint64_t nanos = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
  ++e.chat_count;
  const uint32_t seed = params.generation.sampling.seed;
  // A fixed sampling seed gives reproducible ids (and tool-call ids) too.
  const uint64_t id_seed = seed != kRandomSeed ? mix(seed) : mix(nanos ^ mix(e.chat_count));
  state->completion.id = completion_id(id_seed);
  state->completion.model = params.model;
  plan.parser.id_seed = id_seed;
  Result<chat::OutputParser> parser = chat::OutputParser::create(std::move(plan.parser));
  if (!parser.ok()) return parser.status().with_context("tools");
  state->parser.emplace(std::move(*parser));
  EMBER_ASSIGN_OR_RETURN(Generation g, begin_tokens(std::move(plan.tokens), plan.generation,
                                                    /*render_special=*/true));
  state->generation.emplace(std::move(g));
  return ChatGeneration(std::move(state));
}

Result<ChatCompletion> Engine::create(const std::vector<ChatMessage>& messages,
                                      const ChatParams& params, const ChatChunkCallback& on_chunk) {
  EMBER_ASSIGN_OR_RETURN(ChatGeneration g, begin_chat(messages, params));
  while (std::optional<ChatChunk> chunk = g.next()) {
    if (on_chunk && !on_chunk(*chunk)) break;
  }
  return g.end();
}

// ---- ChatGeneration ---------------------------------------------------------------------------

ChatGeneration::ChatGeneration(std::unique_ptr<detail::ChatState> state)
    : state_(std::move(state)) {}
ChatGeneration::ChatGeneration(ChatGeneration&&) noexcept = default;
ChatGeneration& ChatGeneration::operator=(ChatGeneration&& other) noexcept {
  if (this != &other) {
    if (state_) state_->end();
    state_ = std::move(other.state_);
  }
  return *this;
}
ChatGeneration::~ChatGeneration() {
  if (state_) state_->end();
}

std::optional<ChatChunk> ChatGeneration::next() {
  if (!state_) return std::nullopt;
  return state_->next();
}

ChatCompletion ChatGeneration::end() {
  if (!state_) {
    ChatCompletion c;
    c.finish_reason = ChatFinishReason::kError;
    c.error = invalid_argument("end() on a moved-from ChatGeneration");
    return c;
  }
  return state_->end();
}

// ---- ChatSession ------------------------------------------------------------------------------

ChatSession::ChatSession(Engine& engine, ChatParams params)
    : engine_(engine), params_(std::move(params)) {}

void ChatSession::set_system(std::string text) {
  const bool has_system = !history_.empty() && history_.front().role == ChatRole::kSystem;
  if (text.empty()) {
    if (has_system) history_.erase(history_.begin());
    return;
  }
  if (has_system) {
    history_.front() = ChatMessage::system(std::move(text));
  } else {
    history_.insert(history_.begin(), ChatMessage::system(std::move(text)));
  }
}

Result<ChatCompletion> ChatSession::send(std::string user_text, const ChatChunkCallback& on_chunk) {
  return send(ChatMessage::user(std::move(user_text)), on_chunk);
}

Result<ChatCompletion> ChatSession::send(ChatMessage message, const ChatChunkCallback& on_chunk) {
  history_.push_back(std::move(message));
  Result<ChatCompletion> r = resume(on_chunk);
  if (!r.ok()) history_.pop_back();
  return r;
}

void ChatSession::add_tool_result(std::string tool_call_id, std::string name, std::string content) {
  history_.push_back(
      ChatMessage::tool(std::move(tool_call_id), std::move(name), std::move(content)));
}

Result<ChatCompletion> ChatSession::resume(const ChatChunkCallback& on_chunk) {
  EMBER_ASSIGN_OR_RETURN(ChatCompletion c, engine_.create(history_, params_, on_chunk));
  if (c.finish_reason != ChatFinishReason::kError) history_.push_back(c.message);
  return c;
}

void ChatSession::reset() {
  history_.clear();
}

}  // namespace ember
