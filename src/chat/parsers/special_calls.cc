#include "chat/parsers/special_calls.h"

namespace ember::chat::detail {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

// ---- HermesCall -------------------------------------------------------------------------------

Step HermesCall::step(Input& in, Emitter& out) {
  for (;;) {
    switch (state_) {
      case State::kStart: {
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.empty()) return reject("output ended after the tool call tag");
        if (in.peek() == '{') {
          child_ = std::make_unique<JsonCallObject>(keys_);
          child_has_closer_ = false;
          state_ = State::kChild;
          break;
        }
        std::string_view v = in.view();
        std::string_view start = xml_->tool_start;
        if (v.size() >= start.size() && v.substr(0, start.size()) == start) {
          child_ = std::make_unique<XmlCall>(xml_, schemas_, /*in_scope=*/true);
          child_has_closer_ = true;
          state_ = State::kChild;
          break;
        }
        if (v.size() < start.size() && start.substr(0, v.size()) == v && !in.eof()) {
          return Step::kNeedMore;
        }
        return reject("expected a JSON object or " + xml_->tool_start + " after the tool call tag");
      }
      case State::kChild: {
        Step s = child_->step(in, out);
        if (s == Step::kReject) return reject(child_->reject_reason());
        if (s == Step::kNeedMore || child_has_closer_) return s;
        state_ = State::kCloser;
        break;
      }
      case State::kCloser: {
        if (!skip_space(in)) return Step::kNeedMore;
        if (!in.empty() && in.peek() == '{') {
          // Another call object in the same block (some Qwen models put several in one).
          child_ = std::make_unique<JsonCallObject>(keys_);
          next_start_ = in.offset();
          state_ = State::kNext;
          break;
        }
        Match m = match_closer(in, closer_);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo) out.warn("tool call: missing " + closer_);
        return Step::kDone;
      }
      case State::kNext: {
        Step s = child_->step(in, out);
        if (s == Step::kNeedMore) return s;
        if (s == Step::kReject) {
          in.rewind(next_start_);
          out.warn("tool call: " + child_->reject_reason() + "; rest kept as text");
          return Step::kDone;
        }
        state_ = State::kCloser;
        break;
      }
    }
  }
}

// ---- MistralCall ------------------------------------------------------------------------------

Step MistralCall::step(Input& in, Emitter& out) {
  if (!child_) {
    if (!skip_space(in)) return Step::kNeedMore;
    if (in.empty()) return reject("output ended after [TOOL_CALLS]");
    if (in.peek() == '[') {
      child_ = std::make_unique<JsonCallArray>(list_keys_, "");
    } else {
      child_ = std::make_unique<PatternCall>(named_);
    }
  }
  Step s = child_->step(in, out);
  if (s == Step::kReject) return reject(child_->reject_reason());
  return s;
}

// ---- LeadingJsonCalls -------------------------------------------------------------------------

Step LeadingJsonCalls::step(Input& in, Emitter& out) {
  for (;;) {
    switch (state_) {
      case State::kFirst:
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.empty() || in.peek() != '{') return reject("");
        child_start_ = in.offset();
        child_ = std::make_unique<JsonCallObject>(keys_);
        state_ = State::kChild;
        break;
      case State::kChild: {
        Step s = child_->step(in, out);
        if (s == Step::kNeedMore) return s;
        if (s == Step::kReject) {
          if (!any_) return reject("");
          in.rewind(child_start_);
          return Step::kDone;
        }
        any_ = true;
        child_.reset();
        child_start_ = in.offset();
        state_ = State::kNext;
        break;
      }
      case State::kNext:
        if (!skip_space(in)) return Step::kNeedMore;
        if (!in.empty() && in.peek() == ';') {
          in.consume(1);
          break;
        }
        if (!in.empty() && in.peek() == '{') {
          child_ = std::make_unique<JsonCallObject>(keys_);
          state_ = State::kChild;
          break;
        }
        in.rewind(child_start_);
        return Step::kDone;
    }
  }
}

// ---- RawCodeCall ------------------------------------------------------------------------------

Step RawCodeCall::step(Input& in, Emitter& out) {
  if (!started_) {
    out.tool_begin("", name_);
    std::string open = "{";
    open += json_quote(key_);
    open += ": \"";
    out.tool_args(open);
    started_ = true;
  }
  std::string_view v = in.view();
  MarkerSet::Hit hit{v.size(), std::nullopt};
  if (terminators_ != nullptr) hit = terminators_->scan(v, in.eof());
  std::string escaped;
  append_json_escaped(&escaped, v.substr(0, hit.safe));
  out.tool_args(escaped);
  in.consume(hit.safe);
  if (hit.marker || in.eof()) {
    out.tool_args("\"}");
    out.tool_end();
    return Step::kDone;
  }
  return Step::kNeedMore;
}

// ---- PythonTag --------------------------------------------------------------------------------

Step PythonTag::step(Input& in, Emitter& out) {
  if (!child_) {
    if (!skip_space(in)) return Step::kNeedMore;
    if (in.empty()) return reject("nothing after <|python_tag|>");
    if (in.peek() == '{') {
      child_ = std::make_unique<JsonCallObject>(keys_);
    } else {
      std::string_view v = in.view();
      size_t n = 0;
      while (n < v.size() && is_word_char(v[n])) ++n;
      if (n == v.size() && !in.eof()) return Step::kNeedMore;
      constexpr std::string_view kCall = ".call(";
      std::string_view rest = v.substr(n);
      if (n > 0 && rest.size() < kCall.size() && kCall.substr(0, rest.size()) == rest &&
          !in.eof()) {
        return Step::kNeedMore;
      }
      if (n > 0 && rest.substr(0, kCall.size()) == kCall) {
        std::string name(v.substr(0, n));
        in.consume(n + kCall.size());
        child_ = std::make_unique<PythonCallArgs>(std::move(name));
      } else {
        child_ = std::make_unique<RawCodeCall>("python", "code", nullptr);
      }
    }
  }
  Step s = child_->step(in, out);
  if (s == Step::kReject) return reject(child_->reject_reason());
  return s;
}

// ---- FunctionaryRecipient ---------------------------------------------------------------------

Step FunctionaryRecipient::step(Input& in, Emitter& out) {
  for (;;) {
    switch (state_) {
      case State::kName: {
        static const MarkerSet kNewline({"\n"});
        std::string text;
        size_t which = 0;
        Match m = capture_until(in, kNewline, 64, &text, &which);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo || text.empty()) return reject("");
        for (char c : text) {
          if (!is_ident_char(c)) return reject("");
        }
        in.consume(1);
        if (text == "all") return Step::kDone;  // plain content follows
        name_ = std::move(text);
        state_ = State::kBody;
        break;
      }
      case State::kBody:
        if (!skip_space(in)) return Step::kNeedMore;
        if (!in.empty() && in.peek() == '{') {
          out.tool_begin("", name_);
          state_ = State::kArgs;
          break;
        }
        if (name_ == "python") {
          code_ = std::make_unique<RawCodeCall>("python", "code", code_end_);
          state_ = State::kCode;
          break;
        }
        return reject("no JSON arguments for " + name_);
      case State::kArgs: {
        JsonStreamer::Status st = args_.pump(in, out);
        if (st == JsonStreamer::Status::kError) {
          abandon_call(out, &args_, "tool call '" + name_ + "': " + args_.error());
          return Step::kDone;
        }
        if (st == JsonStreamer::Status::kNeedMore) {
          if (!in.eof()) return Step::kNeedMore;
          abandon_call(out, &args_, "tool call '" + name_ + "': output ended inside the arguments");
          return Step::kDone;
        }
        out.tool_end();
        return Step::kDone;
      }
      case State::kCode:
        return code_->step(in, out);
    }
  }
}

// ---- GenericReply -----------------------------------------------------------------------------

Step GenericReply::fail(Emitter& out, std::string why) {
  if (!committed_) return reject(std::move(why));
  out.warn("reply object: " + why);
  return Step::kDone;
}

Step GenericReply::step(Input& in, Emitter& out) {
  for (;;) {
    switch (state_) {
      case State::kOpen:
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.empty() || in.peek() != '{') return reject("");
        in.consume(1);
        state_ = State::kKeyStart;
        break;
      case State::kKeyStart:
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.empty()) return fail(out, "output ended inside the reply object");
        if (in.peek() != '"') return fail(out, "expected a key in the reply object");
        capture_ = JsonCapture();
        state_ = State::kKey;
        break;
      case State::kKey: {
        JsonStreamer::Status st = capture_.pump(in);
        if (st == JsonStreamer::Status::kError) return fail(out, capture_.error());
        if (st == JsonStreamer::Status::kNeedMore) {
          if (in.eof()) return fail(out, "output ended inside the reply object");
          return Step::kNeedMore;
        }
        std::optional<std::string> key = decode_json_string(capture_.text());
        if (!key) return fail(out, "bad key in the reply object");
        key_ = std::move(*key);
        if (first_key_ && key_ != "response" && key_ != "tool_call" && key_ != "tool_calls") {
          return reject("");  // some other JSON: plain content
        }
        first_key_ = false;
        state_ = State::kColon;
        break;
      }
      case State::kColon:
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.empty() || in.peek() != ':') return fail(out, "expected ':' in the reply object");
        in.consume(1);
        state_ = State::kValue;
        break;
      case State::kValue:
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.empty()) return fail(out, "output ended inside the reply object");
        if (key_ == "response" && in.peek() == '"') {
          in.consume(1);
          committed_ = true;
          response_ = JsonStringDecoder();
          state_ = State::kResponse;
        } else if (key_ == "tool_call") {
          child_ = std::make_unique<JsonCallObject>(keys_);
          state_ = State::kChild;
        } else if (key_ == "tool_calls") {
          child_ = std::make_unique<JsonCallArray>(keys_, "");
          state_ = State::kChild;
        } else {
          capture_ = JsonCapture();
          state_ = State::kCapture;
        }
        break;
      case State::kResponse: {
        size_t consumed = 0;
        std::string text;
        JsonStringDecoder::Status st = response_.feed(in.view(), &consumed, &text);
        in.consume(consumed);
        out.content(text);
        if (st == JsonStringDecoder::Status::kError) return fail(out, "bad escape in the response");
        if (st == JsonStringDecoder::Status::kNeedMore) {
          if (in.eof()) return fail(out, "output ended inside the response");
          return Step::kNeedMore;
        }
        state_ = State::kAfter;
        break;
      }
      case State::kCapture: {
        JsonStreamer::Status st = capture_.pump(in);
        if (st == JsonStreamer::Status::kError) return fail(out, capture_.error());
        if (st == JsonStreamer::Status::kNeedMore) {
          if (in.eof()) return fail(out, "output ended inside the reply object");
          return Step::kNeedMore;
        }
        if (key_ == "response") {
          committed_ = true;
          out.content(capture_.text());
        }
        state_ = State::kAfter;
        break;
      }
      case State::kChild: {
        Step s = child_->step(in, out);
        if (s == Step::kNeedMore) return s;
        if (s == Step::kReject) {
          std::string why = child_->reject_reason();
          child_.reset();
          return fail(out, why);
        }
        committed_ = true;
        child_.reset();
        state_ = State::kAfter;
        break;
      }
      case State::kAfter:
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.empty()) return fail(out, "output ended inside the reply object");
        if (in.peek() == ',') {
          in.consume(1);
          state_ = State::kKeyStart;
          break;
        }
        if (in.peek() == '}') {
          in.consume(1);
          return Step::kDone;
        }
        return fail(out, "unexpected text in the reply object");
    }
  }
}

// ---- Gemma4Call -------------------------------------------------------------------------------

namespace {
constexpr std::string_view kGemmaQuote = "<|\"|>";
}

Step Gemma4Call::fail(Emitter& out, std::string why) {
  if (!committed_) return reject(std::move(why));
  if (out.in_call()) {
    out.tool_args(json_.started() ? json_.closing() : "{}");
    out.tool_end();
  }
  out.warn("tool call '" + name_ + "': " + why + "; arguments closed");
  return Step::kDone;
}

Gemma4Call::Convert Gemma4Call::convert(Input& in, std::string* json) {
  static const MarkerSet kQuote({std::string(kGemmaQuote)});
  if (in.empty()) return Convert::kMore;
  if (lex_ == Lex::kString) {
    // A run of string text (always valid inside a JSON string once escaped).
    std::string_view v = in.view();
    MarkerSet::Hit hit = kQuote.scan(v, in.eof());
    append_json_escaped(json, v.substr(0, hit.safe));
    in.consume(hit.safe);
    if (!hit.marker) return hit.safe > 0 ? Convert::kOk : Convert::kMore;
    in.consume(kGemmaQuote.size());
    *json += '"';
    lex_ = Lex::kNormal;
    return Convert::kOk;
  }
  const char c = in.peek();
  if (lex_ == Lex::kKey) {
    if (c == ':') {
      *json += "\":";
      in.consume(1);
      lex_ = Lex::kNormal;
      expect_key_ = false;
      return Convert::kOk;
    }
    if (c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == '<') {
      return Convert::kError;
    }
    append_json_escaped(json, std::string_view(&c, 1));
    in.consume(1);
    return Convert::kOk;
  }
  if (is_space(c)) {
    in.consume(1);
    return Convert::kOk;
  }
  if (c == '<') {
    std::string_view v = in.view();
    if (v.size() < kGemmaQuote.size() && kGemmaQuote.substr(0, v.size()) == v && !in.eof()) {
      return Convert::kMore;  // wait for the rest of the quote token
    }
    if (v.substr(0, kGemmaQuote.size()) != kGemmaQuote) return Convert::kError;
    in.consume(kGemmaQuote.size());
    *json += '"';
    lex_ = Lex::kString;
    expect_key_ = false;
    return Convert::kOk;
  }
  switch (c) {
    case '{':
    case '[':
      if (stack_.size() >= JsonStreamer::kMaxDepth) return Convert::kError;
      stack_.push_back(c);
      expect_key_ = c == '{';
      break;
    case '}':
    case ']':
      if (stack_.empty()) return Convert::kError;
      stack_.pop_back();
      expect_key_ = false;
      break;
    case ',':
      expect_key_ = !stack_.empty() && stack_.back() == '{';
      break;
    case ':':
      expect_key_ = false;
      break;
    default:
      if (expect_key_) {
        *json += '"';
        lex_ = Lex::kKey;
        return Convert::kOk;  // the byte is the key's first character, read next
      }
      // Outside strings only numbers and true/false/null remain. Anything else (a stray '"'
      // above all) would put the JSON out of step with this lexer.
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            c == '.' || c == '+' || c == '-')) {
        return Convert::kError;
      }
  }
  *json += c;  // brackets, separators and the characters of numbers, true, false, null
  in.consume(1);
  return Convert::kOk;
}

Step Gemma4Call::step(Input& in, Emitter& out) {
  for (;;) {
    switch (state_) {
      case State::kPrefix: {
        Match m = match_literal(in, "call:");
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo) return reject("expected call:NAME{...} after <|tool_call>");
        state_ = State::kName;
        break;
      }
      case State::kName: {
        static const MarkerSet kBrace({"{"});
        std::string text;
        size_t which = 0;
        Match m = capture_until(in, kBrace, 128, &text, &which);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo || text.empty()) return reject("bad tool name after call:");
        for (char c : text) {
          if (!is_ident_char(c)) return reject("bad tool name after call:");
        }
        name_ = text;
        out.tool_begin("", name_);
        committed_ = true;
        state_ = State::kArgs;
        break;
      }
      case State::kArgs: {
        // Convert and check in lock step, so the input stops exactly where the JSON breaks,
        // however the output was chunked.
        std::string converted;
        Convert r = convert(in, &converted);
        size_t consumed = 0;
        std::string safe;
        JsonStreamer::Status st = json_.feed(converted, false, &consumed, &safe);
        out.tool_args(safe);
        if (r == Convert::kError) return fail(out, "bad argument syntax");
        if (st == JsonStreamer::Status::kError) return fail(out, json_.error());
        if (st == JsonStreamer::Status::kDone) {
          state_ = State::kCloser;
          break;
        }
        if (r == Convert::kMore) {
          if (in.eof()) return fail(out, "output ended inside the arguments");
          return Step::kNeedMore;
        }
        break;
      }
      case State::kCloser: {
        if (!skip_space(in)) return Step::kNeedMore;
        Match m = match_closer(in, "<tool_call|>");
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo) out.warn("tool call '" + name_ + "': missing <tool_call|>");
        out.tool_end();
        return Step::kDone;
      }
    }
  }
}

}  // namespace ember::chat::detail
