// Packing of the 6-bit sub-block scales shared by Q3_K, Q4_K and Q5_K (12 bytes per block).
// Used by both dequantization and quantization so the two sides cannot disagree.
#pragma once

#include <cstdint>
#include <cstring>

namespace ember::kquant {

// Q4_K / Q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes. Sub-blocks 0-3 keep their
// scale in the low 6 bits of bytes 0-3 and their min in bytes 4-7. Sub-blocks 4-7 keep the low
// nibbles of scale/min in bytes 8-11 and borrow the two free top bits of bytes 0-3 (scale high
// bits) and 4-7 (min high bits).
inline void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Inverse of unpack_scale_min_k4; `ls` and `lm` must be in 0..63.
inline void pack_scale_min_k4(const uint8_t ls[8], const uint8_t lm[8], uint8_t out[12]) {
  std::memset(out, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      out[j] = ls[j];
      out[j + 4] = lm[j];
    } else {
      out[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      out[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      out[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

// Q3_K: sixteen 6-bit values (stored biased by +32). Bytes 0-7 hold the low nibbles (sub-blocks
// 0-7 in the low halves, 8-15 in the high halves); bytes 8-11 hold the top two bits, sub-block
// j at bits 2 * (j / 4) of byte 8 + j % 4. Returns the unbiased values in -32..31.
inline void unpack_scales_q3k(const uint8_t* q, int8_t out[16]) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? (q[j] & 0xF) : (q[j - 8] >> 4);
    const int high = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

// Inverse of unpack_scales_q3k; `ls` must be in -32..31.
inline void pack_scales_q3k(const int8_t ls[16], uint8_t out[12]) {
  std::memset(out, 0, 12);
  for (int j = 0; j < 16; ++j) {
    const int l = ls[j] + 32;
    if (j < 8) {
      out[j] |= static_cast<uint8_t>(l & 0xF);
    } else {
      out[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    }
    out[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
  }
}

}  // namespace ember::kquant
