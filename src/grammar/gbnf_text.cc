// Writing GBNF text: literals, classes, and the JSON-string form of character sets.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "grammar/json_schema_internal.h"
#include "grammar/utf8.h"

namespace ember::grammar::schema_internal {
namespace {

std::string hex_escape(uint32_t cp) {
  char buf[16];
  if (cp < 0x100) {
    std::snprintf(buf, sizeof buf, "\\x%02X", cp);
  } else if (cp < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04X", cp);
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08X", cp);
  }
  return buf;
}

void append_literal_char(std::string& out, uint32_t cp) {
  switch (cp) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      break;
  }
  if (cp >= 0x20 && cp < 0x7F) {
    out += static_cast<char>(cp);
  } else {
    out += hex_escape(cp);
  }
}

void append_class_char(std::string& out, uint32_t cp) {
  switch (cp) {
    case ']':
      out += "\\]";
      return;
    case '[':
      out += "\\[";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '-':
      out += "\\-";
      return;
    case '"':
      out += "\\\"";
      return;
    case '^':
      out += "\\x5E";
      return;  // GBNF has no \^; a leading ^ would negate the class
    default:
      break;
  }
  if (cp >= 0x20 && cp < 0x7F) {
    out += static_cast<char>(cp);
  } else {
    out += hex_escape(cp);
  }
}

// The JSON escape of a character that cannot appear raw in a JSON string.
std::string json_escape_text(uint32_t cp) {
  switch (cp) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case 0x08:
      return "\\b";
    case 0x0C:
      return "\\f";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      break;
  }
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", cp);
  return buf;
}

}  // namespace

std::string gbnf_literal(std::string_view utf8) {
  std::string out = "\"";
  size_t pos = 0;
  while (pos < utf8.size()) {
    uint32_t cp;
    if (utf8_decode(utf8, &pos, &cp)) {
      append_literal_char(out, cp);
    } else {
      // Not UTF-8: cannot occur in a JSON instance; U+FFFD keeps the grammar valid.
      append_literal_char(out, 0xFFFD);
      ++pos;
    }
  }
  out += '"';
  return out;
}

std::string gbnf_class(const CharSet& set) {
  std::string out = "[";
  for (const CodeRange& r : set.ranges()) {
    append_class_char(out, r.lo);
    if (r.hi == r.lo) continue;
    if (r.hi > r.lo + 1) out += '-';
    append_class_char(out, r.hi);
  }
  out += ']';
  return out;
}

std::string json_string_char_expr(const CharSet& set) {
  // What JSON allows unescaped: anything but quote, backslash and control characters (DEL is
  // escaped too, like llama.cpp's `char` rule); surrogates cannot be encoded at all.
  static const CodeRange kRaw[] = {
      {0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0x7E}, {0x80, 0xD7FF}, {0xE000, kMaxCodePoint}};
  std::vector<CodeRange> raw;
  std::vector<uint32_t> escaped;
  for (const CodeRange& r : set.ranges()) {
    for (const CodeRange& a : kRaw) {
      const uint32_t lo = std::max(r.lo, a.lo), hi = std::min(r.hi, a.hi);
      if (lo <= hi) raw.push_back({lo, hi});
    }
    for (uint32_t cp = r.lo; cp <= r.hi && cp <= 0x7F; ++cp) {
      if (cp < 0x20 || cp == '"' || cp == '\\' || cp == 0x7F) escaped.push_back(cp);
    }
  }
  std::vector<std::string> alts;
  if (!raw.empty()) alts.push_back(gbnf_class(CharSet(std::move(raw), false)));
  for (uint32_t cp : escaped) alts.push_back(gbnf_literal(json_escape_text(cp)));
  if (alts.empty()) return "";
  if (alts.size() == 1) return alts[0];
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) {
    if (i) out += " | ";
    out += alts[i];
  }
  return out + ")";
}

}  // namespace ember::grammar::schema_internal
