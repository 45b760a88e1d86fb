#include "chat/parsers/emitter.h"

#include "chat/parsers/input.h"

namespace ember::chat::detail {
namespace {

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

std::string Emitter::generate_id(IdStyle style, uint64_t seed, size_t index) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  // One independent stream per call index, so ids do not depend on anything but (seed, index).
  uint64_t state = seed ^ (0xD1B54A32D192ED03ull * (static_cast<uint64_t>(index) + 1));
  const size_t length = style == IdStyle::kMistral ? 9 : 24;
  std::string id = style == IdStyle::kMistral ? "" : "call_";
  uint64_t bits = 0;
  int left = 0;
  for (size_t i = 0; i < length; ++i) {
    if (left < 6) {
      bits = splitmix64(&state);
      left = 64;
    }
    // 62 symbols from 6 random bits: a slight bias towards the first two symbols is harmless
    // for an identifier.
    id += kAlphabet[(bits & 63) % 62];
    bits >>= 6;
    left -= 6;
  }
  return id;
}

void Emitter::push_text(bool reasoning, std::string_view text) {
  if (text.empty()) return;
  if (!deltas_.empty()) {
    ChatDelta& last = deltas_.back();
    if (!last.tool_call) {
      if (reasoning && !last.reasoning_content.empty()) {
        last.reasoning_content.append(text);
        return;
      }
      if (!reasoning && !last.content.empty()) {
        last.content.append(text);
        return;
      }
    }
  }
  ChatDelta d;
  (reasoning ? d.reasoning_content : d.content).assign(text);
  deltas_.push_back(std::move(d));
}

void Emitter::content(std::string_view text) {
  size_t begin = 0;
  if (!content_started_) {
    while (begin < text.size() && is_space(text[begin])) ++begin;
    if (begin == text.size()) return;
  }
  size_t end = text.size();
  while (end > begin && is_space(text[end - 1])) --end;
  if (end == begin) {
    content_space_.append(text.substr(begin));
    return;
  }
  std::string piece = std::move(content_space_);
  piece.append(text.substr(begin, end - begin));
  content_space_.assign(text.substr(end));
  content_started_ = true;
  message_.content += piece;
  push_text(false, piece);
}

void Emitter::reasoning_open() {
  reasoning_open_ = true;
  reasoning_block_started_ = false;
  reasoning_space_.clear();
}

void Emitter::reasoning(std::string_view text) {
  size_t begin = 0;
  if (!reasoning_block_started_) {
    while (begin < text.size() && is_space(text[begin])) ++begin;
    if (begin == text.size()) return;
  }
  size_t end = text.size();
  while (end > begin && is_space(text[end - 1])) --end;
  if (end == begin) {
    reasoning_space_.append(text.substr(begin));
    return;
  }
  std::string piece;
  if (!reasoning_block_started_ && !message_.reasoning_content.empty()) piece = "\n";
  piece += reasoning_space_;
  piece.append(text.substr(begin, end - begin));
  reasoning_space_.assign(text.substr(end));
  reasoning_block_started_ = true;
  message_.reasoning_content += piece;
  push_text(true, piece);
}

void Emitter::reasoning_close() {
  reasoning_open_ = false;
  reasoning_block_started_ = false;
  reasoning_space_.clear();
}

void Emitter::tool_begin(std::string id, std::string name) {
  const size_t index = message_.tool_calls.size();
  if (id.empty()) id = generate_id(id_style_, seed_, index);
  message_.tool_calls.push_back(ToolCall{id, name, ""});
  ChatDelta d;
  d.tool_call = ToolCallDelta{index, std::move(id), std::move(name), ""};
  deltas_.push_back(std::move(d));
  in_call_ = true;
}

void Emitter::tool_args(std::string_view text) {
  if (text.empty() || message_.tool_calls.empty()) return;
  const size_t index = message_.tool_calls.size() - 1;
  message_.tool_calls.back().arguments.append(text);
  if (!deltas_.empty() && deltas_.back().tool_call && deltas_.back().tool_call->index == index) {
    deltas_.back().tool_call->arguments.append(text);
    return;
  }
  ChatDelta d;
  d.tool_call = ToolCallDelta{index, "", "", std::string(text)};
  deltas_.push_back(std::move(d));
}

void Emitter::tool_end() {
  in_call_ = false;
}

void Emitter::warn(std::string message) {
  message_.warnings.push_back(std::move(message));
}

std::vector<ChatDelta> Emitter::take_deltas() {
  std::vector<ChatDelta> out;
  out.swap(deltas_);
  return out;
}

ParsedMessage Emitter::finish() {
  content_space_.clear();
  reasoning_space_.clear();
  in_call_ = false;
  return message_;
}

}  // namespace ember::chat::detail
