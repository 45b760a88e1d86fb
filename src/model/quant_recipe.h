// Quantization presets ("Q4_K_M", ...) and the per-tensor type choices they imply.
//
// Mixed presets follow the recipes llama.cpp users know: attention-V, FFN-down and the output
// matrix get more bits in some layers, 1-D tensors stay F32, and a tensor whose row length does
// not fit the chosen type's block size falls back to a compatible type. MXFP4_MOE (gpt-oss's
// release format) makes the expert matrices MXFP4 and every other matrix Q8_0.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "model/tensor_layout.h"
#include "tensor/tensor_type.h"

namespace ember {

struct QuantPreset {
  std::string_view name;  // "Q4_K_M"
  uint32_t file_type;     // value for `general.file_type` (llama.cpp's llama_ftype ids)
  TensorType base;        // the type most matrices get
};

// Case-insensitive lookup ("q4_k_m", "Q8_0", "F16"); nullopt for an unknown name.
std::optional<QuantPreset> find_quant_preset(std::string_view name);
// All presets, in the order `ember quantize --help` lists them.
const std::vector<QuantPreset>& quant_presets();

// Facts about the model that the recipes depend on.
struct QuantRecipeContext {
  int64_t n_layer = 0;
  int64_t n_gqa = 1;        // n_head / n_head_kv
  int64_t n_expert = 0;
  bool has_output = true;   // false: token_embd doubles as the output matrix
  bool pure = false;        // every matrix gets the base type (still with block-size fallbacks)
};

// The type for one tensor. `shape[0]` is the row length. 1-D tensors, norms, biases and the MoE
// router return std::nullopt: keep them in their current type (F32 in practice).
std::optional<TensorType> choose_tensor_type(const QuantPreset& preset, const std::string& name,
                                             TensorRole role, int layer,
                                             const std::vector<int64_t>& shape,
                                             const QuantRecipeContext& ctx);

}  // namespace ember
