// GET /metrics: Prometheus text exposition. Gauges and totals are read from Server::stats() at
// scrape time; the latency histograms are observed from request events as they arrive (on the
// scheduler thread: Observe is a short locked update).
//
//   ember_requests_running / ember_requests_waiting / ember_kv_cache_usage_ratio   (gauges)
//   ember_kv_cache_cells_used / _total, ember_slots_busy / ember_slots_total           (gauges)
//   ember_prompt_tokens_total, ember_prompt_tokens_cached_total,
//   ember_generation_tokens_total, ember_steps_total, ember_requests_total{finish_reason}
//   ember_time_to_first_token_seconds, ember_inter_token_latency_seconds,
//   ember_e2e_request_latency_seconds, ember_request_queue_seconds                   (histograms)
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ember/server.h"

namespace prometheus {
class Registry;
class Histogram;
}  // namespace prometheus

namespace ember::http {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void observe_time_to_first_token(double seconds);
  void observe_inter_token_latency(double seconds);
  void observe_e2e_latency(double seconds);
  void observe_queue_time(double seconds);

  // The exposition text: the histograms plus metrics made from `stats` (null while loading).
  std::string render(const ServerStats* stats) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram* ttft_;
  prometheus::Histogram* itl_;
  prometheus::Histogram* e2e_;
  prometheus::Histogram* queue_;
};

// Per-request bookkeeping for the histograms; used from the request's event callback only (one
// thread at a time, in event order).
class RequestTimer {
 public:
  explicit RequestTimer(int n_choices) : last_token_(static_cast<size_t>(n_choices)) {}
  void observe(const RequestEvent& event, std::chrono::steady_clock::time_point now,
               Metrics& metrics);

 private:
  std::vector<std::chrono::steady_clock::time_point> last_token_;  // per choice
  bool queue_observed_ = false;
};

}  // namespace ember::http
