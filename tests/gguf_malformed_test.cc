// Malformed GGUF input: every broken field must give a descriptive error, never a crash.
//
// Files are assembled by hand with a tiny byte builder so each field's offset is known and can
// be patched; a writer-made file is used for the truncation sweep.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "gguf/gguf.h"

namespace ember {
namespace {

constexpr uint64_t kHuge = uint64_t{1} << 40;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

class Bytes {
 public:
  template <typename T>
  size_t put(T v) {
    const size_t at = b_.size();
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    b_.insert(b_.end(), raw, raw + sizeof(T));
    return at;
  }
  size_t str(std::string_view s) {
    const size_t at = put<uint64_t>(s.size());
    b_.insert(b_.end(), s.begin(), s.end());
    return at;
  }
  void append(const std::vector<uint8_t>& v) { b_.insert(b_.end(), v.begin(), v.end()); }
  void pad_to(size_t alignment) {
    while (b_.size() % alignment != 0) b_.push_back(0);
  }
  size_t size() const { return b_.size(); }
  std::vector<uint8_t>& bytes() { return b_; }

 private:
  std::vector<uint8_t> b_;
};

template <typename T>
void patch(std::vector<uint8_t>& b, size_t at, T v) {
  ASSERT_LE(at + sizeof(T), b.size());
  std::memcpy(b.data() + at, &v, sizeof(T));
}

// One metadata entry: key, type id and the encoded value.
struct Kv {
  std::string key;
  uint32_t type;
  std::vector<uint8_t> value;
};

Kv kv_u32(std::string key, uint32_t v) {
  Bytes b;
  b.put(v);
  return {std::move(key), 4, b.bytes()};
}
Kv kv_u64(std::string key, uint64_t v) {
  Bytes b;
  b.put(v);
  return {std::move(key), 10, b.bytes()};
}
Kv kv_str(std::string key, std::string_view s) {
  Bytes b;
  b.str(s);
  return {std::move(key), 8, b.bytes()};
}
Kv kv_u32_array(std::string key, const std::vector<uint32_t>& v) {
  Bytes b;
  b.put<uint32_t>(4);
  b.put<uint64_t>(v.size());
  for (uint32_t x : v) b.put(x);
  return {std::move(key), 9, b.bytes()};
}
Kv kv_str_array(std::string key, const std::vector<std::string>& v) {
  Bytes b;
  b.put<uint32_t>(8);
  b.put<uint64_t>(v.size());
  for (const auto& s : v) b.str(s);
  return {std::move(key), 9, b.bytes()};
}
// `levels` arrays nested inside each other, the innermost holding one u8.
Kv kv_nested(std::string key, int levels) {
  Bytes b;
  for (int i = 1; i < levels; ++i) {
    b.put<uint32_t>(9);
    b.put<uint64_t>(1);
  }
  b.put<uint32_t>(0);
  b.put<uint64_t>(1);
  b.put<uint8_t>(7);
  return {std::move(key), 9, b.bytes()};
}

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type;
  uint64_t offset;
};

// Where the interesting fields of a built file live.
struct Built {
  std::vector<uint8_t> bytes;
  size_t version_at = 4;
  size_t n_tensors_at = 8;
  size_t n_kv_at = 16;
  std::vector<size_t> kv_at;      // each key's length field
  std::vector<size_t> tensor_at;  // each tensor info's name length field
};

Built build(const std::vector<Kv>& kvs, const std::vector<TensorSpec>& tensors, size_t data_bytes,
            size_t alignment = 32) {
  Built out;
  Bytes b;
  b.put<uint32_t>(0x46554747);
  b.put<uint32_t>(3);
  b.put<uint64_t>(tensors.size());
  b.put<uint64_t>(kvs.size());
  for (const Kv& kv : kvs) {
    out.kv_at.push_back(b.str(kv.key));
    b.put(kv.type);
    b.append(kv.value);
  }
  for (const TensorSpec& t : tensors) {
    out.tensor_at.push_back(b.str(t.name));
    b.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) b.put(d);
    b.put(t.type);
    b.put(t.offset);
  }
  b.pad_to(alignment);
  for (size_t i = 0; i < data_bytes; ++i) b.bytes().push_back(static_cast<uint8_t>(i * 7));
  out.bytes = std::move(b.bytes());
  return out;
}

std::vector<Kv> base_kvs() {
  return {kv_str("general.architecture", "llama"), kv_u32_array("test.u32s", {1, 2, 3}),
          kv_str_array("test.names", {"a", "bc"})};
}
std::vector<TensorSpec> base_tensors() {
  return {{"a", {8, 2}, 0, 0}, {"b", {32}, 2, 64}};  // f32 64 bytes, q4_0 18 bytes at 64
}
Built base() {
  return build(base_kvs(), base_tensors(), 96);
}

// Offsets inside the base file of the first kv's string length and the second kv's array length.
size_t string_len_at(const Built& b) {
  return b.kv_at[0] + 8 + 20 + 4;
}
size_t array_len_at(const Built& b) {
  return b.kv_at[1] + 8 + 9 + 4 + 4;
}
// Parses and expects an error whose message contains every one of `needles`.
void expect_error(const std::vector<uint8_t>& bytes, std::initializer_list<std::string> needles) {
  Result<GgufFile> f = GgufFile::from_bytes(bytes);
  ASSERT_FALSE(f.ok()) << "parsed successfully but should have failed";
  for (const std::string& n : needles) {
    EXPECT_NE(f.status().message().find(n), std::string::npos)
        << "message \"" << f.status().message() << "\" lacks \"" << n << "\"";
  }
}

TEST(GgufMalformed, BaseFileIsValid) {
  Built b = base();
  Result<GgufFile> f = GgufFile::from_bytes(b.bytes);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->tensors().size(), 2u);
  EXPECT_EQ(f->metadata().size(), 3u);
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->tensors()[1].n_bytes, 18u);
}

TEST(GgufMalformed, TruncationAtEveryOffset) {
  // Hand-built file: the last tensor ends 14 bytes before the end (padding), so only cuts
  // before its end must fail.
  Built b = base();
  const size_t data_end = b.bytes.size() - 96 + 64 + 18;
  for (size_t n = 0; n < data_end; ++n) {
    std::vector<uint8_t> cut(b.bytes.begin(), b.bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(GgufFile::from_bytes(cut).ok()) << "truncated to " << n;
  }
  // Writer-made file whose last tensor ends exactly at the end of the file.
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("a.b", GgufValue::float_array(GgufType::kF32, {1, 2}));
  w.set("a.c", GgufValue::array_of_arrays({GgufValue::string_array({"x", "yz"})}));
  w.set("a.d", GgufValue::u64(5));
  std::vector<uint8_t> data(64, 0xAB);
  ASSERT_TRUE(w.add_tensor("t0", TensorType::kF32, {4, 4}, data).ok());
  ASSERT_TRUE(w.add_tensor("t1", TensorType::kQ4_0, {32}, std::span(data).first(18)).ok());
  ASSERT_TRUE(w.add_tensor("t2", TensorType::kF16, {16}, std::span(data).first(32)).ok());
  Result<std::vector<uint8_t>> bytes = w.write_to_memory();
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(GgufFile::from_bytes(*bytes).ok());
  for (size_t n = 0; n < bytes->size(); ++n) {
    std::vector<uint8_t> cut(bytes->begin(), bytes->begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(GgufFile::from_bytes(cut).ok()) << "truncated to " << n;
  }
}

TEST(GgufMalformed, TensorCount) {
  Built b = base();
  {
    // Zero tensors: the tensor infos become unused bytes before the data section; still valid.
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, b.n_tensors_at, 0);
    Result<GgufFile> f = GgufFile::from_bytes(v);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_TRUE(f->tensors().empty());
  }
  {
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, b.n_tensors_at, 3);
    expect_error(v, {"offset"});
  }
  for (uint64_t n : {kHuge, kMax}) {
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, b.n_tensors_at, n);
    expect_error(v, {"tensor count " + std::to_string(n), "at offset 8"});
  }
}

TEST(GgufMalformed, MetadataCount) {
  Built b = base();
  {
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, b.n_kv_at, 0);  // the first key is then misread as a tensor info
    expect_error(v, {"offset"});
  }
  for (uint64_t n : {kHuge, kMax}) {
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, b.n_kv_at, n);
    expect_error(v, {"metadata count " + std::to_string(n)});
  }
}

TEST(GgufMalformed, StringLength) {
  Built b = base();
  const size_t at = string_len_at(b);
  {
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, at, 0);  // "llama" is then misread as the next key's length
    expect_error(v, {"offset"});
  }
  for (uint64_t n : {kHuge, kMax}) {
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, at, n);
    expect_error(v, {"string length " + std::to_string(n), "exceeds remaining",
                     "at offset " + std::to_string(at), "general.architecture"});
  }
  {
    // Key length too.
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, b.kv_at[0], kMax);
    expect_error(v, {"key length", "exceeds remaining"});
  }
}

TEST(GgufMalformed, ArrayLength) {
  Built b = base();
  const size_t at = array_len_at(b);
  {
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, at, 0);  // the three elements are then misread as the next key
    expect_error(v, {"offset"});
  }
  for (uint64_t n : {kHuge, kMax}) {
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, at, n);
    expect_error(v, {"array length " + std::to_string(n), "test.u32s"});
  }
  {
    // An array of strings whose count exceeds what the bytes can hold.
    std::vector<uint8_t> v = b.bytes;
    patch<uint64_t>(v, b.kv_at[2] + 8 + 10 + 4 + 4, kHuge);
    expect_error(v, {"array length"});
  }
  {
    // Empty arrays are fine.
    Built e = build({kv_u32_array("x", {}), kv_str_array("y", {})}, {}, 0);
    Result<GgufFile> f = GgufFile::from_bytes(e.bytes);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(f->find("x")->array_size(), 0u);
  }
}

TEST(GgufMalformed, Dimensions) {
  auto with_tensor = [](TensorSpec t) { return build(base_kvs(), {std::move(t)}, 64).bytes; };
  expect_error(with_tensor({"t", {}, 0, 0}), {"n_dims 0", "'t'"});
  expect_error(with_tensor({"t", {1, 1, 1, 1, 16}, 0, 0}), {"n_dims 5"});
  expect_error(with_tensor({"t", {16, 0}, 0, 0}), {"dimension 1 is 0"});
  expect_error(with_tensor({"t", {kMax}, 0, 0}), {"dimension 0 is " + std::to_string(kMax)});
  expect_error(with_tensor({"t", {uint64_t{1} << 63}, 0, 0}), {"dimension 0"});
  expect_error(with_tensor({"t", {uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0}),
               {"element count overflows"});
  expect_error(with_tensor({"t", {uint64_t{1} << 62}, 0, 0}), {"byte size overflows"});
  expect_error(with_tensor({"t", {16}, 2, 0}), {"block size 32"});  // q4_0 row of 16
  // A large but representable shape passes header checks and fails on the data bounds.
  expect_error(with_tensor({"t", {uint64_t{1} << 30, 4}, 0, 0}), {"past the end"});
  // Up to four dimensions are accepted.
  Result<GgufFile> ok = GgufFile::from_bytes(with_tensor({"t", {4, 2, 1, 2}, 0, 0}));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->tensors()[0].n_elements, 16);
}

TEST(GgufMalformed, TensorTypes) {
  auto with_type = [](uint32_t type) {
    return build(base_kvs(), {{"t", {256}, type, 0}}, 1024).bytes;
  };
  expect_error(with_type(99), {"unknown tensor type 99", "'t'"});
  expect_error(with_type(4), {"unknown tensor type 4"});  // a removed ggml type id
  // Known but unsupported types are accepted at parse time (so files can be inspected).
  Result<GgufFile> f = GgufFile::from_bytes(with_type(16));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->tensors()[0].type, TensorType::kIQ2_XXS);
  EXPECT_EQ(f->tensors()[0].n_bytes, 66u);
}

TEST(GgufMalformed, Offsets) {
  auto with_b_offset = [](uint64_t off) {
    std::vector<TensorSpec> t = base_tensors();
    t[1].offset = off;
    return build(base_kvs(), t, 96).bytes;
  };
  expect_error(with_b_offset(65), {"alignment", "65"});
  expect_error(with_b_offset(32), {"overlaps"});
  expect_error(with_b_offset(96), {"past the end"});
  expect_error(with_b_offset(uint64_t{1} << 63), {"past the end"});
  expect_error(with_b_offset(kMax - 31), {"past the end"});
  // Ordered differently in the file but disjoint: fine.
  Result<GgufFile> f =
      GgufFile::from_bytes(build(base_kvs(), {{"b", {32}, 2, 64}, {"a", {8, 2}, 0, 0}}, 96).bytes);
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  // Header padding missing: the data section would begin past the end.
  Built b = build(base_kvs(), base_tensors(), 0);
  std::vector<uint8_t> v(b.bytes.begin(), b.bytes.end() - 1);
  expect_error(v, {"past the end"});
}

TEST(GgufMalformed, Duplicates) {
  std::vector<Kv> kvs = base_kvs();
  kvs.push_back(kv_u32("test.u32s", 5));
  expect_error(build(kvs, base_tensors(), 96).bytes, {"duplicate metadata key 'test.u32s'"});
  std::vector<TensorSpec> t = base_tensors();
  t[1].name = "a";
  expect_error(build(base_kvs(), t, 96).bytes, {"duplicate tensor name 'a'"});
}

TEST(GgufMalformed, Alignment) {
  auto with_kv = [](Kv kv) {
    std::vector<Kv> kvs = base_kvs();
    kvs.push_back(std::move(kv));
    return build(kvs, base_tensors(), 96).bytes;
  };
  expect_error(with_kv(kv_str("general.alignment", "64")), {"general.alignment", "string"});
  expect_error(with_kv(kv_u64("general.alignment", 64)), {"general.alignment", "uint64"});
  expect_error(with_kv(kv_u32("general.alignment", 48)), {"alignment 48", "power of two"});
  expect_error(with_kv(kv_u32("general.alignment", 0)), {"alignment 0"});
  // A valid non-default alignment is honoured: offset 64 is fine at 64 but not at 128.
  Result<GgufFile> f = GgufFile::from_bytes(with_kv(kv_u32("general.alignment", 64)));
  ASSERT_FALSE(f.ok());  // the base file pads its header to 32 only, so data is cut short
  std::vector<Kv> kvs = base_kvs();
  kvs.push_back(kv_u32("general.alignment", 64));
  Result<GgufFile> g = GgufFile::from_bytes(build(kvs, base_tensors(), 128, 64).bytes);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->alignment(), 64u);
  kvs.back() = kv_u32("general.alignment", 128);
  expect_error(build(kvs, base_tensors(), 128, 128).bytes, {"alignment 128"});
}

TEST(GgufMalformed, Utf8) {
  for (std::string bad : {std::string("bad\xff"), std::string("\xc0\xaf"),
                          std::string("\xed\xa0\x80"), std::string("ab\xe2\x82")}) {
    std::vector<Kv> kvs = base_kvs();
    kvs.push_back(kv_u32(bad, 1));
    expect_error(build(kvs, base_tensors(), 96).bytes, {"UTF-8"});
    std::vector<TensorSpec> t = base_tensors();
    t[0].name = bad;
    expect_error(build(base_kvs(), t, 96).bytes, {"tensor name", "UTF-8"});
  }
  std::vector<Kv> kvs = base_kvs();
  kvs.push_back(kv_u32("", 1));
  expect_error(build(kvs, base_tensors(), 96).bytes, {"empty"});
  // Valid multi-byte keys are fine.
  kvs.back() = kv_u32("ключ.😀", 1);
  EXPECT_TRUE(GgufFile::from_bytes(build(kvs, base_tensors(), 96).bytes).ok());
}

TEST(GgufMalformed, HeaderFields) {
  Built b = base();
  {
    std::vector<uint8_t> v = b.bytes;
    const uint8_t be3[4] = {0, 0, 0, 3};
    std::memcpy(v.data() + 4, be3, 4);
    Result<GgufFile> f = GgufFile::from_bytes(v);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(f.status().message().find("big-endian GGUF is not supported"), std::string::npos);
  }
  {
    std::vector<uint8_t> v = b.bytes;
    patch<uint32_t>(v, b.version_at, 1);
    expect_error(v, {"GGUF version 1 is not supported"});
    patch<uint32_t>(v, b.version_at, 99);
    expect_error(v, {"version 99"});
    patch<uint32_t>(v, b.version_at, 0);
    expect_error(v, {"version 0"});
    patch<uint32_t>(v, b.version_at, 2);  // v2 has the same layout as v3
    Result<GgufFile> f = GgufFile::from_bytes(v);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->version(), 2u);
  }
  {
    std::vector<uint8_t> v = b.bytes;
    v[0] = 'X';
    expect_error(v, {"magic"});
  }
  expect_error({}, {"too small"});
  expect_error({'G', 'G', 'U'}, {"too small"});
  expect_error({'G', 'G', 'U', 'F', 3, 0}, {"truncated", "version"});
}

TEST(GgufMalformed, Values) {
  auto with_kv = [](Kv kv) { return build({std::move(kv)}, {}, 0).bytes; };
  expect_error(with_kv({"k", 13, {0}}), {"unknown value type 13"});
  expect_error(with_kv({"k", 9, {77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}),
               {"unknown array element type 77"});
  expect_error(with_kv({"k", 7, {2}}), {"bool value 2"});
  EXPECT_TRUE(GgufFile::from_bytes(with_kv({"k", 7, {1}})).ok());
  EXPECT_TRUE(GgufFile::from_bytes(with_kv(kv_nested("k", 8))).ok());
  expect_error(with_kv(kv_nested("k", 9)), {"nested"});
  expect_error(with_kv(kv_nested("k", 10000)), {"nested"});
}

TEST(GgufMalformed, ByteFlipsNeverCrash) {
  // A cheap in-test fuzz: set each header byte to a few values and parse. Outcomes vary; the
  // point is that no input crashes, hangs or trips the sanitizers.
  Built b = base();
  const size_t header_end = b.bytes.size() - 96;
  for (size_t i = 0; i < header_end; ++i) {
    for (uint8_t val : {uint8_t{0}, uint8_t{1}, uint8_t{0x7F}, uint8_t{0x80}, uint8_t{0xFF}}) {
      std::vector<uint8_t> v = b.bytes;
      v[i] = val;
      Result<GgufFile> f = GgufFile::from_bytes(v);
      if (f.ok()) {
        // Touch every tensor byte so ASan would catch a pointer outside the buffer.
        uint64_t sum = 0;
        for (const auto& t : f->tensors()) {
          for (uint8_t x : f->tensor_data(t)) sum += x;
        }
        EXPECT_LE(sum, uint64_t{255} * f->file_size());
      } else {
        EXPECT_FALSE(f.status().message().empty());
      }
    }
  }
}

}  // namespace
}  // namespace ember
