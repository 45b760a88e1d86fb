// Weights of the encoder architectures (bert, nomic-bert) and the embedding / ranking metadata
// every model may carry (pooling type, classification head, rerank template). Bound by
// runtime::Model at load; read by runtime/encoder.cc and the embedding API (api/embed.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ember/status.h"
#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "model/hparams.h"

namespace ember::runtime {

struct Linear;

// Pooling types as the GGUF `<arch>.pooling_type` key numbers them (llama.cpp's enum).
enum class PoolingType : int32_t { kNone = 0, kMean = 1, kCls = 2, kLast = 3, kRank = 4 };

// One encoder block (post-norm). Matrices are [rows = out][cols = in]; biases absent (nullptr)
// for nomic-bert.
struct EncoderLayer {
  const float* bq = nullptr;  // bert: [n_embd] each
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* bo = nullptr;           // attn_output.bias [n_embd]
  const float* attn_norm_w = nullptr;  // attn_output_norm.{weight,bias} [n_embd]
  const float* attn_norm_b = nullptr;
  const float* b_up = nullptr;        // ffn_up.bias [n_ff]
  const float* b_down = nullptr;      // ffn_down.bias [n_embd]
  const float* out_norm_w = nullptr;  // layer_output_norm.{weight,bias} [n_embd]
  const float* out_norm_b = nullptr;
};

struct EncoderWeights {
  const float* token_types =
      nullptr;                // row 0 of token_types.weight [n_embd] (every token is type 0)
  kernels::Weights position;  // bert: position_embd [n_ctx_train][n_embd]
  const float* embd_norm_w = nullptr;  // token_embd_norm.{weight,bias} [n_embd]
  const float* embd_norm_b = nullptr;
  std::vector<EncoderLayer> layers;
};

// What a model says about embedding and ranking (any architecture).
struct EmbeddingInfo {
  PoolingType pooling = PoolingType::kNone;  // <arch>.pooling_type (kNone when absent)
  bool has_pooling_key = false;
  std::vector<std::string> cls_labels;  // <arch>.classifier.output_labels
  std::string rerank_template;          // tokenizer.chat_template.rerank
};

// Reads the pooling type, labels and rerank template. Errors: a pooling type outside [0, 4].
Result<EmbeddingInfo> read_embedding_info(const GgufFile& file, const ModelHParams& hp);

}  // namespace ember::runtime
