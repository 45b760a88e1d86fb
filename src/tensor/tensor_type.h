// Tensor element types as numbered in GGUF files (the ggml type ids), and their block layout.
//
// A quantized type stores a row as a sequence of fixed-size blocks; `block_size` elements are
// packed into `type_size` bytes. A row of n elements needs n % block_size == 0 and occupies
// n / block_size * type_size bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ember/status.h"

namespace ember {

// Values are the ggml type ids stored in GGUF tensor infos; never renumber.
enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;  // llama.cpp's spelling, e.g. "q4_K", "iq4_nl", "bf16"
  int64_t block_size;     // elements per block (1 for plain types)
  size_t type_size;       // bytes per block
  bool quantized;         // block-quantized (not a plain float/int type)
  // ember can dequantize (read) this type. Types that are known but not supported still have a
  // layout so a file containing them can be inspected; loading their data gives an error.
  bool supported;
};

// Traits of a known type id, or nullptr when the id is not a ggml type at all.
const TensorTypeTraits* tensor_type_traits(uint32_t raw_type);
inline const TensorTypeTraits* tensor_type_traits(TensorType type) {
  return tensor_type_traits(static_cast<uint32_t>(type));
}

// "q4_K" for kQ4_K; "type 99" for an unknown id.
std::string tensor_type_name(TensorType type);

// Parses a type name case-insensitively ("Q4_K", "q4_k", "bf16", "IQ4_XS").
std::optional<TensorType> tensor_type_from_name(std::string_view name);

// Bytes of one row of `n_per_row` elements, or an error when the type is unknown or n_per_row is
// not a multiple of the block size, or the size overflows.
Result<size_t> tensor_row_size(TensorType type, int64_t n_per_row);

// Returns ok when `type` is a type ember can read (dequantize), else an error naming the type.
Status check_tensor_type_supported(TensorType type);

}  // namespace ember
