// Tool calls written as JSON objects, e.g. {"name": "get_weather", "arguments": {"city": "Oslo"}},
// and arrays of them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/parsers/element.h"

namespace ember::chat::detail {

// Which keys of a call object mean what.
struct JsonCallKeys {
  std::vector<std::string> name{"name"};
  std::vector<std::string> args{"arguments", "parameters"};
  std::vector<std::string> id{"id"};
  // {"get_weather": {"city": "Oslo"}}: the only key is the name, its value the arguments.
  bool short_form = false;
  // Start the call only when the object is complete (the model writes its id after the
  // arguments, e.g. Mistral Nemo), so arguments are not streamed.
  bool wait_for_end = false;
  // Strict: only objects with a name, arguments and nothing but id/type keys are calls (a bare
  // JSON answer with a "name" field must stay content, and is given up on at its first other
  // key).
  bool require_args = false;
};

// One call object. Arguments stream as soon as the name is known and the arguments value
// starts (an object); arguments given as a JSON-encoded string are decoded.
class JsonCallObject final : public Element {
 public:
  explicit JsonCallObject(const JsonCallKeys* keys) : keys_(keys) {}
  Step step(Input& in, Emitter& out) override;

 private:
  enum class State {
    kOpen,
    kKeyStart,
    kKeyCapture,
    kColon,
    kValue,
    kValueCapture,
    kArgsStream,
    kAfter
  };
  enum class Slot { kNone, kName, kId, kArgs };
  Step fail(Emitter& out, std::string why);
  Step on_key(Emitter& out);
  Step on_value(Emitter& out);
  Step finish_object(Emitter& out);
  Step commit_args_text(Emitter& out, std::string_view args_json);

  const JsonCallKeys* keys_;
  State state_ = State::kOpen;
  Slot slot_ = Slot::kNone;
  bool first_key_ = true;
  JsonCapture capture_;
  ArgsStream args_;
  std::string name_, id_;
  std::string args_text_;  // arguments captured before the call could start
  bool have_args_ = false;
  bool args_streamed_ = false;
  bool committed_ = false;
};

// "[" call ("," call)* "]", then optionally `closer` (after whitespace).
class JsonCallArray final : public Element {
 public:
  JsonCallArray(const JsonCallKeys* keys, std::string closer, bool open_consumed = false)
      : keys_(keys),
        closer_(std::move(closer)),
        state_(open_consumed ? State::kItemOrEnd : State::kOpen) {}
  Step step(Input& in, Emitter& out) override;

 private:
  enum class State { kOpen, kItemOrEnd, kItem, kAfterItem, kCloser };
  Step fail(Emitter& out, std::string why);

  const JsonCallKeys* keys_;
  std::string closer_;
  State state_;
  std::unique_ptr<JsonCallObject> item_;
  size_t item_start_ = 0;
  bool any_ = false;
  bool after_comma_ = false;
};

}  // namespace ember::chat::detail
