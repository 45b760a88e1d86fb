// Weight quantizers for Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0.
//
// Each block starts from the reference quantizer's result (scale from the block's extreme value,
// codes rounded with the unrounded scale) and is then improved by scale_search, which only
// accepts strictly smaller squared error. The reference step is written defensively: codes are
// clamped in float before the integer conversion, so tiny or huge scales cannot cause undefined
// float-to-int conversions.
#include <cmath>
#include <cstring>

#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"
#include "tensor/quant_legacy.h"
#include "tensor/quant_util.h"
#include "tensor/scale_search.h"

static_assert(ember::kQK4_0 == ember::kSearchBlock && ember::kQK4_1 == ember::kSearchBlock &&
                  ember::kQK5_0 == ember::kSearchBlock && ember::kQK5_1 == ember::kSearchBlock &&
                  ember::kQK8_0 == ember::kSearchBlock,
              "the scale search works on 32-element blocks");

namespace ember {
namespace {

// Truncates v + bias toward zero into [0, top], as the reference's (int8_t)(v + bias) does for
// in-range values; NaN (from 0 * inf) becomes 0.
int truncate_code(float v, float bias, int top) {
  const float t = v + bias;
  if (!(t > 0.0f)) return 0;
  if (t >= static_cast<float>(top)) return top;
  return static_cast<int>(t);
}

// Value of largest magnitude (with its sign); the first one wins ties.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, mx = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      mx = x[j];
    }
  }
  return mx;
}

// Reference start for the symmetric 4/5-bit formats: the extreme value maps to the most negative
// code, codes are x / d rounded half up.
SymmetricFit reference_symmetric(const float* x, int n, int half) {
  const float d = signed_absmax(x, n) / static_cast<float>(-half);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  SymmetricFit f;
  f.d = scale_to_fp16(d);
  for (int j = 0; j < n; ++j) {
    f.q[j] = static_cast<int8_t>(
        truncate_code(x[j] * id, static_cast<float>(half) + 0.5f, 2 * half - 1) - half);
  }
  return f;
}

// Reference start for the affine formats: m = min, d = (max - min) / qmax, codes rounded half up.
AffineFit reference_affine(const float* x, int n, int qmax) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < n; ++j) {
    lo = std::fmin(lo, x[j]);
    hi = std::fmax(hi, x[j]);
  }
  const float d = (hi - lo) / static_cast<float>(qmax);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  AffineFit f;
  f.d = scale_to_fp16(d);
  f.m = scale_to_fp16(lo);
  for (int j = 0; j < n; ++j) {
    f.q[j] = static_cast<uint8_t>(truncate_code((x[j] - lo) * id, 0.5f, qmax));
  }
  return f;
}

// Packs 32 codes (already offset to be non-negative) into nibbles: element j < 16 in the low
// nibble of byte j, element j + 16 in its high nibble; fifth bits (if any) into qh.
void pack_nibbles(const int* codes, uint8_t* qs, uint8_t* qh) {
  uint32_t high = 0;
  for (int j = 0; j < 16; ++j) {
    const int c0 = codes[j];
    const int c1 = codes[j + 16];
    qs[j] = static_cast<uint8_t>((c0 & 0x0f) | ((c1 & 0x0f) << 4));
    high |= static_cast<uint32_t>((c0 >> 4) & 1) << j;
    high |= static_cast<uint32_t>((c1 >> 4) & 1) << (j + 16);
  }
  if (qh != nullptr) {
    for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(high >> (8 * k));
  }
}

}  // namespace

void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float* x = src + i * kQK4_0;
    SymmetricFit f = reference_symmetric(x, kQK4_0, 8);
    refine_symmetric(x, -8, 7, &f);
    int codes[kQK4_0];
    for (int j = 0; j < kQK4_0; ++j) codes[j] = f.q[j] + 8;
    BlockQ4_0 b;
    b.d = f.d;
    pack_nibbles(codes, b.qs, nullptr);
    store_block(dst, i, b);
  }
}

void quantize_row_q5_0(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const float* x = src + i * kQK5_0;
    SymmetricFit f = reference_symmetric(x, kQK5_0, 16);
    refine_symmetric(x, -16, 15, &f);
    int codes[kQK5_0];
    for (int j = 0; j < kQK5_0; ++j) codes[j] = f.q[j] + 16;
    BlockQ5_0 b;
    b.d = f.d;
    pack_nibbles(codes, b.qs, b.qh);
    store_block(dst, i, b);
  }
}

void quantize_row_q4_1(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    const float* x = src + i * kQK4_1;
    AffineFit f = reference_affine(x, kQK4_1, 15);
    refine_affine(x, 15, &f);
    int codes[kQK4_1];
    for (int j = 0; j < kQK4_1; ++j) codes[j] = f.q[j];
    BlockQ4_1 b;
    b.d = f.d;
    b.m = f.m;
    pack_nibbles(codes, b.qs, nullptr);
    store_block(dst, i, b);
  }
}

void quantize_row_q5_1(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const float* x = src + i * kQK5_1;
    AffineFit f = reference_affine(x, kQK5_1, 31);
    refine_affine(x, 31, &f);
    int codes[kQK5_1];
    for (int j = 0; j < kQK5_1; ++j) codes[j] = f.q[j];
    BlockQ5_1 b;
    b.d = f.d;
    b.m = f.m;
    pack_nibbles(codes, b.qs, b.qh);
    store_block(dst, i, b);
  }
}

// Reference start: d = amax / 127, codes rounded half away from zero. Codes stay in
// [-127, 127] (see BlockQ8_0).
void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float* x = src + i * kQK8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    SymmetricFit f;
    f.d = scale_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) {
      float v = std::round(x[j] * id);
      if (std::isnan(v)) v = 0.0f;  // 0 * inf when d underflows
      v = std::fmin(127.0f, std::fmax(-127.0f, v));
      f.q[j] = static_cast<int8_t>(v);
    }
    refine_symmetric(x, -127, 127, &f);
    BlockQ8_0 b;
    b.d = f.d;
    std::memcpy(b.qs, f.q, sizeof b.qs);
    store_block(dst, i, b);
  }
}

}  // namespace ember
