// Output side of the incremental output parsers: turns "content", "reasoning" and "tool call"
// events into merged ChatDeltas and the assembled ParsedMessage.
//
// Whitespace policy (documented in docs/chat-formats.md): content and reasoning are trimmed —
// leading whitespace is dropped, and trailing whitespace is held back until more text follows
// (so it is never streamed and then found to be trailing). Separate reasoning blocks are joined
// with a newline.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/tool_call.h"

namespace ember::chat::detail {

// How generated tool-call ids look. Models that name their calls (Mistral Nemo, Kimi K2,
// Command R7B, ...) keep their own ids; the others get generated ones.
enum class IdStyle {
  kOpenAI,   // "call_" + 24 letters/digits
  kMistral,  // 9 letters/digits, what Mistral templates require
};

class Emitter {
 public:
  Emitter(IdStyle style, uint64_t seed) : id_style_(style), seed_(seed) {}

  void content(std::string_view text);

  void reasoning_open();
  void reasoning(std::string_view text);
  void reasoning_close();

  // Starts a tool call; an empty `id` gets a generated one.
  void tool_begin(std::string id, std::string name);
  void tool_args(std::string_view text);
  void tool_end();
  bool in_call() const { return in_call_; }
  size_t calls() const { return message_.tool_calls.size(); }

  void warn(std::string message);

  // Deltas produced since the last call.
  std::vector<ChatDelta> take_deltas();
  // Ends the message: drops held-back trailing whitespace, closes an open call.
  ParsedMessage finish();

  // The id generated for call number `index` (deterministic in seed and index).
  static std::string generate_id(IdStyle style, uint64_t seed, size_t index);

 private:
  void push_text(bool reasoning, std::string_view text);

  IdStyle id_style_;
  uint64_t seed_;
  ParsedMessage message_;
  std::vector<ChatDelta> deltas_;
  std::string content_space_;  // trailing whitespace held back
  bool content_started_ = false;
  std::string reasoning_space_;
  bool reasoning_block_started_ = false;  // non-space reasoning text seen in the open block
  bool reasoning_open_ = false;
  bool in_call_ = false;
};

}  // namespace ember::chat::detail
