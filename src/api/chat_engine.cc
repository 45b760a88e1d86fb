// Engine::create / begin_chat / apply_chat_template, ChatGeneration and ChatSession: the chat API
// on top of the engine's generation loop (see include/ember/chat.h).
#include <chrono>
#include <deque>

#include "api/chat_output.h"
#include "api/engine_impl.h"
#include "chat/chat_prompt.h"
#include "ember/chat.h"

namespace ember {
namespace detail {

// One chat completion in progress: the raw generation and the chat output (parser + queued
// chunks, shared with the server: api/chat_output.h).
struct ChatState {
  std::optional<Generation> generation;
  std::unique_ptr<ChatOutput> output;

  void finalize() {
    if (output->finalized()) return;
    output->finalize(generation->end());
  }

  std::optional<ChatChunk> next() {
    while (output->empty() && !output->finalized()) {
      if (std::optional<GenerationChunk> g = generation->next()) {
        output->feed(g->text);
      } else {
        finalize();
      }
    }
    return output->pop();
  }

  ChatCompletion end() {
    finalize();
    output->clear();
    return output->completion();
  }
};

}  // namespace detail

namespace {

std::string model_chat_template(const runtime::Model& model) {
  Result<std::string> t = model.file().get_string("tokenizer.chat_template");
  return t.ok() ? *t : std::string();
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
  const int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const uint64_t nanos = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
  ++e.chat_count;
  const uint32_t seed = params.generation.sampling.seed;
  // A fixed sampling seed gives reproducible ids (and tool-call ids) too.
  const uint64_t id_seed = seed != kRandomSeed
                               ? detail::mix_bits(seed)
                               : detail::mix_bits(nanos ^ detail::mix_bits(e.chat_count));
  plan.parser.id_seed = id_seed;
  EMBER_ASSIGN_OR_RETURN(
      state->output,
      detail::ChatOutput::create(std::move(plan.parser), detail::chat_completion_id(id_seed),
                                 created, params.model));
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
