// Tile kernel for the 32-column block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, MXFP4) on
// packed weights (layouts in pack.cc), generic over the SIMD traits S (x86/simd_*.h).
//
// Per block and per (row, token) lane: an int32 accumulator starts at the activation block's
// bias (-offset * sum of the activation codes, which undoes the offset that makes the weight codes
// unsigned) or at 0, takes 8 dot-product steps of 4 columns, and then one F32 update:
//   acc_f = fma(float(isum), d_w * d_x, acc_f)            (+ fma(m_w, s_x, acc_f) for Q4_1/Q5_1)
// (d_w is the fp16 block scale, or for MXFP4 half the E8M0 scale, 2^(e - 128), as the codes are
// the doubled E2M1 values.)
// Where the unsigned codes can exceed 127 (Q8_0, IQ4_NL) and S has no exact wide dot product,
// the codes are decoded signed instead and no bias is applied: the integer sum is the same.
#pragma once

#include <cstdint>

#include "kernels/x86/tile_driver.h"
#include "tensor/blocks_iq4.h"
#include "tensor/quant_mxfp4.h"

namespace ember::kernels::x86 {
namespace {

// The IQ4 levels, as signed bytes and shifted by +128 into unsigned bytes.
alignas(16) constexpr int8_t kIq4Signed[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                               1,    13,   25,  38,  53,  69,  89,  113};
alignas(16) constexpr int8_t kIq4Unsigned[16] = {
    static_cast<int8_t>(1),   static_cast<int8_t>(24),  static_cast<int8_t>(45),
    static_cast<int8_t>(63),  static_cast<int8_t>(79),  static_cast<int8_t>(93),
    static_cast<int8_t>(106), static_cast<int8_t>(118), static_cast<int8_t>(129),
    static_cast<int8_t>(141), static_cast<int8_t>(153), static_cast<int8_t>(166),
    static_cast<int8_t>(181), static_cast<int8_t>(197), static_cast<int8_t>(217),
    static_cast<int8_t>(241)};
static_assert(kIq4Signed[0] == kIq4Values[0] && kIq4Signed[15] == kIq4Values[15]);

// The doubled E2M1 levels of MXFP4 (kMxfp4Values, within [-12, 12]) plus 12: unsigned bytes
// <= 24, so one table serves every Isa (vpmaddubsw cannot saturate on them) with the
// activations' bias -12 * sum (act_layout's code offset for MXFP4).
constexpr int kMxfp4Offset = 12;
alignas(16) constexpr int8_t kMxfp4Unsigned[16] = {12, 13, 14, 15, 16, 18, 20, 24,
                                                   12, 11, 10, 9,  8,  6,  4,  0};
static_assert(kMxfp4Unsigned[7] == kMxfp4Values[7] + kMxfp4Offset &&
              kMxfp4Unsigned[15] == kMxfp4Values[15] + kMxfp4Offset);

// Block formats: kBytes per packed block of 16 rows, kD/kM offsets of the fp16 scale/offset
// arrays (kE8M0: kD holds one E8M0 exponent byte per row instead), and decode<S, P>() giving the
// codes of steps (P, P + 4) whose activations sit at off0(P) and off1(P) within the block.
struct FmtQ4_0 {
  static constexpr size_t kBytes = 288, kD = 256, kM = 0;
  static constexpr bool kBiased = true, kWide = false, kMin = false, kE8M0 = false;
  // decode_hi16 exists: the high-nibble codes can be taken times 16 (see LegacyKernel::tile).
  static constexpr bool kHi16 = true;
  template <class S, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    const auto n = S::load(blk + 64 * P + vo);
    const auto m = S::set1_8(0x0F);
    w0 = S::and_(n, m);
    w1 = S::and_(S::template shift16<-4>(n), m);
  }
  // As decode, but w1 holds the high-nibble codes times 16 (the nibbles left in place: no shift).
  template <class S, int P>
  static EMBER_INLINE void decode_hi16(const uint8_t* blk, int vo, typename S::VI& w0,
                                       typename S::VI& w1) {
    const auto n = S::load(blk + 64 * P + vo);
    w0 = S::and_(n, S::set1_8(0x0F));
    w1 = S::and_(n, S::set1_8(static_cast<int>(0xF0)));
  }
  static constexpr int off0(int p) { return 4 * p; }
  static constexpr int off1(int p) { return 16 + 4 * p; }
};

struct FmtQ4_1 : FmtQ4_0 {
  static constexpr size_t kBytes = 320, kD = 256, kM = 288;
  static constexpr bool kBiased = false, kMin = true;
};

// The 4-bit codes of steps (P, P + 4), as FmtQ4_0 reads them, mapped through a 16-byte table.
template <class S, int P>
EMBER_INLINE void decode_table4(const uint8_t* blk, int vo, const int8_t* table16,
                                typename S::VI& w0, typename S::VI& w1) {
  const auto table = S::table16(table16);
  const auto n = S::load(blk + 64 * P + vo);
  const auto m = S::set1_8(0x0F);
  w0 = S::shuffle8(table, S::and_(n, m));
  w1 = S::shuffle8(table, S::and_(S::template shift16<-4>(n), m));
}

struct FmtIQ4_NL : FmtQ4_0 {
  static constexpr bool kWide = true;
  static constexpr bool kHi16 = false;
  template <class S, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    decode_table4<S, P>(blk, vo, S::kWideDot ? kIq4Unsigned : kIq4Signed, w0, w1);
  }
};

// MXFP4: the nibbles as Q4_0, mapped through kMxfp4Unsigned; per row one E8M0 scale byte.
struct FmtMXFP4 : FmtQ4_0 {
  static constexpr size_t kBytes = 272, kD = 256;
  static constexpr bool kE8M0 = true;
  static constexpr bool kHi16 = false;
  template <class S, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    decode_table4<S, P>(blk, vo, kMxfp4Unsigned, w0, w1);
  }
};

struct FmtQ5_0 {
  static constexpr size_t kBytes = 352, kD = 320, kM = 0;
  static constexpr bool kBiased = true, kWide = false, kMin = false, kE8M0 = false;
  static constexpr bool kHi16 = false;
  template <class S, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    const auto n = S::load(blk + 64 * P + vo);
    const auto hb = S::load(blk + 256 + vo);
    const auto m = S::set1_8(0x0F);
    const auto b4 = S::set1_8(0x10);
    // Step P's fifth bits are bit P of each byte, step P + 4's bit P + 4: move both to bit 4.
    w0 = S::or_and(S::and_(n, m), S::template shift16<4 - P>(hb), b4);
    w1 = S::or_and(S::and_(S::template shift16<-4>(n), m), S::template shift16<-P>(hb), b4);
  }
  static constexpr int off0(int p) { return 4 * p; }
  static constexpr int off1(int p) { return 16 + 4 * p; }
};

struct FmtQ5_1 : FmtQ5_0 {
  static constexpr size_t kBytes = 384, kD = 320, kM = 352;
  static constexpr bool kBiased = false, kMin = true;
};

struct FmtQ8_0 {
  static constexpr size_t kBytes = 544, kD = 512, kM = 0;
  static constexpr bool kBiased = true, kWide = true, kMin = false, kE8M0 = false;
  static constexpr bool kHi16 = false;
  template <class S, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    w0 = S::load(blk + 128 * P + vo);
    w1 = S::load(blk + 128 * P + 64 + vo);
    if constexpr (!S::kWideDot) {  // back to the signed codes
      w0 = S::xor_(w0, S::set1_8(0x80));
      w1 = S::xor_(w1, S::set1_8(0x80));
    }
  }
  static constexpr int off0(int p) { return 8 * p; }
  static constexpr int off1(int p) { return 8 * p + 4; }
};

// 2^(e - 128) for the E8M0 bytes e at p (one per lane), as mxfp4_half_scale: the product of
// 2^(floor(e / 2) - 64) and 2^(ceil(e / 2) - 64), two normal floats, so that it is exact also
// where the result is subnormal (e < 2) and finite for e = 255.
template <class S>
EMBER_INLINE typename S::VF e8m0_half_scale(const uint8_t* p) {
  const auto e = S::u8_to_i32(p);
  const auto lo = S::template srli32<1>(e);
  const auto hi = S::sub32(e, lo);
  const auto bias = S::set1_32(63);
  return S::mul(S::as_f32(S::template slli32<23>(S::add32(lo, bias))),
                S::as_f32(S::template slli32<23>(S::add32(hi, bias))));
}

// The weight scales d_w of block `blk` for the lanes of sub-vector `sub` (0 or, for AVX2's
// second 8 rows, 1).
template <class S, class F>
EMBER_INLINE typename S::VF block_scale(const uint8_t* blk, int sub) {
  if constexpr (F::kE8M0) {
    return e8m0_half_scale<S>(blk + F::kD + sub * S::kLanes);
  } else {
    return S::f16(blk + F::kD + sub * 2 * S::kLanes);
  }
}

// kFew = {V, T, max tokens} of the few-token path (tile_driver.h), {0, 0, 0} for none.
struct FewTiles {
  int v = 0, t = 0, max = 0;
};

template <class SimdT, class F, int kGemmV, int kGemmT, int kGemv, FewTiles kFew>
struct LegacyKernel {
  using S = SimdT;
  static constexpr int kV = kGemmV, kT = kGemmT, kGemvV = kGemv;
  static constexpr int kFewV = kFew.v, kFewT = kFew.t, kFewMax = kFew.max;
  static int64_t blocks(int64_t cols) { return cols / 32; }

  template <int V, int T>
  static void tile(const TileCtx& c, int64_t q0, int64_t t0) {
    using VI = typename S::VI;
    using VF = typename S::VF;
    constexpr int kSubs = 16 / S::kLanes;
    constexpr bool kSigned = F::kWide && !S::kWideDot;
    constexpr bool kBias = F::kBiased && !kSigned;
    // Single tokens (memory-bound: the fewer instructions per weight byte, the better the loads
    // and the arithmetic overlap) with an exact wide dot product use decode_hi16.
    constexpr bool kHi16 = F::kHi16 && S::kWideDot && T == 1;
    const uint8_t* wp[V];
    int vo[V], sub[V];
    for (int v = 0; v < V; ++v) {
      const int64_t q = q0 + v;
      wp[v] = c.w + static_cast<size_t>(q / kSubs) * c.group_bytes;
      sub[v] = static_cast<int>(q % kSubs);
      vo[v] = sub[v] * S::kVecBytes;
    }
    const uint8_t* ap[T];
    for (int t = 0; t < T; ++t) ap[t] = c.act + static_cast<size_t>(t0 + t) * c.act_stride;
    const size_t pf = T == 1 && F::kBytes < 512 ? kGemvNearPrefetchLegacy
                                                : gemv_prefetch_distance(c.group_bytes, V);
    VF facc[V][T];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) facc[v][t] = S::zerof();
    }
    for (int64_t b = 0; b < c.nb; ++b) {
      VI acc[V][T];
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const VI init = kBias ? S::bcst32(ap[t] + c.aux_off + 4 * b) : S::zero();
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[v][t] = init;
      }
      const size_t boff = static_cast<size_t>(b) * F::kBytes;
      if (T == 1 || c.prefetch) {
        for (int v = 0; v < V; ++v) prefetch_range(wp[v] + boff + pf, F::kBytes);
      }
      if constexpr (kHi16) {
        // The high-nibble steps in a chain of their own on the codes times 16 (exact: 4 products
        // of at most 240 x 128 per step), scaled back by an exact shift: the same integer sum
        // as below, with no per-step nibble shift and two independent dependency chains.
        VI hi[V];
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) hi[v] = S::zero();
        static_for<4>([&](auto P) __attribute__((always_inline)) {
          const uint8_t* x = ap[0] + 32 * b;
          const VI a0 = S::bcst32(x + F::off0(P));
          const VI a1 = S::bcst32(x + F::off1(P));
#pragma GCC unroll 8
          for (int v = 0; v < V; ++v) {
            VI w0, w1;
            F::template decode_hi16<S, P>(wp[v] + boff, vo[v], w0, w1);
            acc[v][0] = S::dot(acc[v][0], w0, a0);
            hi[v] = S::dot(hi[v], w1, a1);
          }
        });
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[v][0] = S::add32(acc[v][0], S::template srai32<4>(hi[v]));
      } else {
        static_for<4>([&](auto P) __attribute__((always_inline)) {
          VI w0[V], w1[V];
#pragma GCC unroll 8
          for (int v = 0; v < V; ++v) F::template decode<S, P>(wp[v] + boff, vo[v], w0[v], w1[v]);
#pragma GCC unroll 8
          for (int t = 0; t < T; ++t) {
            const uint8_t* x = ap[t] + 32 * b;
            const VI a0 = S::bcst32(x + F::off0(P));
            const VI a1 = S::bcst32(x + F::off1(P));
#pragma GCC unroll 8
            for (int v = 0; v < V; ++v) {
              if constexpr (kSigned) {
                acc[v][t] = S::dot_signed(S::dot_signed(acc[v][t], w0[v], a0), w1[v], a1);
              } else {
                acc[v][t] = S::dot(S::dot(acc[v][t], w0[v], a0), w1[v], a1);
              }
            }
          }
        });
      }
      VF dw[V];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) dw[v] = block_scale<S, F>(wp[v] + boff, sub[v]);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const VF dx = S::bcstf(ap[t] + c.d_off + 4 * b);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) {
          facc[v][t] = S::fmadd(S::cvt(acc[v][t]), S::mul(dw[v], dx), facc[v][t]);
        }
      }
      if constexpr (F::kMin) {
        VF mw[V];
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) mw[v] = S::f16(wp[v] + boff + F::kM + sub[v] * 2 * S::kLanes);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          const VF sx = S::bcstf(ap[t] + c.aux_off + 4 * b);
#pragma GCC unroll 8
          for (int v = 0; v < V; ++v) facc[v][t] = S::fmadd(mw[v], sx, facc[v][t]);
        }
      }
    }
    for (int v = 0; v < V; ++v) store_rows<S, T>(c, q0 + v, t0, facc[v]);
  }
};

// The legacy-format kernels of one Isa, looked up by type.
template <class S, int kV, int kT, int kGemv, FewTiles kFew = FewTiles{}>
PackedKernel legacy_kernel(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
      return &run_packed<LegacyKernel<S, FmtQ4_0, kV, kT, kGemv, kFew>>;
    case TensorType::kQ4_1:
      return &run_packed<LegacyKernel<S, FmtQ4_1, kV, kT, kGemv, kFew>>;
    case TensorType::kQ5_0:
      return &run_packed<LegacyKernel<S, FmtQ5_0, kV, kT, kGemv, kFew>>;
    case TensorType::kQ5_1:
      return &run_packed<LegacyKernel<S, FmtQ5_1, kV, kT, kGemv, kFew>>;
    case TensorType::kQ8_0:
      return &run_packed<LegacyKernel<S, FmtQ8_0, kV, kT, kGemv, kFew>>;
    case TensorType::kIQ4_NL:
      return &run_packed<LegacyKernel<S, FmtIQ4_NL, kV, kT, kGemv, kFew>>;
    case TensorType::kMXFP4:
      return &run_packed<LegacyKernel<S, FmtMXFP4, kV, kT, kGemv, kFew>>;
    default:
      return nullptr;
  }
}

}  // namespace
}  // namespace ember::kernels::x86
