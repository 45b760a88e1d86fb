// Incremental UTF-8 assembly for streamed generation.
//
// A model emits bytes token by token, and one character may be split across tokens (byte-fallback
// tokens, or byte-level BPE pieces). Utf8Stream turns that byte stream into chunks that are always
// valid UTF-8: complete characters are released at once, the bytes of a character still being
// assembled are held back, and bytes that can never form a character become U+FFFD (one per
// maximal invalid subpart, as the Unicode standard recommends and browsers do).
#pragma once

#include <string>
#include <string_view>

namespace ember::text {

class Utf8Stream {
 public:
  // Appends `bytes`; returns the text that is now complete (possibly empty).
  std::string push(std::string_view bytes);
  // Ends the stream: returns what was held back, an incomplete character becoming U+FFFD.
  std::string finish();
  // The bytes currently held back (at most 3: a character's unfinished prefix).
  const std::string& pending() const { return pending_; }
  void reset() { pending_.clear(); }

 private:
  std::string pending_;
};

// Length of the longest prefix of `bytes` that ends on a character boundary, treating a trailing
// *possibly valid* incomplete sequence as not yet complete. Invalid bytes count as complete (they
// will be replaced), so the result is < bytes.size() only for a valid but unfinished tail.
size_t utf8_complete_prefix(std::string_view bytes);

// `bytes` with every maximal invalid subpart replaced by U+FFFD.
std::string utf8_sanitize(std::string_view bytes);

}  // namespace ember::text
