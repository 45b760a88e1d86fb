// Incremental JSON for streamed tool-call arguments.
//
// JsonStreamer checks one JSON value byte by byte as the model writes it and passes on only text
// that keeps the value a valid JSON prefix which can still be completed: separators (",") and
// unfinished numbers, literals and escape sequences are held back until the next byte shows they
// are complete. So if the model stops or goes wrong in the middle, `closing()` turns what was
// passed on into a valid JSON value by appending text only — nothing already streamed is ever
// taken back. Raw control characters inside strings (invalid JSON that models do write, e.g. a
// literal newline in a code argument) are passed on escaped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ember::chat::detail {

class JsonStreamer {
 public:
  enum class Status { kNeedMore, kDone, kError };

  // Consumes bytes of `text` that belong to the value (`*consumed` of them) and appends what is
  // safe to pass on to `*out`. kDone: the value is complete; bytes after it are not consumed (a
  // number at the top level ends at the first byte that cannot continue it, or at `eof`).
  // kError: text[*consumed] cannot continue the value (it is not consumed); `error()` says why.
  Status feed(std::string_view text, bool eof, size_t* consumed, std::string* out);

  bool started() const { return started_; }
  bool done() const { return state_ == State::kDone; }
  // After an error or a premature end: text that, appended to everything passed on so far,
  // makes a complete JSON value. Empty when nothing was passed on (the caller picks a default).
  std::string closing() const;
  const std::string& error() const { return error_; }

  static constexpr size_t kMaxDepth = 256;

 private:
  enum class State : uint8_t {
    kValue,     // a value must come next
    kArrFirst,  // after '[': a value or ']'
    kObjFirst,  // after '{': a key or '}'
    kObjKey,    // after ',' in an object: a key
    kColon,     // after a key
    kAfter,     // after a value: ',' or a closing bracket (or the end at the top level)
    kString,
    kEscape,
    kUnicode,
    kNumber,
    kLiteral,
    kDone,
  };
  enum class Num : uint8_t { kMinus, kZero, kInt, kDot, kFrac, kExpMark, kExpSign, kExp };

  // Processes one byte; false on error (byte not consumed).
  bool step(char c, std::string* out, bool* done, bool* reprocess);
  void emit(std::string_view s, std::string* out);
  void hold_begin();
  void hold_commit(std::string* out);
  void after_value(bool* done);
  bool fail(std::string why);

  State state_ = State::kValue;
  State held_from_ = State::kValue;  // state before the held-back text started
  Num num_ = Num::kMinus;
  std::vector<char> stack_;  // '{' or '['
  bool in_key_ = false;      // the current string is an object key
  bool holding_ = false;
  std::string pending_;  // held-back text
  const char* literal_ = nullptr;
  size_t literal_pos_ = 0;
  int unicode_left_ = 0;
  uint32_t unicode_value_ = 0;
  bool await_low_surrogate_ = false;  // a \uD800-\uDBFF escape must be followed by \uDC00-\uDFFF
  bool started_ = false;
  std::string error_;
};

// Appends `raw` to `out` as the inside of a JSON string (no quotes): escapes '"', '\\' and
// control characters; other bytes, including non-ASCII ones, are copied unchanged.
void append_json_escaped(std::string* out, std::string_view raw);
// `raw` as a JSON string literal, with quotes.
std::string json_quote(std::string_view raw);
// A byte for a message: 'x' when printable ASCII, else "byte 0xNN" (warnings stay valid UTF-8).
std::string describe_byte(char c);

// Decodes the inside of a JSON string incrementally (after the opening quote): escapes become
// the bytes they stand for (\uXXXX as UTF-8, surrogate pairs joined), and the closing quote ends
// it. Incomplete escapes are held back until complete.
class JsonStringDecoder {
 public:
  enum class Status { kNeedMore, kDone, kError };
  Status feed(std::string_view text, size_t* consumed, std::string* out);

 private:
  void put_code_point(uint32_t cp, std::string* out);
  int escape_ = 0;  // 0: none, 1: after '\\', 2..5: reading \u digits
  uint32_t code_ = 0;
  uint32_t high_surrogate_ = 0;
};

}  // namespace ember::chat::detail
