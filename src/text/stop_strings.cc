#include "text/stop_strings.h"

#include <algorithm>

namespace ember::text {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

StopStringMatcher::Output StopStringMatcher::push(std::string_view text) {
  Output out;
  if (stopped_) return out;
  held_.append(text);
  if (stops_.empty()) {
    out.text.swap(held_);
    return out;
  }
  // The earliest complete occurrence of any stop string ends the output (ties: longer first, so
  // "\n\n" wins over "\n" at the same place).
  size_t best_pos = std::string::npos;
  size_t best_index = 0;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const size_t pos = held_.find(stops_[i]);
    if (pos == std::string::npos) continue;
    if (pos < best_pos || (pos == best_pos && stops_[i].size() > stops_[best_index].size())) {
      best_pos = pos;
      best_index = i;
    }
  }
  if (best_pos != std::string::npos) {
    out.text = held_.substr(0, best_pos);
    out.stopped = best_index;
    stopped_ = true;
    held_.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_) {
    const size_t max_len = std::min(s.size() - 1, held_.size());
    for (size_t len = max_len; len > hold; --len) {
      if (std::string_view(held_).substr(held_.size() - len) ==
          std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  out.text = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return out;
}

std::string StopStringMatcher::finish() {
  std::string out;
  if (!stopped_) out.swap(held_);
  held_.clear();
  return out;
}

void StopStringMatcher::reset() {
  held_.clear();
  stopped_ = false;
}

}  // namespace ember::text
