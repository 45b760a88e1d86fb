// Dispatch of the matrix-product kernels: Isa selection (CPU/OS support, EMBER_ISA cap), argument
// checks, prepared (packed) weights, and the on-the-fly packing path for unpacked weights.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "base/cpu_features.h"
#include "base/strings.h"
#include "kernels/matmul_internal.h"
#include "kernels/ops_common.h"

#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/x86/kernels_x86.h"
#define EMBER_SPLIT_BF16 1
#endif

namespace ember::kernels {
namespace {

constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni,
                            Isa::kAvx512Amx};

bool cpu_runs(Isa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx2 && f.fma && f.f16c && f.bmi2;
  const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return avx2;
    case Isa::kAvx512:
      return avx512;
    case Isa::kAvx512Vnni:
      return avx512 && f.avx512vnni;
    case Isa::kAvx512Amx:
      return avx512 && f.avx512vnni && f.amx_tile && f.amx_int8;
  }
  return false;
}

// The EMBER_ISA cap, read once.
Isa isa_cap() {
  static const Isa cap = [] {
    const char* env = std::getenv("EMBER_ISA");
    if (env == nullptr || *env == '\0') return Isa::kAvx512Amx;
    if (auto isa = isa_from_name(env)) return *isa;
    std::fprintf(stderr,
                 "ember: ignoring EMBER_ISA=%s (expected scalar, avx2, avx512, avx512-vnni or "
                 "avx512-amx)\n",
                 env);
    return Isa::kAvx512Amx;
  }();
  return cap;
}

// The kernel that runs `type` for `isa`: its own, else the closest lower Isa's (all x86 variants
// read the same packed layout). nullptr means the scalar reference on unpacked weights.
PackedKernel effective_kernel(Isa isa, TensorType type) {
  for (int i = static_cast<int>(isa); i > 0; --i) {
    if (PackedKernel k = packed_kernel(static_cast<Isa>(i), type)) return k;
  }
  return nullptr;
}

ConvertKernel effective_convert(Isa isa) {
  for (int i = static_cast<int>(isa); i > 0; --i) {
    if (ConvertKernel k = convert_kernel(static_cast<Isa>(i))) return k;
  }
  return nullptr;
}

uint8_t* aligned_alloc_bytes(size_t n) {
  return static_cast<uint8_t*>(::operator new(n, std::align_val_t(64), std::nothrow));
}

struct ScratchFree {
  void operator()(uint8_t* p) const { ::operator delete(p, std::align_val_t(64)); }
};

// Rows packed per step when the weights are not prepared: enough for the kernels' widest tile.
constexpr int64_t kOnTheFlyGroups = 4;

void matmul_unpacked(Isa isa, PackedKernel kernel, const Weights& w, const void* act,
                     int64_t n_tokens, float* y, int64_t ldy, int64_t row_begin, int64_t row_end) {
  const size_t gb = packed_group_bytes(w.type, w.cols);
  std::unique_ptr<uint8_t, ScratchFree> buf(aligned_alloc_bytes(gb * kOnTheFlyGroups));
  if (!buf) {
    // Out of memory for a few KB of scratch: the reference needs none.
    matmul_scalar(w, act, n_tokens, y, ldy, row_begin, row_end);
    return;
  }
  (void)isa;
  const int64_t g_first = row_begin / kPackRows;
  const int64_t g_last = (row_end + kPackRows - 1) / kPackRows;
  for (int64_t g = g_first; g < g_last; g += kOnTheFlyGroups) {
    const int64_t g_end = std::min(g_last, g + kOnTheFlyGroups);
    pack_groups(w, g, g_end, buf.get());
    const int64_t base = g * kPackRows;
    const PackedView pv{w.type, w.cols, buf.get(), gb};
    const int64_t rb = std::max(row_begin, base) - base;
    const int64_t re = std::min(row_end, g_end * kPackRows) - base;
    kernel(pv, static_cast<const uint8_t*>(act), n_tokens, y + base, ldy, rb, re);
  }
}

}  // namespace

void PackedBufferFree::operator()(uint8_t* p) const {
#if defined(__linux__)
  if (mapped_bytes != 0) {
    ::munmap(p, mapped_bytes);
    return;
  }
#endif
  ::operator delete(p, std::align_val_t(64));
}

namespace {

// Packed weights are read once per token from memory: 2 MB pages (transparent huge pages, where
// the OS has them in "madvise" or "always" mode) save the TLB misses of 4 KB pages. Buffers of
// at least 2 MB get a mapping of their own, rounded up to and aligned on 2 MB.
std::unique_ptr<uint8_t, PackedBufferFree> alloc_packed(size_t n) {
#if defined(__linux__)
  constexpr size_t kHuge = size_t{1} << 21;
  if (n >= kHuge) {
    const size_t size = (n + kHuge - 1) & ~(kHuge - 1);
    void* raw =
        ::mmap(nullptr, size + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return {nullptr, {}};
    const auto base = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (base + kHuge - 1) & ~(uintptr_t{kHuge} - 1);
    if (aligned > base) ::munmap(raw, aligned - base);
    const uintptr_t end = base + size + kHuge;
    if (end > aligned + size)
      ::munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
    auto* p = reinterpret_cast<uint8_t*>(aligned);
    (void)::madvise(p, size, MADV_HUGEPAGE);  // advisory: fine if unsupported
    return {p, PackedBufferFree{size}};
  }
#endif
  return {aligned_alloc_bytes(n), PackedBufferFree{}};
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx512Vnni:
      return "avx512-vnni";
    case Isa::kAvx512Amx:
      return "avx512-amx";
  }
  return "unknown";
}

std::optional<Isa> isa_from_name(std::string_view name) {
  for (Isa isa : kAllIsas) {
    if (iequals(name, isa_name(isa))) return isa;
  }
  return std::nullopt;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas) {
    if (isa <= isa_cap() && cpu_runs(isa)) out.push_back(isa);
  }
  return out;
}

Isa best_isa() {
  return supported_isas().back();
}

Status check_weights(const Weights& w) {
  const auto* traits = tensor_type_traits(w.type);
  if (traits == nullptr || !traits->supported) {
    return unimplemented("matmul: unsupported weight type " + tensor_type_name(w.type));
  }
  switch (w.type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
    case TensorType::kQ5_0:
    case TensorType::kQ5_1:
    case TensorType::kQ8_0:
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
    case TensorType::kIQ4_NL:
    case TensorType::kIQ4_XS:
    case TensorType::kMXFP4:
      break;
    default:
      return unimplemented("matmul: no kernel for weight type " + tensor_type_name(w.type));
  }
  if (w.rows < 0) return invalid_argument("matmul: negative row count");
  if (w.cols <= 0) return invalid_argument("matmul: the column count must be positive");
  Result<size_t> rs = tensor_row_size(w.type, w.cols);
  if (!rs.ok()) return rs.status().with_context("matmul");
  if (w.row_bytes < *rs) {
    return invalid_argument("matmul: row_bytes " + std::to_string(w.row_bytes) +
                            " is smaller than a row of " + std::to_string(w.cols) + " " +
                            tensor_type_name(w.type) + " values (" + std::to_string(*rs) + ")");
  }
  if (w.rows > 0 && w.data == nullptr) return invalid_argument("matmul: null weight data");
  return Status::Ok();
}

size_t activation_bytes(TensorType weight_type, int64_t n_tokens, int64_t cols) {
  return static_cast<size_t>(n_tokens) * act_layout(weight_type, cols).stride;
}

void convert_activations(Isa isa, TensorType weight_type, const float* x, int64_t n_tokens,
                         int64_t cols, void* out) {
  if (ConvertKernel k = effective_convert(isa)) {
    k(weight_type, x, n_tokens, cols, out);
  } else {
    convert_activations_scalar(weight_type, x, n_tokens, cols, out);
  }
}

void matmul(Isa isa, const Weights& w, const void* x_converted, int64_t n_tokens, float* y,
            int64_t ldy, int64_t row_begin, int64_t row_end) {
  row_begin = std::max<int64_t>(row_begin, 0);
  row_end = std::min(row_end, w.rows);
  if (n_tokens <= 0 || row_begin >= row_end) return;
  // F32 weights are read in place in the reference's summation order (matmul_internal.h).
  if (w.type == TensorType::kF32) {
    matmul_f32(isa, w, x_converted, n_tokens, y, ldy, row_begin, row_end);
    return;
  }
  if (PackedKernel k = effective_kernel(isa, w.type)) {
    matmul_unpacked(isa, k, w, x_converted, n_tokens, y, ldy, row_begin, row_end);
  } else {
    matmul_scalar(w, x_converted, n_tokens, y, ldy, row_begin, row_end);
  }
}

bool split_bf16_supported(Isa isa, TensorType type) {
#if defined(EMBER_SPLIT_BF16)
  const CpuFeatures& f = cpu_features();
  return isa == Isa::kAvx512Amx && cpu_runs(isa) && isa <= isa_cap() && f.amx_bf16 &&
         f.avx512bf16 &&
         (type == TensorType::kF16 || type == TensorType::kBF16 || type == TensorType::kF32);
#else
  (void)isa;
  (void)type;
  return false;
#endif
}

bool split_bf16_fly_supported(Isa isa, TensorType type) {
  return (type == TensorType::kF16 || type == TensorType::kBF16) && split_bf16_supported(isa, type);
}

Result<PreparedWeights> prepare_weights(Isa isa, const Weights& w, WeightForm form) {
  EMBER_RETURN_IF_ERROR(check_weights(w));
  if (!cpu_runs(isa)) {
    return unimplemented(std::string("matmul: this CPU/OS cannot run ") + isa_name(isa));
  }
  PreparedWeights pw;
  pw.isa_ = isa;
  pw.w_ = w;
  // Packs the weights group by group (kPackRows rows each, group_bytes per group) with `pack`
  // into a fresh buffer; nothing for zero rows.
  auto pack_row_groups = [&](size_t group_bytes, auto pack, const char* what) -> Status {
    if (w.rows == 0) return Status::Ok();
    const int64_t groups = (w.rows + kPackRows - 1) / kPackRows;
    const size_t bytes = static_cast<size_t>(groups) * group_bytes;
    pw.packed_ = alloc_packed(bytes);
    if (!pw.packed_) {
      return resource_exhausted("matmul: cannot allocate " + std::to_string(bytes) + " bytes for " +
                                what);
    }
    pw.packed_bytes_ = bytes;
    pack(w, 0, groups, pw.packed_.get());
    return Status::Ok();
  };
  if (form == WeightForm::kSplitBf16) {
    if (!split_bf16_supported(isa, w.type)) {
      return unimplemented(std::string("matmul: the split-BF16 form needs F16, BF16 or F32 "
                                       "weights (got ") +
                           tensor_type_name(w.type) +
                           ") and avx512-amx on a CPU/OS with AMX-BF16 and AVX512-BF16 (Isa " +
                           isa_name(isa) + ")");
    }
    pw.form_ = form;
    EMBER_RETURN_IF_ERROR(pack_row_groups(split_bf16_group_bytes(w.cols), pack_split_bf16_groups,
                                          "split-BF16 weights"));
    return pw;
  }
  if (form == WeightForm::kSplitBf16Fly) {
    if (!split_bf16_fly_supported(isa, w.type)) {
      return unimplemented(std::string("matmul: the on-the-fly split-BF16 form needs F16 or BF16 "
                                       "weights (got ") +
                           tensor_type_name(w.type) +
                           ") and avx512-amx on a CPU/OS with AMX-BF16 and AVX512-BF16 (Isa " +
                           isa_name(isa) + ")");
    }
    pw.form_ = form;
    EMBER_RETURN_IF_ERROR(
        pack_row_groups(tiles16_group_bytes(w.cols), pack_tiles16_groups, "tile-ordered weights"));
    return pw;
  }
  if (form == WeightForm::kReferenceOrder) {
    if (!reference_order_supported(w.type, w.rows)) {
      return unimplemented(
          "matmul: the reference summation order is implemented for Q8_0, MXFP4, Q5_0, Q5_1, "
          "Q5_K, Q6_K and (with a multiple of 8 rows) Q4_K weights only (got " +
          tensor_type_name(w.type) + " with " + std::to_string(w.rows) + " rows)");
    }
    pw.form_ = form;  // read in place: nothing to copy
    return pw;
  }
  if (effective_kernel(isa, w.type) == nullptr || w.rows == 0) return pw;
  const int64_t groups = (w.rows + kPackRows - 1) / kPackRows;
  const size_t bytes = static_cast<size_t>(groups) * packed_group_bytes(w.type, w.cols);
  pw.packed_ = alloc_packed(bytes);
  if (!pw.packed_) {
    return resource_exhausted("matmul: cannot allocate " + std::to_string(bytes) +
                              " bytes for packed weights");
  }
  pw.packed_bytes_ = bytes;
  pack_groups(w, 0, groups, pw.packed_.get());
  return pw;
}

bool amx_bf16_tile_product(float* c, const uint16_t* a, const uint16_t* b) {
#if defined(EMBER_SPLIT_BF16)
  if (split_bf16_supported(Isa::kAvx512Amx, TensorType::kBF16)) {
    x86::avx512amxbf16_tile_product(c, a, b);
    return true;
  }
#endif
  (void)c;
  (void)a;
  (void)b;
  return false;
}

size_t split_activation_stride(int64_t cols) {
  return split_bf16_stride(cols);
}

size_t split_activation_bytes(int64_t n_tokens, int64_t cols) {
  return static_cast<size_t>((n_tokens + kPackRows - 1) / kPackRows * kPackRows) *
         split_bf16_stride(cols);
}

void convert_split_activations(const float* x, int64_t n_tokens, int64_t cols, void* out,
                               int64_t first_token) {
#if defined(EMBER_SPLIT_BF16)
  if (split_bf16_supported(Isa::kAvx512Amx, TensorType::kBF16)) {
    x86::avx512amxbf16_split_convert(x, n_tokens, cols, static_cast<uint8_t*>(out), first_token);
    return;
  }
#endif
  convert_split_bf16_scalar(x, n_tokens, cols, static_cast<uint8_t*>(out), first_token);
}

namespace {
// Both split forms take the split activations (tile-major, matmul_internal.h).
bool split_form(WeightForm form) {
  return form == WeightForm::kSplitBf16 || form == WeightForm::kSplitBf16Fly;
}
}  // namespace

size_t activation_stride(const PreparedWeights& pw) {
  const Weights& w = pw.weights();
  if (split_form(pw.form())) return split_activation_stride(w.cols);
  return activation_bytes(w.type, 1, w.cols);
}

size_t activation_bytes(const PreparedWeights& pw, int64_t n_tokens) {
  if (split_form(pw.form())) return split_activation_bytes(n_tokens, pw.weights().cols);
  return activation_bytes(pw.weights().type, n_tokens, pw.weights().cols);
}

void convert_activations(const PreparedWeights& pw, const float* x, int64_t n_tokens, void* out,
                         int64_t first_token) {
  const Weights& w = pw.weights();
  if (split_form(pw.form())) {
    convert_split_activations(x, n_tokens, w.cols, out, first_token);
    return;
  }
  convert_activations(
      pw.isa(), w.type, x, n_tokens, w.cols,
      static_cast<uint8_t*>(out) + static_cast<size_t>(first_token) * activation_stride(pw));
}

void matmul(const PreparedWeights& pw, const void* x_converted, int64_t n_tokens, float* y,
            int64_t ldy, int64_t row_begin, int64_t row_end) {
  const Weights& w = pw.weights();
  row_begin = std::max<int64_t>(row_begin, 0);
  row_end = std::min(row_end, w.rows);
  if (n_tokens <= 0 || row_begin >= row_end) return;
  if (pw.form() == WeightForm::kSplitBf16) {
#if defined(EMBER_SPLIT_BF16)
    const PackedView pv{w.type, w.cols, pw.packed_data(), split_bf16_group_bytes(w.cols)};
    x86::avx512amxbf16_split_matmul(pv, static_cast<const uint8_t*>(x_converted), n_tokens, y, ldy,
                                    row_begin, row_end);
#endif
    return;
  }
  if (pw.form() == WeightForm::kSplitBf16Fly) {
#if defined(EMBER_SPLIT_BF16)
    const PackedView pv{w.type, w.cols, pw.packed_data(), tiles16_group_bytes(w.cols)};
    x86::avx512amxbf16_fly_matmul(pv, static_cast<const uint8_t*>(x_converted), n_tokens, y, ldy,
                                  row_begin, row_end);
#endif
    return;
  }
  if (pw.form() == WeightForm::kReferenceOrder) {
    matmul_reference_order(pw.isa(), w, x_converted, n_tokens, y, ldy, row_begin, row_end);
    return;
  }
  if (!pw.packed()) {
    matmul(pw.isa(), w, x_converted, n_tokens, y, ldy, row_begin, row_end);
    return;
  }
  const PackedView pv{w.type, w.cols, pw.packed_data(), packed_group_bytes(w.type, w.cols)};
  effective_kernel(pw.isa(), w.type)(pv, static_cast<const uint8_t*>(x_converted), n_tokens, y, ldy,
                                     row_begin, row_end);
}

void matmul(const PreparedWeights& pw, const void* x_converted, int64_t n_tokens, float* y,
            int64_t ldy, int64_t row_begin, int64_t row_end, const SplitEpilogue& epilogue) {
  const Weights& w = pw.weights();
  row_begin = std::max<int64_t>(row_begin, 0);
  row_end = std::min(row_end, w.rows);
  if (n_tokens <= 0 || row_begin >= row_end || pw.form() != WeightForm::kSplitBf16) return;
  if (epilogue.act_out != nullptr && w.rows % 32 != 0) return;
#if defined(EMBER_SPLIT_BF16)
  const PackedView pv{w.type, w.cols, pw.packed_data(), split_bf16_group_bytes(w.cols)};
  x86::SplitStore store;
  store.bias = epilogue.bias;
  store.gelu_table = epilogue.gelu ? gelu_half_table() : nullptr;
  store.act_out = epilogue.act_out;
  store.act_kp = split_bf16_cols(w.rows);
  x86::avx512amxbf16_split_matmul(pv, static_cast<const uint8_t*>(x_converted), n_tokens, y, ldy,
                                  row_begin, row_end, &store);
#else
  (void)x_converted, (void)y, (void)ldy, (void)epilogue;
#endif
}

int64_t matmul_row_block(Isa isa) {
  return isa == Isa::kScalar ? 1 : 4 * kPackRows;
}

}  // namespace ember::kernels
