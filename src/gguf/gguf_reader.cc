// Parsing and validating one GGUF file held in memory (mapped or loaded).
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <unordered_set>

#include "base/mapped_file.h"
#include "gguf/gguf.h"
#include "gguf/gguf_parser.h"
#include "gguf/gguf_util.h"

namespace ember {

using gguf_detail::is_power_of_two;
using gguf_detail::is_valid_utf8;
using gguf_detail::min_encoded_size;

namespace {

// Sequential little-endian reader over the file bytes. Every read checks the remaining length,
// and every error names the offset where the offending field starts.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  Status error_at(uint64_t offset, const std::string& what) const {
    return data_loss("gguf: at offset " + std::to_string(offset) + ": " + what);
  }

  template <typename T>
  Result<T> read(std::string_view what) {
    if (remaining() < sizeof(T)) {
      return error_at(pos_, "truncated: need " + std::to_string(sizeof(T)) + " bytes for " +
                                std::string(what) + ", " + std::to_string(remaining()) + " remain");
    }
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  Result<std::string> read_string(std::string_view what) {
    const uint64_t start = pos_;
    EMBER_ASSIGN_OR_RETURN(const uint64_t len, read<uint64_t>(std::string(what) + " length"));
    if (len > remaining()) {
      return error_at(start, std::string(what) + " length " + std::to_string(len) +
                                 " exceeds remaining " + std::to_string(remaining()) + " bytes");
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

// Element count claims are checked against the bytes left before anything is reserved: each
// element needs at least `min_size` bytes, so a count larger than remaining / min_size is a lie.
Status check_count(const Cursor& c, uint64_t at, uint64_t count, uint64_t min_size,
                   std::string_view what) {
  if (min_size != 0 && count > c.remaining() / min_size) {
    return c.error_at(at, std::string(what) + " " + std::to_string(count) + " needs at least " +
                              std::to_string(min_size) + " bytes each, but only " +
                              std::to_string(c.remaining()) + " bytes remain");
  }
  return Status::Ok();
}

// Reserves room for `count` elements, but no more than a bound: a count that passed
// check_count can still describe far more memory than the file's bytes (an 8-byte empty string
// becomes a 32-byte std::string), so beyond the bound the vector grows only as elements really
// arrive.
template <typename T>
void reserve_bounded(std::vector<T>& v, uint64_t count) {
  constexpr uint64_t kMaxReserve = 1 << 16;
  v.reserve(static_cast<size_t>(std::min(count, kMaxReserve)));
}

Result<GgufType> read_type(Cursor& c, std::string_view what) {
  const uint64_t at = c.pos();
  EMBER_ASSIGN_OR_RETURN(const uint32_t raw, c.read<uint32_t>(what));
  if (!gguf_detail::is_known_type(raw)) {
    return c.error_at(at, "unknown " + std::string(what) + " " + std::to_string(raw));
  }
  return static_cast<GgufType>(raw);
}

// Reads one integer-like scalar (integers and bool) as int64 (uint64 as its bit pattern).
Result<int64_t> read_int(Cursor& c, GgufType t) {
  const uint64_t at = c.pos();
  switch (t) {
    case GgufType::kU8: {
      EMBER_ASSIGN_OR_RETURN(const uint8_t v, c.read<uint8_t>("uint8"));
      return static_cast<int64_t>(v);
    }
    case GgufType::kI8: {
      EMBER_ASSIGN_OR_RETURN(const int8_t v, c.read<int8_t>("int8"));
      return static_cast<int64_t>(v);
    }
    case GgufType::kBool: {
      EMBER_ASSIGN_OR_RETURN(const uint8_t v, c.read<uint8_t>("bool"));
      if (v > 1) return c.error_at(at, "bool value " + std::to_string(v) + " is not 0 or 1");
      return static_cast<int64_t>(v);
    }
    case GgufType::kU16: {
      EMBER_ASSIGN_OR_RETURN(const uint16_t v, c.read<uint16_t>("uint16"));
      return static_cast<int64_t>(v);
    }
    case GgufType::kI16: {
      EMBER_ASSIGN_OR_RETURN(const int16_t v, c.read<int16_t>("int16"));
      return static_cast<int64_t>(v);
    }
    case GgufType::kU32: {
      EMBER_ASSIGN_OR_RETURN(const uint32_t v, c.read<uint32_t>("uint32"));
      return static_cast<int64_t>(v);
    }
    case GgufType::kI32: {
      EMBER_ASSIGN_OR_RETURN(const int32_t v, c.read<int32_t>("int32"));
      return static_cast<int64_t>(v);
    }
    case GgufType::kU64: {
      EMBER_ASSIGN_OR_RETURN(const uint64_t v, c.read<uint64_t>("uint64"));
      return static_cast<int64_t>(v);
    }
    case GgufType::kI64: {
      EMBER_ASSIGN_OR_RETURN(const int64_t v, c.read<int64_t>("int64"));
      return v;
    }
    default:
      return c.error_at(at, "internal: not an integer type");
  }
}

Result<double> read_float(Cursor& c, GgufType t) {
  if (t == GgufType::kF32) {
    EMBER_ASSIGN_OR_RETURN(const float v, c.read<float>("float32"));
    return static_cast<double>(v);
  }
  EMBER_ASSIGN_OR_RETURN(const double v, c.read<double>("float64"));
  return v;
}

Result<GgufValue> read_value(Cursor& c, GgufType t, int depth);

Result<GgufValue> read_array(Cursor& c, int depth) {
  const uint64_t at = c.pos();
  if (depth >= gguf_detail::kMaxArrayDepth) {
    return c.error_at(at, "arrays nested more than " + std::to_string(gguf_detail::kMaxArrayDepth) +
                              " levels deep");
  }
  EMBER_ASSIGN_OR_RETURN(const GgufType elem, read_type(c, "array element type"));
  const uint64_t count_at = c.pos();
  EMBER_ASSIGN_OR_RETURN(const uint64_t count, c.read<uint64_t>("array length"));
  EMBER_RETURN_IF_ERROR(check_count(c, count_at, count, min_encoded_size(elem), "array length"));
  const auto n = static_cast<size_t>(count);
  switch (elem) {
    case GgufType::kString: {
      std::vector<std::string> v;
      reserve_bounded(v, n);
      for (size_t i = 0; i < n; ++i) {
        EMBER_ASSIGN_OR_RETURN(std::string s, c.read_string("string"));
        v.push_back(std::move(s));
      }
      return GgufValue::string_array(std::move(v));
    }
    case GgufType::kArray: {
      std::vector<GgufValue> v;
      reserve_bounded(v, n);
      for (size_t i = 0; i < n; ++i) {
        EMBER_ASSIGN_OR_RETURN(GgufValue inner, read_array(c, depth + 1));
        v.push_back(std::move(inner));
      }
      return GgufValue::array_of_arrays(std::move(v));
    }
    case GgufType::kF32:
    case GgufType::kF64: {
      std::vector<double> v;
      reserve_bounded(v, n);
      for (size_t i = 0; i < n; ++i) {
        EMBER_ASSIGN_OR_RETURN(const double x, read_float(c, elem));
        v.push_back(x);
      }
      return GgufValue::float_array(elem, std::move(v));
    }
    default: {
      std::vector<int64_t> v;
      reserve_bounded(v, n);
      for (size_t i = 0; i < n; ++i) {
        EMBER_ASSIGN_OR_RETURN(const int64_t x, read_int(c, elem));
        v.push_back(x);
      }
      return GgufValue::int_array(elem, std::move(v));
    }
  }
}

Result<GgufValue> read_value(Cursor& c, GgufType t, int depth) {
  switch (t) {
    case GgufType::kString: {
      EMBER_ASSIGN_OR_RETURN(std::string s, c.read_string("string"));
      return GgufValue::string(std::move(s));
    }
    case GgufType::kArray:
      return read_array(c, depth);
    case GgufType::kF32: {
      EMBER_ASSIGN_OR_RETURN(const double v, read_float(c, t));
      return GgufValue::f32(static_cast<float>(v));
    }
    case GgufType::kF64: {
      EMBER_ASSIGN_OR_RETURN(const double v, read_float(c, t));
      return GgufValue::f64(v);
    }
    default:
      break;
  }
  EMBER_ASSIGN_OR_RETURN(const int64_t v, read_int(c, t));
  switch (t) {
    case GgufType::kU8:
      return GgufValue::u8(static_cast<uint8_t>(v));
    case GgufType::kI8:
      return GgufValue::i8(static_cast<int8_t>(v));
    case GgufType::kU16:
      return GgufValue::u16(static_cast<uint16_t>(v));
    case GgufType::kI16:
      return GgufValue::i16(static_cast<int16_t>(v));
    case GgufType::kU32:
      return GgufValue::u32(static_cast<uint32_t>(v));
    case GgufType::kI32:
      return GgufValue::i32(static_cast<int32_t>(v));
    case GgufType::kU64:
      return GgufValue::u64(static_cast<uint64_t>(v));
    case GgufType::kI64:
      return GgufValue::i64(v);
    default:
      return GgufValue::boolean(v != 0);
  }
}

// Smallest encoded tensor info: name length, n_dims, one dimension, type, offset.
constexpr uint64_t kMinTensorInfoSize = 8 + 4 + 8 + 4 + 8;
// Smallest encoded key/value: key length, value type, a one-byte value.
constexpr uint64_t kMinKvSize = 8 + 4 + 1;

struct RawTensor {
  GgufTensorInfo info;
  uint64_t info_offset = 0;  // where its tensor info starts, for error messages
};

Status read_tensor_info(Cursor& c, const std::unordered_set<std::string>& seen, uint64_t alignment,
                        RawTensor* out) {
  const uint64_t at = c.pos();
  out->info_offset = at;
  GgufTensorInfo& t = out->info;
  EMBER_ASSIGN_OR_RETURN(t.name, c.read_string("tensor name"));
  if (t.name.empty()) return c.error_at(at, "empty tensor name");
  if (!is_valid_utf8(t.name)) return c.error_at(at, "tensor name is not valid UTF-8");
  if (seen.count(t.name) != 0) return c.error_at(at, "duplicate tensor name '" + t.name + "'");
  const std::string ctx = "tensor '" + t.name + "': ";

  const uint64_t dims_at = c.pos();
  EMBER_ASSIGN_OR_RETURN(const uint32_t n_dims, c.read<uint32_t>("n_dims"));
  if (n_dims < 1 || n_dims > gguf_detail::kMaxDims) {
    return c.error_at(dims_at, ctx + "n_dims " + std::to_string(n_dims) + " is not between 1 and " +
                                   std::to_string(gguf_detail::kMaxDims));
  }
  int64_t n_elements = 1;
  for (uint32_t i = 0; i < n_dims; ++i) {
    const uint64_t d_at = c.pos();
    EMBER_ASSIGN_OR_RETURN(const uint64_t d, c.read<uint64_t>("dimension"));
    if (d == 0 || d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return c.error_at(d_at, ctx + "dimension " + std::to_string(i) + " is " + std::to_string(d) +
                                  " (must be between 1 and 2^63-1)");
    }
    const auto di = static_cast<int64_t>(d);
    if (n_elements > std::numeric_limits<int64_t>::max() / di) {
      return c.error_at(d_at, ctx + "element count overflows int64");
    }
    n_elements *= di;
    t.shape.push_back(di);
  }
  t.n_elements = n_elements;

  const uint64_t type_at = c.pos();
  EMBER_ASSIGN_OR_RETURN(const uint32_t raw_type, c.read<uint32_t>("tensor type"));
  const TensorTypeTraits* traits = tensor_type_traits(raw_type);
  if (traits == nullptr) {
    return c.error_at(type_at, ctx + "unknown tensor type " + std::to_string(raw_type));
  }
  t.type = traits->type;
  if (t.shape[0] % traits->block_size != 0) {
    return c.error_at(dims_at, ctx + "row length " + std::to_string(t.shape[0]) +
                                   " is not a multiple of " + std::string(traits->name) +
                                   "'s block size " + std::to_string(traits->block_size));
  }
  // Bytes = blocks per row * block bytes * rows, each step checked for overflow.
  const uint64_t blocks = static_cast<uint64_t>(n_elements / traits->block_size);
  if (blocks > std::numeric_limits<uint64_t>::max() / traits->type_size) {
    return c.error_at(dims_at, ctx + "byte size overflows");
  }
  t.n_bytes = blocks * traits->type_size;

  const uint64_t off_at = c.pos();
  EMBER_ASSIGN_OR_RETURN(t.offset, c.read<uint64_t>("tensor offset"));
  if (t.offset % alignment != 0) {
    return c.error_at(off_at, ctx + "data offset " + std::to_string(t.offset) +
                                  " is not a multiple of the alignment " +
                                  std::to_string(alignment));
  }
  return Status::Ok();
}

Result<uint64_t> read_alignment(const std::vector<std::pair<std::string, GgufValue>>& kvs) {
  for (const auto& [key, value] : kvs) {
    if (key != gguf_detail::kAlignmentKey) continue;
    if (value.type() != GgufType::kU32) {
      return data_loss("gguf: general.alignment has type " + gguf_type_name(value.type()) +
                       ", expected uint32");
    }
    const uint64_t a = *value.as_uint();
    if (!is_power_of_two(a)) {
      return data_loss("gguf: general.alignment " + std::to_string(a) +
                       " is not a non-zero power of two");
    }
    return a;
  }
  return uint64_t{gguf_detail::kDefaultAlignment};
}

}  // namespace

Status GgufParser::parse(std::span<const uint8_t> bytes, uint32_t file_index, GgufFile* out) {
  // Sizes are validated before allocating, so this only fires when a (valid) file is larger
  // than memory allows; it must still come back as an error rather than an exception.
  try {
    return parse_unchecked(bytes, file_index, out);
  } catch (const std::bad_alloc&) {
    return resource_exhausted("gguf: out of memory while parsing the header");
  }
}

Status GgufParser::parse_unchecked(std::span<const uint8_t> bytes, uint32_t file_index,
                                   GgufFile* out) {
  Cursor c(bytes);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0) {
    if (bytes.size() < 4) {
      return data_loss("gguf: file is " + std::to_string(bytes.size()) +
                       " bytes, too small to be GGUF");
    }
    return data_loss("gguf: at offset 0: bad magic (not a GGUF file)");
  }
  EMBER_ASSIGN_OR_RETURN(const uint32_t magic, c.read<uint32_t>("magic"));
  (void)magic;
  EMBER_ASSIGN_OR_RETURN(const uint32_t version, c.read<uint32_t>("version"));
  if (version == 1) return unimplemented("gguf: GGUF version 1 is not supported");
  if (version != 2 && version != 3) {
    // A big-endian writer stores small versions byte-swapped, e.g. 3 as 0x03000000.
    const uint32_t swapped = __builtin_bswap32(version);
    if (swapped >= 1 && swapped <= 3) {
      return unimplemented("gguf: big-endian GGUF is not supported");
    }
    return unimplemented("gguf: GGUF version " + std::to_string(version) +
                         " is not supported (expected 2 or 3)");
  }
  const uint64_t counts_at = c.pos();
  EMBER_ASSIGN_OR_RETURN(const uint64_t n_tensors, c.read<uint64_t>("tensor count"));
  EMBER_ASSIGN_OR_RETURN(const uint64_t n_kv, c.read<uint64_t>("metadata count"));
  EMBER_RETURN_IF_ERROR(check_count(c, counts_at, n_tensors, kMinTensorInfoSize, "tensor count"));
  EMBER_RETURN_IF_ERROR(check_count(c, counts_at + 8, n_kv, kMinKvSize, "metadata count"));
  if (n_tensors * kMinTensorInfoSize + n_kv * kMinKvSize > c.remaining()) {
    return c.error_at(counts_at, "tensor count " + std::to_string(n_tensors) +
                                     " and metadata count " + std::to_string(n_kv) +
                                     " need more than the remaining " +
                                     std::to_string(c.remaining()) + " bytes");
  }

  std::vector<std::pair<std::string, GgufValue>> kvs;
  reserve_bounded(kvs, n_kv);
  std::unordered_set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t at = c.pos();
    EMBER_ASSIGN_OR_RETURN(std::string key, c.read_string("key"));
    if (key.empty()) return c.error_at(at, "empty metadata key");
    if (!is_valid_utf8(key)) return c.error_at(at, "metadata key is not valid UTF-8");
    if (keys.count(key) != 0) return c.error_at(at, "duplicate metadata key '" + key + "'");
    EMBER_ASSIGN_OR_RETURN(const GgufType type, read_type(c, "value type"));
    Result<GgufValue> value = read_value(c, type, 0);
    if (!value.ok()) return value.status().with_context("key '" + key + "'");
    keys.insert(key);
    kvs.emplace_back(std::move(key), std::move(value).value());
  }
  EMBER_ASSIGN_OR_RETURN(const uint64_t alignment, read_alignment(kvs));

  std::vector<RawTensor> raw;
  reserve_bounded(raw, n_tensors);
  std::unordered_set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    RawTensor t;
    EMBER_RETURN_IF_ERROR(read_tensor_info(c, names, alignment, &t));
    names.insert(t.info.name);
    raw.push_back(std::move(t));
  }

  // The data section starts at the end of the header rounded up to the alignment. Files without
  // tensors (vocab-only files) may end before that point.
  const uint64_t header_end = c.pos();
  const uint64_t data_start = (header_end + alignment - 1) / alignment * alignment;
  const uint64_t size = bytes.size();
  if (!raw.empty() && data_start > size) {
    return data_loss("gguf: data section would start at offset " + std::to_string(data_start) +
                     ", past the end of the file (" + std::to_string(size) + " bytes)");
  }
  const uint64_t data_size = data_start <= size ? size - data_start : 0;
  for (RawTensor& t : raw) {
    const GgufTensorInfo& i = t.info;
    if (i.offset > data_size || i.n_bytes > data_size - i.offset) {
      return c.error_at(t.info_offset,
                        "tensor '" + i.name + "': data at offset " + std::to_string(i.offset) +
                            " of " + std::to_string(i.n_bytes) +
                            " bytes extends past the end of the file (data section is " +
                            std::to_string(data_size) + " bytes)");
    }
    t.info.data = bytes.data() + data_start + i.offset;
    t.info.file_index = file_index;
  }
  std::vector<const RawTensor*> by_offset;
  by_offset.reserve(raw.size());
  for (const RawTensor& t : raw) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const RawTensor* a, const RawTensor* b) { return a->info.offset < b->info.offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo& prev = by_offset[k - 1]->info;
    const GgufTensorInfo& cur = by_offset[k]->info;
    if (prev.offset + prev.n_bytes > cur.offset) {
      return c.error_at(by_offset[k]->info_offset,
                        "tensor '" + cur.name + "' overlaps tensor '" + prev.name + "'");
    }
  }

  out->version_ = version;
  out->alignment_ = alignment;
  out->file_size_ = size;
  out->metadata_ = std::move(kvs);
  out->tensors_.clear();
  out->tensors_.reserve(raw.size());
  for (RawTensor& t : raw) out->tensors_.push_back(std::move(t.info));
  return Status::Ok();
}

}  // namespace ember
