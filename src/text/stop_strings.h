// Stop strings for streamed generation.
//
// Generation ends when the output contains one of the stop strings; the stop string itself and
// anything after it are never shown. Because a stop string may arrive split across several tokens,
// text that could still turn out to be the beginning of a stop string is held back until it is
// known not to be (then released) or completes the stop string (then dropped).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ember::text {

class StopStringMatcher {
 public:
  StopStringMatcher() = default;
  // Empty strings in `stops` are ignored.
  explicit StopStringMatcher(std::vector<std::string> stops);

  struct Output {
    std::string text;               // safe to show now
    std::optional<size_t> stopped;  // index into the stop list when a stop string completed
  };

  // Appends newly generated text; returns what can be released. Once a stop string matched,
  // further pushes return nothing.
  Output push(std::string_view text);
  // Generation ended for another reason: releases the held-back text.
  std::string finish();
  bool stopped() const { return stopped_; }
  bool empty() const { return stops_.empty(); }
  void reset();

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace ember::text
