// The reference numerics mode's products (kernels/matmul.h WeightForm::kReferenceOrder): every
// Isa against literal definitions of llama.cpp's x86 Q8_0, MXFP4, Q5_0, Q5_1, Q4_K (repacked),
// Q5_K and Q6_K summation orders, bit for bit, on odd shapes, for every token count, row range and
// preparation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/act_layout.h"
#include "kernels/matmul.h"
#include "tensor/fp16.h"
#include "tensor/quantize.h"

namespace ember::kernels {
namespace {

uint32_t bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u;
}

std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = n01(rng) * (rng() % 53 == 0 ? 9.0f : 1.0f);
  return v;
}

// The order written out: lane j of block b sums the 4 code products of columns 32b + 4j ..
// 32b + 4j + 3 exactly; lane j is an FMA chain of (weight scale * activation scale) * sum over
// the blocks from 0; the result is ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)).
float literal_q8_0(const uint8_t* wr, const uint8_t* at, const ActLayout& l) {
  float lane[8] = {};
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* blk = wr + 34 * b;
    uint16_t h;
    std::memcpy(&h, blk, 2);
    float xd;
    std::memcpy(&xd, at + l.d_offset + 4 * static_cast<size_t>(b), 4);
    for (int j = 0; j < 8; ++j) {
      int sum = 0;
      for (int k = 0; k < 4; ++k) {
        sum +=
            static_cast<int8_t>(blk[2 + 4 * j + k]) * static_cast<int8_t>(at[32 * b + 4 * j + k]);
      }
      lane[j] = std::fma(fp16_to_fp32(h) * xd, static_cast<float>(sum), lane[j]);
    }
  }
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

// MXFP4 (ggml_vec_dot_mxfp4_q8_0's AVX2 order): the same lanes with the doubled E2M1 values
// (low nibbles: columns 0..15, high: 16..31) and the scale a.d * 2^(e - 128), in two lane sets
// (even blocks, odd blocks) added lane by lane before the tree; an odd last block's whole
// integer sum is fused onto the result.
float literal_mxfp4(const uint8_t* wr, const uint8_t* at, const ActLayout& l) {
  static const int kValues[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  float lane[2][8] = {};
  float tail = 0.0f;
  int tail_sum = 0;
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* blk = wr + 17 * b;
    float xd;
    std::memcpy(&xd, at + l.d_offset + 4 * static_cast<size_t>(b), 4);
    const float s = xd * std::ldexp(1.0f, blk[0] - 128);
    const bool last_odd = b == l.n_blocks - 1 && l.n_blocks % 2 == 1;
    for (int j = 0; j < 8; ++j) {
      int sum = 0;
      for (int k = 4 * j; k < 4 * j + 4; ++k) {
        const int code = k < 16 ? blk[1 + k] & 15 : blk[1 + k - 16] >> 4;
        sum += kValues[code] * static_cast<int8_t>(at[32 * b + k]);
      }
      if (last_odd) {
        tail_sum += sum;
        tail = s;
      } else {
        lane[b % 2][j] = std::fma(s, static_cast<float>(sum), lane[b % 2][j]);
      }
    }
  }
  float v[8];
  for (int j = 0; j < 8; ++j) v[j] = lane[0][j] + lane[1][j];
  const float r = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
  return l.n_blocks % 2 == 1 ? std::fma(tail, static_cast<float>(tail_sum), r) : r;
}

TEST(ReferenceOrder, OnlyTheImplementedTypesAreCovered) {
  for (TensorType t : {TensorType::kQ8_0, TensorType::kMXFP4, TensorType::kQ5_0, TensorType::kQ5_1,
                       TensorType::kQ5_K, TensorType::kQ6_K}) {
    EXPECT_TRUE(reference_order_supported(t, 1)) << tensor_type_name(t);
  }
  // Q4_K in the reference's repacked order: only matrices of a multiple of 8 rows.
  EXPECT_TRUE(reference_order_supported(TensorType::kQ4_K, 64));
  EXPECT_FALSE(reference_order_supported(TensorType::kQ4_K, 12));
  for (TensorType t : {TensorType::kF32, TensorType::kF16, TensorType::kQ4_0, TensorType::kQ4_K,
                       TensorType::kQ4_1, TensorType::kIQ4_NL}) {
    EXPECT_FALSE(reference_order_supported(t, 1)) << tensor_type_name(t);
    std::vector<uint8_t> data(*tensor_row_size(t, 256), 0);
    const Weights w{t, data.data(), 1, 256, data.size()};
    Result<PreparedWeights> pw = prepare_weights(Isa::kScalar, w, WeightForm::kReferenceOrder);
    ASSERT_FALSE(pw.ok());
    EXPECT_NE(pw.status().message().find("Q8_0"), std::string::npos) << pw.status().to_string();
  }
}

// Q5_0 (ggml_vec_dot_q5_0_q8_0's AVX2 order): the Q8_0 lanes with the 5-bit codes minus 16
// (low nibbles: columns 0..15, high: 16..31; fifth bit k of qh for column k).
float literal_q5_0(const uint8_t* wr, const uint8_t* at, const ActLayout& l) {
  float lane[8] = {};
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* blk = wr + 22 * b;
    uint16_t h;
    std::memcpy(&h, blk, 2);
    uint32_t qh;
    std::memcpy(&qh, blk + 2, 4);
    float xd;
    std::memcpy(&xd, at + l.d_offset + 4 * static_cast<size_t>(b), 4);
    for (int j = 0; j < 8; ++j) {
      int sum = 0;
      for (int k = 4 * j; k < 4 * j + 4; ++k) {
        const int nib = k < 16 ? blk[6 + k] & 15 : blk[6 + k - 16] >> 4;
        const int code = nib + 16 * static_cast<int>((qh >> k) & 1) - 16;
        sum += code * static_cast<int8_t>(at[32 * b + k]);
      }
      lane[j] = std::fma(fp16_to_fp32(h) * xd, static_cast<float>(sum), lane[j]);
    }
  }
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

// Q4_K as the reference's repacked 8-row kernels multiply it: per super-block the exact integer
// sums of scale * code * x and of min * x over its 8 sub-blocks of 32, then one FMA each into
// two chains (with fp16(d) * x.d and fp16(dmin) * x.d); the result is their difference.
float literal_q4_k(const uint8_t* wr, const uint8_t* at, const ActLayout& l) {
  float acc = 0.0f, acc_min = 0.0f;
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* blk = wr + 144 * b;
    uint16_t d, dmin;
    std::memcpy(&d, blk, 2);
    std::memcpy(&dmin, blk + 2, 2);
    const uint8_t* sc = blk + 4;
    const uint8_t* qs = blk + 16;
    int isc = 0, imin = 0;
    for (int j = 0; j < 8; ++j) {
      const int scale = j < 4 ? sc[j] & 63 : (sc[j + 4] & 15) | ((sc[j - 4] >> 6) << 4);
      const int min = j < 4 ? sc[j + 4] & 63 : (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
      for (int i = 0; i < 32; ++i) {
        const int code = j % 2 == 0 ? qs[32 * (j / 2) + i] & 15 : qs[32 * (j / 2) + i] >> 4;
        const int x = static_cast<int8_t>(at[256 * b + 32 * j + i]);
        isc += scale * code * x;
        imin += min * x;
      }
    }
    float xd;
    std::memcpy(&xd, at + l.d_offset + 4 * static_cast<size_t>(b), 4);
    acc = std::fma(static_cast<float>(isc), fp16_to_fp32(d) * xd, acc);
    acc_min = std::fma(static_cast<float>(imin), fp16_to_fp32(dmin) * xd, acc_min);
  }
  return acc - acc_min;
}

// Q6_K (ggml_vec_dot_q6_K_q8_K's AVX2 order): per super-block 8 integer lanes, lane j holding
// columns 32g + 4j .. 32g + 4j + 3 of each group g of 32, each as scale[column / 16] * (code -
// 32) * x; lane j is an FMA chain with fp16(d) * x.d; the Q8_0 tree at the end.
float literal_q6_k(const uint8_t* wr, const uint8_t* at, const ActLayout& l) {
  float lane[8] = {};
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* blk = wr + 210 * b;
    const uint8_t* ql = blk;
    const uint8_t* qh = blk + 128;
    const auto* scales = reinterpret_cast<const int8_t*>(blk + 192);
    uint16_t d;
    std::memcpy(&d, blk + 208, 2);
    int sum[8] = {};
    for (int half = 0; half < 2; ++half) {
      for (int g = 0; g < 4; ++g) {
        for (int i = 0; i < 32; ++i) {
          const int col = 128 * half + 32 * g + i;
          const int lo =
              g < 2 ? ql[64 * half + 32 * g + i] & 15 : ql[64 * half + 32 * (g - 2) + i] >> 4;
          const int hi = (qh[32 * half + i] >> (2 * g)) & 3;
          sum[i / 4] +=
              scales[col / 16] * ((lo + 16 * hi - 32) * static_cast<int8_t>(at[256 * b + col]));
        }
      }
    }
    float xd;
    std::memcpy(&xd, at + l.d_offset + 4 * static_cast<size_t>(b), 4);
    for (int j = 0; j < 8; ++j) {
      lane[j] = std::fma(fp16_to_fp32(d) * xd, static_cast<float>(sum[j]), lane[j]);
    }
  }
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

// Q5_1 (ggml_vec_dot_q5_1_q8_1's AVX2 order): the Q8_0 lanes with the unsigned 5-bit codes
// (block: fp16 d, fp16 m, qh, nibbles) and scale fp16(d) * x.d; beside them one fused chain of
// fp16(m) * x.s over the blocks (x.s: the Q8_1 activations' fp16-rounded d * code sum), added
// to the reduced lanes at the end.
float literal_q5_1(const uint8_t* wr, const uint8_t* at, const ActLayout& l) {
  float lane[8] = {};
  float offsets = 0.0f;
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* blk = wr + 24 * b;
    uint16_t d, m;
    std::memcpy(&d, blk, 2);
    std::memcpy(&m, blk + 2, 2);
    float xd, xs;
    std::memcpy(&xd, at + l.d_offset + 4 * static_cast<size_t>(b), 4);
    std::memcpy(&xs, at + l.aux_offset + 4 * static_cast<size_t>(b), 4);
    for (int j = 0; j < 8; ++j) {
      int sum = 0;
      for (int k = 4 * j; k < 4 * j + 4; ++k) {
        const int nib = k < 16 ? blk[8 + k] & 15 : blk[8 + k - 16] >> 4;
        const int fifth = (blk[4 + k / 8] >> (k % 8)) & 1;
        sum += (nib + 16 * fifth) * static_cast<int8_t>(at[32 * b + k]);
      }
      lane[j] = std::fma(fp16_to_fp32(d) * xd, static_cast<float>(sum), lane[j]);
    }
    offsets = std::fma(fp16_to_fp32(m), xs, offsets);
  }
  const float r =
      ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
  return r + offsets;
}

// Q5_K (ggml_vec_dot_q5_K_q8_K's AVX2 order): per super-block 8 integer lanes, lane j holding
// columns 32g + 4j .. 32g + 4j + 3 of each sub-block g of 32, each as scale_g * code * x; lane j
// an FMA chain with x.d * fp16(d); beside them one fused chain of -(x.d * fp16(dmin)) times the
// exact sum of min_g * x over the super-block; lanes reduced by the Q8_0 tree, then the chain
// added.
float literal_q5_k(const uint8_t* wr, const uint8_t* at, const ActLayout& l) {
  float lane[8] = {};
  float mins = 0.0f;
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* blk = wr + 176 * b;
    uint16_t d, dmin;
    std::memcpy(&d, blk, 2);
    std::memcpy(&dmin, blk + 2, 2);
    const uint8_t* sc = blk + 4;
    const uint8_t* qh = blk + 16;
    const uint8_t* qs = blk + 48;
    int sum[8] = {};
    int msum = 0;
    for (int c = 0; c < 4; ++c) {
      for (int half = 0; half < 2; ++half) {
        const int g = 2 * c + half;
        const int scale = g < 4 ? sc[g] & 63 : (sc[g + 4] & 15) | ((sc[g - 4] >> 6) << 4);
        const int min = g < 4 ? sc[g + 4] & 63 : (sc[g + 4] >> 4) | ((sc[g] >> 6) << 4);
        for (int i = 0; i < 32; ++i) {
          const int nib = half == 0 ? qs[32 * c + i] & 15 : qs[32 * c + i] >> 4;
          const int code = nib + 16 * ((qh[i] >> g) & 1);
          const int x = static_cast<int8_t>(at[256 * b + 32 * g + i]);
          sum[i / 4] += scale * code * x;
          msum += min * x;
        }
      }
    }
    float xd;
    std::memcpy(&xd, at + l.d_offset + 4 * static_cast<size_t>(b), 4);
    for (int j = 0; j < 8; ++j) {
      lane[j] = std::fma(xd * fp16_to_fp32(d), static_cast<float>(sum[j]), lane[j]);
    }
    mins = std::fma(-(xd * fp16_to_fp32(dmin)), static_cast<float>(msum), mins);
  }
  const float r =
      ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
  return r + mins;
}

class ReferenceOrderTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(ReferenceOrderTest, MatchesTheLiteralOrderOnEveryIsa) {
  const TensorType type = GetParam();
  const auto literal = type == TensorType::kMXFP4  ? literal_mxfp4
                       : type == TensorType::kQ5_0 ? literal_q5_0
                       : type == TensorType::kQ5_1 ? literal_q5_1
                       : type == TensorType::kQ4_K ? literal_q4_k
                       : type == TensorType::kQ5_K ? literal_q5_k
                       : type == TensorType::kQ6_K ? literal_q6_k
                                                   : literal_q8_0;
  const bool k_quant =
      type == TensorType::kQ4_K || type == TensorType::kQ5_K || type == TensorType::kQ6_K;
  // Odd shapes: 7 and 13 rows (the two-row tiles and the single-row tail; Q4_K: 8 and 24, the
  // multiples of 8 it covers), 1 .. 9 blocks (odd and even counts), token counts around the
  // 4-token tiles; rows padded past their blocks.
  const std::vector<int64_t> col_counts =
      k_quant ? std::vector<int64_t>{256, 512, 768} : std::vector<int64_t>{32, 64, 96, 288};
  const std::vector<int64_t> row_counts =
      type == TensorType::kQ4_K ? std::vector<int64_t>{8, 24} : std::vector<int64_t>{7, 13};
  for (int64_t cols : col_counts) {
    for (int64_t rows : row_counts) {
      const size_t row_bytes = *tensor_row_size(type, cols) + 6;
      std::vector<uint8_t> data(row_bytes * static_cast<size_t>(rows), 0xAB);
      const std::vector<float> src = random_values(rows * cols, static_cast<uint32_t>(cols + rows));
      for (int64_t r = 0; r < rows; ++r) {
        ASSERT_TRUE(quantize_row(type, src.data() + r * cols,
                                 data.data() + static_cast<size_t>(r) * row_bytes, cols)
                        .ok());
      }
      if (type == TensorType::kMXFP4) {
        // Scale exponents spread over [0, 192) on row 0 (e = 0: a subnormal half scale).
        for (int64_t b = 0; b < cols / 32; ++b)
          data[static_cast<size_t>(17 * b)] = static_cast<uint8_t>(b * 37 % 192);
      }
      const Weights w{type, data.data(), rows, cols, row_bytes};
      const ActLayout l = act_layout(type, cols);
      for (int64_t n : {1, 3, 4, 5, 9}) {
        const std::vector<float> x = random_values(n * cols, static_cast<uint32_t>(7 * n + cols));
        std::vector<uint8_t> act(activation_bytes(type, n, cols));
        convert_activations(Isa::kScalar, type, x.data(), n, cols, act.data());
        std::vector<float> want(static_cast<size_t>(n * rows));
        for (int64_t t = 0; t < n; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            want[static_cast<size_t>(t * rows + r)] =
                literal(data.data() + static_cast<size_t>(r) * row_bytes,
                        act.data() + static_cast<size_t>(t) * l.stride, l);
          }
        }
        for (Isa isa : supported_isas()) {
          SCOPED_TRACE(std::string(isa_name(isa)) + " rows " + std::to_string(rows) + " cols " +
                       std::to_string(cols) + " n " + std::to_string(n));
          // Every Isa's activation conversion gives the scalar one's bytes (tested elsewhere);
          // converting here again keeps this test about the product.
          std::vector<uint8_t> act_isa(act.size());
          convert_activations(isa, type, x.data(), n, cols, act_isa.data());
          ASSERT_EQ(0, std::memcmp(act_isa.data(), act.data(), act.size()));
          std::vector<float> y(want.size(), -7.0f);
          matmul_reference_order(isa, w, act.data(), n, y.data(), rows, 0, rows);
          Result<PreparedWeights> pw = prepare_weights(isa, w, WeightForm::kReferenceOrder);
          ASSERT_TRUE(pw.ok()) << pw.status().to_string();
          EXPECT_FALSE(pw->packed());
          EXPECT_EQ(pw->form(), WeightForm::kReferenceOrder);
          // A row range starting at an odd row, and each token alone: the same bits.
          std::vector<float> y2(want.size(), -7.0f);
          matmul(*pw, act.data(), n, y2.data(), rows, 3, rows);
          std::vector<float> y1(want.size(), -7.0f);
          for (int64_t t = 0; t < n; ++t) {
            matmul(*pw, act.data() + static_cast<size_t>(t) * l.stride, 1, y1.data() + t * rows,
                   rows, 0, rows);
          }
          for (int64_t t = 0; t < n; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
              const size_t i = static_cast<size_t>(t * rows + r);
              EXPECT_EQ(bits(y[i]), bits(want[i])) << "t " << t << " r " << r;
              EXPECT_EQ(bits(y1[i]), bits(want[i])) << "one token, t " << t << " r " << r;
              if (r >= 3) {
                EXPECT_EQ(bits(y2[i]), bits(want[i])) << "rows from 3, t " << t << " r " << r;
              } else {
                EXPECT_EQ(y2[i], -7.0f) << "row outside the range written";
              }
            }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, ReferenceOrderTest,
                         ::testing::Values(TensorType::kQ8_0, TensorType::kMXFP4, TensorType::kQ5_0,
                                           TensorType::kQ5_1, TensorType::kQ4_K, TensorType::kQ5_K,
                                           TensorType::kQ6_K),
                         [](const ::testing::TestParamInfo<TensorType>& p) {
                           return std::string(tensor_type_name(p.param));
                         });

}  // namespace
}  // namespace ember::kernels
