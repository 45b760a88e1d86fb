// F32, F16 and BF16 kernels for AVX2 + FMA + F16C (compiled with its flags only).
#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/simd_avx2.h"
#include "kernels/x86/tiles_float.h"

namespace ember::kernels::x86 {

PackedKernel avx2_float_kernel(TensorType type) {
  // Tiles (16 registers): 2 row vectors (16 rows) x 5 tokens for batches, 4 for one token.
  return float_kernel<Avx2, 2, 5, 4>(type);
}

}  // namespace ember::kernels::x86
