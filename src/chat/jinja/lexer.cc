// Jinja2's lexer, rule for rule: root text up to the earliest `{{`, `{%` or `{#` (or a
// `{% raw %}` block), with the whitespace-control rules applied to the text before each tag,
// then tag contents as name/number/string/operator tokens until the matching end delimiter,
// which is only recognized while parentheses and brackets are balanced.
#include "chat/jinja/lexer.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "chat/jinja/unicode.h"
#include "chat/jinja/value.h"

namespace ember::jinja {

Status syntax_error(SourcePos pos, std::string_view message) {
  std::string m = "line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) +
                  ": " + std::string(message);
  return invalid_argument(std::move(m));
}

namespace {

class Lexer {
 public:
  Lexer(std::string src, const LexerOptions& options) : src_(std::move(src)), opt_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  Result<std::vector<Token>> run();

 private:
  // Line and column of a byte offset. Tokens arrive in increasing offset order, so the position
  // is advanced from the previous one (linear overall); earlier offsets restart at their line.
  SourcePos pos_of(size_t offset) const {
    if (offset < cache_offset_) {
      size_t lo = 0, hi = line_starts_.size();
      while (hi - lo > 1) {
        const size_t mid = (lo + hi) / 2;
        if (line_starts_[mid] <= offset) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      cache_offset_ = line_starts_[lo];
      cache_pos_ = SourcePos{static_cast<int>(lo + 1), 1};
    }
    for (size_t i = cache_offset_; i < offset && i < src_.size(); ++i) {
      const auto c = static_cast<unsigned char>(src_[i]);
      if (c == '\n') {
        ++cache_pos_.line;
        cache_pos_.column = 1;
      } else if ((c & 0xC0) != 0x80) {
        ++cache_pos_.column;
      }
    }
    cache_offset_ = std::max(cache_offset_, std::min(offset, src_.size()));
    return cache_pos_;
  }

  Status error_at(size_t offset, std::string_view message) const {
    return syntax_error(pos_of(offset), message);
  }

  bool starts_with(size_t at, std::string_view s) const {
    return src_.compare(at, s.size(), s) == 0 && at + s.size() <= src_.size();
  }

  // Length of the whitespace run (Python's \s) starting at `at`.
  size_t whitespace_len(size_t at) const {
    size_t i = at;
    while (i < src_.size()) {
      size_t j = i;
      if (!py_isspace(next_code_point(src_, j))) break;
      i = j;
    }
    return i - at;
  }

  // Python str.rstrip() on text.
  static std::string rstrip_ws(std::string_view text) {
    return py_strip(text, nullptr, false, true);
  }

  // Applies `-` / lstrip_blocks to the text preceding a tag and emits it.
  void emit_text(size_t begin, size_t end, char sign, bool is_variable) {
    std::string_view text(src_.data() + begin, end - begin);
    std::string kept;
    if (sign == '-') {
      kept = rstrip_ws(text);
    } else if (sign != '+' && opt_.lstrip_blocks && !is_variable) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      bool strip = false;
      if ((l_pos > 0 || line_starting_) && l_pos < text.size()) {
        strip = true;
        size_t i = l_pos;
        while (i < text.size()) {
          if (!py_isspace(next_code_point(text, i))) {
            strip = false;
            break;
          }
        }
      }
      kept = std::string(strip ? text.substr(0, l_pos) : text);
    } else {
      kept = std::string(text);
    }
    if (!kept.empty()) push(TokenType::kData, std::move(kept), begin);
  }

  void push(TokenType type, std::string value, size_t offset) {
    Token t;
    t.type = type;
    t.value = std::move(value);
    t.pos = pos_of(offset);
    tokens_.push_back(std::move(t));
  }

  // Matches `{%(-|+|)\s*raw\s*(-%}\s*|%})` at `at`; returns the end offset or 0.
  size_t match_raw_begin(size_t at) const {
    size_t i = at + 2;
    if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
    i += whitespace_len(i);
    if (!starts_with(i, "raw")) return 0;
    i += 3;
    i += whitespace_len(i);
    if (starts_with(i, "-%}")) return i + 3 + whitespace_len(i + 3);
    if (starts_with(i, "%}")) return i + 2;
    return 0;
  }

  // Matches a block end (`+%}`, `-%}\s*`, `%}` + optional newline) at `at`; 0 when none.
  size_t match_block_end(size_t at, std::string_view end_delim, bool trim) const {
    if (at < src_.size() && src_[at] == '+' && starts_with(at + 1, end_delim)) {
      return at + 1 + end_delim.size();
    }
    if (at < src_.size() && src_[at] == '-' && starts_with(at + 1, end_delim)) {
      const size_t e = at + 1 + end_delim.size();
      return e + whitespace_len(e);
    }
    if (starts_with(at, end_delim)) {
      size_t e = at + end_delim.size();
      if (trim && e < src_.size() && src_[e] == '\n') ++e;
      return e;
    }
    return 0;
  }

  Status lex_raw(size_t body_begin);
  Status lex_comment(size_t body_begin);
  Status lex_tag(size_t at, bool is_block);
  Status lex_string(size_t& i);
  Status lex_number(size_t& i, bool& matched);

  std::string src_;
  LexerOptions opt_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  bool line_starting_ = true;
  size_t pos_ = 0;
  mutable size_t cache_offset_ = 0;
  mutable SourcePos cache_pos_;
};

Result<std::vector<Token>> Lexer::run() {
  const size_t n = src_.size();
  while (pos_ < n) {
    // Earliest tag opener.
    size_t tag = std::string::npos;
    for (size_t i = src_.find('{', pos_); i != std::string::npos && i + 1 < n;
         i = src_.find('{', i + 1)) {
      const char c = src_[i + 1];
      if (c == '{' || c == '%' || c == '#') {
        tag = i;
        break;
      }
    }
    if (tag == std::string::npos) {
      push(TokenType::kData, src_.substr(pos_), pos_);
      break;
    }
    const char kind = src_[tag + 1];
    const char sign =
        (tag + 2 < n && (src_[tag + 2] == '-' || src_[tag + 2] == '+')) ? src_[tag + 2] : 0;
    if (kind == '%') {
      if (const size_t raw_end = match_raw_begin(tag)) {
        emit_text(pos_, tag, sign, false);
        line_starting_ = src_[raw_end - 1] == '\n';
        EMBER_RETURN_IF_ERROR(lex_raw(raw_end));
        continue;
      }
    }
    emit_text(pos_, tag, sign, kind == '{');
    const size_t after = tag + 2 + (sign ? 1 : 0);
    line_starting_ = false;
    if (kind == '#') {
      EMBER_RETURN_IF_ERROR(lex_comment(after));
    } else {
      push(kind == '%' ? TokenType::kBlockBegin : TokenType::kVariableBegin, "", tag);
      pos_ = after;
      EMBER_RETURN_IF_ERROR(lex_tag(tag, kind == '%'));
    }
  }
  Token eof;
  eof.type = TokenType::kEof;
  eof.pos = pos_of(src_.size());
  tokens_.push_back(std::move(eof));
  return std::move(tokens_);
}

Status Lexer::lex_raw(size_t body_begin) {
  // Earliest `{%(-|+|)\s*endraw\s*(+%}|-%}\s*|%}\n?)`.
  for (size_t i = src_.find("{%", body_begin); i != std::string::npos; i = src_.find("{%", i + 1)) {
    size_t j = i + 2;
    char sign = 0;
    if (j < src_.size() && (src_[j] == '-' || src_[j] == '+')) sign = src_[j++];
    j += whitespace_len(j);
    if (!starts_with(j, "endraw")) continue;
    j += 6;
    j += whitespace_len(j);
    const size_t end = match_block_end(j, "%}", opt_.trim_blocks);
    if (end == 0) continue;
    emit_text(body_begin, i, sign, false);
    line_starting_ = src_[end - 1] == '\n';
    pos_ = end;
    return Status::Ok();
  }
  return error_at(body_begin, "Missing end of raw directive");
}

Status Lexer::lex_comment(size_t body_begin) {
  for (size_t i = body_begin; i < src_.size(); ++i) {
    if (src_[i] != '+' && src_[i] != '-' && src_[i] != '#') continue;
    const size_t end = match_block_end(i, "#}", opt_.trim_blocks);
    if (end == 0) continue;
    line_starting_ = src_[end - 1] == '\n';
    pos_ = end;
    return Status::Ok();
  }
  return error_at(body_begin, "Missing end of comment tag");
}

Status Lexer::lex_string(size_t& i) {
  const size_t start = i;
  const char quote = src_[i];
  size_t j = i + 1;
  std::string value;
  while (true) {
    if (j >= src_.size()) return error_at(start, std::string("unexpected char '") + quote + "'");
    const char c = src_[j];
    if (c == quote) break;
    if (c != '\\') {
      value += c;
      ++j;
      continue;
    }
    if (j + 1 >= src_.size())
      return error_at(start, std::string("unexpected char '") + quote + "'");
    const char e = src_[j + 1];
    j += 2;
    auto hex_escape = [&](int digits, const char* what) -> Status {
      if (j + static_cast<size_t>(digits) > src_.size()) {
        return error_at(start, std::string("truncated ") + what + " escape");
      }
      uint32_t cp = 0;
      for (int k = 0; k < digits; ++k) {
        const char h = src_[j + static_cast<size_t>(k)];
        int d;
        if (h >= '0' && h <= '9') {
          d = h - '0';
        } else if (h >= 'a' && h <= 'f') {
          d = h - 'a' + 10;
        } else if (h >= 'A' && h <= 'F') {
          d = h - 'A' + 10;
        } else {
          return error_at(start, std::string("truncated ") + what + " escape");
        }
        cp = cp * 16 + static_cast<uint32_t>(d);
      }
      if (cp > 0x10FFFF) return error_at(start, "illegal Unicode character");
      if (cp >= 0xD800 && cp <= 0xDFFF) {
        return error_at(start, "surrogate code points are not supported in strings");
      }
      j += static_cast<size_t>(digits);
      append_utf8(value, cp);
      return Status::Ok();
    };
    switch (e) {
      case '\n':
        break;  // line continuation
      case '\\':
        value += '\\';
        break;
      case '\'':
        value += '\'';
        break;
      case '"':
        value += '"';
        break;
      case 'a':
        value += '\a';
        break;
      case 'b':
        value += '\b';
        break;
      case 'f':
        value += '\f';
        break;
      case 'n':
        value += '\n';
        break;
      case 'r':
        value += '\r';
        break;
      case 't':
        value += '\t';
        break;
      case 'v':
        value += '\v';
        break;
      case 'x':
        EMBER_RETURN_IF_ERROR(hex_escape(2, "\\xXX"));
        break;
      case 'u':
        EMBER_RETURN_IF_ERROR(hex_escape(4, "\\uXXXX"));
        break;
      case 'U':
        EMBER_RETURN_IF_ERROR(hex_escape(8, "\\UXXXXXXXX"));
        break;
      case 'N':
        return error_at(start, "\\N{...} escapes are not supported");
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && j < src_.size() && src_[j] >= '0' && src_[j] <= '7'; ++k) {
            cp = cp * 8 + static_cast<uint32_t>(src_[j++] - '0');
          }
          append_utf8(value, cp);
        } else if (static_cast<unsigned char>(e) >= 0x80) {
          // Jinja2 escapes non-ASCII text as \xNN / \uNNNN / \UNNNNNNNN before decoding the
          // escapes, so a backslash before such a character yields that escape text literally.
          size_t k = j - 1;
          const char32_t cp = next_code_point(src_, k);
          char buf[16];
          if (cp < 0x100) {
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
          } else if (cp < 0x10000) {
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
          } else {
            std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
          }
          value += '\\';
          value += buf;
          j = k;
        } else {
          value += '\\';
          value += e;
        }
    }
  }
  Token t;
  t.type = TokenType::kString;
  t.value = std::move(value);
  t.pos = pos_of(start);
  tokens_.push_back(std::move(t));
  i = j + 1;
  return Status::Ok();
}

// Digits with optional single underscores between them ((\d+_)*\d+); returns the end or `at`.
size_t match_digits(const std::string& s, size_t at) {
  size_t i = at;
  if (i >= s.size() || s[i] < '0' || s[i] > '9') return at;
  while (true) {
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i + 1 < s.size() && s[i] == '_' && s[i + 1] >= '0' && s[i + 1] <= '9') {
      ++i;
      continue;
    }
    return i;
  }
}

Status Lexer::lex_number(size_t& i, bool& matched) {
  matched = false;
  const size_t start = i;
  auto strip_underscores = [&](size_t b, size_t e) {
    std::string r;
    for (size_t k = b; k < e; ++k) {
      if (src_[k] != '_') r += src_[k];
    }
    return r;
  };
  // Float: (?<!\.)(\d+_)*\d+((\.(\d+_)*\d+)?e[+-]?(\d+_)*\d+|\.(\d+_)*\d+), case-insensitive.
  if (start == 0 || src_[start - 1] != '.') {
    const size_t int_end = match_digits(src_, start);
    if (int_end > start) {
      size_t frac_end = int_end;
      if (int_end < src_.size() && src_[int_end] == '.') {
        const size_t fe = match_digits(src_, int_end + 1);
        if (fe > int_end + 1) frac_end = fe;
      }
      size_t end = 0;
      if (frac_end < src_.size() && (src_[frac_end] == 'e' || src_[frac_end] == 'E')) {
        size_t k = frac_end + 1;
        if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
        const size_t ee = match_digits(src_, k);
        if (ee > k) end = ee;
      }
      if (end == 0 && frac_end > int_end) end = frac_end;
      if (end != 0) {
        const std::string text = strip_underscores(start, end);
        Token t;
        t.type = TokenType::kFloat;
        t.float_value = std::strtod(text.c_str(), nullptr);
        t.pos = pos_of(start);
        tokens_.push_back(std::move(t));
        i = end;
        matched = true;
        return Status::Ok();
      }
    }
  }
  // Integer: 0b.., 0o.., 0x.., [1-9](_?\d)*, 0(_?0)*.
  auto lower = [](char c) { return static_cast<char>(c | 0x20); };
  int base = 10;
  size_t digits_begin = start, end = start;
  auto prefixed = [&](char p, int b, auto is_digit) {
    if (start + 2 < src_.size() + 1 && src_[start] == '0' && start + 1 < src_.size() &&
        lower(src_[start + 1]) == p) {
      size_t k = start + 2;
      size_t last = k;
      while (true) {
        size_t m = k;
        if (m < src_.size() && src_[m] == '_') ++m;
        if (m < src_.size() && is_digit(src_[m])) {
          k = m + 1;
          last = k;
        } else {
          break;
        }
      }
      if (last > start + 2) {
        base = b;
        digits_begin = start + 2;
        end = last;
        return true;
      }
    }
    return false;
  };
  const bool pre = prefixed('b', 2, [](char c) { return c == '0' || c == '1'; }) ||
                   prefixed('o', 8, [](char c) { return c >= '0' && c <= '7'; }) ||
                   prefixed('x', 16, [](char c) {
                     return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
                   });
  if (!pre) {
    if (src_[start] >= '1' && src_[start] <= '9') {
      size_t k = start + 1;
      while (true) {
        size_t m = k;
        if (m < src_.size() && src_[m] == '_') ++m;
        if (m < src_.size() && src_[m] >= '0' && src_[m] <= '9') {
          k = m + 1;
        } else {
          break;
        }
      }
      end = k;
    } else if (src_[start] == '0') {
      size_t k = start + 1;
      while (true) {
        size_t m = k;
        if (m < src_.size() && src_[m] == '_') ++m;
        if (m < src_.size() && src_[m] == '0') {
          k = m + 1;
        } else {
          break;
        }
      }
      end = k;
    } else {
      return Status::Ok();
    }
  }
  const std::string text = strip_underscores(digits_begin, end);
  uint64_t v = 0;
  auto res = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (res.ec != std::errc() || v > static_cast<uint64_t>(INT64_MAX)) {
    return error_at(start, "integer literal too large (ember integers are 64-bit)");
  }
  Token t;
  t.type = TokenType::kInteger;
  t.int_value = static_cast<int64_t>(v);
  t.pos = pos_of(start);
  tokens_.push_back(std::move(t));
  i = end;
  matched = true;
  return Status::Ok();
}

bool is_name_start(char32_t c) {
  return c == '_' || py_isalpha(c);
}
bool is_name_char(char32_t c) {
  return c == '_' || py_isalnum(c);
}

Status Lexer::lex_tag(size_t tag_offset, bool is_block) {
  const std::string_view end_delim = is_block ? "%}" : "}}";
  std::vector<char> balance;
  size_t i = pos_;
  while (true) {
    if (i >= src_.size()) {
      return error_at(tag_offset, is_block ? "unexpected end of template: '%}' expected"
                                           : "unexpected end of template: '}}' expected");
    }
    if (balance.empty()) {
      size_t end;
      if (is_block) {
        end = match_block_end(i, end_delim, opt_.trim_blocks);
      } else {
        end = 0;
        if (src_[i] == '-' && starts_with(i + 1, end_delim)) {
          end = i + 3 + whitespace_len(i + 3);
        } else if (starts_with(i, end_delim)) {
          end = i + 2;
        }
      }
      if (end != 0) {
        push(is_block ? TokenType::kBlockEnd : TokenType::kVariableEnd, "", i);
        line_starting_ = src_[end - 1] == '\n';
        pos_ = end;
        return Status::Ok();
      }
    }
    if (const size_t ws = whitespace_len(i)) {
      i += ws;
      continue;
    }
    const char c = src_[i];
    if (c >= '0' && c <= '9') {
      bool matched = false;
      EMBER_RETURN_IF_ERROR(lex_number(i, matched));
      if (matched) continue;
    }
    {
      size_t j = i;
      const char32_t cp = next_code_point(src_, j);
      if (is_name_start(cp)) {
        while (j < src_.size()) {
          size_t k = j;
          if (!is_name_char(next_code_point(src_, k))) break;
          j = k;
        }
        push(TokenType::kName, src_.substr(i, j - i), i);
        i = j;
        continue;
      }
    }
    if (c == '\'' || c == '"') {
      // Unterminated strings fall through to "unexpected char" like Jinja2.
      bool terminated = false;
      for (size_t k = i + 1; k < src_.size(); ++k) {
        if (src_[k] == '\\') {
          ++k;
          continue;
        }
        if (src_[k] == c) {
          terminated = true;
          break;
        }
      }
      if (terminated) {
        EMBER_RETURN_IF_ERROR(lex_string(i));
        continue;
      }
    }
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    std::string op;
    for (std::string_view t : kTwo) {
      if (starts_with(i, t)) {
        op = std::string(t);
        break;
      }
    }
    if (op.empty() && std::string_view("+-/*%~[](){}><=.:|,;").find(c) != std::string_view::npos) {
      op = std::string(1, c);
    }
    if (op.empty()) {
      size_t j = i;
      const char32_t cp = next_code_point(src_, j);
      std::string shown;
      append_utf8(shown, cp);
      return error_at(i, "unexpected char " + py_string_repr(shown));
    }
    if (op == "(" || op == "[" || op == "{") {
      balance.push_back(op == "(" ? ')' : (op == "[" ? ']' : '}'));
    } else if (op == ")" || op == "]" || op == "}") {
      if (balance.empty()) return error_at(i, "unexpected '" + op + "'");
      const char expected = balance.back();
      balance.pop_back();
      if (expected != op[0]) {
        return error_at(i, "unexpected '" + op + "', expected '" + std::string(1, expected) + "'");
      }
    }
    push(TokenType::kOperator, op, i);
    i += op.size();
  }
}

// Normalizes \r\n and \r to \n and drops one trailing newline (Jinja2's default).
std::string normalize_source(std::string_view source, bool keep_trailing_newline) {
  std::string s;
  s.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      s += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      s += source[i];
    }
  }
  if (!keep_trailing_newline && !s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view source, const LexerOptions& options) {
  if (!valid_utf8(source)) return invalid_argument("template source is not valid UTF-8");
  Lexer lexer(normalize_source(source, options.keep_trailing_newline), options);
  return lexer.run();
}

}  // namespace ember::jinja
