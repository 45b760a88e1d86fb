// Internal side of the public ember::Model: the runtime model and its tokenizer.
#pragma once

#include <memory>

#include "ember/model.h"
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

}  // namespace ember::detail
