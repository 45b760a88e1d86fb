#include "tensor/tensor_type.h"

#include "base/strings.h"

#include <array>
#include <limits>

namespace ember {
namespace {

// Block layouts of every ggml type id. Sizes follow the published block structs of each format.
constexpr std::array<TensorTypeTraits, 31> kTraits = {{
    {TensorType::kF32, "f32", 1, 4, false, true},
    {TensorType::kF16, "f16", 1, 2, false, true},
    {TensorType::kQ4_0, "q4_0", 32, 18, true, true},
    {TensorType::kQ4_1, "q4_1", 32, 20, true, true},
    {TensorType::kQ5_0, "q5_0", 32, 22, true, true},
    {TensorType::kQ5_1, "q5_1", 32, 24, true, true},
    {TensorType::kQ8_0, "q8_0", 32, 34, true, true},
    {TensorType::kQ8_1, "q8_1", 32, 36, true, false},
    {TensorType::kQ2_K, "q2_K", 256, 84, true, true},
    {TensorType::kQ3_K, "q3_K", 256, 110, true, true},
    {TensorType::kQ4_K, "q4_K", 256, 144, true, true},
    {TensorType::kQ5_K, "q5_K", 256, 176, true, true},
    {TensorType::kQ6_K, "q6_K", 256, 210, true, true},
    {TensorType::kQ8_K, "q8_K", 256, 292, true, true},
    {TensorType::kIQ2_XXS, "iq2_xxs", 256, 66, true, false},
    {TensorType::kIQ2_XS, "iq2_xs", 256, 74, true, false},
    {TensorType::kIQ3_XXS, "iq3_xxs", 256, 98, true, false},
    {TensorType::kIQ1_S, "iq1_s", 256, 50, true, false},
    {TensorType::kIQ4_NL, "iq4_nl", 32, 18, true, true},
    {TensorType::kIQ3_S, "iq3_s", 256, 110, true, false},
    {TensorType::kIQ2_S, "iq2_s", 256, 82, true, false},
    {TensorType::kIQ4_XS, "iq4_xs", 256, 136, true, true},
    {TensorType::kI8, "i8", 1, 1, false, false},
    {TensorType::kI16, "i16", 1, 2, false, false},
    {TensorType::kI32, "i32", 1, 4, false, false},
    {TensorType::kI64, "i64", 1, 8, false, false},
    {TensorType::kF64, "f64", 1, 8, false, false},
    {TensorType::kIQ1_M, "iq1_m", 256, 56, true, false},
    {TensorType::kBF16, "bf16", 1, 2, false, true},
    {TensorType::kTQ1_0, "tq1_0", 256, 54, true, false},
    {TensorType::kTQ2_0, "tq2_0", 256, 66, true, false},
}};
constexpr TensorTypeTraits kMxfp4 = {TensorType::kMXFP4, "mxfp4", 32, 17, true, true};

}  // namespace

const TensorTypeTraits* tensor_type_traits(uint32_t raw_type) {
  for (const auto& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == raw_type) return &t;
  }
  if (raw_type == static_cast<uint32_t>(TensorType::kMXFP4)) return &kMxfp4;
  return nullptr;
}

std::string tensor_type_name(TensorType type) {
  const TensorTypeTraits* t = tensor_type_traits(type);
  if (t == nullptr) return "type " + std::to_string(static_cast<uint32_t>(type));
  return std::string(t->name);
}

std::optional<TensorType> tensor_type_from_name(std::string_view name) {
  for (const auto& t : kTraits) {
    if (iequals(t.name, name)) return t.type;
  }
  if (iequals(kMxfp4.name, name)) return kMxfp4.type;
  return std::nullopt;
}

Result<size_t> tensor_row_size(TensorType type, int64_t n_per_row) {
  const TensorTypeTraits* t = tensor_type_traits(type);
  if (t == nullptr) {
    return unimplemented("unknown tensor type " + std::to_string(static_cast<uint32_t>(type)));
  }
  if (n_per_row < 0 || n_per_row % t->block_size != 0) {
    return invalid_argument("row of " + std::to_string(n_per_row) + " elements is not a multiple of " +
                            std::string(t->name) + "'s block size " +
                            std::to_string(t->block_size));
  }
  const uint64_t blocks = static_cast<uint64_t>(n_per_row / t->block_size);
  if (blocks > std::numeric_limits<size_t>::max() / t->type_size) {
    return out_of_range("row size overflows");
  }
  return static_cast<size_t>(blocks * t->type_size);
}

Status check_tensor_type_supported(TensorType type) {
  const TensorTypeTraits* t = tensor_type_traits(type);
  if (t == nullptr) {
    return unimplemented("unknown tensor type id " + std::to_string(static_cast<uint32_t>(type)));
  }
  if (!t->supported) {
    return unimplemented("tensor type " + std::string(t->name) + " is not supported by ember");
  }
  return Status::Ok();
}

}  // namespace ember
