// Products with F32 weights in the reference implementation's summation order (see
// matmul_internal.h). The reference's CPU backend multiplies F32 matrices with a tiled float
// GEMM when the shapes allow it and with its vector dot product otherwise; both keep 16 partial
// sums in vector lanes. A quantized model's F32 matrices (routers, Gemma 4's per-layer
// projection) feed 8-bit-rounded products downstream, so a different order there moves
// rounding decisions and shows up in the logits.
#include <cmath>

#include "kernels/act_layout.h"
#include "kernels/matmul_internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/x86/kernels_x86.h"
#endif

namespace ember::kernels {

bool f32_gemm_order(const Weights& w) {
  return w.cols % 16 == 0 && w.rows % 4 == 0;
}

float f32_reduce16(const float* a) {
  float t8[8], t4[4];
  for (int l = 0; l < 8; ++l) t8[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
  return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

float f32_dot_gemm_order(const float* w, const float* x, int64_t cols) {
  float acc[16] = {};
  for (int64_t c = 0; c < cols; c += 16) {
    for (int l = 0; l < 16; ++l) acc[l] = std::fma(w[c + l], x[c + l], acc[l]);
  }
  return f32_reduce16(acc);
}

float f32_dot_vec_order(const float* w, const float* x, int64_t cols) {
  const int64_t np = cols & ~int64_t{63};
  float acc[4][16] = {};
  for (int64_t i = 0; i < np; i += 64) {
    for (int j = 0; j < 4; ++j) {
      for (int l = 0; l < 16; ++l) {
        const int64_t e = i + 16 * j + l;
        acc[j][l] = std::fma(w[e], x[e], acc[j][l]);
      }
    }
  }
  for (int l = 0; l < 16; ++l) {
    acc[0][l] = acc[0][l] + acc[2][l];
    acc[1][l] = acc[1][l] + acc[3][l];
    acc[0][l] = acc[0][l] + acc[1][l];
  }
  float sum = f32_reduce16(acc[0]);
  for (int64_t i = np; i < cols; ++i) sum = std::fma(w[i], x[i], sum);
  return sum;
}

namespace {

F32GemmKernel f32_gemm_kernel(Isa isa) {
#if defined(__x86_64__) || defined(_M_X64)
  if (isa >= Isa::kAvx512) return x86::avx512_f32_gemm;
  if (isa >= Isa::kAvx2) return x86::avx2_f32_gemm;
#else
  (void)isa;
#endif
  return nullptr;
}

}  // namespace

void matmul_f32(Isa isa, const Weights& w, const void* act, int64_t n_tokens, float* y, int64_t ldy,
                int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(TensorType::kF32, w.cols);
  const auto* x = static_cast<const float*>(act);
  const auto x_stride = static_cast<int64_t>(l.stride / sizeof(float));
  const bool gemm = f32_gemm_order(w);
  if (gemm) {
    if (F32GemmKernel k = f32_gemm_kernel(isa)) {
      k(w, x, x_stride, n_tokens, y, ldy, row_begin, row_end);
      return;
    }
  }
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const auto* wr = reinterpret_cast<const float*>(wbase + static_cast<size_t>(r) * w.row_bytes);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x + t * x_stride;
      y[t * ldy + r] =
          gemm ? f32_dot_gemm_order(wr, xt, w.cols) : f32_dot_vec_order(wr, xt, w.cols);
    }
  }
}

}  // namespace ember::kernels
