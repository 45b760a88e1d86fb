// MXFP4 (OCP microscaling FP4, as gpt-oss ships its experts): blocks of 32 values sharing one
// E8M0 scale byte; each value is a 4-bit E2M1 code. In memory (llama.cpp's block_mxfp4):
//   uint8_t e;        // the scale exponent: 2^(e - 127)
//   uint8_t qs[16];   // element j < 16 in the low nibble of qs[j], element j + 16 in its high one
// The 16 codes are E2M1 values {0, 0.5, 1, 1.5, 2, 3, 4, 6} and their negatives; stored doubled as
// integers (kMxfp4Values) with the scale halved (mxfp4_half_scale), which keeps every product
// exact. Dequantization is therefore bit-exact by construction.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

namespace ember {

inline constexpr int kQKMxfp4 = 32;

struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[kQKMxfp4 / 2];
};
static_assert(sizeof(BlockMXFP4) == 17, "mxfp4 block must be 17 bytes");

// Twice the E2M1 value of each 4-bit code.
inline constexpr std::array<int8_t, 16> kMxfp4Values = {0, 1, 2,  3,  4,  6,  8,  12,
                                                        0, -1, -2, -3, -4, -6, -8, -12};

// 2^(e - 128): half the block scale (subnormal for e < 2), as the reference decodes it.
inline float mxfp4_half_scale(uint8_t e) {
  const uint32_t bits = e < 2 ? uint32_t{0x00200000} << e : static_cast<uint32_t>(e - 1) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

void dequantize_row_mxfp4(const void* src, float* dst, int64_t n);
// Per block: the smallest scale that keeps the largest magnitude within E2M1's range, then the
// nearest code for each value.
void quantize_row_mxfp4(const float* src, void* dst, int64_t n);

}  // namespace ember
