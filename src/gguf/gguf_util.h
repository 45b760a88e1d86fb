// Internals shared by the GGUF reader and writer (not part of the public API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gguf/gguf.h"

namespace ember::gguf_detail {

inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";
// Deepest array-of-array nesting accepted; real files use at most one level, and a bound keeps
// hostile files from exhausting the stack through recursion.
inline constexpr int kMaxArrayDepth = 8;
inline constexpr uint32_t kMaxDims = 4;

// True for ids 0..12.
inline bool is_known_type(uint32_t raw) {
  return raw <= static_cast<uint32_t>(GgufType::kF64);
}

// Encoded size of a fixed-size scalar, or 0 for string/array (variable size).
size_t scalar_size(GgufType type);

// The fewest bytes one encoded value of `type` can occupy (used to reject counts before
// reserving memory for them).
size_t min_encoded_size(GgufType type);

bool is_valid_utf8(std::string_view s);

inline bool is_power_of_two(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

// Whether integer `v` is representable in the integer (or bool) type `type`. For uint64, `v` is
// the two's-complement bit pattern, so every value fits.
bool int_fits(GgufType type, int64_t v);

}  // namespace ember::gguf_detail
