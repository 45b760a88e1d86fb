// Test helper for recurrent-state tests: continue two sequences that share a prefix in one
// interleaved batch and collect each sequence's logits rows.
#pragma once

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "runtime/context.h"

namespace ember::testing {

// Sequence 0 continues with tail_a and sequence 1 with tail_b, both from position n_prefix, in
// one batch (tokens of the two interleaved, sequence 1 first). Returns each sequence's logits
// [(n_prefix + tail size) x n_vocab]: the rows of `prefix_logits` ([n_prefix x n_vocab]) then the
// tail's. The decode status goes to `status`; the vectors are empty when it fails.
inline std::pair<std::vector<float>, std::vector<float>> decode_interleaved_tails(
    runtime::Context& ctx, const std::vector<float>& prefix_logits, size_t n_prefix,
    const std::vector<int32_t>& tail_a, const std::vector<int32_t>& tail_b, Status& status) {
  const size_t nv = static_cast<size_t>(ctx.n_vocab());
  runtime::Batch b;
  std::vector<std::pair<int, size_t>> order;
  for (size_t i = 0; i < std::max(tail_a.size(), tail_b.size()); ++i) {
    if (i < tail_b.size()) {
      b.add(tail_b[i], static_cast<int32_t>(n_prefix + i), 1, true);
      order.push_back({1, i});
    }
    if (i < tail_a.size()) {
      b.add(tail_a[i], static_cast<int32_t>(n_prefix + i), 0, true);
      order.push_back({0, i});
    }
  }
  status = ctx.decode(b);
  if (!status.ok()) return {};
  std::vector<float> got_a(prefix_logits), got_b(prefix_logits);
  got_a.resize((n_prefix + tail_a.size()) * nv);
  got_b.resize((n_prefix + tail_b.size()) * nv);
  for (size_t o = 0; o < order.size(); ++o) {
    auto& dst = order[o].first == 0 ? got_a : got_b;
    std::memcpy(dst.data() + (n_prefix + order[o].second) * nv,
                ctx.logits(static_cast<int64_t>(o)), nv * sizeof(float));
  }
  return {std::move(got_a), std::move(got_b)};
}

}  // namespace ember::testing
