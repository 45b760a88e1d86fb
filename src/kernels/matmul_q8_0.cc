// Products with Q8_0 weights in the reference implementation's order (see matmul_internal.h):
// the scalar definition, and the dispatch to the x86 kernel that computes the same bits.
#include <cmath>
#include <cstring>

#include "kernels/act_layout.h"
#include "kernels/matmul_internal.h"
#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"

#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/x86/kernels_x86.h"
#endif

namespace ember::kernels {

float q8_0_reduce8(const float* a) {
  const float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
  return (t0 + t2) + (t1 + t3);
}

float q8_0_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks) {
  float acc[8] = {};
  for (int64_t b = 0; b < n_blocks; ++b) {
    const auto blk = load_block<BlockQ8_0>(w, b);
    const int8_t* x = q + b * kQK8_0;
    float db;
    std::memcpy(&db, d + 4 * static_cast<size_t>(b), 4);
    const float s = fp16_to_fp32(blk.d) * db;
    for (int l = 0; l < 8; ++l) {
      int32_t sum = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) sum += static_cast<int32_t>(blk.qs[k]) * x[k];
      acc[l] = std::fma(s, static_cast<float>(sum), acc[l]);
    }
  }
  return q8_0_reduce8(acc);
}

void matmul_q8_0(Isa isa, const Weights& w, const void* act, int64_t n_tokens, float* y,
                 int64_t ldy, int64_t row_begin, int64_t row_end) {
  const auto* a = static_cast<const uint8_t*>(act);
#if defined(__x86_64__) || defined(_M_X64)
  if (isa >= Isa::kAvx2) {
    x86::avx2_q8_0_lanes(w, a, n_tokens, y, ldy, row_begin, row_end);
    return;
  }
#else
  (void)isa;
#endif
  const ActLayout l = act_layout(TensorType::kQ8_0, w.cols);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* wr = wbase + static_cast<size_t>(r) * w.row_bytes;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const uint8_t* at = a + static_cast<size_t>(t) * l.stride;
      y[t * ldy + r] =
          q8_0_dot_lanes(wr, reinterpret_cast<const int8_t*>(at), at + l.d_offset, l.n_blocks);
    }
  }
}

}  // namespace ember::kernels
