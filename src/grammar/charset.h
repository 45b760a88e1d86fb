// A set of Unicode code points, the terminal symbol of a grammar: a literal character, a bracket
// class like [a-z0-9_] or [^"\\], or `.` (any character).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace ember::grammar {

// The largest Unicode scalar value; classes are complemented within [0, kMaxCodePoint].
inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// Inclusive code point range [lo, hi].
struct CodeRange {
  uint32_t lo = 0;
  uint32_t hi = 0;
  friend bool operator==(const CodeRange&, const CodeRange&) = default;
  friend auto operator<=>(const CodeRange&, const CodeRange&) = default;
};

// Sorted, disjoint, non-adjacent ranges plus an ASCII bitmap for the common case. Immutable once
// built; equality compares the ranges so identical classes can share one id.
class CharSet {
 public:
  CharSet() = default;
  // Normalizes `ranges` (any order, overlaps allowed; ranges with lo > hi are ignored). With
  // `negate`, the set is the complement within [0, kMaxCodePoint].
  CharSet(std::vector<CodeRange> ranges, bool negate);

  static CharSet single(uint32_t cp) { return CharSet({{cp, cp}}, false); }
  static CharSet any() { return CharSet({{0, kMaxCodePoint}}, false); }

  bool contains(uint32_t cp) const {
    if (cp < 128) return (ascii_[cp >> 6] >> (cp & 63)) & 1;
    return contains_slow(cp);
  }
  // True when some code point in [lo, hi] is in the set.
  bool intersects(uint32_t lo, uint32_t hi) const;
  bool empty() const { return ranges_.empty(); }
  std::span<const CodeRange> ranges() const { return ranges_; }

  friend bool operator==(const CharSet& a, const CharSet& b) { return a.ranges_ == b.ranges_; }

 private:
  bool contains_slow(uint32_t cp) const;

  std::vector<CodeRange> ranges_;
  uint64_t ascii_[2] = {0, 0};
};

}  // namespace ember::grammar
