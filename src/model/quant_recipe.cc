#include "model/quant_recipe.h"

#include "base/strings.h"


namespace ember {
namespace {

using T = TensorType;

// The layers where the mixed recipes spend extra bits: the first and last eighth of the stack and
// every third layer in between.
bool use_more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

bool fits(TensorType type, int64_t row) {
  const TensorTypeTraits* t = tensor_type_traits(type);
  return t != nullptr && row % t->block_size == 0;
}

// A type with a 32-element block for rows that do not divide into 256-element super-blocks.
TensorType fallback_type(TensorType type) {
  switch (type) {
    case T::kQ2_K:
    case T::kQ3_K:
    case T::kIQ4_XS: return T::kIQ4_NL;
    case T::kQ4_K: return T::kQ5_0;
    case T::kQ5_K: return T::kQ5_1;
    case T::kQ6_K: return T::kQ8_0;
    default: return type;
  }
}

TensorType mixed_type(std::string_view p, TensorType t, const std::string& name, TensorRole role,
                      int layer, int64_t row, const QuantRecipeContext& ctx) {
  const bool output_like =
      role == TensorRole::kOutput || (!ctx.has_output && role == TensorRole::kTokenEmbedding);
  const bool eight_experts = ctx.n_expert == 8;
  if (output_like) {
    if (row % 256 != 0) return T::kQ8_0;
    return t == T::kQ8_0 ? t : T::kQ6_K;
  }
  switch (role) {
    case TensorRole::kAttnV:
    case TensorRole::kAttnQkv:  // the fused QKV tensor follows the attention-V recipe
      if (p == "Q2_K") t = ctx.n_gqa >= 4 ? T::kQ4_K : T::kQ3_K;
      else if (p == "Q3_K_M") t = layer < 2 ? T::kQ5_K : T::kQ4_K;
      else if (p == "Q3_K_L") t = T::kQ5_K;
      else if ((p == "IQ4_NL" || p == "IQ4_XS") && ctx.n_gqa >= 4) t = T::kQ5_K;
      else if ((p == "Q4_K_M" || p == "Q5_K_M") && use_more_bits(layer, ctx.n_layer)) t = T::kQ6_K;
      else if (p == "Q4_K_S" && layer < 4) t = T::kQ5_K;
      if (eight_experts) t = T::kQ8_0;
      return t;
    case TensorRole::kAttnK:
      return eight_experts ? T::kQ8_0 : t;
    case TensorRole::kFfnDown:
    case TensorRole::kFfnDownExps: {
      const int64_t n = ctx.n_layer;
      if (p == "Q2_K") t = T::kQ3_K;
      else if (p == "Q3_K_M") t = layer < n / 16 ? T::kQ5_K : T::kQ4_K;
      else if (p == "Q3_K_L") t = T::kQ5_K;
      else if (p == "Q4_K_M") { if (use_more_bits(layer, n)) t = T::kQ6_K; }
      else if (layer < n / 8 && (p == "IQ4_NL" || p == "IQ4_XS")) t = T::kQ5_K;
      else if (p == "Q5_K_M" && use_more_bits(layer, n)) t = T::kQ6_K;
      else if (p == "Q4_K_S" && layer < n / 8) t = T::kQ5_K;
      return t;
    }
    case TensorRole::kAttnOutput:
      if (eight_experts) {
        if (p == "Q2_K" || p == "Q3_K_S" || p == "Q3_K_M" || p == "IQ4_NL" || p == "Q4_K_S" ||
            p == "Q4_K_M" || p == "IQ4_XS") {
          t = T::kQ5_K;
        }
      } else if (p == "Q2_K") {
        t = T::kQ3_K;
      } else if (p == "Q3_K_M") {
        t = T::kQ4_K;
      } else if (p == "Q3_K_L") {
        t = T::kQ5_K;
      }
      return t;
    default:
      (void)name;
      return t;
  }
}

}  // namespace

const std::vector<QuantPreset>& quant_presets() {
  static const std::vector<QuantPreset> kPresets = {
      {"F32", 0, T::kF32},        {"F16", 1, T::kF16},         {"BF16", 32, T::kBF16},
      {"Q8_0", 7, T::kQ8_0},      {"Q4_0", 2, T::kQ4_0},       {"Q4_1", 3, T::kQ4_1},
      {"Q5_0", 8, T::kQ5_0},      {"Q5_1", 9, T::kQ5_1},       {"Q2_K", 10, T::kQ2_K},
      {"Q3_K_S", 11, T::kQ3_K},   {"Q3_K_M", 12, T::kQ3_K},    {"Q3_K_L", 13, T::kQ3_K},
      {"Q4_K_S", 14, T::kQ4_K},   {"Q4_K_M", 15, T::kQ4_K},    {"Q5_K_S", 16, T::kQ5_K},
      {"Q5_K_M", 17, T::kQ5_K},   {"Q6_K", 18, T::kQ6_K},      {"IQ4_NL", 25, T::kIQ4_NL},
      {"IQ4_XS", 30, T::kIQ4_XS}, {"MXFP4_MOE", 38, T::kQ8_0},
  };
  return kPresets;
}

std::optional<QuantPreset> find_quant_preset(std::string_view name) {
  for (const QuantPreset& p : quant_presets()) {
    if (iequals(p.name, name)) return p;
  }
  return std::nullopt;
}

std::optional<TensorType> choose_tensor_type(const QuantPreset& preset, const std::string& name,
                                             TensorRole role, int layer,
                                             const std::vector<int64_t>& shape,
                                             const QuantRecipeContext& ctx) {
  if (shape.size() < 2 || role_stays_f32(role)) return std::nullopt;
  const int64_t row = shape[0];
  // MXFP4_MOE (gpt-oss's release format): the experts MXFP4, every other matrix Q8_0.
  if (preset.name == "MXFP4_MOE" && fits(T::kMXFP4, row) &&
      (role == TensorRole::kFfnGateExps || role == TensorRole::kFfnUpExps ||
       role == TensorRole::kFfnDownExps)) {
    return T::kMXFP4;
  }
  TensorType t = preset.base;
  const TensorTypeTraits* traits = tensor_type_traits(t);
  if (!ctx.pure && traits != nullptr && traits->quantized) {
    t = mixed_type(preset.name, t, name, role, layer, row, ctx);
  }
  if (!fits(t, row)) t = fallback_type(t);
  if (!fits(t, row)) t = T::kF16;
  return t;
}

}  // namespace ember
