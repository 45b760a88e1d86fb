// Response JSON (see openai_response.h).
#include "openai_response.h"

#include <algorithm>
#include <cmath>

namespace ember::http {

void UsageTotals::add(int64_t prompt, int64_t completion, int64_t cached, bool new_prompt) {
  if (new_prompt) {
    prompt_tokens += prompt;
    cached_tokens += cached;
  }
  completion_tokens += completion;
  seen = true;
}

Json UsageTotals::to_json() const {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

double safe_logprob(float probability) {
  if (!(probability > 0.0f)) return -9999.0;
  return std::max(-9999.0, std::log(static_cast<double>(probability)));
}

Json piece_bytes(const std::string& piece) {
  Json b = Json::array();
  for (unsigned char c : piece) b.push_back(static_cast<int>(c));
  return b;
}

Json chat_logprobs_entries(const RequestEvent& event, int top, const Tokenizer& tokenizer) {
  Json out = Json::array();
  const auto& tokens = event.generation.tokens;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string piece(tokenizer.piece_view(tokens[i]));
    const float p = i < event.sampled_probabilities.size() ? event.sampled_probabilities[i] : 0.0f;
    Json candidates = Json::array();
    if (i < event.generation.top_probabilities.size()) {
      const auto& cands = event.generation.top_probabilities[i];
      for (size_t k = 0; k < cands.size() && static_cast<int>(k) < top; ++k) {
        candidates.push_back({{"token", cands[k].piece},
                              {"logprob", safe_logprob(cands[k].probability)},
                              {"bytes", piece_bytes(cands[k].piece)}});
      }
    }
    out.push_back({{"token", piece},
                   {"logprob", safe_logprob(p)},
                   {"bytes", piece_bytes(piece)},
                   {"top_logprobs", std::move(candidates)}});
  }
  return out;
}

void CompletionLogprobs::add(const RequestEvent& event, const Tokenizer& tokenizer) {
  const auto& tokens = event.generation.tokens;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string piece(tokenizer.piece_view(tokens[i]));
    const float p = i < event.sampled_probabilities.size() ? event.sampled_probabilities[i] : 0.0f;
    tokens_.push_back(piece);
    token_logprobs_.push_back(safe_logprob(p));
    Json cands = Json::object();
    if (i < event.generation.top_probabilities.size()) {
      const auto& tp = event.generation.top_probabilities[i];
      for (size_t k = 0; k < tp.size() && static_cast<int>(k) < top_; ++k) {
        cands[tp[k].piece] = safe_logprob(tp[k].probability);
      }
    }
    top_logprobs_.push_back(std::move(cands));
    text_offset_.push_back(offset_);
    offset_ += piece.size();
  }
}

Json CompletionLogprobs::to_json() const {
  return {{"tokens", tokens_},
          {"token_logprobs", token_logprobs_},
          {"top_logprobs", top_logprobs_},
          {"text_offset", text_offset_}};
}

Json CompletionLogprobs::take_json() {
  Json j = to_json();
  tokens_ = Json::array();
  token_logprobs_ = Json::array();
  top_logprobs_ = Json::array();
  text_offset_ = Json::array();
  return j;
}

std::optional<Json> chat_chunk_json(const RequestEvent& event, bool logprobs, int top_logprobs,
                                    const Tokenizer& tokenizer) {
  if (!event.chat) return std::nullopt;
  const ChatChunk& c = *event.chat;
  const bool has_tokens = logprobs && !event.generation.tokens.empty();
  if (!c.has_role && c.content.empty() && c.reasoning_content.empty() && c.tool_calls.empty() &&
      c.finish_reason == ChatFinishReason::kNone && !has_tokens) {
    return std::nullopt;
  }
  Json j = c.to_json();
  j.erase("usage");
  Json& choice = j["choices"][0];
  choice["index"] = event.index;
  if (logprobs) {
    choice["logprobs"] = {{"content", chat_logprobs_entries(event, top_logprobs, tokenizer)}};
  } else {
    choice["logprobs"] = nullptr;
  }
  return j;
}

Json chat_usage_chunk_json(const std::string& id, int64_t created, const std::string& model,
                           const UsageTotals& usage) {
  return {{"id", id},       {"object", "chat.completion.chunk"}, {"created", created},
          {"model", model}, {"choices", Json::array()},          {"usage", usage.to_json()}};
}

void ChatCompletionBuilder::add(const RequestEvent& event, const Tokenizer& tokenizer) {
  if (event.index < 0 || static_cast<size_t>(event.index) >= choices_.size()) return;
  Choice& ch = choices_[static_cast<size_t>(event.index)];
  ch.message.role = ChatRole::kAssistant;
  if (event.chat) {
    const ChatChunk& c = *event.chat;
    if (id_.empty()) {
      id_ = c.id;
      created_ = c.created;
      model_ = c.model;
    }
    ch.message.content += c.content;
    ch.message.reasoning_content += c.reasoning_content;
    for (const ChatToolCallDelta& d : c.tool_calls) {
      auto it = ch.tool_index.find(d.index);
      if (it == ch.tool_index.end()) {
        it = ch.tool_index.emplace(d.index, ch.message.tool_calls.size()).first;
        ch.message.tool_calls.emplace_back();
      }
      ChatToolCall& call = ch.message.tool_calls[it->second];
      if (!d.id.empty()) call.id = d.id;
      if (!d.name.empty()) call.name = d.name;
      call.arguments += d.arguments;
    }
    if (c.finish_reason != ChatFinishReason::kNone) {
      ch.finish_reason = std::string(chat_finish_reason_name(c.finish_reason));
    }
  }
  if (logprobs_) {
    for (auto& e : chat_logprobs_entries(event, top_logprobs_, tokenizer)) {
      ch.logprobs.push_back(std::move(e));
    }
  }
  if (event.last) {
    if (ch.finish_reason.empty()) {
      ch.finish_reason = std::string(finish_reason_name(event.finish_reason));
    }
    if (event.chat && event.chat->usage) {
      const ChatUsage& u = *event.chat->usage;
      usage_.add(u.prompt_tokens, u.completion_tokens, u.cached_prompt_tokens, !usage_.seen);
    } else {
      usage_.add(event.usage.prompt_tokens, event.usage.completion_tokens,
                 event.usage.cached_prompt_tokens, !usage_.seen);
    }
  }
}

Json ChatCompletionBuilder::to_json() const {
  Json choices = Json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& ch = choices_[i];
    Json message = ch.message.to_json();
    if (!message.contains("content")) message["content"] = nullptr;
    Json c = {{"index", i}, {"message", std::move(message)}};
    c["logprobs"] = logprobs_ ? Json{{"content", ch.logprobs}} : Json(nullptr);
    c["finish_reason"] = ch.finish_reason.empty() ? Json(nullptr) : Json(ch.finish_reason);
    choices.push_back(std::move(c));
  }
  return {{"id", id_},       {"object", "chat.completion"},   {"created", created_},
          {"model", model_}, {"choices", std::move(choices)}, {"usage", usage_.to_json()}};
}

std::string completion_finish_reason(const RequestEvent& event) {
  return std::string(finish_reason_name(event.finish_reason));
}

Json completion_json(const std::string& id, int64_t created, const std::string& model,
                     Json choices) {
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", std::move(choices)}};
}

Json completion_choice_json(int64_t index, const std::string& text, Json logprobs,
                            const std::string& finish_reason) {
  return {{"text", text},
          {"index", index},
          {"logprobs", std::move(logprobs)},
          {"finish_reason", finish_reason.empty() ? Json(nullptr) : Json(finish_reason)}};
}

}  // namespace ember::http
