// Byte layouts of the K-quant super-blocks (256 elements each), exactly as stored in GGUF files.
//
// Every struct is made of byte arrays and uint16_t halves in an order that leaves no padding, so
// the in-memory struct is the on-disk block; the static_asserts pin that down. The SIMD kernels
// read these directly, so the field names describe the packing in detail.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/blocks_legacy.h"  // kQK_K, elements per K-quant super-block (256)

namespace ember {
// Bytes holding the packed 6-bit sub-block scales and mins of Q3_K, Q4_K and Q5_K.
inline constexpr int kKScaleSize = 12;

// Q2_K: 16 sub-blocks of 16; x = d * (scales[j] & 15) * q - dmin * (scales[j] >> 4), q in 0..3.
struct BlockQ2K {
  uint8_t scales[kQK_K / 16];  // low nibble: scale, high nibble: min, per sub-block
  // 2-bit quants. Byte qs[32 * h + l] holds, from the low bits up, elements
  // 128 * h + l, + 32, + 64, + 96 (h = half of the super-block, l in 0..31).
  uint8_t qs[kQK_K / 4];
  uint16_t d;     // fp16 super-scale for the scales
  uint16_t dmin;  // fp16 super-scale for the mins
};
static_assert(sizeof(BlockQ2K) == 84, "Q2_K block must be 84 bytes");

// Q3_K: 16 sub-blocks of 16; x = d * (scale6[j] - 32) * (q - 4), q in 0..7 (2 low bits in qs,
// the third bit in hmask).
struct BlockQ3K {
  // High bit of each quant: bit b of hmask[l] belongs to element 32 * b + l.
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];           // low 2 bits, packed like BlockQ2K::qs
  uint8_t scales[kKScaleSize];     // sixteen 6-bit scales (see dequant_k.cc for the packing)
  uint16_t d;                      // fp16 super-scale
};
static_assert(sizeof(BlockQ3K) == 110, "Q3_K block must be 110 bytes");

// Q4_K: 8 sub-blocks of 32; x = d * sc[j] * q - dmin * m[j], q in 0..15, sc/m 6-bit.
struct BlockQ4K {
  uint16_t d;                   // fp16 super-scale for the scales
  uint16_t dmin;                // fp16 super-scale for the mins
  uint8_t scales[kKScaleSize];  // eight 6-bit scales and eight 6-bit mins
  // 4-bit quants. Byte qs[32 * c + l]: low nibble element 64 * c + l, high nibble 64 * c + 32 + l.
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4K) == 144, "Q4_K block must be 144 bytes");

// Q5_K: like Q4_K with a fifth quant bit: q in 0..31.
struct BlockQ5K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  // Fifth bit: bit 2c of qh[l] for element 64c + l, bit 2c + 1 for element 64c + 32 + l.
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];  // low 4 bits, packed like BlockQ4K::qs
};
static_assert(sizeof(BlockQ5K) == 176, "Q5_K block must be 176 bytes");

// Q6_K: 16 sub-blocks of 16; x = d * scales[j] * (q - 32), q in 0..63, int8 scales.
struct BlockQ6K {
  // Low 4 bits. For half h (128 elements) and l in 0..31: ql[64h + l] holds elements
  // 128h + l (low nibble) and 128h + 64 + l (high nibble); ql[64h + 32 + l] holds
  // 128h + 32 + l and 128h + 96 + l.
  uint8_t ql[kQK_K / 2];
  // High 2 bits: qh[32h + l] bits 0-1, 2-3, 4-5, 6-7 for elements 128h + l, +32, +64, +96.
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;  // fp16 super-scale
};
static_assert(sizeof(BlockQ6K) == 210, "Q6_K block must be 210 bytes");

}  // namespace ember
