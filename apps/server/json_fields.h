// Reading typed fields out of request JSON with errors that name the field: the small helpers
// the Ollama, Anthropic and Responses request parsers share. A missing or null field leaves the
// output as it is; a present one of the wrong type or out of range is kInvalidArgument.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ember/chat.h"
#include "ember/status.h"

namespace ember::http::fields {

// The field's value, or nullptr when absent or null.
inline const Json* find(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

inline std::string name(const std::string& where, const char* key) {
  return where.empty() ? std::string(key) : where + "." + key;
}

inline Status read_bool(const Json& obj, const char* key, const std::string& where, bool& out) {
  const Json* v = find(obj, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_boolean()) return invalid_argument(name(where, key) + " must be true or false");
  out = v->get<bool>();
  return Status::Ok();
}

inline Status read_string(const Json& obj, const char* key, const std::string& where,
                          std::string& out) {
  const Json* v = find(obj, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_string()) return invalid_argument(name(where, key) + " must be a string");
  out = v->get<std::string>();
  return Status::Ok();
}

// An integer in [lo, hi], never wrapped or truncated.
template <typename T>
Status read_int(const Json& obj, const char* key, const std::string& where, int64_t lo, int64_t hi,
                T& out) {
  const Json* v = find(obj, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_number_integer()) return invalid_argument(name(where, key) + " must be an integer");
  const bool too_big =
      v->is_number_unsigned() &&
      v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  const int64_t x = too_big ? 0 : v->get<int64_t>();
  if (too_big || x < lo || x > hi) {
    return invalid_argument(name(where, key) + " must be in [" + std::to_string(lo) + ", " +
                            std::to_string(hi) + "]");
  }
  out = static_cast<T>(x);
  return Status::Ok();
}

// A finite number of reasonable size.
inline Status read_float(const Json& obj, const char* key, const std::string& where, float& out) {
  const Json* v = find(obj, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_number()) return invalid_argument(name(where, key) + " must be a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || std::fabs(x) > 1e30) {
    return invalid_argument(name(where, key) + " must be a finite number");
  }
  out = static_cast<float>(x);
  return Status::Ok();
}

// A seed: -1 (random) or a 32-bit value.
inline Status read_seed(const Json& obj, const char* key, const std::string& where, uint32_t& out) {
  int64_t s = 0;
  const Json* v = find(obj, key);
  if (v == nullptr) return Status::Ok();
  EMBER_RETURN_IF_ERROR(read_int(obj, key, where, -1, 0xFFFFFFFFll, s));
  out = s == -1 ? kRandomSeed : static_cast<uint32_t>(s);
  return Status::Ok();
}

// A string or a list of strings (stop sequences), appended to `out`; at most `max` of them.
inline Status read_strings(const Json& obj, const char* key, const std::string& where,
                           std::vector<std::string>& out, size_t max = 64) {
  const Json* v = find(obj, key);
  if (v == nullptr) return Status::Ok();
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
    return Status::Ok();
  }
  if (!v->is_array()) return invalid_argument(name(where, key) + " must be a list of strings");
  if (v->size() > max) {
    return invalid_argument(name(where, key) + " holds more than " + std::to_string(max) +
                            " strings");
  }
  for (const Json& x : *v) {
    if (!x.is_string()) return invalid_argument(name(where, key) + " must be a list of strings");
    out.push_back(x.get<std::string>());
  }
  return Status::Ok();
}

// The JSON text of tool-call arguments as an object (what Ollama and Anthropic send): parsed when
// it is an object, else kInvalidArgument naming `where`.
inline Result<Json> arguments_object(const std::string& text, const std::string& where) {
  Json j = Json::parse(text.empty() ? std::string("{}") : text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return invalid_argument(where + ": the tool call's arguments are not a JSON object");
  }
  return j;
}

}  // namespace ember::http::fields
