// The elementwise kernels (kernels/ops.h), RoPE and attention (kernels/attention.h): every SIMD
// variant this CPU runs gives the scalar table's bits on random data and odd lengths, the scalar
// exp is accurate, and both attention algorithms agree with a direct double-precision softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "kernels/ops_common.h"
#include "kernels/rope.h"
#include "kernels/rows.h"
#include "tensor/fp16.h"

namespace ember::kernels {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<uint16_t> random_halves(size_t n, uint32_t seed) {
  std::vector<uint16_t> h(n);
  auto f = random_floats(n, seed);
  for (size_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(f[i]);
  return h;
}

// Float values that are exact halves (the per-key attention query).
std::vector<float> half_valued(size_t n, uint32_t seed) {
  auto h = random_halves(n, seed);
  std::vector<float> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = fp16_to_fp32(h[i]);
  return f;
}

bool same_bits(const float* a, const float* b, int64_t n) {
  return std::memcmp(a, b, static_cast<size_t>(n) * sizeof(float)) == 0;
}

const int64_t kLengths[] = {1, 3, 15, 16, 17, 31, 63, 64, 65, 100, 128, 130, 256, 1000};

class OpsIsaTest : public ::testing::TestWithParam<Isa> {};

TEST_P(OpsIsaTest, ElementwiseMatchScalarBitForBit) {
  const OpsTable& ref = ops(Isa::kScalar);
  const OpsTable& simd = ops(GetParam());
  for (int64_t n : kLengths) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const auto x = random_floats(static_cast<size_t>(n), 1, 3.0f);
    const auto w = random_floats(static_cast<size_t>(n), 2);
    const auto u = random_floats(static_cast<size_t>(n), 3);
    std::vector<float> a(x), b(x);

    ref.rmsnorm(x.data(), w.data(), a.data(), n, 1e-5f);
    simd.rmsnorm(x.data(), w.data(), b.data(), n, 1e-5f);
    EXPECT_TRUE(same_bits(a.data(), b.data(), n)) << "rmsnorm";
    ref.rmsnorm(x.data(), nullptr, a.data(), n, 1e-6f);
    simd.rmsnorm(x.data(), nullptr, b.data(), n, 1e-6f);
    EXPECT_TRUE(same_bits(a.data(), b.data(), n)) << "rmsnorm without weight";

    a = x, b = x;
    ref.silu_mul(a.data(), u.data(), n);
    simd.silu_mul(b.data(), u.data(), n);
    EXPECT_TRUE(same_bits(a.data(), b.data(), n)) << "silu_mul";

    // Include the saturated ranges of the GELU table.
    std::vector<float> xg(x);
    for (size_t i = 0; i < xg.size(); i += 7) xg[i] *= 8.0f;
    a = xg, b = xg;
    ref.gelu_mul(a.data(), u.data(), n);
    simd.gelu_mul(b.data(), u.data(), n);
    EXPECT_TRUE(same_bits(a.data(), b.data(), n)) << "gelu_mul";

    a = x, b = x;
    ref.softcap(a.data(), 30.0f, n);
    simd.softcap(b.data(), 30.0f, n);
    EXPECT_TRUE(same_bits(a.data(), b.data(), n)) << "softcap";

    a = x, b = x;
    const float mx = ref.max(x.data(), n);
    EXPECT_EQ(mx, simd.max(x.data(), n));
    const double sa = ref.softmax(a.data(), mx, n);
    const double sb = simd.softmax(b.data(), mx, n);
    EXPECT_EQ(sa, sb);
    EXPECT_TRUE(same_bits(a.data(), b.data(), n)) << "softmax";

    a = x, b = x;
    ref.scale(a.data(), 0.37f, n);
    simd.scale(b.data(), 0.37f, n);
    ref.add(a.data(), u.data(), n);
    simd.add(b.data(), u.data(), n);
    EXPECT_TRUE(same_bits(a.data(), b.data(), n)) << "scale/add";

    const auto q = half_valued(static_cast<size_t>(n), 4);
    const auto k16 = random_halves(static_cast<size_t>(n), 5);
    EXPECT_EQ(ref.dot_f16(q.data(), k16.data(), n), simd.dot_f16(q.data(), k16.data(), n));
    EXPECT_EQ(ref.dot_f32(x.data(), w.data(), n), simd.dot_f32(x.data(), w.data(), n));

    auto acc_a = random_halves(static_cast<size_t>(n), 6), acc_b = acc_a;
    ref.f16_scale(acc_a.data(), 0.73f, n);
    simd.f16_scale(acc_b.data(), 0.73f, n);
    ref.f16_mad(acc_a.data(), k16.data(), 0.41f, n);
    simd.f16_mad(acc_b.data(), k16.data(), 0.41f, n);
    EXPECT_EQ(acc_a, acc_b) << "f16 accumulator";

    a = x, b = x;
    ref.f32_mad(a.data(), u.data(), -1.3f, n);
    simd.f32_mad(b.data(), u.data(), -1.3f, n);
    EXPECT_TRUE(same_bits(a.data(), b.data(), n)) << "f32_mad";

    std::vector<uint16_t> ha(static_cast<size_t>(n)), hb(static_cast<size_t>(n));
    ref.kv_store[static_cast<int>(KvType::kF16)](x.data(), ha.data(), n);
    simd.kv_store[static_cast<int>(KvType::kF16)](x.data(), hb.data(), n);
    EXPECT_EQ(ha, hb) << "f16 store";
  }
}

TEST_P(OpsIsaTest, GemmMatchesScalarBitForBit) {
  const OpsTable& ref = ops(Isa::kScalar);
  const OpsTable& simd = ops(GetParam());
  for (int64_t m : {1, 3, 4, 7, 8, 13, 20}) {
    for (int64_t n : {5, 16, 17, 26, 32, 40, 64, 80, 90, 128}) {
      for (int64_t k : {1, 5, 64}) {
        const auto a = random_floats(static_cast<size_t>(m * k), 7);
        const auto b = random_floats(static_cast<size_t>(k * n), 8);
        auto c1 = random_floats(static_cast<size_t>(m * n), 9), c2 = c1;
        ref.gemm_acc(c1.data(), n, a.data(), k, b.data(), n, m, k, n);
        simd.gemm_acc(c2.data(), n, a.data(), k, b.data(), n, m, k, n);
        EXPECT_TRUE(same_bits(c1.data(), c2.data(), m * n)) << m << "x" << k << "x" << n;
        // gemm = gemm_acc on zeros, whatever C held (rows ldc = n + 3 apart: the gap is kept).
        const int64_t ldc = n + 3;
        std::vector<float> z(static_cast<size_t>(m * n), 0.0f);
        auto c3 = random_floats(static_cast<size_t>(m * ldc), 10), c4 = c3;
        ref.gemm_acc(z.data(), n, a.data(), k, b.data(), n, m, k, n);
        simd.gemm(c3.data(), ldc, a.data(), k, b.data(), n, m, k, n);
        ref.gemm(c4.data(), ldc, a.data(), k, b.data(), n, m, k, n);
        const auto gap = random_floats(static_cast<size_t>(m * ldc), 10);
        for (int64_t i = 0; i < m; ++i) {
          EXPECT_TRUE(same_bits(z.data() + i * n, c3.data() + i * ldc, n)) << "gemm row " << i;
          EXPECT_TRUE(same_bits(z.data() + i * n, c4.data() + i * ldc, n)) << "scalar gemm";
          EXPECT_TRUE(same_bits(gap.data() + i * ldc + n, c3.data() + i * ldc + n, 3)) << "gap";
        }
      }
    }
  }
}

TEST_P(OpsIsaTest, RowKernelsMatchScalarBitForBit) {
  const RowOps& ref = row_ops(Isa::kScalar);
  const RowOps& simd = row_ops(GetParam());
  for (int64_t n : kLengths) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const auto x = random_floats(static_cast<size_t>(n), 11, 3.0f);
    const auto res = random_floats(static_cast<size_t>(n), 12, 2.0f);
    const auto bias = random_floats(static_cast<size_t>(n), 13, 0.5f);
    const auto w = random_floats(static_cast<size_t>(n), 14);
    const auto b = random_floats(static_cast<size_t>(n), 15);
    for (int variant = 0; variant < 4; ++variant) {
      const float* r = variant < 2 ? res.data() : nullptr;
      const float* bi = variant == 0 ? bias.data() : nullptr;
      const float* wn = variant == 3 ? nullptr : w.data();
      const float* bn = variant == 3 ? nullptr : b.data();
      std::vector<float> a(x), c(x);
      ref.layer_norm(a.data(), r, bi, wn, bn, n, 1e-12f);
      simd.layer_norm(c.data(), r, bi, wn, bn, n, 1e-12f);
      EXPECT_TRUE(same_bits(a.data(), c.data(), n)) << "layer_norm variant " << variant;
    }
    // GELU's table range and both saturated ends.
    std::vector<float> xg(x);
    for (size_t i = 0; i < xg.size(); i += 7) xg[i] *= 8.0f;
    for (const float* bi : {bias.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> a(xg), c(xg);
      ref.bias_gelu(a.data(), bi, n);
      simd.bias_gelu(c.data(), bi, n);
      EXPECT_TRUE(same_bits(a.data(), c.data(), n)) << "bias_gelu";
    }
    // Logit-sized scores, and a row with a dominant value.
    for (float spread : {1.0f, 40.0f}) {
      std::vector<float> a(x), c(x);
      for (auto* v : {&a, &c}) (*v)[static_cast<size_t>(n / 2)] *= spread;
      ref.softmax_scaled(a.data(), 0.1767767f, n);
      simd.softmax_scaled(c.data(), 0.1767767f, n);
      EXPECT_TRUE(same_bits(a.data(), c.data(), n)) << "softmax_scaled, spread " << spread;
      // Several rows at once (rows n + 5 apart; the gaps untouched) give each row's bits.
      const int64_t ld = n + 5;
      for (int64_t rows : {1, 2, 3, 5}) {
        const auto many = random_floats(static_cast<size_t>(rows * ld), 12, 3.0f * spread);
        std::vector<float> one = many, all = many;
        for (int64_t r = 0; r < rows; ++r) ref.softmax_scaled(one.data() + r * ld, 0.17f, n);
        simd.softmax_scaled_rows(all.data(), ld, rows, 0.17f, n);
        EXPECT_TRUE(same_bits(one.data(), all.data(), rows * ld)) << rows << " rows";
      }
    }
  }
}

// The fused kernels against independent facts: LayerNorm equals the ops.h sequence it replaces
// (bit for bit) and normalizes (mean 0, variance 1 before the affine step); the scaled softmax
// equals a double-precision softmax.
TEST(RowOps, LayerNormAndSoftmaxFollowTheirDefinitions) {
  const OpsTable& o = ops(Isa::kScalar);
  const RowOps& r = row_ops(Isa::kScalar);
  for (int64_t n : kLengths) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const auto x = random_floats(static_cast<size_t>(n), 21, 3.0f);
    auto res = random_floats(static_cast<size_t>(n), 22);
    const auto bias = random_floats(static_cast<size_t>(n), 23);
    const auto w = random_floats(static_cast<size_t>(n), 24);
    const auto b = random_floats(static_cast<size_t>(n), 25);
    std::vector<float> fused(x), seq(x);
    r.layer_norm(fused.data(), res.data(), bias.data(), w.data(), b.data(), n, 1e-12f);
    o.add(res.data(), bias.data(), n);
    o.add(seq.data(), res.data(), n);
    double part[8] = {};
    const int64_t n8 = n & ~int64_t{7};
    for (int64_t i = 0; i < n8; ++i) part[i % 8] += seq[static_cast<size_t>(i)];
    for (int64_t i = n8; i < n; ++i) part[0] += seq[static_cast<size_t>(i)];
    const double sum =
        ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    const auto mean = static_cast<float>(sum / static_cast<double>(n));
    for (auto& v : seq) v -= mean;
    o.rmsnorm(seq.data(), w.data(), seq.data(), n, 1e-12f);
    o.add(seq.data(), b.data(), n);
    EXPECT_TRUE(same_bits(fused.data(), seq.data(), n)) << "layer_norm vs the sequence";

    // bias_gelu = add, then gelu_mul by ones (saturated ends included).
    std::vector<float> g(x), gs(x);
    for (size_t i = 0; i < g.size(); i += 5) g[i] *= 6.0f, gs[i] *= 6.0f;
    r.bias_gelu(g.data(), bias.data(), n);
    const std::vector<float> ones(static_cast<size_t>(n), 1.0f);
    o.add(gs.data(), bias.data(), n);
    o.gelu_mul(gs.data(), ones.data(), n);
    EXPECT_TRUE(same_bits(g.data(), gs.data(), n)) << "bias_gelu vs the sequence";

    if (n >= 2) {
      std::vector<float> plain(x);
      r.layer_norm(plain.data(), nullptr, nullptr, nullptr, nullptr, n, 0.0f);
      double m = 0.0, v = 0.0;
      for (float e : plain) m += e;
      m /= static_cast<double>(n);
      for (float e : plain) v += (e - m) * (e - m);
      v /= static_cast<double>(n);
      EXPECT_NEAR(m, 0.0, 1e-5);
      EXPECT_NEAR(v, 1.0, 1e-4);
    }

    std::vector<float> p(x);
    const float scale = 0.125f;
    r.softmax_scaled(p.data(), scale, n);
    double mx = -1e300;
    for (float e : x) mx = std::max(mx, static_cast<double>(e) * scale);
    double z = 0.0;
    for (float e : x) z += std::exp(static_cast<double>(e) * scale - mx);
    for (int64_t i = 0; i < n; ++i) {
      const double want = std::exp(static_cast<double>(x[static_cast<size_t>(i)]) * scale - mx) / z;
      EXPECT_NEAR(p[static_cast<size_t>(i)], want, 1e-6 + 1e-5 * want) << i;
    }
  }
}

// P . V of tiled attention for few rows: B given as half-precision rows (some shared, as the
// zero row of unused cells is) must give gemm_acc's bits on the widened rows, on every Isa.
TEST_P(OpsIsaTest, GemmWithHalfRowsMatchesGemmOnWidenedRowsBitForBit) {
  const OpsTable& ref = ops(Isa::kScalar);
  const OpsTable& simd = ops(GetParam());
  for (int64_t m : {1, 3, 4, 5, 8}) {
    for (int64_t n : {5, 16, 17, 32, 40, 48, 64, 80, 128, 256}) {
      for (int64_t k : {1, 5, 64}) {
        const auto a = random_floats(static_cast<size_t>(m * k), 7);
        // Rows kk at a stride wider than n (a cache row holds other heads too); every third
        // row is the same all-zero row.
        const int64_t stride = n + 24;
        const auto bh = random_halves(static_cast<size_t>(k * stride), 8);
        const std::vector<uint16_t> zero(static_cast<size_t>(n), 0);
        std::vector<const uint16_t*> rows;
        std::vector<float> bf(static_cast<size_t>(k * n));
        for (int64_t kk = 0; kk < k; ++kk) {
          rows.push_back(kk % 3 == 2 ? zero.data() : bh.data() + kk * stride);
          for (int64_t j = 0; j < n; ++j)
            bf[static_cast<size_t>(kk * n + j)] = fp16_to_fp32(rows.back()[j]);
        }
        auto c1 = random_floats(static_cast<size_t>(m * n), 9), c2 = c1, c3 = c1;
        ref.gemm_acc(c1.data(), n, a.data(), k, bf.data(), n, m, k, n);
        ref.gemm_acc_f16b(c2.data(), n, a.data(), k, rows.data(), m, k, n);
        simd.gemm_acc_f16b(c3.data(), n, a.data(), k, rows.data(), m, k, n);
        EXPECT_TRUE(same_bits(c1.data(), c2.data(), m * n))
            << "scalar " << m << "x" << k << "x" << n;
        EXPECT_TRUE(same_bits(c1.data(), c3.data(), m * n)) << m << "x" << k << "x" << n;
      }
    }
  }
}

// A Q8_0 cache row dequantized: float(q) * d per value, on every Isa.
TEST_P(OpsIsaTest, Q8RowDequantizationMatchesTheDefinition) {
  const OpsTable& ref = ops(Isa::kScalar);
  const OpsTable& simd = ops(GetParam());
  for (int64_t n : {32, 64, 96, 128, 256}) {
    const auto x = random_floats(static_cast<size_t>(n), 12, 4.0f);
    std::vector<uint8_t> row(kv_row_bytes(KvType::kQ8_0, n));
    ref.kv_store[static_cast<int>(KvType::kQ8_0)](x.data(), row.data(), n);
    std::vector<float> want(static_cast<size_t>(n));
    for (int64_t b = 0; b < n / 32; ++b) {
      uint16_t d;
      std::memcpy(&d, row.data() + b * 34, 2);
      for (int64_t j = 0; j < 32; ++j) {
        const auto q = static_cast<int8_t>(row[static_cast<size_t>(b * 34 + 2 + j)]);
        want[static_cast<size_t>(b * 32 + j)] = static_cast<float>(q) * fp16_to_fp32(d);
      }
    }
    std::vector<float> y1(static_cast<size_t>(n), NAN), y2(y1);
    ref.q8_0_to_f32(row.data(), y1.data(), n);
    simd.q8_0_to_f32(row.data(), y2.data(), n);
    EXPECT_TRUE(same_bits(want.data(), y1.data(), n)) << "scalar n = " << n;
    EXPECT_TRUE(same_bits(want.data(), y2.data(), n)) << "n = " << n;
  }
}

std::vector<Isa> simd_isas() {
  std::vector<Isa> out;
  for (Isa isa : supported_isas()) {
    if (isa != Isa::kScalar) out.push_back(isa);
  }
  if (out.empty()) out.push_back(Isa::kScalar);  // still runs the comparison against itself
  return out;
}

INSTANTIATE_TEST_SUITE_P(Supported, OpsIsaTest, ::testing::ValuesIn(simd_isas()),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           std::string s = isa_name(p.param);
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

TEST(Ops, VexpIsAccurate) {
  for (float x = -103.0f; x < 88.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    const double got = vexp_lane(x);
    EXPECT_NEAR(got, want, want * 4e-7 + 1e-44) << x;
  }
  EXPECT_EQ(vexp_lane(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(vexp_lane(0.0f), 1.0f);
  EXPECT_EQ(vexp_lane(-200.0f), 0.0f);
  EXPECT_TRUE(std::isinf(vexp_lane(200.0f)));
}

TEST(Ops, GeluTableFollowsTheFormula) {
  const float* t = gelu_half_table();
  for (float x = -9.0f; x < 9.0f; x += 0.013f) {
    const float xr = fp16_to_fp32(fp32_to_fp16(x));
    const double want =
        0.5 * xr * (1.0 + std::tanh(0.7978845608 * xr * (1.0 + 0.044715 * xr * xr)));
    EXPECT_NEAR(t[fp32_to_fp16(x)], want, std::fabs(want) * 1e-3 + 1e-6) << x;
  }
}

TEST(Rope, RotationsPreserveNormAndMatchTheAngle) {
  RopeParams p;
  p.n_rot = 64;
  p.freq_base = 10000.0f;
  const RopeTable table(p);
  std::vector<float> cs(64);
  table.compute(7, cs.data());
  // Pair 0 rotates by 7 radians, pair 1 by 7 * 10000^(-2/64).
  EXPECT_NEAR(cs[0], std::cos(7.0), 1e-6);
  EXPECT_NEAR(cs[1], std::sin(7.0), 1e-6);
  EXPECT_NEAR(cs[2], std::cos(7.0 * std::pow(10000.0, -2.0 / 64)), 1e-5);
  for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
    auto x = random_floats(80, 11);  // head of 80 values, 64 rotated
    const auto orig = x;
    rope_apply(style, x.data(), 64, cs.data());
    double n0 = 0, n1 = 0;
    for (int i = 0; i < 64; ++i) {
      n0 += orig[i] * orig[i];
      n1 += x[i] * x[i];
    }
    EXPECT_NEAR(n0, n1, 1e-4 * n0);
    for (int i = 64; i < 80; ++i) EXPECT_EQ(x[i], orig[i]);  // beyond n_rot: untouched
  }
}

// A cache of n cells (positions 0..n-1 of sequence 0 unless told) for one key/value head.
struct TestCache {
  int64_t dk = 64, dv = 64;
  std::vector<uint16_t> k, v;
  std::vector<int32_t> pos;
  std::vector<uint64_t> seqs;

  TestCache(int64_t n, uint32_t seed) {
    k = random_halves(static_cast<size_t>(n * dk), seed);
    v = random_halves(static_cast<size_t>(n * dv), seed + 1);
    for (int64_t i = 0; i < n; ++i) {
      pos.push_back(static_cast<int32_t>(i));
      seqs.push_back(1);
    }
  }
  AttentionKv kv(int64_t window = 0, float softcap = 0.0f) const {
    AttentionKv a;
    a.k = reinterpret_cast<const uint8_t*>(k.data());
    a.v = reinterpret_cast<const uint8_t*>(v.data());
    a.k_stride = static_cast<size_t>(dk) * 2;
    a.v_stride = static_cast<size_t>(dv) * 2;
    a.cell_pos = pos.data();
    a.cell_seqs = seqs.data();
    a.n_cells = static_cast<int64_t>(pos.size());
    a.type = KvType::kF16;
    a.head_dim_k = dk;
    a.head_dim_v = dv;
    a.window = window;
    a.scale = 0.125f;
    a.softcap = softcap;
    return a;
  }
};

// softmax(scale * q.k) v over the visible cells, in double.
std::vector<double> naive_attention(const TestCache& c, const float* q, int32_t pos, int64_t window,
                                    float softcap) {
  std::vector<double> s, out(static_cast<size_t>(c.dv), 0.0);
  std::vector<int64_t> cells;
  for (size_t i = 0; i < c.pos.size(); ++i) {
    if ((c.seqs[i] & 1) == 0 || c.pos[i] > pos || (window > 0 && c.pos[i] <= pos - window))
      continue;
    double d = 0;
    for (int64_t j = 0; j < c.dk; ++j) d += q[j] * fp16_to_fp32(c.k[i * c.dk + j]);
    d *= 0.125;
    if (softcap > 0) d = softcap * std::tanh(d / softcap);
    s.push_back(d);
    cells.push_back(static_cast<int64_t>(i));
  }
  double mx = -1e300, sum = 0;
  for (double x : s) mx = std::max(mx, x);
  for (double& x : s) sum += (x = std::exp(x - mx));
  for (size_t j = 0; j < cells.size(); ++j) {
    for (int64_t d = 0; d < c.dv; ++d)
      out[d] += s[j] / sum * fp16_to_fp32(c.v[cells[j] * c.dv + d]);
  }
  return out;
}

TEST(Attention, BothAlgorithmsMatchADirectSoftmax) {
  const TestCache cache(300, 21);
  const OpsTable& O = ops(best_isa());
  std::vector<uint8_t> scratch(attention_scratch_bytes(2, 64, 64) + 64);
  void* s =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  for (int64_t window : {int64_t{0}, int64_t{16}}) {
    for (float softcap : {0.0f, 50.0f}) {
      for (int32_t pos : {0, 5, 63, 64, 200, 299}) {
        const auto q = half_valued(128, 30 + pos);  // two heads
        std::vector<float> o1(128), o2(128);
        AttentionQuery query{q.data(), o1.data(), pos, 1};
        attend_per_key(O, cache.kv(window, softcap), query, 2, s);
        query.out = o2.data();
        attend_tiled(O, cache.kv(window, softcap), &query, 1, 2, s);
        for (int h = 0; h < 2; ++h) {
          const auto want = naive_attention(cache, q.data() + 64 * h, pos, window, softcap);
          for (int d = 0; d < 64; ++d) {
            EXPECT_NEAR(o1[64 * h + d], want[d], 2e-3)
                << "per-key pos " << pos << " window " << window;
            EXPECT_NEAR(o2[64 * h + d], want[d], 1e-4)
                << "tiled pos " << pos << " window " << window;
          }
        }
      }
    }
  }
}

TEST(Attention, ResultIgnoresInvisibleCellsAndOtherRows) {
  // The same query over a cache with extra cells that it cannot see (later positions, another
  // sequence, cells outside its window) gives the same bits, in both algorithms.
  TestCache small(100, 41);
  TestCache big = small;
  // Append cells: later positions of sequence 0 and cells of sequence 1.
  const auto extra_k = random_halves(60 * 64, 42), extra_v = random_halves(60 * 64, 43);
  big.k.insert(big.k.end(), extra_k.begin(), extra_k.end());
  big.v.insert(big.v.end(), extra_v.begin(), extra_v.end());
  for (int i = 0; i < 60; ++i) {
    big.pos.push_back(i < 30 ? 100 + i : i);
    big.seqs.push_back(i < 30 ? 1 : 2);
  }
  const OpsTable& O = ops(best_isa());
  std::vector<uint8_t> scratch(attention_scratch_bytes(1, 64, 64) + 64);
  void* s =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  const auto q = half_valued(64, 44);
  for (int64_t window : {int64_t{0}, int64_t{20}}) {
    std::vector<float> a(64), b(64);
    AttentionQuery qa{q.data(), a.data(), 99, 1}, qb{q.data(), b.data(), 99, 1};
    attend_per_key(O, small.kv(window), qa, 1, s);
    attend_per_key(O, big.kv(window), qb, 1, s);
    EXPECT_TRUE(same_bits(a.data(), b.data(), 64)) << "per-key, window " << window;
    // Tiled, alone and together with other rows.
    attend_tiled(O, small.kv(window), &qa, 1, 1, s);
    std::vector<float> other(3 * 64);
    AttentionQuery rows[4] = {{q.data(), other.data(), 3, 1},
                              qb,
                              {q.data(), other.data() + 64, 120, 1},
                              {q.data(), other.data() + 128, 40, 2}};
    attend_tiled(O, big.kv(window), rows, 4, 1, s);
    EXPECT_TRUE(same_bits(a.data(), b.data(), 64)) << "tiled, window " << window;
  }
}

TEST(Attention, SlidingWindowOnlySeesTheWindow) {
  // With window w, a query at position p equals one over a cache that holds only the cells at
  // positions p-w+1 .. p.
  TestCache full(120, 51);
  TestCache recent(16, 51);
  for (int i = 0; i < 16; ++i) {
    const int c = 104 + i;
    std::memcpy(&recent.k[i * 64], &full.k[c * 64], 128);
    std::memcpy(&recent.v[i * 64], &full.v[c * 64], 128);
    recent.pos[i] = c;
  }
  const OpsTable& O = ops(best_isa());
  std::vector<uint8_t> scratch(attention_scratch_bytes(1, 64, 64) + 64);
  void* s =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  const auto q = half_valued(64, 52);
  std::vector<float> a(64), b(64);
  AttentionQuery qa{q.data(), a.data(), 119, 1}, qb{q.data(), b.data(), 119, 1};
  attend_per_key(O, full.kv(16), qa, 1, s);
  attend_per_key(O, recent.kv(0), qb, 1, s);
  EXPECT_TRUE(same_bits(a.data(), b.data(), 64));
}

}  // namespace
}  // namespace ember::kernels
