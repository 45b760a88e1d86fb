// Packed weight layouts of the x86 SIMD kernels (see matmul_internal.h).
//
// A group holds 16 rows (r = 0..15). For each weight block (32 or 256 columns), the group stores
// the block of all 16 rows as the pieces below, back to back, in the order listed per type. A
// "vector" is 64 bytes: four bytes per row, byte 4r + m. The kernels run one int8 dot-product
// step per vector and per token with activation codes a[c0 + 4s + m] (m = 0..3) broadcast, so
// each piece puts the codes of 4 consecutive columns of row r in bytes 4r .. 4r + 3.
//
//   NIB(e0) nibble vectors, 4 x 64 bytes, for columns e0 .. e0 + 31: vector v byte 4r + m has
//           code(e0 + 4v + m) in its low nibble and code(e0 + 16 + 4v + m) in its high nibble.
//   BITS(e0) one bit vector, 64 bytes, for columns e0 .. e0 + 31: bit s of byte 4r + m is the
//           extra bit (e.g. the fifth) of column e0 + 4s + m. The low and high nibbles of NIB
//           vector v are steps s = v and s = 4 + v, so step s always covers e0 + 4s .. + 3.
//   TWO(e0) one 2-bit vector, 64 bytes, for columns e0 .. e0 + 15: bits 2s, 2s + 1 of byte
//           4r + m hold the 2-bit value of column e0 + 4s + m.
//   BYTES(e0) 8 x 64 bytes for columns e0 .. e0 + 31: vector s byte 4r + m = code(e0 + 4s + m).
//   F16x16 16 fp16 values (32 bytes), one per row; E8x16 16 bytes, one per row; PAIRS: [i][r][2]
//   bytes, the values of sub-blocks 2i and 2i + 1 of row r; COLS: [j][r] bytes, value of sub-block
//   j of row r.
//
// Per type (per block; codes are made non-negative as the kernels want them):
//   Q4_0, IQ4_NL (32): NIB(0) of the 4-bit codes | d F16x16                        288 bytes
//   MXFP4 (32): NIB(0) of the 4-bit codes | E8M0 scale exponents E8x16             272
//   Q4_1 (32):  NIB(0) | d F16x16 | m F16x16                                       320
//   Q5_0 (32):  NIB(0) low 4 bits | BITS(0) fifth bits | d F16x16                  352
//   Q5_1 (32):  NIB(0) | BITS(0) | d F16x16 | m F16x16                             384
//   Q8_0 (32):  BYTES(0) of q + 128 (0..255) | d F16x16                            544
//   Q4_K (256): NIB(32j) j = 0..7 | sc COLS[8] | m PAIRS[4] | d | dmin             2368
//   Q5_K (256): NIB(32j) | BITS(32j) j = 0..7 | sc COLS | m PAIRS | d | dmin       2880
//   Q6_K (256): NIB(32c) c = 0..7 (low 4 bits; sub-block 2c in the low nibbles, 2c + 1 in the
//               high ones) | TWO(16j) j = 0..15 (high 2 bits) | scales int8 COLS[16] | d   3360
//   Q3_K (256): TWO(16j) j = 0..15 (low 2 bits) | BITS(32c) c = 0..7 (hmask bit) |
//               scales - 32 as int8 PAIRS[8] | d                                   1824
//   Q2_K (256): TWO(16j) j = 0..15 | raw scale bytes (sc | m << 4) PAIRS[8] | d | dmin  1344
//   IQ4_XS (256): NIB(32j) j = 0..7 (4-bit codes) | ls - 32 as int8 PAIRS[4] | d   2208
//   F32 / F16 / BF16: per column 16 values (one per row) in the source format: 64 / 32 / 32
//   bytes per column.
// Rows past the end of the matrix are all-zero bytes (their products are 0 and never stored).
#include <cstring>

#include "kernels/matmul_internal.h"
#include "tensor/blocks_iq4.h"
#include "tensor/blocks_k.h"
#include "tensor/blocks_legacy.h"
#include "tensor/k_scales.h"

namespace ember::kernels {
namespace {

// The packers below work on 32-bit words: every piece is a transpose of 4-byte groups (one per
// row) with at most a few bit operations per word, so packing costs far less than a product.

uint32_t ld32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void st32(uint8_t* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
void copy16(uint8_t* dst, const uint8_t* src) {
  std::memcpy(dst, src, 2);
}

constexpr uint32_t kLo4 = 0x0F0F0F0Fu, kHi4 = 0xF0F0F0F0u;

// NIB vectors of a 32-column chunk. Two source layouts occur:
//  * "split" (Q4_0, Q4_1, Q5_x, IQ4): 16 bytes, byte j = column j | column j + 16 << 4: the
//    NIB vectors are the source words themselves (plain copies);
//  * "wide" (Q4_K, Q5_K, Q6_K): a 32-byte run whose low (h = 0) or high (h = 1) nibbles hold
//    the 32 columns in order: vector v combines words v and v + 4 of the run (nib_wide).
uint32_t nib_wide(const uint8_t* run, int v, int h) {
  const uint32_t a = ld32(run + 4 * v), b = ld32(run + 16 + 4 * v);
  return h == 0 ? (a & kLo4) | ((b & kLo4) << 4) : ((a >> 4) & kLo4) | (b & kHi4);
}

// BITS byte m of a 32-column chunk whose extra bits are bit `bit` of the 32 bytes `src`
// (src[l] for column l): bit s of the result is src[4s + m] >> bit. All four bytes at once.
uint32_t bits_from_bytes(const uint8_t* src, int bit) {
  uint32_t out = 0;
  for (int s = 0; s < 8; ++s) out |= ((ld32(src + 4 * s) >> bit) & 0x01010101u) << s;
  return out;
}

// BITS word of a 32-column chunk whose extra bits are the bits of a 32-bit word (bit j for
// column j): byte m gathers bits m, m + 4, ..., m + 28 into bits 0..7.
uint32_t bits_from_word(uint32_t qh) {
  uint32_t out = 0;
  for (int m = 0; m < 4; ++m) {
    uint32_t x = (qh >> m) & 0x11111111u;
    x = (x | (x >> 3)) & 0x03030303u;
    x = (x | (x >> 6)) & 0x000F000Fu;
    x = (x | (x >> 12)) & 0xFFu;
    out |= x << (8 * m);
  }
  return out;
}

// TWO word of a 16-column sub-block whose 2-bit values are bits (2k, 2k + 1) of the 16 bytes
// `src` (src[l] for column l).
uint32_t two_from_bytes(const uint8_t* src, int k) {
  uint32_t out = 0;
  for (int s = 0; s < 4; ++s) out |= ((ld32(src + 4 * s) >> (2 * k)) & 0x03030303u) << (2 * s);
  return out;
}

// One row r (0..15) of a group: `src` is the row, `dst` the group, nb blocks.
using RowPacker = void (*)(const uint8_t* src, uint8_t* dst, int r, int64_t nb);

void pack_q4_0(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 18, dst += 288) {
    for (int v = 0; v < 4; ++v) std::memcpy(dst + 64 * v + 4 * r, src + 2 + 4 * v, 4);
    copy16(dst + 256 + 2 * r, src);
  }
}

void pack_q4_1(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 20, dst += 320) {
    for (int v = 0; v < 4; ++v) std::memcpy(dst + 64 * v + 4 * r, src + 4 + 4 * v, 4);
    copy16(dst + 256 + 2 * r, src);
    copy16(dst + 288 + 2 * r, src + 2);
  }
}

void pack_q5_0(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 22, dst += 352) {
    for (int v = 0; v < 4; ++v) std::memcpy(dst + 64 * v + 4 * r, src + 6 + 4 * v, 4);
    st32(dst + 256 + 4 * r, bits_from_word(ld32(src + 2)));
    copy16(dst + 320 + 2 * r, src);
  }
}

void pack_q5_1(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 24, dst += 384) {
    for (int v = 0; v < 4; ++v) std::memcpy(dst + 64 * v + 4 * r, src + 8 + 4 * v, 4);
    st32(dst + 256 + 4 * r, bits_from_word(ld32(src + 4)));
    copy16(dst + 320 + 2 * r, src);
    copy16(dst + 352 + 2 * r, src + 2);
  }
}

void pack_q8_0(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 34, dst += 544) {
    // q + 128 (mod 256) is q with its sign bit flipped.
    for (int s = 0; s < 8; ++s) st32(dst + 64 * s + 4 * r, ld32(src + 2 + 4 * s) ^ 0x80808080u);
    copy16(dst + 512 + 2 * r, src);
  }
}

// MXFP4: e, qs[16] (the split nibble layout of Q4_0).
void pack_mxfp4(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 17, dst += 272) {
    for (int v = 0; v < 4; ++v) std::memcpy(dst + 64 * v + 4 * r, src + 1 + 4 * v, 4);
    dst[256 + r] = src[0];
  }
}

// Q4_K / Q5_K: d, dmin, scales[12], (Q5_K: qh[32]), qs[128].
template <bool kQ5>
void pack_q45_k(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  constexpr size_t kSrc = kQ5 ? 176 : 144, kDst = kQ5 ? 2880 : 2368;
  constexpr size_t kQs = kQ5 ? 48 : 16, kSc = kQ5 ? 2560 : 2048;
  for (int64_t b = 0; b < nb; ++b, src += kSrc, dst += kDst) {
    for (int j = 0; j < 8; ++j) {
      const uint8_t* run = src + kQs + 32 * (j / 2);
      for (int v = 0; v < 4; ++v) st32(dst + 256 * j + 64 * v + 4 * r, nib_wide(run, v, j % 2));
      if constexpr (kQ5) st32(dst + 2048 + 64 * j + 4 * r, bits_from_bytes(src + 16, j));
      uint8_t sc, m;
      kquant::unpack_scale_min_k4(j, src + 4, &sc, &m);
      dst[kSc + 16 * j + r] = sc;
      dst[kSc + 128 + 32 * (j / 2) + 2 * r + (j % 2)] = m;
    }
    copy16(dst + kSc + 256 + 2 * r, src);
    copy16(dst + kSc + 288 + 2 * r, src + 2);
  }
}

// Q6_K: ql[128], qh[64], scales[16], d.
void pack_q6_k(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 210, dst += 3360) {
    // Chunk c = columns 32c.. (h = c / 4, k = c % 4): low nibbles of ql[64h + 32(k % 2) + l]
    // for k < 2, high nibbles for k >= 2.
    for (int c = 0; c < 8; ++c) {
      const int h = c / 4, k = c % 4;
      const uint8_t* run = src + 64 * h + 32 * (k % 2);
      for (int v = 0; v < 4; ++v) st32(dst + 256 * c + 64 * v + 4 * r, nib_wide(run, v, k / 2));
    }
    // Sub-block j: high bits (2k, 2k + 1) of qh[32h + 16(j % 2) + l].
    for (int j = 0; j < 16; ++j) {
      const int h = j / 8, k = (j / 2) % 4;
      st32(dst + 2048 + 64 * j + 4 * r, two_from_bytes(src + 128 + 32 * h + 16 * (j % 2), k));
    }
    for (int j = 0; j < 16; ++j) dst[3072 + 16 * j + r] = src[192 + j];
    copy16(dst + 3328 + 2 * r, src + 208);
  }
}

// Q3_K: hmask[32], qs[64], scales[12], d.
void pack_q3_k(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 110, dst += 1824) {
    for (int j = 0; j < 16; ++j) {
      const int h = j / 8, k = (j / 2) % 4;
      st32(dst + 64 * j + 4 * r, two_from_bytes(src + 32 + 32 * h + 16 * (j % 2), k));
    }
    for (int c = 0; c < 8; ++c) st32(dst + 1024 + 64 * c + 4 * r, bits_from_bytes(src, c));
    int8_t sc[16];
    kquant::unpack_scales_q3k(src + 96, sc);
    for (int j = 0; j < 16; ++j) {
      dst[1536 + 32 * (j / 2) + 2 * r + (j % 2)] = static_cast<uint8_t>(sc[j]);
    }
    copy16(dst + 1792 + 2 * r, src + 108);
  }
}

// Q2_K: scales[16], qs[64], d, dmin.
void pack_q2_k(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 84, dst += 1344) {
    // Sub-block j = 8h + 2k + s: bits 2k of qs[32h + 16s + l].
    for (int j = 0; j < 16; ++j) {
      const int h = j / 8, k = (j / 2) % 4, s2 = j % 2;
      st32(dst + 64 * j + 4 * r, two_from_bytes(src + 16 + 32 * h + 16 * s2, k));
    }
    for (int i = 0; i < 8; ++i) copy16(dst + 1024 + 32 * i + 2 * r, src + 2 * i);
    copy16(dst + 1280 + 2 * r, src + 80);
    copy16(dst + 1312 + 2 * r, src + 82);
  }
}

// IQ4_XS: d, scales_h, scales_l[4], qs[128].
void pack_iq4_xs(const uint8_t* src, uint8_t* dst, int r, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 136, dst += 2208) {
    uint16_t scales_h;
    std::memcpy(&scales_h, src + 2, 2);
    for (int j = 0; j < 8; ++j) {
      for (int v = 0; v < 4; ++v)
        std::memcpy(dst + 256 * j + 64 * v + 4 * r, src + 8 + 16 * j + 4 * v, 4);
      const int ls = ((src[4 + j / 2] >> (4 * (j % 2))) & 0xF) | (((scales_h >> (2 * j)) & 3) << 4);
      dst[2048 + 32 * (j / 2) + 2 * r + (j % 2)] = static_cast<uint8_t>(ls - 32);
    }
    copy16(dst + 2176 + 2 * r, src);
  }
}

// Plain types: 16 values per column, one per row.
template <size_t kElem>
void pack_plain(const uint8_t* src, uint8_t* dst, int r, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    std::memcpy(dst + static_cast<size_t>(c) * 16 * kElem + static_cast<size_t>(r) * kElem,
                src + static_cast<size_t>(c) * kElem, kElem);
  }
}

RowPacker row_packer(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
    case TensorType::kIQ4_NL:
      return pack_q4_0;  // same block layout
    case TensorType::kQ4_1:
      return pack_q4_1;
    case TensorType::kQ5_0:
      return pack_q5_0;
    case TensorType::kQ5_1:
      return pack_q5_1;
    case TensorType::kQ8_0:
      return pack_q8_0;
    case TensorType::kMXFP4:
      return pack_mxfp4;
    case TensorType::kQ4_K:
      return pack_q45_k<false>;
    case TensorType::kQ5_K:
      return pack_q45_k<true>;
    case TensorType::kQ6_K:
      return pack_q6_k;
    case TensorType::kQ3_K:
      return pack_q3_k;
    case TensorType::kQ2_K:
      return pack_q2_k;
    case TensorType::kIQ4_XS:
      return pack_iq4_xs;
    case TensorType::kF32:
      return pack_plain<4>;
    case TensorType::kF16:
    case TensorType::kBF16:
      return pack_plain<2>;
    default:
      return nullptr;
  }
}

// Packed bytes per block of 16 rows (0 for types without a packed layout).
size_t packed_block_bytes(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
    case TensorType::kIQ4_NL:
      return 288;
    case TensorType::kQ4_1:
      return 320;
    case TensorType::kQ5_0:
      return 352;
    case TensorType::kQ5_1:
      return 384;
    case TensorType::kQ8_0:
      return 544;
    case TensorType::kMXFP4:
      return 272;
    case TensorType::kQ4_K:
      return 2368;
    case TensorType::kQ5_K:
      return 2880;
    case TensorType::kQ6_K:
      return 3360;
    case TensorType::kQ3_K:
      return 1824;
    case TensorType::kQ2_K:
      return 1344;
    case TensorType::kIQ4_XS:
      return 2208;
    case TensorType::kF32:
      return 64;
    case TensorType::kF16:
    case TensorType::kBF16:
      return 32;
    default:
      return 0;
  }
}

}  // namespace

bool packable(TensorType type) {
  return packed_block_bytes(type) != 0;
}

size_t packed_group_bytes(TensorType type, int64_t cols) {
  const auto* traits = tensor_type_traits(type);
  if (traits == nullptr || packed_block_bytes(type) == 0) return 0;
  return static_cast<size_t>(cols / traits->block_size) * packed_block_bytes(type);
}

void pack_groups(const Weights& w, int64_t g_begin, int64_t g_end, uint8_t* dst) {
  const auto* traits = tensor_type_traits(w.type);
  const size_t pb = packed_block_bytes(w.type);
  const int64_t nb = w.cols / traits->block_size;
  const size_t group_bytes = static_cast<size_t>(nb) * pb;
  const RowPacker packer = row_packer(w.type);
  const auto* src = static_cast<const uint8_t*>(w.data);
  for (int64_t g = g_begin; g < g_end; ++g) {
    uint8_t* gdst = dst + static_cast<size_t>(g - g_begin) * group_bytes;
    std::memset(gdst, 0, group_bytes);
    for (int r = 0; r < static_cast<int>(kPackRows); ++r) {
      const int64_t row = g * kPackRows + r;
      if (row >= w.rows) break;
      packer(src + static_cast<size_t>(row) * w.row_bytes, gdst, r, nb);
    }
  }
}

}  // namespace ember::kernels
