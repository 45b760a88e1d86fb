#include "kernels/x86/kernels_x86.h"

namespace ember::kernels::x86 {

PackedKernel avx2_kernel(TensorType type) {
  if (PackedKernel k = avx2_legacy_kernel(type)) return k;
  if (PackedKernel k = avx2_kquant_kernel(type)) return k;
  return avx2_float_kernel(type);
}

PackedKernel avx512_kernel(TensorType type) {
  if (PackedKernel k = avx512_legacy_kernel(type)) return k;
  if (PackedKernel k = avx512_kquant_kernel(type)) return k;
  return avx512_float_kernel(type);
}

// The float kernels gain nothing from VNNI: avx512vnni falls back to avx512's for them.
PackedKernel avx512vnni_kernel(TensorType type) {
  if (PackedKernel k = avx512vnni_legacy_kernel(type)) return k;
  return avx512vnni_kquant_kernel(type);
}

PackedKernel avx512amx_kernel(TensorType type) {
  return avx512amx_legacy_kernel(type);
}

}  // namespace ember::kernels::x86
