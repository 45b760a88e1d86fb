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

// Quantizes x with scale d (rounded to fp16 as it will be stored) and returns the squared error
// of the values the dequantizer will produce.
double fit_symmetric(const float* x, int n, int qmin, int qmax, float d, SymmetricFit* out,
                     FitSums* sums) {
  out->d = scale_to_fp16(d);
  const float df = fp16_to_fp32(out->d);
  *sums = FitSums{};
  double sse = 0;
  if (df == 0.0f) {
    for (int j = 0; j < n; ++j) {
      out->q[j] = 0;
      sse += static_cast<double>(x[j]) * x[j];
    }
    return sse;
  }
  const float inv = 1.0f / df;  // finite: the smallest fp16 subnormal is 2^-24
  for (int j = 0; j < n; ++j) {
    const int q = round_clamped(x[j] * inv, qmin, qmax);
    out->q[j] = static_cast<int8_t>(q);
    const double e = static_cast<double>(x[j]) - static_cast<double>(static_cast<float>(q) * df);
    sse += e * e;
    sums->qq += static_cast<double>(q) * q;
    sums->qx += static_cast<double>(q) * x[j];
  }
  return sse;
}

double fit_affine(const float* x, int n, int qmax, float d, float m, AffineFit* out,
                  FitSums* sums) {
  out->d = scale_to_fp16(d);
  out->m = scale_to_fp16(m);
  const float df = fp16_to_fp32(out->d);
  const float mf = fp16_to_fp32(out->m);
  const float inv = df != 0.0f ? 1.0f / df : 0.0f;
  *sums = FitSums{};
  double sse = 0;
  for (int j = 0; j < n; ++j) {
    const int q = df != 0.0f ? round_clamped((x[j] - mf) * inv, 0, qmax) : 0;
    out->q[j] = static_cast<uint8_t>(q);
    const double e = static_cast<double>(x[j]) - static_cast<double>(affine_value(df, q, mf));
    sse += e * e;
    sums->q += q;
    sums->qq += static_cast<double>(q) * q;
    sums->x += x[j];
    sums->qx += static_cast<double>(q) * x[j];
  }
  return sse;
}

// Least-squares (d, m) for fixed codes; false when the codes are all equal (no unique fit).
bool affine_lsq(int n, const FitSums& s, float* d, float* m) {
  const double det = n * s.qq - s.q * s.q;
  if (!(det > 0)) return false;
  *d = static_cast<float>((n * s.qx - s.q * s.x) / det);
  *m = static_cast<float>((s.qq * s.x - s.q * s.qx) / det);
  return std::isfinite(*d) && std::isfinite(*m);
}

}  // namespace

double symmetric_sse(const float* x, int n, const SymmetricFit& fit) {
  const float df = fp16_to_fp32(fit.d);
  double sse = 0;
  for (int j = 0; j < n; ++j) {
    const double e =
        static_cast<double>(x[j]) - static_cast<double>(static_cast<float>(fit.q[j]) * df);
    sse += e * e;
  }
  return sse;
}

double affine_sse(const float* x, int n, const AffineFit& fit) {
  const float df = fp16_to_fp32(fit.d);
  const float mf = fp16_to_fp32(fit.m);
  double sse = 0;
  for (int j = 0; j < n; ++j) {
    const double e = static_cast<double>(x[j]) - static_cast<double>(affine_value(df, fit.q[j], mf));
    sse += e * e;
  }
  return sse;
}

// Candidate scales map the block's largest-magnitude value to a level between 75% and 100% of
// either end of the code range (the negative end gives the reference's choice), and each is
// followed by a least-squares refit of the scale for the codes it produced. A few more refits of
// the winner polish it. Cost: about 40 evaluations of the block.
void refine_symmetric(const float* x, int n, int qmin, int qmax, SymmetricFit* fit) {
  double best = symmetric_sse(x, n, *fit);
  if (best == 0) return;
  float amax = 0.0f, mx = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      mx = x[j];
    }
  }
  if (amax == 0.0f) return;

  SymmetricFit cand;
  FitSums sums;
  auto consider = [&](float d) {
    const double e = fit_symmetric(x, n, qmin, qmax, d, &cand, &sums);
    if (e < best) {
      best = e;
      *fit = cand;
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
    SymmetricFit cur = *fit;
    fit_symmetric(x, n, qmin, qmax, fp16_to_fp32(cur.d), &cur, &s);
    if (!(s.qq > 0)) break;
    const double before = best;
    consider(static_cast<float>(s.qx / s.qq));
    if (!(best < before)) break;
  }
}

// Candidate scales spread the block's range [min, max] over qmax - 1 .. qmax + 1 steps (the
// reference uses exactly qmax), each followed by a joint least-squares refit of (d, m) for the
// codes it produced; the winner gets a few more refits.
void refine_affine(const float* x, int n, int qmax, AffineFit* fit) {
  double best = affine_sse(x, n, *fit);
  if (best == 0) return;
  float lo = x[0], hi = x[0];
  for (int j = 1; j < n; ++j) {
    lo = std::fmin(lo, x[j]);
    hi = std::fmax(hi, x[j]);
  }
  const float range = hi - lo;

  AffineFit cand;
  FitSums sums;
  auto consider = [&](float d, float m) {
    const double e = fit_affine(x, n, qmax, d, m, &cand, &sums);
    if (e < best) {
      best = e;
      *fit = cand;
    }
  };
  // Constant block: the only freedom is m's rounding, which the reference already did.
  if (!(range > 0.0f) || !std::isfinite(range)) return;
  for (int k = 0; k <= 20; ++k) {
    const float steps = static_cast<float>(qmax - 1) + 0.1f * static_cast<float>(k);
    consider(range / steps, lo);
    float d, m;
    if (affine_lsq(n, sums, &d, &m)) consider(d, m);
  }
  for (int iter = 0; iter < 3; ++iter) {
    FitSums s;
    AffineFit cur = *fit;
    fit_affine(x, n, qmax, fp16_to_fp32(cur.d), fp16_to_fp32(cur.m), &cur, &s);
    float d, m;
    if (!affine_lsq(n, s, &d, &m)) break;
    const double before = best;
    consider(d, m);
    if (!(best < before)) break;
  }
}

}  // namespace ember
