// Tile kernel for the plain float weight types F16 and BF16 on packed weights (F32 weights are
// read in place, in the reference's summation order: matmul_f32.cc): per column, 16 rows' values
// are contiguous (pack.cc), widened to F32 and multiplied with the broadcast F32 activation by one
// fused multiply-add per (row, token) lane, columns in order.
#pragma once

#include <cstdint>

#include "kernels/x86/tile_driver.h"

namespace ember::kernels::x86 {
namespace {

struct FmtF16 {
  static constexpr size_t kElem = 2;
  template <class S>
  static EMBER_INLINE typename S::VF load(const uint8_t* p) {
    return S::f16(p);
  }
};
struct FmtBF16 {
  static constexpr size_t kElem = 2;
  template <class S>
  static EMBER_INLINE typename S::VF load(const uint8_t* p) {
    return S::bf16(p);
  }
};

template <class SimdT, class F, int kGemmV, int kGemmT, int kGemv>
struct FloatKernel {
  using S = SimdT;
  static constexpr int kV = kGemmV, kT = kGemmT, kGemvV = kGemv;
  static constexpr int kFewV = 0, kFewT = 0, kFewMax = 0;  // no few-token path (tile_driver.h)
  static int64_t blocks(int64_t cols) { return cols; }

  template <int V, int T>
  static void tile(const TileCtx& c, int64_t q0, int64_t t0) {
    using VF = typename S::VF;
    constexpr int kSubs = 16 / S::kLanes;
    constexpr size_t kCol = 16 * F::kElem;  // packed bytes per column
    const uint8_t* wp[V];
    for (int v = 0; v < V; ++v) {
      const int64_t q = q0 + v;
      wp[v] = c.w + static_cast<size_t>(q / kSubs) * c.group_bytes +
              static_cast<size_t>(q % kSubs) * S::kLanes * F::kElem;
    }
    const uint8_t* ap[T];
    for (int t = 0; t < T; ++t) ap[t] = c.act + static_cast<size_t>(t0 + t) * c.act_stride;
    VF acc[V][T];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[v][t] = S::zerof();
    }
    const size_t pf = gemv_prefetch_distance(c.group_bytes, V);
#pragma GCC unroll 2
    for (int64_t k = 0; k < c.nb; ++k) {
      if constexpr (T == 1) {
        // One 64-byte line holds 4 (F16) or 2 (F32) columns of a row vector's packed data.
        if ((k * static_cast<int64_t>(kCol)) % 64 == 0) {
          for (int v = 0; v < V; ++v)
            __builtin_prefetch(wp[v] + static_cast<size_t>(k) * kCol + pf, 0, 2);
        }
      }
      VF w[V];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) w[v] = F::template load<S>(wp[v] + static_cast<size_t>(k) * kCol);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const VF x = S::bcstf(ap[t] + 4 * k);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[v][t] = S::fmadd(w[v], x, acc[v][t]);
      }
    }
    for (int v = 0; v < V; ++v) store_rows<S, T>(c, q0 + v, t0, acc[v]);
  }
};

template <class S, int kV, int kT, int kGemv>
PackedKernel float_kernel(TensorType type) {
  switch (type) {
    case TensorType::kF16:
      return &run_packed<FloatKernel<S, FmtF16, kV, kT, kGemv>>;
    case TensorType::kBF16:
      return &run_packed<FloatKernel<S, FmtBF16, kV, kT, kGemv>>;
    default:
      return nullptr;
  }
}

}  // namespace
}  // namespace ember::kernels::x86
