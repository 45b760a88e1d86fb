#include "model/tensor_layout.h"

#include <charconv>
#include <string_view>

namespace ember {

bool role_stays_f32(TensorRole role) {
  return role == TensorRole::kNorm || role == TensorRole::kBias ||
         role == TensorRole::kRopeFreqs || role == TensorRole::kFfnGateInp;
}

namespace {

// qwen35 / qwen35moe block il after attn_norm: a gated delta-net layer or a gated full-attention
// layer (attn_q rows per head: [query(dk), gate(dk)]), then post_attention_norm (the FFN input
// norm) and a dense SwiGLU FFN or routed experts + a sigmoid-gated shared expert.
template <typename Add>
void add_qwen35_layer(const ModelHParams& hp, int64_t il, Add& add) {
  const int64_t d = hp.n_embd;
  if (hp.is_delta_net(il)) {
    const int64_t nv = hp.ssm_dt_rank;
    add("attn_qkv.weight", {d, hp.ssm_conv_channels()}, TensorRole::kAttnQkv);
    add("attn_gate.weight", {d, hp.ssm_d_inner}, TensorRole::kAttnQ);
    add("ssm_conv1d.weight", {hp.ssm_d_conv, hp.ssm_conv_channels()}, TensorRole::kNorm);
    add("ssm_dt.bias", {nv}, TensorRole::kBias);
    add("ssm_a", {nv}, TensorRole::kNorm);
    add("ssm_alpha.weight", {d, nv}, TensorRole::kAttnQ);
    add("ssm_beta.weight", {d, nv}, TensorRole::kAttnQ);
    add("ssm_norm.weight", {hp.ssm_head_v_dim()}, TensorRole::kNorm);
    add("ssm_out.weight", {hp.ssm_d_inner, d}, TensorRole::kAttnOutput);
  } else {
    const ModelHParams::LayerShape ls = hp.layer_shape(il);
    add("attn_q.weight", {d, 2 * hp.n_head * ls.head_dim_k}, TensorRole::kAttnQ);
    add("attn_k.weight", {d, ls.n_head_kv * ls.head_dim_k}, TensorRole::kAttnK);
    add("attn_v.weight", {d, ls.n_head_kv * ls.head_dim_v}, TensorRole::kAttnV);
    add("attn_q_norm.weight", {ls.head_dim_k}, TensorRole::kNorm);
    add("attn_k_norm.weight", {ls.head_dim_k}, TensorRole::kNorm);
    add("attn_output.weight", {hp.n_head * ls.head_dim_v, d}, TensorRole::kAttnOutput);
  }
  add("post_attention_norm.weight", {d}, TensorRole::kNorm);
  if (!hp.is_moe()) {
    const int64_t nf = hp.layer_shape(il).n_ff;
    add("ffn_gate.weight", {d, nf}, TensorRole::kFfnGate);
    add("ffn_up.weight", {d, nf}, TensorRole::kFfnUp);
    add("ffn_down.weight", {nf, d}, TensorRole::kFfnDown);
    return;
  }
  add("ffn_gate_inp.weight", {d, hp.n_expert}, TensorRole::kFfnGateInp);
  add("ffn_gate_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnGateExps);
  add("ffn_up_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnUpExps);
  add("ffn_down_exps.weight", {hp.n_ff_exp, d, hp.n_expert}, TensorRole::kFfnDownExps);
  if (hp.n_ff_shexp > 0) {
    add("ffn_gate_inp_shexp.weight", {d}, TensorRole::kFfnGateInp);
    add("ffn_gate_shexp.weight", {d, hp.n_ff_shexp}, TensorRole::kFfnGate);
    add("ffn_up_shexp.weight", {d, hp.n_ff_shexp}, TensorRole::kFfnUp);
    add("ffn_down_shexp.weight", {hp.n_ff_shexp, d}, TensorRole::kFfnDown);
  }
}

}  // namespace

std::vector<TensorSpec> model_tensor_layout(const ModelHParams& hp, bool tied_output) {
  if (is_encoder(hp.arch)) return encoder_tensor_layout(hp);
  const ArchitectureTraits& traits = architecture_traits(hp.arch);
  const int64_t d = hp.n_embd;
  std::vector<TensorSpec> out;
  const bool gemma4 = hp.arch == Architecture::kGemma4;
  out.push_back({"token_embd.weight", {d, hp.n_vocab}, TensorRole::kTokenEmbedding, -1});
  if (gemma4) {
    out.push_back({"rope_freqs.weight", {hp.n_rot / 2}, TensorRole::kRopeFreqs, -1, true});
  }
  if (hp.n_embd_per_layer > 0) {
    const int64_t npl = hp.n_embd_per_layer * hp.n_layer;
    out.push_back(
        {"per_layer_token_embd.weight", {npl, hp.n_vocab}, TensorRole::kTokenEmbedding, -1});
    out.push_back({"per_layer_model_proj.weight", {d, npl}, TensorRole::kAttnQ, -1});
    out.push_back({"per_layer_proj_norm.weight", {hp.n_embd_per_layer}, TensorRole::kNorm, -1});
  }
  for (int il = 0; il < hp.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    auto add = [&](const std::string& n, std::vector<int64_t> shape, TensorRole role,
                   bool optional = false) {
      out.push_back({p + n, std::move(shape), role, il, optional});
    };
    const ModelHParams::LayerShape ls = hp.layer_shape(il);
    // GLM-4.5 / DeepSeek: the first n_layer_dense_lead layers dense, then routed experts (with a
    // selection bias, optional for DeepSeek V2) and the shared experts.
    auto add_dense_lead_or_moe = [&](bool bias_optional) {
      if (il < hp.n_layer_dense_lead || !hp.is_moe()) {
        add("ffn_gate.weight", {d, ls.n_ff}, TensorRole::kFfnGate);
        add("ffn_up.weight", {d, ls.n_ff}, TensorRole::kFfnUp);
        add("ffn_down.weight", {ls.n_ff, d}, TensorRole::kFfnDown);
        return;
      }
      const int64_t nfs = hp.n_ff_exp * hp.n_expert_shared;
      add("ffn_gate_inp.weight", {d, hp.n_expert}, TensorRole::kFfnGateInp);
      add("exp_probs_b.bias", {hp.n_expert}, TensorRole::kBias, bias_optional);
      add("ffn_gate_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnGateExps);
      add("ffn_up_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnUpExps);
      add("ffn_down_exps.weight", {hp.n_ff_exp, d, hp.n_expert}, TensorRole::kFfnDownExps);
      if (nfs > 0) {
        add("ffn_gate_shexp.weight", {d, nfs}, TensorRole::kFfnGate);
        add("ffn_up_shexp.weight", {d, nfs}, TensorRole::kFfnUp);
        add("ffn_down_shexp.weight", {nfs, d}, TensorRole::kFfnDown);
      }
    };
    if (hp.arch == Architecture::kDeepseek2) {
      // Multi-head latent attention (model/hparams.h): queries of H heads x (nope + rope),
      // optionally through the rank-q_lora bottleneck; the shared [latent | RoPE key]; per head
      // the absorbed matrices attn_k_b (nope -> latent) and attn_v_b (latent -> V), stored as
      // [row, rows, head].
      const int64_t H = hp.n_head, dq = hp.head_dim_k_mla, dvm = hp.head_dim_v_mla;
      add("attn_norm.weight", {d}, TensorRole::kNorm);
      if (hp.n_lora_q > 0) {
        add("attn_q_a.weight", {d, hp.n_lora_q}, TensorRole::kAttnQ);
        add("attn_q_a_norm.weight", {hp.n_lora_q}, TensorRole::kNorm);
        add("attn_q_b.weight", {hp.n_lora_q, H * dq}, TensorRole::kAttnQ);
      } else {
        add("attn_q.weight", {d, H * dq}, TensorRole::kAttnQ);
      }
      add("attn_kv_a_mqa.weight", {d, hp.n_lora_kv + hp.n_rot}, TensorRole::kAttnK);
      add("attn_kv_a_norm.weight", {hp.n_lora_kv}, TensorRole::kNorm);
      add("attn_k_b.weight", {hp.head_dim_nope_mla(), hp.n_lora_kv, H}, TensorRole::kAttnK);
      add("attn_v_b.weight", {hp.n_lora_kv, dvm, H}, TensorRole::kAttnV);
      add("attn_output.weight", {H * dvm, d}, TensorRole::kAttnOutput);
      add("ffn_norm.weight", {d}, TensorRole::kNorm);
      add_dense_lead_or_moe(true);
      continue;
    }
    const int64_t nq = hp.n_head * ls.head_dim_k;
    const int64_t nk = ls.n_head_kv * ls.head_dim_k, nv = ls.n_head_kv * ls.head_dim_v;
    const bool own_kv = ls.kv_layer == il;
    add("attn_norm.weight", {d}, TensorRole::kNorm);
    if (hp.arch == Architecture::kQwen35 || hp.arch == Architecture::kQwen35Moe) {
      add_qwen35_layer(hp, il, add);
      continue;
    }
    if (hp.arch == Architecture::kLfm2) {
      if (hp.is_recurrent(il)) {
        // Gated short convolution: in_proj -> [B | C | x], kernel [l_cache][n_embd] (kept F32).
        add("shortconv.conv.weight", {hp.conv_kernel, d}, TensorRole::kNorm);
        add("shortconv.in_proj.weight", {d, 3 * d}, TensorRole::kAttnQkv);
        add("shortconv.out_proj.weight", {d, d}, TensorRole::kAttnOutput);
      } else {
        add("attn_q.weight", {d, nq}, TensorRole::kAttnQ);
        add("attn_k.weight", {d, nk}, TensorRole::kAttnK);
        add("attn_v.weight", {d, nv}, TensorRole::kAttnV);
        add("attn_q_norm.weight", {ls.head_dim_k}, TensorRole::kNorm);
        add("attn_k_norm.weight", {ls.head_dim_k}, TensorRole::kNorm);
        add("attn_output.weight", {hp.n_head * ls.head_dim_v, d}, TensorRole::kAttnOutput);
      }
      add("ffn_norm.weight", {d}, TensorRole::kNorm);
      add("ffn_gate.weight", {d, ls.n_ff}, TensorRole::kFfnGate);
      add("ffn_up.weight", {d, ls.n_ff}, TensorRole::kFfnUp);
      add("ffn_down.weight", {ls.n_ff, d}, TensorRole::kFfnDown);
      continue;
    }
    if (traits.fused_qkv) {
      add("attn_qkv.weight", {d, nq + nk + nv}, TensorRole::kAttnQkv);
    } else {
      add("attn_q.weight", {d, nq}, TensorRole::kAttnQ);
      if (own_kv) {
        add("attn_k.weight", {d, nk}, TensorRole::kAttnK);
        // Gemma 4's full-attention layers may use the K projection as V.
        add("attn_v.weight", {d, nv}, TensorRole::kAttnV, gemma4);
      }
    }
    if (traits.qkv_bias) {
      add("attn_q.bias", {nq}, TensorRole::kBias);
      add("attn_k.bias", {nk}, TensorRole::kBias);
      add("attn_v.bias", {nv}, TensorRole::kBias);
    }
    if (traits.qk_norm) {
      add("attn_q_norm.weight", {ls.head_dim_k}, TensorRole::kNorm);
      if (own_kv) add("attn_k_norm.weight", {ls.head_dim_k}, TensorRole::kNorm);
    }
    add("attn_output.weight", {hp.n_head * ls.head_dim_v, d}, TensorRole::kAttnOutput);
    if (traits.post_norms) add("post_attention_norm.weight", {d}, TensorRole::kNorm);
    if (hp.arch == Architecture::kGptOss) {
      // gpt-oss: output bias, sinks; its FFN input norm is named post_attention_norm.
      add("attn_output.bias", {d}, TensorRole::kBias);
      add("attn_sinks.weight", {hp.n_head}, TensorRole::kNorm);
      add("post_attention_norm.weight", {d}, TensorRole::kNorm);
      add("ffn_gate_inp.weight", {d, hp.n_expert}, TensorRole::kFfnGateInp);
      add("ffn_gate_inp.bias", {hp.n_expert}, TensorRole::kBias);
      add("ffn_gate_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnGateExps);
      add("ffn_gate_exps.bias", {hp.n_ff_exp, hp.n_expert}, TensorRole::kBias);
      add("ffn_up_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnUpExps);
      add("ffn_up_exps.bias", {hp.n_ff_exp, hp.n_expert}, TensorRole::kBias);
      add("ffn_down_exps.weight", {hp.n_ff_exp, d, hp.n_expert}, TensorRole::kFfnDownExps);
      add("ffn_down_exps.bias", {d, hp.n_expert}, TensorRole::kBias);
      continue;
    }
    if (hp.arch == Architecture::kLlama4) {
      // Every n_moe_layer_step-th layer is MoE (routed experts + one shared expert), the others
      // dense.
      add("ffn_norm.weight", {d}, TensorRole::kNorm);
      const bool moe = hp.n_moe_layer_step > 0 && (il + 1) % hp.n_moe_layer_step == 0;
      if (!moe) {
        add("ffn_gate.weight", {d, ls.n_ff}, TensorRole::kFfnGate);
        add("ffn_up.weight", {d, ls.n_ff}, TensorRole::kFfnUp);
        add("ffn_down.weight", {ls.n_ff, d}, TensorRole::kFfnDown);
        continue;
      }
      add("ffn_gate_inp.weight", {d, hp.n_expert}, TensorRole::kFfnGateInp);
      add("ffn_gate_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnGateExps);
      add("ffn_up_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnUpExps);
      add("ffn_down_exps.weight", {hp.n_ff_exp, d, hp.n_expert}, TensorRole::kFfnDownExps);
      add("ffn_gate_shexp.weight", {d, hp.n_ff_exp}, TensorRole::kFfnGate);
      add("ffn_up_shexp.weight", {d, hp.n_ff_exp}, TensorRole::kFfnUp);
      add("ffn_down_shexp.weight", {hp.n_ff_exp, d}, TensorRole::kFfnDown);
      continue;
    }
    if (hp.arch == Architecture::kGlm4Moe) {
      // FFN input norm named post_attention_norm; dense lead layers, then routed + shared experts.
      add("post_attention_norm.weight", {d}, TensorRole::kNorm);
      add_dense_lead_or_moe(false);
      continue;
    }
    add("ffn_norm.weight", {d}, TensorRole::kNorm);
    if (gemma4) {
      // Dense MLP in every layer; MoE layers add experts beside it (fused gate|up per expert,
      // gate rows first), with their own norms and scales.
      add("ffn_gate.weight", {d, ls.n_ff}, TensorRole::kFfnGate);
      add("ffn_up.weight", {d, ls.n_ff}, TensorRole::kFfnUp);
      add("ffn_down.weight", {ls.n_ff, d}, TensorRole::kFfnDown);
      if (hp.is_moe()) {
        add("ffn_gate_inp.weight", {d, hp.n_expert}, TensorRole::kFfnGateInp);
        add("ffn_gate_inp.scale", {d}, TensorRole::kNorm);
        add("ffn_gate_up_exps.weight", {d, 2 * hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnUpExps);
        add("ffn_down_exps.weight", {hp.n_ff_exp, d, hp.n_expert}, TensorRole::kFfnDownExps);
        add("ffn_down_exps.scale", {hp.n_expert}, TensorRole::kNorm);
        add("pre_ffw_norm_2.weight", {d}, TensorRole::kNorm);
        add("post_ffw_norm_1.weight", {d}, TensorRole::kNorm);
        add("post_ffw_norm_2.weight", {d}, TensorRole::kNorm);
      }
      add("post_ffw_norm.weight", {d}, TensorRole::kNorm);
      if (hp.n_embd_per_layer > 0) {
        add("inp_gate.weight", {d, hp.n_embd_per_layer}, TensorRole::kFfnGate);
        add("proj.weight", {hp.n_embd_per_layer, d}, TensorRole::kFfnDown);
        add("post_norm.weight", {d}, TensorRole::kNorm);
      }
      add("layer_output_scale.weight", {1}, TensorRole::kNorm, true);
      continue;
    }
    if (hp.is_moe()) {
      add("ffn_gate_inp.weight", {d, hp.n_expert}, TensorRole::kFfnGateInp);
      add("ffn_gate_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnGateExps);
      add("ffn_up_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnUpExps);
      add("ffn_down_exps.weight", {hp.n_ff_exp, d, hp.n_expert}, TensorRole::kFfnDownExps);
    } else if (traits.fused_gate_up) {
      add("ffn_up.weight", {d, 2 * ls.n_ff}, TensorRole::kFfnUp);
      add("ffn_down.weight", {ls.n_ff, d}, TensorRole::kFfnDown);
    } else {
      add("ffn_gate.weight", {d, ls.n_ff}, TensorRole::kFfnGate);
      add("ffn_up.weight", {d, ls.n_ff}, TensorRole::kFfnUp);
      add("ffn_down.weight", {ls.n_ff, d}, TensorRole::kFfnDown);
    }
    if (traits.post_norms) add("post_ffw_norm.weight", {d}, TensorRole::kNorm);
  }
  // lfm2 names its final norm token_embd_norm.
  out.push_back({hp.arch == Architecture::kLfm2 ? "token_embd_norm.weight" : "output_norm.weight",
                 {d},
                 TensorRole::kNorm,
                 -1});
  if (!tied_output && !traits.never_has_output) {
    out.push_back({"output.weight", {d, hp.n_vocab}, TensorRole::kOutput, -1});
  }
  return out;
}

bool role_from_tensor_name(const std::string& name, TensorRole* role, int* layer) {
  std::string_view n = name;
  *layer = -1;
  if (n.substr(0, 4) == "blk.") {
    n.remove_prefix(4);
    int il = 0;
    auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), il);
    if (ec != std::errc() || ptr == n.data() || *ptr != '.') return false;
    *layer = il;
    n.remove_prefix(static_cast<size_t>(ptr - n.data()) + 1);
  }
  struct Entry {
    std::string_view name;
    TensorRole role;
  };
  static constexpr Entry kEntries[] = {
      {"token_embd.weight", TensorRole::kTokenEmbedding},
      {"output.weight", TensorRole::kOutput},
      {"rope_freqs.weight", TensorRole::kRopeFreqs},
      {"attn_q.weight", TensorRole::kAttnQ},
      {"attn_k.weight", TensorRole::kAttnK},
      {"attn_v.weight", TensorRole::kAttnV},
      {"attn_qkv.weight", TensorRole::kAttnQkv},
      {"attn_output.weight", TensorRole::kAttnOutput},
      {"ffn_gate.weight", TensorRole::kFfnGate},
      {"ffn_up.weight", TensorRole::kFfnUp},
      {"ffn_down.weight", TensorRole::kFfnDown},
      {"ffn_gate_inp.weight", TensorRole::kFfnGateInp},
      {"ffn_gate_exps.weight", TensorRole::kFfnGateExps},
      {"ffn_up_exps.weight", TensorRole::kFfnUpExps},
      {"ffn_down_exps.weight", TensorRole::kFfnDownExps},
      // Shared experts and multi-head latent attention (DeepSeek).
      {"ffn_gate_shexp.weight", TensorRole::kFfnGate},
      {"ffn_up_shexp.weight", TensorRole::kFfnUp},
      {"ffn_down_shexp.weight", TensorRole::kFfnDown},
      {"attn_q_a.weight", TensorRole::kAttnQ},
      {"attn_q_b.weight", TensorRole::kAttnQ},
      {"attn_kv_a_mqa.weight", TensorRole::kAttnK},
      {"attn_k_b.weight", TensorRole::kAttnK},
      {"attn_v_b.weight", TensorRole::kAttnV},
      // Gated delta-net (qwen35): the convolution taps stay F32 like the norms; the shared
      // expert's gate vector stays F32 like the router.
      {"attn_gate.weight", TensorRole::kAttnQ},
      {"ssm_alpha.weight", TensorRole::kAttnQ},
      {"ssm_beta.weight", TensorRole::kAttnQ},
      {"ssm_out.weight", TensorRole::kAttnOutput},
      {"ssm_conv1d.weight", TensorRole::kNorm},
      {"ssm_a", TensorRole::kNorm},
      {"ffn_gate_inp_shexp.weight", TensorRole::kFfnGateInp},
      {"shortconv.in_proj.weight", TensorRole::kAttnQkv},
      {"shortconv.out_proj.weight", TensorRole::kAttnOutput},
      {"shortconv.conv.weight", TensorRole::kNorm},  // convolution kernel: stays F32
  };
  for (const Entry& e : kEntries) {
    if (n == e.name) {
      *role = e.role;
      return true;
    }
  }
  if (n.ends_with("norm.weight")) {
    *role = TensorRole::kNorm;
    return true;
  }
  if (n.ends_with(".bias")) {
    *role = TensorRole::kBias;
    return true;
  }
  return false;
}

}  // namespace ember
