// The C API's model handle (ember_model_*, ember_engine_create) over ember::Model.
#include <new>
#include <string>

#include "api/c_api_internal.h"
#include "ember/ember.h"

using ember::c_api::fail;

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
  try {
    auto model = ember::Model::load(path, {.use_mmap = use_mmap != 0, .n_threads = n_threads});
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
