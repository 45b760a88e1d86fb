// Internal building blocks of the K-quant quantizers (quantize_k.cc): per-sub-block scale fits
// and the super-block polish that improves the stored integers after the reference's rounding.
//
// Notation used throughout: a super-block of 256 values is cut into sub-blocks of `sub` values.
// Sub-block j reconstructs value i as  (d * ls[j]) * q[i] - (dmin * lm[j])  where d and dmin are
// the fp16 super-scales, ls/lm small integers and q the per-value quant. Symmetric types
// (Q3_K, Q6_K) have no min term (dmin = 0, lm = 0) and signed ls and q.
#pragma once

#include <cstdint>
#include <cstring>

namespace ember::kquant {

// Round to nearest, ties to even, for |v| < 2^22 (the callers clamp first). Adding 1.5 * 2^23
// pushes the integer part into the low mantissa bits, so the FPU's rounding does the work;
// this matches what the reference quantizer does, which keeps our baseline identical to it.
inline int nearest_int(float v) {
  const float biased = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &biased, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// nearest_int(t) clamped to [lo, hi]. NaN and infinities clamp too, so a degenerate scale can
// never turn into undefined behavior.
inline int round_clamp(float t, int lo, int hi) {
  if (!(t > static_cast<float>(lo))) return lo;
  if (t >= static_cast<float>(hi)) return hi;
  return nearest_int(t);
}

// ---- Per-sub-block fits ----------------------------------------------------------------------

// Symmetric fit in the style of the reference Q6_K quantizer: the largest-magnitude value maps
// to -nmax, candidate scales around that are compared by x^2-weighted error. Quants in
// [-nmax, nmax - 1]. Returns the (signed) scale; 0 for an all-zero group.
float fit_symmetric_ref(const float* x, int n, int nmax);

// The reference Q3_K fit: like fit_symmetric_ref, then a few passes that move single quants when
// that lowers the x^2-weighted error.
float fit_symmetric_q3_ref(const float* x, int n, int nmax);

// Affine fit x ~= scale * q - min with q in [0, nmax], scale >= 0, min >= 0. `w` weights the
// error; candidate inverse scales are (nmax + rmin + rdelta * k) / (max - offset), k <= nstep,
// where offset is the best one so far (this reproduces the reference's choices exactly), each
// refined by weighted least squares. `use_mad` compares candidates by absolute error instead of
// squared error (the reference Q2_K does). n <= 32.
struct AffineFit {
  float scale;
  float min;
};
AffineFit fit_affine(const float* x, int n, int nmax, const float* w, float rmin, float rdelta,
                     int nstep, bool use_mad);

// ---- Super-block encoding ---------------------------------------------------------------------

struct SuperLayout {
  int sub;       // values per sub-block (16 or 32)
  int qlo, qhi;  // quant range (unbiased)
  int slo, shi;  // integer sub-scale range
  int mhi;       // integer sub-min range is [0, mhi]; 0 for symmetric types
};

struct SuperCode {
  uint16_t d = 0;     // fp16
  uint16_t dmin = 0;  // fp16; always 0 for symmetric types
  int ls[16] = {};
  int lm[16] = {};
  int8_t q[256] = {};
};

// Squared reconstruction error of `code` on the 256 values `x`, computing each value with the
// same float operations as the dequantizer.
double code_sse(const float* x, const SuperLayout& layout, const SuperCode& code);

// Re-rounds every quant for the code's (already quantized) scales, the way the reference does:
// q = nearest((x + dmin * lm) / (d * ls)), clamped. Sub-blocks whose factor is 0 get q = 0.
void requantize(const float* x, const SuperLayout& layout, SuperCode* code);

// Improves `code` in place with a few closed-form candidates: per sub-block, least-squares
// (scale, min) refits of its quants rounded against the code's super-scales; per block, a
// least-squares refit of the fp16 super-scales followed by the same sub-block pass. Candidates
// are kept only when they lower the (float-accumulated) error; callers that need a strict
// guarantee compare code_sse before and after.
void polish(const float* x, const SuperLayout& layout, SuperCode* code);

}  // namespace ember::kquant
