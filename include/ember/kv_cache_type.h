// ember — element type of the key/value cache, shared by EngineOptions and ContextOptions.
#pragma once

#include <cstdint>

namespace ember {

// Key/value cache element type: F16 (default, as llama.cpp), F32 (exact, twice the memory) or
// Q8_0 (about half of F16, slightly less accurate; needs head sizes that are multiples of 32).
enum class KvCacheType : uint8_t { kF16 = 0, kF32 = 1, kQ8_0 = 2 };

}  // namespace ember
