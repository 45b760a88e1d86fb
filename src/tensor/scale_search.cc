#include "tensor/scale_search.h"

#include <cmath>

#include "tensor/fp16.h"
#include "tensor/quant_util.h"

namespace ember {
namespace {

// Sums a least-squares refit needs, gathered while a candidate is evaluated.
struct FitSums {
  double q = 0, qq = 0, x = 0, qx = 0;
};

// Rounds to the nearest integer-valued float (ties to even) for |v| < 2^22, branch-free:
// adding 1.5 * 2^23 leaves no fraction bits, so the addition itself does the rounding.
inline float round_float(float v) {
  constexpr float kShift = 12582912.0f;
  return (v + kShift) - kShift;
}

// Clamps without NaN special cases so the loops below compile to min/max instructions.
inline float clamp_float(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

// Sum of a kSearchBlock-element array: 8 float lanes, then the lanes in double. Written as
// lanes so the compiler may vectorize it (a plain float sum must stay sequential).
double block_sum(const float* v) {
  float lanes[8] = {};
  for (int j0 = 0; j0 < kSearchBlock; j0 += 8) {
    for (int k = 0; k < 8; ++k) lanes[k] += v[j0 + k];
  }
  double t = 0;
  for (int k = 0; k < 8; ++k) t += lanes[k];
  return t;
}

// Quantizes x with scale d (rounded to fp16 as it will be stored) and returns the squared error
// of the values the dequantizer will produce. This is the search's inner loop, so it works on
// a fixed-size block, branch-free, with the sums taken afterwards, which lets the compiler
// vectorize it. Its float estimate is only used to rank candidates; the winner is re-checked exactly (in
// double) before it replaces the starting fit.
double fit_symmetric(const float* x, int qmin, int qmax, float d, SymmetricFit* out,
                     FitSums* sums) {
  out->d = scale_to_fp16(d);
  const float df = fp16_to_fp32(out->d);
  const float inv = df != 0.0f ? 1.0f / df : 0.0f;  // finite: the smallest fp16 is 2^-24
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  float e2[kSearchBlock], qx[kSearchBlock], qq[kSearchBlock];
  for (int j = 0; j < kSearchBlock; ++j) {
    const float xv = x[j];
    const float q = round_float(clamp_float(xv * inv, lo, hi));
    out->q[j] = static_cast<int8_t>(q);
    const float e = xv - q * df;
    e2[j] = e * e;
    qx[j] = q * xv;
    qq[j] = q * q;
  }
  *sums = FitSums{};
  sums->qx = block_sum(qx);
  sums->qq = block_sum(qq);
  return block_sum(e2);
}

// As fit_symmetric, for value = d * q + m.
double fit_affine(const float* x, int qmax, float d, float m, AffineFit* out,
                  FitSums* sums) {
  out->d = scale_to_fp16(d);
  out->m = scale_to_fp16(m);
  const float df = fp16_to_fp32(out->d);
  const float mf = fp16_to_fp32(out->m);
  const float inv = df != 0.0f ? 1.0f / df : 0.0f;
  const float hi = static_cast<float>(qmax);
  float e2[kSearchBlock], sq[kSearchBlock], sqq[kSearchBlock], sx[kSearchBlock],
      sqx[kSearchBlock];
  for (int j = 0; j < kSearchBlock; ++j) {
    const float xv = x[j];
    const float q = round_float(clamp_float((xv - mf) * inv, 0.0f, hi));
    out->q[j] = static_cast<uint8_t>(q);
    const float e = xv - (q * df + mf);
    e2[j] = e * e;
    sq[j] = q;
    sqq[j] = q * q;
    sx[j] = xv;
    sqx[j] = q * xv;
  }
  sums->q = block_sum(sq);
  sums->qq = block_sum(sqq);
  sums->x = block_sum(sx);
  sums->qx = block_sum(sqx);
  return block_sum(e2);
}

// Least-squares (d, m) for fixed codes; false when the codes are all equal (no unique fit).
bool affine_lsq(const FitSums& s, float* d, float* m) {
  constexpr double n = kSearchBlock;
  const double det = n * s.qq - s.q * s.q;
  if (!(det > 0)) return false;
  *d = static_cast<float>((n * s.qx - s.q * s.x) / det);
  *m = static_cast<float>((s.qq * s.x - s.q * s.qx) / det);
  return std::isfinite(*d) && std::isfinite(*m);
}

}  // namespace

double symmetric_sse(const float* x, const SymmetricFit& fit) {
  const float df = fp16_to_fp32(fit.d);
  double sse = 0;
  for (int j = 0; j < kSearchBlock; ++j) {
    const double e =
        static_cast<double>(x[j]) - static_cast<double>(static_cast<float>(fit.q[j]) * df);
    sse += e * e;
  }
  return sse;
}

double affine_sse(const float* x, const AffineFit& fit) {
  const float df = fp16_to_fp32(fit.d);
  const float mf = fp16_to_fp32(fit.m);
  double sse = 0;
  for (int j = 0; j < kSearchBlock; ++j) {
    const double e = static_cast<double>(x[j]) - static_cast<double>(affine_value(df, fit.q[j], mf));
    sse += e * e;
  }
  return sse;
}

// Candidate scales map the block's largest-magnitude value to a level between 75% and 100% of
// either end of the code range (the negative end gives the reference's choice), and each is
// followed by a least-squares refit of the scale for the codes it produced. A few more refits of
// the winner polish it. Cost: about 40 evaluations of the block.
void refine_symmetric(const float* x, int qmin, int qmax, SymmetricFit* fit) {
  const double start = symmetric_sse(x, *fit);
  if (start == 0) return;
  double best = start;
  SymmetricFit best_fit = *fit;
  float amax = 0.0f, mx = 0.0f;
  for (int j = 0; j < kSearchBlock; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      mx = x[j];
    }
  }
  if (amax == 0.0f) return;

  SymmetricFit cand;
  FitSums sums;
  auto consider = [&](float d) {
    const double e = fit_symmetric(x, qmin, qmax, d, &cand, &sums);
    if (e < best) {
      best = e;
      best_fit = cand;
    }
  };
  const int ends[2] = {qmin, qmax};
  // A symmetric range gives the same candidates from both ends (up to sign); search one.
  const int n_ends = (qmin == -qmax) ? 1 : 2;
  for (int e = 0; e < n_ends; ++e) {
    const float end = static_cast<float>(ends[e]);
    for (int k = 0; k <= 8; ++k) {
      const float level = end - end * static_cast<float>(k) / 32.0f;
      consider(mx / level);
      if (sums.qq > 0) consider(static_cast<float>(sums.qx / sums.qq));
    }
  }
  for (int iter = 0; iter < 3; ++iter) {
    FitSums s;
    SymmetricFit cur = best_fit;
    fit_symmetric(x, qmin, qmax, fp16_to_fp32(cur.d), &cur, &s);
    if (!(s.qq > 0)) break;
    const double before = best;
    consider(static_cast<float>(s.qx / s.qq));
    if (!(best < before)) break;
  }
  // The search compared float estimates; only an exactly smaller error replaces the start.
  if (symmetric_sse(x, best_fit) < start) *fit = best_fit;
}

// Candidate scales spread the block's range [min, max] over qmax - 1 .. qmax + 1 steps (the
// reference uses exactly qmax), each followed by a joint least-squares refit of (d, m) for the
// codes it produced; the winner gets a few more refits.
void refine_affine(const float* x, int qmax, AffineFit* fit) {
  const double start = affine_sse(x, *fit);
  if (start == 0) return;
  double best = start;
  AffineFit best_fit = *fit;
  float lo = x[0], hi = x[0];
  for (int j = 1; j < kSearchBlock; ++j) {
    lo = std::fmin(lo, x[j]);
    hi = std::fmax(hi, x[j]);
  }
  const float range = hi - lo;

  AffineFit cand;
  FitSums sums;
  auto consider = [&](float d, float m) {
    const double e = fit_affine(x, qmax, d, m, &cand, &sums);
    if (e < best) {
      best = e;
      best_fit = cand;
    }
  };
  // Constant block: the only freedom is m's rounding, which the reference already did.
  if (!(range > 0.0f) || !std::isfinite(range)) return;
  for (int k = 0; k <= 20; ++k) {
    const float steps = static_cast<float>(qmax - 1) + 0.1f * static_cast<float>(k);
    consider(range / steps, lo);
    float d, m;
    if (affine_lsq(sums, &d, &m)) consider(d, m);
  }
  for (int iter = 0; iter < 3; ++iter) {
    FitSums s;
    AffineFit cur = best_fit;
    fit_affine(x, qmax, fp16_to_fp32(cur.d), fp16_to_fp32(cur.m), &cur, &s);
    float d, m;
    if (!affine_lsq(s, &d, &m)) break;
    const double before = best;
    consider(d, m);
    if (!(best < before)) break;
  }
  // The search compared float estimates; only an exactly smaller error replaces the start.
  if (affine_sse(x, best_fit) < start) *fit = best_fit;
}

}  // namespace ember
