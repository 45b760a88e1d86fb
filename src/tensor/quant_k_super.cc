// Super-block search for the K-quant quantizers (see quant_k_search.h).
//
// The reference quantizer fixes the super-scale from the largest sub-block scale, rounds each
// sub-block scale to an integer once and re-rounds the quants. The stored integers interact,
// though: after rounding, a neighbouring sub-scale or min, or a slightly different super-scale,
// often reconstructs the block better. Here every candidate is judged by the real reconstruction
// error (computed exactly as the dequantizer computes values) and only improvements are kept, so
// the result is never worse than the starting code.
#include <cmath>
#include <initializer_list>

#include "tensor/fp16.h"
#include "tensor/quant_k_search.h"

namespace ember::kquant {
namespace {

constexpr int kMaxLevels = 256;  // largest integer sub-scale range (Q6_K: -128..127)

// A set of candidate integers in [lo, hi], deduplicated with a bitmap.
struct IntSet {
  int lo = 0;
  int count = 0;
  int values[64];
  bool seen[kMaxLevels] = {};
  void add_window(int center, int radius, int lo_bound, int hi_bound) {
    for (int v = center - radius; v <= center + radius; ++v) {
      if (v < lo_bound || v > hi_bound || count == 64) continue;
      bool& s = seen[v - lo];
      if (!s) {
        s = true;
        values[count++] = v;
      }
    }
  }
};

// Float value of fp16 bits, or NaN for bits that are not finite.
float finite_half(uint16_t h) {
  const float f = fp16_to_fp32(h);
  return std::isfinite(f) ? f : NAN;
}

// fp16 nearest to v, saturated to the largest finite half (never inf or NaN).
uint16_t to_half_saturated(double v) {
  if (!(std::fabs(v) <= 65504.0)) v = v > 0 ? 65504.0 : (v < 0 ? -65504.0 : 0.0);
  return fp32_to_fp16(static_cast<float>(v));
}

// The fp16 value one step further from / closer to zero (same sign), when still finite.
bool half_step(uint16_t h, int dir, uint16_t* out) {
  const int mag = h & 0x7fff;
  const int next = mag + dir;
  if (next <= 0 || next >= 0x7c00) return false;
  *out = static_cast<uint16_t>((h & 0x8000) | next);
  return true;
}

// Best (ls, lm, q) for one sub-block given the float super-scales; returns its squared error.
// Each candidate pair is scored with the quants re-rounded for it; a candidate is abandoned as
// soon as its partial error exceeds the best so far.
double search_sub(const float* x, const SuperLayout& lay, float df, float dminf,
                  const IntSet& ls_set, const IntSet& lm_set, int* best_ls, int* best_lm,
                  int8_t* best_q) {
  double best = INFINITY;
  int8_t q[32];
  for (int a = 0; a < ls_set.count; ++a) {
    const int ls = ls_set.values[a];
    const float dl = df * static_cast<float>(ls);
    const float inv = dl != 0 ? 1.0f / dl : 0.0f;
    for (int b = 0; b < lm_set.count; ++b) {
      const int lm = lm_set.values[b];
      const float ml = dminf * static_cast<float>(lm);
      double err = 0;
      for (int i = 0; i < lay.sub && err < best; ++i) {
        const int l = inv != 0 ? round_clamp((x[i] + ml) * inv, lay.qlo, lay.qhi)
                               : (lay.qlo > 0 ? lay.qlo : (lay.qhi < 0 ? lay.qhi : 0));
        q[i] = static_cast<int8_t>(l);
        const double diff = static_cast<double>(dl * static_cast<float>(l) - ml) - x[i];
        err += diff * diff;
      }
      if (err < best) {
        best = err;
        *best_ls = ls;
        *best_lm = lm;
        for (int i = 0; i < lay.sub; ++i) best_q[i] = q[i];
      }
    }
  }
  return best;
}

// Continuous (scale, min) per sub-block that best fits the code's current quants.
void refit_from_quants(const float* x, const SuperLayout& lay, const SuperCode& code,
                       const float* fallback_scale, float* scale, float* min) {
  const int nsub = 256 / lay.sub;
  for (int j = 0; j < nsub; ++j) {
    const float* xs = x + j * lay.sub;
    const int8_t* qs = code.q + j * lay.sub;
    double n = lay.sub, sq = 0, sq2 = 0, sx = 0, sxq = 0;
    for (int i = 0; i < lay.sub; ++i) {
      sq += qs[i];
      sq2 += static_cast<double>(qs[i]) * qs[i];
      sx += xs[i];
      sxq += static_cast<double>(xs[i]) * qs[i];
    }
    scale[j] = fallback_scale[j];
    min[j] = 0;
    if (lay.mhi == 0) {
      if (sq2 > 0) scale[j] = static_cast<float>(sxq / sq2);
      continue;
    }
    const double det = n * sq2 - sq * sq;
    if (det > 0) {
      scale[j] = static_cast<float>((n * sxq - sx * sq) / det);
      min[j] = static_cast<float>(-(sq2 * sx - sq * sxq) / det);
    } else {
      min[j] = static_cast<float>(static_cast<double>(scale[j]) * (sq / n) - sx / n);
    }
  }
}

}  // namespace

double code_sse(const float* x, const SuperLayout& lay, const SuperCode& code) {
  const float df = fp16_to_fp32(code.d);
  const float dminf = fp16_to_fp32(code.dmin);
  double sse = 0;
  for (int e = 0; e < 256; ++e) {
    const int j = e / lay.sub;
    const float dl = df * static_cast<float>(code.ls[j]);
    const float ml = dminf * static_cast<float>(code.lm[j]);
    const double diff = static_cast<double>(dl * static_cast<float>(code.q[e]) - ml) - x[e];
    sse += diff * diff;
  }
  return sse;
}

void requantize(const float* x, const SuperLayout& lay, SuperCode* code) {
  const float df = fp16_to_fp32(code->d);
  const float dminf = fp16_to_fp32(code->dmin);
  for (int e = 0; e < 256; ++e) {
    const int j = e / lay.sub;
    const float dl = df * static_cast<float>(code->ls[j]);
    if (dl == 0) {
      code->q[e] = 0;
      continue;
    }
    const float ml = dminf * static_cast<float>(code->lm[j]);
    code->q[e] = static_cast<int8_t>(round_clamp((x[e] + ml) / dl, lay.qlo, lay.qhi));
  }
}

void refine_super(const float* x, const SuperLayout& lay, const float* scale, const float* min,
                  SuperCode* code) {
  const int nsub = 256 / lay.sub;
  double best_sse = code_sse(x, lay, *code);
  if (best_sse == 0) return;
  float refit_scale[16], refit_min[16];
  const float zeros[16] = {};
  if (min == nullptr) min = zeros;

  // Scores one pair of fp16 super-scales with the best sub-block integers near the continuous
  // fits, the least-squares refits of the current quants, and the current integers.
  auto try_super = [&](uint16_t d16, uint16_t dmin16) {
    if (lay.mhi == 0) dmin16 = 0;
    const float df = finite_half(d16);
    const float dminf = finite_half(dmin16);
    if (std::isnan(df) || std::isnan(dminf)) return false;
    SuperCode cand;
    cand.d = d16;
    cand.dmin = dmin16;
    double total = 0;
    for (int j = 0; j < nsub && total < best_sse; ++j) {
      IntSet ls_set, lm_set;
      ls_set.lo = lay.slo;
      lm_set.lo = 0;
      ls_set.add_window(code->ls[j], 1, lay.slo, lay.shi);
      if (df != 0) {
        for (float s : {scale[j], refit_scale[j]}) {
          ls_set.add_window(round_clamp(s / df, lay.slo - 2, lay.shi + 2), 1, lay.slo, lay.shi);
        }
      }
      lm_set.add_window(code->lm[j], 1, 0, lay.mhi);
      if (lay.mhi > 0 && dminf != 0) {
        for (float m : {min[j], refit_min[j]}) {
          lm_set.add_window(round_clamp(m / dminf, -2, lay.mhi + 2), 1, 0, lay.mhi);
        }
      }
      total += search_sub(x + j * lay.sub, lay, df, dminf, ls_set, lm_set, &cand.ls[j],
                          &cand.lm[j], cand.q + j * lay.sub);
    }
    if (!(total < best_sse)) return false;
    // Confirm with the exact scorer before accepting (the search sums the same terms).
    const double exact = code_sse(x, lay, cand);
    if (!(exact < best_sse)) return false;
    best_sse = exact;
    *code = cand;
    return true;
  };

  refit_from_quants(x, lay, *code, scale, refit_scale, refit_min);
  const uint16_t d0 = code->d, dmin0 = code->dmin;
  try_super(d0, dmin0);
  // A slightly smaller or larger super-scale trades clipping of the largest sub-block scale
  // against resolution for the others.
  const float df0 = fp16_to_fp32(d0);
  for (float f : {0.96f, 0.98f, 1.02f, 1.04f}) try_super(to_half_saturated(df0 * f), dmin0);

  for (int round = 0; round < 6; ++round) {
    bool improved = false;
    refit_from_quants(x, lay, *code, scale, refit_scale, refit_min);
    // Least-squares super-scales for the current integers: x ~= d * (ls * q) - dmin * lm.
    double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
    for (int e = 0; e < 256; ++e) {
      const double a = static_cast<double>(code->ls[e / lay.sub]) * code->q[e];
      const double b = code->lm[e / lay.sub];
      saa += a * a;
      sab += a * b;
      sbb += b * b;
      sax += a * x[e];
      sbx += b * x[e];
    }
    if (saa <= 0) break;
    double d = sax / saa;
    double dmin = fp16_to_fp32(code->dmin);
    const double det = saa * sbb - sab * sab;
    if (lay.mhi > 0 && sbb > 0 && det > 1e-12 * saa * sbb) {
      d = (sax * sbb - sab * sbx) / det;
      dmin = (sab * sax - saa * sbx) / det;
    }
    const uint16_t dh = to_half_saturated(d), mh = to_half_saturated(dmin);
    improved |= try_super(dh, mh);
    for (int dir : {-1, 1}) {
      uint16_t h;
      if (half_step(dh, dir, &h)) improved |= try_super(h, mh);
      if (lay.mhi > 0 && half_step(mh, dir, &h)) improved |= try_super(dh, h);
    }
    improved |= try_super(code->d, code->dmin);  // new refit centers at the same scales
    if (!improved) break;
  }
}

}  // namespace ember::kquant
