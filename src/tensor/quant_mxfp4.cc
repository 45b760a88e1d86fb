#include "tensor/quant_mxfp4.h"

#include <algorithm>
#include <cmath>

#include "tensor/blocks_legacy.h"
#include "tensor/quant_util.h"

namespace ember {

void dequantize_row_mxfp4(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQKMxfp4; ++i) {
    const auto b = load_block<BlockMXFP4>(src, i);
    const float d = mxfp4_half_scale(b.e);
    float* y = dst + i * kQKMxfp4;
    for (int j = 0; j < kQKMxfp4 / 2; ++j) {
      y[j] = static_cast<float>(kMxfp4Values[b.qs[j] & 0x0f]) * d;
      y[j + kQKMxfp4 / 2] = static_cast<float>(kMxfp4Values[b.qs[j] >> 4]) * d;
    }
  }
}

void quantize_row_mxfp4(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<BlockMXFP4*>(dst);
  for (int64_t i = 0; i < n / kQKMxfp4; ++i) {
    const float* x = src + i * kQKMxfp4;
    float amax = 0.0f;
    for (int j = 0; j < kQKMxfp4; ++j) amax = std::max(amax, std::fabs(x[j]));
    BlockMXFP4 b{};
    // Largest code 12 (= 6 doubled): the scale exponent makes amax / 2^(e-128) <= 12.
    int e = 0;
    if (amax > 0.0f) {
      e = static_cast<int>(std::ceil(std::log2(amax / 12.0f))) + 128;
      e = std::clamp(e, 0, 254);
      while (e < 254 && amax / mxfp4_half_scale(static_cast<uint8_t>(e)) > 12.0f) ++e;
    }
    b.e = static_cast<uint8_t>(e);
    const float inv = amax > 0.0f ? 1.0f / mxfp4_half_scale(b.e) : 0.0f;
    auto code = [&](float v) {
      const float t = v * inv;
      int best = 0;
      float best_err = INFINITY;
      for (int c = 0; c < 16; ++c) {
        const float err = std::fabs(t - static_cast<float>(kMxfp4Values[static_cast<size_t>(c)]));
        if (err < best_err) {
          best_err = err;
          best = c;
        }
      }
      return static_cast<uint8_t>(best);
    };
    for (int j = 0; j < kQKMxfp4 / 2; ++j) {
      b.qs[j] = static_cast<uint8_t>(code(x[j]) | (code(x[j + kQKMxfp4 / 2]) << 4));
    }
    std::memcpy(out + i, &b, sizeof b);
  }
}

}  // namespace ember
