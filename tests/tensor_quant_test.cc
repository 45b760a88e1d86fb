// Row conversions against llama.cpp's reference data (testdata/quant/) and on edge-case rows.
#include "tensor/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "testdata.h"

namespace ember {
namespace {

constexpr int64_t kRows = 16;
constexpr int64_t kCols = 512;

struct QuantCase {
  const char* name;  // file stem in testdata/quant/
  TensorType type;
  bool has_dequant;  // <name>.dequant.f32 exists (all but the activation format q8_K)
};

// Every type in testdata/quant/.
const QuantCase kCases[] = {
    {"f16", TensorType::kF16, true},       {"bf16", TensorType::kBF16, true},
    {"q4_0", TensorType::kQ4_0, true},     {"q4_1", TensorType::kQ4_1, true},
    {"q5_0", TensorType::kQ5_0, true},     {"q5_1", TensorType::kQ5_1, true},
    {"q8_0", TensorType::kQ8_0, true},     {"iq4_nl", TensorType::kIQ4_NL, true},
    {"iq4_xs", TensorType::kIQ4_XS, true}, {"q2_K", TensorType::kQ2_K, true},
    {"q3_K", TensorType::kQ3_K, true},     {"q4_K", TensorType::kQ4_K, true},
    {"q5_K", TensorType::kQ5_K, true},     {"q6_K", TensorType::kQ6_K, true},
    {"q8_K", TensorType::kQ8_K, false},
};

// Types this branch implements; they must never skip.
const TensorType kOwnTypes[] = {
    TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,   TensorType::kQ4_0,
    TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,   TensorType::kQ8_0,
    TensorType::kQ8_K, TensorType::kIQ4_NL, TensorType::kIQ4_XS,
};

std::vector<float> to_floats(const std::vector<char>& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = static_cast<double>(a[i]) - b[i];
    s += e * e;
  }
  return a.empty() ? 0.0 : std::sqrt(s / static_cast<double>(a.size()));
}

size_t row_bytes(TensorType type, int64_t n) { return *tensor_row_size(type, n); }

// Quantizes rows x rows of x, then dequantizes back; fails the test on any error.
std::vector<float> round_trip(TensorType type, const std::vector<float>& x, int64_t rows) {
  const int64_t cols = static_cast<int64_t>(x.size()) / rows;
  std::vector<unsigned char> q(row_bytes(type, cols) * static_cast<size_t>(rows));
  Status s = quantize_rows(type, x.data(), q.data(), rows, cols);
  EXPECT_TRUE(s.ok()) << s.to_string();
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    Status d = dequantize_row(type, q.data() + static_cast<size_t>(r) * row_bytes(type, cols),
                              y.data() + r * cols, cols);
    EXPECT_TRUE(d.ok()) << d.to_string();
  }
  return y;
}

class QuantReference : public ::testing::TestWithParam<QuantCase> {};

// Every type in the reference data must have converters; none may skip.
#define REQUIRE_CONVERTERS(c) ASSERT_TRUE(can_quantize((c).type)) << (c).name

TEST_P(QuantReference, DequantizeIsBitExact) {
  const QuantCase& c = GetParam();
  REQUIRE_CONVERTERS(c);
  EMBER_REQUIRE_TESTDATA(dir);
  const std::vector<char> bin = testing::read_file_bytes(dir / "quant" / (std::string(c.name) + ".bin"));
  if (!c.has_dequant) {
    // The activation format has no reference dequantization; its values d * q must still lie
    // within half a quantization step of the input they were made from.
    const std::vector<float> input = to_floats(testing::read_file_bytes(dir / "quant" / "input.f32"));
    ASSERT_EQ(bin.size(), row_bytes(c.type, kCols) * kRows);
    std::vector<float> got(input.size());
    for (int64_t r = 0; r < kRows; ++r) {
      ASSERT_TRUE(dequantize_row(c.type, bin.data() + r * row_bytes(c.type, kCols), got.data() + r * kCols, kCols).ok());
    }
    for (int64_t r = 0; r < kRows; ++r) {
      float amax = 0;
      for (int64_t i = 0; i < kCols; ++i) amax = std::max(amax, std::fabs(input[r * kCols + i]));
      const float half_step = amax / 127.0f * 0.5001f + 1e-30f;
      for (int64_t i = 0; i < kCols; ++i) {
        ASSERT_LE(std::fabs(got[r * kCols + i] - input[r * kCols + i]), half_step) << "row " << r << " element " << i;
      }
    }
    return;
  }
  const std::vector<float> expected =
      to_floats(testing::read_file_bytes(dir / "quant" / (std::string(c.name) + ".dequant.f32")));
  ASSERT_EQ(bin.size(), row_bytes(c.type, kCols) * kRows);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kRows * kCols));

  std::vector<float> got(expected.size());
  for (int64_t r = 0; r < kRows; ++r) {
    Status s = dequantize_row(c.type, bin.data() + r * row_bytes(c.type, kCols),
                              got.data() + r * kCols, kCols);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  if (std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) != 0) {
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::memcmp(&got[i], &expected[i], sizeof(float)) != 0) {
        FAIL() << c.name << ": first mismatch at element " << i << " (row " << i / kCols
               << "): got " << got[i] << ", expected " << expected[i];
      }
    }
  }
}

TEST_P(QuantReference, QuantizeErrorNoWorseThanReference) {
  const QuantCase& c = GetParam();
  REQUIRE_CONVERTERS(c);
  EMBER_REQUIRE_TESTDATA(dir);
  const std::vector<float> input = to_floats(testing::read_file_bytes(dir / "quant" / "input.f32"));
  ASSERT_EQ(input.size(), static_cast<size_t>(kRows * kCols));
  ASSERT_TRUE(can_quantize(c.type));

  const std::vector<float> ours = round_trip(c.type, input, kRows);
  const double ours_rmse = rmse(ours, input);
  double ref_rmse;
  if (c.has_dequant) {
    ref_rmse = rmse(to_floats(testing::read_file_bytes(
                        dir / "quant" / (std::string(c.name) + ".dequant.f32"))),
                    input);
  } else {
    // q8_K: dequantize the reference's bytes ourselves (its dequantizer is d * q).
    const std::vector<char> bin = testing::read_file_bytes(dir / "quant" / "q8_K.bin");
    std::vector<float> ref(input.size());
    for (int64_t r = 0; r < kRows; ++r) {
      ASSERT_TRUE(dequantize_row(c.type, bin.data() + r * row_bytes(c.type, kCols),
                                 ref.data() + r * kCols, kCols)
                      .ok());
    }
    ref_rmse = rmse(ref, input);
  }
  RecordProperty("rmse_ours", std::to_string(ours_rmse));
  RecordProperty("rmse_reference", std::to_string(ref_rmse));
  std::printf("[ rmse     ] %-7s ours %.9g  reference %.9g  (ratio %.4f)\n", c.name, ours_rmse,
              ref_rmse, ref_rmse > 0 ? ours_rmse / ref_rmse : 1.0);
  EXPECT_LE(ours_rmse, ref_rmse) << c.name;
}

TEST_P(QuantReference, RequantizingIsStable) {
  const QuantCase& c = GetParam();
  REQUIRE_CONVERTERS(c);
  EMBER_REQUIRE_TESTDATA(dir);
  const std::vector<float> input = to_floats(testing::read_file_bytes(dir / "quant" / "input.f32"));
  const std::vector<float> once = round_trip(c.type, input, kRows);
  const std::vector<float> twice = round_trip(c.type, once, kRows);
  // Values that are already representable should (nearly) come back; never drift further than
  // the first quantization's own error.
  EXPECT_LE(rmse(twice, once), rmse(once, input)) << c.name;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantReference, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<QuantCase>& p) {
                           return std::string(p.param.name);
                         });

TEST(QuantReferenceQ8K, QuantizeIsBitExact) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::vector<float> input = to_floats(testing::read_file_bytes(dir / "quant" / "input.f32"));
  const std::vector<char> expected = testing::read_file_bytes(dir / "quant" / "q8_K.bin");
  std::vector<char> got(row_bytes(TensorType::kQ8_K, kCols) * kRows);
  ASSERT_EQ(got.size(), expected.size());
  ASSERT_TRUE(quantize_rows(TensorType::kQ8_K, input.data(), got.data(), kRows, kCols).ok());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], expected[i]) << "first differing byte " << i << " (block "
                                   << i / row_bytes(TensorType::kQ8_K, 256) << ")";
  }
}

// ---- edge cases, on every type this branch implements ------------------------------------------

class QuantEdge : public ::testing::TestWithParam<TensorType> {};

constexpr int64_t kEdgeN = 512;  // a multiple of every block size

// Round trip of one row; checks no NaN and returns the dequantized row.
std::vector<float> edge_round_trip(TensorType type, const std::vector<float>& x) {
  std::vector<float> y = round_trip(type, x, 1);
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_FALSE(std::isnan(y[i])) << tensor_type_name(type) << " element " << i;
  }
  return y;
}

float max_abs(const std::vector<float>& x) {
  float m = 0;
  for (float v : x) m = std::fmax(m, std::fabs(v));
  return m;
}

// Loose per-type error bound relative to the largest magnitude: half a quantization step of the
// coarsest format (4-bit levels) with room for fp16 scale rounding.
double rel_bound(TensorType t) {
  return (t == TensorType::kF32 || t == TensorType::kF16 || t == TensorType::kBF16) ? 0.01 : 0.1;
}

TEST(QuantDispatch, OwnTypesAreQuantizable) {
  for (TensorType t : kOwnTypes) EXPECT_TRUE(can_quantize(t)) << tensor_type_name(t);
}

TEST_P(QuantEdge, ZeroRow) {
  const std::vector<float> x(kEdgeN, 0.0f);
  const std::vector<float> y = edge_round_trip(GetParam(), x);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], 0.0f) << i;
}

TEST_P(QuantEdge, OneHugeOutlier) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> x(kEdgeN);
  for (float& v : x) v = dist(rng);
  x[37] = 3.0e4f;
  const std::vector<float> y = edge_round_trip(GetParam(), x);
  EXPECT_LE(rmse(y, x), rel_bound(GetParam()) * max_abs(x));
  EXPECT_NEAR(y[37], x[37], 0.2 * x[37]);

  // Beyond the fp16 scale range: block formats saturate; nothing may become NaN.
  x[37] = 1.0e30f;
  const std::vector<float> z = edge_round_trip(GetParam(), x);
  if (GetParam() != TensorType::kF16) {
    for (float v : z) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST_P(QuantEdge, AllEqual) {
  const std::vector<float> x(kEdgeN, 0.37f);
  const std::vector<float> y = edge_round_trip(GetParam(), x);
  EXPECT_LE(rmse(y, x), 0.01 * 0.37);
}

TEST_P(QuantEdge, TinyValues) {
  // Around the fp16 subnormal range (2^-24 .. 2^-14), where fp16 scales lose precision.
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-3e-6f, 3e-6f);
  std::vector<float> x(kEdgeN);
  for (float& v : x) v = dist(rng);
  const std::vector<float> y = edge_round_trip(GetParam(), x);
  EXPECT_LE(rmse(y, x), max_abs(x));  // never worse than writing zeros, roughly
}

TEST_P(QuantEdge, AllNegativeBlock) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-2.0f, -0.5f);
  std::vector<float> x(kEdgeN);
  for (float& v : x) v = dist(rng);
  const std::vector<float> y = edge_round_trip(GetParam(), x);
  EXPECT_LE(rmse(y, x), rel_bound(GetParam()) * max_abs(x));
  for (size_t i = 0; i < y.size(); ++i) EXPECT_LE(y[i], 0.0f) << i;
}

TEST_P(QuantEdge, UnalignedBuffers) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(kEdgeN);
  for (float& v : x) v = dist(rng);
  const size_t bytes = row_bytes(GetParam(), kEdgeN);
  std::vector<unsigned char> aligned(bytes), shifted(bytes + 1);
  ASSERT_TRUE(quantize_row(GetParam(), x.data(), aligned.data(), kEdgeN).ok());
  ASSERT_TRUE(quantize_row(GetParam(), x.data(), shifted.data() + 1, kEdgeN).ok());
  EXPECT_EQ(0, std::memcmp(aligned.data(), shifted.data() + 1, bytes));
  std::vector<float> a(kEdgeN), b(kEdgeN);
  ASSERT_TRUE(dequantize_row(GetParam(), aligned.data(), a.data(), kEdgeN).ok());
  ASSERT_TRUE(dequantize_row(GetParam(), shifted.data() + 1, b.data(), kEdgeN).ok());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), kEdgeN * sizeof(float)));
}

TEST_P(QuantEdge, RejectsNonFiniteInput) {
  std::vector<unsigned char> out(row_bytes(GetParam(), kEdgeN));
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> x(kEdgeN, 1.0f);
    x[100] = bad;
    Status s = quantize_row(GetParam(), x.data(), out.data(), kEdgeN);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
    EXPECT_NE(s.message().find("element 100"), std::string::npos) << s.message();
  }
}

TEST_P(QuantEdge, RejectsPartialBlock) {
  const int64_t block = tensor_type_traits(GetParam())->block_size;
  if (block == 1) {
    // Plain types accept any length, but not a negative one.
    std::vector<float> x(4, 1.0f);
    std::vector<unsigned char> out(64);
    EXPECT_EQ(quantize_row(GetParam(), x.data(), out.data(), -1).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(dequantize_row(GetParam(), out.data(), x.data(), -1).code(), StatusCode::kInvalidArgument);
    return;
  }
  std::vector<float> x(static_cast<size_t>(block) + 1, 1.0f);
  std::vector<unsigned char> out(1024);
  EXPECT_EQ(quantize_row(GetParam(), x.data(), out.data(), block + 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(dequantize_row(GetParam(), out.data(), x.data(), block + 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(quantize_rows(GetParam(), x.data(), out.data(), 1, block - 1).code(),
            StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(OwnTypes, QuantEdge, ::testing::ValuesIn(kOwnTypes),
                         [](const ::testing::TestParamInfo<TensorType>& p) {
                           return tensor_type_name(p.param);
                         });

TEST(QuantDispatch, UnsupportedTypeIsNamed) {
  std::vector<float> x(256, 1.0f);
  std::vector<unsigned char> out(1024);
  Status s = quantize_row(TensorType::kIQ2_XXS, x.data(), out.data(), 256);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("iq2_xxs"), std::string::npos) << s.message();
  s = dequantize_row(TensorType::kIQ2_XXS, out.data(), x.data(), 256);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("iq2_xxs"), std::string::npos) << s.message();
  EXPECT_FALSE(can_quantize(TensorType::kIQ2_XXS));
  s = dequantize_row(static_cast<TensorType>(99), out.data(), x.data(), 256);
  EXPECT_FALSE(s.ok());
}

TEST(QuantDispatch, EmptyRowIsFine) {
  EXPECT_TRUE(quantize_row(TensorType::kQ4_0, nullptr, nullptr, 0).ok());
  EXPECT_TRUE(dequantize_row(TensorType::kQ4_0, nullptr, nullptr, 0).ok());
}

// MXFP4 against the OCP microscaling spec: E2M1 codes (sign bit 3, then 0, 0.5, 1, 1.5, 2, 3, 4, 6)
// times the E8M0 scale 2^(e - 127), element j < 16 in the low nibble of byte j, j + 16 in the high.
TEST(TensorQuant, Mxfp4DequantizesAsTheSpecDefinesBitExactly) {
  const double kE2M1[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};
  for (int e : {0, 1, 2, 100, 127, 130, 200, 254}) {
    uint8_t block[17];
    block[0] = static_cast<uint8_t>(e);
    for (int j = 0; j < 16; ++j) block[1 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    float out[32];
    ASSERT_TRUE(dequantize_row(TensorType::kMXFP4, block, out, 32).ok());
    for (int j = 0; j < 32; ++j) {
      const int code = j < 16 ? j : 15 - (j - 16);
      const double mag = std::ldexp(kE2M1[code & 7], e - 127);
      const double want = (code & 8) != 0 ? -mag : mag;
      EXPECT_EQ(out[j], static_cast<float>(want)) << "e " << e << " element " << j;
    }
  }
  // Quantizing values that are exactly representable gives them back.
  std::vector<float> x(64);
  for (int j = 0; j < 64; ++j) x[j] = static_cast<float>(kE2M1[j % 8] * ((j / 8) % 2 ? -0.25 : 8.0));
  std::vector<uint8_t> q(2 * 17);
  ASSERT_TRUE(quantize_row(TensorType::kMXFP4, x.data(), q.data(), 64).ok());
  std::vector<float> back(64);
  ASSERT_TRUE(dequantize_row(TensorType::kMXFP4, q.data(), back.data(), 64).ok());
  for (int j = 0; j < 64; ++j) {
    // Each block mixes 8x and -0.25x values: the small ones are below the block's step except 0.
    if ((j / 8) % 2 == 0) {
      EXPECT_EQ(back[j], x[j]) << j;
    }
  }
}

}  // namespace
}  // namespace ember
