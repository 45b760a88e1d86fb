// GgufValue: construction, typed access and printing of one metadata value.
#include <bit>
#include <charconv>
#include <cstring>
#include <limits>

#include "gguf/gguf.h"
#include "gguf/gguf_util.h"

namespace ember {

namespace gguf_detail {

size_t scalar_size(GgufType type) {
  switch (type) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kBool:
      return 1;
    case GgufType::kU16:
    case GgufType::kI16:
      return 2;
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kF32:
      return 4;
    case GgufType::kU64:
    case GgufType::kI64:
    case GgufType::kF64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

size_t min_encoded_size(GgufType type) {
  if (type == GgufType::kString) return 8;  // the length prefix
  if (type == GgufType::kArray) return 12;  // element type + count
  return scalar_size(type);
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    static constexpr uint32_t kMinForLen[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool int_fits(GgufType type, int64_t v) {
  switch (type) {
    case GgufType::kU8:
      return v >= 0 && v <= 0xFF;
    case GgufType::kI8:
      return v >= -128 && v <= 127;
    case GgufType::kU16:
      return v >= 0 && v <= 0xFFFF;
    case GgufType::kI16:
      return v >= -32768 && v <= 32767;
    case GgufType::kU32:
      return v >= 0 && v <= 0xFFFFFFFFLL;
    case GgufType::kI32:
      return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
    case GgufType::kBool:
      return v == 0 || v == 1;
    case GgufType::kU64:
    case GgufType::kI64:
      return true;
    default:
      return false;
  }
}

}  // namespace gguf_detail

namespace {

bool is_signed_int(GgufType t) {
  return t == GgufType::kI8 || t == GgufType::kI16 || t == GgufType::kI32 || t == GgufType::kI64;
}
bool is_float(GgufType t) {
  return t == GgufType::kF32 || t == GgufType::kF64;
}

std::string full_type_name(GgufType type, GgufType element_type) {
  if (type != GgufType::kArray) return gguf_type_name(type);
  return "array of " + gguf_type_name(element_type);
}

Status mismatch(GgufType have, GgufType have_elem, std::string_view want) {
  return invalid_argument("value has type " + full_type_name(have, have_elem) + ", wanted " +
                          std::string(want));
}

template <typename T>
std::string number_text(T v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::kU8:
      return "uint8";
    case GgufType::kI8:
      return "int8";
    case GgufType::kU16:
      return "uint16";
    case GgufType::kI16:
      return "int16";
    case GgufType::kU32:
      return "uint32";
    case GgufType::kI32:
      return "int32";
    case GgufType::kF32:
      return "float32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kU64:
      return "uint64";
    case GgufType::kI64:
      return "int64";
    case GgufType::kF64:
      return "float64";
  }
  return "type " + std::to_string(static_cast<uint32_t>(type));
}

GgufValue::GgufValue() = default;

GgufValue GgufValue::u8(uint8_t v) {
  GgufValue r;
  r.type_ = GgufType::kU8;
  r.bits_ = v;
  return r;
}
GgufValue GgufValue::i8(int8_t v) {
  GgufValue r;
  r.type_ = GgufType::kI8;
  r.bits_ = static_cast<uint64_t>(static_cast<int64_t>(v));
  return r;
}
GgufValue GgufValue::u16(uint16_t v) {
  GgufValue r;
  r.type_ = GgufType::kU16;
  r.bits_ = v;
  return r;
}
GgufValue GgufValue::i16(int16_t v) {
  GgufValue r;
  r.type_ = GgufType::kI16;
  r.bits_ = static_cast<uint64_t>(static_cast<int64_t>(v));
  return r;
}
GgufValue GgufValue::u32(uint32_t v) {
  GgufValue r;
  r.type_ = GgufType::kU32;
  r.bits_ = v;
  return r;
}
GgufValue GgufValue::i32(int32_t v) {
  GgufValue r;
  r.type_ = GgufType::kI32;
  r.bits_ = static_cast<uint64_t>(static_cast<int64_t>(v));
  return r;
}
GgufValue GgufValue::u64(uint64_t v) {
  GgufValue r;
  r.type_ = GgufType::kU64;
  r.bits_ = v;
  return r;
}
GgufValue GgufValue::i64(int64_t v) {
  GgufValue r;
  r.type_ = GgufType::kI64;
  r.bits_ = static_cast<uint64_t>(v);
  return r;
}
GgufValue GgufValue::f32(float v) {
  GgufValue r;
  r.type_ = GgufType::kF32;
  r.bits_ = std::bit_cast<uint64_t>(static_cast<double>(v));
  return r;
}
GgufValue GgufValue::f64(double v) {
  GgufValue r;
  r.type_ = GgufType::kF64;
  r.bits_ = std::bit_cast<uint64_t>(v);
  return r;
}
GgufValue GgufValue::boolean(bool v) {
  GgufValue r;
  r.type_ = GgufType::kBool;
  r.bits_ = v ? 1 : 0;
  return r;
}
GgufValue GgufValue::string(std::string v) {
  GgufValue r;
  r.type_ = GgufType::kString;
  r.str_ = std::move(v);
  return r;
}
GgufValue GgufValue::int_array(GgufType element_type, std::vector<int64_t> values) {
  GgufValue r;
  r.type_ = GgufType::kArray;
  r.element_type_ = element_type;
  r.ints_ = std::move(values);
  return r;
}
GgufValue GgufValue::float_array(GgufType element_type, std::vector<double> values) {
  GgufValue r;
  r.type_ = GgufType::kArray;
  r.element_type_ = element_type;
  if (element_type == GgufType::kF32) {
    // Store what the file will hold, so a value compares equal to itself after a round trip.
    for (double& v : values) v = static_cast<double>(static_cast<float>(v));
  }
  r.floats_ = std::move(values);
  return r;
}
GgufValue GgufValue::string_array(std::vector<std::string> values) {
  GgufValue r;
  r.type_ = GgufType::kArray;
  r.element_type_ = GgufType::kString;
  r.strings_ = std::move(values);
  return r;
}
GgufValue GgufValue::array_of_arrays(std::vector<GgufValue> values) {
  GgufValue r;
  r.type_ = GgufType::kArray;
  r.element_type_ = GgufType::kArray;
  r.arrays_ = std::move(values);
  return r;
}

bool GgufValue::is_integer() const {
  return type_ != GgufType::kBool && gguf_detail::scalar_size(type_) != 0 && !is_float(type_);
}

size_t GgufValue::array_size() const {
  if (!is_array()) return 0;
  switch (element_type_) {
    case GgufType::kString:
      return strings_.size();
    case GgufType::kArray:
      return arrays_.size();
    case GgufType::kF32:
    case GgufType::kF64:
      return floats_.size();
    default:
      return ints_.size();
  }
}

Result<uint64_t> GgufValue::as_uint() const {
  if (!is_integer()) return mismatch(type_, element_type_, "an unsigned integer");
  if (is_signed_int(type_) && static_cast<int64_t>(bits_) < 0) {
    return invalid_argument("value " + number_text(static_cast<int64_t>(bits_)) +
                            " is negative, wanted an unsigned integer");
  }
  return bits_;
}

Result<int64_t> GgufValue::as_int() const {
  if (!is_integer()) return mismatch(type_, element_type_, "an integer");
  if (type_ == GgufType::kU64 && bits_ > static_cast<uint64_t>(INT64_MAX)) {
    return invalid_argument("value " + number_text(bits_) + " does not fit int64");
  }
  return static_cast<int64_t>(bits_);
}

Result<double> GgufValue::as_float() const {
  if (!is_float(type_)) return mismatch(type_, element_type_, "float32 or float64");
  return std::bit_cast<double>(bits_);
}

Result<bool> GgufValue::as_bool() const {
  if (type_ != GgufType::kBool) return mismatch(type_, element_type_, "bool");
  return bits_ != 0;
}

Result<std::string_view> GgufValue::as_string() const {
  if (type_ != GgufType::kString) return mismatch(type_, element_type_, "string");
  return std::string_view(str_);
}

Result<std::span<const std::string>> GgufValue::as_string_array() const {
  if (!is_array() || element_type_ != GgufType::kString) {
    return mismatch(type_, element_type_, "array of string");
  }
  return std::span<const std::string>(strings_);
}

Result<std::span<const int64_t>> GgufValue::as_int_array() const {
  if (!is_array() || element_type_ == GgufType::kString || element_type_ == GgufType::kArray ||
      is_float(element_type_)) {
    return mismatch(type_, element_type_, "array of integer");
  }
  return std::span<const int64_t>(ints_);
}

Result<std::span<const double>> GgufValue::as_float_array() const {
  if (!is_array() || !is_float(element_type_)) {
    return mismatch(type_, element_type_, "array of float");
  }
  return std::span<const double>(floats_);
}

Result<std::span<const GgufValue>> GgufValue::as_array_array() const {
  if (!is_array() || element_type_ != GgufType::kArray) {
    return mismatch(type_, element_type_, "array of array");
  }
  return std::span<const GgufValue>(arrays_);
}

std::string GgufValue::summary() const {
  switch (type_) {
    case GgufType::kBool:
      return bits_ != 0 ? "true" : "false";
    case GgufType::kF32:
      return number_text(static_cast<float>(std::bit_cast<double>(bits_)));
    case GgufType::kF64:
      return number_text(std::bit_cast<double>(bits_));
    case GgufType::kString: {
      // Long strings (chat templates) are cut so a listing stays one line per key.
      constexpr size_t kMax = 64;
      std::string out = "\"";
      for (size_t i = 0; i < str_.size() && i < kMax; ++i) {
        const char c = str_[i];
        if (c == '\n') {
          out += "\\n";
        } else if (c == '"' || c == '\\') {
          out += '\\';
          out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
          out += '?';
        } else {
          out += c;
        }
      }
      out += str_.size() > kMax ? "\"..." : "\"";
      return out;
    }
    case GgufType::kArray: {
      // Built with append: g++ 12 warns falsely (-Wrestrict) on a chain of operator+ here.
      std::string out = "[";
      out.append(gguf_type_name(element_type_));
      out.append(" x ");
      out.append(std::to_string(array_size()));
      out.append("]");
      return out;
    }
    default:
      if (is_signed_int(type_)) return number_text(static_cast<int64_t>(bits_));
      return number_text(bits_);
  }
}

bool GgufValue::operator==(const GgufValue& other) const {
  if (type_ != other.type_) return false;
  if (type_ == GgufType::kString) return str_ == other.str_;
  if (type_ != GgufType::kArray) return bits_ == other.bits_;  // bitwise, so NaN == NaN
  if (element_type_ != other.element_type_) return false;
  switch (element_type_) {
    case GgufType::kString:
      return strings_ == other.strings_;
    case GgufType::kArray:
      return arrays_ == other.arrays_;
    case GgufType::kF32:
    case GgufType::kF64:
      return floats_.size() == other.floats_.size() &&
             (floats_.empty() || std::memcmp(floats_.data(), other.floats_.data(),
                                             floats_.size() * sizeof(double)) == 0);
    default:
      return ints_ == other.ints_;
  }
}

}  // namespace ember
