// The split-BF16 form's layouts (matmul_internal.h): weight packing and the scalar activation
// conversion. The AMX-BF16 kernel and its SIMD conversion are in
// x86/matmul_split_avx512amxbf16.cc.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/matmul_internal.h"
#include "tensor/fp16.h"

namespace ember::kernels {
namespace {

// The BF16 bit pattern of the F32 value with bits `u`, rounded to nearest even (integer
// arithmetic, the same as the SIMD conversion: no flush of subnormals, finite values only need
// to be right).
uint32_t bf16_rne(uint32_t u) {
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

float weight_value(const Weights& w, int64_t r, int64_t c) {
  const auto* row = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r) * w.row_bytes;
  switch (w.type) {
    case TensorType::kF16: {
      uint16_t h;
      std::memcpy(&h, row + 2 * c, 2);
      return fp16_to_fp32(h);
    }
    case TensorType::kBF16: {
      uint16_t h;
      std::memcpy(&h, row + 2 * c, 2);
      return bf16_to_fp32(h);
    }
    default: {
      float f;
      std::memcpy(&f, row + 4 * c, 4);
      return f;
    }
  }
}

}  // namespace

int64_t split_bf16_cols(int64_t cols) {
  return (cols + 31) / 32 * 32;
}

size_t split_bf16_group_bytes(int64_t cols) {
  // 16 rows x kp columns x 2 parts x 2 bytes.
  return static_cast<size_t>(split_bf16_cols(cols)) * 64;
}

size_t split_bf16_stride(int64_t cols) {
  return static_cast<size_t>(split_bf16_cols(cols)) * 4;
}

void split_bf16(float v, uint16_t* hi, uint16_t* lo) {
  const uint32_t h = bf16_rne(fp32_to_bits(v));
  *hi = static_cast<uint16_t>(h);
  if ((h & 0x7f80u) == 0x7f80u) {
    *lo = 0;  // inf / NaN (or rounded up to inf): no second part
    return;
  }
  const float r = v - bf16_to_fp32(static_cast<uint16_t>(h));  // exact
  *lo = static_cast<uint16_t>(bf16_rne(fp32_to_bits(r)));
}

void pack_split_bf16_groups(const Weights& w, int64_t g_begin, int64_t g_end, uint8_t* dst) {
  const size_t gb = split_bf16_group_bytes(w.cols);
  for (int64_t g = g_begin; g < g_end; ++g) {
    auto* out = reinterpret_cast<uint16_t*>(dst + static_cast<size_t>(g - g_begin) * gb);
    std::memset(out, 0, gb);
    for (int64_t r = 0; r < kPackRows; ++r) {
      const int64_t row = g * kPackRows + r;
      if (row >= w.rows) break;
      for (int64_t c = 0; c < w.cols; ++c) {
        uint16_t hi, lo;
        split_bf16(weight_value(w, row, c), &hi, &lo);
        // In 16-bit units: step s = c / 32 at 1024 s (hi tile, then the lo tile 512 later),
        // line j = (c % 32) / 2 at 32 j, row r at 2 r, column parity i.
        const int64_t s = c / 32, j = (c % 32) / 2, i = c % 2;
        const size_t at = static_cast<size_t>(s * 1024 + j * 32 + r * 2 + i);
        out[at] = hi;
        out[at + 512] = lo;
      }
    }
  }
}

size_t tiles16_group_bytes(int64_t cols) {
  // 16 rows x kp columns x 2 bytes.
  return static_cast<size_t>(split_bf16_cols(cols)) * 32;
}

void pack_tiles16_groups(const Weights& w, int64_t g_begin, int64_t g_end, uint8_t* dst) {
  const size_t gb = tiles16_group_bytes(w.cols);
  for (int64_t g = g_begin; g < g_end; ++g) {
    auto* out = reinterpret_cast<uint16_t*>(dst + static_cast<size_t>(g - g_begin) * gb);
    std::memset(out, 0, gb);
    for (int64_t r = 0; r < kPackRows; ++r) {
      const int64_t row = g * kPackRows + r;
      if (row >= w.rows) break;
      const auto* src =
          static_cast<const uint8_t*>(w.data) + static_cast<size_t>(row) * w.row_bytes;
      for (int64_t c = 0; c < w.cols; ++c) {
        // In 16-bit units: step s = c / 32 at 512 s, line j = (c % 32) / 2 at 32 j; column parity
        // i, row r: BF16 at 2 r + i (the pair layout), F16 at 16 i + r (halves).
        const int64_t s = c / 32, j = (c % 32) / 2, i = c % 2;
        const int64_t at = w.type == TensorType::kF16 ? 16 * i + r : 2 * r + i;
        std::memcpy(out + s * 512 + j * 32 + at, src + 2 * c, 2);
      }
    }
  }
}

namespace {
// DAZ / FTZ: subnormals (below 2^-126) read and written as zero of the same sign.
float flush(float v) {
  return std::fabs(v) < 0x1p-126f ? std::copysign(0.0f, v) : v;
}
float bf16_value(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

float tdpbf16ps_scalar(float c, const uint16_t* a, const uint16_t* b) {
  float e = 0.0f, o = 0.0f;
  for (int k = 0; k < 16; ++k) {
    e = flush(std::fma(flush(bf16_value(a[2 * k])), flush(bf16_value(b[2 * k])), e));
    o = flush(std::fma(flush(bf16_value(a[2 * k + 1])), flush(bf16_value(b[2 * k + 1])), o));
  }
  return flush(flush(c) + flush(e + o));
}

void convert_split_bf16_scalar(const float* x, int64_t n_tokens, int64_t cols, uint8_t* out,
                               int64_t first_token) {
  const int64_t kp = split_bf16_cols(cols);
  for (int64_t i = 0; i < n_tokens; ++i) {
    const int64_t t = first_token + i;
    for (int64_t c = 0; c < kp; ++c) {
      uint16_t hi = 0, lo = 0;
      if (c < cols) split_bf16(x[i * cols + c], &hi, &lo);
      uint8_t* at = out + split_bf16_act_offset(t, c, kp);
      std::memcpy(at, &hi, 2);
      std::memcpy(at + 1024, &lo, 2);
    }
  }
}

}  // namespace ember::kernels
