// Request dispatch and the non-generation endpoints: /health, /v1/models, /props, /slots,
// /metrics, /tokenize, /detokenize, /apply-template (see api.h).
#include "api.h"

#include <ctime>
#include <filesystem>

#include "api_dialects.h"
#include "api_error.h"
#include "openai_request.h"
#include "webui.h"

namespace ember::http {
namespace {

// Whether `s` is valid UTF-8 (token pieces may be partial characters).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// A piece as llama-server shows it: the text when it is valid UTF-8, else its bytes.
Json piece_json(const std::string& piece) {
  if (valid_utf8(piece)) return piece;
  Json bytes = Json::array();
  for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
  return bytes;
}

Json sampling_defaults_json(const ServerOptions& o) {
  const SamplingParams s;
  return {{"n_ctx", o.n_ctx},
          {"params",
           {{"temperature", s.temperature},
            {"top_k", s.top_k},
            {"top_p", s.top_p},
            {"min_p", s.min_p},
            {"typical_p", s.typical_p},
            {"repeat_penalty", s.repeat_penalty},
            {"repeat_last_n", s.repeat_last_n},
            {"frequency_penalty", s.frequency_penalty},
            {"presence_penalty", s.presence_penalty},
            {"mirostat", s.mirostat},
            {"seed", -1},
            {"n_probs", 0},
            {"max_tokens", -1}}}};
}

}  // namespace

Api::Api(HttpOptions options)
    : options_(std::move(options)), created_(static_cast<int64_t>(std::time(nullptr))) {}

void Api::set_server(std::shared_ptr<Server> server) {
  std::lock_guard<std::mutex> lock(mu_);
  server_ = std::move(server);
}

std::shared_ptr<Server> Api::server() const {
  std::lock_guard<std::mutex> lock(mu_);
  return server_;
}

void Api::respond_json(ResponseWriter& writer, int status, const Json& body) const {
  HttpResponse r;
  r.status = status;
  r.body = dump_json(body);
  add_cors_headers(options_, r.headers);
  writer.respond(std::move(r));
}

void Api::respond_error(ResponseWriter& writer, const ApiError& error) const {
  HttpResponse r = error.to_response();
  add_cors_headers(options_, r.headers);
  writer.respond(std::move(r));
}

bool Api::serves_model(const std::string& name) const {
  if (name.empty() || name == options_.model_id || name == options_.model_path) return true;
  const std::filesystem::path p(options_.model_path);
  return name == p.filename().string() || name == p.stem().string();
}

std::optional<ApiError> Api::unknown_model(const std::string& name) const {
  if (serves_model(name)) return std::nullopt;
  return ApiError::not_found("model '" + name.substr(0, 200) +
                                 "' does not exist (this server has '" + options_.model_id + "')",
                             "model_not_found");
}

Json Api::model_json() const {
  Json m = {
      {"id", options_.model_id}, {"object", "model"}, {"created", created_}, {"owned_by", "ember"}};
  if (auto server = this->server()) {
    const Model& model = *server->model();
    m["meta"] = {{"description", model.description()}, {"architecture", model.architecture()},
                 {"n_vocab", model.n_vocab()},         {"n_ctx_train", model.n_ctx_train()},
                 {"n_embd", model.n_embd()},           {"n_layer", model.n_layer()},
                 {"size", model.weight_bytes()}};
  }
  return m;
}

void Api::handle(HttpRequest request, std::shared_ptr<ResponseWriter> writer) {
  auto admitted = admit_request(request, options_);
  if (auto* r = std::get_if<HttpResponse>(&admitted)) {
    reshape_error_response(dialect_of_path(request.path()), *r);
    writer->respond(std::move(*r));
    return;
  }
  AdmittedRequest& a = std::get<AdmittedRequest>(admitted);
  const std::shared_ptr<Server> server = this->server();
  const Route route = a.match.route;

  // Routes that answer while the model loads.
  switch (route) {
    case Route::kHealth:
      if (!server) {
        respond_error(*writer, ApiError::unavailable("Loading model", 1));
      } else {
        respond_json(*writer, 200, {{"status", "ok"}});
      }
      return;
    case Route::kModels:
      respond_json(*writer, 200, {{"object", "list"}, {"data", Json::array({model_json()})}});
      return;
    case Route::kModel:
      if (a.match.param != options_.model_id) {
        respond_error(*writer, ApiError::not_found("model '" + a.match.param.substr(0, 200) +
                                                       "' does not exist (this server has '" +
                                                       options_.model_id + "')",
                                                   "model_not_found"));
      } else {
        respond_json(*writer, 200, model_json());
      }
      return;
    case Route::kWebui:
      writer->respond(webui_response(request, options_));
      return;
    case Route::kMetrics: {
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      if (server) {
        const ServerStats stats = server->stats();
        r.body = metrics_.render(&stats);
      } else {
        r.body = metrics_.render(nullptr);
      }
      add_cors_headers(options_, r.headers);
      writer->respond(std::move(r));
      return;
    }
    default:
      break;
  }
  if (!server) {
    HttpResponse r =
        error_response(dialect_of_path(request.path()), ApiError::unavailable("Loading model", 1));
    add_cors_headers(options_, r.headers);
    writer->respond(std::move(r));
    return;
  }
  const Model& model = *server->model();
  switch (route) {
    case Route::kChatCompletions:
      chat_completions(request, std::move(a.body), writer, server);
      return;
    case Route::kCompletions:
      completions(request, std::move(a.body), writer, server);
      return;
    case Route::kEmbeddings:
      embeddings(std::move(a.body), writer, server);
      return;
    case Route::kRerank:
      rerank(std::move(a.body), writer, server);
      return;
    case Route::kOllamaChat:
    case Route::kOllamaGenerate:
    case Route::kOllamaTags:
    case Route::kOllamaShow:
    case Route::kOllamaPs:
    case Route::kOllamaVersion:
    case Route::kOllamaEmbed:
    case Route::kOllamaUnsupported:
      ollama(route, request, std::move(a.body), writer, server);
      return;
    case Route::kAnthropicMessages:
    case Route::kAnthropicCountTokens:
      anthropic(route, request, std::move(a.body), writer, server);
      return;
    case Route::kResponses:
      responses(request, std::move(a.body), writer, server);
      return;
    case Route::kTokenize: {
      Result<TokenizeCall> call = parse_tokenize(a.body);
      if (!call.ok()) return respond_error(*writer, api_error_from_status(call.status()));
      Result<std::vector<int32_t>> ids =
          model.tokenizer().tokenize(call->content, call->add_special, call->parse_special);
      if (!ids.ok()) return respond_error(*writer, api_error_from_status(ids.status()));
      Json tokens = Json::array();
      for (int32_t id : *ids) {
        if (call->with_pieces) {
          tokens.push_back(
              {{"id", id}, {"piece", piece_json(std::string(model.tokenizer().piece_view(id)))}});
        } else {
          tokens.push_back(id);
        }
      }
      respond_json(*writer, 200, {{"tokens", std::move(tokens)}});
      return;
    }
    case Route::kDetokenize: {
      Result<std::vector<int32_t>> ids = parse_detokenize(a.body);
      if (!ids.ok()) return respond_error(*writer, api_error_from_status(ids.status()));
      Result<std::string> text = model.tokenizer().detokenize(*ids, false, true);
      if (!text.ok()) {
        // An id outside the vocabulary is the client's error.
        return respond_error(*writer, ApiError::invalid_request(text.status().message(), "tokens"));
      }
      respond_json(*writer, 200, {{"content", *text}});
      return;
    }
    case Route::kApplyTemplate: {
      Result<ApplyTemplateCall> call = parse_apply_template(a.body);
      if (!call.ok()) return respond_error(*writer, api_error_from_status(call.status()));
      Result<ChatPrompt> prompt = server->apply_chat_template(call->messages, call->params);
      if (!prompt.ok()) return respond_error(*writer, api_error_from_status(prompt.status()));
      respond_json(*writer, 200, {{"prompt", prompt->text}});
      return;
    }
    case Route::kProps: {
      const ServerOptions& o = server->options();
      const Tokenizer& tok = model.tokenizer();
      auto token_text = [&](int32_t id) -> Json {
        if (id < 0) return "";
        return std::string(tok.piece_view(id, true));
      };
      respond_json(*writer, 200,
                   {{"default_generation_settings", sampling_defaults_json(o)},
                    {"total_slots", o.n_parallel},
                    {"model_alias", options_.model_id},
                    {"model_path", options_.model_path},
                    {"chat_template", model.chat_template()},
                    {"bos_token", token_text(tok.bos())},
                    {"eos_token", token_text(tok.eos())},
                    {"modalities", {{"vision", false}, {"audio", false}}},
                    {"build_info", "ember 0.1.0"},
                    {"n_ctx", o.n_ctx},
                    {"kv_size", o.kv_size},
                    {"batch_tokens", o.batch_tokens},
                    {"max_queue", o.max_queue}});
      return;
    }
    case Route::kSlots: {
      const ServerStats stats = server->stats();
      Json slots = Json::array();
      for (const SlotState& s : stats.slots) {
        slots.push_back(
            {{"id", s.id},
             {"id_task", s.busy ? static_cast<int64_t>(s.request_id) : int64_t{-1}},
             {"n_ctx", s.n_ctx},
             {"is_processing", s.busy},
             {"choice", s.choice},
             {"n_prompt_tokens", s.n_prompt},
             {"n_prompt_tokens_cached", s.n_cached},
             {"n_prompt_tokens_processed", s.n_prompt_done},
             {"next_token", {{"has_next_token", s.busy}, {"n_decoded", s.n_generated}}}});
      }
      respond_json(*writer, 200, slots);
      return;
    }
    default:
      respond_error(*writer, ApiError::internal("unhandled route"));
      return;
  }
}

}  // namespace ember::http
