// Tensor layout of the encoder architectures, as llama.cpp's converter writes them.
#include "model/tensor_layout.h"

namespace ember {

std::vector<TensorSpec> encoder_tensor_layout(const ModelHParams& hp) {
  const bool bert = hp.arch == Architecture::kBert;
  const int64_t d = hp.n_embd;
  std::vector<TensorSpec> out;
  out.push_back({"token_embd.weight", {d, hp.n_vocab}, TensorRole::kTokenEmbedding, -1});
  // Learned tables of few rows stay F32 (the reference never quantizes them).
  out.push_back({"token_types.weight", {d, 2}, TensorRole::kBias, -1});
  if (bert) out.push_back({"position_embd.weight", {d, hp.n_ctx_train}, TensorRole::kBias, -1});
  out.push_back({"token_embd_norm.weight", {d}, TensorRole::kNorm, -1});
  out.push_back({"token_embd_norm.bias", {d}, TensorRole::kBias, -1});
  const int64_t nq = hp.n_embd_q(), nk = hp.n_embd_k_gqa(), nv = hp.n_embd_v_gqa();
  for (int il = 0; il < hp.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    auto add = [&](const std::string& n, std::vector<int64_t> shape, TensorRole role) {
      out.push_back({p + n, std::move(shape), role, il});
    };
    if (bert) {
      add("attn_q.weight", {d, nq}, TensorRole::kAttnQ);
      add("attn_q.bias", {nq}, TensorRole::kBias);
      add("attn_k.weight", {d, nk}, TensorRole::kAttnK);
      add("attn_k.bias", {nk}, TensorRole::kBias);
      add("attn_v.weight", {d, nv}, TensorRole::kAttnV);
      add("attn_v.bias", {nv}, TensorRole::kBias);
    } else {
      add("attn_qkv.weight", {d, nq + nk + nv}, TensorRole::kAttnQkv);
    }
    add("attn_output.weight", {hp.n_head * hp.head_dim_v, d}, TensorRole::kAttnOutput);
    if (bert) add("attn_output.bias", {d}, TensorRole::kBias);
    add("attn_output_norm.weight", {d}, TensorRole::kNorm);
    add("attn_output_norm.bias", {d}, TensorRole::kBias);
    add("ffn_up.weight", {d, hp.n_ff}, TensorRole::kFfnUp);
    if (bert) {
      add("ffn_up.bias", {hp.n_ff}, TensorRole::kBias);
    } else {
      add("ffn_gate.weight", {d, hp.n_ff}, TensorRole::kFfnGate);
    }
    add("ffn_down.weight", {hp.n_ff, d}, TensorRole::kFfnDown);
    if (bert) add("ffn_down.bias", {d}, TensorRole::kBias);
    add("layer_output_norm.weight", {d}, TensorRole::kNorm);
    add("layer_output_norm.bias", {d}, TensorRole::kBias);
  }
  return out;
}

}  // namespace ember
