// A streaming-read bandwidth probe for `ember bench --read-bandwidth`: the memory roofline that
// decoding (which reads every weight once per token) is measured against, taken in the same
// run as the speed figures because this shared host's bandwidth varies from hour to hour.
#pragma once

#include <cstddef>

#include "ember/status.h"

namespace ember::cli {

// Best-of-`passes` read bandwidth in bytes/s: `bytes` of freshly written memory (far larger
// than any cache) read once per pass by `threads` threads, each summing its own contiguous
// slice with independent accumulators. Errors: no memory for the buffer.
Result<double> measure_read_bandwidth(size_t bytes, int threads, int passes);

}  // namespace ember::cli
