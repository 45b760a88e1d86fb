#include "model/tensor_layout.h"

#include <charconv>
#include <string_view>

namespace ember {

bool role_stays_f32(TensorRole role) {
  return role == TensorRole::kNorm || role == TensorRole::kBias ||
         role == TensorRole::kRopeFreqs || role == TensorRole::kFfnGateInp;
}

std::vector<TensorSpec> model_tensor_layout(const ModelHParams& hp, bool tied_output) {
  if (is_encoder(hp.arch)) return encoder_tensor_layout(hp);
  const ArchitectureTraits& traits = architecture_traits(hp.arch);
  const int64_t d = hp.n_embd;
  std::vector<TensorSpec> out;
  out.push_back({"token_embd.weight", {d, hp.n_vocab}, TensorRole::kTokenEmbedding, -1});
  for (int il = 0; il < hp.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    auto add = [&](const std::string& n, std::vector<int64_t> shape, TensorRole role) {
      out.push_back({p + n, std::move(shape), role, il});
    };
    add("attn_norm.weight", {d}, TensorRole::kNorm);
    if (traits.fused_qkv) {
      add("attn_qkv.weight", {d, hp.n_embd_q() + hp.n_embd_k_gqa() + hp.n_embd_v_gqa()},
          TensorRole::kAttnQkv);
    } else {
      add("attn_q.weight", {d, hp.n_embd_q()}, TensorRole::kAttnQ);
      add("attn_k.weight", {d, hp.n_embd_k_gqa()}, TensorRole::kAttnK);
      add("attn_v.weight", {d, hp.n_embd_v_gqa()}, TensorRole::kAttnV);
    }
    if (traits.qkv_bias) {
      add("attn_q.bias", {hp.n_embd_q()}, TensorRole::kBias);
      add("attn_k.bias", {hp.n_embd_k_gqa()}, TensorRole::kBias);
      add("attn_v.bias", {hp.n_embd_v_gqa()}, TensorRole::kBias);
    }
    if (traits.qk_norm) {
      add("attn_q_norm.weight", {hp.head_dim_k}, TensorRole::kNorm);
      add("attn_k_norm.weight", {hp.head_dim_k}, TensorRole::kNorm);
    }
    add("attn_output.weight", {hp.n_head * hp.head_dim_v, d}, TensorRole::kAttnOutput);
    if (traits.post_norms) add("post_attention_norm.weight", {d}, TensorRole::kNorm);
    add("ffn_norm.weight", {d}, TensorRole::kNorm);
    if (hp.is_moe()) {
      add("ffn_gate_inp.weight", {d, hp.n_expert}, TensorRole::kFfnGateInp);
      add("ffn_gate_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnGateExps);
      add("ffn_up_exps.weight", {d, hp.n_ff_exp, hp.n_expert}, TensorRole::kFfnUpExps);
      add("ffn_down_exps.weight", {hp.n_ff_exp, d, hp.n_expert}, TensorRole::kFfnDownExps);
    } else if (traits.fused_gate_up) {
      add("ffn_up.weight", {d, 2 * hp.n_ff}, TensorRole::kFfnUp);
      add("ffn_down.weight", {hp.n_ff, d}, TensorRole::kFfnDown);
    } else {
      add("ffn_gate.weight", {d, hp.n_ff}, TensorRole::kFfnGate);
      add("ffn_up.weight", {d, hp.n_ff}, TensorRole::kFfnUp);
      add("ffn_down.weight", {hp.n_ff, d}, TensorRole::kFfnDown);
    }
    if (traits.post_norms) add("post_ffw_norm.weight", {d}, TensorRole::kNorm);
  }
  out.push_back({"output_norm.weight", {d}, TensorRole::kNorm, -1});
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
