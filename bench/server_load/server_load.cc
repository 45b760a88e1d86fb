// ember_server_load: a load generator for `ember serve` (or any OpenAI-compatible server).
//
// Bench mode (default): N clients (one thread each, blocking sockets) each send R streaming chat
// or completion requests, back to back, and it reports requests by status, aggregate generated
// tokens/s, per-client tokens/s, time to first token and inter-token latency. --shared-prefix N
// gives every request the same ~N-token system prompt; --unique-prefix N gives each client its own
// ~N-token system prompt (the no-sharing baseline of the same length).
//
// Soak mode (--soak): random parameters per request (endpoint, stream, temperature, top_k,
// top_p, max_tokens, stop, n, seed, json response_format) and random disconnects (the socket
// closed mid-stream or before the reply), for --requests per client or until --duration-s; at
// the end it waits for /slots to show no busy slot and reads the server's resident set
// (/proc/PID/status, --pid) after warm-up and at the end.
//
// Examples:
//   ember_server_load --port 8080 --clients 8 --max-tokens 128
//   ember_server_load --port 8080 --clients 8 --shared-prefix 700 --max-tokens 16
//   ember_server_load --port 8080 --soak --clients 64 --requests 2000 --pid 1234 --json

#include <signal.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"

namespace ember::load {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Options {
  HttpTarget target;
  std::string model;  // empty: the first id of GET /v1/models
  int clients = 8;
  int requests = 1;  // per client
  int max_tokens = 128;
  std::string endpoint = "chat";  // chat | completions
  std::string prompt = "Write a long story about a lighthouse keeper and the sea.";
  int shared_prefix = 0;
  int unique_prefix = 0;
  int warmup = 1;  // untimed requests before the run (bench mode)
  double temperature = 0.8;
  uint32_t seed = 1;
  bool ignore_eos = true;
  bool json = false;
  std::string json_out;  // also write the JSON results to this file
  std::string trace;     // log every request (sent, then its outcome) to this file
  int timeout_s = 600;
  // soak
  bool soak = false;
  double duration_s = 0;  // 0: no limit
  double disconnect_rate = 0.1;
  int warmup_requests = 0;  // soak: RSS baseline after this many finished requests
  int pid = 0;
  double max_rss_growth = -1;  // soak: fail when end RSS exceeds the warm-up RSS by more (< 0: off)
};

// ---- results ---------------------------------------------------------------------------------

struct RequestStats {
  int client = 0;
  int status = 0;             // HTTP status; 0 = transport error
  std::string error;          // transport error or SSE error event
  bool disconnected = false;  // we closed on purpose
  bool stream_error = false;  // an SSE {"error": ...} event
  bool invalid = false;       // a 200 reply that is not what the request asked for
  int completion_tokens = 0;
  int prompt_tokens = 0;
  int cached_tokens = 0;
  double e2e_s = 0;
  std::optional<double> ttft_s;
  std::vector<double> gaps_s;  // between successive content events
  Clock::time_point start, end;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double idx = p * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(idx);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}

// ---- server helpers --------------------------------------------------------------------------

Result<Json> get_json(const HttpTarget& t, const std::string& path) {
  EMBER_ASSIGN_OR_RETURN(RequestResult r, http_request(t, "GET", path, ""));
  if (r.response.status != 200) {
    return io_error("GET " + path + ": HTTP " + std::to_string(r.response.status) + ": " +
                    r.response.body.substr(0, 200));
  }
  Json j = Json::parse(r.response.body, nullptr, false);
  if (j.is_discarded()) return io_error("GET " + path + ": reply is not JSON");
  return j;
}

// Busy slots in a /slots reply: llama-server's shape is an array of slot objects with
// "is_processing" (newer) or "state" != 0 (older); a {"slots": [...]} wrapper is accepted too.
Result<int> busy_slots(const HttpTarget& t) {
  EMBER_ASSIGN_OR_RETURN(Json j, get_json(t, "/slots"));
  const Json* arr = &j;
  if (j.is_object() && j.contains("slots")) arr = &j["slots"];
  if (!arr->is_array()) return io_error("/slots: not an array");
  int busy = 0;
  for (const Json& s : *arr) {
    if (!s.is_object()) continue;
    if (auto it = s.find("is_processing"); it != s.end() && it->is_boolean()) {
      busy += it->get<bool>() ? 1 : 0;
    } else if (auto st = s.find("state"); st != s.end() && st->is_number()) {
      busy += st->get<int>() != 0 ? 1 : 0;
    }
  }
  return busy;
}

// VmRSS of a process in KiB (0 when unreadable).
long rss_kib(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

bool process_alive(int pid) {
  return pid > 0 && ::kill(pid, 0) == 0;
}

// A deterministic text of about `tokens` tokens (measured with POST /tokenize when the server
// has it; otherwise ~1.3 tokens per word is assumed). `salt` makes different texts of the same
// length: the no-sharing baseline.
std::string make_prefix(const HttpTarget& t, int tokens, uint32_t salt) {
  static constexpr const char* kWords[] = {
      "harbor",  "lantern", "granite", "whisper",  "meadow",  "copper",  "thunder", "orchard",
      "velvet",  "glacier", "ember",   "saffron",  "quartz",  "willow",  "beacon",  "cascade",
      "marble",  "falcon",  "juniper", "tundra",   "compass", "ripple",  "cobalt",  "summit",
      "prairie", "lagoon",  "cinder",  "tapestry", "horizon", "citadel", "mosaic",  "nectar"};
  std::mt19937 rng(salt * 2654435761u + 17);
  std::uniform_int_distribution<size_t> pick(0, std::size(kWords) - 1);
  auto words = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i) s += (i % 12 == 0) ? ". " : " ";
      s += kWords[pick(rng)];
    }
    return s;
  };
  const std::string head = "Reference notes " + std::to_string(salt) + ": ";
  int n_words = std::max(1, tokens * 10 / 13);
  std::string text = head + words(n_words);
  Json req = {{"content", text}};
  auto r = http_request(t, "POST", "/tokenize", req.dump());
  if (r.ok() && r->response.status == 200) {
    Json j = Json::parse(r->response.body, nullptr, false);
    if (j.is_object() && j.contains("tokens") && j["tokens"].is_array() && !j["tokens"].empty()) {
      const double per_word = static_cast<double>(j["tokens"].size()) / n_words;
      n_words = std::max(1, static_cast<int>(tokens / per_word));
      rng.seed(salt * 2654435761u + 17);
      text = head + words(n_words);
    }
  }
  return text;
}

// ---- one request -----------------------------------------------------------------------------

struct RequestPlan {
  std::string path;  // /v1/chat/completions or /v1/completions
  Json body;
  bool stream = true;
  int disconnect_after = -1;  // close after this many SSE events / body bytes (>= 0)
  bool expect_json_content = false;
};

// Runs one request and records what happened.
RequestStats run_request(const Options& opt, const RequestPlan& plan, int client) {
  RequestStats st;
  st.client = client;
  st.start = Clock::now();
  const std::string body = plan.body.dump();
  Clock::time_point last_event{};
  int events = 0;
  std::string content;  // for validation of non-stream json
  std::string whole;    // non-stream body
  bool done_seen = false;
  std::string finish0;  // choice 0's finish_reason (stream)

  SseSplitter sse([&](std::string_view data) -> bool {
    const auto now = Clock::now();
    if (plan.disconnect_after >= 0 && events >= plan.disconnect_after) {
      st.disconnected = true;
      return false;
    }
    ++events;
    if (data == "[DONE]") {
      done_seen = true;
      return true;
    }
    Json j = Json::parse(data, nullptr, false);
    if (j.is_discarded()) {
      st.invalid = true;
      st.error = "SSE event is not JSON: " + std::string(data.substr(0, 100));
      return true;
    }
    if (j.contains("error")) {
      st.stream_error = true;
      st.error = j["error"].dump().substr(0, 300);
      return true;
    }
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      st.completion_tokens = u->value("completion_tokens", 0);
      st.prompt_tokens = u->value("prompt_tokens", 0);
      if (auto d = u->find("prompt_tokens_details"); d != u->end() && d->is_object()) {
        st.cached_tokens = d->value("cached_tokens", 0);
      }
    }
    bool has_token = false;
    if (auto ch = j.find("choices"); ch != j.end() && ch->is_array()) {
      for (const Json& c : *ch) {
        if (auto f = c.find("finish_reason");
            f != c.end() && f->is_string() && c.value("index", 0) == 0) {
          finish0 = f->get<std::string>();
        }
        if (auto d = c.find("delta"); d != c.end() && d->is_object()) {
          for (const char* k : {"content", "reasoning_content"}) {
            if (auto v = d->find(k);
                v != d->end() && v->is_string() && !v->get_ref<const std::string&>().empty()) {
              has_token = true;
              if (c.value("index", 0) == 0 && std::string(k) == "content")
                content += v->get<std::string>();
            }
          }
          if (d->contains("tool_calls")) has_token = true;
        }
        if (auto v = c.find("text");
            v != c.end() && v->is_string() && !v->get_ref<const std::string&>().empty()) {
          has_token = true;
        }
      }
    }
    if (has_token) {
      if (!st.ttft_s) {
        st.ttft_s = seconds_between(st.start, now);
      } else {
        st.gaps_s.push_back(seconds_between(last_event, now));
      }
      last_event = now;
    }
    return true;
  });

  size_t body_bytes = 0;
  BodySink sink = [&](std::string_view piece) -> bool {
    if (plan.stream) {
      // Keep the start of the body too: an error reply (4xx/5xx) is JSON, not events.
      if (whole.size() < 4096) whole.append(piece.substr(0, 4096 - whole.size()));
      return sse.feed(piece);
    }
    if (plan.disconnect_after >= 0 && body_bytes >= static_cast<size_t>(plan.disconnect_after)) {
      st.disconnected = true;
      return false;
    }
    body_bytes += piece.size();
    whole.append(piece);
    return true;
  };
  if (plan.disconnect_after == 0 && !plan.stream) {
    // Close right after sending, before any byte of the reply: the server is still working.
    sink = [&](std::string_view) {
      st.disconnected = true;
      return false;
    };
  }

  auto r =
      http_request(opt.target, "POST", plan.path, body, sink, std::chrono::seconds(opt.timeout_s));
  st.end = Clock::now();
  st.e2e_s = seconds_between(st.start, st.end);
  if (!r.ok()) {
    st.status = 0;
    st.error = r.status().message();
    return st;
  }
  st.status = r->response.status;
  if (r->stopped) st.disconnected = true;
  if (st.status != 200 || st.disconnected) {
    if (st.status != 200) st.error = whole.substr(0, 300);
    return st;
  }
  if (plan.stream) {
    if (!done_seen && !st.stream_error) {
      st.invalid = true;
      st.error = "stream ended without data: [DONE]";
    }
    if (st.completion_tokens == 0)
      st.completion_tokens = st.ttft_s ? static_cast<int>(st.gaps_s.size()) + 1 : 0;
  } else {
    Json j = Json::parse(whole, nullptr, false);
    if (j.is_discarded() || !j.contains("choices") || !j["choices"].is_array()) {
      st.invalid = true;
      st.error = "reply is not a completion object: " + whole.substr(0, 200);
      return st;
    }
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      st.completion_tokens = u->value("completion_tokens", 0);
      st.prompt_tokens = u->value("prompt_tokens", 0);
    }
    const Json& c0 = j["choices"].empty() ? Json() : j["choices"][0];
    if (c0.is_object() && c0.contains("message") &&
        c0["message"].value("content", Json()).is_string()) {
      content = c0["message"]["content"].get<std::string>();
    }
    if (c0.is_object()) {
      if (size_t want = plan.body.value("n", 1); j["choices"].size() != want) {
        st.invalid = true;
        st.error = "asked for n=" + std::to_string(want) + ", got " +
                   std::to_string(j["choices"].size()) + " choices";
      }
    }
    if (plan.expect_json_content && c0.is_object() && c0.value("finish_reason", "") == "stop") {
      if (Json::parse(content, nullptr, false).is_discarded()) {
        st.invalid = true;
        st.error = "json_object reply is not JSON: " + content.substr(0, 200);
      }
    }
  }
  if (plan.stream && plan.expect_json_content && !st.stream_error && finish0 == "stop") {
    // A reply cut by max_tokens may be incomplete; one that stopped must parse.
    if (Json::parse(content, nullptr, false).is_discarded()) {
      st.invalid = true;
      st.error = "json_object reply is not JSON: " + content.substr(0, 200);
    }
  }
  return st;
}

// ---- request plans ---------------------------------------------------------------------------

RequestPlan bench_plan(const Options& opt, const std::string& system, int client, int i) {
  RequestPlan p;
  p.stream = true;
  const std::string user =
      opt.prompt + " (reader " + std::to_string(client) + ", part " + std::to_string(i) + ")";
  Json b = {{"model", opt.model},
            {"max_tokens", opt.max_tokens},
            {"temperature", opt.temperature},
            {"seed", opt.seed + static_cast<uint32_t>(client * 100003 + i)},
            {"stream", true},
            {"stream_options", {{"include_usage", true}}}};
  if (opt.ignore_eos) b["ignore_eos"] = true;
  if (opt.endpoint == "completions") {
    p.path = "/v1/completions";
    b["prompt"] = system.empty() ? user : system + "\n\n" + user;
  } else {
    p.path = "/v1/chat/completions";
    Json msgs = Json::array();
    if (!system.empty()) msgs.push_back({{"role", "system"}, {"content", system}});
    msgs.push_back({{"role", "user"}, {"content", user}});
    b["messages"] = msgs;
  }
  p.body = std::move(b);
  return p;
}

RequestPlan soak_plan(const Options& opt, std::mt19937_64& rng) {
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto chance = [&](double p) { return uni(0, 1) < p; };
  auto irange = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  static constexpr const char* kPrompts[] = {"Tell me a joke.",
                                             "List five rivers.",
                                             "Explain recursion briefly.",
                                             "Write a haiku about rain.",
                                             "What is 17 times 23?",
                                             "Describe a sunrise.",
                                             "Summarise the plot of a heist film.",
                                             "Give three tips for sleeping well."};
  static constexpr const char* kStops[] = {".", "\n", "the", "a", "!", "ing", "e", ","};

  RequestPlan p;
  const bool chat = chance(0.8);
  p.stream = chance(0.7);
  Json b = {{"model", opt.model}, {"max_tokens", irange(1, 48)}, {"seed", irange(0, 1 << 30)}};
  b["temperature"] = chance(0.2) ? 0.0 : uni(0.0, 1.5);
  if (chance(0.5)) b["top_k"] = std::vector<int>{0, 1, 5, 40}[static_cast<size_t>(irange(0, 3))];
  if (chance(0.3)) b["top_p"] = uni(0.5, 1.0);
  if (chance(0.2)) b["min_p"] = uni(0.0, 0.2);
  if (chance(0.2)) b["repeat_penalty"] = uni(1.0, 1.3);
  if (chance(0.3)) {
    Json stops = Json::array();
    for (int k = irange(1, 3); k > 0; --k)
      stops.push_back(kStops[irange(0, std::size(kStops) - 1)]);
    b["stop"] = stops;
  }
  if (chance(0.1)) b["n"] = irange(2, 3);
  if (chance(0.3)) b["ignore_eos"] = true;
  if (p.stream) {
    b["stream"] = true;
    if (chance(0.5)) b["stream_options"] = {{"include_usage", true}};
  }
  const std::string prompt = kPrompts[irange(0, std::size(kPrompts) - 1)];
  if (chat) {
    p.path = "/v1/chat/completions";
    Json msgs = Json::array();
    if (chance(0.5))
      msgs.push_back({{"role", "system"}, {"content", "You are a helpful assistant."}});
    msgs.push_back({{"role", "user"}, {"content", prompt}});
    b["messages"] = msgs;
    // Not with ignore_eos, so that the plan (and the recorded figures) stay those of the first
    // runs, when that combination failed with a grammar error; fixed since, and covered by
    // tests/js and GrammarGeneration.IgnoreEosEndsWhenTheGrammarIsComplete.
    if (!b.contains("ignore_eos") && chance(0.1)) {
      b["response_format"] = {{"type", "json_object"}};
      p.expect_json_content = !b.contains("stop") && !b.contains("n");
    }
  } else {
    p.path = "/v1/completions";
    b["prompt"] = prompt;
  }
  if (chance(opt.disconnect_rate)) p.disconnect_after = p.stream ? irange(0, 6) : irange(0, 1) * 16;
  p.body = std::move(b);
  return p;
}

// ---- reporting -------------------------------------------------------------------------------

struct Summary {
  Json json;
  bool failed = false;
};

Summary summarise(const Options& opt, const std::vector<RequestStats>& all, double wall_s) {
  std::map<std::string, int> by_status;
  int ok = 0, transport = 0, server_errors = 0, disconnects = 0, stream_errors = 0, invalid = 0;
  long tokens = 0;
  std::vector<double> ttft, gaps, e2e;
  std::map<int, std::pair<long, double>> per_client;  // tokens, busy seconds
  std::vector<std::string> samples;
  for (const RequestStats& s : all) {
    by_status[s.status == 0 ? "transport_error" : std::to_string(s.status)]++;
    if (s.disconnected) {
      ++disconnects;
      continue;
    }
    if (s.status == 0) ++transport;
    if (s.status >= 500) ++server_errors;
    if (s.stream_error) ++stream_errors;
    if (s.invalid) ++invalid;
    if ((s.status == 0 || s.status >= 500 || s.stream_error || s.invalid) && samples.size() < 10) {
      samples.push_back("HTTP " + std::to_string(s.status) + ": " + s.error);
    }
    if (s.status != 200 || s.stream_error || s.invalid) continue;
    ++ok;
    tokens += s.completion_tokens;
    if (s.ttft_s) ttft.push_back(*s.ttft_s);
    gaps.insert(gaps.end(), s.gaps_s.begin(), s.gaps_s.end());
    e2e.push_back(s.e2e_s);
    per_client[s.client].first += s.completion_tokens;
    per_client[s.client].second += s.e2e_s;
  }
  std::vector<double> client_tps;
  for (const auto& [c, v] : per_client) {
    if (v.second > 0) client_tps.push_back(static_cast<double>(v.first) / v.second);
  }
  Json j;
  j["clients"] = opt.clients;
  j["requests"] = all.size();
  j["ok"] = ok;
  j["by_status"] = by_status;
  j["transport_errors"] = transport;
  j["server_errors_5xx"] = server_errors;
  j["stream_error_events"] = stream_errors;
  j["invalid_replies"] = invalid;
  j["disconnects"] = disconnects;
  j["wall_s"] = wall_s;
  j["generated_tokens"] = tokens;
  j["aggregate_tokens_per_s"] = wall_s > 0 ? static_cast<double>(tokens) / wall_s : 0;
  j["per_client_tokens_per_s"] = {
      {"median", percentile(client_tps, 0.5)},
      {"min", client_tps.empty() ? 0 : *std::min_element(client_tps.begin(), client_tps.end())},
      {"max", client_tps.empty() ? 0 : *std::max_element(client_tps.begin(), client_tps.end())}};
  j["ttft_s"] = {{"median", percentile(ttft, 0.5)},
                 {"p90", percentile(ttft, 0.9)},
                 {"max", percentile(ttft, 1.0)}};
  j["inter_token_latency_s"] = {{"median", percentile(gaps, 0.5)},
                                {"p90", percentile(gaps, 0.9)},
                                {"p99", percentile(gaps, 0.99)}};
  j["e2e_s"] = {{"median", percentile(e2e, 0.5)}, {"p90", percentile(e2e, 0.9)}};
  if (!samples.empty()) j["error_samples"] = samples;
  Summary s;
  s.json = std::move(j);
  s.failed = transport > 0 || server_errors > 0 || stream_errors > 0 || invalid > 0;
  return s;
}

void print_text(const Json& j) {
  std::printf("requests %d: ok %d, disconnects (on purpose) %d\n", j["requests"].get<int>(),
              j["ok"].get<int>(), j["disconnects"].get<int>());
  std::printf("  by status:");
  for (const auto& [k, v] : j["by_status"].items()) std::printf(" %s=%d", k.c_str(), v.get<int>());
  std::printf("\n  transport errors %d, 5xx %d, SSE error events %d, invalid replies %d\n",
              j["transport_errors"].get<int>(), j["server_errors_5xx"].get<int>(),
              j["stream_error_events"].get<int>(), j["invalid_replies"].get<int>());
  std::printf("generated %ld tokens in %.2f s: %.1f t/s aggregate\n",
              j["generated_tokens"].get<long>(), j["wall_s"].get<double>(),
              j["aggregate_tokens_per_s"].get<double>());
  const Json& pc = j["per_client_tokens_per_s"];
  std::printf("per-client t/s: median %.1f (min %.1f, max %.1f)\n", pc["median"].get<double>(),
              pc["min"].get<double>(), pc["max"].get<double>());
  std::printf("time to first token: median %.3f s, p90 %.3f s, max %.3f s\n",
              j["ttft_s"]["median"].get<double>(), j["ttft_s"]["p90"].get<double>(),
              j["ttft_s"]["max"].get<double>());
  std::printf("inter-token latency: median %.1f ms, p90 %.1f ms, p99 %.1f ms\n",
              1e3 * j["inter_token_latency_s"]["median"].get<double>(),
              1e3 * j["inter_token_latency_s"]["p90"].get<double>(),
              1e3 * j["inter_token_latency_s"]["p99"].get<double>());
  if (j.contains("error_samples")) {
    for (const auto& e : j["error_samples"])
      std::printf("  error: %s\n", e.get<std::string>().c_str());
  }
  if (j.contains("end")) {
    const Json& e = j["end"];
    std::printf("end: busy slots %s, server alive %s, RSS after warm-up %ld KiB, at end %ld KiB",
                e["busy_slots"].dump().c_str(), e["server_alive"].dump().c_str(),
                e.value("rss_after_warmup_kib", 0L), e.value("rss_end_kib", 0L));
    if (e.contains("rss_change")) std::printf(" (%+.1f %%)", 100.0 * e["rss_change"].get<double>());
    std::printf("\n");
  }
}

// ---- main loop -------------------------------------------------------------------------------

int run(Options opt) {
  if (opt.model.empty()) {
    auto models = get_json(opt.target, "/v1/models");
    if (!models.ok()) {
      std::fprintf(stderr, "ember_server_load: %s\n", models.status().message().c_str());
      return 2;
    }
    const Json& d = (*models)["data"];
    if (!d.is_array() || d.empty() || !d[0].contains("id")) {
      std::fprintf(stderr, "ember_server_load: /v1/models lists no model\n");
      return 2;
    }
    opt.model = d[0]["id"].get<std::string>();
  }

  std::vector<std::string> systems(static_cast<size_t>(opt.clients));
  if (opt.shared_prefix > 0) {
    const std::string s = make_prefix(opt.target, opt.shared_prefix, 0);
    for (auto& x : systems) x = s;
  } else if (opt.unique_prefix > 0) {
    for (int c = 0; c < opt.clients; ++c)
      systems[static_cast<size_t>(c)] =
          make_prefix(opt.target, opt.unique_prefix, static_cast<uint32_t>(c + 1));
  }

  if (!opt.soak) {
    // Warm-up requests (a different prefix salt, so they do not pre-fill the measured prefix).
    for (int i = 0; i < opt.warmup; ++i) {
      Options w = opt;
      w.max_tokens = std::min(opt.max_tokens, 8);
      RequestStats s = run_request(w, bench_plan(w, "", 1000 + i, 0), 1000 + i);
      if (s.status != 200) {
        std::fprintf(stderr, "ember_server_load: warm-up request failed: HTTP %d %s\n", s.status,
                     s.error.c_str());
        return 2;
      }
    }
  }

  std::mutex mu;
  std::vector<RequestStats> all;
  std::atomic<int> finished{0};
  std::atomic<bool> server_gone{false};
  std::atomic<long> rss_warm{0};
  // Soak: the RSS baseline after warm-up, by default after 5 % of the requests or 20 per
  // client, whichever comes first (a --duration-s run may never reach 5 %).
  const long planned = static_cast<long>(opt.clients) * opt.requests;
  const int warm_at =
      opt.soak ? (opt.warmup_requests > 0
                      ? opt.warmup_requests
                      : static_cast<int>(std::max(1L, std::min(planned / 20, 20L * opt.clients))))
               : 0;
  const auto t0 = Clock::now();
  const auto deadline = opt.duration_s > 0 ? t0 + std::chrono::duration_cast<Clock::duration>(
                                                      std::chrono::duration<double>(opt.duration_s))
                                           : Clock::time_point::max();
  // --trace: one line when a request is sent and one with its outcome, so that the requests in
  // flight when a server failed can be replayed.
  std::mutex trace_mu;
  std::ofstream trace;
  if (!opt.trace.empty()) trace.open(opt.trace);
  auto trace_line = [&](const std::string& line) {
    if (!trace.is_open()) return;
    std::lock_guard<std::mutex> lock(trace_mu);
    trace << std::fixed << seconds_between(t0, Clock::now()) << " " << line << "\n";
    trace.flush();
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < opt.clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(opt.seed * 1000003ull + static_cast<uint64_t>(c));
      std::vector<RequestStats> mine;
      for (int i = 0; i < opt.requests && Clock::now() < deadline && !server_gone; ++i) {
        RequestPlan plan =
            opt.soak ? soak_plan(opt, rng) : bench_plan(opt, systems[static_cast<size_t>(c)], c, i);
        const std::string tag = "c" + std::to_string(c) + "#" + std::to_string(i);
        trace_line("send " + tag + " " + plan.path + " disconnect_after=" +
                   std::to_string(plan.disconnect_after) + " " + plan.body.dump());
        mine.push_back(run_request(opt, plan, c));
        trace_line("done " + tag + " status=" + std::to_string(mine.back().status) +
                   (mine.back().disconnected ? " disconnected" : "") + " " + mine.back().error);
        // A refused connection means the server is gone (crashed): stop instead of spinning.
        if (mine.back().status == 0 &&
            mine.back().error.find("Connection refused") != std::string::npos) {
          server_gone = true;
        }
        if (++finished == warm_at) rss_warm = rss_kib(opt.pid);
      }
      std::lock_guard<std::mutex> lock(mu);
      for (auto& s : mine) all.push_back(std::move(s));
    });
  }
  for (auto& t : threads) t.join();
  Clock::time_point last_end = t0;
  for (const auto& s : all) last_end = std::max(last_end, s.end);
  Summary sum = summarise(opt, all, seconds_between(t0, last_end));

  // The end state: no slot may stay busy once every client is gone (cancelled and finished
  // requests must free theirs); give the batch loop a moment to notice the last disconnects.
  Json end;
  int busy = -1;
  for (int tries = 0; tries < 50; ++tries) {
    auto b = busy_slots(opt.target);
    if (!b.ok()) {
      end["slots_error"] = b.status().message();
      break;
    }
    busy = *b;
    if (busy == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  end["busy_slots"] = busy;
  auto health = http_request(opt.target, "GET", "/health", "");
  end["health_status"] = health.ok() ? health->response.status : 0;
  if (opt.pid > 0) {
    end["server_alive"] = process_alive(opt.pid);
    const long warm = rss_warm.load() > 0 ? rss_warm.load() : 0;
    const long fin = rss_kib(opt.pid);
    end["rss_after_warmup_kib"] = warm;
    end["rss_end_kib"] = fin;
    if (warm > 0 && fin > 0)
      end["rss_change"] = static_cast<double>(fin - warm) / static_cast<double>(warm);
  } else {
    end["server_alive"] = end["health_status"] == 200;
  }
  sum.json["end"] = end;
  sum.json["mode"] = opt.soak ? "soak" : "bench";
  sum.json["endpoint"] = opt.endpoint;
  if (!opt.soak) sum.json["max_tokens"] = opt.max_tokens;
  sum.json["shared_prefix"] = opt.shared_prefix;
  sum.json["unique_prefix"] = opt.unique_prefix;
  sum.json["requests_per_client"] = opt.requests;
  if (opt.json) {
    std::cout << sum.json.dump(2) << "\n";
  } else {
    print_text(sum.json);
  }
  if (!opt.json_out.empty()) {
    std::ofstream f(opt.json_out);
    f << sum.json.dump(2) << "\n";
    if (!f) std::fprintf(stderr, "ember_server_load: cannot write %s\n", opt.json_out.c_str());
  }
  bool end_bad = busy != 0 || end["health_status"] != 200 || end["server_alive"] != true;
  if (opt.max_rss_growth >= 0 && end.contains("rss_change") &&
      end["rss_change"].get<double>() > opt.max_rss_growth) {
    std::fprintf(stderr, "ember_server_load: RSS grew by %.1f %% (limit %.1f %%)\n",
                 100.0 * end["rss_change"].get<double>(), 100.0 * opt.max_rss_growth);
    end_bad = true;
  }
  return sum.failed || end_bad ? 1 : 0;
}

}  // namespace
}  // namespace ember::load

int main(int argc, char** argv) {
  ember::load::Options opt;
  CLI::App app{"ember_server_load: load generator for an OpenAI-compatible server (ember serve)"};
  app.add_option("--host", opt.target.host, "server host");
  app.add_option("--port", opt.target.port, "server port")->required();
  app.add_option("--api-key", opt.target.api_key, "sent as Authorization: Bearer KEY");
  app.add_option("--model", opt.model, "model id (default: the first of GET /v1/models)");
  app.add_option("-c,--clients", opt.clients, "concurrent clients (threads)")
      ->check(CLI::Range(1, 4096));
  app.add_option("-r,--requests", opt.requests, "requests per client")
      ->check(CLI::Range(1, 10000000));
  app.add_option("-n,--max-tokens", opt.max_tokens, "max_tokens per request (bench)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--endpoint", opt.endpoint, "chat or completions")
      ->check(CLI::IsMember({"chat", "completions"}));
  app.add_option("--prompt", opt.prompt, "user prompt (bench)");
  app.add_option("--shared-prefix", opt.shared_prefix,
                 "a common ~N-token system prompt for all clients")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--unique-prefix", opt.unique_prefix,
                 "a different ~N-token system prompt per client")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--warmup", opt.warmup, "untimed warm-up requests (bench)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--temperature", opt.temperature, "sampling temperature (bench)");
  app.add_option("--seed", opt.seed, "base seed");
  app.add_flag("!--no-ignore-eos", opt.ignore_eos, "let EOS end a reply early (bench)");
  app.add_option("--timeout-s", opt.timeout_s, "per-read/write timeout")
      ->check(CLI::Range(1, 86400));
  app.add_flag("--soak", opt.soak,
               "random parameters and disconnects; checks /slots and RSS at the end");
  app.add_option("--duration-s", opt.duration_s,
                 "stop starting requests after this long (0: no limit)");
  app.add_option("--disconnect-rate", opt.disconnect_rate, "soak: share of requests closed early")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--warmup-requests", opt.warmup_requests,
                 "soak: RSS baseline after this many requests (default: 5 % or 20 per client)");
  app.add_option("--pid", opt.pid, "server process id (RSS from /proc/PID/status, liveness)");
  app.add_option("--max-rss-growth", opt.max_rss_growth,
                 "soak: fail when the end RSS exceeds the warm-up RSS by more than this ratio");
  app.add_flag("--json", opt.json, "print the results as JSON");
  app.add_option("--json-out", opt.json_out, "also write the JSON results to this file");
  app.add_option("--trace", opt.trace, "log each request when sent and when done to this file");
  CLI11_PARSE(app, argc, argv);
  if (opt.shared_prefix > 0 && opt.unique_prefix > 0) {
    std::fprintf(stderr,
                 "ember_server_load: --shared-prefix and --unique-prefix exclude each other\n");
    return 2;
  }
  return ember::load::run(std::move(opt));
}
