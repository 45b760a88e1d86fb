// Prometheus metrics (see metrics.h).
#include "metrics.h"

#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace ember::http {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

prometheus::MetricFamily scalar_family(const std::string& name, const std::string& help,
                                       prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  // Bucket bounds in seconds, from a fast CPU token (ms) to long prompts (minutes).
  const prometheus::Histogram::BucketBoundaries latency = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320};
  const prometheus::Histogram::BucketBoundaries token = {
      0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5};
  ttft_ = &prometheus::BuildHistogram()
               .Name("ember_time_to_first_token_seconds")
               .Help("Time from submission to the first generated token of a choice")
               .Register(*registry_)
               .Add({}, latency);
  itl_ = &prometheus::BuildHistogram()
              .Name("ember_inter_token_latency_seconds")
              .Help("Time between consecutive generated tokens of a choice")
              .Register(*registry_)
              .Add({}, token);
  e2e_ = &prometheus::BuildHistogram()
              .Name("ember_e2e_request_latency_seconds")
              .Help("Time from submission to the end of a choice")
              .Register(*registry_)
              .Add({}, latency);
  queue_ = &prometheus::BuildHistogram()
                .Name("ember_request_queue_seconds")
                .Help("Time a request waited in the queue for a slot")
                .Register(*registry_)
                .Add({}, latency);
}

Metrics::~Metrics() = default;

void Metrics::observe_time_to_first_token(double s) {
  ttft_->Observe(s);
}
void Metrics::observe_inter_token_latency(double s) {
  itl_->Observe(s);
}
void Metrics::observe_e2e_latency(double s) {
  e2e_->Observe(s);
}
void Metrics::observe_queue_time(double s) {
  queue_->Observe(s);
}

std::string Metrics::render(const ServerStats* stats) const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  if (stats != nullptr) {
    const ServerStats& s = *stats;
    int busy = 0;
    for (const SlotState& slot : s.slots) busy += slot.busy ? 1 : 0;
    families.push_back(scalar_family("ember_requests_running",
                                     "Requests with at least one choice in a slot",
                                     MetricType::Gauge, s.requests_running));
    families.push_back(scalar_family("ember_requests_waiting", "Requests queued for a slot",
                                     MetricType::Gauge, s.requests_waiting));
    families.push_back(scalar_family("ember_kv_cache_usage_ratio",
                                     "Used KV cache cells (live and cached prefixes) / total",
                                     MetricType::Gauge, s.kv_cache_usage_ratio));
    families.push_back(scalar_family("ember_kv_cache_cells_used", "KV cache cells in use",
                                     MetricType::Gauge, static_cast<double>(s.kv_cells_used)));
    families.push_back(scalar_family("ember_kv_cache_cells_live",
                                     "KV cache cells held by running requests", MetricType::Gauge,
                                     static_cast<double>(s.kv_cells_live)));
    families.push_back(scalar_family("ember_kv_cache_cells_total", "KV cache cells",
                                     MetricType::Gauge, static_cast<double>(s.kv_cells_total)));
    families.push_back(
        scalar_family("ember_slots_busy", "Slots running a choice", MetricType::Gauge, busy));
    families.push_back(scalar_family("ember_slots_total", "Slots", MetricType::Gauge,
                                     static_cast<double>(s.slots.size())));
    families.push_back(scalar_family("ember_prompt_tokens_total", "Prompt tokens submitted",
                                     MetricType::Counter,
                                     static_cast<double>(s.prompt_tokens_total)));
    families.push_back(scalar_family("ember_prompt_tokens_cached_total",
                                     "Prompt tokens reused from the KV cache", MetricType::Counter,
                                     static_cast<double>(s.prompt_tokens_cached_total)));
    families.push_back(scalar_family("ember_generation_tokens_total", "Tokens generated",
                                     MetricType::Counter,
                                     static_cast<double>(s.generation_tokens_total)));
    families.push_back(scalar_family("ember_steps_total", "Forward passes run", MetricType::Counter,
                                     static_cast<double>(s.steps_total)));
    families.push_back(scalar_family("ember_embed_passes_total",
                                     "Embedding and rerank forward passes run", MetricType::Counter,
                                     static_cast<double>(s.embed_passes_total)));
    families.push_back(scalar_family("ember_embed_sequences_total",
                                     "Embedding and rerank inputs evaluated", MetricType::Counter,
                                     static_cast<double>(s.embed_sequences_total)));
    prometheus::MetricFamily finished;
    finished.name = "ember_requests_total";
    finished.help = "Finished choices by finish reason";
    finished.type = MetricType::Counter;
    for (const char* reason : {"stop", "length", "tool_calls", "cancelled", "error"}) {
      prometheus::ClientMetric m;
      m.label.push_back({"finish_reason", reason});
      auto it = s.requests_finished.find(reason);
      m.counter.value = it == s.requests_finished.end() ? 0.0 : static_cast<double>(it->second);
      finished.metric.push_back(std::move(m));
    }
    for (const auto& [reason, count] : s.requests_finished) {
      if (reason == "stop" || reason == "length" || reason == "tool_calls" ||
          reason == "cancelled" || reason == "error") {
        continue;
      }
      prometheus::ClientMetric m;
      m.label.push_back({"finish_reason", reason});
      m.counter.value = static_cast<double>(count);
      finished.metric.push_back(std::move(m));
    }
    families.push_back(std::move(finished));
  }
  for (auto& f : registry_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

void RequestTimer::observe(const RequestEvent& event, Clock::time_point now, Metrics& metrics) {
  const RequestTimes& t = event.times;
  const Clock::time_point zero{};
  if (!queue_observed_ && t.started != zero && t.submitted != zero) {
    metrics.observe_queue_time(seconds_between(t.submitted, t.started));
    queue_observed_ = true;
  }
  if (event.index < 0 || static_cast<size_t>(event.index) >= last_token_.size()) return;
  Clock::time_point& last = last_token_[static_cast<size_t>(event.index)];
  const size_t n = event.generation.tokens.size();
  if (n > 0) {
    if (last == zero) {
      if (t.first_token != zero && t.submitted != zero) {
        metrics.observe_time_to_first_token(seconds_between(t.submitted, t.first_token));
      }
      // The first token's own latency is the TTFT; the others in this event share the time
      // since it.
      if (n > 1 && t.first_token != zero) {
        const double each = seconds_between(t.first_token, now) / static_cast<double>(n - 1);
        for (size_t i = 1; i < n; ++i) metrics.observe_inter_token_latency(each);
      }
    } else {
      const double each = seconds_between(last, now) / static_cast<double>(n);
      for (size_t i = 0; i < n; ++i) metrics.observe_inter_token_latency(each);
    }
    last = now;
  }
  if (event.last && t.submitted != zero) {
    metrics.observe_e2e_latency(seconds_between(t.submitted, now));
  }
}

}  // namespace ember::http
