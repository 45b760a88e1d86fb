// The split-BF16 form of the matrix products (kernels/matmul.h WeightForm::kSplitBf16: AMX-BF16
// tiles on weights and activations split into two BF16 parts, used by the encoder): the parts
// themselves, results against the scalar reference within the form's error bound, and the
// determinism contract (a row's result does not depend on the token count, the tile it falls in,
// the row range or the thread count).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <thread>
#include <utility>
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

// Asserts that each output of `got` (n tokens x m.rows) is within the split forms' bound of the
// scalar reference (F32 sums of the exact weights): |y - ref| <= 2^-13 * sum |w a|.
void expect_within_bound_of_scalar(const Matrix& m, const std::vector<float>& x, int64_t n,
                                   const std::vector<float>& got) {
  const Weights w = m.weights();
  const int64_t rows = w.rows, cols = w.cols;
  std::vector<uint8_t> ref_act(activation_bytes(w.type, n, cols));
  convert_activations(Isa::kScalar, w.type, x.data(), n, cols, ref_act.data());
  std::vector<float> ref(static_cast<size_t>(n * rows));
  matmul(Isa::kScalar, w, ref_act.data(), n, ref.data(), rows, 0, rows);
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
    Result<PreparedWeights> pw = prepare_weights(Isa::kAvx512Amx, w, WeightForm::kSplitBf16);
    ASSERT_TRUE(pw.ok()) << pw.status().to_string();
    ASSERT_EQ(pw->form(), WeightForm::kSplitBf16);
    const std::vector<float> got = run_split(*pw, x.data(), n, 0, rows);
    expect_within_bound_of_scalar(m, x, n, got);
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
// The same for both split forms (the on-the-fly form has its own paths for one or two token
// tiles and for more).
TEST(SplitBf16, RowsIndependentOfBatchTileRangeAndThreads) {
  REQUIRE_SPLIT();
  for (auto [type, form] : {std::pair{TensorType::kF16, WeightForm::kSplitBf16},
                            std::pair{TensorType::kF32, WeightForm::kSplitBf16},
                            std::pair{TensorType::kBF16, WeightForm::kSplitBf16},
                            std::pair{TensorType::kF16, WeightForm::kSplitBf16Fly},
                            std::pair{TensorType::kBF16, WeightForm::kSplitBf16Fly}}) {
    SCOPED_TRACE(tensor_type_name(type) + " form " + std::to_string(static_cast<int>(form)));
    const int64_t rows = 53, cols = 224, n = 64;
    const Matrix m = make_matrix(type, rows, cols, 7);
    Result<PreparedWeights> pw = prepare_weights(Isa::kAvx512Amx, m.weights(), form);
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
  // 4000 columns: 125 steps, so the on-the-fly form's few-token path ends on a partial pass.
  for (auto [form, cols] : {std::pair{WeightForm::kSplitBf16, int64_t{384}},
                            std::pair{WeightForm::kSplitBf16Fly, int64_t{384}},
                            std::pair{WeightForm::kSplitBf16Fly, int64_t{4000}}}) {
    SCOPED_TRACE("form " + std::to_string(static_cast<int>(form)) + " cols " +
                 std::to_string(cols));
    const int64_t rows = 200, n = 301;
    const Matrix m = make_matrix(TensorType::kF16, rows, cols, 9);
    Result<PreparedWeights> pw = prepare_weights(Isa::kAvx512Amx, m.weights(), form);
    ASSERT_TRUE(pw.ok()) << pw.status().to_string();
    const std::vector<float> x = random_acts(n, cols, 10);
    const std::vector<float> all = run_split(*pw, x.data(), n, 0, rows);
    for (int64_t t : {0, 131, 255, 300}) {
      const std::vector<float> one = run_split(*pw, x.data() + t * cols, 1, 0, rows);
      ASSERT_EQ(0, std::memcmp(one.data(), all.data() + t * rows, static_cast<size_t>(rows) * 4))
          << "token " << t;
    }
  }
}

// The on-the-fly form (F16 / BF16 weights kept 2 bytes each, split in the kernel) against the
// split form, whose weight parts come from the scalar split_bf16 at load: the same parts and the
// same tile products, so the same bits, for every token count 1..70 and 301 (the few-token path
// below 33 tokens, the chunked path above), odd row and column counts (padded groups and steps),
// and column counts whose steps end on a partial pass of the few-token path. Each output is also
// within the form's bound of the exact scalar reference (as MatchesScalarReferenceWithinBound).
TEST(SplitBf16Fly, SameBitsAsSplitFormAndWithinBoundOfReference) {
  REQUIRE_SPLIT();
  auto check = [](TensorType type, int64_t rows, int64_t cols, int64_t n, uint32_t seed) {
    SCOPED_TRACE(tensor_type_name(type) + " " + std::to_string(rows) + "x" + std::to_string(cols) +
                 " n=" + std::to_string(n));
    const Matrix m = make_matrix(type, rows, cols, seed);
    const Weights w = m.weights();
    const std::vector<float> x = random_acts(n, cols, seed + 1);
    Result<PreparedWeights> split = prepare_weights(Isa::kAvx512Amx, w, WeightForm::kSplitBf16);
    Result<PreparedWeights> fly = prepare_weights(Isa::kAvx512Amx, w, WeightForm::kSplitBf16Fly);
    ASSERT_TRUE(split.ok()) << split.status().to_string();
    ASSERT_TRUE(fly.ok()) << fly.status().to_string();
    ASSERT_EQ(fly->form(), WeightForm::kSplitBf16Fly);
    // Two bytes a weight (16-row groups, columns padded to 32).
    const int64_t padded_rows = (rows + 15) / 16 * 16, padded_cols = (cols + 31) / 32 * 32;
    EXPECT_EQ(fly->packed_bytes(), static_cast<size_t>(padded_rows * padded_cols * 2));
    const std::vector<float> want = run_split(*split, x.data(), n, 0, rows);
    const std::vector<float> got = run_split(*fly, x.data(), n, 0, rows);
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4));
    expect_within_bound_of_scalar(m, x, n, got);
  };
  for (int64_t n = 1; n <= 70; n += (n < 36 ? 1 : 7)) {
    check(TensorType::kF16, 37, 96, n, static_cast<uint32_t>(n));
  }
  for (TensorType type : {TensorType::kF16, TensorType::kBF16}) {
    check(type, 70, 160, 33, 100);
    check(type, 16, 32, 16, 101);
    check(type, 21, 50, 19, 102);   // columns padded to 64
    check(type, 19, 1000, 1, 105);  // 32 steps: eight few-token passes
    check(type, 35, 1100, 2, 106);  // 35 steps (the last pass has 3 of 4), 3 row groups
    check(type, 35, 1100, 40, 107);
    check(type, 200, 384, 301, 104);
  }
}

// What the tile unit computes (tdpbf16ps_scalar, the definition the FMA kernel for few tokens
// reproduces): random tiles against the instruction, bit for bit, over values near 1, the whole
// BF16 range (subnormal inputs, overflow to infinity), tiny values whose sums underflow (DAZ /
// FTZ), and pairs that cancel exactly; signed zeros throughout. 2,400 tiles = 614,400 outputs
// (the standalone probe behind this ran 5 million).
TEST(SplitBf16, TileProductIsTwoFmaChainsWithDazFtz) {
  REQUIRE_SPLIT();
  auto bits = [](float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    return u;
  };
  auto bf = [](float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    return static_cast<uint16_t>(u >> 16);  // exact for the values used below
  };
  alignas(64) uint16_t a[16 * 32], b[16 * 32];
  alignas(64) float c[16 * 16], c0[16 * 16];
  // Not one FMA chain: 1 + 2^-24 + 2^-24 (one pair, so one product per chain) gives 1 + 2^-23
  // (a chain would round 1 + 2^-24 to 1 twice); 2^30 + 1 - 2^30 in one chain loses the 1.
  auto one_output = [&](float c_in, std::initializer_list<std::pair<int, float>> products) {
    std::memset(a, 0, sizeof a);
    std::memset(b, 0, sizeof b);
    std::memset(c, 0, sizeof c);
    c[0] = c_in;
    for (auto [k, v] : products) {
      a[k] = bf(v);
      b[(k / 2) * 32 + k % 2] = bf(1.0f);
    }
    EXPECT_TRUE(amx_bf16_tile_product(c, a, b));
    uint16_t col[32];
    for (int k = 0; k < 32; ++k) col[k] = b[(k / 2) * 32 + k % 2];
    EXPECT_EQ(bits(c[0]), bits(tdpbf16ps_scalar(c_in, a, col)));
    return c[0];
  };
  EXPECT_EQ(one_output(1.0f, {{0, 0x1p-24f}, {1, 0x1p-24f}}), 1.0f + 0x1p-23f);
  EXPECT_EQ(one_output(0.0f, {{0, 0x1p30f}, {2, 1.0f}, {4, -0x1p30f}}), 0.0f);
  EXPECT_EQ(one_output(0.0f, {{0, 0x1p30f}, {3, 1.0f}, {4, -0x1p30f}}), 1.0f);
  std::mt19937_64 rng(12);
  int64_t checked = 0;
  for (int it = 0; it < 2400; ++it) {
    const int kind = it % 6;
    auto gen = [&]() -> uint16_t {
      uint64_t r = rng();
      const auto sign = static_cast<uint16_t>((r & 1) << 15);
      r >>= 1;
      int e = 0;
      switch (kind) {
        case 0:
          e = 119 + static_cast<int>(r % 17);
          break;  // near 1
        case 1:
          e = std::min(254, static_cast<int>(r % 256));
          break;  // everything, subnormals
        case 2:
          e = static_cast<int>(r % 70);
          break;  // tiny: underflow
        case 3:
          e = 200 + static_cast<int>(r % 55);
          break;  // huge: overflow
        case 4:
          e = r % 8 == 0 ? 0 : 67 + static_cast<int>(r % 40);
          break;
        default:
          e = 124 + static_cast<int>(r % 7);
          break;
      }
      r >>= 8;
      const auto m = static_cast<uint16_t>(r & 0x7f);
      if (((r >> 7) & 15) == 0) return sign;
      return static_cast<uint16_t>(sign | (e << 7) | m);
    };
    for (int i = 0; i < 16 * 32; ++i) {
      a[i] = gen();
      b[i] = gen();
    }
    if (kind == 5) {  // exact cancellation inside pairs
      for (int m = 0; m < 16; ++m) {
        for (int k = 0; k < 16; ++k) {
          if (rng() & 1) {
            b[k * 32 + 2 * m + 1] = b[k * 32 + 2 * m] ^ 0x8000;
            a[m * 32 + 2 * k + 1] = a[m * 32 + 2 * k];
          }
        }
      }
    }
    for (int i = 0; i < 256; ++i) {
      const uint64_t r = rng();
      uint32_t u = 0;
      if (kind == 2 || kind == 4) {
        u = static_cast<uint32_t>(r) & 0x81ffffffu;  // tiny, subnormal c included
      } else if (kind == 3) {
        u = (static_cast<uint32_t>(r) & 0x807fffffu) | static_cast<uint32_t>(200 + r % 55) << 23;
      } else {
        u = (static_cast<uint32_t>(r) & 0x807fffffu) | static_cast<uint32_t>(107 + (r >> 40) % 41)
                                                           << 23;
      }
      if ((r >> 33) % 16 == 0) u &= 0x80000000u;
      std::memcpy(&c0[i], &u, 4);
    }
    std::memcpy(c, c0, sizeof c);
    ASSERT_TRUE(amx_bf16_tile_product(c, a, b));
    for (int m = 0; m < 16; ++m) {
      for (int n = 0; n < 16; ++n) {
        uint16_t col[32];
        for (int k = 0; k < 16; ++k) {
          col[2 * k] = b[k * 32 + 2 * n];
          col[2 * k + 1] = b[k * 32 + 2 * n + 1];
        }
        const float want = tdpbf16ps_scalar(c0[m * 16 + n], a + m * 32, col);
        const float got = c[m * 16 + n];
        if (std::isnan(want) && std::isnan(got)) continue;
        ASSERT_EQ(bits(got), bits(want)) << "kind " << kind << " tile " << it << " m " << m << " n "
                                         << n << " c " << c0[m * 16 + n];
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 500000);
}

// F16 weights with 1..15 tokens run on FMA (matmul_fly_fma_avx512amxbf16.cc): the tile
// kernel's bits (the split form, whose weights were split at load), with F16 subnormal and large
// weights, activations whose lo parts are BF16 subnormals (read as zero by the tile unit), row
// ranges cut inside 16-row groups, and odd shapes.
TEST(SplitBf16Fly, FewTokensOnFmaGiveTheTileBits) {
  REQUIRE_SPLIT();
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{37, 96}, {53, 70}, {16, 32}, {9, 1100}}) {
    Matrix m = make_matrix(TensorType::kF16, rows, cols, static_cast<uint32_t>(rows + cols));
    std::mt19937 rng(static_cast<uint32_t>(cols));
    for (size_t i = 0; i < m.values.size(); i += 5) {
      // F16 subnormals (2^-24 .. 2^-15) and values near the F16 maximum.
      const uint16_t h = (rng() % 3 == 0) ? static_cast<uint16_t>(0x7800 + rng() % 0x3ff)
                                          : static_cast<uint16_t>(1 + rng() % 0x3ff);
      const uint16_t hs = static_cast<uint16_t>(h | (rng() % 2 ? 0x8000 : 0));
      std::memcpy(m.data.data() + 2 * i, &hs, 2);
    }
    const Weights w = m.weights();
    Result<PreparedWeights> split = prepare_weights(Isa::kAvx512Amx, w, WeightForm::kSplitBf16);
    Result<PreparedWeights> fly = prepare_weights(Isa::kAvx512Amx, w, WeightForm::kSplitBf16Fly);
    ASSERT_TRUE(split.ok() && fly.ok());
    for (int64_t n = 1; n <= 15; ++n) {
      SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols) + " n=" + std::to_string(n));
      std::vector<float> x = random_acts(n, cols, static_cast<uint32_t>(n));
      for (size_t i = 0; i < x.size(); i += 7)
        x[i] = std::ldexp(x[i], -118 - static_cast<int>(i % 9));
      const std::vector<float> want = run_split(*split, x.data(), n, 0, rows);
      ASSERT_EQ(0, std::memcmp(run_split(*fly, x.data(), n, 0, rows).data(), want.data(),
                               want.size() * 4));
      std::vector<uint8_t> act(activation_bytes(*fly, n));
      convert_activations(*fly, x.data(), n, act.data());
      std::vector<float> cut(want.size(), -7.0f);
      const int64_t cuts[] = {0, 3, std::min<int64_t>(19, rows), rows};
      for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
        matmul(*fly, act.data(), n, cut.data(), rows, cuts[i], cuts[i + 1]);
      }
      ASSERT_EQ(0, std::memcmp(cut.data(), want.data(), want.size() * 4)) << "row ranges";
    }
  }
}

TEST(SplitBf16Fly, PrepareRejectsOtherTypes) {
  std::vector<uint8_t> data(34 * 4 * 4, 0);
  const Weights q8{TensorType::kQ8_0, data.data(), 4, 32, 34};
  const Weights f32{TensorType::kF32, data.data(), 4, 32, 128};
  EXPECT_FALSE(prepare_weights(Isa::kAvx512Amx, q8, WeightForm::kSplitBf16Fly).ok());
  EXPECT_FALSE(prepare_weights(Isa::kAvx512Amx, f32, WeightForm::kSplitBf16Fly).ok());
  EXPECT_FALSE(split_bf16_fly_supported(Isa::kAvx512Amx, TensorType::kF32));
  EXPECT_FALSE(split_bf16_fly_supported(Isa::kAvx512Vnni, TensorType::kBF16));
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
