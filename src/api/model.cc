// The public Model: loads the runtime model and its tokenizer once, shared by Contexts/Engines.
#include "ember/model.h"

#include "api/model_impl.h"
#include "tokenizer/tokenizer_gguf.h"

namespace ember {

Model::Model(std::unique_ptr<detail::ModelImpl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

Result<std::shared_ptr<const Model>> Model::load(const std::string& path,
                                                 const ModelOptions& options) {
  if (options.n_threads < 0 || options.n_threads > 1024) {
    return invalid_argument("n_threads must be in [0, 1024] (0 = all hardware threads), got " +
                            std::to_string(options.n_threads));
  }
  runtime::ModelLoadOptions load_options;
  load_options.use_mmap = options.use_mmap;
  load_options.n_threads = options.n_threads;
  load_options.progress = options.progress;
  load_options.numerics = options.numerics;
  EMBER_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Model> model,
                         runtime::Model::load(path, load_options));
  Result<Tokenizer> tokenizer = tokenizer_from_gguf(model->file());
  if (!tokenizer.ok()) return tokenizer.status().with_context(path);
  auto impl = std::make_unique<detail::ModelImpl>(
      detail::ModelImpl{std::move(model), std::move(tokenizer).value()});
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

std::string Model::architecture() const {
  return impl_->model->file().get_string("general.architecture").value_or("");
}

Numerics Model::numerics() const {
  return impl_->model->numerics();
}

uint64_t Model::n_params() const {
  return impl_->model->n_params();
}

std::string Model::description() const {
  return impl_->model->description();
}

int32_t Model::n_vocab() const {
  return static_cast<int32_t>(impl_->model->hparams().n_vocab);
}
int32_t Model::n_ctx_train() const {
  return static_cast<int32_t>(impl_->model->hparams().n_ctx_train);
}
int32_t Model::n_embd() const {
  return static_cast<int32_t>(impl_->model->hparams().n_embd);
}
int32_t Model::n_layer() const {
  return static_cast<int32_t>(impl_->model->hparams().n_layer);
}
int32_t Model::n_head() const {
  return static_cast<int32_t>(impl_->model->hparams().n_head);
}
int32_t Model::n_head_kv() const {
  return static_cast<int32_t>(impl_->model->hparams().n_head_kv);
}

std::string Model::chat_template() const {
  return impl_->model->file().get_string("tokenizer.chat_template").value_or("");
}

std::optional<std::string> Model::metadata(std::string_view key) const {
  const GgufValue* v = impl_->model->file().find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type() == GgufType::kString) return std::string(v->as_string().value());
  return v->summary();
}

std::vector<std::string> Model::metadata_keys() const {
  std::vector<std::string> keys;
  keys.reserve(impl_->model->file().metadata().size());
  for (const auto& [key, value] : impl_->model->file().metadata()) keys.push_back(key);
  return keys;
}

const Tokenizer& Model::tokenizer() const {
  return impl_->tokenizer;
}

uint64_t Model::weight_bytes() const {
  return impl_->model->weight_bytes();
}

uint64_t Model::packed_bytes() const {
  return impl_->model->packed_bytes();
}

}  // namespace ember
