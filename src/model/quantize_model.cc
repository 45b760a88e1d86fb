#include "model/quantize_model.h"

#include <memory>
#include <vector>

#include "base/parallel.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "tensor/quantize.h"

namespace ember {

namespace {

// Converts `n_rows` rows from `src_type` to `dst_type`, rows split across threads.
Status convert_rows(const uint8_t* src, TensorType src_type, uint8_t* dst, TensorType dst_type,
                    int64_t n_rows, int64_t row_len, int n_threads) {
  EMBER_ASSIGN_OR_RETURN(const size_t src_row, tensor_row_size(src_type, row_len));
  EMBER_ASSIGN_OR_RETURN(const size_t dst_row, tensor_row_size(dst_type, row_len));
  return parallel_for(n_rows, n_threads, [&](int64_t begin, int64_t end) -> Status {
    std::vector<float> tmp(static_cast<size_t>(row_len));
    for (int64_t r = begin; r < end; ++r) {
      EMBER_RETURN_IF_ERROR(
          dequantize_row(src_type, src + static_cast<size_t>(r) * src_row, tmp.data(), row_len));
      EMBER_RETURN_IF_ERROR(quantize_row(dst_type, tmp.data(), dst + static_cast<size_t>(r) * dst_row,
                                         row_len)
                                .with_context("row " + std::to_string(r)));
    }
    return Status::Ok();
  });
}

}  // namespace

Result<QuantizeModelStats> quantize_model(const std::string& in_path, const std::string& out_path,
                                          const QuantizeModelOptions& options) {
  EMBER_ASSIGN_OR_RETURN(GgufFile in, GgufFile::open(in_path));
  QuantRecipeContext ctx;
  ctx.pure = options.pure;
  if (auto hp = read_hparams(in); hp.ok()) {
    ctx.n_layer = hp->n_layer;
    ctx.n_gqa = hp->n_head_kv > 0 ? hp->n_head / hp->n_head_kv : 1;
    ctx.n_expert = hp->n_expert;
  } else {
    // Unknown architectures still quantize; the layer-dependent recipe parts see n_layer from
    // the tensor names.
    for (const auto& t : in.tensors()) {
      TensorRole role;
      int layer = -1;
      if (role_from_tensor_name(t.name, &role, &layer)) ctx.n_layer = std::max<int64_t>(ctx.n_layer, layer + 1);
    }
  }
  ctx.has_output = in.find_tensor("output.weight") != nullptr;
  const int n_threads = options.n_threads > 0 ? options.n_threads : hardware_threads();

  GgufWriter writer;
  EMBER_RETURN_IF_ERROR(writer.set_alignment(static_cast<uint32_t>(in.alignment())));
  for (const auto& [k, v] : in.metadata()) {
    if (k == "general.alignment" || k.rfind("split.", 0) == 0) continue;
    writer.set(k, v);
  }
  writer.set("general.file_type", GgufValue::u32(options.preset.file_type));
  writer.set("general.quantization_version", GgufValue::u32(2));

  QuantizeModelStats stats;
  stats.n_tensors = in.tensors().size();
  const size_t total = in.tensors().size();
  // Shared by the producers, which the writer calls in order while writing.
  auto done = std::make_shared<size_t>(0);
  for (const GgufTensorInfo& t : in.tensors()) {
    TensorRole role = TensorRole::kFfnUp;  // unknown 2-D tensors are treated as plain matrices
    int layer = -1;
    if (!role_from_tensor_name(t.name, &role, &layer) && t.shape.size() < 2) role = TensorRole::kNorm;
    std::optional<TensorType> chosen =
        choose_tensor_type(options.preset, t.name, role, layer, t.shape, ctx);
    const TensorType dst_type = chosen.value_or(t.type);
    stats.bytes_in += t.n_bytes;
    const GgufTensorInfo* src = &t;
    if (dst_type == t.type) {
      EMBER_RETURN_IF_ERROR(writer.add_tensor(
          t.name, t.type, t.shape, [src, done, total, &options](std::span<uint8_t> dst) -> Status {
            std::copy(src->data, src->data + src->n_bytes, dst.begin());
            if (options.progress) options.progress(++*done, total, src->name, src->type);
            return Status::Ok();
          }));
      stats.bytes_out += t.n_bytes;
      continue;
    }
    EMBER_RETURN_IF_ERROR(check_tensor_type_supported(t.type).with_context("tensor '" + t.name + "'"));
    EMBER_ASSIGN_OR_RETURN(const size_t dst_row, tensor_row_size(dst_type, t.shape[0]));
    stats.bytes_out += dst_row * static_cast<uint64_t>(t.n_rows());
    ++stats.n_quantized;
    EMBER_RETURN_IF_ERROR(writer.add_tensor(
        t.name, dst_type, t.shape,
        [src, dst_type, n_threads, done, total, &options](std::span<uint8_t> dst) -> Status {
          EMBER_RETURN_IF_ERROR(convert_rows(src->data, src->type, dst.data(), dst_type,
                                             src->n_rows(), src->shape[0], n_threads)
                                    .with_context("tensor '" + src->name + "'"));
          if (options.progress) options.progress(++*done, total, src->name, dst_type);
          return Status::Ok();
        }));
  }
  EMBER_RETURN_IF_ERROR(writer.write_file(out_path));
  return stats;
}

}  // namespace ember
