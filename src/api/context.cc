// The public Context: argument checks in front of the runtime context.
#include "ember/context.h"

#include <algorithm>
#include <string>

#include "api/model_impl.h"
#include "runtime/context.h"

namespace ember {

struct Context::Impl {
  std::shared_ptr<const Model> model;
  std::unique_ptr<runtime::Context> ctx;
  int32_t n_batch = 0;
  runtime::Batch batch;  // reused for every decode()
};

namespace {

Status check_seq(const char* what, int32_t seq_id, int32_t n_seq_max) {
  if (seq_id < 0 || seq_id >= n_seq_max) {
    return invalid_argument(std::string(what) + " " + std::to_string(seq_id) +
                            " is out of range [0, " + std::to_string(n_seq_max) + ")");
  }
  return Status::Ok();
}

Status check_range(int32_t p0, int32_t p1) {
  if (p0 >= 0 && p1 >= 0 && p0 > p1) {
    return invalid_argument("position range [" + std::to_string(p0) + ", " + std::to_string(p1) +
                            ") ends before it starts");
  }
  return Status::Ok();
}

bool in_range(int32_t pos, int32_t p0, int32_t p1) {
  return pos >= std::max(p0, 0) && (p1 < 0 || pos < p1);
}

}  // namespace

Context::Context(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Context::~Context() = default;

Result<std::unique_ptr<Context>> Context::create(std::shared_ptr<const Model> model,
                                                 const ContextOptions& options) {
  if (model == nullptr) return invalid_argument("the model is null");
  if (options.n_ctx < 0) {
    return invalid_argument("n_ctx must be >= 0 (0 = the model's training context), got " +
                            std::to_string(options.n_ctx));
  }
  if (options.n_batch < 1) {
    return invalid_argument("n_batch must be >= 1, got " + std::to_string(options.n_batch));
  }
  if (options.n_ubatch < 0 || options.n_ubatch > options.n_batch) {
    return invalid_argument("n_ubatch must be in [0, n_batch = " + std::to_string(options.n_batch) +
                            "] (0 = n_batch), got " + std::to_string(options.n_ubatch));
  }
  if (options.n_threads < 0) {
    return invalid_argument("n_threads must be >= 0 (0 = all hardware threads), got " +
                            std::to_string(options.n_threads));
  }
  kernels::KvType kv_type = kernels::KvType::kF16;
  switch (options.kv_cache_type) {
    case KvCacheType::kF16:
      kv_type = kernels::KvType::kF16;
      break;
    case KvCacheType::kF32:
      kv_type = kernels::KvType::kF32;
      break;
    case KvCacheType::kQ8_0:
      kv_type = kernels::KvType::kQ8_0;
      break;
    default:
      return invalid_argument("unknown kv_cache_type " +
                              std::to_string(static_cast<int>(options.kv_cache_type)));
  }
  const runtime::Model& rm = *detail::ModelAccess::impl(*model).model;
  int64_t n_ctx = options.n_ctx;
  if (n_ctx == 0) n_ctx = std::min<int64_t>(rm.hparams().n_ctx_train, 8192);
  runtime::ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_ubatch = options.n_ubatch > 0 ? options.n_ubatch : options.n_batch;
  cp.n_seq_max = options.n_seq_max;
  cp.kv_type = kv_type;
  cp.n_threads = options.n_threads;
  switch (options.attention) {
    case ContextOptions::Attention::kBySize:
      cp.attention = runtime::AttentionMode::kAuto;
      break;
    case ContextOptions::Attention::kTiled:
      cp.attention = runtime::AttentionMode::kTiled;
      break;
    case ContextOptions::Attention::kPerKey:
      cp.attention = runtime::AttentionMode::kPerKey;
      break;
    default:
      return invalid_argument("unknown attention algorithm " +
                              std::to_string(static_cast<int>(options.attention)));
  }
  auto impl = std::make_unique<Impl>();
  EMBER_ASSIGN_OR_RETURN(impl->ctx, runtime::Context::create(rm, cp));
  impl->model = std::move(model);
  impl->n_batch = options.n_batch;
  return std::unique_ptr<Context>(new Context(std::move(impl)));
}

Status Context::decode(const Batch& batch) {
  Impl& s = *impl_;
  const int32_t n = batch.size();
  if (n == 0) return invalid_argument("the batch is empty");
  if (n > s.n_batch) {
    return invalid_argument("the batch has " + std::to_string(n) +
                            " tokens, more than this context's n_batch (" +
                            std::to_string(s.n_batch) + ")");
  }
  if (n > n_ctx()) {
    return out_of_range("the batch has " + std::to_string(n) +
                        " tokens, more than the context holds (n_ctx = " + std::to_string(n_ctx()) +
                        ")");
  }
  // The runtime checks token ids, sequence ids and positions before touching the cache.
  s.batch.tokens.assign(batch.tokens().begin(), batch.tokens().end());
  s.batch.pos.assign(batch.positions().begin(), batch.positions().end());
  s.batch.seq.assign(batch.seq_ids().begin(), batch.seq_ids().end());
  s.batch.logits.assign(batch.want_logits().begin(), batch.want_logits().end());
  return s.ctx->decode(s.batch);
}

int32_t Context::n_outputs() const {
  return static_cast<int32_t>(impl_->ctx->n_outputs());
}

Result<std::span<const float>> Context::logits(int32_t i) const {
  const int64_t n_out = impl_->ctx->n_outputs();
  const int64_t index = i < 0 ? n_out + i : i;
  if (index < 0 || index >= n_out) {
    return out_of_range("output index " + std::to_string(i) +
                        " is out of range: the last decode produced " + std::to_string(n_out) +
                        " outputs");
  }
  return std::span<const float>(impl_->ctx->logits(index),
                                static_cast<size_t>(impl_->ctx->n_vocab()));
}

Status Context::seq_rm(int32_t seq_id, int32_t p0, int32_t p1) {
  if (seq_id != -1) EMBER_RETURN_IF_ERROR(check_seq("sequence id", seq_id, n_seq_max()));
  EMBER_RETURN_IF_ERROR(check_range(p0, p1));
  return impl_->ctx->seq_rm(seq_id, std::max(p0, 0), p1 < 0 ? -1 : p1);
}

Status Context::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  EMBER_RETURN_IF_ERROR(check_seq("source sequence id", src, n_seq_max()));
  EMBER_RETURN_IF_ERROR(check_seq("destination sequence id", dst, n_seq_max()));
  EMBER_RETURN_IF_ERROR(check_range(p0, p1));
  if (src == dst) return Status::Ok();
  // A position held twice by `dst` would make its attention ambiguous: refuse.
  const KvCache& kv = impl_->ctx->kv_cache();
  const uint64_t src_bit = uint64_t{1} << src, dst_bit = uint64_t{1} << dst;
  std::vector<int32_t> dst_positions;
  for (int64_t c = 0; c < kv.used_end(); ++c) {
    if ((kv.cell_seqs()[c] & dst_bit) != 0) dst_positions.push_back(kv.cell_pos()[c]);
  }
  std::sort(dst_positions.begin(), dst_positions.end());
  for (int64_t c = 0; c < kv.used_end(); ++c) {
    const uint64_t seqs = kv.cell_seqs()[c];
    const int32_t pos = kv.cell_pos()[c];
    if ((seqs & src_bit) == 0 || (seqs & dst_bit) != 0 || !in_range(pos, p0, p1)) continue;
    if (std::binary_search(dst_positions.begin(), dst_positions.end(), pos)) {
      return invalid_argument("sequence " + std::to_string(dst) + " already holds position " +
                              std::to_string(pos) + " that seq_cp would copy from sequence " +
                              std::to_string(src) + " (remove it first with seq_rm)");
    }
  }
  return impl_->ctx->seq_cp(src, dst, std::max(p0, 0), p1 < 0 ? -1 : p1);
}

Status Context::seq_keep(int32_t seq_id) {
  EMBER_RETURN_IF_ERROR(check_seq("sequence id", seq_id, n_seq_max()));
  return impl_->ctx->seq_keep(seq_id);
}

Result<int32_t> Context::seq_pos_max(int32_t seq_id) const {
  EMBER_RETURN_IF_ERROR(check_seq("sequence id", seq_id, n_seq_max()));
  return impl_->ctx->kv_cache().seq_pos_max(seq_id);
}

Result<int32_t> Context::seq_pos_min(int32_t seq_id) const {
  EMBER_RETURN_IF_ERROR(check_seq("sequence id", seq_id, n_seq_max()));
  return impl_->ctx->kv_cache().seq_pos_min(seq_id);
}

void Context::clear() {
  impl_->ctx->clear();
}

int32_t Context::n_ctx() const {
  return static_cast<int32_t>(impl_->ctx->params().n_ctx);
}
int32_t Context::n_batch() const {
  return impl_->n_batch;
}
int32_t Context::n_ubatch() const {
  return static_cast<int32_t>(impl_->ctx->params().n_ubatch);
}
int32_t Context::n_seq_max() const {
  return impl_->ctx->params().n_seq_max;
}
int32_t Context::n_threads() const {
  return impl_->ctx->n_threads();
}
int32_t Context::n_vocab() const {
  return static_cast<int32_t>(impl_->ctx->n_vocab());
}
int32_t Context::n_cells_used() const {
  return static_cast<int32_t>(impl_->ctx->kv_cache().n_used());
}
size_t Context::kv_bytes() const {
  return impl_->ctx->kv_bytes();
}

const std::shared_ptr<const Model>& Context::model() const {
  return impl_->model;
}

}  // namespace ember
