// Registry of the x86 SIMD kernels, one lookup per Isa. The kernels themselves live in files
// compiled for their instruction set (matmul_<group>_<isa>.cc); these lookups only return
// pointers, which the dispatch calls after checking that the CPU and OS support the Isa.
#pragma once

#include "kernels/matmul_internal.h"

namespace ember::kernels::x86 {

// Per Isa: nullptr when the Isa has no kernel of its own for the type (the dispatch then falls
// back to the next lower Isa; all x86 kernels read the same packed layout).
PackedKernel avx2_kernel(TensorType type);
PackedKernel avx512_kernel(TensorType type);
PackedKernel avx512vnni_kernel(TensorType type);
// AMX: its own kernels for the 32-column block types (which use avx512vnni's for one token);
// nullptr for the rest, which then run avx512vnni's.
PackedKernel avx512amx_kernel(TensorType type);

// Activation converters (convert_<isa>.cc); AVX-512 VNNI uses the AVX-512 one.
ConvertKernel avx2_convert();
ConvertKernel avx512_convert();

// Per Isa and type group (matmul_<group>_<isa>.cc).
PackedKernel avx2_legacy_kernel(TensorType type);
PackedKernel avx2_kquant_kernel(TensorType type);
PackedKernel avx2_float_kernel(TensorType type);
PackedKernel avx512_legacy_kernel(TensorType type);
PackedKernel avx512_kquant_kernel(TensorType type);
PackedKernel avx512_float_kernel(TensorType type);
PackedKernel avx512vnni_legacy_kernel(TensorType type);
PackedKernel avx512vnni_kquant_kernel(TensorType type);
PackedKernel avx512amx_legacy_kernel(TensorType type);

// The split-BF16 form on AMX-BF16 (matmul_split_avx512amxbf16.cc; matmul_internal.h): y for rows
// [row_begin, row_end) of the packed split weights `pv` (group_bytes = split_bf16_group_bytes),
// `act` holding round_up(n_tokens, 16) converted tokens (tile-major); and the activation conversion
// (the same bits as convert_split_bf16_scalar).
// `store` (may be null: plain F32 stores into y) is the epilogue of matmul.h's SplitEpilogue.
struct SplitStore {
  const float* bias = nullptr;        // [rows of the view], added to row r's outputs
  const float* gelu_table = nullptr;  // gelu_half_table(): GELU applied (after the bias)
  uint8_t* act_out = nullptr;         // non-null: split activations of act_kp columns instead of y
  int64_t act_kp = 0;
};
void avx512amxbf16_split_matmul(const PackedView& pv, const uint8_t* act, int64_t n_tokens,
                                float* y, int64_t ldy, int64_t row_begin, int64_t row_end,
                                const SplitStore* store = nullptr);
void avx512amxbf16_split_convert(const float* x, int64_t n_tokens, int64_t cols, uint8_t* out,
                                 int64_t first_token);
// The on-the-fly split form (WeightForm::kSplitBf16Fly; matmul_internal.h): the same products as
// avx512amxbf16_split_matmul on weights packed by pack_tiles16_groups (group_bytes =
// tiles16_group_bytes), F16 tiles split into hi / lo parts in the kernel, BF16 tiles used as they
// are. Same activations; every output the same bits as the split form's.
void avx512amxbf16_fly_matmul(const PackedView& pv, const uint8_t* act, int64_t n_tokens, float* y,
                              int64_t ldy, int64_t row_begin, int64_t row_end);
// The same products for F16 weights and 1..15 tokens on AVX-512 FMA, the same bits as the tile
// kernel (matmul_fly_fma_avx512amxbf16.cc; tdpbf16ps_scalar): avx512amxbf16_fly_matmul runs it
// for those calls.
void avx512amxbf16_fly_fma_matmul(const PackedView& pv, const uint8_t* act, int64_t n_tokens,
                                  float* y, int64_t ldy, int64_t row_begin, int64_t row_end);
// One tdpbf16ps on 16 x 16 tiles: c[m][n] (F32, row-major) += A . B, a: 16 lines of 32 BF16
// (line m), b: 16 lines of 16 BF16 pairs (line k: b[k][2 n], b[k][2 n + 1]); for tests that
// compare the instruction with tdpbf16ps_scalar.
void avx512amxbf16_tile_product(float* c, const uint16_t* a, const uint16_t* b);

// F32 weights, unpacked, in the "gemm" summation order (matmul_f32_<isa>.cc; matmul_internal.h).
void avx2_f32_gemm(const Weights& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                   int64_t ldy, int64_t row_begin, int64_t row_end);
void avx512_f32_gemm(const Weights& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                     int64_t ldy, int64_t row_begin, int64_t row_end);

// Q8_0, Q5_0, Q5_1, Q5_K, Q6_K and MXFP4 weights, unpacked, in the reference's 8-lane orders
// (matmul_reference_avx2.cc; used by every x86 Isa for WeightForm::kReferenceOrder: the arithmetic
// is the same). `act` follows act_layout(w.type, w.cols).
void avx2_q8_0_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end);
void avx2_q5_0_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end);
void avx2_q6_k_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end);
void avx2_q5_1_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end);
void avx2_q5_k_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end);
// Q4_K in the reference's repacked 8-row order (two FMA chains, matmul_internal.h).
void avx2_q4_k_repacked(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y,
                        int64_t ldy, int64_t row_begin, int64_t row_end);
void avx2_mxfp4_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                      int64_t row_begin, int64_t row_end);

}  // namespace ember::kernels::x86
