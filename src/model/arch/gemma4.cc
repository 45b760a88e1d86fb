// gemma4: Gemma 4 (dense E2B/E4B style and the 26B-A4B mixture of experts). Relative to gemma3:
//  - per-layer shapes: sliding layers have their own head size, KV head count and RoPE size
//    (key_length_swa, rope.dimension_count_swa), head_count_kv and feed_forward_length may be
//    arrays, and sliding_window_pattern is one boolean per layer;
//  - attention scale 1 (Q and K are RMS-normed with weights, V without), NeoX RoPE with base
//    freq_base_swa on sliding layers and rope_freqs (proportional RoPE) on full layers only;
//  - the last shared_kv_layers layers compute only Q and attend to the cache of the last earlier
//    layer of their kind (hparams LayerShape::kv_layer);
//  - per-layer embeddings (embedding_length_per_layer_input), layer_output_scale, and in MoE
//    layers a dense MLP beside the experts (runtime/ffn.cc, runtime/per_layer.cc);
//  - final logits soft-capped; BOS is always added (tokenizer model "gemma4").
#include <cmath>

#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {

Status configure_gemma4(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kGeluTanh;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  config.rope.freq_scale_swa = 1.0f;
  EMBER_RETURN_IF_ERROR(arch_detail::read_optional_vector(file, "rope_freqs.weight", hp.n_rot / 2,
                                                          config.rope.freq_factors));
  config.rope.freq_factors_global_only = true;
  config.embed_scale = std::sqrt(static_cast<float>(hp.n_embd));
  config.attn_scale = 1.0f;
  config.prescale_q = false;
  config.v_norm = true;
  config.final_softcap = hp.final_softcap;
  config.sliding_window = hp.sliding_window;
  config.moe_norm_topk = true;
  if (!hp.swa_layers.empty()) {
    config.layer_sliding = hp.swa_layers;
  } else if (hp.sliding_window > 0) {
    const int64_t pattern = hp.sliding_window_pattern > 0 ? hp.sliding_window_pattern : 5;
    arch_detail::set_sliding_pattern(hp.n_layer, pattern, config.layer_sliding);
  }
  if (config.sliding_window <= 0) config.layer_sliding.assign(static_cast<size_t>(hp.n_layer), 0);
  return Status::Ok();
}

}  // namespace ember
