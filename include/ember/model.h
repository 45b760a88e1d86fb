// ember — a loaded model: weights, hyper-parameters, metadata and tokenizer, shared read-only.
//
//   ember::Result<std::shared_ptr<const ember::Model>> model =
//       ember::Model::load("model.gguf", {.n_threads = 4});
//   if (!model.ok()) { std::cerr << model.status().to_string() << "\n"; return 1; }
//   std::cout << (*model)->description() << ", " << (*model)->n_layer() << " layers\n";
//   auto ids = (*model)->tokenizer().tokenize("Hello");
//
// A Model is immutable once loaded and is handed out as std::shared_ptr<const Model>: any number
// of Contexts (ember/context.h) and Engines (ember/engine.h, Engine::create) may use one Model at
// the same time, from different threads, without copying the weights. Each of them keeps the
// Model alive, so the caller may drop its own pointer at any time.
//
// The per-run settings (context size, KV cache type, batch sizes, threads of the forward pass)
// belong to the Context or Engine created from the Model, not to the Model.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ember/numerics.h"
#include "ember/status.h"
#include "ember/tokenizer.h"

namespace ember {

namespace detail {
struct ModelImpl;
struct ModelAccess;
}  // namespace detail

struct ModelOptions {
  // Map the file instead of reading it into memory (faster start, pages shared between
  // processes). With false the whole file is read into memory.
  bool use_mmap = true;
  // Threads used while loading (repacking the weight matrices for this CPU); 0 = all hardware
  // threads. Does not limit the threads of the Contexts created later.
  int32_t n_threads = 0;
  // Progress of the load's long part, packing the weight matrices for this CPU: called with the
  // matrices done and their total after each one. Calls never overlap but come from the loading
  // threads; keep it quick (e.g. update a progress bar). Empty: no calls.
  std::function<void(size_t done, size_t total)> progress;
  // kReference: quantized products (Q8_0, MXFP4, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) in llama.cpp's
  // summation order (ember/numerics.h; slower prompts). Every Context / Engine on this Model uses
  // it.
  Numerics numerics = Numerics::kFast;
};

class Model {
 public:
  // Opens and checks a GGUF model file (architecture, hyper-parameters, every tensor) and its
  // tokenizer. Errors name the problem: unreadable file, invalid GGUF, unknown architecture,
  // missing or malformed tensor, no usable tokenizer metadata, n_threads outside [0, 1024].
  static Result<std::shared_ptr<const Model>> load(const std::string& path,
                                                   const ModelOptions& options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // The GGUF `general.architecture` value, e.g. "llama", "qwen2", "gemma3".
  std::string architecture() const;
  // Architecture, parameter count and main weight type in words, e.g. "llama 1.24B q4_0".
  std::string description() const;

  // Hyper-parameters as stored in the file's `<arch>.*` keys.
  int32_t n_vocab() const;      // tokens in the vocabulary (the length of every logits row)
  int32_t n_ctx_train() const;  // context length the model was trained with
  int32_t n_embd() const;       // embedding width
  int32_t n_layer() const;      // transformer blocks
  int32_t n_head() const;       // attention (query) heads
  int32_t n_head_kv() const;    // key/value heads (== n_head without grouped-query attention)

  // The model's chat template (the `tokenizer.chat_template` metadata, a Jinja template), or an
  // empty string when the file has none.
  std::string chat_template() const;

  // A metadata value rendered as text, or std::nullopt when the key is absent. Strings come back
  // as they are; integers in decimal; floats in the shortest form that reads back to the same
  // value; booleans as "true" / "false"; arrays as a summary like "[string x 32000]" (their
  // elements are not listed).
  std::optional<std::string> metadata(std::string_view key) const;
  // Every metadata key, in file order.
  std::vector<std::string> metadata_keys() const;

  // The model's tokenizer (thread-safe, see ember/tokenizer.h). Valid as long as the Model.
  const Tokenizer& tokenizer() const;

  // Bytes of all tensor data in the file (mapped, not necessarily resident, with use_mmap).
  uint64_t weight_bytes() const;
  // Parameters: the elements of all tensors (as llama.cpp's llama_model_n_params counts them).
  uint64_t n_params() const;
  // Bytes of the weight matrices repacked at load for this CPU's fastest kernels, held in
  // memory (0 when nothing was repacked). With use_mmap, the file pages of repacked matrices are
  // given back to the operating system, so resident memory is roughly this plus the rest.
  uint64_t packed_bytes() const;
  // The numerics the model was loaded with (ModelOptions::numerics).
  Numerics numerics() const;

 private:
  friend struct detail::ModelAccess;
  explicit Model(std::unique_ptr<detail::ModelImpl> impl);
  std::unique_ptr<detail::ModelImpl> impl_;
};

}  // namespace ember
