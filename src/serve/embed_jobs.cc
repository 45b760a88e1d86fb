// Server: embedding and rerank jobs. Callers queue a job; the scheduler thread admits the queued
// jobs at the start of each round (before the generation step), then evaluates one forward pass
// holding sequences of every admitted job (concurrent requests share passes), up to the pass's
// token budget (--batch-tokens, at least the context). The embedding Engine is created on the
// first job (the encoder forward pass, or for decoders a context in embedding mode).
//
// Packing order, per pass: first one sequence of each admitted job in turn (the turn rotates
// from pass to pass), so that every job progresses in every pass while there are not more jobs
// than fit one pass (and within a few passes otherwise): a long request cannot starve the
// others. Then the space left goes to the oldest jobs first, so jobs finish one after the other
// rather than all at once (their clients can send the next request while others still run).
// Each sequence's vectors do not depend on what shares its pass (api/embed_work.h).
#include <algorithm>
#include <future>

#include "ember/tokenizer.h"
#include "serve/server_impl.h"

namespace ember {

Status Server::Impl::queue_embed_job(std::shared_ptr<serve::EmbedJob> job) {
  std::lock_guard<std::mutex> lk(shared->mu);
  if (!shared->accepting || shared->stop) return resource_exhausted("the server is shutting down");
  if (static_cast<int32_t>(shared->embed_queue.size()) >= options.max_queue) {
    return resource_exhausted("the queue is full (" + std::to_string(options.max_queue) +
                              " embedding requests waiting)");
  }
  shared->embed_queue.push_back(std::move(job));
  ++shared->embed_jobs;
  shared->notify();
  return Status::Ok();
}

void Server::Impl::end_embed_job(serve::EmbedJob& job, const Status& status) {
  job.finish(status.ok() ? job.work.get() : nullptr, status);
  job.work.reset();
  std::lock_guard<std::mutex> lk(shared->mu);
  --shared->embed_jobs;
}

bool Server::Impl::run_embed_jobs() {
  std::deque<std::shared_ptr<serve::EmbedJob>> incoming;
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lk(shared->mu);
    incoming.swap(shared->embed_queue);
    stopping = shared->stop || shared->cancel_all;
  }
  if (incoming.empty() && embed_active.empty()) return false;
  if (stopping) {
    const Status st = cancelled("the server stopped before the request ran");
    for (const auto& job : embed_active) end_embed_job(*job, st);
    for (const auto& job : incoming) end_embed_job(*job, st);
    embed_active.clear();
    return true;
  }
  // Admission: create the engine on the first job, validate and tokenize.
  for (auto& job : incoming) {
    if (embedder == nullptr) {
      EngineOptions eo;
      eo.n_ctx = options.n_ctx;
      eo.n_threads = options.n_threads;
      eo.n_batch = options.batch_tokens;
      eo.kv_cache_type = options.kv_cache_type;
      Result<std::unique_ptr<Engine>> e = Engine::create(model, eo);
      if (!e.ok()) {
        end_embed_job(*job, e.status().with_context("creating the embedding engine"));
        continue;
      }
      embedder = std::move(e).value();
    }
    Result<std::unique_ptr<detail::EmbedWork>> work = job->prepare(*embedder);
    if (!work.ok()) {
      end_embed_job(*job, work.status());
      continue;
    }
    job->work = std::move(work).value();
    embed_active.push_back(std::move(job));
  }
  if (embed_active.empty()) return true;

  // One pass (see the top of the file for the order).
  const int64_t budget = detail::EmbedRunner::pass_tokens(*embedder);
  const size_t max_seqs = detail::EmbedRunner::pass_sequences(*embedder);
  std::vector<detail::SeqRef> pass;
  std::vector<serve::EmbedJob*> in_pass;
  int64_t tokens = 0;
  // Takes job's next sequence when it fits (the first sequence of a pass always does).
  auto take = [&](serve::EmbedJob& job) {
    if (job.next >= job.work->size()) return false;
    const auto len = static_cast<int64_t>(job.work->tokens(job.next).size());
    if (!pass.empty() && (tokens + len > budget || pass.size() >= max_seqs)) return false;
    pass.push_back({job.work.get(), job.next++});
    if (in_pass.empty() || in_pass.back() != &job) in_pass.push_back(&job);
    tokens += len;
    return true;
  };
  const size_t n_jobs = embed_active.size();
  size_t turns = 0;
  for (; turns < n_jobs; ++turns) {
    if (!take(*embed_active[(embed_turn + turns) % n_jobs])) break;
  }
  embed_turn = (embed_turn + std::max<size_t>(turns, 1)) % n_jobs;
  for (const auto& job : embed_active) {
    while (take(*job)) {
    }
  }
  const Status st = detail::EmbedRunner::pass(*embedder, pass);
  ++counters.embed_passes_total;
  counters.embed_sequences_total += pass.size();
  if (!st.ok()) {
    // Every job with a sequence in the failed pass ends with the error.
    std::sort(in_pass.begin(), in_pass.end());
    in_pass.erase(std::unique(in_pass.begin(), in_pass.end()), in_pass.end());
    for (serve::EmbedJob* job : in_pass) {
      job->next = job->work->size();
      end_embed_job(*job, st);
    }
    std::erase_if(embed_active, [](const auto& job) { return job->work == nullptr; });
    return true;
  }
  std::erase_if(embed_active, [&](const std::shared_ptr<serve::EmbedJob>& job) {
    if (job->next < job->work->size()) return false;
    end_embed_job(*job, Status::Ok());
    return true;
  });
  return true;
}

Status Server::embed_async(EmbedRequest request, std::function<void(Result<EmbedResult>)> done) {
  auto job = std::make_shared<serve::EmbedJob>();
  // Texts are tokenized here, on the caller's thread (as Engine::embed tokenizes them).
  std::vector<std::vector<int32_t>> seqs = std::move(request.input_tokens);
  if (seqs.empty()) {
    seqs.reserve(request.inputs.size());
    for (size_t i = 0; i < request.inputs.size(); ++i) {
      Result<std::vector<int32_t>> ids = impl_->tokenizer->tokenize(
          request.inputs[i], request.params.add_special, request.params.parse_special);
      if (!ids.ok()) return ids.status().with_context("input " + std::to_string(i));
      seqs.push_back(std::move(ids).value());
    }
  }
  auto inputs = std::make_shared<std::vector<std::vector<int32_t>>>(std::move(seqs));
  job->prepare = [inputs, params = request.params](Engine& e) {
    return detail::EmbedWork::embed(e, std::move(*inputs), params);
  };
  job->finish = [done = std::move(done)](detail::EmbedWork* w, const Status& st) {
    if (w == nullptr) return done(st);
    done(w->take_embeddings());
  };
  return impl_->queue_embed_job(std::move(job));
}

Status Server::rerank_async(RerankRequest request, std::function<void(Result<RerankResult>)> done) {
  auto job = std::make_shared<serve::EmbedJob>();
  auto req = std::make_shared<RerankRequest>(std::move(request));
  job->prepare = [req](Engine& e) {
    return detail::EmbedWork::rerank(e, req->query, req->documents, req->params);
  };
  job->finish = [done = std::move(done)](detail::EmbedWork* w, const Status& st) {
    if (w == nullptr) return done(st);
    done(w->take_scores());
  };
  return impl_->queue_embed_job(std::move(job));
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
