#include "kernels/delta_net.h"

#include <algorithm>
#include <cmath>

namespace ember::kernels {

void ssm_conv_token(float* state, const float* x, const float* w, float* y, int64_t c0, int64_t c1,
                    int64_t channels, int64_t kernel) {
  const int64_t ns = kernel - 1;
  for (int64_t c = c0; c < c1; ++c) {
    const float* wc = w + c * kernel;
    float sum = 0.0f;
    for (int64_t t = 0; t < ns; ++t) sum += wc[t] * state[t * channels + c];
    y[c] = sum + wc[ns] * x[c];
  }
  for (int64_t t = 0; t + 1 < ns; ++t) {
    std::copy(state + (t + 1) * channels + c0, state + (t + 1) * channels + c1,
              state + t * channels + c0);
  }
  if (ns > 0) std::copy(x + c0, x + c1, state + (ns - 1) * channels + c0);
}

void silu_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void l2_normalize(float* x, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float scale = 1.0f / std::max(std::sqrt(static_cast<float>(sum)), eps);
  for (int64_t i = 0; i < n; ++i) x[i] *= scale;
}

float softplus(float x) {
  return x > 20.0f ? x : std::log1p(std::exp(x));
}

namespace {

// Dot product in 8 lanes (i mod 8) reduced by a fixed tree, the tail added last: a fixed order
// (so results never depend on the caller) that the compiler can keep in vector registers.
constexpr int64_t kLanes = 8;

float reduce_lanes(const float* acc) {
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

}  // namespace

void gated_delta_step(float* state, const float* q, const float* k, const float* v, float g,
                      float beta, float* o, int64_t dk, int64_t dv) {
  const float decay = std::exp(g);
  const int64_t body = dk - dk % kLanes;
  for (int64_t j = 0; j < dv; ++j) {
    float* s = state + j * dk;
    // Rows are independent: decay, recall, write and read one row at a time.
    float acc[kLanes] = {};
    for (int64_t i = 0; i < body; i += kLanes) {
      for (int64_t l = 0; l < kLanes; ++l) {
        s[i + l] *= decay;
        acc[l] += s[i + l] * k[i + l];
      }
    }
    float recall = reduce_lanes(acc);
    for (int64_t i = body; i < dk; ++i) {
      s[i] *= decay;
      recall += s[i] * k[i];
    }
    const float delta = (v[j] - recall) * beta;
    float acc2[kLanes] = {};
    for (int64_t i = 0; i < body; i += kLanes) {
      for (int64_t l = 0; l < kLanes; ++l) {
        s[i + l] += k[i + l] * delta;
        acc2[l] += s[i + l] * q[i + l];
      }
    }
    float out = reduce_lanes(acc2);
    for (int64_t i = body; i < dk; ++i) {
      s[i] += k[i] * delta;
      out += s[i] * q[i];
    }
    o[j] = out;
  }
}

}  // namespace ember::kernels
