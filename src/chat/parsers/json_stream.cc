#include "chat/parsers/json_stream.h"

namespace ember::chat::detail {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}
bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

void append_json_escaped(std::string* out, std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : raw) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          *out += "\\u00";
          *out += kHex[(c >> 4) & 0xf];
          *out += kHex[c & 0xf];
        } else {
          *out += c;
        }
    }
  }
}

std::string json_quote(std::string_view raw) {
  std::string s = "\"";
  append_json_escaped(&s, raw);
  s += '"';
  return s;
}

std::string describe_byte(char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  std::string s = "byte 0x";
  s += kHex[u >> 4];
  s += kHex[u & 15];
  return s;
}

// ---- JsonStreamer -----------------------------------------------------------------------------

void JsonStreamer::emit(std::string_view s, std::string* out) {
  if (holding_) {
    pending_.append(s.data(), s.size());
  } else {
    out->append(s.data(), s.size());
  }
}

void JsonStreamer::hold_begin() {
  if (holding_) return;  // already holding (e.g. a ',' before this number): keep the older state
  holding_ = true;
  held_from_ = state_;
}

void JsonStreamer::hold_commit(std::string* out) {
  if (!holding_) return;
  *out += pending_;
  pending_.clear();
  holding_ = false;
}

void JsonStreamer::after_value(bool* done) {
  if (stack_.empty()) {
    state_ = State::kDone;
    *done = true;
  } else {
    state_ = State::kAfter;
  }
}

bool JsonStreamer::fail(std::string why) {
  error_ = std::move(why);
  return false;
}

bool JsonStreamer::step(char c, std::string* out, bool* done, bool* reprocess) {
  const char one[1] = {c};
  const std::string_view cs(one, 1);
  switch (state_) {
    case State::kValue:
    case State::kArrFirst: {
      if (is_json_space(c)) {
        if (started_) emit(cs, out);
        return true;
      }
      if (state_ == State::kArrFirst && c == ']') {
        emit(cs, out);
        stack_.pop_back();
        after_value(done);
        return true;
      }
      started_ = true;
      if (c == '{' || c == '[') {
        if (stack_.size() >= kMaxDepth) return fail("JSON nested too deeply");
        hold_commit(out);
        emit(cs, out);
        stack_.push_back(c);
        state_ = c == '{' ? State::kObjFirst : State::kArrFirst;
        return true;
      }
      if (c == '"') {
        hold_commit(out);
        emit(cs, out);
        in_key_ = false;
        state_ = State::kString;
        return true;
      }
      if (c == '-' || is_digit(c)) {
        hold_begin();
        emit(cs, out);
        num_ = c == '-' ? Num::kMinus : (c == '0' ? Num::kZero : Num::kInt);
        state_ = State::kNumber;
        return true;
      }
      if (c == 't' || c == 'f' || c == 'n') {
        hold_begin();
        emit(cs, out);
        literal_ = c == 't' ? "true" : (c == 'f' ? "false" : "null");
        literal_pos_ = 1;
        state_ = State::kLiteral;
        return true;
      }
      return fail("unexpected " + describe_byte(c) + " where a JSON value should start");
    }
    case State::kObjFirst:
    case State::kObjKey:
      if (is_json_space(c)) {
        emit(cs, out);
        return true;
      }
      if (c == '"') {
        hold_commit(out);
        emit(cs, out);
        in_key_ = true;
        state_ = State::kString;
        return true;
      }
      if (c == '}' && state_ == State::kObjFirst) {
        emit(cs, out);
        stack_.pop_back();
        after_value(done);
        return true;
      }
      return fail("unexpected " + describe_byte(c) + " where an object key should start");
    case State::kColon:
      if (is_json_space(c)) {
        emit(cs, out);
        return true;
      }
      if (c == ':') {
        emit(cs, out);
        state_ = State::kValue;
        return true;
      }
      return fail("expected ':' after an object key, got " + describe_byte(c));
    case State::kAfter:
      if (is_json_space(c)) {
        emit(cs, out);
        return true;
      }
      if (c == ',') {
        hold_begin();
        emit(cs, out);
        state_ = stack_.back() == '{' ? State::kObjKey : State::kValue;
        return true;
      }
      if ((c == '}' && stack_.back() == '{') || (c == ']' && stack_.back() == '[')) {
        emit(cs, out);
        stack_.pop_back();
        after_value(done);
        return true;
      }
      return fail("unexpected " + describe_byte(c) + " after a JSON value");
    case State::kString:
      if (await_low_surrogate_ && c != '\\') return fail("unpaired surrogate in a JSON string");
      if (c == '"') {
        emit(cs, out);
        if (in_key_) {
          state_ = State::kColon;
        } else {
          after_value(done);
        }
        return true;
      }
      if (c == '\\') {
        hold_begin();
        emit(cs, out);
        state_ = State::kEscape;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        std::string escaped;
        append_json_escaped(&escaped, cs);
        emit(escaped, out);
        return true;
      }
      emit(cs, out);
      return true;
    case State::kEscape:
      if (!await_low_surrogate_ && (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
                                    c == 'n' || c == 'r' || c == 't')) {
        emit(cs, out);
        hold_commit(out);
        state_ = State::kString;
        return true;
      }
      if (c == 'u') {
        emit(cs, out);
        unicode_left_ = 4;
        unicode_value_ = 0;
        state_ = State::kUnicode;
        return true;
      }
      if (await_low_surrogate_) return fail("unpaired surrogate in a JSON string");
      return fail("invalid escape \\ + " + describe_byte(c) + " in a JSON string");
    case State::kUnicode: {
      if (!is_hex(c)) return fail("invalid \\u escape in a JSON string");
      emit(cs, out);
      unicode_value_ = unicode_value_ * 16 + static_cast<uint32_t>(hex_value(c));
      if (--unicode_left_ > 0) return true;
      const bool high = unicode_value_ >= 0xD800 && unicode_value_ <= 0xDBFF;
      const bool low = unicode_value_ >= 0xDC00 && unicode_value_ <= 0xDFFF;
      if (await_low_surrogate_ != low) return fail("unpaired surrogate in a JSON string");
      state_ = State::kString;
      if (high) {
        // Keep holding: a high surrogate alone is not valid text, so it is passed on only
        // together with its low half.
        await_low_surrogate_ = true;
        return true;
      }
      await_low_surrogate_ = false;
      hold_commit(out);
      return true;
    }
    case State::kNumber: {
      bool can_end = false;
      switch (num_) {
        case Num::kMinus:
          if (c == '0') {
            num_ = Num::kZero;
          } else if (is_digit(c)) {
            num_ = Num::kInt;
          } else {
            return fail("incomplete JSON number");
          }
          emit(cs, out);
          return true;
        case Num::kZero:
        case Num::kInt:
          if (is_digit(c) && num_ == Num::kInt) {
            emit(cs, out);
            return true;
          }
          if (c == '.') {
            num_ = Num::kDot;
            emit(cs, out);
            return true;
          }
          if (c == 'e' || c == 'E') {
            num_ = Num::kExpMark;
            emit(cs, out);
            return true;
          }
          can_end = true;
          break;
        case Num::kDot:
          if (!is_digit(c)) return fail("incomplete JSON number");
          num_ = Num::kFrac;
          emit(cs, out);
          return true;
        case Num::kFrac:
          if (is_digit(c)) {
            emit(cs, out);
            return true;
          }
          if (c == 'e' || c == 'E') {
            num_ = Num::kExpMark;
            emit(cs, out);
            return true;
          }
          can_end = true;
          break;
        case Num::kExpMark:
          if (c == '+' || c == '-') {
            num_ = Num::kExpSign;
          } else if (is_digit(c)) {
            num_ = Num::kExp;
          } else {
            return fail("incomplete JSON number");
          }
          emit(cs, out);
          return true;
        case Num::kExpSign:
          if (!is_digit(c)) return fail("incomplete JSON number");
          num_ = Num::kExp;
          emit(cs, out);
          return true;
        case Num::kExp:
          if (is_digit(c)) {
            emit(cs, out);
            return true;
          }
          can_end = true;
          break;
      }
      if (!can_end) return fail("incomplete JSON number");
      // The number ended just before `c`: pass it on and look at `c` again as what follows.
      hold_commit(out);
      after_value(done);
      *reprocess = true;
      return true;
    }
    case State::kLiteral:
      if (c != literal_[literal_pos_]) return fail("invalid JSON literal");
      emit(cs, out);
      if (literal_[++literal_pos_] == '\0') {
        hold_commit(out);
        after_value(done);
      }
      return true;
    case State::kDone:
      return fail("text after a complete JSON value");
  }
  return fail("internal JSON state error");
}

JsonStreamer::Status JsonStreamer::feed(std::string_view text, bool eof, size_t* consumed,
                                        std::string* out) {
  *consumed = 0;
  if (!error_.empty()) return Status::kError;
  if (state_ == State::kDone) return Status::kDone;
  size_t i = 0;
  while (i < text.size()) {
    bool done = false;
    bool reprocess = false;
    if (!step(text[i], out, &done, &reprocess)) {
      *consumed = i;
      return Status::kError;
    }
    if (!reprocess) ++i;
    if (done) {
      *consumed = i;
      return Status::kDone;
    }
  }
  *consumed = i;
  if (eof && state_ == State::kNumber && stack_.empty() &&
      (num_ == Num::kZero || num_ == Num::kInt || num_ == Num::kFrac || num_ == Num::kExp)) {
    hold_commit(out);
    state_ = State::kDone;
    return Status::kDone;
  }
  return Status::kNeedMore;
}

std::string JsonStreamer::closing() const {
  std::string s;
  if (!started_) return s;
  const State st = holding_ ? held_from_ : state_;
  switch (st) {
    case State::kString:
    case State::kEscape:
    case State::kUnicode:
      s += in_key_ ? "\": null" : "\"";
      break;
    case State::kColon:
      s += ": null";
      break;
    case State::kValue:
      if (!stack_.empty()) s += "null";
      break;
    default:
      break;
  }
  for (auto it = stack_.rbegin(); it != stack_.rend(); ++it) s += *it == '{' ? '}' : ']';
  return s;
}

// ---- JsonStringDecoder ------------------------------------------------------------------------

void JsonStringDecoder::put_code_point(uint32_t cp, std::string* out) {
  if (high_surrogate_ != 0) {
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      cp = 0x10000 + ((high_surrogate_ - 0xD800) << 10) + (cp - 0xDC00);
      high_surrogate_ = 0;
    } else {
      high_surrogate_ = 0;
      put_code_point(0xFFFD, out);  // a lone high surrogate
    }
  }
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    high_surrogate_ = cp;
    return;
  }
  if (cp >= 0xDC00 && cp <= 0xDFFF) cp = 0xFFFD;  // a lone low surrogate
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

JsonStringDecoder::Status JsonStringDecoder::feed(std::string_view text, size_t* consumed,
                                                  std::string* out) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (escape_ == 0) {
      if (c == '\\') {
        escape_ = 1;
        continue;
      }
      if (high_surrogate_ != 0) {
        high_surrogate_ = 0;
        put_code_point(0xFFFD, out);
      }
      if (c == '"') {
        *consumed = i + 1;
        return Status::kDone;
      }
      *out += c;
      continue;
    }
    if (escape_ == 1) {
      char decoded = 0;
      switch (c) {
        case '"':
          decoded = '"';
          break;
        case '\\':
          decoded = '\\';
          break;
        case '/':
          decoded = '/';
          break;
        case 'b':
          decoded = '\b';
          break;
        case 'f':
          decoded = '\f';
          break;
        case 'n':
          decoded = '\n';
          break;
        case 'r':
          decoded = '\r';
          break;
        case 't':
          decoded = '\t';
          break;
        case 'u':
          escape_ = 2;
          code_ = 0;
          continue;
        default:
          *consumed = i;
          return Status::kError;
      }
      if (high_surrogate_ != 0) {
        high_surrogate_ = 0;
        put_code_point(0xFFFD, out);
      }
      *out += decoded;
      escape_ = 0;
      continue;
    }
    if (!is_hex(c)) {
      *consumed = i;
      return Status::kError;
    }
    code_ = code_ * 16 + static_cast<uint32_t>(hex_value(c));
    if (++escape_ == 6) {
      escape_ = 0;
      put_code_point(code_, out);
    }
  }
  *consumed = text.size();
  return Status::kNeedMore;
}

}  // namespace ember::chat::detail
