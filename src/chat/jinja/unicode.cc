// UTF-8 coding and Python str character classes, backed by utf8proc's Unicode tables.
#include "chat/jinja/unicode.h"

#include <utf8proc.h>

namespace ember::jinja {

namespace {

int category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

char32_t simple_upper(char32_t c) {
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t simple_lower(char32_t c) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
char32_t simple_title(char32_t c) {
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}

// The SpecialCasing.txt entries that expand to several code points and are common enough in
// text to matter; everything else uses the simple one-to-one mapping.
void append_upper(std::string& out, char32_t c) {
  switch (c) {
    case 0xDF:
      out += "SS";
      return;  // ß
    case 0xFB00:
      out += "FF";
      return;  // ﬀ
    case 0xFB01:
      out += "FI";
      return;  // ﬁ
    case 0xFB02:
      out += "FL";
      return;  // ﬂ
    case 0xFB03:
      out += "FFI";
      return;  // ﬃ
    case 0xFB04:
      out += "FFL";
      return;  // ﬄ
    case 0xFB05:
    case 0xFB06:
      out += "ST";
      return;  // ﬅ ﬆ
    case 0x149:
      out += "\xCA\xBCN";
      return;  // ŉ -> ʼN
    default:
      append_utf8(out, simple_upper(c));
  }
}

void append_title(std::string& out, char32_t c) {
  switch (c) {
    case 0xDF:
      out += "Ss";
      return;
    case 0xFB00:
      out += "Ff";
      return;
    case 0xFB01:
      out += "Fi";
      return;
    case 0xFB02:
      out += "Fl";
      return;
    case 0xFB03:
      out += "Ffi";
      return;
    case 0xFB04:
      out += "Ffl";
      return;
    case 0xFB05:
    case 0xFB06:
      out += "St";
      return;
    default:
      append_utf8(out, simple_title(c));
  }
}

void append_lower(std::string& out, char32_t c) {
  if (c == 0x130) {  // İ -> i + combining dot above
    out += "i\xCC\x87";
    return;
  }
  append_utf8(out, simple_lower(c));
}

}  // namespace

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    int len;
    char32_t cp;
    if ((b0 & 0xE0) == 0xC0) {
      len = 2;
      cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3;
      cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(len) > n) return false;
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) {
      return false;  // overlong
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  }
  if (len == 0 || i + static_cast<size_t>(len) > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  i += static_cast<size_t>(len);
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::u32string to_u32(std::string_view s) {
  std::u32string r;
  r.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) r += next_code_point(s, i);
  return r;
}

std::string to_utf8(std::u32string_view s) {
  std::string r;
  r.reserve(s.size());
  for (char32_t c : s) append_utf8(r, c);
  return r;
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool py_isspace(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool py_isprintable(char32_t c) {
  if (c < 0x80) return c >= 0x20 && c < 0x7F;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

bool py_isalpha(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  const int k = category(c);
  return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

bool py_isdigit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return category(c) == UTF8PROC_CATEGORY_ND;
}

bool py_isalnum(char32_t c) {
  if (c < 0x80) return py_isalpha(c) || py_isdigit(c);
  const int k = category(c);
  return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
         (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

bool py_isupper_cp(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  const int k = category(c);
  return k == UTF8PROC_CATEGORY_LU || (k != UTF8PROC_CATEGORY_LT && simple_lower(c) != c);
}

bool py_islower_cp(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z';
  const int k = category(c);
  return k == UTF8PROC_CATEGORY_LL || (k != UTF8PROC_CATEGORY_LT && simple_upper(c) != c);
}

bool py_iscased(char32_t c) {
  if (c < 0x80) return py_isalpha(c);
  const int k = category(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
         simple_lower(c) != c || simple_upper(c) != c;
}

std::string py_upper(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) append_upper(r, next_code_point(s, i));
  return r;
}

std::string py_lower(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) append_lower(r, next_code_point(s, i));
  return r;
}

std::string py_swapcase(std::string_view s) {
  std::string r;
  size_t i = 0;
  while (i < s.size()) {
    const char32_t c = next_code_point(s, i);
    if (py_isupper_cp(c)) {
      append_lower(r, c);
    } else if (py_islower_cp(c)) {
      append_upper(r, c);
    } else {
      append_utf8(r, c);
    }
  }
  return r;
}

std::string py_capitalize(std::string_view s) {
  std::string r;
  size_t i = 0;
  bool first = true;
  while (i < s.size()) {
    const char32_t c = next_code_point(s, i);
    if (first) {
      append_title(r, c);
      first = false;
    } else {
      append_lower(r, c);
    }
  }
  return r;
}

std::string py_title(std::string_view s) {
  std::string r;
  size_t i = 0;
  bool previous_cased = false;
  while (i < s.size()) {
    const char32_t c = next_code_point(s, i);
    if (previous_cased) {
      append_lower(r, c);
    } else {
      append_title(r, c);
    }
    previous_cased = py_iscased(c);
  }
  return r;
}

bool py_isupper(std::string_view s) {
  bool cased = false;
  size_t i = 0;
  while (i < s.size()) {
    const char32_t c = next_code_point(s, i);
    if (py_islower_cp(c) || category(c) == UTF8PROC_CATEGORY_LT) return false;
    if (py_isupper_cp(c)) cased = true;
  }
  return cased;
}

bool py_islower(std::string_view s) {
  bool cased = false;
  size_t i = 0;
  while (i < s.size()) {
    const char32_t c = next_code_point(s, i);
    if (py_isupper_cp(c) || category(c) == UTF8PROC_CATEGORY_LT) return false;
    if (py_islower_cp(c)) cased = true;
  }
  return cased;
}

std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::u32string set;
  if (chars != nullptr) set = to_u32(*chars);
  auto strip_it = [&](char32_t c) {
    if (chars == nullptr) return py_isspace(c);
    return set.find(c) != std::u32string::npos;
  };
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    while (begin < end) {
      size_t j = begin;
      if (!strip_it(next_code_point(s, j))) break;
      begin = j;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t j = start;
      if (!strip_it(next_code_point(s, j))) break;
      end = start;
    }
  }
  return std::string(s.substr(begin, end - begin));
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  auto is_break = [](char32_t c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
           c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
  };
  std::vector<std::string> lines;
  size_t i = 0, start = 0;
  while (i < s.size()) {
    size_t j = i;
    const char32_t c = next_code_point(s, j);
    if (!is_break(c)) {
      i = j;
      continue;
    }
    size_t eol = j;
    if (c == '\r' && eol < s.size() && s[eol] == '\n') ++eol;
    lines.emplace_back(s.substr(start, (keepends ? eol : i) - start));
    start = i = eol;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

}  // namespace ember::jinja
