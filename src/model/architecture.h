// The model architectures ember knows, and what distinguishes their tensor layouts.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ember {

enum class Architecture {
  kLlama,      // Llama 2/3/3.x, Mistral, SmolLM (MoE variants with ffn_*_exps)
  kQwen2,      // Q/K/V biases
  kQwen3,      // Q/K RMS norms
  kQwen3Moe,   // Q/K norms + mixture of experts
  kPhi3,       // fused QKV and fused gate+up
  kGemma2,     // post-norms, GELU, soft-capping, alternating sliding window
  kGemma3,     // Q/K norms, local/global layers
  kGemma4,     // per-layer shapes, shared KV layers, per-layer embeddings, dense + expert FFN
  kMistral3,   // llama layout, YaRN without magnitude change, attention temperature
  kSmollm3,    // llama layout, no RoPE on every 4th layer
  kGranite,    // llama layout, embedding / residual / attention / logit multipliers
  kGptOss,     // attention sinks, biases, MoE with biased top-k and OAI SwiGLU
  kGlm4Moe,    // QKV biases, half-head RoPE, dense lead layers, sigmoid-gated MoE + shared expert
  kLlama4,     // interleaved MoE (weighted input, shared expert), NoPE layers, Q/K norm after RoPE
  kDeepseek2,  // multi-head latent attention, dense lead layers, grouped sigmoid MoE + shared expert
  kLfm2,       // hybrid: gated short-convolution layers (recurrent state) and Q/K-normed attention
  kQwen35,     // hybrid: gated delta-net (recurrent) layers + gated full-attention layers
  kQwen35Moe,  // qwen35 with routed experts + a sigmoid-gated shared expert
  // Encoders (sentence embeddings, rerankers): bidirectional, post-LayerNorm; their own weights
  // (model/encoder_weights.h) and forward pass (runtime/encoder.h).
  kBert,       // BGE, MiniLM, E5, GTE: absolute positions, token types, GELU, biases
  kNomicBert,  // nomic-embed-text: fused QKV, NEOX RoPE, SwiGLU, no linear biases
};

// What a layer of the architecture contains, beyond the common attention + FFN blocks.
struct ArchitectureTraits {
  Architecture arch;
  std::string_view name;  // `general.architecture` value, also the metadata key prefix
  bool qkv_bias;          // attn_{q,k,v}.bias
  bool qk_norm;           // attn_{q,k}_norm over each head
  bool fused_qkv;         // attn_qkv instead of attn_q/k/v
  bool fused_gate_up;     // ffn_up holds [gate; up], no ffn_gate
  bool post_norms;        // post_attention_norm + post_ffw_norm
  bool always_moe;        // every layer is a mixture of experts
  bool tied_by_default;   // synthesized models share token_embd with the output
  bool never_has_output;  // the architecture always ties (no output.weight)
};

const ArchitectureTraits& architecture_traits(Architecture arch);
// True for the encoder architectures (bert, nomic-bert), which only embed and rerank.
bool is_encoder(Architecture arch);
// Parses a `general.architecture` value; nullopt for architectures ember cannot run.
std::optional<Architecture> architecture_from_name(std::string_view name);
// The names ember runs, comma-separated (for error messages).
std::string supported_architecture_names();

}  // namespace ember
