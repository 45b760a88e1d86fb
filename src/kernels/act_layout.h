// Layout of converted activations (the buffer convert_activations fills), shared by the scalar
// and SIMD kernels.
//
// Each token's row starts at a multiple of `stride` bytes (a multiple of 64) from the buffer
// start, and holds, depending on the activation kind the weight type pairs with:
//   kF32  : float x[cols].
//   kQ8_0 : int8 q[cols] (padded to 64 bytes), float d[nb] (the fp16-rounded block scale, as the
//           reference stores it), int32 bias[nb] = -offset * sum(q of the block), where offset is
//           what the SIMD kernels add to the weight codes to make them unsigned (8 for Q4_0, 16
//           for Q5_0, 12 for MXFP4, 128 for Q8_0 and IQ4_NL), nb = cols / 32.
//   kQ8_1 : int8 q[cols], float d[nb], float s[nb] (fp16-rounded d * sum(q), as stored by the
//           reference's Q8_1), nb = cols / 32.
//   kQ8_K : int8 q[cols], float d[nb] (exact float), int16 bsum16[nb][16] (sums of 16 codes),
//           int16 bsum32[nb][8] (sums of 32 codes), nb = cols / 256.
// The values (q, d, s, bsum16) equal those of the reference formats Q8_0 / Q8_1 / Q8_K bit for
// bit; only their arrangement differs (arrays instead of interleaved blocks, so that SIMD kernels
// can broadcast four codes at a time and read scales of consecutive blocks contiguously).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/tensor_type.h"

namespace ember::kernels {

enum class ActKind : uint8_t { kF32, kQ8_0, kQ8_1, kQ8_K };

struct ActLayout {
  ActKind kind = ActKind::kF32;
  int64_t cols = 0;
  int64_t n_blocks = 0;     // activation blocks per token (0 for kF32)
  size_t d_offset = 0;      // float d[n_blocks]
  size_t aux_offset = 0;    // kQ8_0: int32 bias[]; kQ8_1: float s[]; kQ8_K: int16 bsum16[][16]
  size_t aux2_offset = 0;   // kQ8_K: int16 bsum32[][8]
  size_t stride = 0;        // bytes per token
  int32_t code_offset = 0;  // kQ8_0: the weight code offset folded into bias[]
};

// The activation kind of products with `weight_type` weights (kF32 for F32/F16/BF16).
ActKind act_kind(TensorType weight_type);

// The layout for `cols` activations per token. `cols` must be a valid row length of the type.
ActLayout act_layout(TensorType weight_type, int64_t cols);

inline size_t round_up64(size_t n) {
  return (n + 63) & ~static_cast<size_t>(63);
}

}  // namespace ember::kernels
