// `ember serve -m FILE [--host H] [--port P] [--parallel N] [-c CTX] [--kv-size N]
//              [--batch-tokens N] [-t THREADS] [--kv-type f16|f32|q8_0] [--alias NAME]
//              [--api-key KEY | --api-key-file F] [--max-queue N] [--cors-origin O]
//              [--max-body BYTES] [--shutdown-timeout S] [--timeout S] [--idle-timeout S]
//              [--log-format text|json] [--no-access-log] [--no-webui]`
//
// An OpenAI-compatible HTTP server (apps/server, docs/server.md). It listens before the model
// is loaded, so /health answers 503 while loading; once ready it prints the model, slots,
// context, threads, whether an API key is required and the web page's URL, then exactly one line
// "ember: listening on http://HOST:PORT" on stderr. SIGINT / SIGTERM: stop accepting, let running
// requests finish for up to --shutdown-timeout seconds, cancel the rest, exit 0.
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "api.h"
#include "base/parallel.h"
#include "commands.h"
#include "ember/model.h"
#include "ember/server.h"
#include "generation_flags.h"
#include "http_server.h"
#include "model_session.h"
#include "webui_assets.h"

namespace ember::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;
  int ctx = 4096;
  int kv_size = 0;
  int batch_tokens = 512;
  int threads = 0;
  std::string kv_type = "f16";
  std::string numerics = "fast";
  std::string alias;
  std::string api_key;
  std::string api_key_file;
  int max_queue = 64;
  std::string cors_origin;
  uint64_t max_body = uint64_t{8} << 20;
  double shutdown_timeout = 30.0;
  double timeout = 600.0;
  double idle_timeout = 60.0;
  std::string log_format = "text";
  bool no_access_log = false;
  bool no_webui = false;
};

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0));
}

void say(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

// Lets hundreds of keep-alive connections open: raise the soft descriptor limit to the hard one.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

Result<http::HttpOptions> http_options(const ServeArgs& a) {
  http::HttpOptions o;
  o.host = a.host;
  o.port = a.port;
  o.model_path = a.model;
  o.model_id = a.alias.empty() ? std::filesystem::path(a.model).stem().string() : a.alias;
  if (!a.api_key.empty() && !a.api_key_file.empty()) {
    return invalid_argument("give --api-key or --api-key-file, not both");
  }
  o.api_key = a.api_key;
  if (!a.api_key_file.empty()) {
    std::ifstream in(a.api_key_file);
    if (!in) return io_error("cannot read --api-key-file " + a.api_key_file);
    std::getline(in, o.api_key);
    while (!o.api_key.empty() && (o.api_key.back() == '\r' || o.api_key.back() == ' ')) {
      o.api_key.pop_back();
    }
    if (o.api_key.empty())
      return invalid_argument("--api-key-file " + a.api_key_file + " is empty");
  }
  o.cors_origin = a.cors_origin;
  if (a.max_body == 0) return invalid_argument("--max-body must be at least 1");
  o.max_body = a.max_body;
  o.request_timeout = seconds_to_ms(a.timeout);
  o.idle_timeout = seconds_to_ms(a.idle_timeout);
  if (a.log_format == "text") {
    o.log_format = http::LogFormat::kText;
  } else if (a.log_format == "json") {
    o.log_format = http::LogFormat::kJson;
  } else {
    return invalid_argument("--log-format must be text or json, not '" + a.log_format + "'");
  }
  o.access_log = !a.no_access_log;
  o.webui = !a.no_webui;
  return o;
}

Result<ServerOptions> server_options(const ServeArgs& a) {
  ServerOptions s;
  s.n_parallel = a.parallel;
  s.n_ctx = a.ctx;
  s.kv_size = a.kv_size;
  s.batch_tokens = a.batch_tokens;
  s.n_threads = a.threads;
  s.max_queue = a.max_queue;
  if (a.kv_type == "f16") {
    s.kv_cache_type = KvCacheType::kF16;
  } else if (a.kv_type == "f32") {
    s.kv_cache_type = KvCacheType::kF32;
  } else if (a.kv_type == "q8_0") {
    s.kv_cache_type = KvCacheType::kQ8_0;
  } else {
    return invalid_argument("--kv-type must be f16, f32 or q8_0, not '" + a.kv_type + "'");
  }
  return s;
}

// What a person needs once the server is ready, on stderr, before the "listening on" line: the
// model, the slots and context, the threads, whether an API key is required, and the URL of the
// web page to open.
void print_ready_summary(const ServeArgs& a, const http::HttpOptions& h, const Server& server,
                         const std::string& url_host, int port) {
  const ServerOptions& o = server.options();
  say("ember: model " + h.model_id + " (" + server.model()->description() + ") from " + a.model);
  const int threads = o.n_threads > 0 ? o.n_threads : hardware_threads();
  say("ember: " + std::to_string(o.n_parallel) + " slot" + (o.n_parallel == 1 ? "" : "s") +
      ", context " + std::to_string(o.n_ctx) + " tokens per request, KV cache " +
      std::to_string(o.kv_size) + " cells (" + a.kv_type + "), " + std::to_string(threads) +
      " thread" + (threads == 1 ? "" : "s"));
  if (a.numerics == "reference") {
    say("ember: numerics reference (Q8_0 / MXFP4 products in llama.cpp's summation order; slower "
        "prompts)");
  }
  say(h.api_key.empty() ? "ember: no API key required"
                        : "ember: API key required (Authorization: Bearer KEY or x-api-key; "
                          "/health and the web page's "
                          "files are open, the page asks for the key)");
  // A wildcard address is not something to open in a browser: show the loopback one.
  std::string open_host = url_host;
  if (open_host == "0.0.0.0") open_host = "127.0.0.1";
  if (open_host == "[::]") open_host = "[::1]";
  const std::string page = "http://" + open_host + ":" + std::to_string(port) + "/";
  if (!h.webui) {
    say("ember: web chat page off (--no-webui); API at " + page + "v1");
  } else if (!http::web_assets_missing().empty()) {
    say("ember: web chat page not built in (" + std::string(http::web_assets_missing()) +
        "); API at " + page + "v1");
  } else {
    say("ember: open " + page + " for the web chat page (API at " + page + "v1)");
  }
}

int run_serve(const ServeArgs& a) {
  Result<http::HttpOptions> hopts = http_options(a);
  if (!hopts.ok()) return report_error(hopts.status());
  Result<ServerOptions> sopts = server_options(a);
  if (!sopts.ok()) return report_error(sopts.status());
  Result<Numerics> numerics_or = parse_numerics_flag(a.numerics);
  if (!numerics_or.ok()) return report_error(numerics_or.status());
  const Numerics numerics = *numerics_or;

  // SIGINT / SIGTERM are taken by sigtimedwait below: block them before any thread starts, so
  // every thread inherits the mask and none is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A closed stderr (the access log) or socket must never kill the server.
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  auto api = std::make_shared<http::Api>(*hopts);
  Result<std::unique_ptr<http::HttpServer>> listener = http::HttpServer::create(
      *hopts, [api](http::HttpRequest r, std::shared_ptr<http::ResponseWriter> w) {
        api->handle(std::move(r), std::move(w));
      });
  if (!listener.ok()) return report_error(listener.status());
  std::unique_ptr<http::HttpServer> http = std::move(*listener);
  http->start();
  const std::string url = "http://" + http->url_host() + ":" + std::to_string(http->port());
  say("ember: loading " + a.model + " (" + url + "/health answers 503 until it is ready)");

  std::mutex mu;
  std::shared_ptr<Server> server;
  std::atomic<bool> failed{false};
  Status failure;
  std::thread loader([&] {
    ModelOptions mo;
    mo.n_threads = a.threads;
    mo.numerics = numerics;
    Result<std::shared_ptr<const Model>> model = load_public_model(a.model, mo);
    if (!model.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      failure = model.status();
      failed = true;
      return;
    }
    Result<std::unique_ptr<Server>> created = Server::create(*model, *sopts);
    if (!created.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      failure = created.status();
      failed = true;
      return;
    }
    std::shared_ptr<Server> s = std::move(*created);
    {
      std::lock_guard<std::mutex> lock(mu);
      server = s;
    }
    api->set_server(s);
    print_ready_summary(a, *hopts, *s, http->url_host(), http->port());
    say("ember: listening on " + url);
  });

  int signal_number = 0;
  while (!failed.load()) {
    timespec tick{0, 100 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      signal_number = sig;
      break;
    }
  }
  if (signal_number != 0) say("ember: shutting down");
  http->stop_accepting();
  loader.join();  // a model being loaded cannot be interrupted
  int exit_code = 0;
  if (failed.load()) {
    exit_code = report_error(failure);
  }
  std::shared_ptr<Server> s;
  {
    std::lock_guard<std::mutex> lock(mu);
    s = server;
  }
  if (s) {
    s->shutdown(seconds_to_ms(a.shutdown_timeout));
    // Let the connections write the last events (they were posted to them by the shutdown).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (http->active_requests() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // Order matters: stop the I/O threads, then the Server (its callbacks reference connections
  // and the API's metrics), then the connections and the API.
  http->stop();
  api->set_server(nullptr);
  s.reset();
  {
    std::lock_guard<std::mutex> lock(mu);
    server.reset();
  }
  http.reset();
  api.reset();
  return exit_code;
}

}  // namespace

void register_serve(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd =
      app.add_subcommand("serve", "OpenAI-compatible HTTP server (continuous batching)");
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required();
  cmd->add_option("--host", a->host, "Address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", a->port, "Port (default 8080; 0 = a free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("-n,--parallel", a->parallel, "Slots: requests generating at once (default 4)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("-c,--ctx-size", a->ctx, "Context of one request in tokens (default 4096)")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--kv-size", a->kv_size, "Total KV cache in tokens (default parallel x ctx)")
      ->check(CLI::Range(0, 1 << 28));
  cmd->add_option("--batch-tokens", a->batch_tokens, "Most tokens in one forward pass (512)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("-t,--threads", a->threads, "Threads of the forward pass (0 = all)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 (default), f32, q8_0");
  add_numerics_flag(cmd, a->numerics);
  cmd->add_option("--alias", a->alias, "Model name in the API (default: the file's stem)");
  cmd->add_option("--api-key", a->api_key, "Require 'Authorization: Bearer KEY'");
  cmd->add_option("--api-key-file", a->api_key_file, "Read the API key from a file");
  cmd->add_option("--max-queue", a->max_queue, "Queued requests beyond which 503 (64)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--cors-origin", a->cors_origin, "Allow browser requests from ORIGIN (or *)");
  cmd->add_option("--max-body", a->max_body, "Largest request body in bytes (8 MiB)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  cmd->add_option("--shutdown-timeout", a->shutdown_timeout,
                  "Seconds running requests may finish after SIGTERM (30)")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--timeout", a->timeout, "Seconds one request may take, body to response (600)")
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--idle-timeout", a->idle_timeout,
                  "Seconds an idle keep-alive connection stays open (60)")
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--log-format", a->log_format, "Access log format: text (default) or json");
  cmd->add_flag("--no-access-log", a->no_access_log, "No access log lines");
  cmd->add_flag("--no-webui", a->no_webui, "Do not serve the web chat page at /");
  cmd->callback([a, &result] { result.exit_code = run_serve(*a); });
}

}  // namespace ember::cli
