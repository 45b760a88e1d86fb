// GgufWriter: serializes metadata and tensors as GGUF v3, streaming tensor data to a sink.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <unordered_set>

#include <fcntl.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "gguf/gguf_util.h"

namespace ember {

using gguf_detail::is_power_of_two;

struct GgufWriter::PendingTensor {
  std::string name;
  TensorType type;
  std::vector<int64_t> shape;
  uint64_t n_bytes = 0;
  std::vector<uint8_t> data;  // used when `producer` is empty
  TensorProducer producer;
};

namespace {

constexpr uint32_t kVersion = 3;

// Appends little-endian encodings to a byte buffer (the header is built in memory; it is small
// next to the tensor data, which is streamed).
class Encoder {
 public:
  std::vector<uint8_t>& bytes() { return out_; }

  template <typename T>
  void put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.insert(out_.end(), b, b + sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }

 private:
  std::vector<uint8_t> out_;
};

Status put_int(Encoder& e, GgufType t, int64_t v) {
  if (!gguf_detail::int_fits(t, v)) {
    return invalid_argument("value " + std::to_string(v) + " does not fit " + gguf_type_name(t));
  }
  switch (t) {
    case GgufType::kU8:
    case GgufType::kBool:
      e.put(static_cast<uint8_t>(v));
      break;
    case GgufType::kI8:
      e.put(static_cast<int8_t>(v));
      break;
    case GgufType::kU16:
      e.put(static_cast<uint16_t>(v));
      break;
    case GgufType::kI16:
      e.put(static_cast<int16_t>(v));
      break;
    case GgufType::kU32:
      e.put(static_cast<uint32_t>(v));
      break;
    case GgufType::kI32:
      e.put(static_cast<int32_t>(v));
      break;
    case GgufType::kU64:
      e.put(static_cast<uint64_t>(v));
      break;
    case GgufType::kI64:
      e.put(v);
      break;
    default:
      return invalid_argument(gguf_type_name(t) + " is not an integer type");
  }
  return Status::Ok();
}

Status put_array(Encoder& e, const GgufValue& v, int depth);

// Encodes the value without its type id (the caller writes that).
Status put_value(Encoder& e, const GgufValue& v, int depth) {
  const GgufType t = v.type();
  switch (t) {
    case GgufType::kString:
      e.put_string(*v.as_string());
      return Status::Ok();
    case GgufType::kArray:
      return put_array(e, v, depth);
    case GgufType::kF32:
      e.put(static_cast<float>(*v.as_float()));
      return Status::Ok();
    case GgufType::kF64:
      e.put(*v.as_float());
      return Status::Ok();
    case GgufType::kBool:
      e.put<uint8_t>(*v.as_bool() ? 1 : 0);
      return Status::Ok();
    case GgufType::kU64:
      return put_int(e, t, static_cast<int64_t>(*v.as_uint()));
    default: {
      if (!gguf_detail::is_known_type(static_cast<uint32_t>(t))) {
        return invalid_argument("unknown value type " + std::to_string(static_cast<uint32_t>(t)));
      }
      EMBER_ASSIGN_OR_RETURN(const int64_t x, v.as_int());
      return put_int(e, t, x);
    }
  }
}

Status put_array(Encoder& e, const GgufValue& v, int depth) {
  if (depth >= gguf_detail::kMaxArrayDepth) {
    return invalid_argument("arrays nested more than " +
                            std::to_string(gguf_detail::kMaxArrayDepth) + " levels deep");
  }
  const GgufType elem = v.array_type();
  if (!gguf_detail::is_known_type(static_cast<uint32_t>(elem))) {
    return invalid_argument("unknown array element type " +
                            std::to_string(static_cast<uint32_t>(elem)));
  }
  e.put(static_cast<uint32_t>(elem));
  e.put<uint64_t>(v.array_size());
  switch (elem) {
    case GgufType::kString: {
      // Bind each accessor's Result to a local: ranging over `*temporary()` would dangle.
      EMBER_ASSIGN_OR_RETURN(const auto strings, v.as_string_array());
      for (const std::string& s : strings) e.put_string(s);
      return Status::Ok();
    }
    case GgufType::kArray: {
      EMBER_ASSIGN_OR_RETURN(const auto arrays, v.as_array_array());
      for (const GgufValue& inner : arrays) {
        if (!inner.is_array()) {
          return invalid_argument("array of arrays holds a " + gguf_type_name(inner.type()));
        }
        EMBER_RETURN_IF_ERROR(put_array(e, inner, depth + 1));
      }
      return Status::Ok();
    }
    case GgufType::kF32:
    case GgufType::kF64: {
      EMBER_ASSIGN_OR_RETURN(const auto floats, v.as_float_array());
      for (double x : floats) {
        if (elem == GgufType::kF32) {
          e.put(static_cast<float>(x));
        } else {
          e.put(x);
        }
      }
      return Status::Ok();
    }
    default: {
      EMBER_ASSIGN_OR_RETURN(const auto ints, v.as_int_array());
      for (int64_t x : ints) EMBER_RETURN_IF_ERROR(put_int(e, elem, x));
      return Status::Ok();
    }
  }
}

uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}

Status check_shape(const std::string& name, TensorType type, const std::vector<int64_t>& shape,
                   uint64_t* n_bytes) {
  if (shape.empty() || shape.size() > gguf_detail::kMaxDims) {
    return invalid_argument("tensor '" + name + "': " + std::to_string(shape.size()) +
                            " dimensions (must be 1 to 4)");
  }
  int64_t rows = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] <= 0) {
      return invalid_argument("tensor '" + name + "': dimension " + std::to_string(i) + " is " +
                              std::to_string(shape[i]) + " (must be positive)");
    }
    if (i > 0) {
      if (rows > std::numeric_limits<int64_t>::max() / shape[i]) {
        return invalid_argument("tensor '" + name + "': element count overflows");
      }
      rows *= shape[i];
    }
  }
  if (shape[0] > std::numeric_limits<int64_t>::max() / rows) {
    return invalid_argument("tensor '" + name + "': element count overflows");
  }
  Result<size_t> row = tensor_row_size(type, shape[0]);
  if (!row.ok()) return row.status().with_context("tensor '" + name + "'");
  if (*row != 0 && static_cast<uint64_t>(rows) > std::numeric_limits<uint64_t>::max() / *row) {
    return invalid_argument("tensor '" + name + "': byte size overflows");
  }
  *n_bytes = static_cast<uint64_t>(*row) * static_cast<uint64_t>(rows);
  return Status::Ok();
}

}  // namespace

GgufWriter::GgufWriter() = default;
GgufWriter::~GgufWriter() = default;
GgufWriter::GgufWriter(GgufWriter&&) noexcept = default;
GgufWriter& GgufWriter::operator=(GgufWriter&&) noexcept = default;

Status GgufWriter::set_alignment(uint32_t alignment) {
  if (!is_power_of_two(alignment)) {
    return invalid_argument("alignment " + std::to_string(alignment) +
                            " is not a non-zero power of two");
  }
  alignment_ = alignment;
  // Keep an explicit general.alignment entry in step with the setting.
  for (auto& [k, v] : metadata_) {
    if (k == gguf_detail::kAlignmentKey) v = GgufValue::u32(alignment);
  }
  return Status::Ok();
}

void GgufWriter::set(std::string key, GgufValue value) {
  // Copying a file's metadata (which may carry general.alignment) should keep its alignment.
  if (key == gguf_detail::kAlignmentKey && value.type() == GgufType::kU32 &&
      is_power_of_two(*value.as_uint())) {
    alignment_ = static_cast<uint32_t>(*value.as_uint());
  }
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::remove(std::string_view key) {
  for (auto it = metadata_.begin(); it != metadata_.end(); ++it) {
    if (it->first == key) {
      metadata_.erase(it);
      return;
    }
  }
}

Status GgufWriter::add_pending(PendingTensor t) {
  if (t.name.empty()) return invalid_argument("tensor name is empty");
  if (!gguf_detail::is_valid_utf8(t.name)) {
    return invalid_argument("tensor name '" + t.name + "' is not valid UTF-8");
  }
  for (const PendingTensor& other : tensors_) {
    if (other.name == t.name) return invalid_argument("duplicate tensor name '" + t.name + "'");
  }
  EMBER_RETURN_IF_ERROR(check_shape(t.name, t.type, t.shape, &t.n_bytes));
  tensors_.push_back(std::move(t));
  return Status::Ok();
}

Status GgufWriter::add_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                              std::span<const uint8_t> data) {
  PendingTensor t{std::move(name), type, std::move(shape), 0, {}, {}};
  uint64_t n_bytes = 0;
  EMBER_RETURN_IF_ERROR(check_shape(t.name, type, t.shape, &n_bytes));
  if (data.size() != n_bytes) {
    return invalid_argument("tensor '" + t.name + "': " + std::to_string(data.size()) +
                            " bytes given, its shape and type need " + std::to_string(n_bytes));
  }
  t.data.assign(data.begin(), data.end());
  return add_pending(std::move(t));
}

Status GgufWriter::add_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                              TensorProducer producer) {
  if (!producer) return invalid_argument("tensor '" + name + "': empty producer");
  return add_pending(
      PendingTensor{std::move(name), type, std::move(shape), 0, {}, std::move(producer)});
}

Status GgufWriter::write_to(const std::function<Status(std::span<const uint8_t>)>& sink) const {
  // Resolve general.alignment: an explicit entry must agree with the setting; otherwise one is
  // added when the alignment is not the default (readers assume 32 without it).
  bool has_alignment_key = false;
  for (const auto& [k, v] : metadata_) {
    if (k != gguf_detail::kAlignmentKey) continue;
    has_alignment_key = true;
    if (v.type() != GgufType::kU32 || *v.as_uint() != alignment_) {
      return invalid_argument("general.alignment is " + v.summary() + " (" +
                              gguf_type_name(v.type()) + "), expected uint32 " +
                              std::to_string(alignment_));
    }
  }
  const bool add_alignment_key = !has_alignment_key && alignment_ != gguf_detail::kDefaultAlignment;

  Encoder e;
  e.put<uint32_t>(0x46554747);  // "GGUF" read as a little-endian u32
  e.put<uint32_t>(kVersion);
  e.put<uint64_t>(tensors_.size());
  e.put<uint64_t>(metadata_.size() + (add_alignment_key ? 1 : 0));
  for (const auto& [k, v] : metadata_) {
    if (k.empty() || !gguf_detail::is_valid_utf8(k)) {
      return invalid_argument("metadata key '" + k + "' is empty or not valid UTF-8");
    }
    e.put_string(k);
    e.put(static_cast<uint32_t>(v.type()));
    Status s = put_value(e, v, 0);
    if (!s.ok()) return s.with_context("key '" + k + "'");
  }
  if (add_alignment_key) {
    e.put_string(gguf_detail::kAlignmentKey);
    e.put(static_cast<uint32_t>(GgufType::kU32));
    e.put<uint32_t>(alignment_);
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    e.put_string(t.name);
    e.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) e.put<uint64_t>(static_cast<uint64_t>(d));
    e.put(static_cast<uint32_t>(t.type));
    e.put<uint64_t>(offset);
    offset = align_up(offset + t.n_bytes, alignment_);
  }
  std::vector<uint8_t>& header = e.bytes();
  header.resize(align_up(header.size(), alignment_), 0);
  EMBER_RETURN_IF_ERROR(sink(header));

  // Each tensor is followed by zero padding up to the next aligned offset, like llama.cpp does.
  const std::vector<uint8_t> zeros(alignment_, 0);
  std::vector<uint8_t> buffer;
  for (const PendingTensor& t : tensors_) {
    std::span<const uint8_t> bytes = t.data;
    if (t.producer) {
      try {
        buffer.assign(static_cast<size_t>(t.n_bytes), 0);
      } catch (const std::bad_alloc&) {
        return resource_exhausted("tensor '" + t.name + "': cannot allocate " +
                                  std::to_string(t.n_bytes) + " bytes");
      }
      Status s = t.producer(buffer);
      if (!s.ok()) return s.with_context("tensor '" + t.name + "'");
      bytes = buffer;
    }
    EMBER_RETURN_IF_ERROR(sink(bytes));
    const uint64_t pad = align_up(t.n_bytes, alignment_) - t.n_bytes;
    if (pad != 0) EMBER_RETURN_IF_ERROR(sink(std::span<const uint8_t>(zeros.data(), pad)));
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> GgufWriter::write_to_memory() const {
  std::vector<uint8_t> out;
  EMBER_RETURN_IF_ERROR(write_to([&out](std::span<const uint8_t> b) {
    out.insert(out.end(), b.begin(), b.end());
    return Status::Ok();
  }));
  return out;
}

Status GgufWriter::write_file(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create '" + tmp + "': " + std::strerror(errno));
  Status s = write_to([&](std::span<const uint8_t> b) -> Status {
    size_t done = 0;
    while (done < b.size()) {
      const ssize_t n = ::write(fd, b.data() + done, b.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot write '" + tmp + "': " + std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  });
  if (::close(fd) != 0 && s.ok()) {
    s = io_error("cannot close '" + tmp + "': " + std::strerror(errno));
  }
  if (s.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    s = io_error("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
  }
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

}  // namespace ember
