// Builds the fuzzing seed corpus (fuzz/corpus/gguf) with the writer, and checks the seeds parse.
//
// Regenerate the committed seeds with:
//   EMBER_WRITE_GGUF_SEEDS=fuzz/corpus/gguf build/dev/ember_tests --gtest_filter='GgufSeeds.*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "gguf/gguf.h"
#include "testdata.h"

namespace ember {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> bytes_of(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 13 + 1);
  return v;
}

std::vector<std::pair<std::string, GgufWriter>> seeds() {
  std::vector<std::pair<std::string, GgufWriter>> out;
  {
    GgufWriter w;
    w.set("general.architecture", GgufValue::string("llama"));
    EXPECT_TRUE(w.add_tensor("w", TensorType::kF32, {4}, bytes_of(16)).ok());
    out.emplace_back("tiny.gguf", std::move(w));
  }
  {
    GgufWriter w;
    w.set("general.architecture", GgufValue::string("qwen2"));
    w.set("u8", GgufValue::u8(1));
    w.set("i8", GgufValue::i8(-1));
    w.set("u16", GgufValue::u16(2));
    w.set("i16", GgufValue::i16(-2));
    w.set("u32", GgufValue::u32(3));
    w.set("i32", GgufValue::i32(-3));
    w.set("u64", GgufValue::u64(4));
    w.set("i64", GgufValue::i64(-4));
    w.set("f32", GgufValue::f32(0.5f));
    w.set("f64", GgufValue::f64(0.25));
    w.set("b", GgufValue::boolean(true));
    w.set("ints", GgufValue::int_array(GgufType::kI32, {1, -2, 3}));
    w.set("floats", GgufValue::float_array(GgufType::kF32, {1.0, 2.0}));
    EXPECT_TRUE(w.add_tensor("q", TensorType::kQ4_0, {32, 2}, bytes_of(36)).ok());
    EXPECT_TRUE(w.add_tensor("h", TensorType::kF16, {8}, bytes_of(16)).ok());
    out.emplace_back("all_types.gguf", std::move(w));
  }
  {
    GgufWriter w;
    EXPECT_TRUE(w.set_alignment(64).ok());
    w.set("tokenizer.ggml.tokens", GgufValue::string_array({"<s>", "</s>", "a", "bc"}));
    w.set("nested", GgufValue::array_of_arrays({GgufValue::int_array(GgufType::kU8, {1}),
                                                GgufValue::string_array({"x"})}));
    EXPECT_TRUE(w.add_tensor("q8", TensorType::kQ8_0, {32}, bytes_of(34)).ok());
    EXPECT_TRUE(w.add_tensor("k", TensorType::kQ4_K, {256}, bytes_of(144)).ok());
    out.emplace_back("aligned64.gguf", std::move(w));
  }
  return out;
}

TEST(GgufSeeds, BuildAndParse) {
  const char* env = std::getenv("EMBER_WRITE_GGUF_SEEDS");
  const fs::path dir =
      env != nullptr && *env != '\0' ? fs::path(env) : testing::temp_dir() / "seeds";
  fs::create_directories(dir);
  for (auto& [name, w] : seeds()) {
    const fs::path p = dir / name;
    ASSERT_TRUE(w.write_file(p.string()).ok());
    EXPECT_LT(fs::file_size(p), 4096u) << name;
    Result<GgufFile> f = GgufFile::open(p.string());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_FALSE(f->tensors().empty());
  }
}

}  // namespace
}  // namespace ember
