// A plain streaming read: the memory-bandwidth yardstick that `ember bench --read-bandwidth`
// (apps/cli/read_bandwidth.cc) and the matrix-product roofline benchmark (bench/matmul_bench.cc)
// compare decoding with.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ember {

// Reads n words and returns a value that depends on all of them (so the reads cannot be
// dropped). Eight independent lanes, so the loads and not the adds' latency set the pace; built
// once per ISA (AVX-512, AVX2, baseline) and chosen at run time: built for the baseline x86-64
// only, the loop issues 16-byte loads and two threads cannot keep up with the memory (this host:
// 20 GB/s against 27 GB/s of weights streamed by an F16 decode step).
uint64_t stream_read_words(const uint64_t* p, size_t n);

}  // namespace ember
