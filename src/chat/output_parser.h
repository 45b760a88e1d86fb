// Incremental parsing of a model's reply into content, reasoning and tool calls.
//
//   OutputParserOptions opt;
//   opt.syntax = syntax_for_request(detect_chat_syntax(tmpl), tools_enabled);
//   opt.parse_tool_calls = tools_enabled;
//   opt.thinking_forced_open = prompt_opens_reasoning(opt.syntax, prompt);
//   opt.tools = request["tools"];
//   Result<OutputParser> parser = OutputParser::create(std::move(opt));
//   for (each decoded piece of text) for (ChatDelta& d : parser->feed(piece)) send(d);
//   OutputParser::Final end = parser->finish();   // last deltas + the assembled message
//
// Guarantees:
// - Streaming does not change the result: feeding the reply in any chunking (down to single
//   bytes) gives the same final message, and the concatenated deltas always equal it.
// - Nothing is taken back: text that might be the start of a tool call or reasoning marker is
//   held back until it is known not to be; a tool call that turns out malformed before anything
//   of it was streamed is kept as text (with a warning). Arguments stream as they grow; each
//   streamed prefix can be completed to valid JSON, and is if the call breaks off.
// - Linear time: each byte is examined a bounded number of times.
// - Whitespace: content and reasoning are trimmed at both ends (held-back trailing whitespace
//   is released when more text follows).
// - Never throws or crashes on any input; problems are reported in `warnings`.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "chat/chat_format.h"
#include "chat/tool_call.h"
#include "ember/status.h"

namespace ember::chat {

struct OutputParserOptions {
  ChatSyntax syntax;
  // Tools were offered (and tool_choice is not "none"). When false, tool-call markers are
  // plain text.
  bool parse_tool_calls = true;
  // Split reasoning into reasoning_content. When false it stays in the content, markers and
  // all (GPT-OSS: analysis text becomes content).
  bool extract_reasoning = true;
  // The rendered prompt ended inside the reasoning block (see prompt_opens_reasoning): the
  // reply starts as reasoning.
  bool thinking_forced_open = false;
  // The request's tools array; optional. Used to type parameter values of XML-style calls
  // (a "string" parameter stays a string even if it looks like a number).
  Json tools;
  // Seeds generated tool-call ids: "call_" + 24 letters/digits (9 letters/digits for Mistral
  // formats), a pure function of (seed, call index). Use a different seed per request for
  // unique ids. Ids the model writes itself (Mistral Nemo, Kimi K2, Command R7B) are kept.
  uint64_t id_seed = 0;
};

class OutputParser {
 public:
  // Errors: `tools` given but not an array.
  static Result<OutputParser> create(OutputParserOptions options);

  OutputParser(OutputParser&&) noexcept;
  OutputParser& operator=(OutputParser&&) noexcept;
  ~OutputParser();

  // Appends generated text; returns the deltas it completes (possibly none).
  std::vector<ChatDelta> feed(std::string_view text);

  struct Final {
    std::vector<ChatDelta> deltas;  // the last deltas (held-back text released)
    ParsedMessage message;          // the whole reply
  };
  // Generation ended. Further feed() calls are ignored.
  Final finish();

  const ChatSyntax& syntax() const;

 private:
  struct State;
  explicit OutputParser(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Parses a complete reply in one go.
Result<ParsedMessage> parse_output(OutputParserOptions options, std::string_view text);

// The assembled message as an OpenAI assistant message: {"role": "assistant", "content": ...,
// "reasoning_content": ... (when present), "tool_calls": [{"id", "type": "function",
// "function": {"name", "arguments"}}] (when present)}. Content is null when empty and there
// are tool calls.
Json message_to_json(const ParsedMessage& message);

}  // namespace ember::chat
