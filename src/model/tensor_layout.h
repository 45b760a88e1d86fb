// The tensors a model of a given architecture and shape consists of: names as in GGUF files
// (llama.cpp's naming) and shapes with the row length first (ggml's ne order).
//
// Used to synthesize models, to check a loaded model for missing or mis-shaped tensors, and to
// choose per-tensor types when quantizing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/hparams.h"

namespace ember {

// What a tensor does; quantization recipes and weight initialisation depend on it.
enum class TensorRole {
  kTokenEmbedding,  // token_embd.weight            [n_embd, n_vocab]
  kOutput,          // output.weight                [n_embd, n_vocab]
  kNorm,            // any *_norm.weight (1-D)
  kBias,            // attn_{q,k,v}.bias (1-D)
  kRopeFreqs,       // rope_freqs.weight (1-D)
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnQkv,         // fused q|k|v rows
  kAttnOutput,
  kFfnGate,
  kFfnUp,           // also fused gate|up for phi3
  kFfnDown,
  kFfnGateInp,      // MoE router [n_embd, n_expert]
  kFfnGateExps,     // [n_embd, n_ff_exp, n_expert]
  kFfnUpExps,
  kFfnDownExps,     // [n_ff_exp, n_embd, n_expert]
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // shape[0] = row length
  TensorRole role;
  int layer = -1;              // block index, -1 for global tensors
  bool optional = false;       // may be absent from a file (checked only when present)
};

// True for 1-D roles that are kept in F32 (norms, biases, rope factors) and for the MoE router,
// which llama.cpp also never quantizes.
bool role_stays_f32(TensorRole role);

// Every tensor of a model with these hyper-parameters. `tied_output` = no output.weight (the
// token embedding is reused for the output projection).
std::vector<TensorSpec> model_tensor_layout(const ModelHParams& hp, bool tied_output);

// The tensors of an encoder (bert, nomic-bert; model/encoder_weights.h), without the optional
// classification head. Called by model_tensor_layout for those architectures.
std::vector<TensorSpec> encoder_tensor_layout(const ModelHParams& hp);

// Infers a tensor's role from its GGUF name (for files not made by ember); layer is parsed from
// "blk.N.". Unknown names return false.
bool role_from_tensor_name(const std::string& name, TensorRole* role, int* layer);

}  // namespace ember
