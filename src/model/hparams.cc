#include "model/hparams.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <string>

#include "gguf/gguf.h"

namespace ember {
namespace {

std::string key(const ModelHParams& hp, std::string_view suffix) {
  std::string k(architecture_traits(hp.arch).name);
  k += '.';
  k += suffix;
  return k;
}

// Reads an optional integer key into `out`; absent keys leave `out` unchanged.
Status read_int(const GgufFile& f, const std::string& k, int64_t& out, bool required) {
  if (f.find(k) == nullptr) {
    if (required) return not_found("missing hyper-parameter '" + k + "'");
    return Status::Ok();
  }
  EMBER_ASSIGN_OR_RETURN(const uint64_t v, f.get_uint(k));
  if (v > (uint64_t{1} << 40)) return invalid_argument("'" + k + "' = " + std::to_string(v) + " is out of range");
  out = static_cast<int64_t>(v);
  return Status::Ok();
}

Status read_float(const GgufFile& f, const std::string& k, float& out) {
  if (f.find(k) == nullptr) return Status::Ok();
  EMBER_ASSIGN_OR_RETURN(const double v, f.get_float(k));
  if (!std::isfinite(v)) return invalid_argument("'" + k + "' is not finite");
  out = static_cast<float>(v);
  return Status::Ok();
}

// Reads a key that is either one integer (every layer) or an array of n_layer integers.
Status read_int_or_array(const GgufFile& f, const std::string& k, int64_t n_layer, int64_t& out,
                         std::vector<int64_t>& arr, bool required) {
  const GgufValue* v = f.find(k);
  if (v == nullptr || !v->is_array()) return read_int(f, k, out, required);
  Result<std::span<const int64_t>> a = v->as_int_array();
  if (!a.ok()) return a.status().with_context(k);
  if (static_cast<int64_t>(a->size()) != n_layer) {
    return invalid_argument("'" + k + "' has " + std::to_string(a->size()) + " entries for " +
                            std::to_string(n_layer) + " layers");
  }
  arr.assign(a->begin(), a->end());
  out = 0;
  for (int64_t x : arr) {
    if (x < 0 || x > (int64_t{1} << 40)) return invalid_argument("'" + k + "' is out of range");
    out = std::max(out, x);
  }
  return Status::Ok();
}

// The recurrent layers of hybrid architectures and their per-sequence state sizes
// (ModelHParams::recurrent_conv / recurrent_ssm).
Status read_recurrent_hparams(const GgufFile& f, ModelHParams& hp) {
  const auto n = static_cast<size_t>(hp.n_layer);
  if (hp.arch == Architecture::kLfm2) {
    // Gated short convolution layers are those with no KV heads (head_count_kv array entry 0);
    // each keeps the last l_cache - 1 inputs of its n_embd channels.
    EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "shortconv.l_cache"), hp.conv_kernel, true));
    if (hp.conv_kernel < 2 || hp.conv_kernel > 64) {
      return invalid_argument(key(hp, "shortconv.l_cache") + " = " +
                              std::to_string(hp.conv_kernel) + " must be in [2, 64]");
    }
    hp.recurrent_conv.assign(n, 0);
    hp.recurrent_ssm.assign(n, 0);
    for (size_t il = 0; il < n; ++il) {
      const bool conv = !hp.n_head_kv_arr.empty() && hp.n_head_kv_arr[il] == 0;
      if (conv) hp.recurrent_conv[il] = (hp.conv_kernel - 1) * hp.n_embd;
    }
  }
  if (hp.arch == Architecture::kQwen35 || hp.arch == Architecture::kQwen35Moe) {
    // Gated delta-net layers (all but every full_attention_interval-th): the last
    // conv_kernel - 1 inputs of the q|k|v convolution, and one [dv][dk] matrix per v head.
    // Checked here, before the sizes are derived from them (validate() repeats the checks).
    if (hp.full_attn_interval <= 0 || hp.ssm_d_conv <= 0 || hp.ssm_d_conv > 64 ||
        hp.ssm_dt_rank <= 0 || hp.ssm_d_inner <= 0 || hp.ssm_d_state <= 0 || hp.ssm_n_group <= 0 ||
        hp.ssm_d_state > 1024 || hp.ssm_n_group > 1024 || hp.ssm_dt_rank > 1024 ||
        hp.ssm_d_inner > (int64_t{1} << 20)) {
      return invalid_argument("qwen35: missing or out-of-range " + key(hp, "ssm.*") + " / " +
                              key(hp, "full_attention_interval") + " hyper-parameters");
    }
    hp.conv_kernel = hp.ssm_d_conv;
    hp.recurrent_conv.assign(n, 0);
    hp.recurrent_ssm.assign(n, 0);
    for (size_t il = 0; il < n; ++il) {
      if (!hp.is_delta_net(static_cast<int64_t>(il))) continue;
      hp.recurrent_conv[il] = hp.ssm_conv_state_size();
      hp.recurrent_ssm[il] = hp.ssm_state_size();
    }
  }
  return Status::Ok();
}

}  // namespace

bool ModelHParams::has_recurrent() const {
  for (int64_t il = 0; il < n_layer; ++il) {
    if (is_recurrent(il)) return true;
  }
  return false;
}

ModelHParams::LayerShape ModelHParams::layer_shape(int64_t il) const {
  LayerShape s;
  const auto i = static_cast<size_t>(il);
  s.sliding = i < swa_layers.size() && swa_layers[i] != 0;
  s.n_head_kv = i < n_head_kv_arr.size() ? n_head_kv_arr[i] : n_head_kv;
  s.n_ff = i < n_ff_arr.size() ? n_ff_arr[i] : n_ff;
  s.head_dim_k = s.sliding && head_dim_k_swa > 0 ? head_dim_k_swa : head_dim_k;
  s.head_dim_v = s.sliding && head_dim_v_swa > 0 ? head_dim_v_swa : head_dim_v;
  s.n_rot = s.sliding && n_rot_swa > 0 ? n_rot_swa : n_rot;
  s.kv_layer = il;
  const int64_t n_kv = n_layer - shared_kv_layers;
  if (shared_kv_layers > 0 && il >= n_kv) {
    // The last earlier layer of the same kind (sliding or full) that owns a cache.
    s.kv_layer = -1;
    for (int64_t j = n_kv - 1; j >= 0; --j) {
      const bool sj =
          static_cast<size_t>(j) < swa_layers.size() && swa_layers[static_cast<size_t>(j)] != 0;
      if (sj == s.sliding) {
        s.kv_layer = j;
        break;
      }
    }
  }
  return s;
}

int64_t ModelHParams::max_n_embd_k_gqa() const {
  int64_t m = 0;
  for (int64_t il = 0; il < n_layer; ++il) {
    const LayerShape s = layer_shape(il);
    m = std::max(m, s.n_head_kv * s.head_dim_k);
  }
  return m;
}

int64_t ModelHParams::max_n_embd_v_gqa() const {
  int64_t m = 0;
  for (int64_t il = 0; il < n_layer; ++il) {
    const LayerShape s = layer_shape(il);
    m = std::max(m, s.n_head_kv * s.head_dim_v);
  }
  return m;
}

int64_t ModelHParams::max_n_qkv() const {
  int64_t m = 0;
  for (int64_t il = 0; il < n_layer; ++il) {
    const LayerShape s = layer_shape(il);
    m = std::max(m, n_head * s.head_dim_k + s.n_head_kv * (s.head_dim_k + s.head_dim_v));
  }
  return m;
}

int64_t ModelHParams::max_n_ff() const {
  int64_t m = n_ff;
  for (int64_t x : n_ff_arr) m = std::max(m, x);
  return m;
}

Status ModelHParams::validate() const {
  auto positive = [&](int64_t v, std::string_view name) -> Status {
    if (v <= 0) return invalid_argument(key(*this, name) + " must be positive, got " + std::to_string(v));
    return Status::Ok();
  };
  EMBER_RETURN_IF_ERROR(positive(n_embd, "embedding_length"));
  EMBER_RETURN_IF_ERROR(positive(n_layer, "block_count"));
  EMBER_RETURN_IF_ERROR(positive(n_head, "attention.head_count"));
  EMBER_RETURN_IF_ERROR(positive(n_head_kv, "attention.head_count_kv"));
  EMBER_RETURN_IF_ERROR(positive(head_dim_k, "attention.key_length"));
  EMBER_RETURN_IF_ERROR(positive(head_dim_v, "attention.value_length"));
  EMBER_RETURN_IF_ERROR(positive(n_ctx_train, "context_length"));
  if (n_vocab <= 0) return invalid_argument("vocabulary is empty");
  if (n_head % n_head_kv != 0) {
    return invalid_argument("attention.head_count " + std::to_string(n_head) +
                            " is not a multiple of attention.head_count_kv " +
                            std::to_string(n_head_kv));
  }
  if (n_rot <= 0 || n_rot > head_dim_k || n_rot % 2 != 0) {
    return invalid_argument(key(*this, "rope.dimension_count") + " = " + std::to_string(n_rot) +
                            " must be even and in (0, head size " + std::to_string(head_dim_k) + "]");
  }
  if (is_moe()) {
    if (n_expert_used <= 0 || n_expert_used > n_expert) {
      return invalid_argument(key(*this, "expert_used_count") + " = " + std::to_string(n_expert_used) +
                              " must be in [1, expert_count " + std::to_string(n_expert) + "]");
    }
    EMBER_RETURN_IF_ERROR(positive(n_ff_exp, "expert_feed_forward_length"));
  } else {
    EMBER_RETURN_IF_ERROR(positive(n_ff, "feed_forward_length"));
  }
  if (!(norm_eps > 0.0f) || !(rope_freq_base > 0.0f) || !(rope_freq_base_swa > 0.0f)) {
    return invalid_argument("norm epsilon and RoPE bases must be positive");
  }
  if (sliding_window < 0) return invalid_argument("sliding window must not be negative");
  if (shared_kv_layers < 0 || shared_kv_layers >= n_layer) {
    return invalid_argument(key(*this, "attention.shared_kv_layers") + " = " +
                            std::to_string(shared_kv_layers) + " must be in [0, block_count)");
  }
  if (n_embd_per_layer < 0 || n_embd_per_layer > 65536 || head_dim_k_swa > 65536 ||
      head_dim_v_swa > 65536) {
    return invalid_argument("per-layer sizes out of the supported range");
  }
  if ((!recurrent_conv.empty() && static_cast<int64_t>(recurrent_conv.size()) != n_layer) ||
      (!recurrent_ssm.empty() && static_cast<int64_t>(recurrent_ssm.size()) != n_layer)) {
    return invalid_argument("recurrent state sizes must be given for every layer");
  }
  for (int64_t il = 0; il < n_layer; ++il) {
    const LayerShape s = layer_shape(il);
    const std::string at = " (layer " + std::to_string(il) + ")";
    if (is_recurrent(il)) {
      // No attention in this layer: its KV head count is 0 (or ignored).
      if (!is_moe() && s.n_ff <= 0) {
        return invalid_argument(key(*this, "feed_forward_length") + " must be positive" + at);
      }
      continue;
    }
    if (s.n_head_kv <= 0 || n_head % s.n_head_kv != 0) {
      return invalid_argument(key(*this, "attention.head_count_kv") + " = " +
                              std::to_string(s.n_head_kv) + " must divide head_count " +
                              std::to_string(n_head) + at);
    }
    if (s.head_dim_k <= 0 || s.head_dim_v <= 0 || s.n_rot <= 0 || s.n_rot > s.head_dim_k ||
        s.n_rot % 2 != 0) {
      return invalid_argument("head size " + std::to_string(s.head_dim_k) + " / RoPE size " +
                              std::to_string(s.n_rot) + " are inconsistent" + at);
    }
    if (!is_moe() && s.n_ff <= 0) {
      return invalid_argument(key(*this, "feed_forward_length") + " must be positive" + at);
    }
    if (s.kv_layer < 0) {
      return invalid_argument(
          "layer " + std::to_string(il) +
          " shares the cache of an earlier layer of its kind, and there is none");
    }
  }
  if (n_expert_groups > 1) {
    if (!is_moe() || n_expert % n_expert_groups != 0 || n_expert_groups > kMaxExpertGroups) {
      return invalid_argument(key(*this, "expert_group_count") + " = " +
                              std::to_string(n_expert_groups) + " must divide expert_count " +
                              std::to_string(n_expert) + " (at most " +
                              std::to_string(kMaxExpertGroups) + " groups)");
    }
    const int64_t per_group = n_expert / n_expert_groups;
    if (n_group_used <= 0 || n_group_used > n_expert_groups ||
        n_expert_used > n_group_used * per_group) {
      return invalid_argument(key(*this, "expert_group_used_count") + " = " +
                              std::to_string(n_group_used) + " must be in [1, expert_group_count " +
                              std::to_string(n_expert_groups) + "] and leave room for " +
                              std::to_string(n_expert_used) + " experts");
    }
  }
  if (arch == Architecture::kDeepseek2 && !is_mla()) {
    return not_found("missing hyper-parameter '" + key(*this, "attention.kv_lora_rank") + "'");
  }
  if (is_mla()) {
    if (head_dim_k_mla <= 0 || head_dim_v_mla <= 0) {
      return unimplemented(
          "this file predates llama.cpp's multi-head latent attention layout (no " +
          key(*this, "attention.key_length_mla") +
          "; attn_kv_b instead of attn_k_b and attn_v_b): convert the model again with a "
          "current convert_hf_to_gguf.py");
    }
    if (n_rot >= head_dim_k_mla || n_lora_kv > 65536 || n_lora_q < 0 || n_lora_q > 65536 ||
        head_dim_k_mla > 65536 || head_dim_v_mla > 65536) {
      return invalid_argument(key(*this, "attention.key_length_mla") + " = " +
                              std::to_string(head_dim_k_mla) + " must exceed the RoPE size " +
                              std::to_string(n_rot) + " (sizes in range)");
    }
    if (head_dim_k != n_lora_kv + n_rot || head_dim_v != n_lora_kv || n_head_kv != 1 ||
        !n_head_kv_arr.empty() || !swa_layers.empty() || shared_kv_layers != 0) {
      return invalid_argument(
          "multi-head latent attention caches one head of [latent | RoPE key]: expected "
          "attention.head_count_kv 1, key_length " +
          std::to_string(n_lora_kv + n_rot) + " and value_length " + std::to_string(n_lora_kv) +
          ", got " + std::to_string(n_head_kv) + ", " + std::to_string(head_dim_k) + ", " +
          std::to_string(head_dim_v));
    }
  }
  if (full_attn_interval > 0) {
    // Gated delta-net layers: q/k heads tile over the v heads (v head j reads q/k head j mod
    // group_count), so the v heads must be a multiple of the q/k heads.
    EMBER_RETURN_IF_ERROR(positive(ssm_d_conv, "ssm.conv_kernel"));
    EMBER_RETURN_IF_ERROR(positive(ssm_d_state, "ssm.state_size"));
    EMBER_RETURN_IF_ERROR(positive(ssm_n_group, "ssm.group_count"));
    EMBER_RETURN_IF_ERROR(positive(ssm_dt_rank, "ssm.time_step_rank"));
    EMBER_RETURN_IF_ERROR(positive(ssm_d_inner, "ssm.inner_size"));
    if (ssm_d_conv > 64 || ssm_d_state > 1024 || ssm_n_group > 1024 || ssm_dt_rank > 1024 ||
        ssm_d_inner > (int64_t{1} << 20)) {
      return invalid_argument("delta-net sizes (ssm.*) out of the supported range");
    }
    if (ssm_d_inner % ssm_dt_rank != 0 || ssm_dt_rank % ssm_n_group != 0) {
      return invalid_argument(
          key(*this, "ssm.inner_size") + " = " + std::to_string(ssm_d_inner) +
          " must be a multiple of ssm.time_step_rank = " + std::to_string(ssm_dt_rank) +
          ", itself a multiple of " + "ssm.group_count = " + std::to_string(ssm_n_group));
    }
  }
  if (n_ff_shexp < 0 || n_ff_shexp > (int64_t{1} << 20)) {
    return invalid_argument(key(*this, "expert_shared_feed_forward_length") + " out of range");
  }
  if (!(rope_scaling_factor > 0.0f)) {
    return invalid_argument(key(*this, "rope.scaling.factor") + " must be positive");
  }
  if (n_embd > (int64_t{1} << 20) || n_head > 4096 || head_dim_k > 65536 || head_dim_v > 65536 ||
      n_vocab > (int64_t{1} << 24) || n_layer > 4096 || n_expert > 4096) {
    return invalid_argument("hyper-parameters out of the supported range (n_embd " +
                            std::to_string(n_embd) + ", heads " + std::to_string(n_head) +
                            ", layers " + std::to_string(n_layer) + ")");
  }
  return Status::Ok();
}

Result<ModelHParams> read_hparams(const GgufFile& f) {
  EMBER_ASSIGN_OR_RETURN(const std::string arch_name, f.get_string("general.architecture"));
  const auto arch = architecture_from_name(arch_name);
  if (!arch) {
    return unimplemented("architecture '" + arch_name + "' is not supported by ember (supported: " +
                         supported_architecture_names() + ")");
  }
  ModelHParams hp;
  hp.arch = *arch;
  const ArchitectureTraits& traits = architecture_traits(hp.arch);
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "context_length"), hp.n_ctx_train, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "embedding_length"), hp.n_embd, true));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "block_count"), hp.n_layer, true));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "nextn_predict_layers"), hp.n_layer_nextn, false));
  if (hp.n_layer_nextn > 0) {
    if (hp.n_layer_nextn >= hp.n_layer) {
      return invalid_argument(key(hp, "nextn_predict_layers") + " must be below block_count");
    }
    hp.n_layer -= hp.n_layer_nextn;  // stored prediction layers, never run
  }
  EMBER_RETURN_IF_ERROR(
      read_int(f, key(hp, "leading_dense_block_count"), hp.n_layer_dense_lead, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "expert_shared_count"), hp.n_expert_shared, false));
  EMBER_RETURN_IF_ERROR(
      read_int(f, key(hp, "expert_shared_feed_forward_length"), hp.n_ff_shexp, false));
  EMBER_RETURN_IF_ERROR(
      read_int(f, key(hp, "full_attention_interval"), hp.full_attn_interval, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "ssm.conv_kernel"), hp.ssm_d_conv, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "ssm.state_size"), hp.ssm_d_state, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "ssm.group_count"), hp.ssm_n_group, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "ssm.time_step_rank"), hp.ssm_dt_rank, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "ssm.inner_size"), hp.ssm_d_inner, false));
  if (hp.arch == Architecture::kQwen35 || hp.arch == Architecture::kQwen35Moe) {
    // The reference's default layer pattern: three delta-net layers, then full attention.
    if (f.find(key(hp, "full_attention_interval")) == nullptr) hp.full_attn_interval = 4;
  }
  EMBER_RETURN_IF_ERROR(
      read_int(f, key(hp, "interleave_moe_layer_step"), hp.n_moe_layer_step, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "expert_group_count"), hp.n_expert_groups, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "expert_group_used_count"), hp.n_group_used, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "attention.q_lora_rank"), hp.n_lora_q, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "attention.kv_lora_rank"), hp.n_lora_kv, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "attention.key_length_mla"), hp.head_dim_k_mla, false));
  EMBER_RETURN_IF_ERROR(
      read_int(f, key(hp, "attention.value_length_mla"), hp.head_dim_v_mla, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "attention.head_count"), hp.n_head, true));
  hp.n_head_kv = hp.n_head;
  EMBER_RETURN_IF_ERROR(read_int_or_array(f, key(hp, "attention.head_count_kv"), hp.n_layer,
                                          hp.n_head_kv, hp.n_head_kv_arr, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "expert_count"), hp.n_expert, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "expert_used_count"), hp.n_expert_used, false));
  const bool moe = hp.n_expert > 0 || traits.always_moe;
  EMBER_RETURN_IF_ERROR(
      read_int_or_array(f, key(hp, "feed_forward_length"), hp.n_layer, hp.n_ff, hp.n_ff_arr, !moe));
  hp.n_ff_exp = hp.n_ff;
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "expert_feed_forward_length"), hp.n_ff_exp, false));
  if (traits.always_moe && hp.n_expert <= 0) {
    return not_found("missing hyper-parameter '" + key(hp, "expert_count") + "'");
  }
  if (hp.n_head <= 0) return invalid_argument(key(hp, "attention.head_count") + " must be positive");
  hp.head_dim_k = hp.n_embd / hp.n_head;
  hp.head_dim_v = hp.head_dim_k;
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "attention.key_length"), hp.head_dim_k, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "attention.value_length"), hp.head_dim_v, false));
  hp.n_rot = hp.head_dim_k;
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "rope.dimension_count"), hp.n_rot, false));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "rope.freq_base"), hp.rope_freq_base));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "rope.local_freq_base"), hp.rope_freq_base_swa));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "rope.freq_base_swa"), hp.rope_freq_base_swa));
  if (f.find(key(hp, "rope.scaling.type")) != nullptr) {
    EMBER_ASSIGN_OR_RETURN(const std::string type, f.get_string(key(hp, "rope.scaling.type")));
    if (type == "none") hp.rope_scaling = RopeScalingType::kNone;
    else if (type == "linear") hp.rope_scaling = RopeScalingType::kLinear;
    else if (type == "yarn") hp.rope_scaling = RopeScalingType::kYarn;
    else if (type == "llama3") hp.rope_scaling = RopeScalingType::kLlama3;
    // LongRoPE (Phi-3): the per-dimension factors are tensors (rope_factors_long/short).
    else if (type == "longrope" || type == "su") hp.rope_scaling = RopeScalingType::kNone;
    else return unimplemented("RoPE scaling type '" + type + "' is not supported");
  }
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "rope.scale_linear"), hp.rope_scaling_factor));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "rope.scaling.factor"), hp.rope_scaling_factor));
  // A factor of 0 means "not scaled"; a factor without a type is linear scaling (the reference
  // treats an absent type as linear).
  if (hp.rope_scaling_factor == 0.0f) hp.rope_scaling_factor = 1.0f;
  if (f.find(key(hp, "rope.scaling.type")) == nullptr && hp.rope_scaling_factor != 1.0f) {
    hp.rope_scaling = RopeScalingType::kLinear;
  }
  EMBER_RETURN_IF_ERROR(
      read_int(f, key(hp, "rope.scaling.original_context_length"), hp.rope_scaling_orig_ctx, false));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "rope.scaling.attn_factor"), hp.rope_attn_factor));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "rope.scaling.yarn_beta_fast"), hp.yarn_beta_fast));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "rope.scaling.yarn_beta_slow"), hp.yarn_beta_slow));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "attention.layer_norm_rms_epsilon"), hp.norm_eps));
  // Encoders use LayerNorm (with mean and bias) and name its epsilon so.
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "attention.layer_norm_epsilon"), hp.norm_eps));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "attention.sliding_window"), hp.sliding_window, false));
  // The pattern is an integer (period) or, in newer files, one boolean per layer.
  const std::string pattern_key = key(hp, "attention.sliding_window_pattern");
  if (const GgufValue* v = f.find(pattern_key); v != nullptr && !v->is_array()) {
    EMBER_RETURN_IF_ERROR(read_int(f, pattern_key, hp.sliding_window_pattern, false));
  } else if (v != nullptr) {
    Result<std::span<const int64_t>> a = v->as_int_array();
    if (!a.ok()) return a.status().with_context(pattern_key);
    if (static_cast<int64_t>(a->size()) != hp.n_layer) {
      return invalid_argument("'" + pattern_key + "' has " + std::to_string(a->size()) +
                              " entries for " + std::to_string(hp.n_layer) + " layers");
    }
    for (int64_t x : *a) hp.swa_layers.push_back(x != 0 ? 1 : 0);
  }
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "attention.key_length_swa"), hp.head_dim_k_swa, false));
  EMBER_RETURN_IF_ERROR(
      read_int(f, key(hp, "attention.value_length_swa"), hp.head_dim_v_swa, false));
  EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "rope.dimension_count_swa"), hp.n_rot_swa, false));
  EMBER_RETURN_IF_ERROR(
      read_int(f, key(hp, "attention.shared_kv_layers"), hp.shared_kv_layers, false));
  EMBER_RETURN_IF_ERROR(
      read_int(f, key(hp, "embedding_length_per_layer_input"), hp.n_embd_per_layer, false));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "attn_logit_softcapping"), hp.attn_softcap));
  EMBER_RETURN_IF_ERROR(read_float(f, key(hp, "final_logit_softcapping"), hp.final_softcap));

  EMBER_RETURN_IF_ERROR(read_recurrent_hparams(f, hp));

  if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens"); tokens != nullptr) {
    hp.n_vocab = static_cast<int64_t>(tokens->array_size());
  } else {
    EMBER_RETURN_IF_ERROR(read_int(f, key(hp, "vocab_size"), hp.n_vocab, true));
  }
  EMBER_RETURN_IF_ERROR(hp.validate());
  return hp;
}

void write_hparams(const ModelHParams& hp, GgufWriter& w) {
  w.set("general.architecture", GgufValue::string(std::string(architecture_traits(hp.arch).name)));
  auto u32 = [&](std::string_view suffix, int64_t v) {
    w.set(key(hp, suffix), GgufValue::u32(static_cast<uint32_t>(v)));
  };
  auto f32 = [&](std::string_view suffix, float v) { w.set(key(hp, suffix), GgufValue::f32(v)); };
  // One value for every layer, or (Gemma 4 style) an array with one per layer.
  auto u32_or_array = [&](std::string_view suffix, int64_t v, const std::vector<int64_t>& arr) {
    if (arr.empty()) {
      u32(suffix, v);
    } else {
      w.set(key(hp, suffix), GgufValue::int_array(GgufType::kI32, arr));
    }
  };
  u32("context_length", hp.n_ctx_train);
  u32("embedding_length", hp.n_embd);
  u32("block_count", hp.n_layer);
  u32_or_array("feed_forward_length", hp.n_ff, hp.n_ff_arr);
  u32("attention.head_count", hp.n_head);
  u32_or_array("attention.head_count_kv", hp.n_head_kv, hp.n_head_kv_arr);
  if (hp.arch == Architecture::kLfm2) u32("shortconv.l_cache", hp.conv_kernel);
  f32(is_encoder(hp.arch) ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon",
      hp.norm_eps);
  f32("rope.freq_base", hp.rope_freq_base);
  if (hp.arch == Architecture::kGemma3) f32("rope.local_freq_base", hp.rope_freq_base_swa);
  if (hp.n_moe_layer_step > 0) u32("interleave_moe_layer_step", hp.n_moe_layer_step);
  if (hp.arch == Architecture::kGemma4) f32("rope.freq_base_swa", hp.rope_freq_base_swa);
  if (!hp.swa_layers.empty()) {
    std::vector<int64_t> pattern(hp.swa_layers.begin(), hp.swa_layers.end());
    w.set(key(hp, "attention.sliding_window_pattern"),
          GgufValue::int_array(GgufType::kBool, std::move(pattern)));
  } else if (hp.sliding_window_pattern > 0) {
    u32("attention.sliding_window_pattern", hp.sliding_window_pattern);
  }
  if (hp.head_dim_k_swa > 0) u32("attention.key_length_swa", hp.head_dim_k_swa);
  if (hp.head_dim_v_swa > 0) u32("attention.value_length_swa", hp.head_dim_v_swa);
  if (hp.n_rot_swa > 0) u32("rope.dimension_count_swa", hp.n_rot_swa);
  // Gemma 4 files name these even when 0.
  const bool gemma4 = hp.arch == Architecture::kGemma4;
  if (gemma4 || hp.shared_kv_layers > 0) u32("attention.shared_kv_layers", hp.shared_kv_layers);
  if (gemma4 || hp.n_embd_per_layer > 0) {
    u32("embedding_length_per_layer_input", hp.n_embd_per_layer);
  }
  // Gemma 4 and gpt-oss files always name their head sizes.
  if (hp.head_dim_k != hp.n_embd / hp.n_head || hp.head_dim_v != hp.head_dim_k || gemma4 ||
      hp.arch == Architecture::kGptOss) {
    u32("attention.key_length", hp.head_dim_k);
    u32("attention.value_length", hp.head_dim_v);
  }
  u32("rope.dimension_count", hp.n_rot);
  if (hp.is_moe()) {
    u32("expert_count", hp.n_expert);
    u32("expert_used_count", hp.n_expert_used);
    u32("expert_feed_forward_length", hp.n_ff_exp);
  }
  if (hp.n_layer_dense_lead > 0) u32("leading_dense_block_count", hp.n_layer_dense_lead);
  if (hp.n_expert_shared > 0) u32("expert_shared_count", hp.n_expert_shared);
  if (hp.n_expert_groups > 0) {
    u32("expert_group_count", hp.n_expert_groups);
    u32("expert_group_used_count", hp.n_group_used);
  }
  if (hp.is_mla()) {
    if (hp.n_lora_q > 0) u32("attention.q_lora_rank", hp.n_lora_q);
    u32("attention.kv_lora_rank", hp.n_lora_kv);
    u32("attention.key_length_mla", hp.head_dim_k_mla);
    u32("attention.value_length_mla", hp.head_dim_v_mla);
  }
  if (hp.sliding_window > 0) u32("attention.sliding_window", hp.sliding_window);
  if (hp.n_ff_shexp > 0) u32("expert_shared_feed_forward_length", hp.n_ff_shexp);
  if (hp.full_attn_interval > 0) {
    u32("full_attention_interval", hp.full_attn_interval);
    u32("ssm.conv_kernel", hp.ssm_d_conv);
    u32("ssm.state_size", hp.ssm_d_state);
    u32("ssm.group_count", hp.ssm_n_group);
    u32("ssm.time_step_rank", hp.ssm_dt_rank);
    u32("ssm.inner_size", hp.ssm_d_inner);
  }
  if (hp.arch == Architecture::kQwen35 || hp.arch == Architecture::kQwen35Moe) {
    // M-RoPE sections (text positions: every section rotates by the same position, i.e. plain
    // NeoX RoPE over rope.dimension_count); the reference requires the key. Sizes in pairs.
    const int64_t half = hp.n_rot / 2;
    const int64_t a = (half + 2) / 3, b = a, c = half - a - b;  // e.g. 11, 11, 10 for 64 dims
    w.set(key(hp, "rope.dimension_sections"),
          GgufValue::int_array(GgufType::kI32, {a, b, c > 0 ? c : 0, 0}));
  }
  if (hp.attn_softcap > 0.0f) f32("attn_logit_softcapping", hp.attn_softcap);
  if (hp.final_softcap > 0.0f) f32("final_logit_softcapping", hp.final_softcap);
  if (hp.rope_scaling != RopeScalingType::kNone) {
    const char* names[] = {"none", "linear", "yarn", "llama3"};
    w.set(key(hp, "rope.scaling.type"),
          GgufValue::string(names[static_cast<int>(hp.rope_scaling)]));
    f32("rope.scaling.factor", hp.rope_scaling_factor);
    if (hp.rope_scaling_orig_ctx > 0) {
      u32("rope.scaling.original_context_length", hp.rope_scaling_orig_ctx);
    }
    if (hp.rope_attn_factor != 1.0f) f32("rope.scaling.attn_factor", hp.rope_attn_factor);
    if (hp.rope_scaling == RopeScalingType::kYarn) {
      if (hp.yarn_beta_fast != 32.0f) f32("rope.scaling.yarn_beta_fast", hp.yarn_beta_fast);
      if (hp.yarn_beta_slow != 1.0f) f32("rope.scaling.yarn_beta_slow", hp.yarn_beta_slow);
    }
  }
}

}  // namespace ember
