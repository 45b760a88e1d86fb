// The scheduler thread of ember::Server: admission, one forward pass per step over every running
// choice (next tokens first, then prompt chunks, within batch_tokens), sampling, events.
#include <algorithm>
#include <span>

#include "serve/server_impl.h"

namespace ember {
namespace {

using serve::Choice;
using serve::Clock;
using serve::RequestState;

// A new request waits for a running prompt evaluation when that shares at least this many more
// prompt tokens with it than the cache holds already.
constexpr int32_t kFollowMinTokens = 32;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Events of one choice for one step: `chunk` (the sampled token's, if any) and, when `final`,
// the end (the generator has finished). Chat: the chunk's text goes through the output parser,
// one event per chat chunk; the sampled tokens ride on the first event.
void deliver(RequestState& req, int32_t index, detail::SequenceGenerator& gen,
             detail::ChatOutput* chat, std::optional<GenerationChunk> chunk,
             const RequestTimes& times, bool final, ServerStats& counters) {
  GenerationResult r;
  if (final) r = gen.end();
  auto base = [&] {
    RequestEvent ev;
    ev.index = index;
    ev.times = times;
    return ev;
  };
  RequestEvent first = base();
  const std::string chunk_text = chunk ? chunk->text : std::string();
  if (chunk) {
    if (gen.params().sampling.n_probs > 0)
      first.sampled_probabilities.push_back(gen.last_probability());
    first.generation = std::move(*chunk);
  }
  if (final) first.generation.text += r.tail;
  auto finish_fields = [&](RequestEvent& ev) {
    ev.last = true;
    ev.finish_reason = r.finish_reason;
    ev.stop_string = r.stop_string;
    ev.error = r.error;
    ev.usage = r.usage;
  };
  if (chat == nullptr) {
    if (!final && first.generation.tokens.empty() && first.generation.text.empty()) return;
    if (final) {
      finish_fields(first);
      ++counters.requests_finished[std::string(finish_reason_name(r.finish_reason))];
    }
    req.deliver(std::move(first));
    return;
  }
  chat->feed(chunk_text);
  if (final) chat->finalize(r);
  std::vector<ChatChunk> chunks;
  while (std::optional<ChatChunk> c = chat->pop()) chunks.push_back(std::move(*c));
  if (chunks.empty()) {
    if (!first.generation.tokens.empty() || !first.generation.text.empty()) {
      req.deliver(std::move(first));
    }
    return;
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    RequestEvent ev = i == 0 ? std::move(first) : base();
    ev.chat = std::move(chunks[i]);
    if (final && i + 1 == chunks.size()) finish_fields(ev);
    req.deliver(std::move(ev));
  }
  if (final) {
    ++counters.requests_finished[std::string(
        chat_finish_reason_name(chat->completion().finish_reason))];
  }
}

}  // namespace

void Server::Impl::run() {
  bool progressed = true;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(shared->mu);
      // Work to do: running choices, or (after progress) the queue; otherwise sleep until
      // something changes (submit, cancel, shutdown).
      shared->wake_cv.wait(lk, [&] {
        return shared->wake || shared->stop || !running.empty() || !shared->embed_queue.empty() ||
               (progressed && !shared->queue.empty());
      });
      shared->wake = false;
      if (shared->stop && running.empty() && shared->queue.empty()) break;
    }
    progressed = round();
  }
  run_embed_jobs();  // answer jobs that came in while stopping (they fail: not accepting)
  publish_stats();
}

bool Server::Impl::round() {
  const bool embedded = run_embed_jobs();
  handle_cancels();
  resolve_followers();
  const size_t before = running.size();
  admit();
  const bool admitted = running.size() != before;
  const bool stepped = !running.empty();
  if (stepped) step();
  remove_done();
  publish_stats();
  return admitted || stepped || embedded;
}

void Server::Impl::handle_cancels() {
  bool all = false;
  std::vector<std::shared_ptr<RequestState>> dropped;
  {
    std::lock_guard<std::mutex> lk(shared->mu);
    all = shared->cancel_all || shared->stop;
    auto& q = shared->queue;
    for (auto it = q.begin(); it != q.end();) {
      if (all || (*it)->cancel_requested()) {
        shared->queued_choices -= (*it)->n;
        dropped.push_back(std::move(*it));
        it = q.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& req : dropped) cancel_queued(req);
  for (auto& c : running) {
    if (!c->done && (all || c->req->cancel_requested())) {
      finish_choice(*c, FinishReason::kCancelled, Status::Ok(), /*keep_cache=*/true);
    }
  }
}

void Server::Impl::cancel_queued(const std::shared_ptr<RequestState>& req) {
  for (int32_t i = 0; i < req->n; ++i) {
    detail::SequenceGenerator& g = *req->gens[static_cast<size_t>(i)];
    g.finish(FinishReason::kCancelled);
    RequestTimes t = req->times;
    deliver(*req, i, g, req->chat ? req->chats[static_cast<size_t>(i)].get() : nullptr,
            std::nullopt, t, /*final=*/true, counters);
  }
}

void Server::Impl::admit() {
  for (;;) {
    std::shared_ptr<RequestState> req;
    {
      std::lock_guard<std::mutex> lk(shared->mu);
      if (shared->queue.empty() || shared->cancel_all || shared->stop) return;
      req = shared->queue.front();
    }
    if (!try_admit(req)) return;
    std::lock_guard<std::mutex> lk(shared->mu);
    shared->queue.pop_front();
    shared->queued_choices -= req->n;
    shared->busy_slots += req->n;
  }
}

bool Server::Impl::try_admit(const std::shared_ptr<RequestState>& req) {
  const int32_t n = req->n;
  std::vector<int32_t> free_slots;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i] == nullptr) free_slots.push_back(static_cast<int32_t>(i));
  }
  if (static_cast<int32_t>(free_slots.size()) < n) return false;
  if (!blocks->ensure_seq_ids(n, -1)) return false;

  const auto n_prompt = static_cast<int32_t>(req->prompt.size());
  // At least the last prompt token is evaluated: its logits are needed.
  const serve::KvBlocks::Prefix prefix = blocks->longest_prefix(req->prompt, n_prompt - 1);
  int32_t shared_len = prefix.length;
  int32_t src = shared_len > 0 ? prefix.seq : -1;
  // A choice evaluating a prompt with a longer common prefix: wait for it rather than evaluate
  // the same tokens twice (8 clients with one system prompt evaluate it once).
  Choice* lead = nullptr;
  int32_t lead_len = 0;
  for (auto& c : running) {
    if (c->done || c->phase != Choice::Phase::kPrompt) continue;
    const std::vector<int32_t>& other = c->req->prompt;
    const size_t m = std::min({other.size(), req->prompt.size(), size_t(n_prompt - 1)});
    size_t i = 0;
    while (i < m && other[i] == req->prompt[i]) ++i;
    if (static_cast<int32_t>(i) > lead_len) {
      lead = c.get();
      lead_len = static_cast<int32_t>(i);
    }
  }
  if (lead_len < shared_len + kFollowMinTokens) lead = nullptr;
  // With recurrent layers a prompt is shared only whole, with the state after it, and another
  // choice's prompt is never held at exactly this one's length: siblings and requests sharing
  // part of a prompt being evaluated evaluate their own (they cannot wait for a usable prefix).
  const bool recurrent = context != nullptr && context->has_recurrent();
  if (recurrent) lead = nullptr;
  const int64_t total = serve::KvBlocks::blocks_for(n_prompt + std::max(req->max_tokens, 1));
  const int64_t need_sibling = recurrent ? total : total - (n_prompt - 1) / serve::kBlock;
  if (lead != nullptr) {
    // A follower shares later, whatever is cached then: reserve for the worst case.
    shared_len = 0;
    src = -1;
  }
  int64_t need0 = total - shared_len / serve::kBlock;
  if (need0 + (n - 1) * need_sibling > blocks->available(src)) {
    // Keeping the prefix's holder pins its blocks, all of them (its own continuation too): when
    // that leaves too few, evict it instead and evaluate the prompt. Without this a cached
    // sequence filling most of the cache blocked every request sharing a token with it, even
    // with nothing running to ever free blocks.
    if (src < 0) return false;
    shared_len = 0;
    src = -1;
    need0 = total;
    if (need0 + (n - 1) * need_sibling > blocks->available(-1)) return false;
  }

  const Clock::time_point now = Clock::now();
  Choice* first = nullptr;
  for (int32_t i = 0; i < n; ++i) {
    auto c = std::make_unique<Choice>();
    c->req = req;
    c->index = i;
    c->slot = free_slots[static_cast<size_t>(i)];
    c->gen = std::move(req->gens[static_cast<size_t>(i)]);
    if (req->chat) c->chat = std::move(req->chats[static_cast<size_t>(i)]);
    c->times = req->times;
    c->times.started = now;
    Result<int32_t> seq =
        i == 0 ? blocks->create(need0, src, shared_len) : blocks->create(need_sibling, -1, 0);
    slots[static_cast<size_t>(c->slot)] = c.get();
    counters.prompt_tokens_total += static_cast<uint64_t>(n_prompt);
    if (i == 0 && lead == nullptr) {
      c->phase = Choice::Phase::kPrompt;
      c->next_pos = shared_len;
      c->cached = shared_len;
      counters.prompt_tokens_cached_total += static_cast<uint64_t>(shared_len);
    } else if (recurrent) {
      c->phase = Choice::Phase::kPrompt;  // a sibling evaluates the prompt itself (see above)
      c->next_pos = 0;
      c->cached = 0;
    } else {
      c->phase = Choice::Phase::kWaitPrompt;
      // Never a choice that ended already (choice 0 failing to reserve): end_choice cleared the
      // followers it knew of, and this pointer would outlive the choice.
      c->follow = i == 0 ? lead : (first->done ? nullptr : first);
      c->follow_len = i == 0 ? lead_len : n_prompt - 1;
    }
    running.push_back(std::move(c));
    Choice& ch = *running.back();
    if (i == 0) first = &ch;
    if (!seq.ok()) {
      finish_choice(ch, FinishReason::kError, seq.status().with_context("reserving the KV cache"),
                    /*keep_cache=*/false);
    } else {
      ch.seq = *seq;
    }
  }
  return true;
}

void Server::Impl::resolve_followers() {
  bool others_run = false;
  for (auto& c : running) {
    others_run |= !c->done && c->phase != Choice::Phase::kWaitPrompt;
  }
  for (auto& up : running) {
    Choice& c = *up;
    if (c.done || c.phase != Choice::Phase::kWaitPrompt) continue;
    if (c.follow != nullptr && c.follow->phase != Choice::Phase::kDecode &&
        (c.follow->seq < 0 || blocks->length(c.follow->seq) < c.follow_len)) {
      continue;  // not there yet
    }
    c.follow = nullptr;
    const auto n_prompt = static_cast<int32_t>(c.req->prompt.size());
    const serve::KvBlocks::Prefix prefix = blocks->longest_prefix(c.req->prompt, n_prompt - 1);
    int32_t shared_len = prefix.length;
    int32_t src = shared_len > 0 ? prefix.seq : -1;
    const int64_t total = serve::KvBlocks::blocks_for(n_prompt + std::max(c.req->max_tokens, 1));
    if (!blocks->top_up(c.seq, total - shared_len / serve::kBlock - blocks->reserve_of(c.seq),
                        src)) {
      // As at admission: when keeping the prefix's holder leaves too few blocks, evict it and
      // evaluate the whole prompt.
      shared_len = 0;
      src = -1;
      if (!blocks->top_up(c.seq, total - blocks->reserve_of(c.seq), -1)) {
        // Wait for running requests to free blocks; with nothing else running that never comes.
        if (!others_run) {
          finish_choice(c, FinishReason::kError,
                        resource_exhausted("the KV cache cannot hold this choice"), false);
        }
        continue;
      }
    }
    if (shared_len > 0) {
      Status st = blocks->share_into(c.seq, src, shared_len);
      if (!st.ok()) {
        finish_choice(c, FinishReason::kError, st.with_context("sharing a cached prefix"), false);
        continue;
      }
    }
    c.phase = Choice::Phase::kPrompt;
    c.next_pos = shared_len;
    c.cached = shared_len;
    counters.prompt_tokens_cached_total += static_cast<uint64_t>(shared_len);
    others_run = true;
  }
}

void Server::Impl::step() {
  batch.clear();
  std::vector<Choice*> outs;      // the choice of each logits row, in batch order
  std::vector<Choice*> in_batch;  // every choice with tokens in the batch
  int64_t budget = options.batch_tokens;
  const Clock::time_point now = Clock::now();

  // The next token of every decoding choice first (rotating who goes first when the budget is
  // smaller than the number of choices), then prompt chunks in admission order.
  const size_t n = running.size();
  const size_t start = static_cast<size_t>(rotate++ % std::max<size_t>(n, 1));
  for (size_t k = 0; k < n && budget > 0; ++k) {
    Choice& c = *running[(start + k) % n];
    if (c.done || c.phase != Choice::Phase::kDecode) continue;
    const int32_t pos = blocks->length(c.seq);
    Result<int64_t> cell = blocks->cell_for(c.seq, pos);
    if (!cell.ok()) {
      finish_choice(c, FinishReason::kError, cell.status(), false);
      continue;
    }
    batch.add(c.gen->last_token(), pos, c.seq, true, *cell);
    outs.push_back(&c);
    in_batch.push_back(&c);
    --budget;
  }
  std::vector<int64_t> cells;
  for (auto& up : running) {
    if (budget <= 0) break;
    Choice& c = *up;
    if (c.done || c.phase != Choice::Phase::kPrompt) continue;
    const auto n_prompt = static_cast<int32_t>(c.req->prompt.size());
    const auto k = static_cast<int32_t>(std::min<int64_t>(n_prompt - c.next_pos, budget));
    cells.clear();
    Status st;
    for (int32_t j = c.next_pos; j < c.next_pos + k && st.ok(); ++j) {
      Result<int64_t> cell = blocks->cell_for(c.seq, j);
      if (cell.ok()) {
        cells.push_back(*cell);
      } else {
        st = cell.status();
      }
    }
    if (!st.ok()) {
      finish_choice(c, FinishReason::kError, st, false);
      continue;
    }
    if (!c.prompt_started) {
      c.prompt_started = true;
      c.prompt_start = now;
    }
    for (int32_t j = 0; j < k; ++j) {
      const int32_t p = c.next_pos + j;
      batch.add(c.req->prompt[static_cast<size_t>(p)], p, c.seq, p + 1 == n_prompt,
                cells[static_cast<size_t>(j)]);
    }
    c.next_pos += k;
    budget -= k;
    if (c.next_pos == n_prompt) outs.push_back(&c);
    in_batch.push_back(&c);
  }
  if (batch.size() == 0) return;

  Status st = context->decode(batch);
  if (!st.ok()) {
    for (Choice* c : in_batch) {
      finish_choice(*c, FinishReason::kError, st.with_context("evaluating a batch"), false);
    }
    return;
  }
  ++counters.steps_total;
  for (int64_t i = 0; i < batch.size(); ++i) {
    blocks->append(batch.seq[static_cast<size_t>(i)], batch.tokens[static_cast<size_t>(i)]);
  }
  const auto n_vocab = static_cast<size_t>(context->n_vocab());
  for (size_t r = 0; r < outs.size(); ++r) {
    Choice& c = *outs[r];
    if (c.done) continue;
    if (c.phase == Choice::Phase::kPrompt) {
      c.phase = Choice::Phase::kDecode;
      c.prompt_ms = ms_between(c.prompt_start, Clock::now());
    }
    std::optional<GenerationChunk> chunk =
        c.gen->sample(std::span<const float>(context->logits(static_cast<int64_t>(r)), n_vocab),
                      blocks->length(c.seq));
    if (chunk) {
      ++counters.generation_tokens_total;
      if (c.times.first_token == Clock::time_point{}) c.times.first_token = Clock::now();
    }
    if (c.gen->finished()) {
      // Usage first: the last event carries it.
      GenerationUsage& u = c.gen->result().usage;
      u.cached_prompt_tokens = c.cached;
      u.prompt_ms = c.prompt_ms;
      const auto n_prompt = static_cast<int32_t>(c.req->prompt.size());
      if (c.prompt_ms > 0)
        u.prompt_tokens_per_second = (n_prompt - c.cached) * 1000.0 / c.prompt_ms;
      end_choice(c, /*keep_cache=*/true);
      deliver(*c.req, c.index, *c.gen, c.chat.get(), std::move(chunk), c.times, true, counters);
    } else {
      deliver(*c.req, c.index, *c.gen, c.chat.get(), std::move(chunk), c.times, false, counters);
    }
  }
}

void Server::Impl::finish_choice(Choice& c, FinishReason reason, Status error, bool keep_cache) {
  if (c.done) return;
  c.gen->finish(reason, std::move(error));
  GenerationUsage& u = c.gen->result().usage;
  u.cached_prompt_tokens = c.cached;
  u.prompt_ms = c.prompt_ms;
  end_choice(c, keep_cache);
  deliver(*c.req, c.index, *c.gen, c.chat.get(), std::nullopt, c.times, true, counters);
}

void Server::Impl::end_choice(Choice& c, bool keep_cache) {
  c.done = true;
  if (c.seq >= 0) blocks->release(c.seq, keep_cache);
  // Followers stop waiting for this one (they share what it left in the cache, if anything);
  // the choice object goes away after this round.
  for (auto& f : running) {
    if (f->follow == &c) f->follow = nullptr;
  }
  // The slot is free before the last event goes out: a client that saw it may submit again at
  // once.
  slots[static_cast<size_t>(c.slot)] = nullptr;
  std::lock_guard<std::mutex> lk(shared->mu);
  --shared->busy_slots;
}

void Server::Impl::remove_done() {
  std::erase_if(running, [](const std::unique_ptr<Choice>& c) { return c->done; });
}

void Server::Impl::publish_stats() {
  ServerStats s = counters;
  std::vector<const RequestState*> reqs;
  s.slots.resize(slots.size());
  int32_t busy = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    SlotState& st = s.slots[i];
    st.id = static_cast<int32_t>(i);
    st.n_ctx = options.n_ctx;
    const Choice* c = slots[i];
    if (c == nullptr) continue;
    ++busy;
    st.busy = true;
    st.request_id = c->req->id();
    st.choice = c->index;
    st.n_prompt = static_cast<int32_t>(c->req->prompt.size());
    st.n_cached = c->cached;
    st.n_prompt_done = c->phase == Choice::Phase::kDecode ? st.n_prompt : c->next_pos;
    st.n_generated = c->gen->result().usage.completion_tokens;
    if (std::find(reqs.begin(), reqs.end(), c->req.get()) == reqs.end()) {
      reqs.push_back(c->req.get());
    }
  }
  s.requests_running = static_cast<int32_t>(reqs.size());
  s.kv_cells_total = context ? context->kv_cache().size() : 0;
  s.kv_cells_used = blocks ? blocks->cells_used() : 0;
  s.kv_cells_live = blocks ? blocks->cells_live() : 0;
  s.kv_cache_usage_ratio =
      s.kv_cells_total > 0 ? static_cast<double>(s.kv_cells_used) / s.kv_cells_total : 0.0;
  {
    std::lock_guard<std::mutex> lk(shared->mu);
    s.requests_waiting = static_cast<int32_t>(shared->queue.size());
    shared->busy_slots = busy;
    shared->running_requests = s.requests_running;
    std::erase_if(shared->active, [](const auto& kv) {
      std::shared_ptr<RequestState> r = kv.second.lock();
      return r == nullptr || r->done();
    });
    shared->stats = std::move(s);
  }
  shared->idle_cv.notify_all();
}

}  // namespace ember
