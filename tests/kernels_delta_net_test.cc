// The gated delta-net kernels (kernels/delta_net.h) against straightforward references written
// from the definitions, in double precision, on small random shapes: the recurrence in its
// closed matrix form S_t = exp(g) S_{t-1} (I - beta k k^T) + beta v k^T, o_t = S_t q_t, and the
// causal convolution as a sum over a zero-padded sequence.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/delta_net.h"

namespace ember {
namespace {

std::vector<float> random_vec(std::mt19937& rng, size_t n, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(KernelsDeltaNet, RecurrenceMatchesClosedMatrixForm) {
  std::mt19937 rng(7);
  const std::pair<int64_t, int64_t> shapes[] = {{8, 8}, {13, 5}, {32, 24}, {3, 17}};
  for (const auto& [dk, dv] : shapes) {
    SCOPED_TRACE(std::to_string(dk) + "x" + std::to_string(dv));
    const int steps = 12;
    std::vector<float> state(static_cast<size_t>(dk * dv), 0.0f);
    std::vector<double> ref(static_cast<size_t>(dk * dv), 0.0);  // [dv][dk]
    for (int t = 0; t < steps; ++t) {
      std::vector<float> q = random_vec(rng, static_cast<size_t>(dk), 1.0f);
      std::vector<float> k = random_vec(rng, static_cast<size_t>(dk), 1.0f);
      std::vector<float> v = random_vec(rng, static_cast<size_t>(dv), 1.0f);
      kernels::l2_normalize(q.data(), dk, 1e-6f);
      kernels::l2_normalize(k.data(), dk, 1e-6f);
      const float g = -std::uniform_real_distribution<float>(0.01f, 2.0f)(rng);
      const float beta = std::uniform_real_distribution<float>(0.05f, 0.95f)(rng);
      std::vector<float> o(static_cast<size_t>(dv));
      kernels::gated_delta_step(state.data(), q.data(), k.data(), v.data(), g, beta, o.data(), dk,
                                dv);
      // S' = a S (I - b k k^T) + b v k^T.
      const double a = std::exp(static_cast<double>(g));
      std::vector<double> next(ref.size());
      for (int64_t j = 0; j < dv; ++j) {
        for (int64_t i = 0; i < dk; ++i) {
          double sik = 0.0;  // (S (I - b k k^T))[j][i]
          for (int64_t m = 0; m < dk; ++m) {
            const double ident = m == i ? 1.0 : 0.0;
            sik += ref[static_cast<size_t>(j * dk + m)] * (ident - beta * k[m] * k[i]);
          }
          next[static_cast<size_t>(j * dk + i)] = a * sik + beta * v[j] * k[i];
        }
      }
      ref = next;
      for (int64_t j = 0; j < dv; ++j) {
        double want = 0.0;
        for (int64_t i = 0; i < dk; ++i) want += ref[static_cast<size_t>(j * dk + i)] * q[i];
        ASSERT_NEAR(o[j], want, 1e-4 * (1.0 + std::fabs(want))) << "step " << t << " dim " << j;
      }
    }
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(state[i], ref[i], 1e-4);
  }
}

TEST(KernelsDeltaNet, ConvolutionMatchesZeroPaddedSum) {
  std::mt19937 rng(11);
  for (int64_t kernel : {1, 2, 4}) {
    const int64_t channels = 37, steps = 9;
    const std::vector<float> w = random_vec(rng, static_cast<size_t>(channels * kernel), 0.5f);
    const std::vector<float> x = random_vec(rng, static_cast<size_t>(channels * steps), 1.0f);
    std::vector<float> state(static_cast<size_t>(channels * (kernel - 1)), 0.0f);
    std::vector<float> y(static_cast<size_t>(channels));
    for (int64_t t = 0; t < steps; ++t) {
      // Two channel ranges, as two threads would split them.
      kernels::ssm_conv_token(state.data(), x.data() + t * channels, w.data(), y.data(), 0, 20,
                              channels, kernel);
      kernels::ssm_conv_token(state.data(), x.data() + t * channels, w.data(), y.data(), 20,
                              channels, channels, kernel);
      for (int64_t c = 0; c < channels; ++c) {
        double want = 0.0;
        for (int64_t tap = 0; tap < kernel; ++tap) {
          const int64_t src = t - (kernel - 1) + tap;  // tap 0 reads the oldest input
          if (src >= 0) want += static_cast<double>(w[c * kernel + tap]) * x[src * channels + c];
        }
        ASSERT_NEAR(y[c], want, 1e-5) << "kernel " << kernel << " step " << t << " channel " << c;
      }
    }
  }
}

TEST(KernelsDeltaNet, ElementwiseHelpers) {
  std::vector<float> x = {3.0f, 4.0f};
  kernels::l2_normalize(x.data(), 2, 1e-6f);
  EXPECT_FLOAT_EQ(x[0], 0.6f);
  EXPECT_FLOAT_EQ(x[1], 0.8f);
  // eps is a floor on the norm: a zero vector stays zero (no division by zero).
  std::vector<float> zero(5, 0.0f);
  kernels::l2_normalize(zero.data(), 5, 1e-6f);
  for (float v : zero) EXPECT_EQ(v, 0.0f);
  EXPECT_NEAR(kernels::softplus(0.0f), std::log(2.0), 1e-7);
  EXPECT_NEAR(kernels::softplus(-5.0f), std::log1p(std::exp(-5.0)), 1e-9);
  EXPECT_FLOAT_EQ(kernels::softplus(30.0f), 30.0f);
  std::vector<float> s = {-2.0f, 0.0f, 1.5f};
  kernels::silu_inplace(s.data(), 3);
  EXPECT_NEAR(s[0], -2.0 / (1.0 + std::exp(2.0)), 1e-6);
  EXPECT_EQ(s[1], 0.0f);
  EXPECT_NEAR(s[2], 1.5 / (1.0 + std::exp(-1.5)), 1e-6);
}

}  // namespace
}  // namespace ember
