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
//   F16x16 16 fp16 values (32 bytes), one per row; PAIRS: [i][r][2] bytes, the values of
//   sub-blocks 2i and 2i + 1 of row r; COLS: [j][r] bytes, value of sub-block j of row r.
//
// Per type (per block; codes are made non-negative as the kernels want them):
//   Q4_0, IQ4_NL (32): NIB(0) of the 4-bit codes | d F16x16                        288 bytes
//   Q4_1 (32):  NIB(0) | d F16x16 | m F16x16                                       320
//   Q5_0 (32):  NIB(0) low 4 bits | BITS(0) fifth bits | d F16x16                  352
//   Q5_1 (32):  NIB(0) | BITS(0) | d F16x16 | m F16x16                             384
//   Q8_0 (32):  BYTES(0) of q + 128 (0..255) | d F16x16                            544
//   Q4_K (256): NIB(32j) j = 0..7 | sc COLS[8] | m PAIRS[4] | d | dmin             2368
//   Q5_K (256): NIB(32j) | BITS(32j) j = 0..7 | sc COLS | m PAIRS | d | dmin       2880
//   Q6_K (256): NIB(32c) c = 0..7 (low 4 bits; sub-block 2c in the low nibbles, 2c + 1 in the
//               high ones) | TWO(16j) j = 0..15 (high 2 bits) | scales int8 PAIRS[8] | d  3360
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

constexpr int kR = static_cast<int>(kPackRows);

void put_nib(uint8_t* dst, int r, const uint8_t* codes) {
  for (int v = 0; v < 4; ++v) {
    for (int m = 0; m < 4; ++m) {
      dst[64 * v + 4 * r + m] =
          static_cast<uint8_t>((codes[4 * v + m] & 0xF) | (codes[16 + 4 * v + m] << 4));
    }
  }
}

void put_bits(uint8_t* dst, int r, const uint8_t* bits) {
  for (int m = 0; m < 4; ++m) {
    int b = 0;
    for (int s = 0; s < 8; ++s) b |= (bits[4 * s + m] & 1) << s;
    dst[4 * r + m] = static_cast<uint8_t>(b);
  }
}

void put_two(uint8_t* dst, int r, const uint8_t* vals) {
  for (int m = 0; m < 4; ++m) {
    int b = 0;
    for (int s = 0; s < 4; ++s) b |= (vals[4 * s + m] & 3) << (2 * s);
    dst[4 * r + m] = static_cast<uint8_t>(b);
  }
}

void put_bytes(uint8_t* dst, int r, const uint8_t* codes) {
  for (int s = 0; s < 8; ++s) std::memcpy(dst + 64 * s + 4 * r, codes + 4 * s, 4);
}

void put_f16(uint8_t* dst, int r, uint16_t v) {
  std::memcpy(dst + 2 * r, &v, 2);
}

// Writes one block of row r (0..15) of a group: `src` is the row's block, `dst` the group's
// packed block.
void pack_block(TensorType type, const uint8_t* src, uint8_t* dst, int r) {
  uint8_t codes[kQK_K], bits[kQK_K];
  switch (type) {
    case TensorType::kQ4_0:
    case TensorType::kIQ4_NL: {
      // Both are {fp16 d; 16 bytes of nibbles} with the same nibble order.
      const auto b = load_block<BlockQ4_0>(src, 0);
      for (int j = 0; j < 16; ++j) {
        codes[j] = b.qs[j] & 0xF;
        codes[j + 16] = b.qs[j] >> 4;
      }
      put_nib(dst, r, codes);
      put_f16(dst + 256, r, b.d);
      return;
    }
    case TensorType::kQ4_1: {
      const auto b = load_block<BlockQ4_1>(src, 0);
      for (int j = 0; j < 16; ++j) {
        codes[j] = b.qs[j] & 0xF;
        codes[j + 16] = b.qs[j] >> 4;
      }
      put_nib(dst, r, codes);
      put_f16(dst + 256, r, b.d);
      put_f16(dst + 288, r, b.m);
      return;
    }
    case TensorType::kQ5_0:
    case TensorType::kQ5_1: {
      const bool has_m = type == TensorType::kQ5_1;
      uint16_t d, m = 0;
      uint32_t qh;
      const uint8_t* qs;
      BlockQ5_0 b0;
      BlockQ5_1 b1;
      if (has_m) {
        b1 = load_block<BlockQ5_1>(src, 0);
        d = b1.d;
        m = b1.m;
        std::memcpy(&qh, b1.qh, 4);
        qs = b1.qs;
      } else {
        b0 = load_block<BlockQ5_0>(src, 0);
        d = b0.d;
        std::memcpy(&qh, b0.qh, 4);
        qs = b0.qs;
      }
      for (int j = 0; j < 16; ++j) {
        codes[j] = qs[j] & 0xF;
        codes[j + 16] = qs[j] >> 4;
      }
      for (int j = 0; j < 32; ++j) bits[j] = static_cast<uint8_t>((qh >> j) & 1u);
      put_nib(dst, r, codes);
      put_bits(dst + 256, r, bits);
      put_f16(dst + 320, r, d);
      if (has_m) put_f16(dst + 352, r, m);
      return;
    }
    case TensorType::kQ8_0: {
      const auto b = load_block<BlockQ8_0>(src, 0);
      for (int j = 0; j < 32; ++j) codes[j] = static_cast<uint8_t>(b.qs[j] + 128);
      put_bytes(dst, r, codes);
      put_f16(dst + 512, r, b.d);
      return;
    }
    case TensorType::kQ4_K:
    case TensorType::kQ5_K: {
      const bool q5 = type == TensorType::kQ5_K;
      uint16_t d, dmin;
      uint8_t scales[12];
      const uint8_t *qs, *qh = nullptr;
      BlockQ4K b4;
      BlockQ5K b5;
      if (q5) {
        b5 = load_block<BlockQ5K>(src, 0);
        d = b5.d;
        dmin = b5.dmin;
        std::memcpy(scales, b5.scales, 12);
        qs = b5.qs;
        qh = b5.qh;
      } else {
        b4 = load_block<BlockQ4K>(src, 0);
        d = b4.d;
        dmin = b4.dmin;
        std::memcpy(scales, b4.scales, 12);
        qs = b4.qs;
      }
      for (int j = 0; j < 8; ++j) {
        const int c = j / 2, shift = 4 * (j % 2);
        for (int l = 0; l < 32; ++l) {
          codes[32 * j + l] = (qs[32 * c + l] >> shift) & 0xF;
          bits[32 * j + l] = qh != nullptr ? ((qh[l] >> j) & 1) : 0;
        }
      }
      size_t off = 0;
      for (int j = 0; j < 8; ++j) put_nib(dst + 256 * j, r, codes + 32 * j);
      off = 2048;
      if (q5) {
        for (int j = 0; j < 8; ++j) put_bits(dst + off + 64 * j, r, bits + 32 * j);
        off += 512;
      }
      for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        kquant::unpack_scale_min_k4(j, scales, &sc, &m);
        dst[off + 16 * j + r] = sc;
        dst[off + 128 + 32 * (j / 2) + 2 * r + (j % 2)] = m;
      }
      off += 256;
      put_f16(dst + off, r, d);
      put_f16(dst + off + 32, r, dmin);
      return;
    }
    case TensorType::kQ6_K: {
      const auto b = load_block<BlockQ6K>(src, 0);
      uint8_t high[kQK_K];
      for (int e = 0; e < kQK_K; ++e) {
        const int h = e / 128, k = (e / 32) % 4, l = e % 32;
        codes[e] = (b.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
        high[e] = (b.qh[32 * h + l] >> (2 * k)) & 3;
      }
      for (int c = 0; c < 8; ++c) put_nib(dst + 256 * c, r, codes + 32 * c);
      for (int j = 0; j < 16; ++j) put_two(dst + 2048 + 64 * j, r, high + 16 * j);
      for (int j = 0; j < 16; ++j) {
        dst[3072 + 32 * (j / 2) + 2 * r + (j % 2)] = static_cast<uint8_t>(b.scales[j]);
      }
      put_f16(dst + 3328, r, b.d);
      return;
    }
    case TensorType::kQ3_K: {
      const auto b = load_block<BlockQ3K>(src, 0);
      for (int e = 0; e < kQK_K; ++e) {
        const int h = e / 128, k = (e / 32) % 4, l = e % 32;
        codes[e] = (b.qs[32 * h + l] >> (2 * k)) & 3;
        bits[e] = (b.hmask[l] >> (e / 32)) & 1;
      }
      int8_t sc[16];
      kquant::unpack_scales_q3k(b.scales, sc);
      for (int j = 0; j < 16; ++j) put_two(dst + 64 * j, r, codes + 16 * j);
      for (int c = 0; c < 8; ++c) put_bits(dst + 1024 + 64 * c, r, bits + 32 * c);
      for (int j = 0; j < 16; ++j) {
        dst[1536 + 32 * (j / 2) + 2 * r + (j % 2)] = static_cast<uint8_t>(sc[j]);
      }
      put_f16(dst + 1792, r, b.d);
      return;
    }
    case TensorType::kQ2_K: {
      const auto b = load_block<BlockQ2K>(src, 0);
      for (int e = 0; e < kQK_K; ++e) {
        const int h = e / 128, k = (e / 32) % 4, s = (e / 16) % 2, l = e % 16;
        codes[e] = (b.qs[32 * h + 16 * s + l] >> (2 * k)) & 3;
      }
      for (int j = 0; j < 16; ++j) put_two(dst + 64 * j, r, codes + 16 * j);
      for (int j = 0; j < 16; ++j) dst[1024 + 32 * (j / 2) + 2 * r + (j % 2)] = b.scales[j];
      put_f16(dst + 1280, r, b.d);
      put_f16(dst + 1312, r, b.dmin);
      return;
    }
    case TensorType::kIQ4_XS: {
      const auto b = load_block<BlockIQ4_XS>(src, 0);
      for (int j = 0; j < 8; ++j) {
        for (int l = 0; l < 16; ++l) {
          codes[32 * j + l] = b.qs[16 * j + l] & 0xF;
          codes[32 * j + 16 + l] = b.qs[16 * j + l] >> 4;
        }
        put_nib(dst + 256 * j, r, codes + 32 * j);
        const int ls =
            ((b.scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((b.scales_h >> (2 * j)) & 3) << 4);
        dst[2048 + 32 * (j / 2) + 2 * r + (j % 2)] = static_cast<uint8_t>(ls - 32);
      }
      put_f16(dst + 2176, r, b.d);
      return;
    }
    default:
      return;
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
  const auto* src = static_cast<const uint8_t*>(w.data);
  for (int64_t g = g_begin; g < g_end; ++g) {
    uint8_t* gdst = dst + static_cast<size_t>(g - g_begin) * group_bytes;
    std::memset(gdst, 0, group_bytes);
    for (int r = 0; r < kR; ++r) {
      const int64_t row = g * kPackRows + r;
      if (row >= w.rows) break;
      const uint8_t* rsrc = src + static_cast<size_t>(row) * w.row_bytes;
      if (!traits->quantized) {
        const size_t e = traits->type_size;
        for (int64_t c = 0; c < w.cols; ++c) {
          std::memcpy(gdst + static_cast<size_t>(c) * pb + static_cast<size_t>(r) * e,
                      rsrc + static_cast<size_t>(c) * e, e);
        }
        continue;
      }
      for (int64_t b = 0; b < nb; ++b) {
        pack_block(w.type, rsrc + static_cast<size_t>(b) * traits->type_size,
                   gdst + static_cast<size_t>(b) * pb, r);
      }
    }
  }
}

}  // namespace ember::kernels
