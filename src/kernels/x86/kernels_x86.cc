#include "kernels/x86/kernels_x86.h"

namespace ember::kernels::x86 {

PackedKernel avx2_kernel(TensorType) {
  return nullptr;
}
PackedKernel avx512_kernel(TensorType) {
  return nullptr;
}
PackedKernel avx512vnni_kernel(TensorType) {
  return nullptr;
}
ConvertKernel avx2_convert() {
  return nullptr;
}
ConvertKernel avx512_convert() {
  return nullptr;
}

}  // namespace ember::kernels::x86
