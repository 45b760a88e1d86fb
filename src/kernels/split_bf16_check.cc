// The start-up check behind split_bf16_fly_exact (kernels/matmul.h): the FMA kernel that runs the
// on-the-fly split form's products for F16 weights and few tokens reproduces the tile unit's
// arithmetic as measured on Sapphire Rapids (tdpbf16ps_scalar). A CPU whose tile unit rounds
// differently fails it, and decoders then keep F16 weights in the exact form.
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/matmul_internal.h"
#include "tensor/fp16.h"

#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/x86/kernels_x86.h"
#define EMBER_SPLIT_BF16_CHECK 1
#endif

namespace ember::kernels {
namespace {

#if defined(EMBER_SPLIT_BF16_CHECK)
// A small deterministic generator (the check must not depend on global state).
struct Lcg {
  uint64_t s;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  }
};

uint32_t bits_of(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u;
}

bool same_bits(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || bits_of(a) == bits_of(b);
}

// Tiles: values near 1, the whole BF16 range, and tiny values (subnormal inputs and sums).
bool tiles_match(Lcg& rng) {
  alignas(64) uint16_t a[16 * 32], b[16 * 32];
  alignas(64) float c[16 * 16], c0[16 * 16];
  for (int it = 0; it < 24; ++it) {
    const int kind = it % 3;
    auto gen = [&]() -> uint16_t {
      const uint32_t r = rng.next();
      const int e = kind == 0 ? 119 + static_cast<int>(r % 17)
                              : (kind == 1 ? static_cast<int>(r % 255) : static_cast<int>(r % 70));
      return static_cast<uint16_t>(((r >> 8) & 0x8000u) | (e << 7) | ((r >> 9) & 0x7f));
    };
    for (int i = 0; i < 16 * 32; ++i) {
      a[i] = gen();
      b[i] = gen();
    }
    for (int i = 0; i < 256; ++i) {
      const uint32_t r = rng.next();
      const uint32_t u =
          kind == 2 ? (r & 0x81ffffffu) : ((r & 0x807fffffu) | ((107u + (r >> 8) % 41u) << 23));
      std::memcpy(&c0[i], &u, 4);
    }
    std::memcpy(c, c0, sizeof c);
    x86::avx512amxbf16_tile_product(c, a, b);
    for (int m = 0; m < 16; ++m) {
      for (int n = 0; n < 16; ++n) {
        uint16_t col[32];
        for (int k = 0; k < 16; ++k) {
          col[2 * k] = b[k * 32 + 2 * n];
          col[2 * k + 1] = b[k * 32 + 2 * n + 1];
        }
        if (!same_bits(c[m * 16 + n], tdpbf16ps_scalar(c0[m * 16 + n], a + m * 32, col))) {
          return false;
        }
      }
    }
  }
  return true;
}

// A product: 40 x 200 F16 weights (F16 subnormals and large values among them), 1 and 5 tokens
// (some activations tiny, so their lo parts are BF16 subnormals), the FMA kernel against the tile
// kernel on the same weights split at load.
bool product_matches(Lcg& rng) {
  const int64_t rows = 40, cols = 200;
  std::vector<uint16_t> wdata(static_cast<size_t>(rows * cols));
  for (auto& h : wdata) {
    const uint32_t r = rng.next();
    h = static_cast<uint16_t>(r % 5 == 0 ? (r >> 8) & 0x83ffu : 0x2000u + (r >> 8) % 0x5800u);
    h = static_cast<uint16_t>(h | ((r >> 4) & 0x8000u));
  }
  const Weights w{TensorType::kF16, wdata.data(), rows, cols, static_cast<size_t>(cols) * 2};
  const int64_t groups = (rows + 15) / 16;
  std::vector<uint8_t> tiles(static_cast<size_t>(groups) * tiles16_group_bytes(cols) + 64);
  std::vector<uint8_t> split(static_cast<size_t>(groups) * split_bf16_group_bytes(cols) + 64);
  pack_tiles16_groups(w, 0, groups, tiles.data());
  pack_split_bf16_groups(w, 0, groups, split.data());
  const PackedView tv{TensorType::kF16, cols, tiles.data(), tiles16_group_bytes(cols)};
  const PackedView sv{TensorType::kF16, cols, split.data(), split_bf16_group_bytes(cols)};
  for (int64_t n : {1, 5}) {
    std::vector<float> x(static_cast<size_t>(n * cols));
    for (size_t i = 0; i < x.size(); ++i) {
      const uint32_t r = rng.next();
      x[i] = (static_cast<float>(r % 20001) - 10000.0f) * 1e-4f;
      if (i % 7 == 0) x[i] = std::ldexp(x[i], -118 - static_cast<int>(r % 9));
    }
    std::vector<uint8_t> act(split_bf16_stride(cols) * 16);
    convert_split_bf16_scalar(x.data(), n, cols, act.data());
    std::vector<float> got(static_cast<size_t>(n * rows)), want(got.size());
    x86::avx512amxbf16_fly_fma_matmul(tv, act.data(), n, got.data(), rows, 0, rows);
    x86::avx512amxbf16_split_matmul(sv, act.data(), n, want.data(), rows, 0, rows);
    for (size_t i = 0; i < got.size(); ++i) {
      if (!same_bits(got[i], want[i])) return false;
    }
  }
  return true;
}

bool run_check() {
  Lcg rng{0x5eedu};
  return tiles_match(rng) && product_matches(rng);
}
#endif

}  // namespace

bool split_bf16_fly_exact() {
#if defined(EMBER_SPLIT_BF16_CHECK)
  if (!split_bf16_fly_supported(Isa::kAvx512Amx, TensorType::kF16)) return false;
  // A property of the CPU: checked once per process (about a millisecond).
  static const bool ok = run_check();
  return ok;
#else
  return false;
#endif
}

}  // namespace ember::kernels
