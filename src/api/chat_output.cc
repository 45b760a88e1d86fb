#include "api/chat_output.h"

namespace ember::detail {

uint64_t mix_bits(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string chat_completion_id(uint64_t seed) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id = "chatcmpl-";
  uint64_t x = seed;
  for (int i = 0; i < 24; ++i) {
    x = mix_bits(x);
    id += kChars[x % (sizeof(kChars) - 1)];
  }
  return id;
}

Result<std::unique_ptr<ChatOutput>> ChatOutput::create(chat::OutputParserOptions parser,
                                                       std::string id, int64_t created,
                                                       std::string model) {
  std::unique_ptr<ChatOutput> out(new ChatOutput());
  Result<chat::OutputParser> p = chat::OutputParser::create(std::move(parser));
  if (!p.ok()) return p.status().with_context("tools");
  out->parser_.emplace(std::move(*p));
  out->completion_.id = std::move(id);
  out->completion_.created = created;
  out->completion_.model = std::move(model);
  return out;
}

ChatChunk ChatOutput::make_chunk() const {
  ChatChunk c;
  c.id = completion_.id;
  c.created = completion_.created;
  c.model = completion_.model;
  return c;
}

void ChatOutput::push_deltas(std::vector<chat::ChatDelta> deltas) {
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
    queue_.push_back(std::move(c));
  }
}

void ChatOutput::feed(std::string_view text) {
  if (done_ || text.empty()) return;
  push_deltas(parser_->feed(text));
}

void ChatOutput::finalize(const GenerationResult& r) {
  if (done_) return;
  if (!r.tail.empty()) push_deltas(parser_->feed(r.tail));
  done_ = true;
  chat::OutputParser::Final fin = parser_->finish();
  push_deltas(std::move(fin.deltas));

  ChatMessage& m = completion_.message;
  m.role = ChatRole::kAssistant;
  m.content = std::move(fin.message.content);
  m.reasoning_content = std::move(fin.message.reasoning_content);
  for (chat::ToolCall& c : fin.message.tool_calls) {
    m.tool_calls.push_back({std::move(c.id), std::move(c.name), std::move(c.arguments)});
  }
  completion_.warnings = std::move(fin.message.warnings);
  switch (r.finish_reason) {
    case FinishReason::kStop:
    case FinishReason::kNone:
      completion_.finish_reason =
          m.tool_calls.empty() ? ChatFinishReason::kStop : ChatFinishReason::kToolCalls;
      break;
    case FinishReason::kLength:
      completion_.finish_reason = ChatFinishReason::kLength;
      break;
    case FinishReason::kCancelled:
      completion_.finish_reason = ChatFinishReason::kCancelled;
      break;
    case FinishReason::kError:
      completion_.finish_reason = ChatFinishReason::kError;
      completion_.error = r.error;
      break;
  }
  completion_.tokens = r.tokens;
  completion_.usage.prompt_tokens = r.usage.prompt_tokens;
  completion_.usage.completion_tokens = r.usage.completion_tokens;
  completion_.usage.cached_prompt_tokens = r.usage.cached_prompt_tokens;
  completion_.usage.timings = r.usage;

  ChatChunk last = make_chunk();
  last.finish_reason = completion_.finish_reason;
  last.usage = completion_.usage;
  queue_.push_back(std::move(last));
}

std::optional<ChatChunk> ChatOutput::pop() {
  if (queue_.empty()) return std::nullopt;
  ChatChunk c = std::move(queue_.front());
  queue_.pop_front();
  if (!sent_role_) {
    c.has_role = true;
    sent_role_ = true;
  }
  return c;
}

}  // namespace ember::detail
