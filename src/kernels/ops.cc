#include "kernels/ops.h"

#include <cmath>
#include <vector>

#include "kernels/ops_common.h"
#include "kernels/rows.h"
#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"

namespace ember::kernels {

const char* kv_type_name(KvType type) {
  switch (type) {
    case KvType::kF32:
      return "f32";
    case KvType::kF16:
      return "f16";
    case KvType::kQ8_0:
      return "q8_0";
  }
  return "?";
}

TensorType kv_tensor_type(KvType type) {
  switch (type) {
    case KvType::kF32:
      return TensorType::kF32;
    case KvType::kF16:
      return TensorType::kF16;
    case KvType::kQ8_0:
      return TensorType::kQ8_0;
  }
  return TensorType::kF32;
}

size_t kv_row_bytes(KvType type, int64_t n) {
  switch (type) {
    case KvType::kF32:
      return static_cast<size_t>(n) * 4;
    case KvType::kF16:
      return static_cast<size_t>(n) * 2;
    case KvType::kQ8_0:
      return static_cast<size_t>(n / kQK8_0) * sizeof(BlockQ8_0);
  }
  return 0;
}

void store_q8_0_plain(const float* x, void* row, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* xb = x + b * kQK8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 blk;
    blk.d = fp32_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) {
      float v = std::round(xb[j] * id);
      if (std::isnan(v)) v = 0.0f;
      v = std::fmin(127.0f, std::fmax(-127.0f, v));
      blk.qs[j] = static_cast<int8_t>(v);
    }
    store_block(row, b, blk);
  }
}

const float* gelu_half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) {
      const float x = fp16_to_fp32(static_cast<uint16_t>(h));
      const float inner = (kGeluSqrt2OverPi * x) * (1.0f + (kGeluCoefA * x) * x);
      const float y = (0.5f * x) * (1.0f + std::tanh(inner));
      t[h] = fp16_to_fp32(fp32_to_fp16(y));
    }
    return t;
  }();
  return table.data();
}

const OpsTable& ops(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::kScalar:
      return ops_scalar();
    case Isa::kAvx2:
      return ops_avx2();
    case Isa::kAvx512:
    case Isa::kAvx512Vnni:
    case Isa::kAvx512Amx:
      return ops_avx512();
  }
#else
  (void)isa;
#endif
  return ops_scalar();
}

const RowOps& row_ops(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::kScalar:
      return row_ops_scalar();
    case Isa::kAvx2:
      return row_ops_avx2();
    case Isa::kAvx512:
    case Isa::kAvx512Vnni:
    case Isa::kAvx512Amx:
      return row_ops_avx512();
  }
#else
  (void)isa;
#endif
  return row_ops_scalar();
}

}  // namespace ember::kernels
