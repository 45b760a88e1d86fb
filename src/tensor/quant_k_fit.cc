// Per-sub-block scale fits for the K-quant quantizers (see quant_k_search.h).
//
// The fits follow the reference quantizer's algorithms (weighted candidate sweeps) so that the
// baseline we start from is the reference's own choice; polish() (quant_k_super.cc) then lowers
// the plain squared error from there.
#include <cmath>

#include "tensor/quant_k_search.h"

namespace ember::kquant {
namespace {

// Groups whose largest magnitude is below this are treated as all zero: no fp16 super-scale
// times a small integer can represent them anyway, and 1/max would overflow.
constexpr float kGroupEps = 1e-15f;

// The value of largest magnitude (keeping its sign), and that magnitude.
void signed_max(const float* x, int n, float* max, float* amax) {
  *max = 0;
  *amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > *amax) {
      *amax = ax;
      *max = x[i];
    }
  }
}

}  // namespace

float fit_symmetric_ref(const float* x, int n, int nmax) {
  float max, amax;
  signed_max(x, n, &max, &amax);
  if (amax < kGroupEps) return 0;
  // Mapping the extreme value to -nmax uses the wider side of [-nmax, nmax - 1].
  auto sums = [&](float iscale, float* sumlx, float* suml2) {
    *sumlx = 0;
    *suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const float l = static_cast<float>(round_clamp(iscale * x[i], -nmax, nmax - 1));
      const float w = x[i] * x[i];
      *sumlx += w * x[i] * l;
      *suml2 += w * l * l;
    }
  };
  float sumlx, suml2;
  sums(static_cast<float>(-nmax) / max, &sumlx, &suml2);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;  // weighted error reduction; larger is better
  for (int k = -9; k <= 9; ++k) {
    if (k == 0) continue;
    sums(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / max, &sumlx, &suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float fit_symmetric_q3_ref(const float* x, int n, int nmax) {
  float max, amax;
  signed_max(x, n, &max, &amax);
  if (amax < kGroupEps) return 0;
  const float iscale = static_cast<float>(-nmax) / max;
  int L[32];
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = round_clamp(iscale * x[i], -nmax, nmax - 1);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(L[i]);
    suml2 += w * static_cast<float>(L[i]) * static_cast<float>(L[i]);
  }
  // Coordinate descent: re-round one quant at a time against the scale implied by the others,
  // keeping the change only when the weighted error drops.
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * static_cast<float>(L[i]);
      if (slx <= 0) continue;
      float sl2 = suml2 - w * static_cast<float>(L[i]) * static_cast<float>(L[i]);
      const int nl = round_clamp(x[i] * sl2 / slx, -nmax, nmax - 1);
      if (nl == L[i]) continue;
      slx += w * x[i] * static_cast<float>(nl);
      sl2 += w * static_cast<float>(nl) * static_cast<float>(nl);
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = nl;
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  return suml2 != 0 ? sumlx / suml2 : 0.0f;
}

namespace {

// Clamp that sends NaN to lo, written with comparisons so the loops below vectorize.
inline float clampf(float t, float lo, float hi) {
  t = t > lo ? t : lo;
  return t < hi ? t : hi;
}

// Rounds iscale * (x - offset) to [0, nmax] into l (as floats, exact small integers).
void round_affine(const float* x, int n, float nmax, float iscale, float offset, float* l) {
  for (int i = 0; i < n; ++i) {
    l[i] = static_cast<float>(nearest_int(clampf(iscale * (x[i] - offset), 0.0f, nmax)));
  }
}

// Weighted error of x ~= scale * l + offset, squared or absolute. The per-element terms are
// computed in a vectorizable loop; the sum stays a single sequential float chain because the
// reference sums in that order and we must pick the same candidates as it does.
float affine_error(const float* x, int n, const float* w, const float* l, float scale, float offset,
                   bool use_mad) {
  float term[32];
  if (use_mad) {
    for (int i = 0; i < n; ++i) term[i] = w[i] * std::fabs(scale * l[i] + offset - x[i]);
  } else {
    for (int i = 0; i < n; ++i) {
      const float diff = scale * l[i] + offset - x[i];
      term[i] = w[i] * (diff * diff);
    }
  }
  float err = 0;
  for (int i = 0; i < n; ++i) err += term[i];
  return err;
}

}  // namespace

AffineFit fit_affine(const float* x, int n, int nmax, const float* w, float rmin, float rdelta,
                     int nstep, bool use_mad) {
  float lo = x[0], hi = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  // The offset is stored as a non-negative min subtracted from q * scale, so it is at most 0.
  if (lo > 0) lo = 0;
  if (hi == lo) return {0.0f, -lo};
  const float fmax_q = static_cast<float>(nmax);
  float l[32], wl[32], wl2[32], wlx[32];
  float iscale = fmax_q / (hi - lo);
  float scale = 1 / iscale;
  float offset = lo;
  round_affine(x, n, fmax_q, iscale, offset, l);
  float best_error = affine_error(x, n, w, l, scale, offset, use_mad);
  for (int k = 0; k <= nstep; ++k) {
    // Like the reference, the sweep is anchored at the best offset found so far (not at the
    // group minimum), so an accepted candidate shifts the grid of the ones after it.
    iscale = (rmin + rdelta * static_cast<float>(k) + fmax_q) / (hi - offset);
    round_affine(x, n, fmax_q, iscale, offset, l);
    for (int i = 0; i < n; ++i) {
      wl[i] = w[i] * l[i];
      wl2[i] = wl[i] * l[i];
      wlx[i] = wl[i] * x[i];
    }
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {  // sequential, in the reference's order
      sum_l += wl[i];
      sum_l2 += wl2[i];
      sum_xl += wlx[i];
    }
    // Weighted least squares for x ~= s * l + o over this rounding.
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0)) continue;
    float s = (sum_w * sum_xl - sum_x * sum_l) / det;
    float o = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (o > 0) {  // a positive offset cannot be stored; refit the scale alone
      o = 0;
      s = sum_xl / sum_l2;
    }
    const float err = affine_error(x, n, w, l, s, o, use_mad);
    if (err < best_error) {
      best_error = err;
      scale = s;
      offset = o;
    }
  }
  return {scale, -offset};
}

}  // namespace ember::kquant
