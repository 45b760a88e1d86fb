// Input side of the incremental output parsers: the not-yet-consumed model output, literal
// matching that can say "not decidable yet", and a multi-marker scanner with hold-back.
//
// The parsers never look at text they have consumed again, except to go back to the start of a
// tool call that turned out not to be one (bounded by that call's header). Every decision is
// made only once enough text is there to make it the same way whatever the chunking was, which
// is what makes a streamed parse equal to a parse of the whole output.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ember::chat::detail {

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Unconsumed output. Positions handed out by `offset()` are absolute (bytes since the start of
// the output), so they stay valid when consumed text is dropped from the buffer.
class Input {
 public:
  void append(std::string_view s) { buf_.append(s.data(), s.size()); }
  void set_eof() { eof_ = true; }
  bool eof() const { return eof_; }

  std::string_view view() const { return std::string_view(buf_).substr(pos_); }
  bool empty() const { return pos_ == buf_.size(); }
  char peek() const { return buf_[pos_]; }  // only when !empty()
  void consume(size_t n) { pos_ += n; }

  size_t offset() const { return base_ + pos_; }
  // Moves back to an earlier absolute position that has not been dropped yet.
  void rewind(size_t abs) { pos_ = abs - base_; }
  // Text between two absolute positions, both not dropped yet.
  std::string_view slice(size_t abs_from, size_t abs_to) const {
    return std::string_view(buf_).substr(abs_from - base_, abs_to - abs_from);
  }
  // Drops consumed text before `keep_from` (absolute); cheap no-op while little would be freed.
  void compact(size_t keep_from);

 private:
  std::string buf_;
  size_t pos_ = 0;   // into buf_
  size_t base_ = 0;  // absolute position of buf_[0]
  bool eof_ = false;
};

enum class Match { kYes, kNo, kMore };

// Matches `lit` at the start of the unconsumed input and consumes it on kYes. kMore: the input
// so far is a proper prefix of `lit` and more may come.
Match match_literal(Input& in, std::string_view lit);

// Consumes whitespace. Returns false when the input ran out and more may come (the caller must
// wait); true when a non-space byte is next or the output ended.
bool skip_space(Input& in);

// Several markers searched for together: the earliest start wins, and at the same start the
// longest. Text that could be the beginning of a marker is held back until decidable.
class MarkerSet {
 public:
  MarkerSet() = default;
  explicit MarkerSet(std::vector<std::string> markers);

  struct Hit {
    size_t safe = 0;               // bytes before the match, or before the held-back tail
    std::optional<size_t> marker;  // index of the marker found at `safe`
  };
  // With `eof`, nothing is held back (a partial marker at the end is just text).
  Hit scan(std::string_view text, bool eof) const;

  const std::vector<std::string>& markers() const { return markers_; }
  bool empty() const { return markers_.empty(); }

 private:
  std::vector<std::string> markers_;
  std::array<bool, 256> first_{};
};

// Reads text up to one of `terminators` (not consuming the terminator), at most `max_len` bytes.
// kYes: `*text` holds it and `*which` the terminator index. kNo: no terminator within `max_len`
// bytes (or the output ended). kMore: undecided yet.
Match capture_until(Input& in, const MarkerSet& terminators, size_t max_len, std::string* text,
                    size_t* which);

}  // namespace ember::chat::detail
