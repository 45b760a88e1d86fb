// Internal side of the public ember::Model: the runtime model and its tokenizer.
#pragma once

#include <memory>

#include "ember/kv_cache_type.h"
#include "ember/model.h"
#include "kernels/ops.h"
#include "model/model.h"

namespace ember::detail {

struct ModelImpl {
  std::unique_ptr<runtime::Model> model;
  Tokenizer tokenizer;
};

// Lets the Context and the Engine reach the runtime model behind a public Model.
struct ModelAccess {
  static const ModelImpl& impl(const Model& m) { return *m.impl_; }
};

// The runtime's cache type for the public one (Engine and Server; the public Context validates
// the value itself).
inline kernels::KvType kernel_kv_type(KvCacheType t) {
  switch (t) {
    case KvCacheType::kF32:
      return kernels::KvType::kF32;
    case KvCacheType::kQ8_0:
      return kernels::KvType::kQ8_0;
    case KvCacheType::kF16:
      break;
  }
  return kernels::KvType::kF16;
}

}  // namespace ember::detail
