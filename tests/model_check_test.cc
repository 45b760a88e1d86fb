// Loading checks: unsupported tensor types, missing and mis-shaped tensors are named in errors.
#include "model/model_check.h"

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "model/synth.h"
#include "testdata.h"

namespace ember {
namespace {

// A small synthesized llama, rewritten through `edit` (which may change any tensor) into memory.
Result<GgufFile> edited_model(
    const std::function<bool(std::string& name, TensorType& type, std::vector<int64_t>& shape)>& edit) {
  SynthOptions o;
  o.hparams = default_synth_hparams(Architecture::kLlama);
  o.preset = *find_quant_preset("F32");
  const auto path = testing::temp_dir() / "check-base.gguf";
  EMBER_RETURN_IF_ERROR(synthesize_model(o, path.string()));
  EMBER_ASSIGN_OR_RETURN(GgufFile f, GgufFile::open(path.string()));
  GgufWriter w;
  for (const auto& [k, v] : f.metadata()) w.set(k, v);
  for (const auto& t : f.tensors()) {
    std::string name = t.name;
    TensorType type = t.type;
    std::vector<int64_t> shape = t.shape;
    if (!edit(name, type, shape)) continue;  // dropped
    size_t rows = 1;
    for (size_t d = 1; d < shape.size(); ++d) rows *= static_cast<size_t>(shape[d]);
    const size_t bytes = *tensor_row_size(type, shape[0]) * rows;
    std::vector<uint8_t> data(bytes, 0);
    EMBER_RETURN_IF_ERROR(w.add_tensor(name, type, shape, data));
  }
  EMBER_ASSIGN_OR_RETURN(auto bytes, w.write_to_memory());
  return GgufFile::from_bytes(bytes);
}

TEST(ModelCheck, SynthesizedModelIsLoadable) {
  auto f = edited_model([](std::string&, TensorType&, std::vector<int64_t>&) { return true; });
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_TRUE(check_model_file(*f).ok()) << check_model_file(*f).to_string();
}

TEST(ModelCheck, UnsupportedTypeIsNamed) {
  auto f = edited_model([](std::string& name, TensorType& type, std::vector<int64_t>&) {
    if (name == "blk.1.attn_q.weight") type = TensorType::kIQ2_XXS;
    return true;
  });
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const Status s = check_model_file(*f);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("iq2_xxs"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("blk.1.attn_q.weight"), std::string::npos) << s.message();
}

TEST(ModelCheck, MissingTensorIsNamed) {
  auto f = edited_model([](std::string& name, TensorType&, std::vector<int64_t>&) {
    return name != "blk.0.ffn_down.weight";
  });
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const Status s = check_model_file(*f);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("blk.0.ffn_down.weight"), std::string::npos) << s.message();
}

TEST(ModelCheck, MisShapedTensorIsNamed) {
  auto f = edited_model([](std::string& name, TensorType&, std::vector<int64_t>& shape) {
    if (name == "blk.0.attn_k.weight") shape[1] = 64;  // should be 128 (2 KV heads x 64)
    return true;
  });
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const Status s = check_model_file(*f);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("blk.0.attn_k.weight"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[256, 128]"), std::string::npos) << s.message();
}

TEST(ModelCheck, EverySharedModelIsLoadable) {
  EMBER_REQUIRE_TESTDATA(dir);
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "models")) {
    if (e.path().extension() != ".gguf") continue;
    SCOPED_TRACE(e.path().filename().string());
    auto f = GgufFile::open(e.path().string());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    const Status s = check_model_file(*f);
    EXPECT_TRUE(s.ok()) << s.to_string();
    ++n;
  }
  EXPECT_EQ(n, 30);
}

}  // namespace
}  // namespace ember
