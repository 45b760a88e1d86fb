// Internals of ember::Server (include/ember/server.h): the request handles, the state shared
// between callers and the scheduler thread, and the scheduler's own state.
//
// Threads: callers submit (tokenize, validate, build samplers on their own thread) and push to
// the queue under Shared::mu; the scheduler thread alone owns the context, the KV blocks and the
// running choices, and takes Shared::mu only briefly (queue, cancellations, stats snapshot).
// Events go to a request's callback on the scheduler thread, or to its own queue (next()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "api/chat_output.h"
#include "api/embed_work.h"
#include "api/sequence_generator.h"
#include "ember/engine.h"
#include "ember/server.h"
#include "model/model.h"
#include "runtime/context.h"
#include "serve/kv_blocks.h"

namespace ember::serve {

using Clock = std::chrono::steady_clock;
class RequestState;

// An embedding or rerank request, run on the scheduler thread (serve/embed_jobs.cc). Admitted
// jobs are split into their sequences; each round evaluates one pass of sequences taken from all
// admitted jobs (see run_embed_jobs).
struct EmbedJob {
  // Validates and tokenizes the request with the embedding Engine (when the job is admitted).
  std::function<Result<std::unique_ptr<detail::EmbedWork>>(Engine&)> prepare;
  // Called once: with the finished work, or with null and the error that ended the job.
  std::function<void(detail::EmbedWork*, const Status&)> finish;
  std::unique_ptr<detail::EmbedWork> work;
  size_t next = 0;  // first sequence not evaluated yet
};

// What callers and the scheduler share, under `mu`.
struct Shared {
  std::mutex mu;
  std::condition_variable wake_cv;  // the scheduler waits here (new work, cancel, stop)
  std::condition_variable idle_cv;  // shutdown() waits here (nothing running or queued)
  bool wake = false;
  bool accepting = true;
  bool cancel_all = false;  // shutdown's grace is over: cancel everything
  bool stop = false;        // the destructor: cancel everything and end the thread
  std::deque<std::shared_ptr<RequestState>> queue;
  std::deque<std::shared_ptr<EmbedJob>> embed_queue;
  int32_t embed_jobs = 0;      // embedding jobs queued or running (shutdown waits for them)
  int32_t queued_choices = 0;  // slots the queued requests will need
  int32_t busy_slots = 0;
  int32_t running_requests = 0;
  uint64_t next_id = 1;
  std::map<uint64_t, std::weak_ptr<RequestState>> active;  // queued or running
  ServerStats stats;                                       // the last published snapshot

  void notify() {
    wake = true;
    wake_cv.notify_all();
  }
};

class RequestState final : public ServerRequest {
 public:
  RequestState(uint64_t id, std::shared_ptr<Shared> shared, RequestEventCallback callback)
      : id_(id), shared_(std::move(shared)), callback_(std::move(callback)) {}

  uint64_t id() const override { return id_; }
  std::optional<RequestEvent> next() override;
  std::optional<RequestEvent> next_for(std::chrono::milliseconds timeout) override;
  bool done() const override;
  void cancel() override;
  int32_t prompt_tokens() const override { return static_cast<int32_t>(prompt.size()); }

  void set_id(uint64_t id) { id_ = id; }
  // Scheduler side: hands an event to the callback or the queue.
  void deliver(RequestEvent ev);
  bool cancel_requested() const { return cancel_flag_.load(std::memory_order_relaxed); }

  // Prepared at submission (read-only afterwards, except the per-choice parts the scheduler
  // takes over on admission).
  bool chat = false;
  int32_t n = 1;
  std::vector<int32_t> prompt;
  int32_t max_tokens = 0;  // resolved (never -1)
  std::vector<std::unique_ptr<detail::SequenceGenerator>> gens;
  std::vector<std::unique_ptr<detail::ChatOutput>> chats;
  RequestTimes times;

 private:
  uint64_t id_;
  std::shared_ptr<Shared> shared_;
  RequestEventCallback callback_;
  std::atomic<bool> cancel_flag_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestEvent> events_;
  int32_t finished_ = 0;
};

// One running choice: a slot and a sequence of the cache.
struct Choice {
  enum class Phase : uint8_t {
    // Waiting for `follow` to evaluate the first `follow_len` tokens of this prompt (which it
    // shares), to reuse them instead of evaluating them in parallel: siblings of an n > 1
    // request wait for choice 0, and requests admitted while another one is evaluating a long
    // common prefix wait for it. No blocks yet (only a reservation).
    kWaitPrompt,
    kPrompt,  // evaluating prompt tokens in chunks
    kDecode,  // generating: `last_token()` is evaluated at the next step
  };
  std::shared_ptr<RequestState> req;
  int32_t index = 0;
  int32_t slot = 0;
  int32_t seq = -1;
  Phase phase = Phase::kPrompt;
  int32_t next_pos = 0;      // next prompt position to evaluate
  int32_t cached = 0;        // prompt tokens reused from the cache
  Choice* follow = nullptr;  // kWaitPrompt: the choice evaluating the shared prefix
  int32_t follow_len = 0;
  std::unique_ptr<detail::SequenceGenerator> gen;
  std::unique_ptr<detail::ChatOutput> chat;
  RequestTimes times;
  Clock::time_point prompt_start;
  bool prompt_started = false;
  double prompt_ms = 0.0;
  bool done = false;
};

}  // namespace ember::serve

namespace ember {

struct Server::Impl {
  std::shared_ptr<const Model> model;
  const runtime::Model* rmodel = nullptr;
  const Tokenizer* tokenizer = nullptr;
  std::string chat_template;
  ServerOptions options;
  std::unique_ptr<runtime::Context> context;  // null for encoder (embedding-only) models
  std::unique_ptr<serve::KvBlocks> blocks;    // likewise
  // Embedding and reranking (scheduler thread only; created on the first job), the admitted
  // jobs in arrival order, and where the next pass's round-robin turn starts.
  std::unique_ptr<Engine> embedder;
  std::deque<std::shared_ptr<serve::EmbedJob>> embed_active;
  size_t embed_turn = 0;
  std::shared_ptr<serve::Shared> shared;
  std::thread thread;

  // The vocabulary trie for grammars, built on the first constrained request.
  std::mutex trie_mu;
  std::shared_ptr<const grammar::TokenTrie> trie;
  // The vocabulary trie when `params` constrain the output (built on first use), else null.
  std::shared_ptr<const grammar::TokenTrie> trie_for(const GenerationParams& params) {
    if (!detail::SequenceGenerator::needs_trie(params)) return nullptr;
    std::lock_guard<std::mutex> lk(trie_mu);
    if (!trie) trie = sampling::GrammarConstraint::build_trie(*tokenizer);
    return trie;
  }
  std::atomic<uint64_t> chat_count{0};

  // Scheduler state (scheduler thread only).
  std::vector<std::unique_ptr<serve::Choice>> running;  // admission order
  std::vector<serve::Choice*> slots;                    // per slot, null when free
  uint64_t rotate = 0;                                  // fairness of decode tokens
  runtime::Batch batch;
  ServerStats counters;  // cumulative counters (copied into the snapshot)

  // Queues a validated request (submit's last step). Errors: queue full, shutting down.
  Result<std::shared_ptr<ServerRequest>> enqueue(std::shared_ptr<serve::RequestState> req);

  void run();
  // One scheduling round; false when there was nothing to do.
  bool round();
  void handle_cancels();
  // Admits the queued embedding jobs and evaluates one pass of their sequences
  // (serve/embed_jobs.cc); false when there was nothing to do.
  bool run_embed_jobs();
  // Queues a job (caller threads). Errors: shutting down, queue full.
  Status queue_embed_job(std::shared_ptr<serve::EmbedJob> job);
  // Ends a job: its callback, then the count shutdown waits on.
  void end_embed_job(serve::EmbedJob& job, const Status& status);
  void admit();
  bool try_admit(const std::shared_ptr<serve::RequestState>& req);
  void step();
  // Waiting choices whose leader got far enough (or ended) share the longest cached prefix now.
  void resolve_followers();
  // Delivers the events of a sampled chunk (and the last one when the choice finished).
  void emit(serve::Choice& c, std::optional<GenerationChunk> chunk);
  // Ends a choice (reason unless it finished already), delivers its last event, frees its slot.
  void finish_choice(serve::Choice& c, FinishReason reason, Status error, bool keep_cache);
  // Marks a choice done: releases its sequence (kept in the prefix cache or evicted), its
  // followers and its slot.
  void end_choice(serve::Choice& c, bool keep_cache);
  void cancel_queued(const std::shared_ptr<serve::RequestState>& req);
  void remove_done();
  void publish_stats();
};

}  // namespace ember
