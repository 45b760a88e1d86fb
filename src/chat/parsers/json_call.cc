#include "chat/parsers/json_call.h"

#include <algorithm>

namespace ember::chat::detail {
namespace {

bool contains(const std::vector<std::string>& keys, const std::string& k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

// Waits for a non-space byte; false when more input is needed. At eof with nothing left,
// *ended is set.
bool next_byte(Input& in, bool* ended) {
  *ended = false;
  if (!skip_space(in)) return false;
  *ended = in.empty();
  return true;
}

}  // namespace

Step JsonCallObject::fail(Emitter& out, std::string why) {
  if (!committed_) return reject(std::move(why));
  const bool mid_args = args_streamed_ && !have_args_;
  abandon_call(out, mid_args ? &args_ : nullptr,
               "tool call '" + name_ + "': " + why + (mid_args ? "; arguments closed" : ""));
  return Step::kDone;
}

Step JsonCallObject::commit_args_text(Emitter& out, std::string_view args_json) {
  out.tool_begin(id_, name_);
  committed_ = true;
  out.tool_args(args_json);
  out.tool_end();
  return Step::kDone;
}

Step JsonCallObject::finish_object(Emitter& out) {
  if (committed_) {
    out.tool_end();
    return Step::kDone;
  }
  if (name_.empty()) return reject("tool call without a name");
  if (!have_args_) {
    if (keys_->require_args) return reject("");
    return commit_args_text(out, "{}");
  }
  // Arguments captured whole: an object or array as written, null as {}, or a JSON string that
  // holds the JSON text (some models stringify their arguments).
  const char c = args_text_.empty() ? ' ' : args_text_[0];
  if (c == '{') return commit_args_text(out, args_text_);
  if (args_text_ == "null") return commit_args_text(out, "{}");
  if (c == '"') {
    std::optional<std::string> inner = decode_json_string(args_text_);
    if (inner && !inner->empty() && (*inner)[0] == '{' && is_valid_json(*inner)) {
      return commit_args_text(out, *inner);
    }
  }
  return reject("tool call arguments are not a JSON object");
}

Step JsonCallObject::on_key(Emitter& out) {
  std::optional<std::string> key = decode_json_string(capture_.text());
  if (!key) return fail(out, "bad key in the tool call object");
  slot_ = Slot::kNone;
  if (keys_->short_form) {
    if (!first_key_) return fail(out, "a short-form tool call has a single key");
    if (key->empty()) return fail(out, "empty tool name");
    name_ = std::move(*key);
    slot_ = Slot::kArgs;
  } else if (contains(keys_->name, *key)) {
    slot_ = Slot::kName;
  } else if (contains(keys_->args, *key)) {
    slot_ = Slot::kArgs;
  } else if (contains(keys_->id, *key)) {
    slot_ = Slot::kId;
  } else if (keys_->require_args && *key != "type" && !committed_) {
    // A bare JSON object that may be an answer rather than a call: give up at its first foreign
    // key instead of holding back the whole object.
    return reject("");
  }
  first_key_ = false;
  state_ = State::kColon;
  return Step::kNeedMore;
}

Step JsonCallObject::on_value(Emitter& out) {
  const std::string& text = capture_.text();
  switch (slot_) {
    case Slot::kName: {
      std::optional<std::string> s = decode_json_string(text);
      if (!s || s->empty()) return fail(out, "the tool name is not a string");
      if (!committed_) name_ = std::move(*s);
      break;
    }
    case Slot::kId:
      if (!committed_) {
        if (std::optional<std::string> s = decode_json_string(text)) {
          id_ = std::move(*s);
        } else if (!text.empty() && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9'))) {
          id_ = text;
        }
      }
      break;
    case Slot::kArgs:
      if (!committed_) {
        args_text_ = text;
        have_args_ = true;
      }
      break;
    case Slot::kNone:
      break;
  }
  state_ = State::kAfter;
  return Step::kNeedMore;
}

Step JsonCallObject::step(Input& in, Emitter& out) {
  for (;;) {
    bool ended = false;
    switch (state_) {
      case State::kOpen:
        if (!next_byte(in, &ended)) return Step::kNeedMore;
        if (ended) return fail(out, "output ended before the tool call");
        if (in.peek() != '{') return fail(out, "a tool call must be a JSON object");
        in.consume(1);
        state_ = State::kKeyStart;
        break;
      case State::kKeyStart:
        if (!next_byte(in, &ended)) return Step::kNeedMore;
        if (ended) return fail(out, "output ended inside the tool call");
        if (in.peek() == '}' && first_key_) {
          in.consume(1);
          return finish_object(out);
        }
        if (in.peek() != '"') return fail(out, "expected a key in the tool call object");
        capture_ = JsonCapture();
        state_ = State::kKeyCapture;
        break;
      case State::kKeyCapture: {
        JsonStreamer::Status st = capture_.pump(in);
        if (st == JsonStreamer::Status::kError) return fail(out, capture_.error());
        if (st == JsonStreamer::Status::kNeedMore) {
          if (in.eof()) return fail(out, "output ended inside the tool call");
          return Step::kNeedMore;
        }
        if (Step s = on_key(out); s != Step::kNeedMore) return s;
        break;
      }
      case State::kColon:
        if (!next_byte(in, &ended)) return Step::kNeedMore;
        if (ended || in.peek() != ':') return fail(out, "expected ':' in the tool call object");
        in.consume(1);
        state_ = State::kValue;
        break;
      case State::kValue:
        if (!next_byte(in, &ended)) return Step::kNeedMore;
        if (ended) return fail(out, "output ended inside the tool call");
        if (slot_ == Slot::kArgs && !committed_ && !keys_->wait_for_end && !name_.empty() &&
            in.peek() == '{') {
          out.tool_begin(id_, name_);
          committed_ = true;
          args_streamed_ = true;
          state_ = State::kArgsStream;
        } else {
          capture_ = JsonCapture();
          state_ = State::kValueCapture;
        }
        break;
      case State::kArgsStream: {
        JsonStreamer::Status st = args_.pump(in, out);
        if (st == JsonStreamer::Status::kError) return fail(out, args_.error());
        if (st == JsonStreamer::Status::kNeedMore) {
          if (in.eof()) return fail(out, "output ended inside the arguments");
          return Step::kNeedMore;
        }
        have_args_ = true;
        state_ = State::kAfter;
        break;
      }
      case State::kValueCapture: {
        JsonStreamer::Status st = capture_.pump(in);
        if (st == JsonStreamer::Status::kError) return fail(out, capture_.error());
        if (st == JsonStreamer::Status::kNeedMore) {
          if (in.eof()) return fail(out, "output ended inside the tool call");
          return Step::kNeedMore;
        }
        if (Step s = on_value(out); s != Step::kNeedMore) return s;
        break;
      }
      case State::kAfter:
        if (!next_byte(in, &ended)) return Step::kNeedMore;
        if (ended) return fail(out, "output ended inside the tool call");
        if (in.peek() == ',') {
          in.consume(1);
          state_ = State::kKeyStart;
          break;
        }
        if (in.peek() == '}') {
          in.consume(1);
          return finish_object(out);
        }
        return fail(out, "unexpected " + describe_byte(in.peek()) + " in the tool call object");
    }
  }
}

// ---- JsonCallArray ----------------------------------------------------------------------------

Step JsonCallArray::fail(Emitter& out, std::string why) {
  if (!any_) return reject(std::move(why));
  out.warn("tool call list: " + why);
  return Step::kDone;
}

Step JsonCallArray::step(Input& in, Emitter& out) {
  for (;;) {
    bool ended = false;
    switch (state_) {
      case State::kOpen:
        if (!next_byte(in, &ended)) return Step::kNeedMore;
        if (ended || in.peek() != '[') return fail(out, "expected a JSON list of tool calls");
        in.consume(1);
        state_ = State::kItemOrEnd;
        break;
      case State::kItemOrEnd:
        if (!next_byte(in, &ended)) return Step::kNeedMore;
        if (ended) return fail(out, "output ended inside the tool call list");
        if (in.peek() == ']' && !after_comma_) {
          if (!any_) return fail(out, "empty tool call list");
          in.consume(1);
          state_ = State::kCloser;
          break;
        }
        if (in.peek() != '{') return fail(out, "expected a tool call object in the list");
        item_start_ = in.offset();
        item_ = std::make_unique<JsonCallObject>(keys_);
        state_ = State::kItem;
        break;
      case State::kItem: {
        Step s = item_->step(in, out);
        if (s == Step::kNeedMore) return s;
        if (s == Step::kReject) {
          if (!any_) return reject(item_->reject_reason());
          in.rewind(item_start_);
          out.warn("tool call list: " + item_->reject_reason() + "; rest kept as text");
          return Step::kDone;
        }
        any_ = true;
        item_.reset();
        state_ = State::kAfterItem;
        break;
      }
      case State::kAfterItem:
        if (!next_byte(in, &ended)) return Step::kNeedMore;
        if (ended) return fail(out, "output ended inside the tool call list");
        if (in.peek() == ',') {
          in.consume(1);
          after_comma_ = true;
          state_ = State::kItemOrEnd;
          break;
        }
        if (in.peek() == ']') {
          in.consume(1);
          state_ = State::kCloser;
          break;
        }
        return fail(out, "unexpected " + describe_byte(in.peek()) + " in the tool call list");
      case State::kCloser: {
        if (closer_.empty()) return Step::kDone;
        if (!skip_space(in)) return Step::kNeedMore;
        Match m = match_literal(in, closer_);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo) return fail(out, "missing " + closer_ + " after the tool calls");
        return Step::kDone;
      }
    }
  }
}

}  // namespace ember::chat::detail
