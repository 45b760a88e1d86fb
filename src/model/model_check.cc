#include "model/model_check.h"

#include "base/strings.h"

#include "gguf/gguf.h"
#include "model/tensor_layout.h"

namespace ember {
Status check_tensor_types_supported(const GgufFile& file) {
  for (const GgufTensorInfo& t : file.tensors()) {
    const TensorTypeTraits* traits = tensor_type_traits(t.type);
    if (traits == nullptr || !traits->supported) {
      return unimplemented("tensor '" + t.name + "' has type " + tensor_type_name(t.type) +
                           ", which ember does not support");
    }
  }
  return Status::Ok();
}

Status check_model_tensors(const GgufFile& file, const ModelHParams& hp) {
  const bool tied = file.find_tensor("output.weight") == nullptr;
  for (const TensorSpec& spec : model_tensor_layout(hp, tied)) {
    const GgufTensorInfo* t = file.find_tensor(spec.name);
    if (t == nullptr && spec.optional) continue;
    if (t == nullptr) return not_found("missing tensor '" + spec.name + "'");
    if (t->shape != spec.shape) {
      return invalid_argument("tensor '" + spec.name + "' has shape " + shape_to_string(t->shape) +
                              ", expected " + shape_to_string(spec.shape));
    }
  }
  return Status::Ok();
}

Status check_model_file(const GgufFile& file) {
  EMBER_ASSIGN_OR_RETURN(const ModelHParams hp, read_hparams(file));
  EMBER_RETURN_IF_ERROR(check_tensor_types_supported(file));
  return check_model_tensors(file, hp);
}

}  // namespace ember
