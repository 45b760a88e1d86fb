// Internal: each pre-tokenizer kind as the list of steps llama.cpp applies, with the regex text
// llama.cpp uses for every step. Steps with a hand-written splitter say so; the regex text is still
// kept so tests can check the splitter against the regex it stands for.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "ember/status.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/pre_tokenizer_custom.h"
#include "tokenizer/pre_tokenizer_regex.h"

namespace ember::tokenizer::detail {

enum class StepType : uint8_t {
  kRegex,        // PCRE2, llama.cpp semantics (pre_tokenizer_regex.h)
  kGpt2,         // split_gpt2
  kLlama3,       // split_llama3 with `llama3` options
  kKimiK2,       // split_kimi_k2 (no regex equivalent: llama.cpp's own splitter is the spec)
  kAfmoeDigits,  // split_afmoe_digits (likewise)
  kNumbers,      // split_numbers with `max_run`
  kNewlineRuns,  // split_newline_runs
};

struct Step {
  StepType type = StepType::kRegex;
  std::string_view regex;  // llama.cpp's regex for this step ("" when it has none)
  Llama3Options llama3{};
  int max_run = 0;
  // True when `regex` (run through LlamaRegex) is an exact equivalent of the step.
  bool has_regex_equivalent() const {
    return type != StepType::kKimiK2 && type != StepType::kAfmoeDigits;
  }
};

// The steps of a kind (static data).
const std::vector<Step>& program_steps(PreTokenizer kind);

// The steps with their regexes compiled (every step with a regex equivalent, custom or not).
struct CompiledProgram {
  std::vector<Step> steps;
  std::vector<std::shared_ptr<const LlamaRegex>> regexes;  // per step; null when none
  Status status;  // a compile error (never expected: the patterns are fixed)
};
const CompiledProgram& compiled_program(PreTokenizer kind);

// Runs the steps. With `reference` set, every step that has a regex equivalent runs through PCRE2
// instead of its hand-written splitter: the tests compare both.
void run_program(const CompiledProgram& program, std::string_view text, bool reference,
                 Pieces& words);

}  // namespace ember::tokenizer::detail
