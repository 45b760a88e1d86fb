// Test helpers for recurrent-state tests: continue two sequences that share a prefix in one
// interleaved batch and collect each sequence's logits rows; check that asking for fewer logits
// gives the rows of a full evaluation.
#pragma once

#include <gtest/gtest.h>

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
    std::memcpy(dst.data() + (n_prefix + order[o].second) * nv, ctx.logits(static_cast<int64_t>(o)),
                nv * sizeof(float));
  }
  return {std::move(got_a), std::move(got_b)};
}

// Evaluates `toks` as sequence 0 from position 0 in one batch on `ctx` (a fresh context), asking
// for the logits of the positions in `wanted` only, and expects each row to be bit-identical to
// that position's row of `full` ([toks.size() x n_vocab]: a full evaluation's logits).
inline void expect_wanted_rows_equal_full(runtime::Context& ctx, const std::vector<int32_t>& toks,
                                          const std::vector<int>& wanted,
                                          const std::vector<float>& full) {
  const size_t nv = static_cast<size_t>(ctx.n_vocab());
  runtime::Batch b;
  for (size_t i = 0; i < toks.size(); ++i) {
    b.add(toks[i], static_cast<int32_t>(i), 0,
          std::find(wanted.begin(), wanted.end(), static_cast<int>(i)) != wanted.end());
  }
  ASSERT_TRUE(ctx.decode(b).ok());
  ASSERT_EQ(ctx.n_outputs(), static_cast<int64_t>(wanted.size()));
  for (size_t k = 0; k < wanted.size(); ++k) {
    EXPECT_EQ(std::memcmp(ctx.logits(static_cast<int64_t>(k)),
                          full.data() + static_cast<size_t>(wanted[k]) * nv, nv * sizeof(float)),
              0)
        << "row " << wanted[k];
  }
}

}  // namespace ember::testing
