// Quantization recipes checked against the per-tensor types llama.cpp's quantizer chose for the
// shared reference models.
#include "model/quant_recipe.h"

#include <gtest/gtest.h>

#include <map>

#include "gguf/gguf.h"
#include "model/hparams.h"
#include "testdata.h"

namespace ember {
namespace {

QuantRecipeContext context_for(const GgufFile& f, bool pure) {
  QuantRecipeContext ctx;
  auto hp = read_hparams(f);
  EXPECT_TRUE(hp.ok()) << hp.status().to_string();
  if (hp.ok()) {
    ctx.n_layer = hp->n_layer;
    ctx.n_gqa = hp->n_head / hp->n_head_kv;
    ctx.n_expert = hp->n_expert;
  }
  ctx.has_output = f.find_tensor("output.weight") != nullptr;
  ctx.pure = pure;
  return ctx;
}

// Every tensor's type in `file` must be what our recipe picks for `preset`.
void expect_recipe_matches(const std::filesystem::path& file, const QuantPreset& preset, bool pure) {
  auto f = GgufFile::open(file.string());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const QuantRecipeContext ctx = context_for(*f, pure);
  int checked = 0;
  for (const GgufTensorInfo& t : f->tensors()) {
    TensorRole role;
    int layer = -1;
    ASSERT_TRUE(role_from_tensor_name(t.name, &role, &layer)) << t.name;
    const auto chosen = choose_tensor_type(preset, t.name, role, layer, t.shape, ctx);
    const TensorType expected = chosen.value_or(TensorType::kF32);
    EXPECT_EQ(tensor_type_name(expected), tensor_type_name(t.type))
        << file.filename() << " tensor " << t.name;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(QuantRecipe, MixedQ4KMMatchesReferenceFiles) {
  EMBER_REQUIRE_TESTDATA(dir);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "models")) {
    const std::string name = e.path().filename().string();
    if (name.ends_with("-q4_k_m.gguf")) {
      SCOPED_TRACE(name);
      expect_recipe_matches(e.path(), *find_quant_preset("Q4_K_M"), false);
      ++files;
    }
  }
  EXPECT_GE(files, 6);
}

TEST(QuantRecipe, PureTypesMatchReferenceFiles) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::map<std::string, std::string> presets = {
      {"q8_0", "Q8_0"}, {"q4_0", "Q4_0"},     {"q4_1", "Q4_1"},    {"q5_0", "Q5_0"},
      {"q5_1", "Q5_1"}, {"q2_k", "Q2_K"},     {"q3_k", "Q3_K_M"},  {"q4_k", "Q4_K_M"},
      {"q5_k", "Q5_K_M"}, {"q6_k", "Q6_K"},   {"iq4_nl", "IQ4_NL"}, {"iq4_xs", "IQ4_XS"},
  };
  for (const auto& [suffix, preset] : presets) {
    const auto path = dir / "models" / ("llama-spm-" + suffix + ".gguf");
    SCOPED_TRACE(path.filename().string());
    expect_recipe_matches(path, *find_quant_preset(preset), true);
  }
}

TEST(QuantRecipe, FallbackForRowsNotMultipleOf256) {
  QuantRecipeContext ctx;
  ctx.n_layer = 4;
  const auto preset = *find_quant_preset("Q4_K_M");
  // A 96-wide row cannot hold 256-element super-blocks: Q4_K falls back to Q5_0.
  EXPECT_EQ(choose_tensor_type(preset, "blk.1.ffn_up.weight", TensorRole::kFfnUp, 1, {96, 8}, ctx),
            TensorType::kQ5_0);
  // Not even a multiple of 32: F16.
  EXPECT_EQ(choose_tensor_type(preset, "blk.1.ffn_up.weight", TensorRole::kFfnUp, 1, {100, 8}, ctx),
            TensorType::kF16);
  // 1-D tensors are never quantized.
  EXPECT_FALSE(choose_tensor_type(preset, "blk.1.attn_norm.weight", TensorRole::kNorm, 1, {256}, ctx)
                   .has_value());
}

TEST(QuantRecipe, PresetLookupIsCaseInsensitive) {
  EXPECT_TRUE(find_quant_preset("q4_k_m").has_value());
  EXPECT_EQ(find_quant_preset("Q4_K_M")->file_type, 15u);
  EXPECT_FALSE(find_quant_preset("Q4_K_X").has_value());
}

}  // namespace
}  // namespace ember
