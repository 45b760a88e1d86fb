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
ModelHParams default_synth_hparams(Architecture arch);

// Writes a model with deterministic pseudo-random weights (the same seed gives the same bytes,
// whatever the thread count) and a tokenizer: the one from `vocab_from`, or a generated
// SentencePiece-style vocabulary with byte fallback.
Status synthesize_model(const SynthOptions& options, const std::string& out_path);

}  // namespace ember
