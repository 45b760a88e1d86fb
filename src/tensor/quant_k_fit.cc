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

AffineFit fit_affine(const float* x, int n, int nmax, const float* w, float rmin, float rdelta,
                     int nstep, bool use_mad) {
  auto weight = [&](int i) { return w != nullptr ? w[i] : 1.0f; };
  float lo = x[0], hi = x[0];
  float sum_w = weight(0);
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::fmin(lo, x[i]);
    hi = std::fmax(hi, x[i]);
    sum_w += weight(i);
    sum_x += weight(i) * x[i];
  }
  // The offset is stored as a non-negative min subtracted from q * scale, so it is at most 0.
  if (lo > 0) lo = 0;
  if (hi == lo) return {0.0f, -lo};
  auto error_of = [&](float scale, float offset, const int* L) {
    float err = 0;
    for (int i = 0; i < n; ++i) {
      float diff = scale * static_cast<float>(L[i]) + offset - x[i];
      diff = use_mad ? std::fabs(diff) : diff * diff;
      err += weight(i) * diff;
    }
    return err;
  };
  int L[32], aux[32];
  float iscale = static_cast<float>(nmax) / (hi - lo);
  float scale = 1 / iscale;
  float offset = lo;
  for (int i = 0; i < n; ++i) L[i] = round_clamp(iscale * (x[i] - lo), 0, nmax);
  float best_error = error_of(scale, offset, L);
  for (int k = 0; k <= nstep; ++k) {
    // Like the reference, the sweep is anchored at the best offset found so far (not at the
    // group minimum), so an accepted candidate shifts the grid of the ones after it.
    iscale = (rmin + rdelta * static_cast<float>(k) + static_cast<float>(nmax)) / (hi - offset);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      aux[i] = round_clamp(iscale * (x[i] - offset), 0, nmax);
      const float l = static_cast<float>(aux[i]);
      sum_l += weight(i) * l;
      sum_l2 += weight(i) * l * l;
      sum_xl += weight(i) * l * x[i];
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
    const float err = error_of(s, o, aux);
    if (err < best_error) {
      for (int i = 0; i < n; ++i) L[i] = aux[i];
      best_error = err;
      scale = s;
      offset = o;
    }
  }
  return {scale, -offset};
}

}  // namespace ember::kquant
