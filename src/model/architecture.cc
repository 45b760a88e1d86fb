#include "model/architecture.h"

#include <array>

namespace ember {
namespace {

constexpr std::array<ArchitectureTraits, 20> kArchitectures = {{
    // arch                    name        bias   qknorm fused  gateup post   moe    tied   no-out
    {Architecture::kLlama, "llama", false, false, false, false, false, false, false, false},
    {Architecture::kQwen2, "qwen2", true, false, false, false, false, false, true, false},
    {Architecture::kQwen3, "qwen3", false, true, false, false, false, false, true, false},
    {Architecture::kQwen3Moe, "qwen3moe", false, true, false, false, false, true, false, false},
    {Architecture::kPhi3, "phi3", false, false, true, true, false, false, false, false},
    {Architecture::kGemma2, "gemma2", false, false, false, false, true, false, true, true},
    {Architecture::kGemma3, "gemma3", false, true, false, false, true, false, true, true},
    {Architecture::kGemma4, "gemma4", false, true, false, false, true, false, true, true},
    {Architecture::kMistral3, "mistral3", false, false, false, false, false, false, false, false},
    {Architecture::kSmollm3, "smollm3", false, false, false, false, false, false, true, false},
    {Architecture::kGranite, "granite", false, false, false, false, false, false, false, false},
    {Architecture::kGptOss, "gpt-oss", true, false, false, false, false, true, false, false},
    {Architecture::kGlm4Moe, "glm4moe", true, false, false, false, false, true, false, false},
    {Architecture::kLlama4, "llama4", false, false, false, false, false, true, false, false},
    {Architecture::kDeepseek2, "deepseek2", false, false, false, false, false, false, false, false},
    {Architecture::kLfm2, "lfm2", false, true, false, false, false, false, true, false},
    {Architecture::kQwen35, "qwen35", false, true, false, false, false, false, true, false},
    {Architecture::kQwen35Moe, "qwen35moe", false, true, false, false, false, true, false, false},
    {Architecture::kBert, "bert", true, false, false, false, false, false, false, true},
    {Architecture::kNomicBert, "nomic-bert", false, false, true, false, false, false, false, true},
}};

}  // namespace

const ArchitectureTraits& architecture_traits(Architecture arch) {
  for (const auto& a : kArchitectures) {
    if (a.arch == arch) return a;
  }
  return kArchitectures[0];  // unreachable: every enumerator is in the table
}

bool is_encoder(Architecture arch) {
  return arch == Architecture::kBert || arch == Architecture::kNomicBert;
}

std::string supported_architecture_names() {
  std::string out;
  for (const auto& a : kArchitectures) {
    if (!out.empty()) out += ", ";
    out += a.name;
  }
  return out;
}

std::optional<Architecture> architecture_from_name(std::string_view name) {
  for (const auto& a : kArchitectures) {
    if (a.name == name) return a.arch;
  }
  return std::nullopt;
}

}  // namespace ember
