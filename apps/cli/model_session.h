// Shared pieces of the commands that run a model (run, logits, bench): option parsing helpers,
// model + tokenizer loading with timing, memory figures.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ember/model.h"
#include "ember/status.h"
#include "ember/tokenizer.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "runtime/context.h"

namespace ember::cli {

// "f16", "f32", "q8_0" (case-insensitive).
Result<kernels::KvType> parse_kv_type(const std::string& name);

// The model, its tokenizer (when the file has one) and the load time.
struct LoadedModel {
  std::unique_ptr<runtime::Model> model;
  std::optional<Tokenizer> tokenizer;
  double load_seconds = 0.0;
};

// Loads `path`; packs weights with `threads` threads (0: all). Tokenizer warnings go to stderr.
// A missing tokenizer is not an error here (token-id inputs still work). A load that takes over a
// second shows its progress on stderr (progress.h) unless `quiet`.
// `numerics`: ModelLoadOptions::numerics (ember/numerics.h).
Result<LoadedModel> load_model(const std::string& path, int threads, bool quiet = false,
                               Numerics numerics = Numerics::kFast);

// The public Model (for Engine::create / Server::create) with the same progress display.
Result<std::shared_ptr<const Model>> load_public_model(const std::string& path,
                                                       ModelOptions options, bool quiet = false);

// Tokenizes a prompt as the reference does for generation: BOS as the model's metadata says,
// special-token text parsed.
Result<std::vector<int32_t>> tokenize_prompt(const LoadedModel& m, const std::string& prompt);

// Resident set size of this process in bytes (0 when unknown).
size_t resident_bytes();
// The resident set's peak so far (VmHWM), 0 when unknown.
size_t peak_resident_bytes();

// Reads a whole file (prompt files, token files).
Result<std::string> read_text_file(const std::string& path);

}  // namespace ember::cli
