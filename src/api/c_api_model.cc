// The C API's model handle (ember_model_*, ember_engine_create) over ember::Model.
#include <new>
#include <string>

#include "api/c_api_internal.h"
#include "ember/ember.h"

using ember::c_api::fail;

namespace {

// Loads the model into a new handle (*out_model, already nulled by the caller).
ember_status load_model(const char* path, const ember::ModelOptions& options,
                        ember_model** out_model) {
  try {
    auto model = ember::Model::load(path, options);
    if (!model.ok()) return fail(model.status());
    auto* m = new ember_model{std::move(*model), {}, {}, {}};
    m->description = m->model->description();
    m->architecture = m->model->architecture();
    m->chat_template = m->model->chat_template();
    *out_model = m;
    return EMBER_OK;
  } catch (const std::bad_alloc&) {
    return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory loading the model");
  }
}

}  // namespace

extern "C" {

void ember_free(void* p) {
  std::free(p);
}

ember_status ember_model_load(const char* path, int use_mmap, int32_t n_threads,
                              ember_model** out_model) {
  if (path == nullptr || out_model == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT, "ember_model_load: path and out_model are required");
  }
  *out_model = nullptr;
  return load_model(path, {.use_mmap = use_mmap != 0, .n_threads = n_threads}, out_model);
}

void ember_model_options_init(ember_model_options* o) {
  if (o == nullptr) return;
  const ember::ModelOptions d;
  o->size = sizeof(ember_model_options);
  o->use_mmap = d.use_mmap ? 1 : 0;
  o->n_threads = d.n_threads;
  o->numerics = nullptr;
}

ember_status ember_model_load_ex(const char* path, const ember_model_options* options,
                                 ember_model** out_model) {
  if (path == nullptr || out_model == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT, "ember_model_load_ex: path and out_model are required");
  }
  *out_model = nullptr;
  ember_model_options o;
  ember_model_options_init(&o);
  if (options != nullptr) {
    // Versioned struct: this is its first version, so every field must be present.
    if (options->size < sizeof(ember_model_options)) {
      return fail(EMBER_INVALID_ARGUMENT,
                  "ember_model_load_ex: options->size is too small (call "
                  "ember_model_options_init first)");
    }
    o = *options;
  }
  ember::Numerics numerics = ember::Numerics::kFast;
  if (o.numerics != nullptr) {
    const auto n = ember::numerics_from_name(o.numerics);
    if (!n) {
      return fail(EMBER_INVALID_ARGUMENT, (std::string("unknown numerics \"") + o.numerics +
                                           "\": expected \"fast\" or \"reference\"")
                                              .c_str());
    }
    numerics = *n;
  }
  return load_model(path,
                    {.use_mmap = o.use_mmap != 0, .n_threads = o.n_threads, .numerics = numerics},
                    out_model);
}

void ember_model_free(ember_model* model) {
  delete model;
}

const char* ember_model_description(const ember_model* m) {
  return m != nullptr ? m->description.c_str() : "";
}
const char* ember_model_architecture(const ember_model* m) {
  return m != nullptr ? m->architecture.c_str() : "";
}
const char* ember_model_chat_template(const ember_model* m) {
  return m != nullptr ? m->chat_template.c_str() : "";
}
int32_t ember_model_n_vocab(const ember_model* m) {
  return m != nullptr ? m->model->n_vocab() : 0;
}
int32_t ember_model_n_ctx_train(const ember_model* m) {
  return m != nullptr ? m->model->n_ctx_train() : 0;
}
int32_t ember_model_n_embd(const ember_model* m) {
  return m != nullptr ? m->model->n_embd() : 0;
}
int32_t ember_model_n_layer(const ember_model* m) {
  return m != nullptr ? m->model->n_layer() : 0;
}
int32_t ember_model_n_head(const ember_model* m) {
  return m != nullptr ? m->model->n_head() : 0;
}
int32_t ember_model_n_head_kv(const ember_model* m) {
  return m != nullptr ? m->model->n_head_kv() : 0;
}
uint64_t ember_model_size(const ember_model* m) {
  return m != nullptr ? m->model->weight_bytes() : 0;
}
uint64_t ember_model_n_params(const ember_model* m) {
  return m != nullptr ? m->model->n_params() : 0;
}

const char* ember_model_numerics(const ember_model* m) {
  // numerics_name returns views of string literals, so .data() is NUL-terminated static storage.
  return m != nullptr ? ember::numerics_name(m->model->numerics()).data() : "";
}

ember_status ember_model_metadata(const ember_model* m, const char* key, char** out_value) {
  if (m == nullptr || key == nullptr || out_value == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT,
                "ember_model_metadata: model, key and out_value are required");
  }
  *out_value = nullptr;
  std::optional<std::string> v = m->model->metadata(key);
  if (!v) return fail(EMBER_NOT_FOUND, (std::string("no metadata key ") + key).c_str());
  *out_value = ember::c_api::copy_string(*v);
  if (*out_value == nullptr) return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory");
  return EMBER_OK;
}

}  // extern "C"
