// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS kernels for avx512vnni (compiled with its flags only).
#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/simd_avx512.h"
#include "kernels/x86/tiles_kquant.h"

namespace ember::kernels::x86 {

PackedKernel avx512vnni_kquant_kernel(TensorType type) {
  // Tiles: 2 row vectors (32 rows) x 3 tokens for batches, 1 row vector for one token, and for
  // 2-15 tokens (decode steps of several sequences) 1 row vector x up to 8 tokens with prefetch.
  return kquant_kernel<Avx512<true>, 2, 3, 1, FewTiles{1, 8, 15}>(type);
}

}  // namespace ember::kernels::x86
