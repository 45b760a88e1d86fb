// runtime::Model, the encoder and embedding-head parts: binding the weights of bert /
// nomic-bert files and the classification head (`cls.*`) any model may carry.
#include <cmath>

#include "model/model.h"
#include "tensor/quantize.h"

namespace ember::runtime {
namespace {

// A [rows][cols] matrix view of `name` (row length first in the file's shape).
Status encoder_matrix(const GgufFile& file, const std::string& name, int64_t rows, int64_t cols,
                      bool required, kernels::Weights* out) {
  *out = kernels::Weights{};
  const GgufTensorInfo* t = file.find_tensor(name);
  if (t == nullptr) {
    if (required) return not_found("missing tensor '" + name + "'");
    return Status::Ok();
  }
  if (t->shape.size() != 2 || t->shape[0] != cols || t->n_rows() != rows) {
    return invalid_argument("tensor '" + name + "' has the wrong shape (expected " +
                            std::to_string(cols) + " x " + std::to_string(rows) + ")");
  }
  EMBER_RETURN_IF_ERROR(check_tensor_type_supported(t->type).with_context("tensor '" + name + "'"));
  out->type = t->type;
  out->data = t->data;
  out->cols = cols;
  out->rows = rows;
  EMBER_ASSIGN_OR_RETURN(out->row_bytes, tensor_row_size(t->type, cols));
  if (static_cast<uint64_t>(out->row_bytes) * static_cast<uint64_t>(rows) != t->n_bytes) {
    return data_loss("tensor '" + name + "' size does not match its shape");
  }
  return kernels::check_weights(*out).with_context("tensor '" + name + "'");
}

}  // namespace

Result<EmbeddingInfo> read_embedding_info(const GgufFile& file, const ModelHParams& hp) {
  EmbeddingInfo info;
  const std::string arch(architecture_traits(hp.arch).name);
  if (const GgufValue* v = file.find(arch + ".pooling_type"); v != nullptr) {
    EMBER_ASSIGN_OR_RETURN(const int64_t p, v->as_int());
    if (p < 0 || p > 4) {
      return invalid_argument(arch + ".pooling_type = " + std::to_string(p) +
                              " is not one of 0 (none), 1 (mean), 2 (cls), 3 (last), 4 (rank)");
    }
    info.pooling = static_cast<PoolingType>(p);
    info.has_pooling_key = true;
  }
  if (const GgufValue* v = file.find(arch + ".classifier.output_labels"); v != nullptr) {
    EMBER_ASSIGN_OR_RETURN(std::span<const std::string> labels, v->as_string_array());
    info.cls_labels.assign(labels.begin(), labels.end());
  }
  if (const GgufValue* v = file.find("tokenizer.chat_template.rerank"); v != nullptr) {
    EMBER_ASSIGN_OR_RETURN(std::string_view t, v->as_string());
    info.rerank_template = std::string(t);
  }
  return info;
}

Status Model::bind_vector(const std::string& name, int64_t n, bool required, const float** out) {
  *out = nullptr;
  const GgufTensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) {
    if (required) return not_found("missing tensor '" + name + "'");
    return Status::Ok();
  }
  if (t->n_elements != n) {
    return invalid_argument("tensor '" + name + "' has " + std::to_string(t->n_elements) +
                            " values, expected " + std::to_string(n));
  }
  if (t->type == TensorType::kF32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0) {
    *out = reinterpret_cast<const float*>(t->data);
    return Status::Ok();
  }
  auto owned = std::make_unique<std::vector<float>>(static_cast<size_t>(n));
  EMBER_RETURN_IF_ERROR(
      dequantize_row(t->type, t->data, owned->data(), n).with_context("tensor '" + name + "'"));
  *out = owned->data();
  widened_.push_back(std::move(owned));
  return Status::Ok();
}

Status Model::bind_encoder() {
  for (const GgufTensorInfo& t : file_.tensors()) weight_bytes_ += t.n_bytes;
  const bool bert = hp_.arch == Architecture::kBert;
  const int64_t d = hp_.n_embd;
  const int64_t nq = hp_.n_embd_q(), nk = hp_.n_embd_k_gqa(), nv = hp_.n_embd_v_gqa();
  EMBER_RETURN_IF_ERROR(
      encoder_matrix(file_, "token_embd.weight", hp_.n_vocab, d, true, &token_embd_));
  // Every token is of type 0 (the reference also types a rerank pair's document half 0).
  EMBER_RETURN_IF_ERROR(bind_vector("token_types.weight", 2 * d, false, &encoder_.token_types));
  if (encoder_.token_types == nullptr) {
    // Some converters write a single type row.
    EMBER_RETURN_IF_ERROR(bind_vector("token_types.weight", d, false, &encoder_.token_types));
  }
  if (bert) {
    EMBER_RETURN_IF_ERROR(encoder_matrix(file_, "position_embd.weight", hp_.n_ctx_train, d, true,
                                         &encoder_.position));
  }
  EMBER_RETURN_IF_ERROR(bind_vector("token_embd_norm.weight", d, true, &encoder_.embd_norm_w));
  EMBER_RETURN_IF_ERROR(bind_vector("token_embd_norm.bias", d, true, &encoder_.embd_norm_b));
  layers_.resize(static_cast<size_t>(hp_.n_layer));
  encoder_.layers.resize(static_cast<size_t>(hp_.n_layer));
  for (int64_t il = 0; il < hp_.n_layer; ++il) {
    LayerWeights& L = layers_[static_cast<size_t>(il)];
    EncoderLayer& E = encoder_.layers[static_cast<size_t>(il)];
    const std::string p = "blk." + std::to_string(il) + ".";
    if (bert) {
      EMBER_RETURN_IF_ERROR(encoder_matrix(file_, p + "attn_q.weight", nq, d, true, &L.wq.w));
      EMBER_RETURN_IF_ERROR(encoder_matrix(file_, p + "attn_k.weight", nk, d, true, &L.wk.w));
      EMBER_RETURN_IF_ERROR(encoder_matrix(file_, p + "attn_v.weight", nv, d, true, &L.wv.w));
      EMBER_RETURN_IF_ERROR(bind_vector(p + "attn_q.bias", nq, true, &E.bq));
      EMBER_RETURN_IF_ERROR(bind_vector(p + "attn_k.bias", nk, true, &E.bk));
      EMBER_RETURN_IF_ERROR(bind_vector(p + "attn_v.bias", nv, true, &E.bv));
    } else {
      EMBER_RETURN_IF_ERROR(
          encoder_matrix(file_, p + "attn_qkv.weight", nq + nk + nv, d, true, &L.wqkv.w));
    }
    EMBER_RETURN_IF_ERROR(encoder_matrix(file_, p + "attn_output.weight", d,
                                         hp_.n_head * hp_.head_dim_v, true, &L.wo.w));
    EMBER_RETURN_IF_ERROR(bind_vector(p + "attn_output.bias", d, false, &E.bo));
    EMBER_RETURN_IF_ERROR(bind_vector(p + "attn_output_norm.weight", d, true, &E.attn_norm_w));
    EMBER_RETURN_IF_ERROR(bind_vector(p + "attn_output_norm.bias", d, true, &E.attn_norm_b));
    EMBER_RETURN_IF_ERROR(
        encoder_matrix(file_, p + "ffn_up.weight", hp_.n_ff, d, true, &L.ffn_up.w));
    EMBER_RETURN_IF_ERROR(bind_vector(p + "ffn_up.bias", hp_.n_ff, false, &E.b_up));
    EMBER_RETURN_IF_ERROR(
        encoder_matrix(file_, p + "ffn_gate.weight", hp_.n_ff, d, !bert, &L.ffn_gate.w));
    EMBER_RETURN_IF_ERROR(
        encoder_matrix(file_, p + "ffn_down.weight", d, hp_.n_ff, true, &L.ffn_down.w));
    EMBER_RETURN_IF_ERROR(bind_vector(p + "ffn_down.bias", d, false, &E.b_down));
    EMBER_RETURN_IF_ERROR(bind_vector(p + "layer_output_norm.weight", d, true, &E.out_norm_w));
    EMBER_RETURN_IF_ERROR(bind_vector(p + "layer_output_norm.bias", d, true, &E.out_norm_b));
  }
  if (hp_.rope_scaling != RopeScalingType::kNone) {
    return unimplemented("RoPE scaling is not supported for encoder models");
  }
  return Status::Ok();
}

Status Model::bind_head() {
  EMBER_ASSIGN_OR_RETURN(embedding_info_, read_embedding_info(file_, hp_));
  const int64_t d = hp_.n_embd;
  EMBER_RETURN_IF_ERROR(encoder_matrix(file_, "cls.weight", d, d, false, &cls_.w));
  EMBER_RETURN_IF_ERROR(bind_vector("cls.bias", d, false, &cls_bias_));
  if (const GgufTensorInfo* t = file_.find_tensor("cls.output.weight"); t != nullptr) {
    if (t->shape.size() != 2 || t->shape[0] != d || t->shape[1] < 1 || t->shape[1] > 4096) {
      return invalid_argument("tensor 'cls.output.weight' must be " + std::to_string(d) +
                              " x n_labels (1..4096)");
    }
    const auto n_out = static_cast<int64_t>(t->shape[1]);
    EMBER_RETURN_IF_ERROR(encoder_matrix(file_, "cls.output.weight", n_out, d, true, &cls_out_.w));
    EMBER_RETURN_IF_ERROR(bind_vector("cls.output.bias", n_out, false, &cls_out_bias_));
  }
  return Status::Ok();
}

}  // namespace ember::runtime
