// GGUF files: reading (validated, memory-mapped, zero-copy) and writing.
//
// Layout (little-endian): magic "GGUF", version (u32, 2 or 3), tensor count (u64), metadata
// count (u64), metadata key/value pairs, tensor infos (name, n_dims, dims[n_dims] with the row
// length first, type, offset), padding to `general.alignment` (default 32), then the data
// section. Tensor offsets are relative to the data section start and aligned.
//
// Every count, length and offset read from a file is checked against the bytes that remain
// before anything is allocated, so a hostile file yields an error naming the problem and the
// byte offset, never a crash or a huge allocation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/status.h"
#include "tensor/tensor_type.h"

namespace ember {

// Metadata value types; values are the ids stored in the file.
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// "uint32", "string", "array", ...; "type N" for unknown ids.
std::string gguf_type_name(GgufType type);

// One metadata value: a scalar of one of the 12 scalar types, a string, or an array whose
// elements all have one type (arrays of arrays are allowed by the format and supported).
class GgufValue {
 public:
  GgufValue();  // uint8 0

  static GgufValue u8(uint8_t v);
  static GgufValue i8(int8_t v);
  static GgufValue u16(uint16_t v);
  static GgufValue i16(int16_t v);
  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue u64(uint64_t v);
  static GgufValue i64(int64_t v);
  static GgufValue f32(float v);
  static GgufValue f64(double v);
  static GgufValue boolean(bool v);
  static GgufValue string(std::string v);
  // Arrays of one scalar type; `element_type` must be an integer type or bool.
  static GgufValue int_array(GgufType element_type, std::vector<int64_t> values);
  static GgufValue float_array(GgufType element_type, std::vector<double> values);  // f32/f64
  static GgufValue string_array(std::vector<std::string> values);
  static GgufValue array_of_arrays(std::vector<GgufValue> values);  // each must be an array

  GgufType type() const { return type_; }
  GgufType array_type() const { return element_type_; }  // only meaningful for arrays
  bool is_array() const { return type_ == GgufType::kArray; }
  bool is_integer() const;  // any of the 8 integer types
  size_t array_size() const;

  // Scalar accessors. Each returns an error naming both types on a mismatch; integer getters
  // accept any integer type whose value fits (e.g. a uint8 read as uint64).
  Result<uint64_t> as_uint() const;
  Result<int64_t> as_int() const;
  Result<double> as_float() const;  // f32 or f64
  Result<bool> as_bool() const;
  Result<std::string_view> as_string() const;

  // Array accessors (errors when not an array of a matching element type).
  Result<std::span<const std::string>> as_string_array() const;
  // Integer or bool elements; uint64 elements come back as their two's-complement bit pattern
  // (cast to uint64_t to recover values above INT64_MAX).
  Result<std::span<const int64_t>> as_int_array() const;
  Result<std::span<const double>> as_float_array() const;  // f32/f64 elements
  Result<std::span<const GgufValue>> as_array_array() const;

  // Short human-readable rendering, e.g. `4096`, `"llama"`, `[string x 32000]`.
  std::string summary() const;

  bool operator==(const GgufValue& other) const;

 private:
  GgufType type_ = GgufType::kU8;
  GgufType element_type_ = GgufType::kU8;
  uint64_t bits_ = 0;  // integer/bool/float scalars (floats stored as double bits)
  std::string str_;
  std::vector<int64_t> ints_;
  std::vector<double> floats_;
  std::vector<std::string> strings_;
  std::vector<GgufValue> arrays_;
};

struct GgufTensorInfo {
  std::string name;
  TensorType type = TensorType::kF32;
  std::vector<int64_t> shape;  // shape[0] is the row length (ggml's ne[0]); 1 to 4 dims
  int64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t offset = 0;         // relative to the data section of the file it lives in
  uint32_t file_index = 0;     // which split file holds it (0 for single-file models)
  const uint8_t* data = nullptr;  // the tensor's bytes (into the map or the in-memory buffer)

  int64_t n_rows() const { return shape.empty() ? 0 : n_elements / shape[0]; }
};

struct GgufReadOptions {
  bool use_mmap = true;       // false: read the whole file into memory instead of mapping it
  bool load_all_splits = true;  // for "name-00001-of-0000N.gguf", open every part as one model
};

// A parsed, validated GGUF file (or a set of split files presented as one). Movable, not copyable;
// tensor data pointers stay valid for the object's lifetime.
class GgufFile {
 public:
  GgufFile();
  ~GgufFile();
  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  static Result<GgufFile> open(const std::string& path, const GgufReadOptions& options = {});
  // Parses bytes already in memory; the bytes are copied into the returned object.
  static Result<GgufFile> from_bytes(std::span<const uint8_t> bytes);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint32_t n_files() const { return static_cast<uint32_t>(storage_.size()); }
  // Total bytes of the file(s).
  uint64_t file_size() const { return file_size_; }

  // Metadata in file order (of the first split).
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;

  // Typed getters: kNotFound when the key is absent, kInvalidArgument (naming the key, the
  // stored type and the wanted type) when the type does not match.
  Result<std::string> get_string(std::string_view key) const;
  Result<uint64_t> get_uint(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  std::span<const uint8_t> tensor_data(const GgufTensorInfo& t) const {
    return {t.data, static_cast<size_t>(t.n_bytes)};
  }

  struct Storage;  // one mapped or loaded file (implementation detail)

 private:
  friend class GgufParser;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t file_size_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::vector<std::unique_ptr<Storage>> storage_;
};

// Builds a GGUF file: metadata in insertion order, then tensors in insertion order, each at an
// aligned offset. Tensor bytes are given up front or produced on demand while writing, so a
// multi-gigabyte model can be written without holding it in memory.
class GgufWriter {
 public:
  // Fills `dst` (exactly the tensor's byte size) with the tensor's data.
  using TensorProducer = std::function<Status(std::span<uint8_t> dst)>;

  GgufWriter();
  ~GgufWriter();
  GgufWriter(GgufWriter&&) noexcept;
  GgufWriter& operator=(GgufWriter&&) noexcept;
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Default 32; must be a power of two (stored as `general.alignment` when not 32).
  Status set_alignment(uint32_t alignment);
  uint32_t alignment() const { return alignment_; }

  // Adds or replaces a key (a replaced key keeps its position). Setting `general.alignment` to a
  // uint32 power of two also sets the alignment, so copying a file's metadata keeps its layout.
  void set(std::string key, GgufValue value);
  void remove(std::string_view key);
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }

  // Adds a tensor whose bytes are copied now. Errors: duplicate name, bad shape, wrong size.
  Status add_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                    std::span<const uint8_t> data);
  // Adds a tensor whose bytes are produced while writing.
  Status add_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                    TensorProducer producer);

  // Writes to `path` (via a temporary file renamed into place on success).
  Status write_file(const std::string& path) const;
  Result<std::vector<uint8_t>> write_to_memory() const;

 private:
  struct PendingTensor;
  Status add_pending(PendingTensor t);
  Status write_to(const std::function<Status(std::span<const uint8_t>)>& sink) const;

  uint32_t alignment_ = 32;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace ember
