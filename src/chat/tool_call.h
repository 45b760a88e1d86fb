// The pieces of an assistant reply as the output parsers hand them out: streamed deltas while the
// model generates, and the assembled message at the end. The shapes follow OpenAI's chat
// completion API (`delta.content`, `delta.reasoning_content`, `delta.tool_calls[i]`) so a server
// can copy them into `chat.completion.chunk` objects field by field.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace ember::chat {

// One tool call of an assistant message. `arguments` is JSON text (an object), exactly as it was
// streamed: the model's own spelling of the JSON, or for formats whose parameters are not JSON
// (XML-like tags, Python-style calls) a JSON object built from them.
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;

  bool operator==(const ToolCall&) const = default;
};

// A streamed piece of tool call `index` (0, 1, ... in order of appearance). The first delta of a
// call carries its `id` and `name`; later deltas carry only argument text. Concatenating every
// `arguments` fragment of a call gives its final `arguments`, and each concatenation along the
// way is a prefix of that final JSON text.
struct ToolCallDelta {
  size_t index = 0;
  std::string id;         // set on the first delta of the call only
  std::string name;       // set on the first delta of the call only
  std::string arguments;  // fragment to append

  bool operator==(const ToolCallDelta&) const = default;
};

// One streamed piece of the reply. Exactly one of `content`, `reasoning_content` and `tool_call`
// is set (non-empty / engaged). Deltas come in output order, so appending them in order rebuilds
// the message.
struct ChatDelta {
  std::string content;
  std::string reasoning_content;
  std::optional<ToolCallDelta> tool_call;

  bool operator==(const ChatDelta&) const = default;
};

// The assembled reply once generation ended.
struct ParsedMessage {
  std::string content;
  std::string reasoning_content;
  std::vector<ToolCall> tool_calls;
  // Why parts of the output were not taken at face value: a tool call that did not parse (kept as
  // text), a call cut off by the end of generation (arguments closed to stay valid JSON), ...
  // Empty for well-formed output.
  std::vector<std::string> warnings;

  bool operator==(const ParsedMessage&) const = default;
};

}  // namespace ember::chat
