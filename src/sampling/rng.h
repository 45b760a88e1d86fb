// The random source of sampling: a 64-bit Mersenne Twister (its output sequence is fixed by the
// C++ standard) mapped to uniform doubles by our own code, because std::*_distribution results
// differ between standard libraries and the same seed must give the same tokens everywhere.
#pragma once

#include <cstdint>
#include <random>

namespace ember::sampling {

class Rng {
 public:
  explicit Rng(uint64_t seed) : seed_(seed), engine_(seed) {}
  // Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  void reset() { engine_.seed(seed_); }

 private:
  uint64_t seed_;
  std::mt19937_64 engine_;
};

// Index of a draw from the probabilities p[0..n) (need not sum to 1 exactly; zeros never drawn).
// Returns -1 when every probability is zero.
template <typename GetP>
int64_t draw_index(Rng& rng, size_t n, GetP get_p) {
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) total += get_p(i);
  if (!(total > 0.0)) return -1;
  const double target = rng.uniform() * total;
  double cum = 0.0;
  int64_t last_nonzero = -1;
  for (size_t i = 0; i < n; ++i) {
    const double p = get_p(i);
    if (p <= 0.0) continue;
    last_nonzero = static_cast<int64_t>(i);
    cum += p;
    if (target < cum) return last_nonzero;
  }
  return last_nonzero;  // rounding left target at the very top
}

}  // namespace ember::sampling
