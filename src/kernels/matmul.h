// Matrix products between model weights (any tensor type) and F32 activations.
//
// This is the one interface the runtime uses for every linear layer. A product runs in two steps:
//   1. convert_activations: the F32 activations x[n_tokens][cols] are converted once into the
//      format the weight type's dot product wants (e.g. 8-bit blocks for quantized weights, as
//      the reference implementation does);
//   2. matmul: y[t][r] = dot(W[r], x[t]) for a range of weight rows, so threads split the work by
//      rows and every output element is computed by exactly one thread.
// Determinism contract: for a given Isa, each y[t][r] is computed with the same arithmetic
// whatever n_tokens, the row range, the tile it falls in or the thread count, so results are
// bit-identical between a batch and token-by-token evaluation. Different Isa values may differ
// in the last bits (summation order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "ember/status.h"
#include "tensor/tensor_type.h"

namespace ember::kernels {

// Instruction-set variants of the kernels. kScalar is the portable reference that every other
// variant is tested against. kAvx512Amx is AVX-512 VNNI plus AMX-INT8 tiles for 16-token tiles of
// products with the 32-column block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, MXFP4; the rest
// as kAvx512Vnni); its results are bit-identical to kAvx512Vnni (the per-block integer sums are
// exact either way, and the F32 steps are the same).
enum class Isa : uint8_t { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3, kAvx512Amx = 4 };

const char* isa_name(Isa isa);
// Parses the names isa_name returns ("scalar", "avx2", "avx512", "avx512-vnni", "avx512-amx").
std::optional<Isa> isa_from_name(std::string_view name);
// The variants this CPU *and* OS can run (XCR0 checked), kScalar first, best last.
// The environment variable EMBER_ISA (one of the names above, read once per process) caps the
// list: e.g. EMBER_ISA=avx2 on an AVX-512 machine leaves {scalar, avx2}. An unknown value is
// reported once on stderr and ignored.
std::vector<Isa> supported_isas();
// The fastest supported variant (the last of supported_isas()).
Isa best_isa();

// A weight matrix [rows][cols]: `rows` output features, `cols` input features; row r starts at
// data + r * row_bytes (row_bytes >= tensor_row_size(type, cols)).
struct Weights {
  TensorType type = TensorType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
};

// Ok when `w` describes a matrix the kernels can multiply: a supported type, cols a positive
// multiple of the block size, row_bytes >= the row size, non-null data when rows > 0.
Status check_weights(const Weights& w);

// Bytes needed to hold n_tokens activation rows of `cols` values converted for `weight_type`.
// Token t's converted row starts t * activation_bytes(weight_type, 1, cols) bytes into the buffer
// (a multiple of 64), so a product over a subset of consecutive tokens can start mid-buffer.
size_t activation_bytes(TensorType weight_type, int64_t n_tokens, int64_t cols);

// Converts x[n_tokens][cols] (row-major, contiguous) for products with weights of `weight_type`.
// `out` holds activation_bytes(weight_type, n_tokens, cols) bytes.
void convert_activations(Isa isa, TensorType weight_type, const float* x, int64_t n_tokens,
                         int64_t cols, void* out);

// y[t * ldy + r] = sum_c W[r][c] * x[t][c] for r in [row_begin, row_end), t in [0, n_tokens).
// `x_converted` comes from convert_activations with the same weight type and cols. The row range
// is clamped to [0, w.rows). Any Isa may be passed; one the CPU lacks must not be (check with
// supported_isas()).
void matmul(Isa isa, const Weights& w, const void* x_converted, int64_t n_tokens, float* y,
            int64_t ldy, int64_t row_begin, int64_t row_end);

// ---- prepared (repacked) weights -------------------------------------------------------------
//
// The SIMD kernels read weights fastest in an interleaved layout (16 rows per group, one 32-bit
// lane per row). prepare_weights builds that layout once (at model load) in memory the returned
// object owns; matmul on a PreparedWeights then reads only the packed copy, never `w.data`
// (the source may be unmapped). The packed copy has about the size of the source (0-8% more for
// K-quants whose scales are stored unpacked, see packed_bytes()).
//
// Results are bit-identical to matmul(isa, w, ...) on the unpacked weights with the same Isa (the
// unpacked path packs small row tiles on the fly and runs the same kernels, so it is slower,
// noticeably for n_tokens = 1). Where the Isa has no packed kernel for the type (kScalar, or a
// type without a SIMD kernel) nothing is copied and the source weights are used directly, so
// they must then stay valid.
// Frees a packed buffer: large ones are a page mapping of their own (huge pages where the OS
// allows), small ones come from operator new. (Implementation detail of PreparedWeights.)
struct PackedBufferFree {
  size_t mapped_bytes = 0;  // 0: operator new
  void operator()(uint8_t* p) const;
};

// How prepared weights are multiplied.
//  - kExact: the Isa's kernels on the packed copy (the contract of this header: same bits as
//    matmul(isa, w, ...)).
//  - kSplitBf16: AMX-BF16 tiles (tdpbf16ps) on weights and activations each split into two BF16
//    parts, for F16, BF16 and F32 weights on CPUs with AMX-BF16 (split_bf16_supported). A weight
//    w = w_hi + w_lo (exact for F16 and BF16; F32 keeps 16 significant bits) and an activation
//    a ~= a_hi + a_lo (16 significant bits, rounded to nearest); each output is
//      sum_k (a_hi w_hi + a_hi w_lo + a_lo w_hi)
//    accumulated in F32 by the tile unit, 32 columns per step in column order. Each product a w
//    is then within about 2^-15 of |a w| (the dropped a_lo w_lo and the roundings of a, and of
//    w for F32), so results differ from kExact from about the 15th significant bit on (the
//    unit also treats BF16 subnormals, below 2^-126, as zero); they are independent of the token
//    count, the row range and the thread count (each output row of a tile depends only on its own
//    token). The encoder (runtime/encoder.cc) asks for it (decoders take kSplitBf16Fly for their
//    BF16 weights). Activations must then be converted with the PreparedWeights overloads of
//    activation_bytes / convert_activations.
//  - kReferenceOrder: the reference implementation's (llama.cpp's x86 build) float summation
//    order, for the types reference_order_supported accepts (Q8_0, MXFP4, Q5_0, Q5_1, Q4_K, Q5_K,
//    Q6_K): the
//    weights are read in place (no copy: the source must stay valid) and each output is 8 FMA
//    lane chains over the blocks of exact integer sums (MXFP4: two such sets, even and odd
//    blocks; Q5_1 / Q5_K: plus one FMA chain of the blocks' offsets), reduced by a fixed tree,
//    or for Q4_K two FMA chains over the super-blocks
//    (matmul_internal.h). The bits
//    are the same on every Isa and whatever the token count, row range and thread count; they
//    differ from kExact in the last bits, and the products are several times slower for prompts
//    (Numerics::kReference, docs/inference.md). Activations as for kExact.
//  - kSplitBf16Fly: the same products, the same bits as kSplitBf16, for F16 and BF16 weights,
//    and the same activations (the PreparedWeights overloads below, or split_activation_*), with
//    the weights kept 2 bytes each (reordered into tiles at prepare time) and split into their hi /
//    lo parts inside the kernel as it reads them (BF16 weights need no split: lo = 0), so products
//    with few tokens stream half the bytes of kSplitBf16. Decoders ask for it (model.cc) for every
//    token count: a row's result does not depend on its batch.
enum class WeightForm : uint8_t {
  kExact = 0,
  kSplitBf16 = 1,
  kReferenceOrder = 2,
  kSplitBf16Fly = 3
};

// True when prepare_weights(isa, w, WeightForm::kSplitBf16) works for weights of `type`: isa is
// kAvx512Amx, the CPU and OS run AMX-BF16 and AVX512-BF16 tiles, and type is F16, BF16 or F32.
bool split_bf16_supported(Isa isa, TensorType type);
// The same for WeightForm::kSplitBf16Fly: as split_bf16_supported, for F16 and BF16 weights only.
bool split_bf16_fly_supported(Isa isa, TensorType type);
// True when split_bf16_fly_supported(Isa::kAvx512Amx, TensorType::kF16) and this CPU passed the
// check (run once per process, about a millisecond) that products with F16 weights in the
// on-the-fly form give the same bits for 1..15 tokens, which run on AVX-512 FMA instructions that
// reproduce the tile unit's arithmetic, as for 16 or more, which run on the tile unit. Decoders
// put F16 weights in that form only then (batch == token by token needs it).
bool split_bf16_fly_exact();

// True when prepare_weights(isa, w, WeightForm::kReferenceOrder) works for weights of `type`
// (Q8_0, MXFP4, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K; other types keep kExact in the reference numerics
// mode).
bool reference_order_supported(TensorType type);
// The same for a matrix of `rows` rows: Q4_K only with rows % 8 == 0 (the matrices the reference
// repacks; it multiplies the others in another order, not implemented).
bool reference_order_supported(TensorType type, int64_t rows);

// The kReferenceOrder product on unprepared weights (the same bits as matmul on weights prepared
// in that form, for any Isa). `x_converted` as for matmul; `w.type` must be supported.
void matmul_reference_order(Isa isa, const Weights& w, const void* x_converted, int64_t n_tokens,
                            float* y, int64_t ldy, int64_t row_begin, int64_t row_end);

class PreparedWeights {
 public:
  PreparedWeights() = default;

  Isa isa() const { return isa_; }
  WeightForm form() const { return form_; }
  // The source matrix description (its data pointer is not read when packed()).
  const Weights& weights() const { return w_; }
  bool packed() const { return packed_ != nullptr; }
  // Bytes of the packed copy (0 when not packed).
  size_t packed_bytes() const { return packed_bytes_; }
  const uint8_t* packed_data() const { return packed_.get(); }

 private:
  friend Result<PreparedWeights> prepare_weights(Isa isa, const Weights& w, WeightForm form);
  Isa isa_ = Isa::kScalar;
  WeightForm form_ = WeightForm::kExact;
  Weights w_;
  std::unique_ptr<uint8_t, PackedBufferFree> packed_;
  size_t packed_bytes_ = 0;
};

// Prepares `w` for products with `isa` in the given form. Errors: check_weights failures, an Isa
// this machine does not support, kSplitBf16 where split_bf16_supported is false, kSplitBf16Fly
// where split_bf16_fly_supported is false, kReferenceOrder where reference_order_supported is
// false, allocation failure.
Result<PreparedWeights> prepare_weights(Isa isa, const Weights& w,
                                        WeightForm form = WeightForm::kExact);

// Activations for products with `pw` (any form; for kExact the same as the Isa / type overloads):
// bytes per token (a multiple of 64), bytes for n_tokens tokens, and the conversion.
//  - kExact: token t's row starts t * activation_stride(pw) bytes into the buffer.
//  - kSplitBf16, kSplitBf16Fly: the buffer is tile-major (16-token tiles; matmul_internal.h), so a
//  token's bytes
//    are not contiguous; a tile of 16 tokens takes 16 * activation_stride(pw) bytes, and a
//    product over tokens starting at t (a multiple of 16) may start t * activation_stride(pw)
//    bytes in. Buffers hold round_up(n_tokens, 16) tokens: the tile products read whole tiles,
//    and tokens past n_tokens may hold anything (each output row depends only on its own
//    activation row; those results are dropped).
// convert_activations converts the n_tokens rows of x[n_tokens][cols] (contiguous) as tokens
// first_token .. first_token + n_tokens - 1 of the buffer whose token 0 is at `out` (so threads
// may convert disjoint token ranges of one buffer), leaving other tokens' bytes untouched.
size_t activation_stride(const PreparedWeights& pw);
size_t activation_bytes(const PreparedWeights& pw, int64_t n_tokens);
void convert_activations(const PreparedWeights& pw, const float* x, int64_t n_tokens, void* out,
                         int64_t first_token = 0);

// The split forms' activations by column count alone, for callers that know the weights' type and
// columns but hold no PreparedWeights: the same layout, bytes and conversion as the
// PreparedWeights overloads above give for weights in either split form (kSplitBf16,
// kSplitBf16Fly) with `cols` columns (tile-major; first_token as for convert_activations). The
// conversion uses AVX-512 where the split forms are supported, else the scalar one (same bytes).
size_t split_activation_stride(int64_t cols);
size_t split_activation_bytes(int64_t n_tokens, int64_t cols);
void convert_split_activations(const float* x, int64_t n_tokens, int64_t cols, void* out,
                               int64_t first_token = 0);

// As matmul(isa, w, ...) with the Isa and weights of `pw` (kExact), or the split-BF16 tile
// product (kSplitBf16, kSplitBf16Fly; `x_converted` from the PreparedWeights overload of
// convert_activations or from convert_split_activations), or the reference-order product
// (kReferenceOrder).
void matmul(const PreparedWeights& pw, const void* x_converted, int64_t n_tokens, float* y,
            int64_t ldy, int64_t row_begin, int64_t row_end);

// What the split-BF16 product does with its outputs before they leave the tile unit (the encoder's
// passes over a product's rows, folded into the product: no second pass over memory). Each step
// is the float arithmetic of the pass it replaces, so results are bit-identical to a plain
// matmul followed by those passes:
//  - bias (length w.rows, indexed by weight row): y[t][r] = product + bias[r] (ops.h add);
//  - gelu: then the GELU of rows.h bias_gelu (the reference's half-precision table);
//  - act_out: instead of F32 rows into y (y and ldy are then not read), each token's outputs
//    are stored as split-BF16 activations for a product whose input columns are these weight
//    rows (convert_activations for such weights gives the same bytes): act_out is laid out as
//    that product's activation buffer (activation_stride of weights with cols = w.rows), with
//    token t of this call at its token t (so a call on tokens from t0, t0 a multiple of 16,
//    passes act_out advanced t0 * that stride). Needs w.rows % 32 == 0 (whole 32-column steps);
//    tokens past n_tokens and columns of rows outside [row_begin, row_end) are left untouched.
struct SplitEpilogue {
  const float* bias = nullptr;
  bool gelu = false;
  uint8_t* act_out = nullptr;
};

// matmul(pw, ...) with an epilogue. pw.form() must be kSplitBf16 (a default SplitEpilogue is the
// plain product); ignored rows and tokens as for matmul. Calls that break the conditions above
// (another form; act_out with w.rows % 32 != 0) compute nothing: callers check them first, as
// runtime/encoder.cc does.
void matmul(const PreparedWeights& pw, const void* x_converted, int64_t n_tokens, float* y,
            int64_t ldy, int64_t row_begin, int64_t row_end, const SplitEpilogue& epilogue);

// Rows the SIMD kernels compute together. Splitting row ranges between threads at multiples of
// this keeps every tile full (results never depend on the split; only speed does).
int64_t matmul_row_block(Isa isa);

}  // namespace ember::kernels
