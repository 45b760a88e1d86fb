// The tokens of one ubatch as the forward pass sees them (internal to src/runtime: the layer
// blocks in forward.cc, ffn.cc, per_layer.cc and the recurrent blocks read it).
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/context.h"

namespace ember::runtime {

struct Context::Ubatch {
  int64_t n = 0;
  const int32_t* tokens = nullptr;
  const int32_t* pos = nullptr;
  const int32_t* seq = nullptr;
  const int64_t* cells = nullptr;
  // Rows (ubatch indices) whose logits are wanted, ascending.
  std::vector<int32_t> out_rows;
  // Explicit cells: attention uses the per-sequence tile lists (Context::tile_list_).
  bool paged = false;

  // The rows grouped by sequence, in order of each sequence's first row: group g holds rows
  // seq_rows[begin, end) of sequence `seq`, ascending (= position order, which decode checked).
  // Recurrent layers run each group through its sequence's state, one row after the other.
  struct SeqGroup {
    int32_t seq;
    int64_t begin, end;
  };
  std::vector<SeqGroup> seq_groups;
  std::vector<int32_t> seq_rows;

  // Fills seq_groups / seq_rows from seq[0, n).
  void group_by_sequence() {
    seq_groups.clear();
    seq_rows.assign(static_cast<size_t>(n), 0);
    int32_t group_of[KvCache::kMaxSequences];
    for (int32_t& g : group_of) g = -1;
    std::vector<int64_t> count;
    for (int64_t i = 0; i < n; ++i) {
      int32_t& g = group_of[seq[i]];
      if (g < 0) {
        g = static_cast<int32_t>(seq_groups.size());
        seq_groups.push_back({seq[i], 0, 0});
        count.push_back(0);
      }
      ++count[static_cast<size_t>(g)];
    }
    int64_t at = 0;
    for (size_t g = 0; g < seq_groups.size(); ++g) {
      seq_groups[g].begin = seq_groups[g].end = at;
      at += count[g];
    }
    for (int64_t i = 0; i < n; ++i) {
      SeqGroup& grp = seq_groups[static_cast<size_t>(group_of[seq[i]])];
      seq_rows[static_cast<size_t>(grp.end++)] = static_cast<int32_t>(i);
    }
  }
};

}  // namespace ember::runtime
