// IQ4_NL / IQ4_XS: dequantization and the scale-searching quantizers.
//
// Quantizing a block means choosing a scale; given the scale, each value independently takes the
// nearest of the 16 scaled levels. The table is asymmetric (-127 .. 113), so the sign of the
// scale matters: a negative scale mirrors the table, and either orientation may fit a block
// better. The reference algorithm (reproduced here as the starting candidate) searches scales
// that minimise an x^2-weighted error and computes codes with the unrounded scale. The search
// below minimises the plain squared error of what the dequantizer will actually produce, with
// the scale rounded as it will be stored, and the better of the two is kept per block.
#include "tensor/quant_iq4.h"

#include <array>
#include <cmath>
#include <cstring>

#include "tensor/blocks_iq4.h"
#include "tensor/fp16.h"
#include "tensor/quant_util.h"

namespace ember {
namespace {

constexpr int kSub = 32;                  // values per scale (both formats)
constexpr int kSubPerSuper = kQK_K / kSub;  // IQ4_XS sub-blocks per super-block
constexpr int kZeroCode = 8;              // code of the level closest to zero (value 1)

float level(int code) { return static_cast<float>(kIq4Values[static_cast<size_t>(code)]); }

// Midpoints between adjacent levels, in level units. A ratio t = x / scale takes the code equal
// to the number of midpoints at or below it, i.e. its nearest level. Counting comparisons
// instead of searching keeps the loop branch-free so the compiler can vectorize it; the search
// below runs it thousands of times per block.
constexpr std::array<float, 15> kMidpoints = [] {
  std::array<float, 15> m{};
  for (size_t i = 0; i < m.size(); ++i) {
    m[i] = 0.5f * (static_cast<float>(kIq4Values[i]) + static_cast<float>(kIq4Values[i + 1]));
  }
  return m;
}();
// Gap from each level to the next, so the chosen level can be accumulated alongside the code.
constexpr std::array<float, 15> kSteps = [] {
  std::array<float, 15> g{};
  for (size_t i = 0; i < g.size(); ++i) {
    g[i] = static_cast<float>(kIq4Values[i + 1]) - static_cast<float>(kIq4Values[i]);
  }
  return g;
}();

// Index of the level nearest to t (in level units) by the reference algorithm's exact rule:
// between adjacent levels a < b, t takes b unless (t - a) < (b - t) in float arithmetic; below
// the first level 0, above the last 15, NaN 15. The reference candidates must reproduce it bit
// for bit, so it is written as a count over all gaps (each gap whose rule says "go up" adds one)
// rather than a search: same answer, no branches.
int nearest_code(float t) {
  int c = 0;
  for (int i = 0; i < 15; ++i) c += (t - level(i) < level(i + 1) - t) ? 0 : 1;
  return c;
}

// The level value nearest_code(t) picks, accumulated from the gaps instead of looked up in the
// table, so loops over elements stay vectorizable. Exact: the levels are small integers.
float nearest_level(float t) {
  float l = level(0);
  for (int i = 0; i < 15; ++i) l += (t - level(i) < level(i + 1) - t) ? 0.0f : kSteps[i];
  return l;
}

// Sum of a 32-element array in 8 float lanes (vectorizable), the lanes added in double.
double block_sum(const float* v) {
  float lanes[8] = {};
  for (int j0 = 0; j0 < kSub; j0 += 8) {
    for (int k = 0; k < 8; ++k) lanes[k] += v[j0 + k];
  }
  double t = 0;
  for (int k = 0; k < 8; ++k) t += lanes[k];
  return t;
}

// Squared error of x[0..32) coded with `scale` (the float the dequantizer multiplies levels by)
// and nearest codes; fills codes and the sums for a least-squares refit of the scale. This is
// the search's inner loop: element-wise and branch-free with the sums taken afterwards, so it
// vectorizes. The float result only ranks candidates; final comparisons use codes_sse.
double fit_codes(const float* x, float scale, uint8_t* codes, double* sum_lx, double* sum_ll) {
  const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
  float e2[kSub], lx[kSub], ll[kSub];
  for (int j = 0; j < kSub; ++j) {
    const float t = x[j] * inv;
    int c = 0;
    float l = level(0);
    for (size_t i = 0; i < kMidpoints.size(); ++i) {
      const bool up = t >= kMidpoints[i];
      c += up ? 1 : 0;
      l += up ? kSteps[i] : 0.0f;
    }
    codes[j] = static_cast<uint8_t>(c);
    const float e = x[j] - scale * l;
    e2[j] = e * e;
    lx[j] = l * x[j];
    ll[j] = l * l;
  }
  if (sum_lx != nullptr) *sum_lx = block_sum(lx);
  if (sum_ll != nullptr) *sum_ll = block_sum(ll);
  return block_sum(e2);
}

// Squared error of given codes under `scale`.
double codes_sse(const float* x, float scale, const uint8_t* codes) {
  double sse = 0;
  for (int j = 0; j < kSub; ++j) {
    const double e = static_cast<double>(x[j]) - static_cast<double>(scale * level(codes[j]));
    sse += e * e;
  }
  return sse;
}

float signed_absmax(const float* x, int n, float* amax_out) {
  float amax = 0.0f, mx = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      mx = x[j];
    }
  }
  *amax_out = amax;
  return mx;
}

// The reference's per-block scale: x^2-weighted least squares over 16 trial scales around the
// one that maps the extreme value to the -127 end (plus one mapping it to +127). Returns 0 for a
// (near-)zero block.
float reference_block_scale(const float* x) {
  float amax;
  const float mx = signed_absmax(x, kSub, &amax);
  if (amax < 1e-15f) return 0.0f;
  // The float sums are accumulated in element order, as the reference does; only the code
  // lookup is hoisted into its own (vectorizable) loop.
  auto sums = [&](float id, float* sqx, float* sq2) {
    float q[kSub];
    for (int j = 0; j < kSub; ++j) q[j] = nearest_level(id * x[j]);
    *sqx = 0.0f;
    *sq2 = 0.0f;
    for (int j = 0; j < kSub; ++j) {
      const float w = x[j] * x[j];
      *sqx += w * q[j] * x[j];
      *sq2 += w * q[j] * q[j];
    }
  };
  float sqx, sq2;
  sums(1.0f / (mx / 127.0f), &sqx, &sq2);
  float d = sqx / sq2;
  float best = d * sqx;
  for (int t = -7; t <= 7; ++t) {
    sums((static_cast<float>(t) + level(0)) / mx, &sqx, &sq2);
    if (sq2 > 0 && sqx * sqx > best * sq2) {
      d = sqx / sq2;
      best = d * sqx;
    }
  }
  return d;
}

// Our search for one block's best scale, judging each candidate by its plain squared error after
// the scale is passed through `round` (fp16 storage for IQ4_NL; identity for IQ4_XS's first
// pass). Candidates map the extreme value to 85%..103% of either end of the table, each followed
// by a least-squares refit for its codes. Returns the best scale (already rounded) and its codes.
template <typename Round>
float search_block_scale(const float* x, Round round, uint8_t* codes, double* sse_out) {
  float amax;
  const float mx = signed_absmax(x, kSub, &amax);
  double best = fit_codes(x, 0.0f, codes, nullptr, nullptr);
  float best_scale = 0.0f;
  if (amax == 0.0f) {
    *sse_out = best;
    return 0.0f;
  }
  uint8_t cand[kSub];
  auto consider = [&](float scale, double* lx, double* ll) {
    const float s = round(scale);
    const double e = fit_codes(x, s, cand, lx, ll);
    if (e < best) {
      best = e;
      best_scale = s;
      std::memcpy(codes, cand, kSub);
    }
  };
  for (float end : {level(0), level(15)}) {
    for (int k = -5; k <= 1; ++k) {
      const float target = end * (1.0f + 0.03f * static_cast<float>(k));
      double lx, ll;
      consider(mx / target, &lx, &ll);
      if (ll > 0) consider(static_cast<float>(lx / ll), nullptr, nullptr);
    }
  }
  *sse_out = best;
  return best_scale;
}

float fp16_round(float s) { return fp16_to_fp32(scale_to_fp16(s)); }

void pack_codes(const uint8_t* codes, uint8_t* qs) {
  for (int j = 0; j < kSub / 2; ++j) {
    qs[j] = static_cast<uint8_t>(codes[j] | (codes[j + kSub / 2] << 4));
  }
}

// Sub-block scale code of IQ4_XS (0..63; the multiplier is code - 32).
int xs_scale_code(const BlockIQ4_XS& b, int ib) {
  return ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((b.scales_h >> (2 * ib)) & 3) << 4);
}

// One IQ4_XS super-block as chosen codes: super-scale bits, multipliers (-32..31), codes.
struct XsFit {
  uint16_t d = 0;
  int mult[kSubPerSuper] = {};
  uint8_t codes[kQK_K] = {};
};

// The reference's IQ4_XS choice: per-sub-block scales as for IQ4_NL, a super-scale mapping the
// largest to -32, multipliers rounded, codes from the unrounded products.
XsFit reference_xs(const float* x) {
  float scales[kSubPerSuper];
  float amax_scale = 0.0f, max_scale = 0.0f;
  for (int ib = 0; ib < kSubPerSuper; ++ib) {
    scales[ib] = reference_block_scale(x + ib * kSub);
    if (std::fabs(scales[ib]) > amax_scale) {
      amax_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  XsFit f;
  const float d = -max_scale / 32.0f;
  f.d = scale_to_fp16(d);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int ib = 0; ib < kSubPerSuper; ++ib) {
    const int l = round_clamped(id * scales[ib], -32, 31);
    f.mult[ib] = l;
    const float dl = d * static_cast<float>(l);
    const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
    for (int j = 0; j < kSub; ++j) {
      f.codes[ib * kSub + j] = static_cast<uint8_t>(nearest_code(idl * x[ib * kSub + j]));
    }
  }
  return f;
}

double xs_sse(const float* x, const XsFit& f) {
  const float d = fp16_to_fp32(f.d);
  double sse = 0;
  for (int ib = 0; ib < kSubPerSuper; ++ib) {
    const float dl = d * static_cast<float>(f.mult[ib]);
    sse += codes_sse(x + ib * kSub, dl, f.codes + ib * kSub);
  }
  return sse;
}

// Our IQ4_XS search: find each sub-block's best unconstrained scale, then try super-scales that
// map the largest of them to multipliers near either end of -32..31; for each, every sub-block
// takes the best of the three multipliers around its ideal one.
XsFit search_xs(const float* x) {
  float scales[kSubPerSuper];
  float amax_scale = 0.0f, max_scale = 0.0f;
  uint8_t scratch[kSub];
  for (int ib = 0; ib < kSubPerSuper; ++ib) {
    double unused;
    scales[ib] = search_block_scale(x + ib * kSub, [](float s) { return s; }, scratch, &unused);
    if (std::fabs(scales[ib]) > amax_scale) {
      amax_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  XsFit best;
  double best_sse = 0;
  for (int ib = 0; ib < kSubPerSuper; ++ib) {
    best_sse += fit_codes(x + ib * kSub, 0.0f, best.codes + ib * kSub, nullptr, nullptr);
  }
  if (amax_scale == 0.0f) return best;

  XsFit cand;
  uint8_t codes[kSub];
  for (float end : {-32.0f, 31.0f}) {
    for (int k = 0; k <= 4; ++k) {
      const float target = end * (1.0f - 0.03f * static_cast<float>(k));
      cand.d = scale_to_fp16(max_scale / target);
      const float d = fp16_to_fp32(cand.d);
      if (d == 0.0f) continue;
      double total = 0;
      for (int ib = 0; ib < kSubPerSuper && total < best_sse; ++ib) {
        const float* xb = x + ib * kSub;
        const int l0 = round_clamped(scales[ib] / d, -32, 31);
        double sub_best = -1;
        for (int l = l0 - 1; l <= l0 + 1; ++l) {
          if (l < -32 || l > 31) continue;
          const double e = fit_codes(xb, d * static_cast<float>(l), codes, nullptr, nullptr);
          if (sub_best < 0 || e < sub_best) {
            sub_best = e;
            cand.mult[ib] = l;
            std::memcpy(cand.codes + ib * kSub, codes, kSub);
          }
        }
        total += sub_best;
      }
      if (total < best_sse) {
        best_sse = total;
        best = cand;
      }
    }
  }
  return best;
}

}  // namespace

void dequantize_row_iq4_nl(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_NL; ++i) {
    const auto b = load_block<BlockIQ4_NL>(src, i);
    const float d = fp16_to_fp32(b.d);
    float* y = dst + i * kQK4_NL;
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      y[j] = d * level(b.qs[j] & 0x0f);
      y[j + kQK4_NL / 2] = d * level(b.qs[j] >> 4);
    }
  }
}

// The sub-block scale is formed first (d * multiplier, rounded to float) and then applied to the
// level: two roundings, in the reference's order.
void dequantize_row_iq4_xs(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const auto b = load_block<BlockIQ4_XS>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int ib = 0; ib < kSubPerSuper; ++ib) {
      const float dl = d * static_cast<float>(xs_scale_code(b, ib) - 32);
      const uint8_t* qs = b.qs + ib * (kSub / 2);
      float* y = dst + i * kQK_K + ib * kSub;
      for (int j = 0; j < kSub / 2; ++j) {
        y[j] = dl * level(qs[j] & 0x0f);
        y[j + kSub / 2] = dl * level(qs[j] >> 4);
      }
    }
  }
}

void quantize_row_iq4_nl(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_NL; ++i) {
    const float* x = src + i * kQK4_NL;
    // Reference candidate: its scale stored as fp16, codes from the unrounded scale.
    const float ref_scale = reference_block_scale(x);
    const uint16_t ref_bits = scale_to_fp16(ref_scale);
    uint8_t ref_codes[kSub];
    const float ref_inv = ref_scale != 0.0f ? 1.0f / ref_scale : 0.0f;
    for (int j = 0; j < kSub; ++j) ref_codes[j] = static_cast<uint8_t>(nearest_code(ref_inv * x[j]));
    const double ref_sse = codes_sse(x, fp16_to_fp32(ref_bits), ref_codes);

    uint8_t codes[kSub];
    double sse;
    const float scale = search_block_scale(x, fp16_round, codes, &sse);
    sse = codes_sse(x, scale, codes);  // the search's float estimate, redone exactly
    BlockIQ4_NL b;
    // The reference wins ties; a NaN error (its x^2 weights overflow on huge input) loses.
    if (!(ref_sse <= sse)) {
      b.d = scale_to_fp16(scale);  // exact: scale is already an fp16 value
      pack_codes(codes, b.qs);
    } else {
      b.d = ref_bits;
      pack_codes(ref_codes, b.qs);
    }
    store_block(dst, i, b);
  }
}

void quantize_row_iq4_xs(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* x = src + i * kQK_K;
    const XsFit ref = reference_xs(x);
    const XsFit ours = search_xs(x);
    // The reference wins ties; a NaN error (its x^2 weights overflow on huge input) loses.
    const XsFit& f = xs_sse(x, ref) <= xs_sse(x, ours) ? ref : ours;
    BlockIQ4_XS b;
    std::memset(&b, 0, sizeof b);
    b.d = f.d;
    for (int ib = 0; ib < kSubPerSuper; ++ib) {
      const int code = f.mult[ib] + 32;
      b.scales_l[ib / 2] |= static_cast<uint8_t>((code & 0x0f) << (4 * (ib % 2)));
      b.scales_h |= static_cast<uint16_t>(((code >> 4) & 3) << (2 * ib));
      pack_codes(f.codes + ib * kSub, b.qs + ib * (kSub / 2));
    }
    store_block(dst, i, b);
  }
}

}  // namespace ember
