#include "chat/parsers/python_call.h"

#include "chat/parsers/pattern_call.h"

namespace ember::chat::detail {

bool is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

namespace {

constexpr int kMaxDepth = 64;

// Recursive-descent reader of one Python literal, writing JSON.
class PyReader {
 public:
  explicit PyReader(std::string_view s) : s_(s) {}

  bool kwargs(std::string* out) {
    *out += '{';
    space();
    bool first = true;
    while (i_ < s_.size()) {
      size_t start = i_;
      while (i_ < s_.size() && (is_ident_char(s_[i_]) && s_[i_] != '.' && s_[i_] != '-')) ++i_;
      if (i_ == start) return false;
      std::string_view key = s_.substr(start, i_ - start);
      space();
      if (i_ >= s_.size() || s_[i_] != '=') return false;
      ++i_;
      space();
      if (!first) *out += ", ";
      first = false;
      *out += json_quote(key);
      *out += ": ";
      if (!value(out, 0)) return false;
      space();
      if (i_ < s_.size()) {
        if (s_[i_] != ',') return false;
        ++i_;
        space();
      }
    }
    *out += '}';
    return true;
  }

 private:
  void space() {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }

  bool value(std::string* out, int depth) {
    if (depth > kMaxDepth || i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '"' || c == '\'') return string(out);
    if (c == '[') return sequence(out, ']', depth);
    if (c == '(') return sequence(out, ')', depth);
    if (c == '{') return dict(out, depth);
    if (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) return number(out);
    return word(out);
  }

  bool string(std::string* out) {
    const char q = s_[i_++];
    std::string raw;
    while (i_ < s_.size() && s_[i_] != q) {
      char c = s_[i_++];
      if (c != '\\') {
        raw += c;
        continue;
      }
      if (i_ >= s_.size()) return false;
      c = s_[i_++];
      switch (c) {
        case 'n':
          raw += '\n';
          break;
        case 't':
          raw += '\t';
          break;
        case 'r':
          raw += '\r';
          break;
        case '0':
          raw += '\0';
          break;
        case '\\':
          raw += '\\';
          break;
        case '\'':
          raw += '\'';
          break;
        case '"':
          raw += '"';
          break;
        case 'x':
        case 'u': {
          const size_t digits = c == 'x' ? 2 : 4;
          if (i_ + digits > s_.size()) return false;
          uint32_t cp = 0;
          for (size_t k = 0; k < digits; ++k) {
            const char h = s_[i_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') {
              cp |= static_cast<uint32_t>(h - '0');
            } else if (h >= 'a' && h <= 'f') {
              cp |= static_cast<uint32_t>(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
              cp |= static_cast<uint32_t>(h - 'A' + 10);
            } else {
              return false;
            }
          }
          put_utf8(cp, &raw);
          break;
        }
        default:
          raw += '\\';
          raw += c;
      }
    }
    if (i_ >= s_.size()) return false;
    ++i_;  // closing quote
    *out += json_quote(raw);
    return true;
  }

  static void put_utf8(uint32_t cp, std::string* out) {
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool number(std::string* out) {
    size_t start = i_;
    while (i_ < s_.size() &&
           (std::string_view("0123456789+-.eE").find(s_[i_]) != std::string_view::npos)) {
      ++i_;
    }
    std::string_view token = s_.substr(start, i_ - start);
    if (!token.empty() && token[0] == '+') token.remove_prefix(1);
    // Python allows "1." and ".5"; JSON wants a digit on both sides of the dot.
    std::string n;
    for (size_t k = 0; k < token.size(); ++k) {
      const char c = token[k];
      const bool digit_before = k > 0 && token[k - 1] >= '0' && token[k - 1] <= '9';
      const bool digit_after = k + 1 < token.size() && token[k + 1] >= '0' && token[k + 1] <= '9';
      if (c == '.' && !digit_before) n += '0';
      n += c;
      if (c == '.' && !digit_after) n += '0';
    }
    if (!is_valid_json(n)) return false;
    *out += n;
    return true;
  }

  bool word(std::string* out) {
    size_t start = i_;
    while (i_ < s_.size() && is_ident_char(s_[i_])) ++i_;
    std::string_view w = s_.substr(start, i_ - start);
    if (w == "True" || w == "true") {
      *out += "true";
    } else if (w == "False" || w == "false") {
      *out += "false";
    } else if (w == "None" || w == "null") {
      *out += "null";
    } else {
      return false;
    }
    return true;
  }

  bool sequence(std::string* out, char close, int depth) {
    ++i_;
    *out += '[';
    space();
    bool first = true;
    while (i_ < s_.size() && s_[i_] != close) {
      if (!first) *out += ", ";
      first = false;
      if (!value(out, depth + 1)) return false;
      space();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        space();
      } else if (i_ < s_.size() && s_[i_] != close) {
        return false;
      }
    }
    if (i_ >= s_.size()) return false;
    ++i_;
    *out += ']';
    return true;
  }

  bool dict(std::string* out, int depth) {
    ++i_;
    *out += '{';
    space();
    bool first = true;
    while (i_ < s_.size() && s_[i_] != '}') {
      if (s_[i_] != '"' && s_[i_] != '\'') return false;
      if (!first) *out += ", ";
      first = false;
      if (!string(out)) return false;
      space();
      if (i_ >= s_.size() || s_[i_] != ':') return false;
      ++i_;
      space();
      *out += ": ";
      if (!value(out, depth + 1)) return false;
      space();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        space();
      } else if (i_ < s_.size() && s_[i_] != '}') {
        return false;
      }
    }
    if (i_ >= s_.size()) return false;
    ++i_;
    *out += '}';
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::optional<std::string> python_kwargs_to_json(std::string_view args) {
  std::string out;
  PyReader r(args);
  if (!r.kwargs(&out) || !is_valid_json(out)) return std::nullopt;
  return out;
}

bool PyArgsEnd::feed(std::string_view s, size_t* consumed) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote_ != 0) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == quote_) {
        quote_ = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote_ = c;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth_;
    } else if (c == ')' && depth_ == 0) {
      *consumed = i + 1;
      return true;
    } else if (c == ')' || c == ']' || c == '}') {
      --depth_;
    }
    text_ += c;
  }
  *consumed = s.size();
  return false;
}

Step PythonCallArgs::step(Input& in, Emitter& out) {
  size_t consumed = 0;
  const bool closed = args_.feed(in.view(), &consumed);
  in.consume(consumed);
  if (!closed) {
    if (in.eof()) return reject("output ended inside the call's arguments");
    return Step::kNeedMore;
  }
  std::optional<std::string> json = python_kwargs_to_json(args_.text());
  if (!json) return reject("arguments of " + name_ + "(...) are not Python literals");
  out.tool_begin("", name_);
  out.tool_args(*json);
  out.tool_end();
  return Step::kDone;
}

Step Lfm2Calls::fail(Input& in, Emitter& out, std::string why) {
  if (!any_) return reject(std::move(why));
  if (call_start_ != 0) in.rewind(call_start_);  // the unfinished call is text again
  out.warn("tool call list: " + why + "; rest kept as text");
  return Step::kDone;
}

Step Lfm2Calls::step(Input& in, Emitter& out) {
  static const std::string kEnd = "<|tool_call_end|>";
  for (;;) {
    switch (state_) {
      case State::kOpen:
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.empty() || in.peek() != '[') return fail(in, out, "expected a list of tool calls");
        in.consume(1);
        state_ = State::kDecide;
        break;
      case State::kDecide:
        if (!skip_space(in)) return Step::kNeedMore;
        if (!in.empty() && in.peek() == '{') {
          json_ = std::make_unique<JsonCallArray>(json_keys_, kEnd, /*open_consumed=*/true);
          state_ = State::kJson;
        } else {
          state_ = State::kName;
        }
        break;
      case State::kJson:
        return json_->step(in, out);
      case State::kName: {
        if (!skip_space(in)) return Step::kNeedMore;
        call_start_ = in.offset();
        std::string text;
        size_t which = 0;
        static const MarkerSet kParen({"("});
        Match m = capture_until(in, kParen, 128, &text, &which);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo || text.empty())
          return fail(in, out, "expected name(...) in the tool call list");
        for (char c : text) {
          if (!is_ident_char(c)) return fail(in, out, "bad tool name in the tool call list");
        }
        in.consume(1);
        name_ = text;
        args_ = PyArgsEnd();
        state_ = State::kArgs;
        break;
      }
      case State::kArgs: {
        size_t consumed = 0;
        const bool closed = args_.feed(in.view(), &consumed);
        in.consume(consumed);
        if (!closed) {
          if (in.eof()) return fail(in, out, "output ended inside a tool call");
          return Step::kNeedMore;
        }
        std::optional<std::string> json = python_kwargs_to_json(args_.text());
        if (!json) return fail(in, out, "arguments of " + name_ + "(...) are not Python literals");
        out.tool_begin("", name_);
        out.tool_args(*json);
        out.tool_end();
        any_ = true;
        call_start_ = 0;
        state_ = State::kAfter;
        break;
      }
      case State::kAfter:
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.empty()) return fail(in, out, "output ended inside the tool call list");
        if (in.peek() == ',') {
          in.consume(1);
          state_ = State::kName;
          break;
        }
        if (in.peek() == ']') {
          in.consume(1);
          state_ = State::kCloser;
          break;
        }
        return fail(in, out, "expected ',' or ']' in the tool call list");
      case State::kCloser: {
        if (!skip_space(in)) return Step::kNeedMore;
        Match m = match_closer(in, kEnd);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo) out.warn("tool call list: missing " + kEnd);
        return Step::kDone;
      }
    }
  }
}

}  // namespace ember::chat::detail
