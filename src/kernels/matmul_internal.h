// Internal pieces of the matmul kernels shared between the dispatch (matmul.cc), the scalar
// reference (matmul_scalar.cc), the weight packing (pack.cc) and the per-ISA kernels (x86/).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/act_layout.h"
#include "kernels/matmul.h"
#include "tensor/tensor_type.h"

namespace ember::kernels {

// ---- scalar reference ---------------------------------------------------------------------

// Converts activations exactly as the reference formats define (used by every Isa: the SIMD
// converters must produce the same bytes).
void convert_activations_scalar(TensorType weight_type, const float* x, int64_t n_tokens,
                                int64_t cols, void* out);

// Pieces of the conversion, for SIMD converters that handle unusual blocks (non-finite values)
// with the scalar code. `x` and `out` are one token's input and output; b is the block index.
void convert_q8_0_block(const ActLayout& l, const float* x, uint8_t* out, int64_t b);
void convert_q8_k_block(const ActLayout& l, const float* x, uint8_t* out, int64_t b);
// Stores block b's scale (fp16-rounded) and bias (Q8_0) or fp16-rounded d * sum (Q8_1) given
// the unrounded d and the code sum.
void store_q8_scales(const ActLayout& l, uint8_t* out, int64_t b, float d, int32_t sum);
// Stores d and the 16- and 32-code sums of Q8_K block b (its codes already in `out`).
void store_q8_k_sums(const ActLayout& l, uint8_t* out, int64_t b, float d);

// y[t][r] for the unpacked weights `w`: per block an exact integer dot product of the codes, then
// F32 accumulation over blocks in order (plain F32 sums for F32/F16/BF16 weights).
void matmul_scalar(const Weights& w, const void* act, int64_t n_tokens, float* y, int64_t ldy,
                   int64_t row_begin, int64_t row_end);

// ---- F32 weights (matmul_f32.cc) -----------------------------------------------------------
//
// F32 weights are not packed: every Isa reads the rows in place and computes each output with
// the reference's float summation order, so all Isas give the same bits:
//  - "gemm" order (cols % 16 == 0 and rows % 4 == 0, the shapes the reference's tiled float GEMM
//    takes): 16 lane sums, lane l an FMA chain over columns l, l + 16, l + 32, ... (from 0), then
//    reduce16 (lanes l + 8 added to l, then l + 4, then (0 + 2) + (1 + 3));
//  - "vec" order (other shapes): four such 16-lane chains over each 64 columns, combined
//    (0 + 2, 1 + 3, then the two) and reduced the same way, then an FMA chain over the last
//    cols % 64 columns.
bool f32_gemm_order(const Weights& w);
// The 16-lane reduction tree of the "gemm" and "vec" orders.
float f32_reduce16(const float* lanes);
// One output of each order (w: a weight row, x: an activation row).
float f32_dot_gemm_order(const float* w, const float* x, int64_t cols);
float f32_dot_vec_order(const float* w, const float* x, int64_t cols);
// y[t * ldy + r] for F32 weights; `act` follows act_layout(kF32, w.cols). SIMD where the Isa has
// a kernel (the "gemm" order), the scalar code otherwise.
void matmul_f32(Isa isa, const Weights& w, const void* act, int64_t n_tokens, float* y, int64_t ldy,
                int64_t row_begin, int64_t row_end);
// The SIMD kernels' signature: rows [row_begin, row_end) of w in the "gemm" order; x_stride is
// the distance between tokens' activation rows, in floats.
using F32GemmKernel = void (*)(const Weights& w, const float* x, int64_t x_stride, int64_t n_tokens,
                               float* y, int64_t ldy, int64_t row_begin, int64_t row_end);

// ---- the reference numerics mode (WeightForm::kReferenceOrder; matmul_reference.cc) -------
//
// Q8_0 and MXFP4 weights are read in place (not packed) and multiplied in the reference's x86
// order: its build (vector dot and tiled GEMM alike) keeps 8 partial sums in vector lanes. For
// Q8_0 weights and activations: per block b, s = fp16(w.d) * a.d and the 8 exact integer sums
// of 4 consecutive code products (columns 4l .. 4l + 3 of the block for lane l); lane l is an
// FMA chain acc[l] = fma(s, sum_l, acc[l]) over the blocks in order (from 0); the result is
// ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)). Every Isa computes exactly this (the integer sums
// are exact, the float steps the same), whatever the token count and row range.
float q8_0_reduce8(const float* lanes);
// One output: w a Q8_0 weight row (GGUF blocks), q the token's activation codes and d its float
// block scales as bytes (act_layout kQ8_0), n_blocks = cols / 32.
float q8_0_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks);
// MXFP4 weights (the reference's AVX2 ggml_vec_dot_mxfp4_q8_0 order), Q8_0 activations: the
// lanes as for Q8_0 with the doubled E2M1 values as codes and s = a.d * 2^(e - 128), but two
// sets of 8 lanes: blocks 0, 2, 4, ... chain into the first, 1, 3, 5, ... into the second; the
// sets are added lane by lane and reduced by the same tree; when the block count is odd, the
// last block's exact 32-product integer sum joins as fma(s, sum, result).
float mxfp4_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks);
// Q5_0 weights (the reference's AVX2 ggml_vec_dot_q5_0_q8_0, and its tiled GEMM for batches),
// Q8_0 activations: the Q8_0 lanes with the 5-bit codes minus 16 as weight codes.
float q5_0_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks);
// Q5_1 weights (the reference's AVX2 ggml_vec_dot_q5_1_q8_1; not repacked, not in its tiled GEMM),
// Q8_1 activations (q codes, float d[] and s[] as bytes; act_layout kQ8_1): the Q8_0 lanes with
// the unsigned 5-bit codes and s = fp16(w.d) * a.d, plus a separate float chain over the blocks,
// summs = fma(fp16(w.m), a.s, summs) (GCC's default contraction of the reference's
// `summs += m * s` with FMA available; the goldens do not tell fused and unfused apart);
// the result is reduce8(lanes) + summs.
float q5_1_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, const uint8_t* s,
                     int64_t n_blocks);
// Q5_K weights (the reference's AVX2 ggml_vec_dot_q5_K_q8_K; x86 does not repack Q5_K), Q8_K
// activations (bsum32: the int16 32-code sums as bytes): per super-block 8 exact integer lanes,
// lane l holding the elements e with (e mod 32) / 4 == l, each as scale[e / 32] * code * x, and
// the exact imin = sum_j min_j * bsum32_j; lane l is an FMA chain acc[l] = fma(d_b * fp16(d),
// sum_l, acc[l]); summs = fma(-(d_b * fp16(dmin)), imin, summs) (fused like Q5_1's); the
// result is reduce8(lanes) + summs.
float q5_k_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, const uint8_t* bsum32,
                     int64_t n_blocks);
// Q4_K weights as the reference's x86 build multiplies them after repacking 8 rows together
// (its AVX2 gemv / gemm "q4_K_8x8_q8_K", used for matrices whose row count is a multiple of 8),
// Q8_K activations (q codes, float d[] as bytes; act_layout kQ8_K): per super-block b the exact
// integers isc = sum_j scale_j * dot(q4 of sub-block j, x) and imin = sum_j min_j * sum(x of
// sub-block j); two FMA chains over the super-blocks in order, acc = fma(isc, fp16(d) * d_b,
// acc) and acc_min = fma(imin, fp16(dmin) * d_b, acc_min); the result is acc - acc_min.
float q4_k_dot_repacked(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks);
// Q6_K weights (the reference's AVX2 ggml_vec_dot_q6_K_q8_K; no x86 repacking), Q8_K
// activations: per super-block, 8 exact integer lane sums, lane l holding the elements e with
// (e mod 32) / 4 == l, each as scale[e / 16] * (q6 - 32) * x; lane l is an FMA chain
// acc[l] = fma(fp16(d) * d_b, sum_l, acc[l]); reduced by the Q8_0 tree.
float q6_k_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks);

// ---- packed weights (the layout of the x86 SIMD kernels) ------------------------------------
//
// Rows are packed in groups of kPackRows (16) consecutive rows; the last group is padded with
// zero rows. Within a group the data of one block of all 16 rows is interleaved so that one
// 64-byte vector holds, per row, the codes of 4 consecutive columns (one 32-bit lane per row),
// which is what an int8 dot-product instruction (vpdpbusd) consumes with the activations'
// four codes broadcast. The exact layouts per type are documented in pack.cc.
inline constexpr int64_t kPackRows = 16;

// True when `type` has a packed layout.
bool packable(TensorType type);
// Bytes of one packed group of kPackRows rows of `cols` columns.
size_t packed_group_bytes(TensorType type, int64_t cols);
// Packs row groups [g_begin, g_end) of `w` into dst (packed_group_bytes each, back to back).
void pack_groups(const Weights& w, int64_t g_begin, int64_t g_end, uint8_t* dst);

// A packed matrix (or a window of one): group 0 holds rows 0..15 of the view.
struct PackedView {
  TensorType type = TensorType::kF32;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  size_t group_bytes = 0;
};

// Computes y[t * ldy + r] for rows r in [row_begin, row_end) of the view (row indices relative to
// the view) and tokens t in [0, n_tokens); `act` follows act_layout(pv.type, pv.cols).
using PackedKernel = void (*)(const PackedView& pv, const uint8_t* act, int64_t n_tokens, float* y,
                              int64_t ldy, int64_t row_begin, int64_t row_end);
// Converts activations (same bytes as convert_activations_scalar).
using ConvertKernel = void (*)(TensorType weight_type, const float* x, int64_t n_tokens,
                               int64_t cols, void* out);

// ---- the split-BF16 form (WeightForm::kSplitBf16; split_bf16.cc, x86/matmul_split_*.cc) ----
//
// Columns are padded with zeros to kp = split_bf16_cols(cols), a multiple of 32; a "step" is 32
// columns. Each value v becomes two BF16 parts (split_bf16): hi = v rounded to nearest even BF16,
// lo = v - hi (exact in F32) rounded the same way; lo = 0 where hi is not finite.
//  - Weights: groups of kPackRows (16) rows (the last padded with zero rows), group g at
//    g * split_bf16_group_bytes(cols). Per step s two 1 KB tiles, hi then lo, each in the pair
//    layout tile B of tdpbf16ps wants: 16 lines of 64 bytes, line j holding for row r (0..15) the
//    parts of columns 32 s + 2 j and 32 s + 2 j + 1 at bytes 4 r and 4 r + 2.
//  - Activations: tile-major, in the layout tile A of tdpbf16ps wants, so every tile load reads
//    1 KB of consecutive bytes (a per-token row layout made each load 16 lines at a stride of a
//    token row: 3-24 % slower from L2 in a standalone copy of the kernel's loop). 16-token tile T
//    at T * 16 * split_bf16_stride(cols) (= T * 64 kp bytes); in it, per step s two 1 KB tiles,
//    hi then lo, line l (token 16 T + l) holding the part of columns 32 s .. 32 s + 31
//    (split_bf16_act_offset).
int64_t split_bf16_cols(int64_t cols);
size_t split_bf16_group_bytes(int64_t cols);
// Activation bytes per token (4 kp): a tile of 16 tokens holds 16 times that.
size_t split_bf16_stride(int64_t cols);
// Byte offset of the hi part of token t, column c (c < kp) in an activation buffer; the lo part
// is 1024 bytes further.
inline size_t split_bf16_act_offset(int64_t t, int64_t c, int64_t kp) {
  return static_cast<size_t>((t / 16) * 64 * kp + (c / 32) * 2048 + (t % 16) * 64 + (c % 32) * 2);
}
// The two parts of v (BF16 bit patterns).
void split_bf16(float v, uint16_t* hi, uint16_t* lo);
// Packs row groups [g_begin, g_end) of `w` (F16, BF16 or F32) into dst.
void pack_split_bf16_groups(const Weights& w, int64_t g_begin, int64_t g_end, uint8_t* dst);
// Converts n_tokens rows of `cols` activations (row stride cols) into the split layout, as tokens
// first_token .. first_token + n_tokens - 1 of the buffer `out` (other tokens' bytes untouched).
void convert_split_bf16_scalar(const float* x, int64_t n_tokens, int64_t cols, uint8_t* out,
                               int64_t first_token = 0);

// ---- the on-the-fly split form (WeightForm::kSplitBf16Fly) ----
//
// Weights stay 2 bytes each (F16 or BF16 bit patterns, unchanged): groups of 16 rows (the last
// padded with zero rows), group g at g * tiles16_group_bytes(cols); per step s one 1 KB tile of 16
// 64-byte lines, line j holding columns 32 s + 2 j, 32 s + 2 j + 1 of rows 0..15: BF16 in the pair
// layout above (bytes 4 r, 4 r + 2: tile B as it is), F16 in halves (column 32 s + 2 j of rows
// 0..15 at bytes 2 r, the next column at 32 + 2 r: one vcvtph2ps each). The kernels split F16
// tiles into the split form's hi / lo parts as they go (the same parts as split_bf16); BF16 tiles
// are the hi parts (lo = 0). Activations: the split layout.
size_t tiles16_group_bytes(int64_t cols);
void pack_tiles16_groups(const Weights& w, int64_t g_begin, int64_t g_end, uint8_t* dst);

// What one AMX-BF16 tile product (tdpbf16ps) computes for one output, bit for bit (measured on
// Sapphire Rapids: tests/kernels_split_bf16_test.cc compares the instruction with this on
// millions of random outputs over the whole F32 range): a[32], b[32] the 16 BF16 pairs
// (a[2 k], a[2 k + 1]) . (b[2 k], b[2 k + 1]) in order; not one FMA chain over the 32 products but
// two from +0, e over the even elements and o over the odd ones (e = fma(a, b, e) rounded to
// nearest even), then c + (e + o); BF16 / F32 subnormal inputs (a, b, c) read as zero and
// subnormal results (each FMA, each sum) flushed to zero, keeping the sign.
float tdpbf16ps_scalar(float c, const uint16_t* a, const uint16_t* b);
// Runs one tdpbf16ps on 16 x 16 tiles where the CPU and OS have AMX-BF16 (c[m][n] F32 row-major
// += A . B, a: 16 lines of 32 BF16, b: 16 lines of 16 BF16 pairs, line k holding b[k][2 n],
// b[k][2 n + 1]); false, with c untouched, elsewhere. For tests of tdpbf16ps_scalar.
bool amx_bf16_tile_product(float* c, const uint16_t* a, const uint16_t* b);

// The packed kernel of `isa` for `type`, or nullptr when that Isa has none for this type (the
// dispatch then uses the next lower Isa that has one, down to the scalar reference).
PackedKernel packed_kernel(Isa isa, TensorType type);
// The activation converter of `isa`, or nullptr (scalar conversion).
ConvertKernel convert_kernel(Isa isa);

}  // namespace ember::kernels
