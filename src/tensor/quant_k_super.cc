// Super-block polish for the K-quant quantizers (see quant_k_search.h).
//
// The reference quantizer fixes the super-scale from the largest sub-block scale, rounds each
// sub-block scale to an integer once and re-rounds the quants. After that rounding, the integers
// no longer match the values as well as they could: a least-squares refit of each sub-block's
// (scale, min) to its quants, rounded against the stored super-scales (or a neighbouring
// integer), often reconstructs better, and so does a super-scale refitted to all the integers.
// polish() tries only those few closed-form candidates, judges each by the real error of its sub-block (the error of a
// sub-block depends only on its own integers once d/dmin are fixed, so sub-blocks are scored
// independently) and keeps only improvements. A handful of 32-value passes per sub-block keeps
// this cheap next to the reference fits themselves.
#include <algorithm>
#include <cmath>

#include "tensor/fp16.h"
#include "tensor/quant_k_search.h"

namespace ember::kquant {
namespace {

// Super-scale refits per block. Each one re-rounds everything; on real weights the second
// rarely changes anything and a third almost never does.
constexpr int kPolishRounds = 2;

// Clamp that sends NaN to lo. Written with plain comparisons so it maps to max/min instructions
// and the loops using it vectorize.
inline float clampf(float t, float lo, float hi) {
  t = t > lo ? t : lo;
  return t < hi ? t : hi;
}

// Nearest quant (ties to even) for step dl and offset ml, as a float. Adding and subtracting
// 1.5 * 2^23 rounds in pure float arithmetic, which vectorizes; |t| is small after the clamp.
inline float round_quant(float xi, float ml, float inv, float lo, float hi) {
  constexpr float kMagic = 12582912.0f;
  return (clampf((xi + ml) * inv, lo, hi) + kMagic) - kMagic;
}

// Squared error of one sub-block of N values re-rounded for step dl and offset ml (nearest
// rounding is optimal for a fixed dl/ml). A zero step gives q = 0 everywhere (0 lies in every
// layout's quant range). Per-element terms go to an array and are summed in a fixed tree so the
// compiler may vectorize without reassociating a float chain.
template <int N>
float sub_error(const float* x, float dl, float ml, float inv, float lo, float hi) {
  float term[N];
  for (int i = 0; i < N; ++i) {
    const float diff = dl * round_quant(x[i], ml, inv, lo, hi) - ml - x[i];
    term[i] = diff * diff;
  }
  float acc[8];
  for (int k = 0; k < 8; ++k) acc[k] = term[k];
  for (int i = 8; i < N; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += term[i + k];
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Error of sub-block values x (lay.sub of them) for step dl and offset ml; writes the quants
// when q is not null.
float quantize_sub(const float* x, const SuperLayout& lay, float dl, float ml, int8_t* q) {
  const float inv = dl != 0 ? 1.0f / dl : 0.0f;
  const float lo = static_cast<float>(lay.qlo), hi = static_cast<float>(lay.qhi);
  if (q != nullptr) {
    for (int i = 0; i < lay.sub; ++i) {
      q[i] = static_cast<int8_t>(round_quant(x[i], ml, inv, lo, hi));
    }
  }
  return lay.sub == 16 ? sub_error<16>(x, dl, ml, inv, lo, hi)
                       : sub_error<32>(x, dl, ml, inv, lo, hi);
}

// The fp16 super-scales as floats and the per-sub-block errors of a code under them.
struct Scored {
  SuperCode code;
  float df = 0, dminf = 0;
  float err[16] = {};
  float total() const {
    float t = 0;
    for (float e : err) t += e;
    return t;
  }
};

// Scores integers (ls, lm) for sub-block j of s, keeping them (and their quants) when the
// sub-block's error drops.
void try_sub(const float* xs, const SuperLayout& lay, int j, int ls, int lm, Scored* s) {
  if (ls == s->code.ls[j] && lm == s->code.lm[j]) return;
  const float dl = s->df * static_cast<float>(ls), ml = s->dminf * static_cast<float>(lm);
  const float e = quantize_sub(xs, lay, dl, ml, nullptr);
  if (!(e < s->err[j])) return;
  s->err[j] = e;
  s->code.ls[j] = ls;
  s->code.lm[j] = lm;
  quantize_sub(xs, lay, dl, ml, s->code.q + j * lay.sub);  // rare: only on improvement
}

// Refits sub-block j's (scale, min) by least squares to its current quants and tries the
// rounded integers, their +-1 neighbours (for scale+min types also the same-direction diagonal,
// since a larger step usually wants a larger min) and the mixes with the current integers. Runs
// twice so that the re-rounded quants of an accepted candidate get their own refit.
void polish_sub(const float* x, const SuperLayout& lay, int j, Scored* s) {
  const float* xs = x + j * lay.sub;
  for (int pass = 0; pass < 2; ++pass) {
    const int8_t* qs = s->code.q + j * lay.sub;
    float sq = 0, sq2 = 0, sx = 0, sxq = 0;
    for (int i = 0; i < lay.sub; ++i) {
      const float q = qs[i];
      sq += q;
      sq2 += q * q;
      sx += xs[i];
      sxq += xs[i] * q;
    }
    float scale = 0, min = 0;
    if (lay.mhi == 0) {
      if (!(sq2 > 0)) return;
      scale = sxq / sq2;
    } else {
      const float n = static_cast<float>(lay.sub);
      const float det = n * sq2 - sq * sq;
      if (!(det > 0)) return;
      scale = (n * sxq - sx * sq) / det;
      min = -(sq2 * sx - sq * sxq) / det;
    }
    if (s->df == 0) return;
    const int ls0 = s->code.ls[j], lm0 = s->code.lm[j];
    const int ls = round_clamp(scale / s->df, lay.slo, lay.shi);
    const int lm = lay.mhi > 0 && s->dminf != 0 ? round_clamp(min / s->dminf, 0, lay.mhi) : lm0;
    try_sub(xs, lay, j, ls, lm, s);
    try_sub(xs, lay, j, std::max(ls - 1, lay.slo), lm, s);
    try_sub(xs, lay, j, std::min(ls + 1, lay.shi), lm, s);
    if (lay.mhi > 0) {
      try_sub(xs, lay, j, ls, lm0, s);
      try_sub(xs, lay, j, ls0, lm, s);
      try_sub(xs, lay, j, ls, std::max(lm - 1, 0), s);
      try_sub(xs, lay, j, ls, std::min(lm + 1, lay.mhi), s);
      try_sub(xs, lay, j, std::max(ls - 1, lay.slo), std::max(lm - 1, 0), s);
      try_sub(xs, lay, j, std::min(ls + 1, lay.shi), std::min(lm + 1, lay.mhi), s);
    }
    if (s->code.ls[j] == ls0 && s->code.lm[j] == lm0) return;  // nothing new to refit
  }
}

// Re-rounds all quants for the code's integers and super-scales, then polishes every sub-block.
void rescore(const float* x, const SuperLayout& lay, Scored* s) {
  s->df = fp16_to_fp32(s->code.d);
  s->dminf = fp16_to_fp32(s->code.dmin);
  const int nsub = 256 / lay.sub;
  for (int j = 0; j < nsub; ++j) {
    s->err[j] = quantize_sub(x + j * lay.sub, lay, s->df * static_cast<float>(s->code.ls[j]),
                             s->dminf * static_cast<float>(s->code.lm[j]),
                             s->code.q + j * lay.sub);
    polish_sub(x, lay, j, s);
  }
}

// Least-squares super-scales for the code's integers: x ~= d * (ls * q) - dmin * lm. Returns
// false when the fit is degenerate or not representable in fp16.
bool refit_super(const float* x, const SuperLayout& lay, const SuperCode& code, uint16_t* d16,
                 uint16_t* dmin16) {
  double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
  for (int j = 0; j < 256 / lay.sub; ++j) {
    const double ls = code.ls[j], lm = code.lm[j];
    double sq = 0, sq2 = 0, sxq = 0, sx = 0;
    for (int i = 0; i < lay.sub; ++i) {
      const double q = code.q[j * lay.sub + i], xi = x[j * lay.sub + i];
      sq += q;
      sq2 += q * q;
      sxq += xi * q;
      sx += xi;
    }
    saa += ls * ls * sq2;
    sab += ls * lm * sq;
    sbb += lm * lm * lay.sub;
    sax += ls * sxq;
    sbx += lm * sx;
  }
  if (!(saa > 0)) return false;
  double d = sax / saa;
  double dmin = fp16_to_fp32(code.dmin);
  const double det = saa * sbb - sab * sab;
  if (lay.mhi > 0 && sbb > 0 && det > 1e-12 * saa * sbb) {
    d = (sax * sbb - sab * sbx) / det;
    dmin = (sab * sax - saa * sbx) / det;
  }
  if (!(std::fabs(d) <= 65504.0) || !(std::fabs(dmin) <= 65504.0)) return false;
  *d16 = fp32_to_fp16(static_cast<float>(d));
  *dmin16 = lay.mhi > 0 ? fp32_to_fp16(static_cast<float>(dmin)) : 0;
  return true;
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

void polish(const float* x, const SuperLayout& lay, SuperCode* code) {
  Scored best;
  best.code = *code;
  rescore(x, lay, &best);
  auto try_super = [&](uint16_t d16, uint16_t dmin16) {
    Scored cand;
    cand.code = best.code;
    cand.code.d = d16;
    cand.code.dmin = dmin16;
    rescore(x, lay, &cand);
    if (!(cand.total() < best.total())) return false;
    best = cand;
    return true;
  };
  for (int round = 0; round < kPolishRounds; ++round) {
    uint16_t d16, dmin16;
    if (!refit_super(x, lay, best.code, &d16, &dmin16)) break;
    if (d16 == best.code.d && dmin16 == best.code.dmin) break;
    if (!try_super(d16, dmin16)) break;
  }
  // A slightly smaller or larger super-scale trades clipping of the largest sub-block scale
  // against finer steps for the others; the least-squares refit cannot see that trade. On the
  // test data this buys ~0.5% RMSE for Q3_K/Q6_K but only ~0.1% for the scale+min types (whose
  // wider sub-block window above already covers most of it) at ~30% more time, so only the
  // symmetric types try it.
  if (lay.mhi == 0) {
    const float df = fp16_to_fp32(best.code.d);
    for (const float f : {0.98f, 1.02f}) try_super(fp32_to_fp16(df * f), 0);
  }
  *code = best.code;
}

}  // namespace ember::kquant
