// Ollama's embedding routes on ember's Server: POST /api/embed and the older POST /api/embeddings
// (request parsing in ollama_request.cc). Both run as the same embedding jobs as /v1/embeddings
// (api_embeddings.cc), so a model that cannot embed gets the same 400, in Ollama's
// {"error": "message"} shape.
//
// /api/embed answers {"model", "embeddings": [[...], ...], "total_duration", "load_duration",
// "prompt_eval_count"} (durations in nanoseconds; the model is loaded when the server starts, so
// load_duration is 0). /api/embeddings answers {"embedding": [...]}.
#include <chrono>

#include "api.h"
#include "api_dialects.h"
#include "ollama_request.h"

namespace ember::http {

void Api::ollama_embed(
    const HttpRequest& request, Json body, const std::shared_ptr<ResponseWriter>& writer,
    const std::shared_ptr<Server>& server,
    const std::function<std::optional<ApiError>(const std::string&)>& check_model) {
  auto fail = [this](ResponseWriter& w, const ApiError& e) {
    HttpResponse r = error_response(Dialect::kOllama, e);
    add_cors_headers(options_, r.headers);
    w.respond(std::move(r));
  };
  const bool legacy = request.path() == "/api/embeddings";
  Result<OllamaEmbedCall> call = parse_ollama_embed(body, legacy);
  if (!call.ok()) return fail(*writer, api_error_from_status(call.status()));
  if (std::optional<ApiError> e = check_model(call->model)) return fail(*writer, *e);
  const int32_t n_ctx = server->options().n_ctx;
  if (call->num_ctx > n_ctx) {
    return fail(*writer,
                ApiError::invalid_request("options.num_ctx " + std::to_string(call->num_ctx) +
                                              " is larger than this server's context of " +
                                              std::to_string(n_ctx) + " tokens (ember serve -c)",
                                          "options.num_ctx"));
  }
  const auto received = request.received;
  auto done = [this, writer, legacy, received, fail, model = call->model](Result<EmbedResult> r) {
    // Scheduler thread: build nothing here, hand the result to the connection.
    writer->post([this, writer, legacy, received, fail, model, r = std::move(r)]() mutable {
      if (!r.ok()) return fail(*writer, api_error_from_status(r.status()));
      Json vectors = Json::array();
      for (const Embedding& e : r->data) {
        if (static_cast<int32_t>(e.values.size()) != e.dim) {
          return fail(*writer, ApiError::invalid_request(
                                   "the model's pooling is 'none' (one vector per token), which "
                                   "/api/embed cannot return"));
        }
        vectors.push_back(e.values);
      }
      writer->set_log_tokens(r->total_tokens, 0);
      if (legacy) return respond_json(*writer, 200, {{"embedding", std::move(vectors[0])}});
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - received)
                          .count();
      respond_json(*writer, 200,
                   {{"model", model},
                    {"embeddings", std::move(vectors)},
                    {"total_duration", ns},
                    {"load_duration", 0},
                    {"prompt_eval_count", r->total_tokens}});
    });
  };
  Status st = server->embed_async(std::move(call->request), std::move(done));
  if (!st.ok()) fail(*writer, api_error_from_status(st));
}

}  // namespace ember::http
