// Tiled attention in spans (kernels/attention.h) on odd shapes: head sizes, GQA ratios, cache
// lengths that are not multiples of the 64-cell tile or the 512-cell span, F16 / F32 / Q8_0
// caches. Every SIMD table this CPU runs must give the scalar table's bits; a row's spans
// computed one by one (how decoding spreads them over threads) and folded must give the bits
// of the same row inside a batch of rows; and the result must agree with a direct
// double-precision softmax over the dequantized cache, with and without attention sinks (a
// per-head logit that joins the denominator once, after every span).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"

namespace ember::kernels {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

struct Aligned {
  std::vector<uint8_t> bytes;
  void* p = nullptr;
  explicit Aligned(size_t n) : bytes(n + 64) {
    p = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(bytes.data()) + 63) & ~uintptr_t{63});
  }
};

// One key/value head's cache of n cells (positions 0..n-1 of sequence 0), stored as `type`
// through the scalar table's store (the cache contents never depend on the Isa), with the
// dequantized values kept for the direct reference.
struct Cache {
  KvType type;
  int64_t n, dk, dv;
  std::vector<uint8_t> k, v;
  std::vector<float> kf, vf;  // dequantized [n][dk], [n][dv]
  std::vector<int32_t> pos;
  std::vector<uint64_t> seqs;

  Cache(KvType t, int64_t cells, int64_t head_k, int64_t head_v, uint32_t seed)
      : type(t), n(cells), dk(head_k), dv(head_v) {
    const auto kx = random_floats(static_cast<size_t>(n * dk), seed);
    const auto vx = random_floats(static_cast<size_t>(n * dv), seed + 1);
    const size_t kb = kv_row_bytes(t, dk), vb = kv_row_bytes(t, dv);
    k.resize(kb * static_cast<size_t>(n));
    v.resize(vb * static_cast<size_t>(n));
    const OpsTable& S = ops(Isa::kScalar);
    for (int64_t c = 0; c < n; ++c) {
      S.kv_store[static_cast<int>(t)](kx.data() + c * dk, k.data() + c * kb, dk);
      S.kv_store[static_cast<int>(t)](vx.data() + c * dv, v.data() + c * vb, dv);
      pos.push_back(static_cast<int32_t>(c));
      seqs.push_back(1);
    }
    kf = dequant(k.data(), kb, dk);
    vf = dequant(v.data(), vb, dv);
  }
  std::vector<float> dequant(const uint8_t* rows, size_t stride, int64_t d) const {
    std::vector<float> out(static_cast<size_t>(n * d));
    for (int64_t c = 0; c < n; ++c) {
      const uint8_t* r = rows + static_cast<size_t>(c) * stride;
      float* o = out.data() + c * d;
      if (type == KvType::kF32) {
        std::memcpy(o, r, static_cast<size_t>(d) * 4);
      } else if (type == KvType::kF16) {
        for (int64_t i = 0; i < d; ++i) {
          uint16_t h;
          std::memcpy(&h, r + 2 * i, 2);
          o[i] = fp16_to_fp32(h);
        }
      } else {
        for (int64_t b = 0; b < d / kQK8_0; ++b) {
          BlockQ8_0 blk;
          std::memcpy(&blk, r + b * sizeof(BlockQ8_0), sizeof blk);
          for (int j = 0; j < kQK8_0; ++j)
            o[b * kQK8_0 + j] = static_cast<float>(blk.qs[j]) * fp16_to_fp32(blk.d);
        }
      }
    }
    return out;
  }
  AttentionKv kv() const {
    AttentionKv a;
    a.k = k.data();
    a.v = v.data();
    a.k_stride = kv_row_bytes(type, dk);
    a.v_stride = kv_row_bytes(type, dv);
    a.cell_pos = pos.data();
    a.cell_seqs = seqs.data();
    a.n_cells = n;
    a.type = type;
    a.head_dim_k = dk;
    a.head_dim_v = dv;
    a.scale = 1.0f / std::sqrt(static_cast<float>(dk));
    return a;
  }
  // softmax(scale * q.k) v over cells with position <= p, in double; `sink` (if not null) is one
  // more logit in the denominator with no value.
  std::vector<double> direct(const float* q, int32_t p, const float* sink = nullptr) const {
    const double scale = 1.0 / std::sqrt(static_cast<double>(dk));
    std::vector<double> s;
    double mx = -1e300;
    for (int64_t c = 0; c <= p && c < n; ++c) {
      double d = 0;
      for (int64_t i = 0; i < dk; ++i) d += double(q[i]) * kf[static_cast<size_t>(c * dk + i)];
      s.push_back(d * scale);
      mx = std::max(mx, s.back());
    }
    if (sink != nullptr) mx = std::max(mx, static_cast<double>(*sink));
    double sum = 0;
    for (double& x : s) sum += (x = std::exp(x - mx));
    if (sink != nullptr) sum += std::exp(static_cast<double>(*sink) - mx);
    std::vector<double> out(static_cast<size_t>(dv), 0.0);
    for (size_t c = 0; c < s.size(); ++c) {
      for (int64_t i = 0; i < dv; ++i) out[static_cast<size_t>(i)] += s[c] / sum * vf[c * dv + i];
    }
    return out;
  }
};

struct Shape {
  KvType type;
  int64_t dk, dv, n_rep, n_cells;
  float softcap = 0.0f;  // > 0: soft-capped scores (compared across Isas and splits only)
  int64_t window = 0;    // > 0: sliding window (likewise)
};

std::string describe(const Shape& s) {
  return std::string(kv_type_name(s.type)) + " dk " + std::to_string(s.dk) + " dv " +
         std::to_string(s.dv) + " n_rep " + std::to_string(s.n_rep) + " cells " +
         std::to_string(s.n_cells) + " softcap " + std::to_string(s.softcap) + " window " +
         std::to_string(s.window);
}

const Shape kShapes[] = {
    {KvType::kF16, 64, 64, 4, 1},
    {KvType::kF16, 64, 64, 4, 65},
    {KvType::kF16, 80, 48, 3, 700},
    {KvType::kF16, 128, 128, 8, 1100},
    {KvType::kF16, 40, 16, 1, 513},
    {KvType::kF32, 96, 80, 2, 577},
    {KvType::kF32, 24, 32, 5, 130},
    {KvType::kQ8_0, 64, 64, 4, 1025},
    {KvType::kQ8_0, 96, 32, 6, 300},
    {KvType::kQ8_0, 128, 128, 1, 64},
    // Single rows of these go through P . V on F16 rows read in place (few matrix rows).
    {KvType::kF16, 256, 256, 2, 600},
    {KvType::kF16, 32, 32, 8, 2100},
    {KvType::kF16, 64, 80, 5, 260},
    {KvType::kF16, 64, 64, 4, 1500, 30.0f, 700},
    {KvType::kQ8_0, 64, 64, 4, 900, 20.0f, 300},
};

std::vector<Isa> all_isas() {
  return supported_isas();  // kScalar first
}

TEST(AttentionSpans, TransposeMatchesTheDefinitionOnEveryIsa) {
  for (Isa isa : all_isas()) {
    const OpsTable& O = ops(isa);
    for (int64_t rows : {1, 7, 8, 9, 64}) {
      for (int64_t cols : {1, 5, 8, 17, 64, 80}) {
        const auto src = random_floats(static_cast<size_t>(rows * (cols + 3)), 11);
        std::vector<float> dst(static_cast<size_t>(cols * (rows + 2)), -7.0f);
        O.transpose(src.data(), cols + 3, dst.data(), rows + 2, rows, cols);
        for (int64_t c = 0; c < cols; ++c) {
          for (int64_t r = 0; r < rows + 2; ++r) {
            const float want = r < rows ? src[static_cast<size_t>(r * (cols + 3) + c)] : -7.0f;
            ASSERT_EQ(dst[static_cast<size_t>(c * (rows + 2) + r)], want)
                << isa_name(isa) << " " << rows << "x" << cols;
          }
        }
      }
    }
  }
}

TEST(AttentionSpans, HalfRowsToFloatTransposedMatchesTheDefinitionOnEveryIsa) {
  for (Isa isa : all_isas()) {
    const OpsTable& O = ops(isa);
    for (int64_t n_rows : {1, 7, 8, 9, 16, 17, 33, 48, 64}) {
      for (int64_t cols : {1, 5, 8, 17, 32, 40, 64, 80, 96, 256}) {
        std::vector<std::vector<uint16_t>> data;
        std::vector<const uint16_t*> rows;
        for (int64_t r = 0; r < n_rows; ++r) {
          const auto f = random_floats(static_cast<size_t>(cols), 20 + static_cast<uint32_t>(r));
          std::vector<uint16_t> h;
          for (float x : f) h.push_back(fp32_to_fp16(x));
          data.push_back(h);
        }
        for (const auto& d : data) rows.push_back(d.data());
        const int64_t ld = n_rows + 3;
        std::vector<float> dst(static_cast<size_t>(cols * ld), -7.0f);
        O.f16_rows_to_f32_t(rows.data(), n_rows, cols, dst.data(), ld);
        for (int64_t c = 0; c < cols; ++c) {
          for (int64_t r = 0; r < ld; ++r) {
            const float want =
                r < n_rows ? fp16_to_fp32(data[static_cast<size_t>(r)][static_cast<size_t>(c)])
                           : -7.0f;
            ASSERT_EQ(dst[static_cast<size_t>(c * ld + r)], want)
                << isa_name(isa) << " " << n_rows << "x" << cols;
          }
        }
      }
    }
  }
}

TEST(AttentionSpans, EveryIsaAndEverySplitGiveTheSameBits) {
  for (const Shape& sh : kShapes) {
    for (const bool with_sinks : {false, true}) {
      SCOPED_TRACE(describe(sh) + (with_sinks ? " with sinks" : ""));
      const Cache cache(sh.type, sh.n_cells, sh.dk, sh.dv, 100 + static_cast<uint32_t>(sh.n_cells));
      AttentionKv kv = cache.kv();
      kv.softcap = sh.softcap;
      kv.window = sh.window;
      // Sinks around the scores' range, so some heads' sinks exceed every score (rescaling the
      // values) and others do not.
      const auto sinks = random_floats(static_cast<size_t>(sh.n_rep), 9, 3.0f);
      if (with_sinks) kv.sinks = sinks.data();
      // Rows at the last positions (a prompt's end) and a few early ones, so rows see different
      // numbers of spans and partly visible tiles.
      std::vector<int32_t> positions;
      for (int64_t p = std::max<int64_t>(0, sh.n_cells - 5); p < sh.n_cells; ++p)
        positions.push_back(static_cast<int32_t>(p));
      for (int32_t p : {0, 63, 64, 511, 512, 700})
        if (p < sh.n_cells) positions.push_back(p);
      const auto n_rows = static_cast<int64_t>(positions.size());
      const auto q = random_floats(static_cast<size_t>(n_rows * sh.n_rep * sh.dk), 7, 2.0f);
      const int64_t out_n = n_rows * sh.n_rep * sh.dv;
      Aligned scratch(attention_scratch_bytes(sh.n_rep, sh.dk, sh.dv));

      auto batch = [&](const OpsTable& O) {
        std::vector<float> out(static_cast<size_t>(out_n));
        std::vector<AttentionQuery> rows;
        for (int64_t i = 0; i < n_rows; ++i) {
          rows.push_back({q.data() + i * sh.n_rep * sh.dk, out.data() + i * sh.n_rep * sh.dv,
                          positions[static_cast<size_t>(i)], 1});
        }
        attend_tiled(O, kv, rows.data(), n_rows, sh.n_rep, scratch.p);
        return out;
      };
      const std::vector<float> ref = batch(ops(Isa::kScalar));
      for (Isa isa : all_isas()) {
        const OpsTable& O = ops(isa);
        const std::vector<float> got = batch(O);
        EXPECT_EQ(std::memcmp(got.data(), ref.data(), ref.size() * 4), 0)
            << isa_name(isa) << ": batch differs from the scalar table";
        // Each row alone, span by span (in reverse order, as threads might), then folded.
        const int64_t n_spans = attention_span_count(kv);
        const int64_t pf = attention_partial_floats(sh.dv);
        for (int64_t i = 0; i < n_rows; ++i) {
          std::vector<float> part(static_cast<size_t>(sh.n_rep * n_spans * pf), NAN);
          std::vector<float> out(static_cast<size_t>(sh.n_rep * sh.dv));
          const AttentionQuery row{q.data() + i * sh.n_rep * sh.dk, out.data(),
                                   positions[static_cast<size_t>(i)], 1};
          for (int64_t sp = n_spans - 1; sp >= 0; --sp) {
            attend_tiled_span(O, kv, &row, 1, sh.n_rep, sp, part.data() + sp * pf, 0, n_spans * pf,
                              scratch.p);
          }
          for (int64_t h = 0; h < sh.n_rep; ++h)
            attend_fold(O, part.data() + h * n_spans * pf, pf, n_spans, sh.dv,
                        with_sinks ? sinks.data() + h : nullptr, out.data() + h * sh.dv);
          EXPECT_EQ(std::memcmp(out.data(), ref.data() + i * sh.n_rep * sh.dv, out.size() * 4), 0)
              << isa_name(isa) << ": row " << i << " (pos " << positions[static_cast<size_t>(i)]
              << ") split into spans differs from the batch";
        }
      }
      // Against the direct softmax over the dequantized cache.
      if (sh.softcap > 0.0f || sh.window > 0) continue;
      for (int64_t i = 0; i < n_rows; ++i) {
        for (int64_t h = 0; h < sh.n_rep; ++h) {
          const auto want =
              cache.direct(q.data() + (i * sh.n_rep + h) * sh.dk, positions[static_cast<size_t>(i)],
                           with_sinks ? sinks.data() + h : nullptr);
          for (int64_t d = 0; d < sh.dv; ++d) {
            ASSERT_NEAR(ref[static_cast<size_t>((i * sh.n_rep + h) * sh.dv + d)],
                        want[static_cast<size_t>(d)], 2e-4)
                << "row " << i << " head " << h << " value " << d;
          }
        }
      }
    }
  }
}

// F16 keys stored as transposed 64-cell tiles (AttentionKv::k_tiles, the runtime's layout for
// tiled-attention contexts) give exactly the bits of the same keys stored as rows: many rows
// (the tile widened to F32 first) and single rows (the tile's rows read in place), span by span,
// and the per-key algorithm. Cells past the end of the last tile hold NaN, which must not leak.
TEST(AttentionSpans, TiledKeysGiveTheBitsOfKeyRows) {
  for (const Shape& sh : kShapes) {
    if (sh.type != KvType::kF16) continue;
    SCOPED_TRACE(describe(sh));
    const Cache cache(sh.type, sh.n_cells, sh.dk, sh.dv, 300 + static_cast<uint32_t>(sh.n_cells));
    AttentionKv rows_kv = cache.kv();
    rows_kv.softcap = sh.softcap;
    rows_kv.window = sh.window;
    const int64_t padded = (sh.n_cells + kAttentionTile - 1) / kAttentionTile * kAttentionTile;
    std::vector<uint16_t> tiles(static_cast<size_t>(padded * sh.dk), 0x7e00);  // NaN
    for (int64_t c = 0; c < sh.n_cells; ++c) {
      for (int64_t d = 0; d < sh.dk; ++d) {
        uint16_t h;
        std::memcpy(&h, cache.k.data() + (c * sh.dk + d) * 2, 2);
        tiles[static_cast<size_t>((c / 64) * 64 * sh.dk + d * 64 + c % 64)] = h;
      }
    }
    AttentionKv tiled_kv = rows_kv;
    tiled_kv.k = reinterpret_cast<const uint8_t*>(tiles.data());
    tiled_kv.k_tiles = true;

    std::vector<int32_t> positions;
    for (int64_t p = std::max<int64_t>(0, sh.n_cells - 12); p < sh.n_cells; ++p)
      positions.push_back(static_cast<int32_t>(p));
    for (int32_t p : {0, 63, 64, 511, 700})
      if (p < sh.n_cells) positions.push_back(p);
    const auto n_rows = static_cast<int64_t>(positions.size());
    const auto q = random_floats(static_cast<size_t>(n_rows * sh.n_rep * sh.dk), 8, 2.0f);
    const int64_t per_row = sh.n_rep * sh.dv;
    Aligned scratch(attention_scratch_bytes(sh.n_rep, sh.dk, sh.dv));
    for (Isa isa : all_isas()) {
      const OpsTable& O = ops(isa);
      auto run = [&](const AttentionKv& kv, int64_t first, int64_t count) {
        std::vector<float> out(static_cast<size_t>(count * per_row));
        std::vector<AttentionQuery> rows;
        for (int64_t i = 0; i < count; ++i) {
          rows.push_back({q.data() + (first + i) * sh.n_rep * sh.dk, out.data() + i * per_row,
                          positions[static_cast<size_t>(first + i)], 1});
        }
        attend_tiled(O, kv, rows.data(), count, sh.n_rep, scratch.p);
        return out;
      };
      const auto want = run(rows_kv, 0, n_rows);
      EXPECT_EQ(std::memcmp(run(tiled_kv, 0, n_rows).data(), want.data(), want.size() * 4), 0)
          << isa_name(isa) << ": a batch of rows";
      for (int64_t i = 0; i < n_rows; ++i) {
        const auto got = run(tiled_kv, i, 1);
        ASSERT_EQ(std::memcmp(got.data(), want.data() + i * per_row, got.size() * 4), 0)
            << isa_name(isa) << ": row " << i << " alone";
        std::vector<float> a(static_cast<size_t>(per_row)), b(static_cast<size_t>(per_row));
        const AttentionQuery qa{q.data() + i * sh.n_rep * sh.dk, a.data(),
                                positions[static_cast<size_t>(i)], 1};
        AttentionQuery qb = qa;
        qb.out = b.data();
        attend_per_key(O, rows_kv, qa, sh.n_rep, scratch.p);
        attend_per_key(O, tiled_kv, qb, sh.n_rep, scratch.p);
        ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0)
            << isa_name(isa) << ": per-key row " << i;
      }
    }
  }
}

}  // namespace
}  // namespace ember::kernels
