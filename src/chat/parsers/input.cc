#include "chat/parsers/input.h"

#include <algorithm>

namespace ember::chat::detail {

void Input::compact(size_t keep_from) {
  size_t drop = std::min(pos_, keep_from - base_);
  // Erasing is linear in what remains, so only do it once the dropped part dominates.
  if (drop < 4096 || drop < buf_.size() / 2) return;
  buf_.erase(0, drop);
  pos_ -= drop;
  base_ += drop;
}

Match match_literal(Input& in, std::string_view lit) {
  std::string_view v = in.view();
  if (v.size() >= lit.size()) {
    if (v.substr(0, lit.size()) != lit) return Match::kNo;
    in.consume(lit.size());
    return Match::kYes;
  }
  if (lit.substr(0, v.size()) != v) return Match::kNo;
  return in.eof() ? Match::kNo : Match::kMore;
}

bool skip_space(Input& in) {
  std::string_view v = in.view();
  size_t n = 0;
  while (n < v.size() && is_space(v[n])) ++n;
  in.consume(n);
  return n < v.size() || in.eof();
}

MarkerSet::MarkerSet(std::vector<std::string> markers) {
  for (auto& m : markers) {
    if (m.empty()) continue;
    first_[static_cast<unsigned char>(m[0])] = true;
    markers_.push_back(std::move(m));
  }
}

MarkerSet::Hit MarkerSet::scan(std::string_view text, bool eof) const {
  const size_t n = text.size();
  if (markers_.empty()) return {n, std::nullopt};
  for (size_t i = 0; i < n; ++i) {
    if (!first_[static_cast<unsigned char>(text[i])]) continue;
    std::string_view rest = text.substr(i);
    std::optional<size_t> full;
    bool partial = false;
    for (size_t k = 0; k < markers_.size(); ++k) {
      const std::string& m = markers_[k];
      if (m[0] != text[i]) continue;
      if (rest.size() >= m.size()) {
        if (rest.compare(0, m.size(), m) == 0 && (!full || m.size() > markers_[*full].size())) {
          full = k;
        }
      } else if (!eof && std::string_view(m).substr(0, rest.size()) == rest) {
        partial = true;  // a longer marker may still complete here
      }
    }
    if (partial) return {i, std::nullopt};
    if (full) return {i, full};
  }
  return {n, std::nullopt};
}

Match capture_until(Input& in, const MarkerSet& terminators, size_t max_len, std::string* text,
                    size_t* which) {
  std::string_view v = in.view();
  // Only the first max_len bytes (plus room for a terminator) matter, whatever is buffered, so
  // the answer does not depend on how the output was chunked.
  size_t longest = 0;
  for (const auto& t : terminators.markers()) longest = std::max(longest, t.size());
  const size_t window = max_len + longest;
  const bool truncated = v.size() > window;
  MarkerSet::Hit hit =
      terminators.scan(truncated ? v.substr(0, window) : v, in.eof() && !truncated);
  if (hit.marker && hit.safe <= max_len) {
    text->assign(v.substr(0, hit.safe));
    *which = *hit.marker;
    in.consume(hit.safe);
    return Match::kYes;
  }
  if (hit.safe > max_len || truncated || in.eof()) return Match::kNo;
  return Match::kMore;
}

}  // namespace ember::chat::detail
