// Tile kernel for the 256-column super-block formats (Q2_K..Q6_K, IQ4_XS) on packed weights
// (layouts in pack.cc), generic over the SIMD traits S.
//
// Per super-block and per (row, token) lane, all in exact int32 arithmetic:
//   isc = sum over sub-blocks j of scale_j * (dot of the sub-block's unsigned codes with the
//         activation codes)
// minus the code offset's share where the codes were made unsigned (Q3_K: 4, Q6_K: 32, IQ4_XS:
// 128, via the activations' 16/32-column code sums), and for the types with mins,
//   imin = sum over sub-blocks of min_j * (sum of the sub-block's activation codes).
// Then two F32 updates: acc = fma(isc, d * dx, acc); acc = acc - imin * (dmin * dx) (fused).
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/x86/tile_driver.h"
#include "kernels/x86/tiles_legacy.h"  // IQ4 tables

namespace ember::kernels::x86 {
namespace {

// Sign-extends the low / high int16 of each 32-bit lane of a PAIRS vector to int32.
template <class S, int kOdd>
EMBER_INLINE typename S::VI pair_half_signed(typename S::VI p) {
  if constexpr (kOdd) {
    return S::template srai32<16>(p);
  } else {
    return S::template srai32<16>(S::template slli32<16>(p));
  }
}

// Offsets within a token's activations: bsum16 pair i of super-block b, bsum32 pair i.
EMBER_INLINE const uint8_t* bsum16_pair(const TileCtx& c, const uint8_t* a, int64_t b, int i) {
  return a + c.aux_off + static_cast<size_t>(16 * b + 2 * i) * 2;
}
EMBER_INLINE const uint8_t* bsum32_pair(const TileCtx& c, const uint8_t* a, int64_t b, int i) {
  return a + c.aux2_off + static_cast<size_t>(8 * b + 2 * i) * 2;
}

// The final F32 update of a super-block: acc = fma(isc, d * dx, acc), then for types with mins
// acc = acc - imin * (dmin * dx), where imin = sum over pairs i of min pair . activation pair.
template <class S, int V, int T, int kMinPairs, bool kMins16>
EMBER_INLINE void kquant_update(const TileCtx& c, int64_t b, const uint8_t* const* blk,
                                const int* sub, const uint8_t* const* ap, size_t d_at,
                                size_t min_at, typename S::VI (&isc)[V][T],
                                typename S::VF (&facc)[V][T]) {
  using VI = typename S::VI;
  using VF = typename S::VF;
  VF dx[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) dx[t] = S::bcstf(ap[t] + c.d_off + 4 * b);
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    const int so = sub[v] * 2 * S::kLanes;
    const VF d = S::f16(blk[v] + d_at + so);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t)
      facc[v][t] = S::fmadd(S::cvt(isc[v][t]), S::mul(d, dx[t]), facc[v][t]);
    if constexpr (kMinPairs > 0) {
      const VF dmin = S::f16(blk[v] + d_at + 32 + so);
      VI mp[kMinPairs];
      static_for<kMinPairs>([&](auto I) __attribute__((always_inline)) {
        if constexpr (kMins16) {  // Q2_K: raw scale bytes, the min is the high nibble
          mp[I] = S::template shift16<-4>(S::u8_to_i16(blk[v] + min_at + 32 * I + so));
        } else {
          mp[I] = S::u8_to_i16(blk[v] + min_at + 32 * I + so);
        }
      });
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        VI imin = S::zero();
        static_for<kMinPairs>([&](auto I) __attribute__((always_inline)) {
          const uint8_t* bp = kMins16 ? bsum16_pair(c, ap[t], b, I) : bsum32_pair(c, ap[t], b, I);
          imin = S::dot16(imin, mp[I], S::bcst32(bp));
        });
        facc[v][t] = S::fnmadd(S::cvt(imin), S::mul(dmin, dx[t]), facc[v][t]);
      }
    }
  }
}

// isc -= (sum over pairs of scale pair . activation code-sum pair) << kShift, undoing a code
// offset of 2^kShift.
template <class S, int V, int T, int kPairs, bool kSums16, int kShift>
EMBER_INLINE void kquant_offset(const TileCtx& c, int64_t b, const uint8_t* const* blk,
                                const int* sub, const uint8_t* const* ap, size_t sc_at,
                                typename S::VI (&isc)[V][T]) {
  using VI = typename S::VI;
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    VI sp[kPairs];
    static_for<kPairs>([&](auto I) __attribute__((always_inline)) {
      sp[I] = S::i8_to_i16(blk[v] + sc_at + 32 * I + sub[v] * 2 * S::kLanes);
    });
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      VI corr = S::zero();
      static_for<kPairs>([&](auto I) __attribute__((always_inline)) {
        const uint8_t* bp = kSums16 ? bsum16_pair(c, ap[t], b, I) : bsum32_pair(c, ap[t], b, I);
        corr = S::dot16(corr, sp[I], S::bcst32(bp));
      });
      isc[v][t] = S::sub32(isc[v][t], S::template slli32<kShift>(corr));
    }
  }
}

// Q4_K and Q5_K: 8 sub-blocks of 32 columns, unsigned 6-bit scales (COLS) and mins (PAIRS).
template <bool kQ5>
struct FmtQ45K {
  static constexpr size_t kBytes = kQ5 ? 2880 : 2368;
  static constexpr size_t kSc = kQ5 ? 2560 : 2048, kMin = kSc + 128, kD = kSc + 256;
  static constexpr int kSubs = 8, kPairs = 4;
  static constexpr bool kWide = false;
  // Q4_K has decode_hi16 (see KQuantKernel::tile); Q5_K's fifth bit sits above the nibble.
  static constexpr bool kHi16 = !kQ5;
  static constexpr int kOffsetShift = 0;  // no per-sub-block offset start (see FmtQ6K)
  template <class S, int J, int P>
  static EMBER_INLINE void decode_hi16(const uint8_t* blk, int vo, typename S::VI& w0,
                                       typename S::VI& w1) {
    const auto n = S::load(blk + 256 * J + 64 * P + vo);
    w0 = S::and_(n, S::set1_8(0x0F));
    w1 = S::and_(n, S::set1_8(static_cast<int>(0xF0)));
  }
  template <class S, int J, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    const auto n = S::load(blk + 256 * J + 64 * P + vo);
    const auto m = S::set1_8(0x0F);
    w0 = S::and_(n, m);
    w1 = S::and_(S::template shift16<-4>(n), m);
    if constexpr (kQ5) {
      const auto hb = S::load(blk + 2048 + 64 * J + vo);
      const auto b4 = S::set1_8(0x10);
      w0 = S::or_and(w0, S::template shift16<4 - P>(hb), b4);
      w1 = S::or_and(w1, S::template shift16<-P>(hb), b4);
    }
  }
  static constexpr int off0(int j, int p) { return 32 * j + 4 * p; }
  static constexpr int off1(int j, int p) { return 32 * j + 16 + 4 * p; }
  template <class S, int J>
  static EMBER_INLINE typename S::VI scale(const uint8_t* blk, int sub) {
    return S::u8_to_i32(blk + kSc + 16 * J + sub * S::kLanes);
  }
  template <class S, int V, int T>
  static EMBER_INLINE void finish(const TileCtx& c, int64_t b, const uint8_t* const* blk,
                                  const int* sub, const uint8_t* const* ap,
                                  typename S::VI (&isc)[V][T], typename S::VF (&facc)[V][T]) {
    kquant_update<S, V, T, 4, false>(c, b, blk, sub, ap, kD, kMin, isc, facc);
  }
};

// Q6_K: 16 sub-blocks of 16 columns, codes low 4 bits (NIB per 32 columns) | high 2 bits (TWO),
// offset 32, signed 8-bit scales (COLS). The offset is removed per sub-block: its sum starts at
// -32 * (the sub-block's activation code sum) (kOffsetShift), so the scales multiply the exact
// signed sub-block dot products and need no second pass over scale pairs.
struct FmtQ6K {
  static constexpr size_t kBytes = 3360, kSc = 3072, kD = 3328;
  static constexpr int kSubs = 16, kPairs = 2;
  static constexpr bool kWide = false;
  static constexpr bool kHi16 = false;
  static constexpr int kOffsetShift = 5;
  template <class S, int J, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    const auto m = S::set1_8(0x0F);
    const auto b45 = S::set1_8(0x30);
    const auto two = S::load(blk + 2048 + 64 * J + vo);
    const auto n0 = S::load(blk + 256 * (J / 2) + 64 * (2 * P) + vo);
    const auto n1 = S::load(blk + 256 * (J / 2) + 64 * (2 * P + 1) + vo);
    const auto l0 = (J % 2) ? S::and_(S::template shift16<-4>(n0), m) : S::and_(n0, m);
    const auto l1 = (J % 2) ? S::and_(S::template shift16<-4>(n1), m) : S::and_(n1, m);
    // Step s keeps its high bits in bits 2s, 2s + 1: move them to bits 4, 5.
    w0 = S::or_and(l0, S::template shift16<4 - 4 * P>(two), b45);
    w1 = S::or_and(l1, S::template shift16<2 - 4 * P>(two), b45);
  }
  static constexpr int off0(int j, int p) { return 16 * j + 8 * p; }
  static constexpr int off1(int j, int p) { return 16 * j + 8 * p + 4; }
  template <class S, int J>
  static EMBER_INLINE typename S::VI scale(const uint8_t* blk, int sub) {
    return S::i8_to_i32(blk + kSc + 16 * J + sub * S::kLanes);
  }
  template <class S, int V, int T>
  static EMBER_INLINE void finish(const TileCtx& c, int64_t b, const uint8_t* const* blk,
                                  const int* sub, const uint8_t* const* ap,
                                  typename S::VI (&isc)[V][T], typename S::VF (&facc)[V][T]) {
    kquant_update<S, V, T, 0, false>(c, b, blk, sub, ap, kD, 0, isc, facc);
  }
};

// Q3_K: 16 sub-blocks of 16 columns, codes low 2 bits (TWO) | hmask bit << 2, offset 4, signed
// scales (PAIRS).
struct FmtQ3K {
  static constexpr size_t kBytes = 1824, kSc = 1536, kD = 1792;
  static constexpr int kSubs = 16, kPairs = 2;
  static constexpr bool kWide = false;
  static constexpr bool kHi16 = false;
  static constexpr int kOffsetShift = 0;  // no per-sub-block offset start (see FmtQ6K)
  template <class S, int J, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    const auto m3 = S::set1_8(0x03);
    const auto b2 = S::set1_8(0x04);
    const auto two = S::load(blk + 64 * J + vo);
    const auto hb = S::load(blk + 1024 + 64 * (J / 2) + vo);
    // Step s: low bits at 2s; the hmask bit at 4 * (J % 2) + s, moved to bit 2.
    constexpr int q0 = 4 * (J % 2) + 2 * P;
    w0 = S::or_and(S::and_(S::template shift16<-4 * P>(two), m3), S::template shift16<2 - q0>(hb),
                   b2);
    w1 = S::or_and(S::and_(S::template shift16<-4 * P - 2>(two), m3),
                   S::template shift16<1 - q0>(hb), b2);
  }
  static constexpr int off0(int j, int p) { return 16 * j + 8 * p; }
  static constexpr int off1(int j, int p) { return 16 * j + 8 * p + 4; }
  template <class S, int J>
  static EMBER_INLINE typename S::VI scale(const uint8_t* blk, int sub) {
    return pair_half_signed<S, J % 2>(S::i8_to_i16(blk + kSc + 32 * (J / 2) + sub * 2 * S::kLanes));
  }
  template <class S, int V, int T>
  static EMBER_INLINE void finish(const TileCtx& c, int64_t b, const uint8_t* const* blk,
                                  const int* sub, const uint8_t* const* ap,
                                  typename S::VI (&isc)[V][T], typename S::VF (&facc)[V][T]) {
    kquant_offset<S, V, T, 8, true, 2>(c, b, blk, sub, ap, kSc, isc);
    kquant_update<S, V, T, 0, false>(c, b, blk, sub, ap, kD, 0, isc, facc);
  }
};

// Q2_K: 16 sub-blocks of 16 columns, 2-bit codes (TWO), raw scale bytes sc | min << 4 (PAIRS).
struct FmtQ2K {
  static constexpr size_t kBytes = 1344, kSc = 1024, kD = 1280;
  static constexpr int kSubs = 16, kPairs = 2;
  static constexpr bool kWide = false;
  static constexpr bool kHi16 = false;
  static constexpr int kOffsetShift = 0;  // no per-sub-block offset start (see FmtQ6K)
  template <class S, int J, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    const auto m3 = S::set1_8(0x03);
    const auto two = S::load(blk + 64 * J + vo);
    w0 = S::and_(S::template shift16<-4 * P>(two), m3);
    w1 = S::and_(S::template shift16<-4 * P - 2>(two), m3);
  }
  static constexpr int off0(int j, int p) { return 16 * j + 8 * p; }
  static constexpr int off1(int j, int p) { return 16 * j + 8 * p + 4; }
  template <class S, int J>
  static EMBER_INLINE typename S::VI scale(const uint8_t* blk, int sub) {
    const auto p = S::u8_to_i16(blk + kSc + 32 * (J / 2) + sub * 2 * S::kLanes);
    const auto low = S::set1_32(0xF);
    if constexpr (J % 2) {
      return S::and_(S::template srli32<16>(p), low);
    } else {
      return S::and_(p, low);
    }
  }
  template <class S, int V, int T>
  static EMBER_INLINE void finish(const TileCtx& c, int64_t b, const uint8_t* const* blk,
                                  const int* sub, const uint8_t* const* ap,
                                  typename S::VI (&isc)[V][T], typename S::VF (&facc)[V][T]) {
    kquant_update<S, V, T, 8, true>(c, b, blk, sub, ap, kD, kSc, isc, facc);
  }
};

// IQ4_XS: 8 sub-blocks of 32 columns, codes index the IQ4 levels (offset 128 when unsigned),
// signed scales ls - 32 (PAIRS).
struct FmtIQ4XS {
  static constexpr size_t kBytes = 2208, kSc = 2048, kD = 2176;
  static constexpr int kSubs = 8, kPairs = 4;
  static constexpr bool kWide = true;
  static constexpr bool kHi16 = false;
  static constexpr int kOffsetShift = 0;  // no per-sub-block offset start (see FmtQ6K)
  template <class S, int J, int P>
  static EMBER_INLINE void decode(const uint8_t* blk, int vo, typename S::VI& w0,
                                  typename S::VI& w1) {
    const auto table = S::table16(S::kWideDot ? kIq4Unsigned : kIq4Signed);
    const auto n = S::load(blk + 256 * J + 64 * P + vo);
    const auto m = S::set1_8(0x0F);
    w0 = S::shuffle8(table, S::and_(n, m));
    w1 = S::shuffle8(table, S::and_(S::template shift16<-4>(n), m));
  }
  static constexpr int off0(int j, int p) { return 32 * j + 4 * p; }
  static constexpr int off1(int j, int p) { return 32 * j + 16 + 4 * p; }
  template <class S, int J>
  static EMBER_INLINE typename S::VI scale(const uint8_t* blk, int sub) {
    return pair_half_signed<S, J % 2>(S::i8_to_i16(blk + kSc + 32 * (J / 2) + sub * 2 * S::kLanes));
  }
  template <class S, int V, int T>
  static EMBER_INLINE void finish(const TileCtx& c, int64_t b, const uint8_t* const* blk,
                                  const int* sub, const uint8_t* const* ap,
                                  typename S::VI (&isc)[V][T], typename S::VF (&facc)[V][T]) {
    if constexpr (S::kWideDot) kquant_offset<S, V, T, 4, false, 7>(c, b, blk, sub, ap, kSc, isc);
    kquant_update<S, V, T, 0, false>(c, b, blk, sub, ap, kD, 0, isc, facc);
  }
};

template <class SimdT, class F, int kGemmV, int kGemmT, int kGemv, FewTiles kFew>
struct KQuantKernel {
  using S = SimdT;
  static constexpr int kV = kGemmV, kT = kGemmT, kGemvV = kGemv;
  static constexpr int kFewV = kFew.v, kFewT = kFew.t, kFewMax = kFew.max;
  static int64_t blocks(int64_t cols) { return cols / 256; }

  template <int V, int T>
  static void tile(const TileCtx& c, int64_t q0, int64_t t0) {
    using VI = typename S::VI;
    using VF = typename S::VF;
    constexpr int kSubsPerGroup = 16 / S::kLanes;
    constexpr bool kSigned = F::kWide && !S::kWideDot;
    // Single tokens with an exact wide dot product: decode_hi16 (see LegacyKernel::tile).
    constexpr bool kHi16 = F::kHi16 && S::kWideDot && T == 1;
    const uint8_t* wp[V];
    int vo[V], sub[V];
    for (int v = 0; v < V; ++v) {
      const int64_t q = q0 + v;
      wp[v] = c.w + static_cast<size_t>(q / kSubsPerGroup) * c.group_bytes;
      sub[v] = static_cast<int>(q % kSubsPerGroup);
      vo[v] = sub[v] * S::kVecBytes;
    }
    const uint8_t* ap[T];
    for (int t = 0; t < T; ++t) ap[t] = c.act + static_cast<size_t>(t0 + t) * c.act_stride;
    const size_t pf = T == 1 ? kGemvNearPrefetchKQuant : gemv_prefetch_distance(c.group_bytes, V);
    VF facc[V][T];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) facc[v][t] = S::zerof();
    }
    for (int64_t b = 0; b < c.nb; ++b) {
      const uint8_t* blk[V];
      for (int v = 0; v < V; ++v) blk[v] = wp[v] + static_cast<size_t>(b) * F::kBytes;
      if (T == 1 || c.prefetch) {
        for (int v = 0; v < V; ++v) prefetch_range(blk[v] + pf, F::kBytes);
      }
      VI isc[V][T];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) isc[v][t] = S::zero();
      }
      static_for<F::kSubs>([&](auto J) __attribute__((always_inline)) {
        VI acc[V][T];
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          VI init = S::zero();
          if constexpr (F::kOffsetShift > 0) {
            // -(code offset) * sum of the sub-block's 16 activation codes (int16 bsum16[J]).
            int16_t sum;
            std::memcpy(&sum, ap[t] + c.aux_off + static_cast<size_t>(16 * b + J) * 2, 2);
            init = S::set1_32(-(static_cast<int32_t>(sum) * (1 << F::kOffsetShift)));
          }
#pragma GCC unroll 8
          for (int v = 0; v < V; ++v) acc[v][t] = init;
        }
        if constexpr (kHi16) {
          // As in LegacyKernel: the high nibbles times 16 in a chain of their own, then an exact
          // shift back (4 steps of 4 products of at most 240 x 128 fit easily).
          VI hi[V];
#pragma GCC unroll 8
          for (int v = 0; v < V; ++v) hi[v] = S::zero();
          static_for<F::kPairs>([&](auto P) __attribute__((always_inline)) {
            const uint8_t* x = ap[0] + 256 * b;
            const VI a0 = S::bcst32(x + F::off0(J, P));
            const VI a1 = S::bcst32(x + F::off1(J, P));
#pragma GCC unroll 8
            for (int v = 0; v < V; ++v) {
              VI w0, w1;
              F::template decode_hi16<S, J, P>(blk[v], vo[v], w0, w1);
              acc[v][0] = S::dot(acc[v][0], w0, a0);
              hi[v] = S::dot(hi[v], w1, a1);
            }
          });
#pragma GCC unroll 8
          for (int v = 0; v < V; ++v) acc[v][0] = S::add32(acc[v][0], S::template srai32<4>(hi[v]));
        } else {
          static_for<F::kPairs>([&](auto P) __attribute__((always_inline)) {
            VI w0[V], w1[V];
#pragma GCC unroll 8
            for (int v = 0; v < V; ++v) F::template decode<S, J, P>(blk[v], vo[v], w0[v], w1[v]);
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
              const uint8_t* x = ap[t] + 256 * b;
              const VI a0 = S::bcst32(x + F::off0(J, P));
              const VI a1 = S::bcst32(x + F::off1(J, P));
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
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) {
          const VI sc = F::template scale<S, J>(blk[v], sub[v]);
#pragma GCC unroll 8
          for (int t = 0; t < T; ++t) isc[v][t] = S::add32(isc[v][t], S::mullo32(acc[v][t], sc));
        }
      });
      F::template finish<S, V, T>(c, b, blk, sub, ap, isc, facc);
    }
    for (int v = 0; v < V; ++v) store_rows<S, T>(c, q0 + v, t0, facc[v]);
  }
};

template <class S, int kV, int kT, int kGemv, FewTiles kFew = FewTiles{}>
PackedKernel kquant_kernel(TensorType type) {
  switch (type) {
    case TensorType::kQ2_K:
      return &run_packed<KQuantKernel<S, FmtQ2K, kV, kT, kGemv, kFew>>;
    case TensorType::kQ3_K:
      return &run_packed<KQuantKernel<S, FmtQ3K, kV, kT, kGemv, kFew>>;
    case TensorType::kQ4_K:
      return &run_packed<KQuantKernel<S, FmtQ45K<false>, kV, kT, kGemv, kFew>>;
    case TensorType::kQ5_K:
      return &run_packed<KQuantKernel<S, FmtQ45K<true>, kV, kT, kGemv, kFew>>;
    case TensorType::kQ6_K:
      return &run_packed<KQuantKernel<S, FmtQ6K, kV, kT, kGemv, kFew>>;
    case TensorType::kIQ4_XS:
      return &run_packed<KQuantKernel<S, FmtIQ4XS, kV, kT, kGemv, kFew>>;
    default:
      return nullptr;
  }
}

}  // namespace
}  // namespace ember::kernels::x86
