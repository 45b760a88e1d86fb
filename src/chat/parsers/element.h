// Building blocks of the output parsers.
//
// An Element parses one structure that starts at a trigger marker (a tool call, a section of
// tool calls, ...). It is a resumable state machine: `step` consumes what it can decide on and
// returns kNeedMore to be called again with more text. Until it emits its first event it may
// give up (kReject): the engine then rewinds to the trigger and treats the text as ordinary
// text, so nothing shown is ever taken back. After it started a tool call it cannot reject any
// more; on bad input it closes the call (arguments completed to valid JSON), records a warning
// and finishes, leaving the rest of the text to the engine.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "chat/parsers/emitter.h"
#include "chat/parsers/input.h"
#include "chat/parsers/json_stream.h"

namespace ember::chat::detail {

enum class Step { kNeedMore, kDone, kReject };

class Element {
 public:
  virtual ~Element() = default;
  // Must not return kNeedMore once `in.eof()`.
  virtual Step step(Input& in, Emitter& out) = 0;
  // Why it rejected; empty when the text was simply not a tool call (no warning needed).
  const std::string& reject_reason() const { return reject_reason_; }

 protected:
  Step reject(std::string why) {
    reject_reason_ = std::move(why);
    return Step::kReject;
  }

 private:
  std::string reject_reason_;
};

// Streams a JSON value from the input into the arguments of the open tool call.
class ArgsStream {
 public:
  // kDone: the value is complete. kError: see error(). kNeedMore at eof means truncated.
  JsonStreamer::Status pump(Input& in, Emitter& out);
  bool started() const { return json_.started(); }
  const std::string& error() const { return json_.error(); }
  // Text that completes what was streamed into valid JSON ("{}" when nothing was).
  std::string closing() const;

 private:
  JsonStreamer json_;
  std::string scratch_;
};

// Reads a complete JSON value from the input into a string (for names, ids and values that
// cannot be streamed).
class JsonCapture {
 public:
  JsonStreamer::Status pump(Input& in);
  const std::string& text() const { return text_; }
  const std::string& error() const { return json_.error(); }

 private:
  JsonStreamer json_;
  std::string text_;
};

// Closes the open tool call after a problem: completes its arguments (when `args` is given)
// and records `why` as a warning.
void abandon_call(Emitter& out, const ArgsStream* args, const std::string& why);

// A plausible tool name: 1..256 bytes of valid UTF-8 without control characters or spaces.
// Names from raw-text syntaxes are checked before a call starts, so what the caller gets can
// always be serialized.
bool is_valid_tool_name(std::string_view name);

// True when `text` (a whole string) is a JSON value.
bool is_valid_json(std::string_view text);
// The string a JSON string literal stands for; nullopt when `literal` is not a JSON string.
std::optional<std::string> decode_json_string(std::string_view literal);

}  // namespace ember::chat::detail
