// Synthesizing random-weight models of any shape, for tests, demos and benchmarks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "ember/status.h"
#include "model/hparams.h"
#include "model/quant_recipe.h"

namespace ember {

struct SynthOptions {
  ModelHParams hparams;        // n_vocab is ignored when vocab_from is set
  QuantPreset preset;          // tensor types (a plain type is a pure preset of that type)
  bool pure = false;
  bool tied_output = false;    // no output.weight
  std::string vocab_from;      // copy tokenizer.* metadata from this GGUF file (any model/vocab)
  uint64_t seed = 42;
  int n_threads = 0;           // 0: all hardware threads
  std::string name = "ember-synth";
  std::function<void(size_t, size_t, const std::string&, TensorType)> progress;
};

// Default hyper-parameters of a small model of `arch` (256 wide, 2 layers, 4 heads, 2 KV heads,
// FFN 512, 4096-token vocabulary; MoE: 8 experts, 2 used), which callers then override.
// Architecture-specific defaults follow the released models' structure:
//  - gemma4: 5 layers sliding, sliding, full, sliding, full (set_gemma4_layers(hp, 3, 2)), sliding
//    layers with half the head size, the last 2 layers sharing the cache of layers 1 and 2,
//    per-layer embeddings of 32, final soft-cap 30;
//  - gpt-oss: 8 experts of 256, 4 used, window 128 on even layers, YaRN x32 from a 4096-token
//    original context (131072 trained), RoPE base 150000.
ModelHParams default_synth_hparams(Architecture arch);

// Gemma 4's per-layer attention layout for hp.n_layer layers: layer il uses full attention when
// il % swa_period == swa_period - 1 or it is the last layer, the sliding window otherwise
// (swa_period 0: every layer full); the sliding layers' head and RoPE size is
// hp.head_dim_k_swa (set to half of hp.head_dim_k when 0). The last `shared_kv_layers` layers
// own no K/V and read the cache of the last earlier layer of their kind; -1 picks the largest
// count up to 2/5 of the layers for which every such layer has one. Errors: a count for which
// some layer has no earlier layer of its kind.
Status set_gemma4_layers(ModelHParams& hp, int64_t swa_period, int64_t shared_kv_layers);

// Writes a model with deterministic pseudo-random weights (the same seed gives the same bytes,
// whatever the thread count) and a tokenizer: the one from `vocab_from`, or a generated
// SentencePiece-style vocabulary with byte fallback. Tensors and `<arch>.*` keys are those the
// released files of the architecture have (model_tensor_layout, write_hparams), optional ones
// included where those files have them (Gemma 4: rope_freqs with proportional RoPE on a quarter
// of the full layers' dimensions, layer_output_scale, attn_v except on the full layers of MoE
// models).
Status synthesize_model(const SynthOptions& options, const std::string& out_path);

}  // namespace ember
