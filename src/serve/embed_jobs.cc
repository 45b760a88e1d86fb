// Server: embedding and rerank jobs. Callers queue a job; the scheduler thread runs the queued
// jobs at the start of each round (before the generation step), each with all of its inputs
// packed into batched forward passes by an Engine it owns (created on the first job: the encoder
// forward pass, or for decoders a context in embedding mode).
#include <future>

#include "serve/server_impl.h"

namespace ember {

Status Server::Impl::queue_embed_job(std::function<void(Engine*, const Status&)> fn) {
  auto job = std::make_shared<serve::EmbedJob>();
  job->run = std::move(fn);
  std::lock_guard<std::mutex> lk(shared->mu);
  if (!shared->accepting || shared->stop) return resource_exhausted("the server is shutting down");
  if (static_cast<int32_t>(shared->embed_queue.size()) >= options.max_queue) {
    return resource_exhausted("the queue is full (" + std::to_string(options.max_queue) +
                              " embedding requests waiting)");
  }
  shared->embed_queue.push_back(std::move(job));
  shared->notify();
  return Status::Ok();
}

bool Server::Impl::run_embed_jobs() {
  std::deque<std::shared_ptr<serve::EmbedJob>> jobs;
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lk(shared->mu);
    jobs.swap(shared->embed_queue);
    stopping = shared->stop || shared->cancel_all;
  }
  if (jobs.empty()) return false;
  for (const auto& job : jobs) {
    if (stopping) {
      job->run(nullptr, cancelled("the server stopped before the request ran"));
      continue;
    }
    if (embedder == nullptr) {
      EngineOptions eo;
      eo.n_ctx = options.n_ctx;
      eo.n_threads = options.n_threads;
      eo.n_batch = options.batch_tokens;
      eo.kv_cache_type = options.kv_cache_type;
      Result<std::unique_ptr<Engine>> e = Engine::create(model, eo);
      if (!e.ok()) {
        job->run(nullptr, e.status().with_context("creating the embedding engine"));
        continue;
      }
      embedder = std::move(e).value();
    }
    job->run(embedder.get(), Status::Ok());
  }
  return true;
}

Status Server::embed_async(EmbedRequest request, std::function<void(Result<EmbedResult>)> done) {
  auto req = std::make_shared<EmbedRequest>(std::move(request));
  return impl_->queue_embed_job([req, done = std::move(done)](Engine* e, const Status& st) {
    if (e == nullptr) return done(st);
    done(req->input_tokens.empty() ? e->embed(req->inputs, req->params)
                                   : e->embed_tokens(req->input_tokens, req->params));
  });
}

Status Server::rerank_async(RerankRequest request, std::function<void(Result<RerankResult>)> done) {
  auto req = std::make_shared<RerankRequest>(std::move(request));
  return impl_->queue_embed_job([req, done = std::move(done)](Engine* e, const Status& st) {
    if (e == nullptr) return done(st);
    done(e->rerank(req->query, req->documents, req->params));
  });
}

Result<EmbedResult> Server::embed(EmbedRequest request) {
  std::promise<Result<EmbedResult>> p;
  std::future<Result<EmbedResult>> f = p.get_future();
  EMBER_RETURN_IF_ERROR(
      embed_async(std::move(request), [&p](Result<EmbedResult> r) { p.set_value(std::move(r)); }));
  return f.get();
}

Result<RerankResult> Server::rerank(RerankRequest request) {
  std::promise<Result<RerankResult>> p;
  std::future<Result<RerankResult>> f = p.get_future();
  EMBER_RETURN_IF_ERROR(rerank_async(std::move(request),
                                     [&p](Result<RerankResult> r) { p.set_value(std::move(r)); }));
  return f.get();
}

bool Server::embeddings_only() const {
  return impl_->context == nullptr;
}

}  // namespace ember
