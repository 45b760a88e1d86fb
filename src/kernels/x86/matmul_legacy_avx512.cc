// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL and MXFP4 kernels for avx512 (compiled with its flags only).
#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/simd_avx512.h"
#include "kernels/x86/tiles_legacy.h"

namespace ember::kernels::x86 {

PackedKernel avx512_legacy_kernel(TensorType type) {
  // Tiles: 2 row vectors (32 rows) x 4 tokens for batches, 1 row vector for one token.
  return legacy_kernel<Avx512<false>, 2, 4, 1>(type);
}

}  // namespace ember::kernels::x86
