// Converting a whole GGUF model to another tensor type or quantization preset.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "ember/status.h"
#include "model/quant_recipe.h"

namespace ember {

struct QuantizeModelOptions {
  QuantPreset preset;
  bool pure = false;   // every matrix gets the preset's base type
  int n_threads = 0;   // 0: all hardware threads
  // Called after each tensor: (tensors done, total tensors, name, chosen type).
  std::function<void(size_t, size_t, const std::string&, TensorType)> progress;
};

struct QuantizeModelStats {
  uint64_t bytes_in = 0;   // tensor data read
  uint64_t bytes_out = 0;  // tensor data written
  size_t n_tensors = 0;
  size_t n_quantized = 0;  // tensors whose type changed
};

// Reads `in_path`, converts each matrix (as choose_tensor_type decides), copies every other
// tensor and all metadata, sets `general.file_type` and `general.quantization_version`, and writes
// `out_path`. Inputs may be F32/F16/BF16 or already quantized (re-quantization goes through F32).
Result<QuantizeModelStats> quantize_model(const std::string& in_path, const std::string& out_path,
                                          const QuantizeModelOptions& options);

}  // namespace ember
