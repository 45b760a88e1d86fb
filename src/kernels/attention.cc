#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"

namespace ember::kernels {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Matrix rows (query rows x heads) up to which P . V reads F16 values without a conversion pass.
constexpr int64_t kDirectValueRows = 8;

size_t align64(size_t n) {
  return (n + 63) & ~size_t{63};
}

// What all cells of a tile share, to decide visibility for whole tiles at once.
struct TileInfo {
  int64_t c0 = 0, c1 = 0;
  uint64_t seqs = 0;     // the common sequence mask, when `uniform`
  bool uniform = false;  // every cell is used and has the same sequence mask
  int32_t pos_min = 0, pos_max = 0;
};

TileInfo tile_info(const AttentionKv& kv, int64_t c0, int64_t c1) {
  TileInfo t;
  t.c0 = c0;
  t.c1 = c1;
  t.seqs = kv.cell_seqs[c0];
  // Branch-free over the whole tile (the compiler vectorizes it): every tile of every head's
  // task asks, so this runs once per 64 cells per key/value head.
  uint64_t diff = 0;
  int32_t lo = kv.cell_pos[c0], hi = lo;
  for (int64_t c = c0 + 1; c < c1; ++c) {
    diff |= kv.cell_seqs[c] ^ t.seqs;
    lo = std::min(lo, kv.cell_pos[c]);
    hi = std::max(hi, kv.cell_pos[c]);
  }
  t.uniform = t.seqs != 0 && diff == 0;
  t.pos_min = lo;
  t.pos_max = hi;
  return t;
}

// Bit j of the result: cell c0 + j is visible to the query.
uint64_t visible_cells(const AttentionKv& kv, const TileInfo& t, int32_t pos, uint64_t seq) {
  const int64_t min_pos = kv.window > 0 ? static_cast<int64_t>(pos) - kv.window + 1
                                        : std::numeric_limits<int64_t>::min();
  const int64_t n = t.c1 - t.c0;
  if (t.uniform) {
    // Whole-tile answers for the common cases: all visible, or none.
    if ((t.seqs & seq) == 0 || t.pos_min > pos || t.pos_max < min_pos) return 0;
    if (t.pos_max <= pos && t.pos_min >= min_pos)
      return n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
  }
  uint64_t bits = 0;
  for (int64_t c = t.c0; c < t.c1; ++c) {
    const int32_t p = kv.cell_pos[c];
    if ((kv.cell_seqs[c] & seq) != 0 && p <= pos && p >= min_pos) bits |= uint64_t{1} << (c - t.c0);
  }
  return bits;
}

// Scale and soft-cap one score the way the reference does (the scale divided by the cap first).
inline float finish_score(const AttentionKv& kv, float dot) {
  if (kv.softcap > 0.0f) return kv.softcap * std::tanh(dot * (kv.scale / kv.softcap));
  return dot * kv.scale;
}

// Reference Q8_0 quantization of a query row (round half to even), and the block dot product.
void quantize_q8_0_rne(const float* x, BlockQ8_0* out, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* xb = x + b * kQK8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    out[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) out[b].qs[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
  }
}

float dot_q8_0(const BlockQ8_0* q, const uint8_t* k_row, int64_t n) {
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const auto kb = load_block<BlockQ8_0>(k_row, b);
    int32_t sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += static_cast<int32_t>(kb.qs[j]) * q[b].qs[j];
    sum = std::fma(static_cast<float>(sumi), fp16_to_fp32(kb.d) * fp16_to_fp32(q[b].d), sum);
  }
  return sum;
}

// Asks for bytes [p, p + n) to be brought into the cache (L2) ahead of use: the key/value rows
// of the next tile (contiguous in the runtime's head-major cache; n-byte pieces k_stride apart
// where a caller interleaves heads).
inline void prefetch_bytes(const uint8_t* p, size_t n) {
  const auto first = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63};
  const auto last = reinterpret_cast<uintptr_t>(p + n - 1);
  for (uintptr_t a = first; a <= last; a += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(a), 0, 2);
}

// Tiles visited: the explicit list, or all of [0, n_cells) in ascending order.
int64_t tile_count(const AttentionKv& kv) {
  return kv.tiles != nullptr ? kv.n_tiles : (kv.n_cells + kAttentionTile - 1) / kAttentionTile;
}
int64_t tile_start(const AttentionKv& kv, int64_t i) {
  return (kv.tiles != nullptr ? static_cast<int64_t>(kv.tiles[i]) : i) * kAttentionTile;
}

}  // namespace

bool attention_tiled_supported(KvType type, int64_t head_dim_v) {
  (void)type;  // F16 and F32 rows are converted, Q8_0 rows dequantized, to F32 per tile
  return head_dim_v % 16 == 0;
}

int64_t attention_span_count(const AttentionKv& kv) {
  return (tile_count(kv) + kAttentionSpanTiles - 1) / kAttentionSpanTiles;
}

namespace {

// Bytes of attend_tiled_span's scratch.
size_t span_scratch_bytes(int64_t n_rep, int64_t dk, int64_t dv) {
  const size_t rows = static_cast<size_t>(kAttentionRowTile * n_rep);
  const size_t t = static_cast<size_t>(kAttentionTile);
  size_t b = 0;
  b += align64(rows * static_cast<size_t>(dk) * 4);         // Q
  b += align64(t * static_cast<size_t>(dk) * 4);            // K tile [cell][dk]
  b += align64(static_cast<size_t>(dk) * t * 4);            // K tile, transposed [dk][cell]
  b += align64(t * static_cast<size_t>(dv) * 4);            // V tile
  b += align64(rows * t * 4);                               // scores
  b += align64(rows * static_cast<size_t>(dv) * 4);         // accumulators
  b += align64(rows * 2 * 4);                               // running max and sum
  b += align64(static_cast<size_t>(std::max(dk, dv)) * 2);  // a zero F16 key or value row
  b += align64(static_cast<size_t>(dk) * sizeof(void*));    // row pointers of a key tile
  return b;
}

// One cache row as F32 (F16 widened, Q8_0 dequantized: d * q, as the reference does).
void row_to_f32(const OpsTable& ops, KvType type, const uint8_t* row, float* out, int64_t n) {
  switch (type) {
    case KvType::kF16:
      ops.f16_to_f32(reinterpret_cast<const uint16_t*>(row), out, n);
      break;
    case KvType::kF32:
      std::memcpy(out, row, static_cast<size_t>(n) * 4);
      break;
    case KvType::kQ8_0:
      ops.q8_0_to_f32(row, out, n);
      break;
  }
}

// Folds partial p (m, s, accumulators) into the state (m, s, acc): the one place where spans
// meet, shared by attend_tiled and attend_fold so both give the same bits.
void fold_partial(const OpsTable& ops, float& m, float& s, float* acc, const float* p, int64_t dv) {
  const float pm = p[0];
  if (pm == kNegInf) return;  // the span saw nothing
  if (m == kNegInf) {
    m = pm;
    s = p[1];
    std::memcpy(acc, p + 2, static_cast<size_t>(dv) * 4);
    return;
  }
  const float mn = std::max(m, pm);
  const float a = std::exp(m - mn), b = std::exp(pm - mn);
  s = std::fma(s, a, p[1] * b);
  ops.scale(acc, a, dv);
  ops.f32_mad(acc, p + 2, b, dv);
  m = mn;
}

// An attention sink: a logit with no value that joins the denominator, after the cells (the
// accumulated output `out` is rescaled when the sink is the new maximum).
void add_sink(const OpsTable& ops, float sink, float m, float& s_sum, float* out, int64_t dv) {
  float ms = 1.0f, vs = 1.0f;
  if (sink > m) {
    ms = std::exp(m - sink);
    ops.scale(out, ms, dv);
  } else {
    vs = std::exp(sink - m);
  }
  s_sum = std::fma(s_sum, ms, vs);
}

// Normalises a row whose cells are all folded (running maximum m, sum s, unnormalised values in
// out). The sink, if any, joins here, once, after every span: so where spans are folded (one
// call, or partials spread over threads) never changes the bits.
void finish_row(const OpsTable& ops, float m, float s, const float* sink, float* out, int64_t dv) {
  if (sink != nullptr) add_sink(ops, *sink, m, s, out, dv);
  ops.scale(out, s == 0.0f ? 0.0f : 1.0f / s, dv);
}

}  // namespace

size_t attention_scratch_bytes(int64_t n_rep, int64_t dk, int64_t dv) {
  const size_t rows = static_cast<size_t>(kAttentionRowTile * n_rep);
  const size_t partial = static_cast<size_t>(attention_partial_floats(dv)) * 4;
  // attend_tiled: one span's partials and the folded state, then the span's scratch.
  const size_t tiled = 2 * align64(rows * partial) + span_scratch_bytes(n_rep, dk, dv);
  size_t per_key = 0;
  per_key += align64(static_cast<size_t>(dk) * 4);                               // query
  per_key += align64(static_cast<size_t>(dk / kQK8_0 + 1) * sizeof(BlockQ8_0));  // Q8_0 query
  per_key += align64(static_cast<size_t>(dv) * 4);                               // accumulator
  per_key += align64(static_cast<size_t>(dv) * 4);                               // value row
  per_key += align64(static_cast<size_t>(dk) * 2);  // a key row gathered from a tile
  return std::max(tiled, per_key);
}

void attend_per_key(const OpsTable& ops, const AttentionKv& kv, const AttentionQuery& query,
                    int64_t n_rep, void* scratch) {
  const int64_t dk = kv.head_dim_k, dv = kv.head_dim_v;
  auto* base = static_cast<uint8_t*>(scratch);
  auto* qf = reinterpret_cast<float*>(base);
  base += align64(static_cast<size_t>(dk) * 4);
  auto* q8 = reinterpret_cast<BlockQ8_0*>(base);
  base += align64(static_cast<size_t>(dk / kQK8_0 + 1) * sizeof(BlockQ8_0));
  auto* acc32 = reinterpret_cast<float*>(base);
  auto* acc16 = reinterpret_cast<uint16_t*>(base);
  base += align64(static_cast<size_t>(dv) * 4);
  auto* vrow = reinterpret_cast<float*>(base);
  base += align64(static_cast<size_t>(dv) * 4);
  auto* kgather = reinterpret_cast<uint16_t*>(base);

  for (int64_t r = 0; r < n_rep; ++r) {
    const float* q = query.q + r * dk;
    float* out = query.out + r * dv;
    switch (kv.type) {
      case KvType::kF16:
        for (int64_t i = 0; i < dk; ++i) qf[i] = fp16_to_fp32(fp32_to_fp16(q[i]));
        std::memset(acc16, 0, static_cast<size_t>(dv) * 2);
        break;
      case KvType::kF32:
        std::memcpy(qf, q, static_cast<size_t>(dk) * 4);
        std::memset(acc32, 0, static_cast<size_t>(dv) * 4);
        break;
      case KvType::kQ8_0:
        quantize_q8_0_rne(q, q8, dk);
        std::memset(acc32, 0, static_cast<size_t>(dv) * 4);
        break;
    }
    float m = kNegInf, s_sum = 0.0f;
    const int64_t n_tiles = tile_count(kv);
    for (int64_t ti = 0; ti < n_tiles; ++ti) {
      const int64_t c0 = tile_start(kv, ti);
      const int64_t c1 = std::min(kv.n_cells, c0 + kAttentionTile);
      if (c1 <= c0) continue;
      uint64_t bits = visible_cells(kv, tile_info(kv, c0, c1), query.pos, query.seq_mask);
      while (bits != 0) {
        const int64_t c = c0 + __builtin_ctzll(bits);
        bits &= bits - 1;
        const uint8_t* krow = kv.k + static_cast<size_t>(c) * kv.k_stride;
        if (kv.k_tiles) {  // the cell's column of its tile
          const auto* plane = reinterpret_cast<const uint16_t*>(kv.k);
          for (int64_t i = 0; i < dk; ++i) kgather[i] = plane[tiled_key_index(dk, c, i)];
          krow = reinterpret_cast<const uint8_t*>(kgather);
        }
        const uint8_t* vr = kv.v + static_cast<size_t>(c) * kv.v_stride;
        float dot;
        switch (kv.type) {
          case KvType::kF16:
            dot = ops.dot_f16(qf, reinterpret_cast<const uint16_t*>(krow), dk);
            break;
          case KvType::kF32:
            dot = ops.dot_f32(qf, reinterpret_cast<const float*>(krow), dk);
            break;
          default:
            dot = dot_q8_0(q8, krow, dk);
            break;
        }
        const float s = finish_score(kv, dot);
        // A new maximum rescales what was accumulated; otherwise the cell's weight is
        // exp(s - max).
        float ms = 1.0f, vs = 1.0f;
        if (s > m) {
          ms = std::exp(m - s);
          m = s;
          if (kv.type == KvType::kF16) {
            ops.f16_scale(acc16, ms, dv);
          } else {
            ops.scale(acc32, ms, dv);
          }
        } else {
          vs = std::exp(s - m);
        }
        switch (kv.type) {
          case KvType::kF16:
            ops.f16_mad(acc16, reinterpret_cast<const uint16_t*>(vr), vs, dv);
            break;
          case KvType::kF32:
            ops.f32_mad(acc32, reinterpret_cast<const float*>(vr), vs, dv);
            break;
          default:
            for (int64_t b = 0; b < dv / kQK8_0; ++b) {
              const auto vb = load_block<BlockQ8_0>(vr, b);
              const float d = fp16_to_fp32(vb.d);
              for (int j = 0; j < kQK8_0; ++j)
                vrow[b * kQK8_0 + j] = static_cast<float>(vb.qs[j]) * d;
            }
            ops.f32_mad(acc32, vrow, vs, dv);
            break;
        }
        s_sum = std::fma(s_sum, ms, vs);
      }
    }
    if (kv.type == KvType::kF16) {
      for (int64_t i = 0; i < dv; ++i) out[i] = fp16_to_fp32(acc16[i]);
    } else {
      std::memcpy(out, acc32, static_cast<size_t>(dv) * 4);
    }
    finish_row(ops, m, s_sum, kv.sinks != nullptr ? kv.sinks + r : nullptr, out, dv);
  }
}

void attend_tiled_span(const OpsTable& ops, const AttentionKv& kv, const AttentionQuery* rows,
                       int64_t n_rows, int64_t n_rep, int64_t span, float* partial,
                       int64_t row_stride, int64_t head_stride, void* scratch) {
  const int64_t dk = kv.head_dim_k, dv = kv.head_dim_v;
  const int64_t T = kAttentionTile;
  const int64_t m_rows = n_rows * n_rep;  // one matrix row per (query row, head)
  auto* base = static_cast<uint8_t*>(scratch);
  auto take = [&](size_t bytes) {
    float* p = reinterpret_cast<float*>(base);
    base += align64(bytes);
    return p;
  };
  float* qm = take(static_cast<size_t>(kAttentionRowTile * n_rep * dk) * 4);
  float* kc = take(static_cast<size_t>(T * dk) * 4);
  float* kt = take(static_cast<size_t>(dk * T) * 4);
  float* vt = take(static_cast<size_t>(T * dv) * 4);
  float* kq = take(static_cast<size_t>(kAttentionRowTile * n_rep * T) * 4);
  float* acc = take(static_cast<size_t>(kAttentionRowTile * n_rep * dv) * 4);
  float* state = take(static_cast<size_t>(kAttentionRowTile * n_rep * 2) * 4);
  float* m = state;
  float* s_sum = state + m_rows;
  // F16 keys (and values, for few rows): row pointers for the one-pass conversion, unused
  // cells pointing at zeros.
  const size_t zero_bytes = static_cast<size_t>(std::max(dk, dv)) * 2;
  auto* zero_row = reinterpret_cast<uint16_t*>(take(zero_bytes));
  std::memset(zero_row, 0, zero_bytes);
  const uint16_t* krows[kAttentionTile];
  const uint16_t* vrows[kAttentionTile];
  // Tiled keys: the rows of the transposed tile ([dk][64]) for a score GEMM that reads them in
  // place.
  const bool k_tiles = kv.k_tiles && kv.type == KvType::kF16;
  auto** ktrows = reinterpret_cast<const uint16_t**>(take(static_cast<size_t>(dk) * sizeof(void*)));
  // Few matrix rows (decoding: one query row's n_rep heads): P . V reads the F16 value rows
  // straight from the cache (gemm_acc_f16b), instead of converting the tile first: the same
  // FMA chains, so the same bits as the many-row path. With many rows the conversion pass is
  // shared by all of them and stays.
  const bool f16 = kv.type == KvType::kF16;
  const bool direct_v = f16 && m_rows <= kDirectValueRows;

  for (int64_t i = 0; i < n_rows; ++i) {
    std::memcpy(qm + i * n_rep * dk, rows[i].q, static_cast<size_t>(n_rep * dk) * 4);
  }
  std::memset(acc, 0, static_cast<size_t>(m_rows * dv) * 4);
  for (int64_t r = 0; r < m_rows; ++r) {
    m[r] = kNegInf;
    s_sum[r] = 0.0f;
  }
  uint64_t vis[kAttentionRowTile];

  const int64_t t_begin = span * kAttentionSpanTiles;
  const int64_t t_end = std::min(tile_count(kv), t_begin + kAttentionSpanTiles);
  const size_t k_bytes = kv_row_bytes(kv.type, dk), v_bytes = kv_row_bytes(kv.type, dv);
  auto prefetch_tile = [&](int64_t ti) {
    const int64_t p0 = tile_start(kv, ti);
    const int64_t p1 = std::min(kv.n_cells, p0 + T);
    if (p1 <= p0) return;
    if (kv.k_stride == k_bytes && kv.v_stride == v_bytes) {  // one run of rows each
      const int64_t k_cells = k_tiles ? T : p1 - p0;         // a transposed tile: all of it
      prefetch_bytes(kv.k + static_cast<size_t>(p0) * k_bytes,
                     static_cast<size_t>(k_cells) * k_bytes);
      prefetch_bytes(kv.v + static_cast<size_t>(p0) * v_bytes,
                     static_cast<size_t>(p1 - p0) * v_bytes);
      return;
    }
    for (int64_t c = p0; c < p1; ++c) {
      prefetch_bytes(kv.k + static_cast<size_t>(c) * kv.k_stride, k_bytes);
      prefetch_bytes(kv.v + static_cast<size_t>(c) * kv.v_stride, v_bytes);
    }
  };
  if (t_begin < t_end) prefetch_tile(t_begin);
  for (int64_t ti = t_begin; ti < t_end; ++ti) {
    if (ti + 1 < t_end) prefetch_tile(ti + 1);  // while this tile computes
    const int64_t c0 = tile_start(kv, ti);
    const int64_t c1 = std::min(kv.n_cells, c0 + T);
    if (c1 <= c0) continue;
    uint64_t any = 0;
    const TileInfo info = tile_info(kv, c0, c1);
    for (int64_t i = 0; i < n_rows; ++i) {
      vis[i] = visible_cells(kv, info, rows[i].pos, rows[i].seq_mask);
      any |= vis[i];
    }
    if (any == 0) continue;
    // K tile as F32 [T][dk], transposed to [dk][T], and V tile [T][dv]; cells no row sees are
    // zero so they add exact zeros below (the cache may hold garbage there).
    for (int64_t j = 0; j < T; ++j) {
      const int64_t c = c0 + j;
      const bool used = c < c1 && ((any >> j) & 1) != 0;
      if (!used) {
        if (k_tiles) {
          // Read in place: the scores of cells no row sees are masked below.
        } else if (f16) {
          krows[j] = zero_row;
        } else {
          std::memset(kc + j * dk, 0, static_cast<size_t>(dk) * 4);
        }
        if (direct_v) {
          vrows[j] = zero_row;
        } else {
          std::memset(vt + j * dv, 0, static_cast<size_t>(dv) * 4);
        }
        continue;
      }
      const uint8_t* krow = kv.k + static_cast<size_t>(c) * kv.k_stride;
      const uint8_t* vrow = kv.v + static_cast<size_t>(c) * kv.v_stride;
      if (k_tiles) {
        // Read below as the tile's rows.
      } else if (f16) {
        krows[j] = reinterpret_cast<const uint16_t*>(krow);
      } else {
        row_to_f32(ops, kv.type, krow, kc + j * dk, dk);
      }
      if (direct_v) {
        vrows[j] = reinterpret_cast<const uint16_t*>(vrow);
      } else {
        row_to_f32(ops, kv.type, vrow, vt + j * dv, dv);
      }
    }
    // Scores [m_rows][T] = Q K^T, each an FMA chain over the head dimension (the same chains
    // whichever way K^T is read).
    std::memset(kq, 0, static_cast<size_t>(m_rows * T) * 4);
    if (k_tiles) {
      const auto* tile =
          reinterpret_cast<const uint16_t*>(kv.k + static_cast<size_t>(c0) * kv.k_stride);
      if (m_rows <= kDirectValueRows) {
        for (int64_t d = 0; d < dk; ++d) ktrows[d] = tile + d * T;
        ops.gemm_acc_f16b(kq, T, qm, dk, ktrows, m_rows, dk, T);
      } else {
        ops.f16_to_f32(tile, kt, dk * T);  // already [dk][T]
        ops.gemm_acc(kq, T, qm, dk, kt, T, m_rows, dk, T);
      }
    } else {
      if (f16) {
        ops.f16_rows_to_f32_t(krows, T, dk, kt, T);  // converted and transposed in one pass
      } else {
        ops.transpose(kc, dk, kt, T, T, dk);
      }
      ops.gemm_acc(kq, T, qm, dk, kt, T, m_rows, dk, T);
    }
    for (int64_t i = 0; i < n_rows; ++i) {
      for (int64_t h = 0; h < n_rep; ++h) {
        const int64_t r = i * n_rep + h;
        float* row = kq + r * T;
        if (kv.softcap > 0.0f) {
          const float sc = kv.scale / kv.softcap;
          for (int64_t j = 0; j < T; ++j) row[j] = std::tanh(row[j] * sc) * kv.softcap;
        } else {
          ops.scale(row, kv.scale, T);
        }
        if (vis[i] != ~uint64_t{0}) {
          for (int64_t j = 0; j < T; ++j) {
            if (((vis[i] >> j) & 1) == 0) row[j] = kNegInf;
          }
        }
        const float tile_max = ops.max(row, T);
        if (tile_max == kNegInf) {
          std::memset(row, 0, static_cast<size_t>(T) * 4);  // contributes nothing
          continue;
        }
        const float m_new = std::max(m[r], tile_max);
        if (m_new > m[r]) {
          const float ms = std::exp(m[r] - m_new);
          ops.scale(acc + r * dv, ms, dv);
          s_sum[r] *= ms;
        }
        m[r] = m_new;
        s_sum[r] = static_cast<float>(static_cast<double>(s_sum[r]) + ops.softmax(row, m_new, T));
      }
    }
    // Values: acc[m_rows][dv] += P V, FMA chains over the tile's cells.
    if (direct_v) {
      ops.gemm_acc_f16b(acc, dv, kq, T, vrows, m_rows, T, dv);
    } else {
      ops.gemm_acc(acc, dv, kq, T, vt, dv, m_rows, T, dv);
    }
  }
  for (int64_t i = 0; i < n_rows; ++i) {
    for (int64_t h = 0; h < n_rep; ++h) {
      const int64_t r = i * n_rep + h;
      float* p = partial + i * row_stride + h * head_stride;
      p[0] = m[r];
      p[1] = s_sum[r];
      std::memcpy(p + 2, acc + r * dv, static_cast<size_t>(dv) * 4);
    }
  }
}

void attend_fold(const OpsTable& ops, const float* partials, int64_t span_stride, int64_t n_spans,
                 int64_t head_dim_v, const float* sink, float* out) {
  float m = kNegInf, s = 0.0f;
  std::memset(out, 0, static_cast<size_t>(head_dim_v) * 4);
  for (int64_t i = 0; i < n_spans; ++i)
    fold_partial(ops, m, s, out, partials + i * span_stride, head_dim_v);
  finish_row(ops, m, s, sink, out, head_dim_v);
}

void attend_tiled(const OpsTable& ops, const AttentionKv& kv, const AttentionQuery* rows,
                  int64_t n_rows, int64_t n_rep, void* scratch) {
  const int64_t dv = kv.head_dim_v;
  const int64_t pf = attention_partial_floats(dv);
  const int64_t m_rows = n_rows * n_rep;
  const size_t part_bytes = align64(static_cast<size_t>(kAttentionRowTile * n_rep * pf) * 4);
  auto* base = static_cast<uint8_t*>(scratch);
  auto* part = reinterpret_cast<float*>(base);
  auto* folded = reinterpret_cast<float*>(base + part_bytes);  // per row-head: m, s, acc
  void* span_scratch = base + 2 * part_bytes;
  for (int64_t r = 0; r < m_rows; ++r) {
    float* f = folded + r * pf;
    f[0] = kNegInf;
    f[1] = 0.0f;
    std::memset(f + 2, 0, static_cast<size_t>(dv) * 4);
  }
  const int64_t n_spans = attention_span_count(kv);
  for (int64_t sp = 0; sp < n_spans; ++sp) {
    attend_tiled_span(ops, kv, rows, n_rows, n_rep, sp, part, n_rep * pf, pf, span_scratch);
    for (int64_t r = 0; r < m_rows; ++r) {
      float* f = folded + r * pf;
      fold_partial(ops, f[0], f[1], f + 2, part + r * pf, dv);
    }
  }
  for (int64_t i = 0; i < n_rows; ++i) {
    for (int64_t h = 0; h < n_rep; ++h) {
      const float* f = folded + (i * n_rep + h) * pf;
      float* out = rows[i].out + h * dv;
      std::memcpy(out, f + 2, static_cast<size_t>(dv) * 4);
      finish_row(ops, f[0], f[1], kv.sinks != nullptr ? kv.sinks + h : nullptr, out, dv);
    }
  }
}

}  // namespace ember::kernels
