// The HTTP APIs over an ember::Server (OpenAI-compatible, plus Ollama's, Anthropic's Messages and
// OpenAI's Responses): the request handler the HTTP transport calls.
// Routing, checks and JSON live here and in the files it uses; no model logic (generation,
// templates, tokenization) — that is the Server's and the Model's.
//
// Threading: handle() runs on a connection's executor. Generation requests submit to the
// Server with a callback that only posts the event to that connection's executor, where it is
// turned into JSON and written; so a slow client never holds up the scheduler, and its queued
// output is bounded by the generation's length.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ember/server.h"
#include "http_message.h"
#include "http_options.h"
#include "metrics.h"
#include "router.h"

namespace ember::http {

class Api {
 public:
  explicit Api(HttpOptions options);

  // Makes the API ready (until then every route but /health, /metrics and /v1/models answers
  // 503 "Loading model").
  void set_server(std::shared_ptr<Server> server);
  std::shared_ptr<Server> server() const;

  // The transport's RequestHandler.
  void handle(HttpRequest request, std::shared_ptr<ResponseWriter> writer);

  const HttpOptions& options() const { return options_; }
  Metrics& metrics() { return metrics_; }

 private:
  void chat_completions(const HttpRequest& request, Json body,
                        const std::shared_ptr<ResponseWriter>& writer,
                        const std::shared_ptr<Server>& server);
  void completions(const HttpRequest& request, Json body,
                   const std::shared_ptr<ResponseWriter>& writer,
                   const std::shared_ptr<Server>& server);
  // Ollama's /api/* (ollama_api.cc), Anthropic's /v1/messages (anthropic_api.cc) and OpenAI's
  // /v1/responses (responses_api.cc).
  void ollama(Route route, const HttpRequest& request, Json body,
              const std::shared_ptr<ResponseWriter>& writer, const std::shared_ptr<Server>& server);
  // POST /api/embed and /api/embeddings (ollama_embed.cc); `check_model` gives the 404 for a
  // model name this server does not serve.
  void ollama_embed(const HttpRequest& request, Json body,
                    const std::shared_ptr<ResponseWriter>& writer,
                    const std::shared_ptr<Server>& server,
                    const std::function<std::optional<ApiError>(const std::string&)>& check_model);
  void anthropic(Route route, const HttpRequest& request, Json body,
                 const std::shared_ptr<ResponseWriter>& writer,
                 const std::shared_ptr<Server>& server);
  void responses(const HttpRequest& request, Json body,
                 const std::shared_ptr<ResponseWriter>& writer,
                 const std::shared_ptr<Server>& server);

  // POST /v1/embeddings and /v1/rerank (api_embeddings.cc): run as Server embedding jobs.
  void embeddings(Json body, const std::shared_ptr<ResponseWriter>& writer,
                  const std::shared_ptr<Server>& server);
  void rerank(Json body, const std::shared_ptr<ResponseWriter>& writer,
              const std::shared_ptr<Server>& server);

  // Responses with the CORS headers added.
  void respond_json(ResponseWriter& writer, int status, const Json& body) const;
  void respond_error(ResponseWriter& writer, const ApiError& error) const;
  // The requested model is this server's (empty = yes).
  bool serves_model(const std::string& name) const;
  // The 404 for a request naming another model; std::nullopt when this server serves it.
  std::optional<ApiError> unknown_model(const std::string& name) const;
  Json model_json() const;

  HttpOptions options_;
  Metrics metrics_;
  mutable std::mutex mu_;
  std::shared_ptr<Server> server_;
  int64_t created_;  // Unix time the API started (the model's "created")
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace ember::http
