// ember — errors as values.
//
// Every fallible ember function returns either a `Status` (success or an error with a code and a
// human-readable message) or a `Result<T>` (a value of type T, or an error Status). Nothing in
// ember throws across the public API for bad input, and nothing aborts: a malformed file, an
// unknown tensor type or an out-of-range parameter comes back as an error you can print.
//
//   ember::Result<ember::GgufFile> file = ember::GgufFile::open("model.gguf");
//   if (!file.ok()) { std::cerr << file.status().to_string() << "\n"; return 1; }
//   use(*file);
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace ember {

// What kind of failure a Status describes. Callers usually only print the message; the code lets
// a program react to a class of failure (e.g. map kInvalidArgument to HTTP 400).
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,    // a parameter or user-supplied value is out of range or malformed
  kNotFound,           // a file, key, tensor or token does not exist
  kDataLoss,           // a file's content is malformed or truncated
  kUnimplemented,      // a valid but unsupported feature (e.g. big-endian GGUF, a tensor type)
  kOutOfRange,         // an index or size beyond a limit (context full, too many tokens)
  kResourceExhausted,  // memory or a configured limit would be exceeded
  kIoError,            // the operating system refused a read, write, open or map
  kCancelled,          // the operation was cancelled by the caller
  kInternal,           // a bug in ember: please report it
};

// Short lower-case name of a code, e.g. "invalid argument".
constexpr std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kDataLoss: return "malformed data";
    case StatusCode::kUnimplemented: return "unsupported";
    case StatusCode::kOutOfRange: return "out of range";
    case StatusCode::kResourceExhausted: return "resource exhausted";
    case StatusCode::kIoError: return "i/o error";
    case StatusCode::kCancelled: return "cancelled";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

// Success, or an error code with a message. Cheap to copy when ok (no allocation).
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // The message alone, e.g. "tensor 'blk.0.attn_q.weight': unknown type 99".
  const std::string& message() const { return message_; }
  // "<code name>: <message>", or "ok".
  std::string to_string() const {
    if (ok()) return "ok";
    std::string s(status_code_name(code_));
    s += ": ";
    s += message_;
    return s;
  }

  // Returns a copy whose message is prefixed with `context` + ": " (no-op when ok).
  Status with_context(std::string_view context) const {
    if (ok()) return *this;
    std::string m(context);
    m += ": ";
    m += message_;
    return Status(code_, std::move(m));
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status resource_exhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value of type T, or an error Status. Constructing from an ok Status is a bug (asserted in
// debug builds, turned into an internal error otherwise).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(data_).ok() && "Result constructed from an ok Status");
    if (std::get<Status>(data_).ok()) {
      data_ = Status(StatusCode::kInternal, "Result constructed from an ok Status");
    }
  }
  template <typename U,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, Status> &&
                                        !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& value) : data_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(data_); }
  // The error, or an ok Status when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(data_); }

  // Access the value; only valid when ok().
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The value, or `fallback` on error.
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace ember

#define EMBER_CONCAT_INNER_(a, b) a##b
#define EMBER_CONCAT_(a, b) EMBER_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` (a Status) is an error.
#define EMBER_RETURN_IF_ERROR(expr) \
  EMBER_RETURN_IF_ERROR_IMPL_(EMBER_CONCAT_(ember_status_, __COUNTER__), expr)
#define EMBER_RETURN_IF_ERROR_IMPL_(tmp, expr) \
  do {                                         \
    ::ember::Status tmp = (expr);              \
    if (!tmp.ok()) return tmp;                 \
  } while (0)

// `EMBER_ASSIGN_OR_RETURN(auto x, f());` declares x from a Result's value, or returns its error.
#define EMBER_ASSIGN_OR_RETURN(lhs, expr) \
  EMBER_ASSIGN_OR_RETURN_IMPL_(EMBER_CONCAT_(ember_result_, __COUNTER__), lhs, expr)
#define EMBER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
