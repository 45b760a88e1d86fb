#include "model/arch/arch.h"

#include <cmath>

#include "gguf/gguf.h"
#include "tensor/quantize.h"

namespace ember {

kernels::RopeParams RopeConfig::params(int64_t n_rot, int64_t n_ctx, bool sliding) const {
  kernels::RopeParams p;
  p.n_rot = n_rot;
  p.beta_fast = yarn_beta_fast;
  p.beta_slow = yarn_beta_slow;
  p.n_ctx_orig = n_ctx_orig;
  p.freq_base = sliding ? freq_base_swa : freq_base;
  p.freq_scale = sliding ? freq_scale_swa : freq_scale;
  // The attention factor as the reference derives it: with YaRN, the magnitude correction
  // 1 + 0.1 ln(factor) is applied by the rotation itself, so the factor passed in cancels it
  // once (which leaves the product within an ulp of attn_factor * (1 + 0.1 ln(factor))).
  p.attn_factor = 1.0f;
  if (yarn) {
    p.ext_factor = 1.0f;
    const float factor = 1.0f / freq_scale;
    if (factor > 1.0f) {
      p.attn_factor = 0.1f * std::log(factor) + 1.0f;
      p.attn_factor *= 1.0f / (1.0f + 0.1f * std::log(factor));
    }
  }
  p.attn_factor *= attn_factor;
  if (attn_factor_override != 0.0f) p.attn_factor = attn_factor_override;
  if (!freq_factors.empty() && !(sliding && freq_factors_global_only)) {
    p.freq_factors = freq_factors;
  } else if (!freq_factors_long.empty()) {
    // LongRoPE: the long factors once the context exceeds the original training context.
    p.freq_factors = n_ctx > n_ctx_orig ? freq_factors_long : freq_factors_short;
  }
  return p;
}

namespace arch_detail {

void set_common_rope(const ModelHParams& hp, kernels::RopeStyle style, RopeConfig& rope) {
  rope.style = style;
  rope.freq_base = hp.rope_freq_base;
  rope.freq_scale =
      hp.rope_scaling == RopeScalingType::kNone ? 1.0f : 1.0f / hp.rope_scaling_factor;
  rope.yarn = hp.rope_scaling == RopeScalingType::kYarn;
  rope.yarn_beta_fast = hp.yarn_beta_fast;
  rope.yarn_beta_slow = hp.yarn_beta_slow;
  rope.n_ctx_orig = hp.rope_scaling_orig_ctx > 0 ? hp.rope_scaling_orig_ctx : hp.n_ctx_train;
  rope.attn_factor = hp.rope_attn_factor;
  rope.freq_base_swa = hp.rope_freq_base_swa;
  rope.freq_scale_swa = 1.0f;
}

Status read_optional_vector(const GgufFile& file, const std::string& name, int64_t n,
                            std::vector<float>& out) {
  out.clear();
  const GgufTensorInfo* t = file.find_tensor(name);
  if (t == nullptr) return Status::Ok();
  if (t->n_elements != n) {
    return invalid_argument("tensor '" + name + "' has " + std::to_string(t->n_elements) +
                            " values, expected " + std::to_string(n));
  }
  if (t->type != TensorType::kF32 && t->type != TensorType::kF16 && t->type != TensorType::kBF16) {
    return unimplemented("tensor '" + name + "' has type " + tensor_type_name(t->type) +
                         " (expected f32, f16 or bf16)");
  }
  out.resize(static_cast<size_t>(n));
  return dequantize_row(t->type, t->data, out.data(), n).with_context("tensor '" + name + "'");
}

void set_sliding_pattern(int64_t n_layer, int64_t pattern, std::vector<uint8_t>& layer_sliding) {
  layer_sliding.assign(static_cast<size_t>(n_layer), 0);
  for (int64_t il = 0; il < n_layer; ++il) {
    layer_sliding[static_cast<size_t>(il)] = pattern <= 0 || il % pattern < pattern - 1 ? 1 : 0;
  }
}

Status read_arch_float(const GgufFile& file, const ModelHParams& hp, const std::string& suffix,
                       float& out) {
  const std::string key = std::string(architecture_traits(hp.arch).name) + "." + suffix;
  const GgufValue* v = file.find(key);
  if (v == nullptr) return Status::Ok();
  Result<double> d = v->as_float();
  if (!d.ok()) return d.status().with_context(key);
  if (!std::isfinite(*d)) return invalid_argument("'" + key + "' is not finite");
  out = static_cast<float>(*d);
  return Status::Ok();
}

Status read_moe_routing(const GgufFile& file, const ModelHParams& hp, MoeGating default_gating,
                        bool default_norm, ArchConfig& config) {
  const std::string prefix = std::string(architecture_traits(hp.arch).name) + ".";
  config.moe_gating = default_gating;
  config.moe_norm_topk = default_norm;
  if (const GgufValue* v = file.find(prefix + "expert_weights_norm"); v != nullptr) {
    Result<bool> b = v->as_bool();
    if (!b.ok()) return b.status().with_context(prefix + "expert_weights_norm");
    config.moe_norm_topk = *b;
  }
  EMBER_RETURN_IF_ERROR(
      read_arch_float(file, hp, "expert_weights_scale", config.moe_weights_scale));
  if (config.moe_weights_scale == 0.0f) config.moe_weights_scale = 1.0f;
  if (const GgufValue* v = file.find(prefix + "expert_gating_func"); v != nullptr) {
    Result<uint64_t> g = v->as_uint();
    if (!g.ok()) return g.status().with_context(prefix + "expert_gating_func");
    if (*g == 1) {
      config.moe_gating = MoeGating::kSoftmax;
    } else if (*g == 2) {
      config.moe_gating = MoeGating::kSigmoid;
    } else if (*g != 0) {
      return unimplemented(prefix + "expert_gating_func = " + std::to_string(*g) +
                           " is not supported");
    }
  }
  if (hp.n_expert_groups > 1) {
    config.moe_n_group = hp.n_expert_groups;
    config.moe_n_group_used = hp.n_group_used;
  }
  return Status::Ok();
}

}  // namespace arch_detail

Status configure_architecture(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config = ArchConfig{};
  config.layer_sliding.assign(static_cast<size_t>(hp.n_layer), 0);
  config.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim_k));
  switch (hp.arch) {
    case Architecture::kLlama:
      return configure_llama(file, hp, config);
    case Architecture::kQwen2:
      return configure_qwen2(file, hp, config);
    case Architecture::kQwen3:
      return configure_qwen3(file, hp, config);
    case Architecture::kQwen3Moe:
      return configure_qwen3moe(file, hp, config);
    case Architecture::kPhi3:
      return configure_phi3(file, hp, config);
    case Architecture::kGemma2:
      return configure_gemma2(file, hp, config);
    case Architecture::kGemma3:
      return configure_gemma3(file, hp, config);
    case Architecture::kGemma4:
      return configure_gemma4(file, hp, config);
    case Architecture::kMistral3:
      return configure_mistral3(file, hp, config);
    case Architecture::kSmollm3:
      return configure_smollm3(file, hp, config);
    case Architecture::kGranite:
      return configure_granite(file, hp, config);
    case Architecture::kGptOss:
      return configure_gpt_oss(file, hp, config);
    case Architecture::kGlm4Moe:
      return configure_glm4moe(file, hp, config);
    case Architecture::kLlama4:
      return configure_llama4(file, hp, config);
    case Architecture::kDeepseek2:
      return configure_deepseek2(file, hp, config);
    case Architecture::kQwen35:
    case Architecture::kQwen35Moe:
      return configure_qwen35(file, hp, config);
    case Architecture::kLfm2:
      return configure_lfm2(file, hp, config);
    case Architecture::kBert:
      return configure_bert(file, hp, config);
    case Architecture::kNomicBert:
      return configure_nomic_bert(file, hp, config);
  }
  return unimplemented("architecture is not supported");
}

}  // namespace ember
