// serve::KvBlocks: the block layout, reservations, prefix sharing (shared full blocks, copied
// partial block), the prefix cache and its LRU eviction, checked against the cache's own cell
// metadata.
#include "serve/kv_blocks.h"

#include <gtest/gtest.h>

#include "model/model.h"
#include "runtime/context.h"
#include "testdata.h"

namespace ember::serve {
namespace {

struct Fixture {
  std::unique_ptr<runtime::Model> model;
  std::unique_ptr<runtime::Context> ctx;
};

Fixture make(const std::filesystem::path& data, int64_t n_blocks) {
  Fixture f;
  auto m = runtime::Model::load((data / "models" / "llama-spm-q8_0.gguf").string());
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  if (!m.ok()) return f;
  f.model = std::move(*m);
  runtime::ContextParams p;
  p.n_ctx = n_blocks * kBlock;
  p.n_seq_max = KvCache::kMaxSequences;
  p.n_threads = 1;
  p.attention = runtime::AttentionMode::kTiled;
  auto c = runtime::Context::create(*f.model, p);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  if (c.ok()) f.ctx = std::move(*c);
  return f;
}

// Evaluates positions [from, to) of `toks` for `seq` at the cells KvBlocks gives.
void eval(runtime::Context& ctx, KvBlocks& kb, int32_t seq, const std::vector<int32_t>& toks,
          int32_t from, int32_t to) {
  runtime::Batch b;
  for (int32_t p = from; p < to; ++p) {
    Result<int64_t> cell = kb.cell_for(seq, p);
    ASSERT_TRUE(cell.ok()) << cell.status().to_string();
    b.add(toks[static_cast<size_t>(p)], p, seq, p + 1 == to, *cell);
  }
  ASSERT_TRUE(ctx.decode(b).ok());
  for (int32_t p = from; p < to; ++p) kb.append(seq, toks[static_cast<size_t>(p)]);
}

std::vector<int32_t> tokens(int n, int salt) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(1 + (i * 37 + salt) % 200);
  return t;
}

TEST(ServeKvBlocks, SharingReservationsAndEviction) {
  EMBER_REQUIRE_TESTDATA(data);
  Fixture f = make(data, 8);
  ASSERT_TRUE(f.ctx);
  KvBlocks kb(*f.ctx, KvCache::kMaxSequences);
  EXPECT_EQ(kb.n_blocks(), 8);
  EXPECT_EQ(kb.free_blocks(), 8);

  // A: 130 positions (3 blocks) reserved and evaluated.
  const std::vector<int32_t> ta = tokens(130, 1);
  Result<int32_t> a = kb.create(3, -1, 0);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(kb.outstanding(), 3);
  eval(*f.ctx, kb, *a, ta, 0, 130);
  EXPECT_EQ(kb.outstanding(), 0);
  EXPECT_EQ(kb.free_blocks(), 5);
  EXPECT_EQ(kb.length(*a), 130);
  // Position p sits at offset p % 64 of its block.
  const KvCache& kv = f.ctx->kv_cache();
  for (int32_t p : {0, 63, 64, 100, 129}) {
    const int64_t cell = *kb.cell_for(*a, p);
    EXPECT_EQ(cell % kBlock, p % kBlock);
    EXPECT_EQ(kv.cell_pos()[cell], p);
  }
  kb.release(*a, /*keep=*/true);
  EXPECT_EQ(kb.n_cached(), 1);

  // B shares 100 positions of A: block 0 shared, positions 64..99 copied into a new block.
  std::vector<int32_t> tb(ta.begin(), ta.begin() + 100);
  const std::vector<int32_t> tail = tokens(20, 2);
  tb.insert(tb.end(), tail.begin(), tail.end());
  const KvBlocks::Prefix pre = kb.longest_prefix(tb);
  EXPECT_EQ(pre.seq, *a);
  EXPECT_EQ(pre.length, 100);
  ASSERT_GE(kb.available(pre.seq), 2);
  Result<int32_t> b = kb.create(2, pre.seq, 100);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(kb.length(*b), 100);
  EXPECT_EQ(kb.blocks_of(*b), 2);
  EXPECT_EQ(*kb.cell_for(*b, 10), *kb.cell_for(*a, 10));                    // shared block
  EXPECT_NE(*kb.cell_for(*b, 70) / kBlock, *kb.cell_for(*a, 70) / kBlock);  // copied block
  const uint64_t both = (uint64_t{1} << *a) | (uint64_t{1} << *b);
  EXPECT_EQ(kv.cell_seqs()[*kb.cell_for(*a, 10)], both);
  EXPECT_EQ(kv.cell_seqs()[*kb.cell_for(*a, 70)], uint64_t{1} << *a);
  EXPECT_EQ(kv.cell_seqs()[*kb.cell_for(*b, 70)], uint64_t{1} << *b);
  EXPECT_EQ(kv.cell_pos()[*kb.cell_for(*b, 99)], 99);
  EXPECT_EQ(f.ctx->seq_pos_max(*b), 99);
  eval(*f.ctx, kb, *b, tb, 100, 120);
  EXPECT_EQ(kb.free_blocks(), 4);  // 3 (A) + 1 (B's copy); block 0 counted once

  // Pressure: C needs 6 blocks; only A (cached, not pinned) can give them back — its shared
  // block 0 stays with B.
  EXPECT_EQ(kb.available(-1), 4 - 1 + 2);  // free - B's reservation + A's own two blocks
  Result<int32_t> c = kb.create(5, -1, 0);
  ASSERT_TRUE(c.ok());
  EXPECT_GE(kb.free_blocks(), kb.outstanding());
  EXPECT_EQ(kb.n_cached(), 0) << "A must have been evicted to cover the reservations";
  EXPECT_EQ(kv.cell_seqs()[*kb.cell_for(*b, 10)], uint64_t{1} << *b);
  kb.release(*b, true);
  kb.release(*c, true);  // no tokens: not kept
  EXPECT_EQ(kb.n_cached(), 1);
  EXPECT_EQ(kb.outstanding(), 0);
  kb.evict_all_cached();
  EXPECT_EQ(kb.free_blocks(), 8);
  EXPECT_EQ(kv.n_used(), 0);
}

TEST(ServeKvBlocks, SequenceIdsAreRecycledLeastRecentlyUsedFirst) {
  EMBER_REQUIRE_TESTDATA(data);
  Fixture f = make(data, 70);
  ASSERT_TRUE(f.ctx);
  KvBlocks kb(*f.ctx, KvCache::kMaxSequences);
  std::vector<int32_t> ids;
  for (int i = 0; i < KvCache::kMaxSequences; ++i) {
    Result<int32_t> s = kb.create(1, -1, 0);
    ASSERT_TRUE(s.ok());
    eval(*f.ctx, kb, *s, tokens(3, i), 0, 3);
    kb.release(*s, true);
    ids.push_back(*s);
  }
  EXPECT_EQ(kb.free_seq_ids(), 0);
  EXPECT_EQ(kb.longest_prefix(tokens(3, 0)).seq, ids[0]);
  EXPECT_TRUE(kb.ensure_seq_ids(2, /*pinned=*/ids[0]));
  // The two least recently used other than the pinned one went: ids[1] and ids[2].
  EXPECT_EQ(kb.longest_prefix(tokens(3, 1)).length, 0);
  EXPECT_EQ(kb.longest_prefix(tokens(3, 2)).length, 0);
  EXPECT_EQ(kb.longest_prefix(tokens(3, 0)).length, 3);
  EXPECT_EQ(kb.longest_prefix(tokens(3, 3)).length, 3);
}

}  // namespace
}  // namespace ember::serve
