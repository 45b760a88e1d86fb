// Portable implementations of kernels/ops.h. They emulate the 16-lane vector arithmetic of the
// AVX-512 variant element by element (same fused multiply-adds, same reduction trees), so every
// Isa produces the same bits; this file is also the reference the SIMD variants are tested
// against.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/ops.h"
#include "kernels/ops_common.h"
#include "kernels/rows.h"
#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"

namespace ember::kernels {

float vexp_lane(float x) {
  const float z = std::fma(x, kExpLog2e, kExpShift);
  const float n = z - kExpShift;
  const float b = std::fma(-n, kExpLn2Lo, std::fma(-n, kExpLn2Hi, x));
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : std::numeric_limits<float>::infinity();
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(kExpC0, b, kExpC1), u, std::fma(kExpC2, b, kExpC3)), u,
                           std::fma(kExpC4, b, 1.0f));
  return std::ldexp(j, static_cast<int>(n));
}

namespace {

// Sum of 16 lanes in the tree the vector reductions use: halves, quarters, then pairs.
float reduce16(const float* a) {
  float t8[8], t4[4];
  for (int l = 0; l < 8; ++l) t8[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
  return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

// The double-precision counterpart for 8 lanes.
double reduce8d(const double* a) {
  double t4[4], t2[2];
  for (int l = 0; l < 4; ++l) t4[l] = a[l] + a[l + 4];
  for (int l = 0; l < 2; ++l) t2[l] = t4[l] + t4[l + 2];
  return t2[0] + t2[1];
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  // Two accumulators of 8 doubles: lane l of the first takes elements 16i + l, of the second
  // 16i + 8 + l.
  double acc[2][8] = {};
  for (int64_t i = 0; i < n; ++i) {
    const float sq = x[i] * x[i];
    acc[(i % 16) / 8][i % 8] += static_cast<double>(sq);
  }
  double sum8[8];
  for (int l = 0; l < 8; ++l) sum8[l] = acc[0][l] + acc[1][l];
  const double sum = reduce8d(sum8);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float s = 1.0f / std::sqrt(mean + eps);
  if (w != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * s) * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
  }
}

void scale(float* x, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= a;
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void silu_mul(float* g, const float* u, int64_t n) {
  const int64_t nv = n & ~int64_t{15};
  for (int64_t i = 0; i < nv; ++i) {
    const float x = g[i];
    g[i] = (x / (1.0f + vexp_lane(0.0f - x))) * u[i];
  }
  for (int64_t i = nv; i < n; ++i) {
    const float x = g[i];
    g[i] = (x / (1.0f + std::exp(-x))) * u[i];
  }
}

void gelu_mul(float* g, const float* u, int64_t n) {
  const float* table = gelu_half_table();
  for (int64_t i = 0; i < n; ++i) {
    const float x = g[i];
    if (x <= -10.0f) {
      g[i] = 0.0f;
    } else if (x >= 10.0f) {
      g[i] = x * u[i];
    } else {
      g[i] = table[fp32_to_fp16(x)] * u[i];
    }
  }
}

void softcap(float* x, float cap, int64_t n) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * cap;
}

double softmax(float* x, float max, int64_t n) {
  double sum = 0.0;
  const int64_t nv = n & ~int64_t{15};
  for (int64_t i = 0; i < nv; i += 16) {
    for (int l = 0; l < 16; ++l) x[i + l] = vexp_lane(x[i + l] - max);
    sum += static_cast<double>(reduce16(x + i));
  }
  for (int64_t i = nv; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  return sum;
}

float vmax(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::fmax(m, x[i]);
  return m;
}

// Four 16-lane accumulators over each group of 64, combined (0+2, 1+3, then the two) and
// reduced by the 16-lane tree.
template <typename LoadK>
float dot64(const float* q, int64_t np, LoadK load_k) {
  float acc[4][16] = {};
  for (int64_t i = 0; i < np; i += 64) {
    for (int j = 0; j < 4; ++j) {
      for (int l = 0; l < 16; ++l) {
        const int64_t e = i + 16 * j + l;
        acc[j][l] = std::fma(load_k(e), q[e], acc[j][l]);
      }
    }
  }
  for (int l = 0; l < 16; ++l) {
    acc[0][l] = acc[0][l] + acc[2][l];
    acc[1][l] = acc[1][l] + acc[3][l];
    acc[0][l] = acc[0][l] + acc[1][l];
  }
  return reduce16(acc[0]);
}

float dot_f16(const float* q, const uint16_t* k, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  double sum = np > 0 ? dot64(q, np, [k](int64_t e) { return fp16_to_fp32(k[e]); }) : 0.0;
  for (int64_t i = np; i < n; ++i) sum += static_cast<double>(fp16_to_fp32(k[i]) * q[i]);
  return static_cast<float>(sum);
}

float dot_f32(const float* q, const float* k, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  float sum = np > 0 ? dot64(q, np, [k](int64_t e) { return k[e]; }) : 0.0f;
  for (int64_t i = np; i < n; ++i) sum = std::fma(k[i], q[i], sum);
  return sum;
}

void f16_scale(uint16_t* acc, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] = fp32_to_fp16(fp16_to_fp32(acc[i]) * s);
}

void f16_mad(uint16_t* acc, const uint16_t* v, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    acc[i] = fp32_to_fp16(std::fma(fp16_to_fp32(v[i]), s, fp16_to_fp32(acc[i])));
  }
}

void f32_mad(float* acc, const float* v, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] = std::fma(v[i], s, acc[i]);
}

void gemm_acc(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
              int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float acc = c[i * ldc + j];
      for (int64_t kk = 0; kk < k; ++kk) acc = std::fma(a[i * lda + kk], b[kk * ldb + j], acc);
      c[i * ldc + j] = acc;
    }
  }
}

// gemm_acc on a zeroed C (not the hot path on this Isa).
void gemm(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
          int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
  gemm_acc(c, ldc, a, lda, b, ldb, m, k, n);
}

void gemm_acc_f16b(float* c, int64_t ldc, const float* a, int64_t lda,
                   const uint16_t* const* b_rows, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float acc = c[i * ldc + j];
      for (int64_t kk = 0; kk < k; ++kk)
        acc = std::fma(a[i * lda + kk], fp16_to_fp32(b_rows[kk][j]), acc);
      c[i * ldc + j] = acc;
    }
  }
}

void transpose(const float* src, int64_t ld_src, float* dst, int64_t ld_dst, int64_t rows,
               int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) dst[c * ld_dst + r] = src[r * ld_src + c];
  }
}

void f16_rows_to_f32_t(const uint16_t* const* rows, int64_t n_rows, int64_t cols, float* dst,
                       int64_t ld_dst) {
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) dst[c * ld_dst + r] = fp16_to_fp32(rows[r][c]);
  }
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_fp32(x[i]);
}

void q8_0_to_f32(const uint8_t* row, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const auto blk = load_block<BlockQ8_0>(row, b);
    const float d = fp16_to_fp32(blk.d);
    for (int j = 0; j < kQK8_0; ++j) y[b * kQK8_0 + j] = static_cast<float>(blk.qs[j]) * d;
  }
}

void store_f32(const float* x, void* row, int64_t n) {
  std::memcpy(row, x, static_cast<size_t>(n) * sizeof(float));
}

void store_f16(const float* x, void* row, int64_t n) {
  auto* k = static_cast<uint16_t*>(row);
  for (int64_t i = 0; i < n; ++i) k[i] = fp32_to_fp16(x[i]);
}

// ---- kernels/rows.h ---------------------------------------------------------------------

void layer_norm(float* x, const float* res, const float* bias, const float* w, const float* b,
                int64_t n, float eps) {
  if (res != nullptr) {
    for (int64_t i = 0; i < n; ++i) x[i] += bias != nullptr ? res[i] + bias[i] : res[i];
  }
  double part[8] = {};
  const int64_t n8 = n & ~int64_t{7};
  for (int64_t i = 0; i < n8; ++i) part[i % 8] += static_cast<double>(x[i]);
  for (int64_t i = n8; i < n; ++i) part[0] += static_cast<double>(x[i]);
  const double sum =
      ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  const auto mean = static_cast<float>(sum / static_cast<double>(n));
  for (int64_t i = 0; i < n; ++i) x[i] -= mean;
  rmsnorm(x, w, x, n, eps);
  if (b != nullptr) add(x, b, n);
}

void softmax_scaled(float* x, float scale, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::fmax(m, x[i] * scale);
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    float g[16] = {};
    for (int64_t l = 0; l < 16 && i + l < n; ++l) {
      g[l] = vexp_lane(x[i + l] * scale - m);
      x[i + l] = g[l];
    }
    sum += static_cast<double>(reduce16(g));
  }
  const auto inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void softmax_scaled_rows(float* x, int64_t ld, int64_t rows, float scale, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) softmax_scaled(x + r * ld, scale, n);
}

void bias_gelu(float* x, const float* bias, int64_t n) {
  const float* table = gelu_half_table();
  for (int64_t i = 0; i < n; ++i) {
    const float v = bias != nullptr ? x[i] + bias[i] : x[i];
    if (v <= -10.0f) {
      x[i] = 0.0f;
    } else if (v >= 10.0f) {
      x[i] = v;
    } else {
      x[i] = table[fp32_to_fp16(v)];
    }
  }
}

}  // namespace

const OpsTable& ops_scalar() {
  static const OpsTable table = {
      .isa = Isa::kScalar,
      .rmsnorm = rmsnorm,
      .scale = scale,
      .add = add,
      .silu_mul = silu_mul,
      .gelu_mul = gelu_mul,
      .softcap = softcap,
      .softmax = softmax,
      .max = vmax,
      .dot_f16 = dot_f16,
      .dot_f32 = dot_f32,
      .f16_scale = f16_scale,
      .f16_mad = f16_mad,
      .f32_mad = f32_mad,
      .gemm_acc = gemm_acc,
      .gemm = gemm,
      .gemm_acc_f16b = gemm_acc_f16b,
      .transpose = transpose,
      .f16_rows_to_f32_t = f16_rows_to_f32_t,
      .f16_to_f32 = f16_to_f32,
      .q8_0_to_f32 = q8_0_to_f32,
      .kv_store = {store_f32, store_f16, store_q8_0_plain},
  };
  return table;
}

const RowOps& row_ops_scalar() {
  static const RowOps table = {
      .isa = Isa::kScalar,
      .layer_norm = layer_norm,
      .softmax_scaled = softmax_scaled,
      .softmax_scaled_rows = softmax_scaled_rows,
      .bias_gelu = bias_gelu,
  };
  return table;
}

}  // namespace ember::kernels
