// K-quant (Q2_K..Q6_K) conversions against llama.cpp's reference data, plus robustness checks.
#include "tensor/quant_k.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "testdata.h"
#include "tensor/blocks_k.h"

namespace ember {
namespace {

using DequantFn = void (*)(const void*, float*, int64_t);
using QuantFn = void (*)(const float*, void*, int64_t);

struct KType {
  const char* name;  // file prefix in testdata/quant
  size_t block_bytes;
  DequantFn dequant;
  QuantFn quant;
  double gaussian_bound;  // max RMSE / std on N(0,1) data (measured ~15% lower)
};

const KType kTypes[] = {
    {"q2_K", sizeof(BlockQ2K), dequantize_row_q2_k, quantize_row_q2_k, 0.30},
    {"q3_K", sizeof(BlockQ3K), dequantize_row_q3_k, quantize_row_q3_k, 0.165},
    {"q4_K", sizeof(BlockQ4K), dequantize_row_q4_k, quantize_row_q4_k, 0.08},
    {"q5_K", sizeof(BlockQ5K), dequantize_row_q5_k, quantize_row_q5_k, 0.04},
    {"q6_K", sizeof(BlockQ6K), dequantize_row_q6_k, quantize_row_q6_k, 0.02},
};

constexpr int64_t kRows = 16;
constexpr int64_t kCols = 512;

std::vector<float> as_floats(const std::vector<char>& bytes) {
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

class KQuant : public ::testing::TestWithParam<KType> {};

TEST_P(KQuant, DequantizeMatchesReferenceBitForBit) {
  EMBER_REQUIRE_TESTDATA(dir);
  const KType& t = GetParam();
  const std::vector<char> bin = testing::read_file_bytes(dir / "quant" / (std::string(t.name) + ".bin"));
  const std::vector<char> ref =
      testing::read_file_bytes(dir / "quant" / (std::string(t.name) + ".dequant.f32"));
  const size_t row_bytes = static_cast<size_t>(kCols / kQK_K) * t.block_bytes;
  ASSERT_EQ(bin.size(), row_bytes * kRows);
  ASSERT_EQ(ref.size(), sizeof(float) * kRows * kCols);

  std::vector<float> out(kRows * kCols);
  for (int64_t r = 0; r < kRows; ++r) {
    t.dequant(bin.data() + r * row_bytes, out.data() + r * kCols, kCols);
  }
  if (std::memcmp(out.data(), ref.data(), ref.size()) != 0) {
    const std::vector<float> expect = as_floats(ref);
    for (size_t i = 0; i < out.size(); ++i) {
      uint32_t a, b;
      std::memcpy(&a, &out[i], 4);
      std::memcpy(&b, &expect[i], 4);
      if (a != b) {
        FAIL() << t.name << ": first mismatch at row " << i / kCols << " col " << i % kCols
               << ": got " << out[i] << " (0x" << std::hex << a << "), want " << expect[i]
               << " (0x" << b << ")";
      }
    }
  }
}

// Quantizes rows of `cols` values and dequantizes them back.
std::vector<float> round_trip(const KType& t, const std::vector<float>& x, int64_t cols) {
  const int64_t rows = static_cast<int64_t>(x.size()) / cols;
  const size_t row_bytes = static_cast<size_t>(cols / kQK_K) * t.block_bytes;
  std::vector<uint8_t> q(row_bytes * rows);
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    t.quant(x.data() + r * cols, q.data() + r * row_bytes, cols);
    t.dequant(q.data() + r * row_bytes, y.data() + r * cols, cols);
  }
  return y;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return std::sqrt(s / static_cast<double>(a.size()));
}

bool all_finite(const std::vector<float>& v) {
  for (float f : v) {
    if (!std::isfinite(f)) return false;
  }
  return true;
}

TEST_P(KQuant, QuantizeNoWorseThanReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const KType& t = GetParam();
  const std::vector<float> input = as_floats(testing::read_file_bytes(dir / "quant" / "input.f32"));
  const std::vector<float> ref =
      as_floats(testing::read_file_bytes(dir / "quant" / (std::string(t.name) + ".dequant.f32")));
  ASSERT_EQ(input.size(), static_cast<size_t>(kRows * kCols));
  ASSERT_EQ(ref.size(), input.size());
  const std::vector<float> ours = round_trip(t, input, kCols);
  ASSERT_TRUE(all_finite(ours));
  const double e_ours = rmse(ours, input), e_ref = rmse(ref, input);
  std::printf("  %s RMSE: ours %.6g, reference %.6g (ratio %.4f)\n", t.name, e_ours, e_ref,
              e_ours / e_ref);
  EXPECT_LE(e_ours, e_ref);
  // Row by row too: a regression on one row must not hide behind gains elsewhere.
  for (int64_t r = 0; r < kRows; ++r) {
    const std::vector<float> xi(input.begin() + r * kCols, input.begin() + (r + 1) * kCols);
    const std::vector<float> yo(ours.begin() + r * kCols, ours.begin() + (r + 1) * kCols);
    const std::vector<float> yr(ref.begin() + r * kCols, ref.begin() + (r + 1) * kCols);
    EXPECT_LE(rmse(yo, xi), rmse(yr, xi)) << "row " << r;
  }
  // And block by block: the quantizer starts from the reference's own encoding of each
  // super-block and keeps a change only when that block's error drops.
  for (int64_t b = 0; b < kRows * kCols / kQK_K; ++b) {
    const auto first = static_cast<std::ptrdiff_t>(b * kQK_K);
    const std::vector<float> xi(input.begin() + first, input.begin() + first + kQK_K);
    const std::vector<float> yo(ours.begin() + first, ours.begin() + first + kQK_K);
    const std::vector<float> yr(ref.begin() + first, ref.begin() + first + kQK_K);
    EXPECT_LE(rmse(yo, xi), rmse(yr, xi)) << "block " << b;
  }
}

// Rows that stress the scale search: degenerate, extreme or one-sided.
TEST_P(KQuant, EdgeRowsStayFiniteAndAccurate) {
  const KType& t = GetParam();
  constexpr int64_t n = 512;
  struct Case {
    const char* name;
    std::vector<float> x;
    double max_rel;  // allowed RMSE relative to the row's rms (0: must be exact)
  };
  std::vector<Case> cases;
  cases.push_back({"zeros", std::vector<float>(n, 0.0f), 0.0});
  cases.push_back({"constant", std::vector<float>(n, 0.75f), 0.01});
  cases.push_back({"negative constant", std::vector<float>(n, -3.0f), 0.01});
  {
    std::vector<float> x(n, 0.0f);
    x[100] = 1000.0f;  // single outlier in a zero row
    cases.push_back({"single outlier", x, 0.01});
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  {
    std::vector<float> x(n);
    for (auto& v : x) v = -std::fabs(g(rng)) - 0.5f;
    cases.push_back({"all negative", x, 0.5});
  }
  {
    std::vector<float> x(n);
    for (auto& v : x) v = g(rng) * 1e-6f;
    cases.push_back({"tiny", x, 1.0});
  }
  {
    std::vector<float> x(n);
    for (auto& v : x) v = g(rng);
    x[300] = 3e4f;  // huge outlier among normal values
    cases.push_back({"gaussian with huge outlier", x, 1.0});
  }
  for (const Case& c : cases) {
    const std::vector<float> y = round_trip(t, c.x, n);
    ASSERT_TRUE(all_finite(y)) << t.name << " " << c.name;
    double rms = 0;
    for (float v : c.x) rms += static_cast<double>(v) * v;
    rms = std::sqrt(rms / n);
    const double e = rmse(y, c.x);
    if (c.max_rel == 0) {
      EXPECT_EQ(e, 0.0) << t.name << " " << c.name;
    } else {
      EXPECT_LE(e, c.max_rel * rms) << t.name << " " << c.name;
    }
  }
}

TEST_P(KQuant, GaussianErrorWithinBound) {
  const KType& t = GetParam();
  constexpr int64_t rows = 8, cols = 4096;
  std::mt19937 rng(1234);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = g(rng);
  const std::vector<float> y = round_trip(t, x, cols);
  const double rel = rmse(y, x);  // std is 1
  std::printf("  %s gaussian RMSE/std: %.5f (bound %.3f)\n", t.name, rel, t.gaussian_bound);
  EXPECT_LE(rel, t.gaussian_bound);
}

INSTANTIATE_TEST_SUITE_P(AllKTypes, KQuant, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<KType>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace ember
