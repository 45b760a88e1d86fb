// ember — how closely the matrix products follow the reference implementation's arithmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ember {

// Chosen when a model is loaded (ModelOptions::numerics, EngineOptions::numerics; the CLI's
// `--numerics fast|reference`).
//  - kFast (default): the fastest kernels for this CPU (packed weights, int8 dot-product / AMX
//    tiles). Results differ from llama.cpp's in the last bits of the quantized products, which
//    the random-weight test models amplify to logit differences of a few percent NRMSE.
//  - kReference: products with Q8_0, MXFP4, Q5_0, Q5_1, Q6_K, Q5_K and Q4_K weights use
//    llama.cpp's x86 summation order (8 float lanes of exact integer sums, one FMA chain per lane
//    over the blocks, a fixed final tree, plus for Q5_1 / Q5_K one chain of the blocks' offsets;
//    Q4_K as its repacked 8-row kernels: two FMA chains over the super-blocks), bit for bit, on
//    every CPU, whatever the batch; those weights are then read in place instead of repacked (AVX2
//    kernels on x86). Prompt processing with Q8_0 / MXFP4 weights is 5-8x slower, decoding 1.4-3x
//    (docs/inference.md, "Known gap"). Other weight types (Q4_0, Q4_1, Q2_K, Q3_K, IQ4_NL, ...) are
//    computed as in kFast.
enum class Numerics : uint8_t { kFast = 0, kReference = 1 };

// "fast" / "reference".
constexpr std::string_view numerics_name(Numerics n) {
  return n == Numerics::kReference ? "reference" : "fast";
}
// Parses "fast" / "reference" (exactly); std::nullopt otherwise.
constexpr std::optional<Numerics> numerics_from_name(std::string_view name) {
  if (name == "fast") return Numerics::kFast;
  if (name == "reference") return Numerics::kReference;
  return std::nullopt;
}

}  // namespace ember
