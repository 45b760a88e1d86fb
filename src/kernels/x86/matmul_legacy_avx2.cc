// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL and MXFP4 kernels for AVX2 (compiled with its flags only).
#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/simd_avx2.h"
#include "kernels/x86/tiles_legacy.h"

namespace ember::kernels::x86 {

PackedKernel avx2_legacy_kernel(TensorType type) {
  // Tiles (16 registers): 2 row vectors (16 rows) x 2 tokens for batches, 1 for one token.
  return legacy_kernel<Avx2, 2, 2, 1>(type);
}

}  // namespace ember::kernels::x86
