// Least-squared-error scale search for blocks of integer codes with an fp16 scale (and offset).
//
// The legacy formats store value = d * q (symmetric: Q4_0, Q5_0, Q8_0) or value = d * q + m
// (affine: Q4_1, Q5_1). Rounding with the scale taken from the block's extreme value, as the
// reference quantizer does, is simple but not optimal: a slightly smaller scale often fits the
// bulk of the values better, and the reference computes codes with the unrounded scale although
// the file stores it rounded to fp16. These routines take a valid starting fit (the reference
// quantizer's) and replace it only by fits whose actual squared error, measured on the values
// the dequantizer will produce, is strictly smaller. So the result is never worse than the start.
#pragma once

#include <cstdint>

namespace ember {

// Elements per block these routines handle (all legacy formats use 32).
inline constexpr int kSearchBlock = 32;

// value_j = fp16_to_fp32(d) * q[j], q in [qmin, qmax].
struct SymmetricFit {
  uint16_t d = 0;
  int8_t q[kSearchBlock] = {};
};

// value_j = fp16_to_fp32(d) * q[j] + fp16_to_fp32(m) (product and sum each rounded to float),
// q in [0, qmax].
struct AffineFit {
  uint16_t d = 0;
  uint16_t m = 0;
  uint8_t q[kSearchBlock] = {};
};

// The dequantized value of an affine code, in the exact float operation order of the
// dequantizers; error evaluation must use the same expression to be truthful.
inline float affine_value(float d, int q, float m) { return static_cast<float>(q) * d + m; }

// Squared error of a fit against x[0..kSearchBlock), accumulated in double.
double symmetric_sse(const float* x, const SymmetricFit& fit);
double affine_sse(const float* x, const AffineFit& fit);

// Improve `fit` for the block x[0..kSearchBlock) in place (see the file comment). Both require
// finite x; symmetric needs qmin < 0 < qmax, affine qmax > 0.
void refine_symmetric(const float* x, int qmin, int qmax, SymmetricFit* fit);
void refine_affine(const float* x, int qmax, AffineFit* fit);

}  // namespace ember
