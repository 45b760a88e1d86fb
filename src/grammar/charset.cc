#include "grammar/charset.h"

#include <algorithm>

namespace ember::grammar {

CharSet::CharSet(std::vector<CodeRange> ranges, bool negate) {
  std::erase_if(ranges, [](const CodeRange& r) { return r.lo > r.hi; });
  std::sort(ranges.begin(), ranges.end());
  // Merge overlapping and adjacent ranges.
  std::vector<CodeRange> merged;
  for (const CodeRange& r : ranges) {
    if (!merged.empty() && r.lo <= merged.back().hi + uint64_t{1}) {
      merged.back().hi = std::max(merged.back().hi, r.hi);
    } else {
      merged.push_back(r);
    }
  }
  if (negate) {
    std::vector<CodeRange> complement;
    uint64_t next = 0;  // first code point not yet covered
    for (const CodeRange& r : merged) {
      if (r.lo > kMaxCodePoint) break;
      if (r.lo > next) complement.push_back({static_cast<uint32_t>(next), r.lo - 1});
      next = uint64_t{r.hi} + 1;
    }
    if (next <= kMaxCodePoint) complement.push_back({static_cast<uint32_t>(next), kMaxCodePoint});
    merged = std::move(complement);
  }
  ranges_ = std::move(merged);
  for (const CodeRange& r : ranges_) {
    for (uint32_t c = r.lo; c <= r.hi && c < 128; ++c) ascii_[c >> 6] |= uint64_t{1} << (c & 63);
  }
}

bool CharSet::contains_slow(uint32_t cp) const {
  // First range whose hi >= cp.
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), cp,
                             [](const CodeRange& r, uint32_t v) { return r.hi < v; });
  return it != ranges_.end() && it->lo <= cp;
}

bool CharSet::intersects(uint32_t lo, uint32_t hi) const {
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), lo,
                             [](const CodeRange& r, uint32_t v) { return r.hi < v; });
  return it != ranges_.end() && it->lo <= hi;
}

}  // namespace ember::grammar
