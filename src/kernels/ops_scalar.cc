// Portable reference implementations of kernels/ops.h.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/ops.h"
#include "kernels/ops_common.h"
#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"

namespace ember::kernels {
namespace {

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  // Sum in double like the reference's ggml_compute_forward_rms_norm (ggml_float accumulator).
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
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
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void gelu_mul(float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = g[i];
    const float t = std::tanh(kGeluSqrt2OverPi * x * (1.0f + kGeluCoefA * x * x));
    g[i] = 0.5f * x * (1.0f + t) * u[i];
  }
}

void softcap(float* x, float cap, int64_t n) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] * inv);
}

float exp_sum(float* x, float max, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  return sum;
}

float vmax(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

float dot_f32(const float* q, const void* row, int64_t n) {
  const auto* k = static_cast<const float*>(row);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += q[i] * k[i];
  return sum;
}

float dot_f16(const float* q, const void* row, int64_t n) {
  const auto* k = static_cast<const uint16_t*>(row);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += q[i] * fp16_to_fp32(k[i]);
  return sum;
}

float dot_q8_0(const float* q, const void* row, int64_t n) {
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const auto blk = load_block<BlockQ8_0>(row, b);
    float s = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) s += q[b * kQK8_0 + j] * static_cast<float>(blk.qs[j]);
    sum += s * fp16_to_fp32(blk.d);
  }
  return sum;
}

void axpy_f32(float a, const void* row, float* acc, int64_t n) {
  const auto* v = static_cast<const float*>(row);
  for (int64_t i = 0; i < n; ++i) acc[i] += a * v[i];
}

void axpy_f16(float a, const void* row, float* acc, int64_t n) {
  const auto* v = static_cast<const uint16_t*>(row);
  for (int64_t i = 0; i < n; ++i) acc[i] += a * fp16_to_fp32(v[i]);
}

void axpy_q8_0(float a, const void* row, float* acc, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const auto blk = load_block<BlockQ8_0>(row, b);
    const float ad = a * fp16_to_fp32(blk.d);
    for (int j = 0; j < kQK8_0; ++j) acc[b * kQK8_0 + j] += ad * static_cast<float>(blk.qs[j]);
  }
}

void store_f32(const float* x, void* row, int64_t n) {
  std::memcpy(row, x, static_cast<size_t>(n) * sizeof(float));
}

void store_f16(const float* x, void* row, int64_t n) {
  auto* k = static_cast<uint16_t*>(row);
  for (int64_t i = 0; i < n; ++i) k[i] = fp32_to_fp16(x[i]);
}

}  // namespace

const OpsTable& ops_scalar() {
  static const OpsTable table = {
      Isa::kScalar,
      rmsnorm,
      scale,
      add,
      silu_mul,
      gelu_mul,
      softcap,
      exp_sum,
      vmax,
      {dot_f32, dot_f16, dot_q8_0},
      {axpy_f32, axpy_f16, axpy_q8_0},
      {store_f32, store_f16, store_q8_0_plain},
  };
  return table;
}

}  // namespace ember::kernels
