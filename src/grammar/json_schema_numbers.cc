// Exact digit-range grammars for bounded integers and numbers.
//
// A range of non-negative integers is split by digit count; each same-length range [a, b] is
// written digit by digit: the common prefix, then for the first differing digit x < y,
//   x followed by [rest of a, 99..9]  |  (x+1 .. y-1) followed by any digits  |  y followed by
//   [00..0, rest of b],
// collapsing the outer parts when the rest of a is all zeros or the rest of b all nines.
#include <algorithm>
#include <string>
#include <vector>

#include "grammar/json_schema_internal.h"

namespace ember::grammar::schema_internal {
namespace {

std::string digit_class(char lo, char hi) {
  if (lo == hi) return std::string("[") + lo + "]";
  return std::string("[") + lo + "-" + hi + "]";
}

std::string any_digits(size_t n) {
  if (n == 0) return "";
  if (n == 1) return "[0-9]";
  return "[0-9]{" + std::to_string(n) + "}";
}

std::string join_alternatives(const std::vector<std::string>& alts) {
  std::string s;
  for (size_t i = 0; i < alts.size(); ++i) {
    if (i) s += " | ";
    s += alts[i];
  }
  return s;
}

std::string group(const std::string& s) {
  return "(" + s + ")";
}

bool all_of(const std::string& s, char c) {
  return std::all_of(s.begin(), s.end(), [c](char x) { return x == c; });
}

// Digit strings of the same length as a and b (a <= b), between them.
std::string same_length_range(const std::string& a, const std::string& b) {
  if (a == b) return "\"" + a + "\"";
  size_t i = 0;
  while (a[i] == b[i]) ++i;
  const std::string prefix = a.substr(0, i);
  const char x = a[i], y = b[i];
  const std::string ra = a.substr(i + 1), rb = b.substr(i + 1);
  const size_t m = ra.size();
  std::vector<std::string> alts;
  if (m == 0) {
    alts.push_back(digit_class(x, y));
  } else {
    const bool low_full = all_of(ra, '0'), high_full = all_of(rb, '9');
    const char mid_lo = low_full ? x : static_cast<char>(x + 1);
    const char mid_hi = high_full ? y : static_cast<char>(y - 1);
    if (!low_full) {
      alts.push_back(digit_class(x, x) + " " + group(same_length_range(ra, std::string(m, '9'))));
    }
    if (mid_lo <= mid_hi) alts.push_back(digit_class(mid_lo, mid_hi) + " " + any_digits(m));
    if (!high_full) {
      alts.push_back(digit_class(y, y) + " " + group(same_length_range(std::string(m, '0'), rb)));
    }
  }
  std::string body = join_alternatives(alts);
  if (prefix.empty()) return body;
  return "\"" + prefix + "\" " + (alts.size() > 1 ? group(body) : body);
}

size_t digit_count(uint64_t v) {
  return std::to_string(v).size();
}

}  // namespace

std::string gbnf_uint_range(uint64_t lo, std::optional<uint64_t> hi, int max_digits) {
  const size_t lo_len = digit_count(lo);
  const size_t hi_len = hi ? digit_count(*hi) : std::max<size_t>(lo_len, max_digits);
  std::vector<std::string> alts;
  size_t len = lo_len;
  while (len <= hi_len) {
    const std::string a =
        len == lo_len ? std::to_string(lo) : std::string("1").append(len - 1, '0');
    const bool top_bounded = hi && len == hi_len;
    const std::string b = top_bounded ? std::to_string(*hi) : std::string(len, '9');
    const bool full =
        len > 1 && a == std::string("1").append(len - 1, '0') && b == std::string(len, '9');
    if (full) {
      // Whole digit counts len..last_full at once: [1-9] [0-9]{len-1,last_full-1}.
      size_t last_full = len;
      while (last_full + 1 <= hi_len &&
             !(hi && last_full + 1 == hi_len && std::to_string(*hi) != std::string(hi_len, '9'))) {
        ++last_full;
      }
      std::string s = "[1-9] ";
      if (last_full == len) {
        s += any_digits(len - 1);
      } else {
        s += "[0-9]{" + std::to_string(len - 1) + "," + std::to_string(last_full - 1) + "}";
      }
      alts.push_back(s);
      len = last_full + 1;
      continue;
    }
    const std::string r = same_length_range(a, b);
    alts.push_back(r.find('|') != std::string::npos ? group(r) : r);
    ++len;
  }
  return join_alternatives(alts);
}

std::string gbnf_int_range(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  auto magnitude = [](int64_t v) {
    return v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  };
  int max_digits = 16;
  if (lo) max_digits = std::max<int>(max_digits, static_cast<int>(digit_count(magnitude(*lo))));
  if (hi) max_digits = std::max<int>(max_digits, static_cast<int>(digit_count(magnitude(*hi))));
  std::vector<std::string> alts;
  // Negative values: [lo, min(hi, -1)], as magnitudes [-(upper), -lo].
  if (!lo || *lo < 0) {
    const int64_t upper = hi ? std::min<int64_t>(*hi, -1) : -1;
    if (!lo || *lo <= upper) {
      const uint64_t m_lo = magnitude(upper);
      std::optional<uint64_t> m_hi;
      if (lo) m_hi = magnitude(*lo);
      const std::string r = gbnf_uint_range(m_lo, m_hi, max_digits);
      alts.push_back("\"-\" " + (r.find('|') != std::string::npos ? group(r) : r));
    }
  }
  // Non-negative values: [max(lo, 0), hi].
  if (!hi || *hi >= 0) {
    const uint64_t from = lo && *lo > 0 ? static_cast<uint64_t>(*lo) : 0;
    std::optional<uint64_t> to;
    if (hi) to = static_cast<uint64_t>(*hi);
    if (!to || from <= *to) {
      const std::string r = gbnf_uint_range(from, to, max_digits);
      alts.push_back(alts.empty() || r.find('|') == std::string::npos ? r : group(r));
    }
  }
  return join_alternatives(alts);
}

namespace {

constexpr const char* kAnyFraction = "(\".\" [0-9]{1,16})?";
constexpr const char* kZeroFraction = "(\".\" \"0\"{1,16})?";
constexpr const char* kNonzeroFraction = "\".\" \"0\"{0,15} [1-9] [0-9]{0,15}";

// Unsigned decimal numbers I("."F)? whose value m satisfies a <(=) m <(=) b (b absent: no upper
// bound), with integral a, b >= 0.
std::string magnitude_range(uint64_t a, bool a_excl, std::optional<uint64_t> b, bool b_excl) {
  const int max_digits = std::max<int>(16, static_cast<int>(digit_count(b ? *b : a)));
  std::vector<std::string> pieces;
  // m = a plus a non-zero fraction (only when a is excluded; otherwise covered below).
  if (a_excl && (!b || *b > a))
    pieces.push_back(
        std::string("\"").append(std::to_string(a)).append("\" ").append(kNonzeroFraction));
  // Integral parts with any fraction: from a (or a+1 when excluded) up to b-1.
  const uint64_t any_lo = a_excl ? a + 1 : a;
  if (!b || (*b >= 1 && any_lo <= *b - 1)) {
    std::optional<uint64_t> any_hi;
    if (b) any_hi = *b - 1;
    const std::string r = gbnf_uint_range(any_lo, any_hi, max_digits);
    pieces.push_back((r.find('|') != std::string::npos ? group(r) : r) + " " + kAnyFraction);
  }
  // m = b exactly (zero fraction) when b is included and reachable.
  if (b && !b_excl && (*b > a || (*b == a && !a_excl))) {
    pieces.push_back(
        std::string("\"").append(std::to_string(*b)).append("\" ").append(kZeroFraction));
  }
  return join_alternatives(pieces);
}

}  // namespace

std::string gbnf_number_range(std::optional<NumberBound> lo, std::optional<NumberBound> hi) {
  auto magnitude = [](int64_t v) {
    return v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  };
  std::vector<std::string> alts;
  // Negative values: magnitude between -hi (or 0, exclusive) and -lo.
  if (!lo || lo->value < 0) {
    uint64_t m_lo = 0;
    bool m_lo_excl = true;  // never "-0"
    if (hi && hi->value < 0) {
      m_lo = magnitude(hi->value);
      m_lo_excl = hi->exclusive;
    }
    std::optional<uint64_t> m_hi;
    bool m_hi_excl = false;
    if (lo) {
      m_hi = magnitude(lo->value);
      m_hi_excl = lo->exclusive;
    }
    if (!m_hi || *m_hi > m_lo || (*m_hi == m_lo && !m_lo_excl && !m_hi_excl)) {
      const std::string r = magnitude_range(m_lo, m_lo_excl, m_hi, m_hi_excl);
      if (!r.empty()) alts.push_back("\"-\" " + group(r));
    }
  }
  // Non-negative values: magnitude between max(lo, 0) and hi.
  if (!hi || hi->value > 0 || (hi->value == 0 && !hi->exclusive)) {
    uint64_t m_lo = 0;
    bool m_lo_excl = false;
    if (lo && lo->value >= 0) {
      m_lo = static_cast<uint64_t>(lo->value);
      m_lo_excl = lo->exclusive;
    }
    std::optional<uint64_t> m_hi;
    bool m_hi_excl = false;
    if (hi) {
      m_hi = static_cast<uint64_t>(hi->value);
      m_hi_excl = hi->exclusive;
    }
    if (!m_hi || *m_hi > m_lo || (*m_hi == m_lo && !m_lo_excl && !m_hi_excl)) {
      const std::string r = magnitude_range(m_lo, m_lo_excl, m_hi, m_hi_excl);
      if (!r.empty()) alts.push_back(alts.empty() ? r : group(r));
    }
  }
  return join_alternatives(alts);
}

}  // namespace ember::grammar::schema_internal
