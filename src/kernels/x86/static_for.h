// Compile-time loop helper for the SIMD kernels: static_for<N>(f) calls f(integral_constant<i>)
// for i = 0..N-1, so shift counts and offsets derived from i are immediates.
#pragma once

#include <type_traits>
#include <utility>

#define EMBER_INLINE inline __attribute__((always_inline))

namespace ember::kernels::x86 {
namespace {

template <class F, int... I>
EMBER_INLINE void static_for_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}

template <int N, class F>
EMBER_INLINE void static_for(F&& f) {
  static_for_impl(f, std::make_integer_sequence<int, N>{});
}

}  // namespace
}  // namespace ember::kernels::x86
