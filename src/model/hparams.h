// Model hyper-parameters, read from and written to the `<arch>.*` GGUF metadata keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ember/status.h"
#include "model/architecture.h"

namespace ember {

class GgufFile;
class GgufWriter;

enum class RopeScalingType { kNone, kLinear, kYarn, kLlama3 };

// The most expert groups a model may declare (<arch>.expert_group_count; DeepSeek V3 has 8).
inline constexpr int64_t kMaxExpertGroups = 64;

struct ModelHParams {
  Architecture arch = Architecture::kLlama;
  int64_t n_ctx_train = 2048;   // <arch>.context_length
  int64_t n_embd = 0;           // <arch>.embedding_length
  int64_t n_layer = 0;          // <arch>.block_count
  int64_t n_head = 0;           // <arch>.attention.head_count
  int64_t n_head_kv = 0;        // <arch>.attention.head_count_kv (default n_head)
  int64_t n_ff = 0;             // <arch>.feed_forward_length (dense FFN width)
  int64_t n_vocab = 0;          // tokenizer.ggml.tokens length (or <arch>.vocab_size)
  int64_t head_dim_k = 0;       // <arch>.attention.key_length (default n_embd / n_head)
  int64_t head_dim_v = 0;       // <arch>.attention.value_length (default n_embd / n_head)
  int64_t n_rot = 0;            // <arch>.rope.dimension_count (default head_dim_k)
  float rope_freq_base = 10000.0f;      // <arch>.rope.freq_base
  float rope_freq_base_swa = 10000.0f;  // sliding-window layers (<arch>.rope.freq_base_swa, or
                                        // <arch>.rope.local_freq_base)
  RopeScalingType rope_scaling = RopeScalingType::kNone;  // <arch>.rope.scaling.type
  float rope_scaling_factor = 1.0f;                        // <arch>.rope.scaling.factor
  int64_t rope_scaling_orig_ctx = 0;  // <arch>.rope.scaling.original_context_length
  float rope_attn_factor = 1.0f;       // <arch>.rope.scaling.attn_factor (YaRN / LongRoPE)
  float yarn_beta_fast = 32.0f;        // <arch>.rope.scaling.yarn_beta_fast
  float yarn_beta_slow = 1.0f;         // <arch>.rope.scaling.yarn_beta_slow
  float norm_eps = 1e-5f;       // <arch>.attention.layer_norm_rms_epsilon
  int64_t n_expert = 0;         // <arch>.expert_count (0 = dense)
  int64_t n_expert_used = 0;    // <arch>.expert_used_count
  int64_t n_ff_exp = 0;         // <arch>.expert_feed_forward_length (default n_ff)
  int64_t sliding_window = 0;   // <arch>.attention.sliding_window (0 = none)
  int64_t sliding_window_pattern = 0;  // <arch>.attention.sliding_window_pattern (0 = arch default)
  float attn_softcap = 0.0f;    // <arch>.attn_logit_softcapping (0 = off)
  float final_softcap = 0.0f;   // <arch>.final_logit_softcapping (0 = off)
  // Gemma 4 style per-layer shapes. Arrays in the file (head_count_kv, feed_forward_length,
  // sliding_window_pattern) and the sliding layers' own head / RoPE sizes.
  int64_t head_dim_k_swa = 0;    // <arch>.attention.key_length_swa (0 = head_dim_k)
  int64_t head_dim_v_swa = 0;    // <arch>.attention.value_length_swa
  int64_t n_rot_swa = 0;         // <arch>.rope.dimension_count_swa
  int64_t shared_kv_layers = 0;  // <arch>.attention.shared_kv_layers: the last N layers own no
                                 // K/V and read an earlier layer's cache
  int64_t n_embd_per_layer = 0;  // <arch>.embedding_length_per_layer_input (0 = none)
  std::vector<int64_t> n_head_kv_arr;  // per layer when the file stores an array (else empty)
  std::vector<int64_t> n_ff_arr;
  std::vector<uint8_t> swa_layers;  // per layer (array form of sliding_window_pattern)
  // DeepSeek/GLM-style MoE: the first layers are dense, shared experts beside the routed ones,
  // and trailing multi-token-prediction layers that the forward pass skips (n_layer excludes
  // them).
  int64_t n_layer_dense_lead = 0;  // <arch>.leading_dense_block_count
  int64_t n_expert_shared = 0;     // <arch>.expert_shared_count
  int64_t n_layer_nextn = 0;       // <arch>.nextn_predict_layers
  int64_t n_moe_layer_step = 0;    // <arch>.interleave_moe_layer_step (Llama 4: every k-th layer)
  // Expert groups (DeepSeek V3): the experts split into n_expert_groups groups of equal size; a
  // token's experts are chosen only from its n_group_used best groups (0 = no groups).
  int64_t n_expert_groups = 0;  // <arch>.expert_group_count
  int64_t n_group_used = 0;     // <arch>.expert_group_used_count
  // Multi-head latent attention (DeepSeek V2/V3, "absorbed" form): queries go through a rank
  // n_lora_q bottleneck (0 = one attn_q matrix), keys and values through a shared latent of
  // n_lora_kv values plus one RoPE key of n_rot values. The cache holds [latent | rope key] as one
  // KV head (head_dim_k = n_lora_kv + n_rot, head_dim_v = n_lora_kv); head_dim_k_mla /
  // head_dim_v_mla are the per-head sizes of the decompressed attention (nope + rope, and V).
  int64_t n_lora_q = 0;        // <arch>.attention.q_lora_rank
  int64_t n_lora_kv = 0;       // <arch>.attention.kv_lora_rank (> 0: MLA)
  int64_t head_dim_k_mla = 0;  // <arch>.attention.key_length_mla
  int64_t head_dim_v_mla = 0;  // <arch>.attention.value_length_mla
  int64_t n_ff_shexp = 0;  // <arch>.expert_shared_feed_forward_length (qwen35moe shared expert)
  // Gated delta-net hybrids (qwen35): every full_attn_interval-th layer is full attention, the
  // others gated delta-net layers with a recurrent state per sequence. Delta-net shapes:
  // q/k heads of ssm_d_state values (ssm_n_group of them), v heads of ssm_d_inner / ssm_dt_rank
  // values (ssm_dt_rank of them), a causal convolution of ssm_d_conv taps over q|k|v.
  int64_t full_attn_interval = 0;  // <arch>.full_attention_interval (0 = no delta-net layers)
  int64_t ssm_d_conv = 0;          // <arch>.ssm.conv_kernel
  int64_t ssm_d_state = 0;         // <arch>.ssm.state_size
  int64_t ssm_n_group = 0;         // <arch>.ssm.group_count
  int64_t ssm_dt_rank = 0;         // <arch>.ssm.time_step_rank
  int64_t ssm_d_inner = 0;         // <arch>.ssm.inner_size
  // Hybrid / recurrent models (runtime/recurrent_state.h). Per layer, the floats of state each
  // sequence keeps: a "conv" part (the last conv_kernel - 1 inputs of a causal depthwise
  // convolution, [conv_kernel - 1][channels]) and an optional "ssm" part (a matrix state, e.g.
  // delta-net's [n_v_heads][d_k][d_v]). Empty vectors: no recurrent layer. A layer with a
  // nonzero size is recurrent: it owns no K/V cache and runs its architecture's recurrent block
  // instead of attention. Filled by read_hparams for each architecture that has such layers.
  std::vector<int64_t> recurrent_conv;
  std::vector<int64_t> recurrent_ssm;
  int64_t conv_kernel = 0;  // <arch>.shortconv.l_cache (lfm2), <arch>.ssm.conv_kernel (qwen35)

  // The shape of layer il (uniform unless the arrays above say otherwise).
  struct LayerShape {
    int64_t n_head_kv = 0;
    int64_t head_dim_k = 0;
    int64_t head_dim_v = 0;
    int64_t n_rot = 0;
    int64_t n_ff = 0;
    bool sliding = false;  // per swa_layers (architectures with a fixed pattern: ArchConfig)
    int64_t kv_layer = 0;  // whose cache the layer attends to (itself unless shared)
  };
  LayerShape layer_shape(int64_t il) const;
  // True for a gated delta-net layer (full_attn_interval > 0 and (il + 1) % interval != 0).
  bool is_delta_net(int64_t il) const {
    return full_attn_interval > 0 && (il + 1) % full_attn_interval != 0;
  }
  // Delta-net sizes: conv channels (q | k | v), value head size, and the floats of one
  // sequence's state per delta-net layer: the last ssm_d_conv - 1 conv inputs of every channel,
  // and ssm_dt_rank matrices of [value head size][ssm_d_state].
  int64_t ssm_conv_channels() const { return 2 * ssm_n_group * ssm_d_state + ssm_d_inner; }
  int64_t ssm_head_v_dim() const { return ssm_dt_rank > 0 ? ssm_d_inner / ssm_dt_rank : 0; }
  int64_t ssm_conv_state_size() const { return (ssm_d_conv - 1) * ssm_conv_channels(); }
  int64_t ssm_state_size() const { return ssm_dt_rank * ssm_head_v_dim() * ssm_d_state; }
  // Largest per-layer K / V / Q+K+V widths and FFN size over all layers.
  int64_t max_n_embd_k_gqa() const;
  int64_t max_n_embd_v_gqa() const;
  int64_t max_n_qkv() const;
  int64_t max_n_ff() const;

  // Whether layer il keeps recurrent state (see recurrent_conv); whether any layer does.
  bool is_recurrent(int64_t il) const {
    const auto i = static_cast<size_t>(il);
    return (i < recurrent_conv.size() && recurrent_conv[i] > 0) ||
           (i < recurrent_ssm.size() && recurrent_ssm[i] > 0);
  }
  bool has_recurrent() const;

  int64_t n_embd_q() const { return n_head * head_dim_k; }
  int64_t n_embd_k_gqa() const { return n_head_kv * head_dim_k; }
  int64_t n_embd_v_gqa() const { return n_head_kv * head_dim_v; }
  bool is_moe() const { return n_expert > 0; }
  bool is_mla() const { return n_lora_kv > 0; }
  // MLA: the per-head query part without RoPE (multiplied into the latent by attn_k_b).
  int64_t head_dim_nope_mla() const { return head_dim_k_mla - n_rot; }

  // Checks ranges and consistency (positive sizes, n_head % n_head_kv == 0, experts used <=
  // experts, ...), with a message naming the offending key.
  Status validate() const;
};

// Reads the hyper-parameters of a model file. Errors: unknown architecture (named), a missing
// required key, a key of the wrong type, inconsistent values.
Result<ModelHParams> read_hparams(const GgufFile& file);

// Writes `general.architecture` and every `<arch>.*` key that describes `hp`.
void write_hparams(const ModelHParams& hp, GgufWriter& writer);

}  // namespace ember
