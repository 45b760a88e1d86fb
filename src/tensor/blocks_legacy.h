// In-memory layouts of the "legacy" 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q8_1) and of Q8_K, the 256-element activation format that pairs with the K-quants.
//
// These match the GGUF on-disk bytes exactly (little-endian hosts), so a row of a tensor is an
// array of these structs. Half-precision fields are kept as raw uint16_t bits and converted with
// tensor/fp16.h; that keeps the structs trivially copyable and free of padding.
//
// Rows read from a file are not guaranteed to be aligned to the struct's alignment, so scalar
// code copies a block out with std::memcpy before reading it (see load_block below).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ember {

// Elements per block of the legacy formats.
inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
// Elements per super-block of the K formats (and of IQ4_XS).
inline constexpr int kQK_K = 256;

// value = d * (q - 8), q a 4-bit code. Element j of the block is the low nibble of qs[j] for
// j < 16 and the high nibble of qs[j - 16] for j >= 16.
struct BlockQ4_0 {
  uint16_t d;               // fp16 scale
  uint8_t qs[kQK4_0 / 2];   // two 4-bit codes per byte
};
static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block must be 18 bytes");

// value = d * q + m, q a 4-bit code (nibble order as BlockQ4_0).
struct BlockQ4_1 {
  uint16_t d;               // fp16 scale
  uint16_t m;               // fp16 offset (the block minimum)
  uint8_t qs[kQK4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "q4_1 block must be 20 bytes");

// value = d * (q - 16), q a 5-bit code: low 4 bits in qs (nibble order as BlockQ4_0), the fifth
// bit of element j in bit j of the little-endian 32-bit word qh.
struct BlockQ5_0 {
  uint16_t d;               // fp16 scale
  uint8_t qh[4];            // fifth bits, one per element
  uint8_t qs[kQK5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "q5_0 block must be 22 bytes");

// value = d * q + m, q a 5-bit code stored as in BlockQ5_0.
struct BlockQ5_1 {
  uint16_t d;               // fp16 scale
  uint16_t m;               // fp16 offset
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "q5_1 block must be 24 bytes");

// value = d * q, q a signed byte. Quantizers keep q in [-127, 127] so SIMD kernels may take
// |q| with byte instructions without overflow.
struct BlockQ8_0 {
  uint16_t d;               // fp16 scale
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block must be 34 bytes");

// Activation format paired with Q4_1 / Q5_1 weights: like Q8_0 plus s = d * sum(qs), which lets
// a dot product fold the weights' offset m in with one multiply per block.
struct BlockQ8_1 {
  uint16_t d;               // fp16 scale
  uint16_t s;               // fp16 of d * sum(qs)
  int8_t qs[kQK8_1];
};
static_assert(sizeof(BlockQ8_1) == 36, "q8_1 block must be 36 bytes");

// Activation format paired with the K-quants: value = d * q with a full-precision scale, plus the
// sums of each group of 16 codes (K-quant dot products use them to apply per-group minimums).
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292, "q8_K block must be 292 bytes");

// Copies block `i` of a row that starts at `row` (any alignment) into a properly aligned local.
template <typename Block>
inline Block load_block(const void* row, int64_t i) {
  Block b;
  std::memcpy(&b, static_cast<const unsigned char*>(row) + static_cast<size_t>(i) * sizeof(Block),
              sizeof(Block));
  return b;
}

// Writes a block to position `i` of a row at `row` (any alignment).
template <typename Block>
inline void store_block(void* row, int64_t i, const Block& b) {
  std::memcpy(static_cast<unsigned char*>(row) + static_cast<size_t>(i) * sizeof(Block), &b,
              sizeof(Block));
}

}  // namespace ember
