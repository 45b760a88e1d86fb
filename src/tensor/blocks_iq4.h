// In-memory layouts of the non-linear 4-bit formats IQ4_NL and IQ4_XS.
//
// Both map a 4-bit code to one of 16 fixed levels (kIq4Values, roughly a scaled normal-quantile
// grid, denser near zero) which is then multiplied by a scale. IQ4_NL has one fp16 scale per 32
// values; IQ4_XS has an fp16 super-scale per 256 values and a 6-bit signed multiplier per 32.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/blocks_legacy.h"

namespace ember {

inline constexpr int kQK4_NL = 32;

// The 16 levels of the IQ4 formats, in increasing order (the order the codes index).
inline constexpr std::array<int8_t, 16> kIq4Values = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// value = d * kIq4Values[q]; nibble order as BlockQ4_0 (element j < 16 in the low nibble of
// qs[j], element j + 16 in its high nibble).
struct BlockIQ4_NL {
  uint16_t d;               // fp16 scale
  uint8_t qs[kQK4_NL / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 18, "iq4_nl block must be 18 bytes");

// 256 values in 8 sub-blocks of 32. Sub-block ib has the 6-bit code
//   ls = ((scales_l[ib / 2] >> 4 * (ib % 2)) & 15) | (((scales_h >> 2 * ib) & 3) << 4)
// and its values are (d * (ls - 32)) * kIq4Values[q], with the nibbles of its 16 bytes of qs
// ordered as in BlockIQ4_NL.
struct BlockIQ4_XS {
  uint16_t d;                 // fp16 super-block scale
  uint16_t scales_h;          // high 2 bits of each sub-block's scale code
  uint8_t scales_l[kQK_K / 64];  // low 4 bits of the scale codes, two per byte
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockIQ4_XS) == 136, "iq4_xs block must be 136 bytes");

}  // namespace ember
