// The split-BF16 form of the matrix products (kernels/matmul.h WeightForm::kSplitBf16: AMX-BF16
// tiles on weights and activations split into two BF16 parts, used by the encoder): the parts
// themselves, results against the scalar reference within the form's error bound, and the
// determinism contract (a row's result does not depend on the token count, the tile it falls in,
// the row range or the thread count).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/matmul_internal.h"
#include "kernels/rows.h"
#include "tensor/fp16.h"

namespace ember::kernels {
namespace {

bool have_split() {
  return split_bf16_supported(Isa::kAvx512Amx, TensorType::kF16);
}

#define REQUIRE_SPLIT()                                                         \
  if (!have_split())                                                            \
  GTEST_SKIP() << "AMX-BF16 not usable here (CPU, OS state or EMBER_ISA cap): " \
               << cpu_features().to_string()

// A weight matrix of `type` with random values (a scale per row, a few outliers), its exact
// values as floats, and the Weights view.
struct Matrix {
  TensorType type;
  int64_t rows, cols;
  size_t row_bytes;
  std::vector<uint8_t> data;
  std::vector<float> values;
  Weights weights() const { return Weights{type, data.data(), rows, cols, row_bytes}; }
};

Matrix make_matrix(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
  Matrix m{type, rows, cols, static_cast<size_t>(cols) * (type == TensorType::kF32 ? 4 : 2),
           {},   {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.01f, 2.0f);
  m.data.resize(m.row_bytes * static_cast<size_t>(rows));
  m.values.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float s = scale(rng);
    for (int64_t c = 0; c < cols; ++c) {
      float v = n01(rng) * s;
      if (rng() % 97 == 0) v *= 8.0f;
      uint8_t* p = m.data.data() + static_cast<size_t>(r) * m.row_bytes;
      if (type == TensorType::kF16) {
        const uint16_t h = fp32_to_fp16(v);
        std::memcpy(p + 2 * c, &h, 2);
        v = fp16_to_fp32(h);
      } else if (type == TensorType::kBF16) {
        const auto h = static_cast<uint16_t>(fp32_to_bits(v) >> 16);
        std::memcpy(p + 2 * c, &h, 2);
        v = bf16_to_fp32(h);
      } else {
        std::memcpy(p + 4 * c, &v, 4);
      }
      m.values[static_cast<size_t>(r * cols + c)] = v;
    }
  }
  return m;
}

std::vector<float> random_acts(int64_t n, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (float& v : x) v = n01(rng) * (rng() % 13 == 0 ? 30.0f : 1.0f);
  return x;
}

// y [n][rows] through the split form for the rows [rb, re) (others left at -7).
std::vector<float> run_split(const PreparedWeights& pw, const float* x, int64_t n, int64_t rb,
                             int64_t re) {
  const int64_t rows = pw.weights().rows;
  std::vector<uint8_t> act(activation_bytes(pw, n));
  convert_activations(pw, x, n, act.data());
  std::vector<float> y(static_cast<size_t>(n * rows), -7.0f);
  matmul(pw, act.data(), n, y.data(), rows, rb, re);
  return y;
}

TEST(SplitBf16, PartsAddUpAndSimdConversionMatchesScalar) {
  std::mt19937 rng(3);
  // F16 values: hi + lo is the value exactly (11 significant bits, hi keeps 8).
  for (uint32_t h = 0; h < 0x7c00u; h += 7) {
    for (uint32_t sign : {0u, 0x8000u}) {
      const float v = fp16_to_fp32(static_cast<uint16_t>(h | sign));
      uint16_t hi, lo;
      split_bf16(v, &hi, &lo);
      ASSERT_EQ(bf16_to_fp32(hi) + bf16_to_fp32(lo), v) << h;
    }
  }
  // F32 values: hi rounds to 8 significant bits (|v - hi| <= 2^-8 |v|) and lo rounds that
  // remainder to 8 bits, so hi + lo is within 2^-16 |v|.
  std::normal_distribution<float> n01(0.0f, 1.0f);
  for (int i = 0; i < 100000; ++i) {
    const float v = n01(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 60) - 30);
    uint16_t hi, lo;
    split_bf16(v, &hi, &lo);
    const double sum = static_cast<double>(bf16_to_fp32(hi)) + bf16_to_fp32(lo);
    ASSERT_LE(std::fabs(sum - v), std::ldexp(std::fabs(v), -16)) << v;
  }
  REQUIRE_SPLIT();
  // The AVX-512 conversion gives the scalar conversion's bytes (tails and padding included).
  for (int64_t cols : {32, 48, 50, 384, 1}) {
    std::vector<float> x = random_acts(5, cols, static_cast<uint32_t>(cols));
    x[0] = INFINITY;
    x[x.size() / 2] = -0.0f;
    const Weights w{TensorType::kF16, x.data(), 1, cols, static_cast<size_t>(cols) * 2};
    Result<PreparedWeights> pw = prepare_weights(Isa::kAvx512Amx, w, WeightForm::kSplitBf16);
    ASSERT_TRUE(pw.ok()) << pw.status().to_string();
    std::vector<uint8_t> simd(activation_bytes(*pw, 5)), scalar(simd.size());
    convert_activations(*pw, x.data(), 5, simd.data());
    convert_split_bf16_scalar(x.data(), 5, cols, scalar.data());
    ASSERT_EQ(0, std::memcmp(simd.data(), scalar.data(), simd.size())) << cols;
  }
  // Tile-major layout: token t, column c of 40 tokens x 70 columns (kp 96) at the documented
  // offsets, hi then lo 1 KB further; converting disjoint token ranges (as threads do, at any
  // offset) gives the bytes of one conversion of all tokens.
  {
    const int64_t n = 40, cols = 70;
    const std::vector<float> x = random_acts(n, cols, 21);
    const Weights w{TensorType::kF16, x.data(), 1, cols, static_cast<size_t>(cols) * 2};
    Result<PreparedWeights> pw = prepare_weights(Isa::kAvx512Amx, w, WeightForm::kSplitBf16);
    ASSERT_TRUE(pw.ok()) << pw.status().to_string();
    ASSERT_EQ(activation_bytes(*pw, n), static_cast<size_t>(48 * 96 * 4));
    ASSERT_EQ(activation_stride(*pw), static_cast<size_t>(96 * 4));
    std::vector<uint8_t> whole(activation_bytes(*pw, n)), parts(whole.size());
    convert_activations(*pw, x.data(), n, whole.data());
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t c = 0; c < 96; ++c) {
        uint16_t hi = 0, lo = 0, got_hi, got_lo;
        if (c < cols) split_bf16(x[static_cast<size_t>(t * cols + c)], &hi, &lo);
        const size_t at = static_cast<size_t>((t / 16) * 16 * 96 * 4 + (c / 32) * 2048 +
                                              (t % 16) * 64 + (c % 32) * 2);
        std::memcpy(&got_hi, whole.data() + at, 2);
        std::memcpy(&got_lo, whole.data() + at + 1024, 2);
        ASSERT_EQ(got_hi, hi) << t << " " << c;
        ASSERT_EQ(got_lo, lo) << t << " " << c;
      }
    }
    const int64_t cuts[] = {0, 3, 16, 17, 33, n};
    for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
      convert_activations(*pw, x.data() + cuts[i] * cols, cuts[i + 1] - cuts[i], parts.data(),
                          cuts[i]);
    }
    ASSERT_EQ(0, std::memcmp(parts.data(), whole.data(), whole.size()));
    std::vector<uint8_t> scalar(whole.size());
    convert_split_bf16_scalar(x.data(), 20, cols, scalar.data());
    convert_split_bf16_scalar(x.data() + 20 * cols, n - 20, cols, scalar.data(), 20);
    ASSERT_EQ(0, std::memcmp(scalar.data(), whole.data(), whole.size()));
  }
}

// Each output against the scalar reference (F32 sums of the exact weights): the split form gets
// each product w a within about 3 * 2^-16 of |w a| (matmul.h), and both sides round their F32
// sums, so |y - ref| <= 2^-13 * sum |w a| (about 1e-4; a single BF16 product would be off by up
// to 2^-8).
TEST(SplitBf16, MatchesScalarReferenceWithinBound) {
  REQUIRE_SPLIT();
  auto check = [](TensorType type, int64_t rows, int64_t cols, int64_t n, uint32_t seed) {
    SCOPED_TRACE(tensor_type_name(type) + " " + std::to_string(rows) + "x" + std::to_string(cols) +
                 " n=" + std::to_string(n));
    const Matrix m = make_matrix(type, rows, cols, seed);
    const Weights w = m.weights();
    const std::vector<float> x = random_acts(n, cols, seed + 1);
    std::vector<uint8_t> ref_act(activation_bytes(type, n, cols));
    convert_activations(Isa::kScalar, type, x.data(), n, cols, ref_act.data());
    std::vector<float> ref(static_cast<size_t>(n * rows));
    matmul(Isa::kScalar, w, ref_act.data(), n, ref.data(), rows, 0, rows);

    Result<PreparedWeights> pw = prepare_weights(Isa::kAvx512Amx, w, WeightForm::kSplitBf16);
    ASSERT_TRUE(pw.ok()) << pw.status().to_string();
    ASSERT_EQ(pw->form(), WeightForm::kSplitBf16);
    const std::vector<float> got = run_split(*pw, x.data(), n, 0, rows);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        double mag = 0.0;
        for (int64_t c = 0; c < cols; ++c) {
          mag += std::fabs(static_cast<double>(m.values[static_cast<size_t>(r * cols + c)]) *
                           x[static_cast<size_t>(t * cols + c)]);
        }
        const size_t i = static_cast<size_t>(t * rows + r);
        ASSERT_LE(std::fabs(static_cast<double>(got[i]) - ref[i]), std::ldexp(mag, -13) + 1e-30)
            << "token " << t << " row " << r << ": " << got[i] << " vs " << ref[i];
      }
    }
  };
  for (int64_t n = 1; n <= 70; n += (n < 20 ? 1 : 7)) {
    check(TensorType::kF16, 37, 96, n, static_cast<uint32_t>(n));
  }
  for (TensorType type : {TensorType::kF16, TensorType::kBF16, TensorType::kF32}) {
    check(type, 70, 160, 33, 100);
    check(type, 16, 32, 16, 101);
    check(type, 21, 50, 19, 102);  // columns padded to 64
    check(type, 64, 384, 48, 103);
  }
  // Several passes of token pairs, row-group chunks and column blocks, plus both tails.
  check(TensorType::kF16, 200, 384, 301, 104);
}

// A row's result is the same bits whether its token is computed alone, in a batch of 17 or of 64
// (at any position: full and partial 16-token tiles, pairs of tiles and single tiles), for any
// row range and with two threads.
TEST(SplitBf16, RowsIndependentOfBatchTileRangeAndThreads) {
  REQUIRE_SPLIT();
  for (TensorType type : {TensorType::kF16, TensorType::kF32, TensorType::kBF16}) {
    SCOPED_TRACE(tensor_type_name(type));
    const int64_t rows = 53, cols = 224, n = 64;
    const Matrix m = make_matrix(type, rows, cols, 7);
    Result<PreparedWeights> pw =
        prepare_weights(Isa::kAvx512Amx, m.weights(), WeightForm::kSplitBf16);
    ASSERT_TRUE(pw.ok()) << pw.status().to_string();
    const std::vector<float> x = random_acts(n, cols, 8);
    const std::vector<float> all = run_split(*pw, x.data(), n, 0, rows);
    auto same_rows = [&](const std::vector<float>& got, int64_t t0, int64_t count) {
      for (int64_t t = 0; t < count; ++t) {
        ASSERT_EQ(0, std::memcmp(got.data() + t * rows, all.data() + (t0 + t) * rows,
                                 static_cast<size_t>(rows) * 4))
            << "token " << t0 + t;
      }
    };
    for (int64_t t0 : {0, 5, 30, 47}) {
      same_rows(run_split(*pw, x.data() + t0 * cols, 17, 0, rows), t0, 17);
    }
    for (int64_t t : {0, 1, 16, 33, 63})
      same_rows(run_split(*pw, x.data() + t * cols, 1, 0, rows), t, 1);
    for (int64_t t0 : {0, 20}) {
      for (int64_t len : {2, 15, 31, 32, 44}) {
        same_rows(run_split(*pw, x.data() + t0 * cols, len, 0, rows), t0, len);
      }
    }
    // Row ranges cut inside 16-row groups, and two threads at once.
    std::vector<uint8_t> act(activation_bytes(*pw, n));
    convert_activations(*pw, x.data(), n, act.data());
    std::vector<float> cut(all.size(), -7.0f);
    const int64_t cuts[] = {0, 3, 16, 19, 47, rows};
    for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
      matmul(*pw, act.data(), n, cut.data(), rows, cuts[i], cuts[i + 1]);
    }
    ASSERT_EQ(0, std::memcmp(cut.data(), all.data(), all.size() * 4)) << "row ranges";
    // Token ranges starting at tile boundaries, read in place from the one buffer (the encoder's
    // token-chunked tasks: matmul.h).
    std::vector<float> chunked(all.size(), -7.0f);
    const int64_t starts[] = {0, 16, 48, n};
    for (size_t i = 0; i + 1 < std::size(starts); ++i) {
      matmul(*pw, act.data() + static_cast<size_t>(starts[i]) * activation_stride(*pw),
             starts[i + 1] - starts[i], chunked.data() + starts[i] * rows, rows, 0, rows);
    }
    ASSERT_EQ(0, std::memcmp(chunked.data(), all.data(), all.size() * 4)) << "token chunks";
    std::vector<float> threaded(all.size(), -7.0f);
    std::thread other([&] { matmul(*pw, act.data(), n, threaded.data(), rows, 29, rows); });
    matmul(*pw, act.data(), n, threaded.data(), rows, 0, 29);
    other.join();
    ASSERT_EQ(0, std::memcmp(threaded.data(), all.data(), all.size() * 4)) << "two threads";
  }
}

// The same for a large product (accumulators parked between column blocks, several passes of
// token pairs and chunks of row groups): a token computed alone gives the batch's bits.
TEST(SplitBf16, LargeProductRowsMatchSingleTokens) {
  REQUIRE_SPLIT();
  const int64_t rows = 200, cols = 384, n = 301;
  const Matrix m = make_matrix(TensorType::kF16, rows, cols, 9);
  Result<PreparedWeights> pw =
      prepare_weights(Isa::kAvx512Amx, m.weights(), WeightForm::kSplitBf16);
  ASSERT_TRUE(pw.ok()) << pw.status().to_string();
  const std::vector<float> x = random_acts(n, cols, 10);
  const std::vector<float> all = run_split(*pw, x.data(), n, 0, rows);
  for (int64_t t : {0, 131, 255, 300}) {
    const std::vector<float> one = run_split(*pw, x.data() + t * cols, 1, 0, rows);
    ASSERT_EQ(0, std::memcmp(one.data(), all.data() + t * rows, static_cast<size_t>(rows) * 4))
        << "token " << t;
  }
}

// The epilogue (matmul.h SplitEpilogue) gives the bits of the passes it replaces: + bias (a
// float add), GELU (rows.h bias_gelu), and the conversion for a product whose columns are these
// rows (convert_activations), whatever the token chunks and row ranges of the calls.
TEST(SplitBf16, EpilogueMatchesSeparatePasses) {
  REQUIRE_SPLIT();
  const int64_t rows = 96, cols = 224, n = 45;
  const Matrix m = make_matrix(TensorType::kF16, rows, cols, 11);
  const Matrix next = make_matrix(TensorType::kF16, 40, rows, 12);
  Result<PreparedWeights> pw =
      prepare_weights(Isa::kAvx512Amx, m.weights(), WeightForm::kSplitBf16);
  Result<PreparedWeights> pn =
      prepare_weights(Isa::kAvx512Amx, next.weights(), WeightForm::kSplitBf16);
  ASSERT_TRUE(pw.ok() && pn.ok());
  const std::vector<float> x = random_acts(n, cols, 13);
  const std::vector<float> bias = random_acts(1, rows, 14);
  std::vector<uint8_t> act(activation_bytes(*pw, n));
  convert_activations(*pw, x.data(), n, act.data());
  const std::vector<float> plain = run_split(*pw, x.data(), n, 0, rows);
  const RowOps& ro = row_ops(Isa::kAvx512Amx);
  for (const bool with_bias : {false, true}) {
    SCOPED_TRACE(with_bias ? "bias" : "no bias");
    const float* b = with_bias ? bias.data() : nullptr;
    // Expected: bias alone, then bias + GELU, then those rows converted for `next`.
    std::vector<float> biased = plain, activated = plain;
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < rows && b != nullptr; ++r) biased[t * rows + r] += b[r];
      ro.bias_gelu(activated.data() + t * rows, b, rows);
    }
    std::vector<uint8_t> want(activation_bytes(*pn, n), 0xAB);
    convert_activations(*pn, activated.data(), n, want.data());

    std::vector<float> y(plain.size(), -7.0f);
    matmul(*pw, act.data(), n, y.data(), rows, 0, rows, SplitEpilogue{.bias = b});
    EXPECT_EQ(0, std::memcmp(y.data(), biased.data(), y.size() * 4)) << "bias";
    std::fill(y.begin(), y.end(), -7.0f);
    matmul(*pw, act.data(), n, y.data(), rows, 0, rows, SplitEpilogue{.bias = b, .gelu = true});
    EXPECT_EQ(0, std::memcmp(y.data(), activated.data(), y.size() * 4)) << "bias + GELU";

    // Into activations, in token chunks from tile boundaries and row ranges of whole groups.
    std::vector<uint8_t> got(want.size(), 0xAB);
    const int64_t starts[] = {0, 32, n};
    const int64_t cuts[] = {0, 64, rows};
    for (size_t i = 0; i + 1 < std::size(starts); ++i) {
      for (size_t j = 0; j + 1 < std::size(cuts); ++j) {
        const SplitEpilogue ep{
            .bias = b,
            .gelu = true,
            .act_out = got.data() + static_cast<size_t>(starts[i]) * activation_stride(*pn)};
        matmul(*pw, act.data() + static_cast<size_t>(starts[i]) * activation_stride(*pw),
               starts[i + 1] - starts[i], nullptr, 0, cuts[j], cuts[j + 1], ep);
      }
    }
    EXPECT_EQ(want, got) << "converted for the next product";
  }
}

TEST(SplitBf16, PrepareRejectsOtherTypesAndIsas) {
  std::vector<uint8_t> data(34 * 4, 0);
  const Weights q8{TensorType::kQ8_0, data.data(), 4, 32, 34};
  EXPECT_FALSE(prepare_weights(Isa::kAvx512Amx, q8, WeightForm::kSplitBf16).ok());
  EXPECT_FALSE(split_bf16_supported(Isa::kAvx512Vnni, TensorType::kF16));
  EXPECT_FALSE(split_bf16_supported(Isa::kScalar, TensorType::kF32));
  const Weights f16{TensorType::kF16, data.data(), 4, 32, 64};
  if (supported_isas().back() >= Isa::kAvx512Vnni) {
    EXPECT_FALSE(prepare_weights(Isa::kAvx512Vnni, f16, WeightForm::kSplitBf16).ok());
  }
}

}  // namespace
}  // namespace ember::kernels
