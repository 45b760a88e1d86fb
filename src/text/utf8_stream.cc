#include "text/utf8_stream.h"

#include <cstdint>

namespace ember::text {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Result of looking at the sequence starting at `bytes[i]`.
struct Step {
  enum Kind { kValid, kInvalid, kIncomplete } kind;
  size_t length;  // bytes consumed (valid: the character; invalid: the maximal subpart)
};

// Decodes one sequence following the well-formed byte table of Unicode (Table 3-7): the allowed
// range of the second byte depends on the lead byte (no overlongs, no surrogates, <= U+10FFFF).
Step step_at(std::string_view bytes, size_t i) {
  const auto b0 = static_cast<uint8_t>(bytes[i]);
  if (b0 < 0x80) return {Step::kValid, 1};
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {Step::kInvalid, 1};
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= bytes.size()) return {Step::kIncomplete, k};
    const auto b = static_cast<uint8_t>(bytes[i + k]);
    const uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return {Step::kInvalid, k};
  }
  return {Step::kValid, need + 1};
}

}  // namespace

size_t utf8_complete_prefix(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const Step s = step_at(bytes, i);
    if (s.kind == Step::kIncomplete) return i;
    i += s.length;
  }
  return i;
}

std::string utf8_sanitize(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const Step s = step_at(bytes, i);
    if (s.kind == Step::kValid) {
      out.append(bytes.substr(i, s.length));
      i += s.length;
    } else {
      out.append(kReplacement);
      i += s.length;  // an incomplete tail is one maximal subpart too
    }
  }
  return out;
}

std::string Utf8Stream::push(std::string_view bytes) {
  pending_.append(bytes);
  const size_t complete = utf8_complete_prefix(pending_);
  std::string out = utf8_sanitize(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string Utf8Stream::finish() {
  std::string out = utf8_sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace ember::text
