// GGUF reader/writer: round trips, split models, typed getters and the shared reference files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "base/mapped_file.h"
#include "gguf/gguf.h"
#include "testdata.h"

namespace ember {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 37 + (i >> 8));
  return v;
}

// A writer exercising every value type and several tensor types.
GgufWriter make_writer(uint32_t alignment) {
  GgufWriter w;
  EXPECT_TRUE(w.set_alignment(alignment).ok());
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("t.u8", GgufValue::u8(250));
  w.set("t.i8", GgufValue::i8(-100));
  w.set("t.u16", GgufValue::u16(65000));
  w.set("t.i16", GgufValue::i16(-32000));
  w.set("t.u32", GgufValue::u32(4000000000u));
  w.set("t.i32", GgufValue::i32(-2000000000));
  w.set("t.u64", GgufValue::u64(std::numeric_limits<uint64_t>::max()));
  w.set("t.i64", GgufValue::i64(std::numeric_limits<int64_t>::min()));
  w.set("t.f32", GgufValue::f32(3.25f));
  w.set("t.f64", GgufValue::f64(-1e300));
  w.set("t.nan", GgufValue::f32(std::nanf("")));
  w.set("t.bool", GgufValue::boolean(true));
  w.set("t.str", GgufValue::string("héllo wörld ✓ 日本"));
  w.set("t.empty_str", GgufValue::string(""));
  w.set("t.empty_arr", GgufValue::int_array(GgufType::kI32, {}));
  w.set("t.arr.u8", GgufValue::int_array(GgufType::kU8, {0, 1, 255}));
  w.set("t.arr.i8", GgufValue::int_array(GgufType::kI8, {-128, 0, 127}));
  w.set("t.arr.u16", GgufValue::int_array(GgufType::kU16, {0, 65535}));
  w.set("t.arr.i16", GgufValue::int_array(GgufType::kI16, {-32768, 32767}));
  w.set("t.arr.u32", GgufValue::int_array(GgufType::kU32, {0, 4294967295LL}));
  w.set("t.arr.i32", GgufValue::int_array(GgufType::kI32, {-5, 5}));
  w.set("t.arr.u64", GgufValue::int_array(GgufType::kU64, {0, -1}));
  w.set("t.arr.i64", GgufValue::int_array(GgufType::kI64, {std::numeric_limits<int64_t>::min()}));
  w.set("t.arr.bool", GgufValue::int_array(GgufType::kBool, {1, 0, 1}));
  w.set("t.arr.f32", GgufValue::float_array(GgufType::kF32, {1.5, -0.1, 1e30}));
  w.set("t.arr.f64", GgufValue::float_array(GgufType::kF64, {0.1, -2.0}));
  w.set("t.arr.str", GgufValue::string_array({"a", "", "ünï", "<s>"}));
  w.set("t.arr.arr",
        GgufValue::array_of_arrays(
            {GgufValue::int_array(GgufType::kU8, {1, 2}), GgufValue::string_array({"x"}),
             GgufValue::array_of_arrays({GgufValue::float_array(GgufType::kF64, {2.5})}),
             GgufValue::string_array({})}));

  EXPECT_TRUE(w.add_tensor("f32.weight", TensorType::kF32, {8, 3}, pattern(8 * 3 * 4, 1)).ok());
  EXPECT_TRUE(w.add_tensor("f16.weight", TensorType::kF16, {5}, pattern(10, 2)).ok());
  EXPECT_TRUE(w.add_tensor("q4_0.weight", TensorType::kQ4_0, {64, 2, 1}, pattern(36 * 2, 3)).ok());
  EXPECT_TRUE(
      w.add_tensor("q4_K.weight", TensorType::kQ4_K, {256, 1, 2, 1}, pattern(144 * 2, 4)).ok());
  EXPECT_TRUE(w.add_tensor("produced", TensorType::kF32, {7}, [](std::span<uint8_t> dst) {
                 std::vector<uint8_t> p = pattern(dst.size(), 5);
                 std::copy(p.begin(), p.end(), dst.begin());
                 return Status::Ok();
               }).ok());
  return w;
}

void expect_matches_writer(const GgufFile& f, const GgufWriter& w, uint32_t alignment) {
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), alignment);
  // The writer adds general.alignment at the end when it is not the default.
  std::vector<std::pair<std::string, GgufValue>> expected = w.metadata();
  if (alignment != 32) expected.emplace_back("general.alignment", GgufValue::u32(alignment));
  ASSERT_EQ(f.metadata().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].first, expected[i].first);
    EXPECT_TRUE(f.metadata()[i].second == expected[i].second) << expected[i].first;
  }
  ASSERT_EQ(f.tensors().size(), 5u);
  const GgufTensorInfo* q = f.find_tensor("q4_K.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, TensorType::kQ4_K);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{256, 1, 2, 1}));
  EXPECT_EQ(q->n_elements, 512);
  EXPECT_EQ(q->n_rows(), 2);
  std::span<const uint8_t> d = f.tensor_data(*q);
  EXPECT_EQ(std::vector<uint8_t>(d.begin(), d.end()), pattern(288, 4));
  const GgufTensorInfo* p = f.find_tensor("produced");
  ASSERT_NE(p, nullptr);
  d = f.tensor_data(*p);
  EXPECT_EQ(std::vector<uint8_t>(d.begin(), d.end()), pattern(28, 5));
  for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % alignment, 0u) << t.name;
  EXPECT_EQ(f.find_tensor("missing"), nullptr);
}

// Writes a file's content back out through a new writer.
std::vector<uint8_t> rewrite(const GgufFile& f) {
  GgufWriter w;
  for (const auto& [k, v] : f.metadata()) w.set(k, v);
  for (const auto& t : f.tensors()) {
    EXPECT_TRUE(w.add_tensor(t.name, t.type, t.shape, f.tensor_data(t)).ok());
  }
  Result<std::vector<uint8_t>> out = w.write_to_memory();
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? *out : std::vector<uint8_t>{};
}

class GgufRoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufRoundTrip, MemoryAndFiles) {
  const uint32_t alignment = GetParam();
  GgufWriter w = make_writer(alignment);
  Result<std::vector<uint8_t>> bytes = w.write_to_memory();
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  EXPECT_EQ(bytes->size() % alignment, 0u);

  Result<GgufFile> f = GgufFile::from_bytes(*bytes);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  expect_matches_writer(*f, w, alignment);
  EXPECT_EQ(f->file_size(), bytes->size());
  EXPECT_EQ(rewrite(*f), *bytes);

  const fs::path path = testing::temp_dir() / ("roundtrip-" + std::to_string(alignment) + ".gguf");
  ASSERT_TRUE(w.write_file(path.string()).ok());
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  for (bool use_mmap : {true, false}) {
    GgufReadOptions opts;
    opts.use_mmap = use_mmap;
    Result<GgufFile> g = GgufFile::open(path.string(), opts);
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    expect_matches_writer(*g, w, alignment);
    EXPECT_EQ(g->n_files(), 1u);
    EXPECT_EQ(rewrite(*g), *bytes);
    // Moving keeps tensor pointers valid (the storage is not copied).
    GgufFile moved = std::move(g).value();
    expect_matches_writer(moved, w, alignment);
  }
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Gguf, GgufRoundTrip, ::testing::Values(32u, 64u, 8u));

TEST(GgufWriter, RejectsBadTensors) {
  GgufWriter w;
  std::vector<uint8_t> d(16);
  EXPECT_TRUE(w.add_tensor("a", TensorType::kF32, {4}, d).ok());
  EXPECT_NE(w.add_tensor("a", TensorType::kF32, {4}, d).message().find("duplicate"),
            std::string::npos);
  EXPECT_FALSE(w.add_tensor("b", TensorType::kF32, {}, d).ok());
  EXPECT_FALSE(w.add_tensor("b", TensorType::kF32, {1, 1, 1, 1, 4}, d).ok());
  EXPECT_FALSE(w.add_tensor("b", TensorType::kF32, {0}, d).ok());
  EXPECT_FALSE(w.add_tensor("b", TensorType::kF32, {-4}, d).ok());
  EXPECT_FALSE(w.add_tensor("b", TensorType::kF32, {5}, d).ok());    // wrong size
  EXPECT_FALSE(w.add_tensor("b", TensorType::kQ4_0, {16}, d).ok());  // not a block multiple
  EXPECT_FALSE(w.add_tensor("b", static_cast<TensorType>(99), {4}, d).ok());
  EXPECT_FALSE(w.add_tensor("", TensorType::kF32, {4}, d).ok());
  EXPECT_FALSE(w.set_alignment(0).ok());
  EXPECT_FALSE(w.set_alignment(48).ok());
}

TEST(GgufWriter, RejectsBadValuesAndFailingProducer) {
  {
    GgufWriter w;
    w.set("x", GgufValue::int_array(GgufType::kU8, {256}));
    EXPECT_FALSE(w.write_to_memory().ok());
  }
  {
    GgufWriter w;
    w.set("general.alignment", GgufValue::string("64"));
    Result<std::vector<uint8_t>> r = w.write_to_memory();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("alignment"), std::string::npos);
  }
  {
    GgufWriter w;
    ASSERT_TRUE(w.add_tensor("t", TensorType::kF32, {4}, [](std::span<uint8_t>) {
                   return io_error("producer failed");
                 }).ok());
    const fs::path path = testing::temp_dir() / "failing.gguf";
    Status s = w.write_file(path.string());
    EXPECT_NE(s.message().find("producer failed"), std::string::npos);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  }
}

TEST(GgufWriter, SetReplacesInPlaceAndRemove) {
  GgufWriter w;
  w.set("a", GgufValue::u32(1));
  w.set("b", GgufValue::u32(2));
  w.set("a", GgufValue::string("x"));
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].first, "a");
  EXPECT_TRUE(w.metadata()[0].second == GgufValue::string("x"));
  w.remove("a");
  ASSERT_EQ(w.metadata().size(), 1u);
  EXPECT_EQ(w.metadata()[0].first, "b");
}

TEST(GgufValue, AccessorsAndMismatch) {
  EXPECT_EQ(*GgufValue::u8(7).as_uint(), 7u);
  EXPECT_EQ(*GgufValue::u8(7).as_int(), 7);
  EXPECT_EQ(*GgufValue::i32(-3).as_int(), -3);
  EXPECT_FALSE(GgufValue::i32(-3).as_uint().ok());
  EXPECT_FALSE(GgufValue::u64(std::numeric_limits<uint64_t>::max()).as_int().ok());
  EXPECT_FALSE(GgufValue::boolean(true).as_uint().ok());
  EXPECT_TRUE(*GgufValue::boolean(true).as_bool());
  EXPECT_DOUBLE_EQ(*GgufValue::f32(0.5f).as_float(), 0.5);
  Status s = GgufValue::string("x").as_uint().status();
  EXPECT_NE(s.message().find("string"), std::string::npos);
  EXPECT_NE(s.message().find("unsigned"), std::string::npos);
  s = GgufValue::u32(1).as_string().status();
  EXPECT_NE(s.message().find("uint32"), std::string::npos);
  EXPECT_NE(s.message().find("string"), std::string::npos);
  EXPECT_FALSE(GgufValue::string_array({"a"}).as_int_array().ok());
  EXPECT_FALSE(GgufValue::int_array(GgufType::kI32, {1}).as_float_array().ok());
  EXPECT_FALSE(GgufValue::u8(1).as_array_array().ok());
  EXPECT_EQ(GgufValue::string_array({"a", "b"}).array_size(), 2u);
  EXPECT_TRUE(GgufValue::u16(1).is_integer());
  EXPECT_FALSE(GgufValue::f32(1).is_integer());
  EXPECT_FALSE(GgufValue::boolean(true).is_integer());
  EXPECT_FALSE(GgufValue::u8(1) == GgufValue::i8(1));
  EXPECT_EQ(gguf_type_name(static_cast<GgufType>(77)), "type 77");
}

TEST(GgufValue, Summary) {
  EXPECT_EQ(GgufValue::u32(4096).summary(), "4096");
  EXPECT_EQ(GgufValue::i8(-5).summary(), "-5");
  EXPECT_EQ(GgufValue::string("llama").summary(), "\"llama\"");
  EXPECT_EQ(GgufValue::string_array(std::vector<std::string>(3)).summary(), "[string x 3]");
  EXPECT_EQ(GgufValue::boolean(false).summary(), "false");
  EXPECT_EQ(GgufValue::f32(0.5f).summary(), "0.5");
  EXPECT_EQ(GgufValue::string(std::string(100, 'a')).summary().size(), 64u + 5u);
}

TEST(GgufFile, TypedGetters) {
  GgufWriter w = make_writer(32);
  Result<std::vector<uint8_t>> bytes = w.write_to_memory();
  ASSERT_TRUE(bytes.ok());
  Result<GgufFile> f = GgufFile::from_bytes(*bytes);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(*f->get_int("t.i16"), -32000);
  EXPECT_DOUBLE_EQ(*f->get_float("t.f32"), 3.25);
  EXPECT_TRUE(*f->get_bool("t.bool"));
  EXPECT_EQ(f->get_string("nope").status().code(), StatusCode::kNotFound);
  Result<std::string> bad = f->get_string("t.u32");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("t.u32"), std::string::npos);
  EXPECT_NE(bad.status().message().find("uint32"), std::string::npos);
  EXPECT_FALSE(f->get_uint("general.architecture").ok());
  EXPECT_FALSE(f->get_uint("t.i8").ok());  // negative
  EXPECT_FALSE(f->get_float("t.u8").ok());
  EXPECT_FALSE(f->get_bool("t.u8").ok());
  EXPECT_FALSE(f->get_int("t.arr.str").ok());
}

// ---- split models ---------------------------------------------------------------------------

Status write_part(const fs::path& dir, int no, int count, const std::vector<std::string>& names) {
  GgufWriter w;
  if (no == 0) w.set("general.architecture", GgufValue::string("llama"));
  w.set("split.no", GgufValue::u16(static_cast<uint16_t>(no)));
  w.set("split.count", GgufValue::u16(static_cast<uint16_t>(count)));
  w.set("split.tensors.count", GgufValue::i32(4));
  for (const std::string& n : names) {
    EMBER_RETURN_IF_ERROR(w.add_tensor(n, TensorType::kF32, {4}, pattern(16, 9)));
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "model-%05d-of-%05d.gguf", no + 1, count);
  return w.write_file((dir / buf).string());
}

TEST(GgufSplit, OpensAllParts) {
  const fs::path dir = testing::temp_dir() / "split";
  fs::remove_all(dir);
  fs::create_directories(dir);
  ASSERT_TRUE(write_part(dir, 0, 3, {"a", "b"}).ok());
  ASSERT_TRUE(write_part(dir, 1, 3, {"c"}).ok());
  ASSERT_TRUE(write_part(dir, 2, 3, {"d"}).ok());
  const std::string first = (dir / "model-00001-of-00003.gguf").string();
  Result<GgufFile> f = GgufFile::open(first);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->n_files(), 3u);
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->find_tensor("a")->file_index, 0u);
  EXPECT_EQ(f->find_tensor("c")->file_index, 1u);
  EXPECT_EQ(f->find_tensor("d")->file_index, 2u);
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  std::span<const uint8_t> d = f->tensor_data(*f->find_tensor("d"));
  EXPECT_EQ(std::vector<uint8_t>(d.begin(), d.end()), pattern(16, 9));

  // Without load_all_splits the first part opens alone.
  GgufReadOptions single;
  single.load_all_splits = false;
  Result<GgufFile> one = GgufFile::open(first, single);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->tensors().size(), 2u);

  // A later part on its own points at the first.
  Result<GgufFile> second = GgufFile::open((dir / "model-00002-of-00003.gguf").string());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("model-00001-of-00003.gguf"), std::string::npos);

  // Duplicate tensor across parts.
  ASSERT_TRUE(write_part(dir, 2, 3, {"a"}).ok());
  Result<GgufFile> dup = GgufFile::open(first);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("'a'"), std::string::npos);

  // Missing part.
  fs::remove(dir / "model-00003-of-00003.gguf");
  Result<GgufFile> missing = GgufFile::open(first);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("model-00003-of-00003.gguf"), std::string::npos);
  fs::remove_all(dir);
}

TEST(GgufFile, OpenErrorsNamePath) {
  Result<GgufFile> f = GgufFile::open("/nonexistent/dir/x.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("/nonexistent/dir/x.gguf"), std::string::npos);
  EXPECT_FALSE(GgufFile::open(testing::temp_dir().string()).ok());  // a directory
}

TEST(GgufMappedFile, MapAndReadAgree) {
  const fs::path p = testing::temp_dir() / "mapped.bin";
  {
    std::FILE* f = std::fopen(p.string().c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("hello", f);
    std::fclose(f);
  }
  for (bool use_mmap : {true, false}) {
    Result<MappedFile> m = MappedFile::open(p.string(), use_mmap);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ(m->is_mapped(), use_mmap);
    MappedFile moved = std::move(m).value();
    ASSERT_EQ(moved.size(), 5u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(moved.data()), 5), "hello");
  }
  Result<MappedFile> missing = MappedFile::map("/nonexistent/zz.bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/zz.bin"), std::string::npos);
  EXPECT_NE(missing.status().message().find("No such file"), std::string::npos);
  // An empty file maps to an empty span, and GGUF parsing reports it as too small.
  {
    std::FILE* f = std::fopen(p.string().c_str(), "wb");
    std::fclose(f);
  }
  Result<MappedFile> empty = MappedFile::map(p.string());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
  Result<GgufFile> g = GgufFile::open(p.string());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("too small"), std::string::npos);
  fs::remove(p);
}

// ---- reference files ------------------------------------------------------------------------

std::vector<fs::path> gguf_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".gguf") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_opened(const GgufFile& f, const fs::path& p) {
  EXPECT_GE(f.version(), 2u) << p;
  for (const auto& t : f.tensors()) {
    EXPECT_GT(t.n_bytes, 0u) << p << " " << t.name;
    EXPECT_NE(t.data, nullptr);
    EXPECT_LE(t.offset + t.n_bytes, f.file_size()) << p << " " << t.name;
  }
}

TEST(GgufReference, ModelsOpen) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::vector<fs::path> files = gguf_files(dir / "models");
  ASSERT_FALSE(files.empty());
  for (const fs::path& p : files) {
    Result<GgufFile> f = GgufFile::open(p.string());
    ASSERT_TRUE(f.ok()) << p << ": " << f.status().to_string();
    check_opened(*f, p);
    Result<std::string> arch = f->get_string("general.architecture");
    EXPECT_TRUE(arch.ok()) << p;
    EXPECT_FALSE(f->tensors().empty()) << p;
  }
  const fs::path q4 = dir / "models" / "llama-spm-q4_0.gguf";
  if (fs::exists(q4)) {
    GgufReadOptions opts;
    opts.use_mmap = false;
    Result<GgufFile> f = GgufFile::open(q4.string(), opts);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(*f->get_string("general.architecture"), "llama");
    size_t n_q4 = 0;
    for (const auto& t : f->tensors()) n_q4 += t.type == TensorType::kQ4_0 ? 1 : 0;
    EXPECT_GT(n_q4, 0u);
    // Re-serializing a real model reproduces the tensor data bit for bit.
    Result<GgufFile> again = GgufFile::from_bytes(rewrite(*f));
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    ASSERT_EQ(again->tensors().size(), f->tensors().size());
    for (size_t i = 0; i < f->tensors().size(); ++i) {
      std::span<const uint8_t> a = f->tensor_data(f->tensors()[i]);
      std::span<const uint8_t> b = again->tensor_data(again->tensors()[i]);
      EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
    }
    EXPECT_EQ(again->metadata(), f->metadata());
  }
}

TEST(GgufReference, VocabFilesOpen) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::vector<fs::path> files = gguf_files(dir / "vocab");
  ASSERT_FALSE(files.empty());
  for (const fs::path& p : files) {
    Result<GgufFile> f = GgufFile::open(p.string());
    ASSERT_TRUE(f.ok()) << p << ": " << f.status().to_string();
    check_opened(*f, p);
    const GgufValue* tokens = f->find("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr) << p;
    EXPECT_TRUE(tokens->as_string_array().ok()) << p;
  }
}

}  // namespace
}  // namespace ember
