// Matrix-product kernels (kernels/matmul.h): the scalar reference against dequantized weights,
// every SIMD variant against the scalar reference, the determinism contract per Isa, activation
// conversion against tensor/quantize, and CPU feature detection.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/cpu_features.h"
#include "kernels/act_layout.h"
#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"
#include "tensor/quant_legacy.h"
#include "tensor/quant_mxfp4.h"
#include "tensor/quantize.h"

namespace ember::kernels {
namespace {

const TensorType kAllTypes[] = {
    TensorType::kF32,  TensorType::kF16,    TensorType::kBF16,   TensorType::kQ4_0,
    TensorType::kQ4_1, TensorType::kQ5_0,   TensorType::kQ5_1,   TensorType::kQ8_0,
    TensorType::kQ2_K, TensorType::kQ3_K,   TensorType::kQ4_K,   TensorType::kQ5_K,
    TensorType::kQ6_K, TensorType::kIQ4_NL, TensorType::kIQ4_XS, TensorType::kMXFP4,
};

int64_t block_of(TensorType t) {
  return tensor_type_traits(t)->block_size;
}

// Random values with a different scale per row and a few outliers, like real weights.
std::vector<float> random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.01f, 2.0f);
  std::vector<float> m(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float s = scale(rng);
    for (int64_t c = 0; c < cols; ++c) {
      float v = n01(rng) * s;
      if (rng() % 97 == 0) v *= 8.0f;
      m[static_cast<size_t>(r * cols + c)] = v;
    }
  }
  return m;
}

// A quantized matrix plus its exact dequantization.
struct Matrix {
  TensorType type;
  int64_t rows, cols;
  size_t row_bytes;
  std::vector<uint8_t> data;
  std::vector<float> deq;
  Weights weights() const { return Weights{type, data.data(), rows, cols, row_bytes}; }
};

Matrix make_matrix(TensorType type, int64_t rows, int64_t cols, uint32_t seed,
                   size_t extra_row_bytes = 0) {
  Matrix m{type, rows, cols, *tensor_row_size(type, cols) + extra_row_bytes, {}, {}};
  const std::vector<float> src = random_matrix(rows, cols, seed);
  m.data.assign(m.row_bytes * static_cast<size_t>(rows), 0xAB);
  m.deq.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = m.data.data() + static_cast<size_t>(r) * m.row_bytes;
    EXPECT_TRUE(quantize_row(type, src.data() + r * cols, row, cols).ok());
    EXPECT_TRUE(dequantize_row(type, row, m.deq.data() + r * cols, cols).ok());
  }
  return m;
}

// Converted activations plus their dequantized values (what the kernels actually multiply).
// For Q8_1 activations, s_err[t][b] = |s - d * sum(q)|: the stored block sum s is rounded to
// fp16 (as in the reference), so products with Q4_1/Q5_1 offsets carry that rounding too.
struct Acts {
  std::vector<uint8_t> buf;
  std::vector<float> x, xq;
  std::vector<double> s_err;
};

Acts make_acts(Isa isa, TensorType wtype, int64_t n_tokens, int64_t cols, uint32_t seed,
               float x_scale = 1.0f) {
  Acts a;
  a.x = random_matrix(n_tokens, cols, seed);
  for (float& v : a.x) v *= x_scale;
  a.buf.assign(activation_bytes(wtype, n_tokens, cols), 0xCD);
  convert_activations(isa, wtype, a.x.data(), n_tokens, cols, a.buf.data());
  const ActLayout l = act_layout(wtype, cols);
  a.xq.resize(a.x.size());
  for (int64_t t = 0; t < n_tokens; ++t) {
    const uint8_t* p = a.buf.data() + static_cast<size_t>(t) * l.stride;
    for (int64_t c = 0; c < cols; ++c) {
      float v;
      if (l.kind == ActKind::kF32) {
        std::memcpy(&v, p + 4 * c, 4);
      } else {
        const int64_t bs = l.kind == ActKind::kQ8_K ? 256 : 32;
        float d;
        std::memcpy(&d, p + l.d_offset + 4 * static_cast<size_t>(c / bs), 4);
        v = d * static_cast<float>(static_cast<int8_t>(p[c]));
      }
      a.xq[static_cast<size_t>(t * cols + c)] = v;
    }
    for (int64_t b = 0; l.kind == ActKind::kQ8_1 && b < l.n_blocks; ++b) {
      float d, s;
      std::memcpy(&d, p + l.d_offset + 4 * static_cast<size_t>(b), 4);
      std::memcpy(&s, p + l.aux_offset + 4 * static_cast<size_t>(b), 4);
      double sum = 0;
      for (int j = 0; j < 32; ++j) sum += static_cast<int8_t>(p[32 * b + j]);
      a.s_err.push_back(std::fabs(s - static_cast<double>(d) * sum));
    }
  }
  return a;
}

std::vector<float> run(Isa isa, const Weights& w, const Acts& a, int64_t n_tokens,
                       int64_t row_begin, int64_t row_end) {
  std::vector<float> y(static_cast<size_t>(n_tokens * w.rows), -7.0f);
  matmul(isa, w, a.buf.data(), n_tokens, y.data(), w.rows, row_begin, row_end);
  return y;
}

std::string label(Isa isa, TensorType t, int64_t rows, int64_t cols, int64_t n) {
  return std::string(isa_name(isa)) + " " + tensor_type_name(t) + " " + std::to_string(rows) + "x" +
         std::to_string(cols) + " n_tokens=" + std::to_string(n);
}

// ---- CPU features ---------------------------------------------------------------------------

TEST(CpuFeatures, IsaListIsConsistent) {
  const CpuFeatures& f = cpu_features();
  const std::vector<Isa> isas = supported_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::kScalar);
  EXPECT_EQ(isas.back(), best_isa());
  for (size_t i = 1; i < isas.size(); ++i) EXPECT_LT(isas[i - 1], isas[i]);
  for (Isa isa : isas) {
    EXPECT_EQ(isa_from_name(isa_name(isa)), isa);
    if (isa >= Isa::kAvx2) {
      EXPECT_TRUE(f.avx2 && f.fma && f.f16c && f.avx);
    }
    if (isa >= Isa::kAvx512) {
      EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq);
    }
    if (isa >= Isa::kAvx512Vnni) {
      EXPECT_TRUE(f.avx512vnni);
    }
    if (isa == Isa::kAvx512Amx) {
      EXPECT_TRUE(f.amx_tile && f.amx_int8);
    }
  }
  // Implied features: AVX-512 state needs AVX state; the detection never reports one without it.
  if (f.avx512f) {
    EXPECT_TRUE(f.avx);
  }
  if (f.avx2 || f.fma || f.f16c) {
    EXPECT_TRUE(f.avx);
  }
  if (f.avx512vnni || f.avx512bw || f.avx512bf16) {
    EXPECT_TRUE(f.avx512f);
  }
  if (f.amx_int8 || f.amx_bf16) {
    EXPECT_TRUE(f.amx_tile);
  }
  EXPECT_EQ(detect_cpu_features().to_string(), f.to_string());
  EXPECT_FALSE(isa_from_name("avx1024").has_value());
}

// ---- argument checks ------------------------------------------------------------------------

TEST(Matmul, CheckWeightsRejectsBadShapes) {
  uint8_t data[64] = {};
  EXPECT_TRUE(check_weights({TensorType::kQ4_0, data, 1, 32, 18}).ok());
  EXPECT_FALSE(check_weights({TensorType::kQ4_0, data, 1, 33, 18}).ok());
  EXPECT_FALSE(check_weights({TensorType::kQ4_0, data, 1, 32, 17}).ok());
  EXPECT_FALSE(check_weights({TensorType::kQ4_0, nullptr, 1, 32, 18}).ok());
  EXPECT_FALSE(check_weights({TensorType::kQ8_K, data, 1, 256, 292}).ok());
  EXPECT_FALSE(check_weights({TensorType::kF32, data, 1, 0, 0}).ok());
  EXPECT_FALSE(prepare_weights(Isa::kScalar, {TensorType::kQ4_K, data, 1, 32, 144}).ok());
}

// ---- activation conversion ------------------------------------------------------------------

TEST(Matmul, ActivationConversionMatchesQuantizeRow) {
  const int64_t cols = 512, n = 3;
  std::vector<float> x = random_matrix(n, cols, 7);
  x[5] = 0.0f;
  std::fill(x.begin() + 64, x.begin() + 96, 0.0f);  // an all-zero Q8_0 block
  for (Isa isa : supported_isas()) {
    for (TensorType wt : {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ4_K}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + tensor_type_name(wt));
      const ActLayout l = act_layout(wt, cols);
      std::vector<uint8_t> buf(activation_bytes(wt, n, cols));
      convert_activations(isa, wt, x.data(), n, cols, buf.data());
      for (int64_t t = 0; t < n; ++t) {
        const uint8_t* p = buf.data() + static_cast<size_t>(t) * l.stride;
        const float* xt = x.data() + t * cols;
        if (l.kind == ActKind::kQ8_K) {
          std::vector<BlockQ8_K> ref(cols / 256);
          ASSERT_TRUE(quantize_row(TensorType::kQ8_K, xt, ref.data(), cols).ok());
          for (size_t b = 0; b < ref.size(); ++b) {
            float d;
            std::memcpy(&d, p + l.d_offset + 4 * b, 4);
            EXPECT_EQ(fp32_to_bits(d), fp32_to_bits(ref[b].d));
            EXPECT_EQ(0, std::memcmp(p + 256 * b, ref[b].qs, 256));
            EXPECT_EQ(0, std::memcmp(p + l.aux_offset + 32 * b, ref[b].bsums, 32));
          }
        } else {
          // Q8_0 / Q8_1 activations as the reference's x86 build quantizes them (its vectorised
          // quantize_row_q8_0 / _q8_1): d = amax / 127 as fp16, codes x * (127 / amax) rounded
          // to nearest even, s = d * sum(codes) as fp16. Written out here from that definition.
          for (int64_t b = 0; b < cols / 32; ++b) {
            const float* xb = xt + 32 * b;
            float amax = 0.0f;
            for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
            const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
            int8_t want[32];
            int sum = 0;
            for (int j = 0; j < 32; ++j) {
              want[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
              sum += want[j];
            }
            const float dh = fp16_to_fp32(fp32_to_fp16(amax / 127.0f));
            float d, s;
            std::memcpy(&d, p + l.d_offset + 4 * b, 4);
            std::memcpy(&s, p + l.aux_offset + 4 * b, 4);
            EXPECT_EQ(fp32_to_bits(d), fp32_to_bits(dh));
            EXPECT_EQ(0, std::memcmp(p + 32 * b, want, 32)) << "block " << b;
            if (l.kind == ActKind::kQ8_1) {
              const float sh = fp16_to_fp32(fp32_to_fp16(static_cast<float>(sum) * (amax / 127.0f)));
              EXPECT_EQ(fp32_to_bits(s), fp32_to_bits(sh));
            } else {
              int32_t bias;
              std::memcpy(&bias, &s, 4);
              EXPECT_EQ(bias, -8 * sum);
            }
          }
        }
      }
    }
  }
}

TEST(Matmul, ActivationConversionIsIsaIndependent) {
  for (TensorType wt : kAllTypes) {
    const int64_t cols = 1024, n = 5;
    std::vector<float> x = random_matrix(n, cols, 11);
    // Token 1: unusual blocks. Ties at .5 after scaling (amax 127 gives scale 1), both signs of
    // the largest magnitude (the first one sets the Q8_K scale sign), zeros, subnormals, inf and
    // NaN (each in its own 32- and 256-column block), huge values.
    float* u = x.data() + cols;
    for (int j = 0; j < 32; ++j) u[j] = static_cast<float>(j - 16) + 0.5f;
    u[31] = 127.0f;
    u[40] = -3.0f;
    u[41] = 3.0f;
    std::fill(u + 64, u + 96, 0.0f);
    for (int j = 96; j < 128; ++j) u[j] = 1e-42f * static_cast<float>(j - 100);
    // Scales beyond half precision's range (clamped to 65504 when stored as F16).
    for (int j = 128; j < 160; ++j) u[j] = 1e10f * static_cast<float>(j - 141);
    u[300] = INFINITY;
    u[600] = NAN;
    u[700] = -INFINITY;
    for (int j = 768; j < 1024; ++j) u[j] = (j % 2 ? 1.0f : -1.0f) * static_cast<float>(j % 7);
    std::vector<uint8_t> ref(activation_bytes(wt, n, cols));
    convert_activations(Isa::kScalar, wt, x.data(), n, cols, ref.data());
    for (Isa isa : supported_isas()) {
      std::vector<uint8_t> got(ref.size(), 0x55);
      convert_activations(isa, wt, x.data(), n, cols, got.data());
      EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), ref.size()))
          << isa_name(isa) << " " << tensor_type_name(wt);
    }
  }
}

// Where the reference's x86 quantizer and its portable one part: a scaled value exactly at .5
// rounds to even, and the scale is 127 / amax itself, not the reciprocal of amax / 127.
TEST(Matmul, ActivationConversionRoundsHalfToEven) {
  const int64_t cols = 32;
  std::vector<float> x(cols, 0.0f);
  x[0] = 127.0f;  // amax 127: scale 1, so x * scale = x exactly
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 3.5f;
  x[4] = -0.5f;
  for (Isa isa : supported_isas()) {
    for (TensorType wt : {TensorType::kQ8_0, TensorType::kQ4_1}) {
      std::vector<uint8_t> buf(activation_bytes(wt, 1, cols));
      convert_activations(isa, wt, x.data(), 1, cols, buf.data());
      const auto* q = reinterpret_cast<const int8_t*>(buf.data());
      EXPECT_EQ(q[0], 127) << isa_name(isa);
      EXPECT_EQ(q[1], 2) << isa_name(isa);
      EXPECT_EQ(q[2], -2) << isa_name(isa);
      EXPECT_EQ(q[3], 4) << isa_name(isa);
      EXPECT_EQ(q[4], 0) << isa_name(isa);
    }
  }
}

// ---- F32 weights: the reference's summation order ---------------------------------------------

// The reference's tiled float GEMM (taken when cols % 16 == 0 and rows % 4 == 0): 16 lane sums,
// lane l an FMA chain over columns l, l + 16, ..., then lanes l + 8 onto l, l + 4 onto l, and
// (0 + 2) + (1 + 3).
float reference_gemm_dot(const float* w, const float* x, int64_t cols) {
  float lane[16] = {};
  for (int64_t c = 0; c < cols; ++c) lane[c % 16] = std::fma(w[c], x[c], lane[c % 16]);
  float h[8], q[4];
  for (int l = 0; l < 8; ++l) h[l] = lane[l] + lane[l + 8];
  for (int l = 0; l < 4; ++l) q[l] = h[l] + h[l + 4];
  return (q[0] + q[2]) + (q[1] + q[3]);
}

// Its vector dot product (other shapes): four 16-lane chains over each 64 columns, summed
// (0 + 2, 1 + 3, then the two), reduced as above, then an FMA chain over the last cols % 64.
float reference_vec_dot(const float* w, const float* x, int64_t cols) {
  const int64_t np = cols / 64 * 64;
  float acc[4][16] = {};
  for (int64_t c = 0; c < np; ++c) {
    float& a = acc[(c % 64) / 16][c % 16];
    a = std::fma(w[c], x[c], a);
  }
  float lane[16];
  for (int l = 0; l < 16; ++l) lane[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  float h[8], q[4];
  for (int l = 0; l < 8; ++l) h[l] = lane[l] + lane[l + 8];
  for (int l = 0; l < 4; ++l) q[l] = h[l] + h[l + 4];
  float sum = (q[0] + q[2]) + (q[1] + q[3]);
  for (int64_t c = np; c < cols; ++c) sum = std::fma(w[c], x[c], sum);
  return sum;
}

TEST(Matmul, F32FollowsTheReferenceSummationOrder) {
  struct Shape {
    int64_t rows, cols;
    bool gemm;
  };
  // gemm order; rows not a multiple of 4; cols not a multiple of 16 (with and without a 64 part).
  for (const Shape sh : {Shape{8, 256, true}, Shape{12, 48, true}, Shape{6, 128, false},
                         Shape{4, 200, false}, Shape{5, 40, false}}) {
    const std::vector<float> w = random_matrix(sh.rows, sh.cols, 31);
    const Weights wt{TensorType::kF32, w.data(), sh.rows, sh.cols,
                     static_cast<size_t>(sh.cols) * sizeof(float)};
    for (int64_t n : {1, 2, 5, 7}) {
      const Acts a = make_acts(Isa::kScalar, TensorType::kF32, n, sh.cols, 32);
      for (Isa isa : supported_isas()) {
        SCOPED_TRACE(label(isa, TensorType::kF32, sh.rows, sh.cols, n));
        // Whole matrix, and an odd row range (the kernels' row blocks must not matter).
        const std::vector<float> y = run(isa, wt, a, n, 0, sh.rows);
        const std::vector<float> y2 = run(isa, wt, a, n, 1, sh.rows - 1);
        auto prepared = prepare_weights(isa, wt);
        ASSERT_TRUE(prepared.ok());
        std::vector<float> y3(static_cast<size_t>(n * sh.rows), -7.0f);
        matmul(*prepared, a.buf.data(), n, y3.data(), sh.rows, 0, sh.rows);
        for (int64_t t = 0; t < n; ++t) {
          for (int64_t r = 0; r < sh.rows; ++r) {
            const float* wr = w.data() + r * sh.cols;
            const float* xt = a.x.data() + t * sh.cols;
            const float want = sh.gemm ? reference_gemm_dot(wr, xt, sh.cols)
                                       : reference_vec_dot(wr, xt, sh.cols);
            const size_t i = static_cast<size_t>(t * sh.rows + r);
            EXPECT_EQ(fp32_to_bits(y[i]), fp32_to_bits(want)) << "t " << t << " r " << r;
            EXPECT_EQ(fp32_to_bits(y3[i]), fp32_to_bits(want)) << "prepared t " << t << " r " << r;
            if (r >= 1 && r < sh.rows - 1) {
              EXPECT_EQ(fp32_to_bits(y2[i]), fp32_to_bits(want));
            }
          }
        }
      }
    }
  }
}

// ---- scalar reference against dequantized weights -------------------------------------------

TEST(Matmul, ScalarMatchesDequantizedProducts) {
  for (TensorType type : kAllTypes) {
    const int64_t rows = 9, cols = std::max<int64_t>(512, block_of(type)), n = 3;
    const Matrix m = make_matrix(type, rows, cols, 100 + static_cast<uint32_t>(type), 8);
    const Acts a = make_acts(Isa::kScalar, type, n, cols, 200);
    const std::vector<float> y = run(Isa::kScalar, m.weights(), a, n, 0, rows);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        double exact = 0, on_quantized = 0, mag = 0, qerr = 0, serr = 0;
        for (int64_t b = 0; !a.s_err.empty() && b < cols / 32; ++b) {
          // |offset m| <= the largest |value| of the weight block.
          double wmax = 0;
          for (int64_t c = 32 * b; c < 32 * b + 32; ++c) {
            wmax = std::max(
                wmax, std::fabs(static_cast<double>(m.deq[static_cast<size_t>(r * cols + c)])));
          }
          serr += wmax * a.s_err[static_cast<size_t>(t * (cols / 32) + b)];
        }
        for (int64_t c = 0; c < cols; ++c) {
          const double w = m.deq[static_cast<size_t>(r * cols + c)];
          const double x = a.x[static_cast<size_t>(t * cols + c)];
          const double xq = a.xq[static_cast<size_t>(t * cols + c)];
          exact += w * x;
          on_quantized += w * xq;
          mag += std::fabs(w * xq);
          qerr += std::fabs(w) * std::fabs(x - xq);
        }
        const double got = y[static_cast<size_t>(t * rows + r)];
        SCOPED_TRACE(label(Isa::kScalar, type, rows, cols, n));
        // The integer block products are exact; only F32 roundings of the scales and the
        // running sum remain.
        EXPECT_NEAR(got, on_quantized, 1e-5 * mag + serr + 1e-30);
        // Against the unquantized activations: within the activation rounding error.
        EXPECT_NEAR(got, exact, qerr + serr + 1e-5 * mag + 1e-30);
      }
    }
  }
}

// ---- SIMD variants against the scalar reference ---------------------------------------------

// Sum of |w * x| per output element, the scale for comparing different summation orders.
std::vector<double> magnitudes(const Matrix& m, const Acts& a, int64_t n) {
  std::vector<double> mag(static_cast<size_t>(n * m.rows));
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t r = 0; r < m.rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < m.cols; ++c) {
        s += std::fabs(static_cast<double>(m.deq[static_cast<size_t>(r * m.cols + c)]) *
                       a.xq[static_cast<size_t>(t * m.cols + c)]);
      }
      mag[static_cast<size_t>(t * m.rows + r)] = s;
    }
  }
  return mag;
}

void expect_close_to_scalar(Isa isa, TensorType type, int64_t rows, int64_t cols, int64_t n,
                            uint32_t seed) {
  SCOPED_TRACE(label(isa, type, rows, cols, n));
  const Matrix m = make_matrix(type, rows, cols, seed);
  const Acts a = make_acts(isa, type, n, cols, seed + 1);
  const std::vector<float> ref = run(Isa::kScalar, m.weights(), a, n, 0, rows);
  const std::vector<float> got = run(isa, m.weights(), a, n, 0, rows);
  const std::vector<double> mag = magnitudes(m, a, n);
  int bad = 0;
  for (size_t i = 0; i < ref.size() && bad < 5; ++i) {
    const double tol = 2e-6 * mag[i] + 1e-30;
    if (!(std::fabs(static_cast<double>(got[i]) - ref[i]) <= tol)) {
      ADD_FAILURE() << "element " << i << " (token " << i / rows << ", row " << i % rows
                    << "): got " << got[i] << " want " << ref[i] << " tol " << tol;
      ++bad;
    }
  }
}

TEST(Matmul, SimdMatchesScalarOnOddShapes) {
  for (Isa isa : supported_isas()) {
    if (isa == Isa::kScalar) continue;
    for (TensorType type : kAllTypes) {
      const int64_t bs = block_of(type);
      const int64_t kmin = std::max<int64_t>(bs, 32);
      expect_close_to_scalar(isa, type, 1, kmin, 1, 1);
      expect_close_to_scalar(isa, type, 17, kmin, 5, 2);
      expect_close_to_scalar(isa, type, 33, bs == 256 ? 768 : 96, 3, 3);
      expect_close_to_scalar(isa, type, 70, 4096, 17, 4);
      expect_close_to_scalar(isa, type, 100, 512, 9, 5);
    }
  }
}

// Gives every MXFP4 block of `data` a random scale exponent in [110, 140) (scales 2^-18 .. 2^12),
// so that products stay finite.
void set_e8m0_scales(std::vector<uint8_t>& data, std::mt19937& rng) {
  for (size_t blk = 0; blk < data.size() / sizeof(BlockMXFP4); ++blk) {
    data[blk * sizeof(BlockMXFP4)] = static_cast<uint8_t>(110 + rng() % 30);
  }
}

// Random block bytes (every code pattern, including Q8_0's -128 that the quantizers never emit)
// with finite fp16 scales, against activations at full scale (codes +-127): the widest integer
// sums the kernels must carry without saturating.
TEST(Matmul, SimdMatchesScalarOnExtremeCodes) {
  struct ScaleFields {
    TensorType type;
    std::vector<size_t> offsets;  // fp16 fields within a block
  };
  const ScaleFields kFields[] = {
      {TensorType::kQ4_0, {0}},      {TensorType::kQ4_1, {0, 2}}, {TensorType::kQ5_0, {0}},
      {TensorType::kQ5_1, {0, 2}},   {TensorType::kQ8_0, {0}},    {TensorType::kIQ4_NL, {0}},
      {TensorType::kQ2_K, {80, 82}}, {TensorType::kQ3_K, {108}},  {TensorType::kQ4_K, {0, 2}},
      {TensorType::kQ5_K, {0, 2}},   {TensorType::kQ6_K, {208}},  {TensorType::kIQ4_XS, {0}},
      {TensorType::kMXFP4, {}},  // its E8M0 scale byte: set_e8m0_scales
  };
  std::mt19937 rng(99);
  for (const ScaleFields& f : kFields) {
    const auto* traits = tensor_type_traits(f.type);
    const int64_t rows = 35, cols = 4 * traits->block_size, n = 6;
    Matrix m{f.type, rows, cols, *tensor_row_size(f.type, cols), {}, {}};
    m.data.resize(m.row_bytes * rows);
    for (auto& byte : m.data) byte = static_cast<uint8_t>(rng());
    for (size_t blk = 0; blk < m.data.size() / traits->type_size; ++blk) {
      for (size_t off : f.offsets) {
        const uint16_t h = fp32_to_fp16(static_cast<float>(rng() % 1000) * 1e-4f);
        std::memcpy(m.data.data() + blk * traits->type_size + off, &h, 2);
      }
    }
    if (f.type == TensorType::kMXFP4) set_e8m0_scales(m.data, rng);
    m.deq.resize(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
      ASSERT_TRUE(
          dequantize_row(f.type, m.data.data() + r * m.row_bytes, m.deq.data() + r * cols, cols)
              .ok());
    }
    for (Isa isa : supported_isas()) {
      SCOPED_TRACE(label(isa, f.type, rows, cols, n));
      Acts a;
      a.x.resize(static_cast<size_t>(n * cols));
      for (size_t i = 0; i < a.x.size(); ++i)
        a.x[i] = (rng() % 2 ? 1.0f : -1.0f) * (i % 3 ? 1.0f : 0.999f);
      a.buf.resize(activation_bytes(f.type, n, cols));
      convert_activations(isa, f.type, a.x.data(), n, cols, a.buf.data());
      const std::vector<float> ref = run(Isa::kScalar, m.weights(), a, n, 0, rows);
      const std::vector<float> got = run(isa, m.weights(), a, n, 0, rows);
      double scale = 0;
      for (float v : ref) scale = std::max(scale, std::fabs(static_cast<double>(v)));
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_NEAR(got[i], ref[i], 1e-5 * scale + 1e-6) << "element " << i;
      }
    }
  }
}

// MXFP4 rows whose blocks all have scale exponent e = row (0 .. 255: subnormal half scales at
// e < 2, 2^127 at 255), with small activations so that every product stays finite: the SIMD
// kernels decode each exponent as the reference does.
TEST(Matmul, MxfpEveryScaleExponent) {
  const int64_t rows = 256, cols = 64, n = 3;
  Matrix m{TensorType::kMXFP4, rows, cols, *tensor_row_size(TensorType::kMXFP4, cols), {}, {}};
  m.data.resize(m.row_bytes * rows);
  std::mt19937 rng(17);
  for (auto& byte : m.data) byte = static_cast<uint8_t>(rng());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < cols / 32; ++b) {
      m.data[static_cast<size_t>(r) * m.row_bytes + b * sizeof(BlockMXFP4)] =
          static_cast<uint8_t>(r);
    }
  }
  for (Isa isa : supported_isas()) {
    SCOPED_TRACE(label(isa, TensorType::kMXFP4, rows, cols, n));
    const Acts a = make_acts(isa, TensorType::kMXFP4, n, cols, 18, 1e-4f);
    const std::vector<float> ref = run(Isa::kScalar, m.weights(), a, n, 0, rows);
    const std::vector<float> got = run(isa, m.weights(), a, n, 0, rows);
    // Sum of |w * x| in double (the largest weights, 12 * 2^127, overflow a float).
    std::vector<double> mag(ref.size(), 0.0);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          const uint8_t* blk = m.data.data() + r * m.row_bytes + (c / 32) * sizeof(BlockMXFP4);
          const int j = static_cast<int>(c % 32);
          const int code = j < 16 ? blk[1 + j] & 0xF : blk[1 + j - 16] >> 4;
          const double w = std::ldexp(kMxfp4Values[static_cast<size_t>(code)], blk[0] - 128);
          mag[static_cast<size_t>(t * rows + r)] +=
              std::fabs(w * a.xq[static_cast<size_t>(t * cols + c)]);
        }
      }
    }
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_TRUE(std::isfinite(ref[i])) << "element " << i;
      // Near the bottom of the range the F32 steps round to subnormals: 1e-44 is a few of them.
      ASSERT_NEAR(got[i], ref[i], 2e-6 * mag[i] + 1e-44) << "element " << i;
    }
  }
}

TEST(Matmul, SimdMatchesScalarForEveryTokenCount) {
  for (Isa isa : supported_isas()) {
    if (isa == Isa::kScalar) continue;
    for (TensorType type : {TensorType::kQ4_0, TensorType::kQ8_0, TensorType::kQ4_K,
                            TensorType::kQ6_K, TensorType::kF16}) {
      for (int64_t n = 1; n <= 17; ++n) expect_close_to_scalar(isa, type, 37, 512, n, 40);
    }
  }
}

// ---- determinism contract -------------------------------------------------------------------

TEST(Matmul, BitIdenticalAcrossBatchingRowRangesAndPacking) {
  for (Isa isa : supported_isas()) {
    for (TensorType type : kAllTypes) {
      const int64_t rows = 83, cols = block_of(type) == 256 ? 1024 : 320, n = 13;
      SCOPED_TRACE(label(isa, type, rows, cols, n));
      const Matrix m = make_matrix(type, rows, cols, 77);
      const Acts a = make_acts(isa, type, n, cols, 78);
      const Weights w = m.weights();
      const std::vector<float> batch = run(isa, w, a, n, 0, rows);

      // Token by token.
      const ActLayout l = act_layout(type, cols);
      std::vector<float> single(batch.size(), -7.0f);
      for (int64_t t = 0; t < n; ++t) {
        matmul(isa, w, a.buf.data() + static_cast<size_t>(t) * l.stride, 1,
               single.data() + t * rows, rows, 0, rows);
      }
      EXPECT_EQ(0, std::memcmp(single.data(), batch.data(), batch.size() * 4)) << "token by token";

      // Odd row ranges (as different thread splits would give).
      std::vector<float> split(batch.size(), -7.0f);
      const int64_t cuts[] = {0, 1, 5, 21, 38, 64, 65, rows};
      for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
        matmul(isa, w, a.buf.data(), n, split.data(), rows, cuts[i], cuts[i + 1]);
      }
      EXPECT_EQ(0, std::memcmp(split.data(), batch.data(), batch.size() * 4)) << "row ranges";

      // Prepared weights.
      Result<PreparedWeights> pw = prepare_weights(isa, w);
      ASSERT_TRUE(pw.ok()) << pw.status().to_string();
      std::vector<float> prepared(batch.size(), -7.0f);
      matmul(*pw, a.buf.data(), n, prepared.data(), rows, 0, 40);
      matmul(*pw, a.buf.data(), n, prepared.data(), rows, 40, rows);
      EXPECT_EQ(0, std::memcmp(prepared.data(), batch.data(), batch.size() * 4)) << "prepared";
      EXPECT_EQ(pw->packed(), pw->packed_bytes() > 0);
      // Every type has packed SIMD kernels except F32 (read in place, in the reference's
      // summation order).
      EXPECT_EQ(pw->packed(), isa != Isa::kScalar && type != TensorType::kF32);

      // Rows outside the range are never written.
      std::vector<float> part = run(isa, w, a, n, 3, 19);
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t r = 0; r < rows; ++r) {
          const float v = part[static_cast<size_t>(t * rows + r)];
          if (r >= 3 && r < 19) {
            EXPECT_EQ(fp32_to_bits(v), fp32_to_bits(batch[static_cast<size_t>(t * rows + r)]));
          } else {
            EXPECT_EQ(v, -7.0f);
          }
        }
      }
    }
  }
}

TEST(Matmul, BitIdenticalBetweenFewTokenAndBatchPaths) {
  // Products of 2-15 tokens (a server's decode steps) run their own tiles (x86/tile_driver.h,
  // few_tokens): every count must give the bits of a large batch and of one token at a time.
  for (Isa isa : supported_isas()) {
    for (TensorType type : kAllTypes) {
      const int64_t rows = 83, cols = block_of(type) == 256 ? 512 : 160, n = 20;
      SCOPED_TRACE(label(isa, type, rows, cols, n));
      const Matrix m = make_matrix(type, rows, cols, 91);
      const Acts a = make_acts(isa, type, n, cols, 92);
      const Weights w = m.weights();
      Result<PreparedWeights> pw = prepare_weights(isa, w);
      ASSERT_TRUE(pw.ok()) << pw.status().to_string();
      std::vector<float> batch(static_cast<size_t>(n * rows), -7.0f);
      matmul(*pw, a.buf.data(), n, batch.data(), rows, 0, rows);
      const ActLayout l = act_layout(type, cols);
      for (int64_t k = 2; k <= 15; ++k) {
        // Tokens [t0, t0 + k) of the batch, prepared and unprepared, in two row ranges.
        const int64_t t0 = (k * 7) % (n - k + 1);
        const uint8_t* x = a.buf.data() + static_cast<size_t>(t0) * l.stride;
        std::vector<float> few(static_cast<size_t>(k * rows), -7.0f);
        matmul(*pw, x, k, few.data(), rows, 0, 35);
        matmul(*pw, x, k, few.data(), rows, 35, rows);
        EXPECT_EQ(0, std::memcmp(few.data(), batch.data() + t0 * rows, few.size() * 4))
            << k << " tokens, prepared";
        std::vector<float> unpacked(static_cast<size_t>(k * rows), -7.0f);
        matmul(isa, w, x, k, unpacked.data(), rows, 0, rows);
        EXPECT_EQ(0, std::memcmp(unpacked.data(), batch.data() + t0 * rows, few.size() * 4))
            << k << " tokens, unprepared";
      }
    }
  }
}

TEST(Matmul, RowRangeIsClampedToTheMatrix) {
  for (Isa isa : supported_isas()) {
    const Matrix m = make_matrix(TensorType::kQ4_K, 20, 256, 8);
    const Acts a = make_acts(isa, TensorType::kQ4_K, 2, 256, 9);
    const std::vector<float> dense = run(isa, m.weights(), a, 2, 0, 20);
    std::vector<float> y(2 * 20, -7.0f);
    matmul(isa, m.weights(), a.buf.data(), 2, y.data(), 20, -5, 1000);
    EXPECT_EQ(0, std::memcmp(y.data(), dense.data(), y.size() * 4)) << isa_name(isa);
    Result<PreparedWeights> pw = prepare_weights(isa, m.weights());
    ASSERT_TRUE(pw.ok());
    std::fill(y.begin(), y.end(), -7.0f);
    matmul(*pw, a.buf.data(), 2, y.data(), 20, 10, 1000);
    matmul(*pw, a.buf.data(), 2, y.data(), 20, -3, 10);
    EXPECT_EQ(0, std::memcmp(y.data(), dense.data(), y.size() * 4)) << isa_name(isa);
  }
}

TEST(Matmul, LdyLargerThanRows) {
  for (Isa isa : supported_isas()) {
    const Matrix m = make_matrix(TensorType::kQ4_0, 20, 64, 5);
    const Acts a = make_acts(isa, TensorType::kQ4_0, 3, 64, 6);
    const std::vector<float> dense = run(isa, m.weights(), a, 3, 0, 20);
    std::vector<float> y(3 * 30, -7.0f);
    matmul(isa, m.weights(), a.buf.data(), 3, y.data(), 30, 0, 20);
    for (int64_t t = 0; t < 3; ++t) {
      for (int64_t r = 0; r < 30; ++r) {
        const float v = y[static_cast<size_t>(t * 30 + r)];
        if (r < 20) {
          EXPECT_EQ(v, dense[static_cast<size_t>(t * 20 + r)]);
        } else {
          EXPECT_EQ(v, -7.0f);
        }
      }
    }
  }
}

// ---- AMX against AVX-512 VNNI ----------------------------------------------------------------

bool supports(Isa isa) {
  const std::vector<Isa> isas = supported_isas();
  return std::find(isas.begin(), isas.end(), isa) != isas.end();
}

// The AMX kernels promise the avx512vnni kernels' bits (matmul.h): check every type (the types
// without AMX kernels fall back to avx512vnni's), token counts on both sides of the 16-token
// tile (one tile with weights decoded per tile, several with weights decoded once per group,
// and the avx512vnni remainder of n % 16 tokens), rows that are not a multiple of 16, odd row
// ranges, prepared and on-the-fly packed weights, and two threads at once (each configures its
// own tiles).
TEST(Matmul, AmxBitIdenticalToVnni) {
  if (!supports(Isa::kAvx512Amx)) {
    GTEST_SKIP() << "AMX-INT8 not usable here (CPU, OS state or EMBER_ISA cap): "
                 << cpu_features().to_string();
  }
  auto check = [](TensorType type, int64_t rows, int64_t cols, int64_t n, uint32_t seed) {
    SCOPED_TRACE(label(Isa::kAvx512Amx, type, rows, cols, n));
    const Matrix m = make_matrix(type, rows, cols, seed);
    const Acts a = make_acts(Isa::kAvx512Vnni, type, n, cols, seed + 1);
    const Weights w = m.weights();
    const std::vector<float> want = run(Isa::kAvx512Vnni, w, a, n, 0, rows);
    const std::vector<float> got = run(Isa::kAvx512Amx, w, a, n, 0, rows);
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * 4)) << "unpacked";

    Result<PreparedWeights> pw = prepare_weights(Isa::kAvx512Amx, w);
    ASSERT_TRUE(pw.ok()) << pw.status().to_string();
    std::vector<float> prepared(want.size(), -7.0f);
    const int64_t cuts[] = {0, 3, 16, 19, 47, rows};
    for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
      const int64_t lo = std::min(cuts[i], rows), hi = std::min(cuts[i + 1], rows);
      matmul(*pw, a.buf.data(), n, prepared.data(), rows, lo, hi);
    }
    ASSERT_EQ(0, std::memcmp(prepared.data(), want.data(), want.size() * 4)) << "row ranges";

    // Two threads, each half of the rows (split off the 16-row groups).
    std::vector<float> threaded(want.size(), -7.0f);
    const int64_t mid = rows / 2 + 5;
    std::thread other([&] { matmul(*pw, a.buf.data(), n, threaded.data(), rows, mid, rows); });
    matmul(*pw, a.buf.data(), n, threaded.data(), rows, 0, mid);
    other.join();
    ASSERT_EQ(0, std::memcmp(threaded.data(), want.data(), want.size() * 4)) << "two threads";
  };
  for (int64_t n = 2; n <= 37; ++n) {
    check(TensorType::kQ4_0, 37, 160, n, static_cast<uint32_t>(n));
    check(TensorType::kQ8_0, 37, 160, n, static_cast<uint32_t>(100 + n));
  }
  for (TensorType type : kAllTypes) {
    const int64_t cols = block_of(type) == 256 ? 512 : 96;
    for (int64_t n : {2, 7, 16, 17, 33}) check(type, 70, cols, n, 300);
  }
  check(TensorType::kQ4_0, 100, 2048, 40, 400);  // long rows, several groups, decoded weights
}

// The extreme-code test above covers AMX through supported_isas(); here the same extremes at a
// token count with full and partial tiles, against avx512vnni's bits.
TEST(Matmul, AmxBitIdenticalToVnniOnExtremeCodes) {
  if (!supports(Isa::kAvx512Amx)) {
    GTEST_SKIP() << "AMX-INT8 not usable here (CPU, OS state or EMBER_ISA cap): "
                 << cpu_features().to_string();
  }
  std::mt19937 rng(5);
  for (TensorType type :
       {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
        TensorType::kQ8_0, TensorType::kIQ4_NL, TensorType::kMXFP4}) {
    SCOPED_TRACE(tensor_type_name(type));
    const auto* traits = tensor_type_traits(type);
    const int64_t rows = 35, cols = 128, n = 21;
    std::vector<uint8_t> data(*tensor_row_size(type, cols) * rows);
    for (auto& byte : data) byte = static_cast<uint8_t>(rng());
    // Finite fp16 scales (and offsets for Q4_1 / Q5_1) at the start of each block.
    for (size_t blk = 0; type != TensorType::kMXFP4 && blk < data.size() / traits->type_size;
         ++blk) {
      for (size_t off : {size_t{0}, size_t{2}}) {
        if (off == 2 && type != TensorType::kQ4_1 && type != TensorType::kQ5_1) continue;
        const uint16_t h = fp32_to_fp16(static_cast<float>(rng() % 1000) * 1e-4f);
        std::memcpy(data.data() + blk * traits->type_size + off, &h, 2);
      }
    }
    if (type == TensorType::kMXFP4) set_e8m0_scales(data, rng);
    const Weights w{type, data.data(), rows, cols, *tensor_row_size(type, cols)};
    std::vector<float> x(static_cast<size_t>(n * cols));
    for (size_t i = 0; i < x.size(); ++i) x[i] = (rng() % 2 ? 1.0f : -1.0f);
    std::vector<uint8_t> act(activation_bytes(type, n, cols));
    convert_activations(Isa::kAvx512Vnni, type, x.data(), n, cols, act.data());
    std::vector<float> want(static_cast<size_t>(n * rows)), got(want.size());
    matmul(Isa::kAvx512Vnni, w, act.data(), n, want.data(), rows, 0, rows);
    matmul(Isa::kAvx512Amx, w, act.data(), n, got.data(), rows, 0, rows);
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * 4));
  }
}

}  // namespace
}  // namespace ember::kernels
