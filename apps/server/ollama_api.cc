// Ollama's API on ember's Server: /api/chat and /api/generate (newline-delimited JSON streams or
// one object), /api/tags, /api/show, /api/ps, /api/version, and clear errors for what ember does
// not do (pulling / pushing / creating / copying / deleting models). /api/embed and
// /api/embeddings are in ollama_embed.cc.
// Shapes follow Ollama's docs/api.md; errors are {"error": "message"} (api_dialects.h).
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <sstream>

#include "api.h"
#include "api_dialects.h"
#include "api_sinks.h"
#include "api_stream.h"
#include "chat/chat_format.h"
#include "json_fields.h"
#include "ollama_request.h"

namespace ember::http {
namespace {

// The Ollama API version whose request and response shapes these routes follow (clients that
// check /api/version for features compare against it).
constexpr const char* kOllamaApiVersion = "0.12.0";
constexpr std::string_view kNdjson = "application/x-ndjson";

std::string rfc3339_of(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// "qwen2 494.03M q8_0" → {"494.03M", "Q8_0"}.
std::pair<std::string, std::string> size_and_quant(const Model& model) {
  std::istringstream in(model.description());
  std::string arch, size, quant;
  in >> arch >> size >> quant;
  return {size, upper(quant)};
}

// Not the file's sha256 (hashing gigabytes per request is not worth it): a stable identifier of
// path, size and modification time, in the same 64-hex-digit form.
std::string model_digest(const std::string& path, uint64_t size, std::time_t mtime) {
  const std::string key = path + "\n" + std::to_string(size) + "\n" + std::to_string(mtime);
  std::string out;
  uint64_t h = 1469598103934665603ull;  // FNV-1a, chained for 4 words
  for (int word = 0; word < 4; ++word) {
    for (unsigned char c : key) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= static_cast<uint64_t>(word);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    out += buf;
  }
  return out;
}

Json ollama_stats(const ChatTotals& t, std::chrono::steady_clock::time_point submitted) {
  return {{"total_duration", steady_ns(submitted, std::chrono::steady_clock::now())},
          {"load_duration", 0},  // the model was loaded when the server started
          {"prompt_eval_count", t.usage.prompt_tokens},
          {"prompt_eval_duration", ms_to_ns(t.usage.prompt_ms)},
          {"eval_count", t.usage.completion_tokens},
          {"eval_duration", ms_to_ns(t.usage.generation_ms)}};
}

std::string done_reason(const ChatTotals& t) {
  switch (t.finish) {
    case ChatFinishReason::kLength:
      return "length";
    case ChatFinishReason::kCancelled:
      return "cancelled";
    default:
      return "stop";
  }
}

// Streams (or collects) one /api/chat or /api/generate request.
class OllamaSink : public GenerationSink {
 public:
  bool chat_api = true;  // /api/chat (message objects) or /api/generate (response strings)
  bool stream = true;
  std::string model_name;
  const HttpOptions* options = nullptr;

  void on_event(const RequestEvent& ev) override {
    if (failed_) return;
    if (submitted_ == std::chrono::steady_clock::time_point{}) submitted_ = ev.times.submitted;
    if (is_error_event(ev)) return fail(error_of_event(ev));
    totals_.add(ev);
    if (stream) {
      begin();
      const std::string content = ev.chat ? ev.chat->content : ev.generation.text;
      const std::string thinking = ev.chat ? ev.chat->reasoning_content : std::string();
      if (!content.empty() || !thinking.empty()) write_line(piece(content, thinking, false));
      if (!ev.last) return;
      if (chat_api && !totals_.message.tool_calls.empty()) {
        Json calls = tool_calls_json();
        if (calls.is_null()) return;
        Json line = piece("", "", false);
        line["message"]["tool_calls"] = std::move(calls);
        write_line(line);
      }
      write_line(final_object(piece("", "", true)));
      writer->set_log_tokens(totals_.usage.prompt_tokens, totals_.usage.completion_tokens);
      writer->end_stream();
      return;
    }
    if (!ev.last) return;
    Json whole = piece(totals_.message.content, totals_.message.reasoning_content, true);
    if (chat_api && !totals_.message.tool_calls.empty()) {
      Json calls = tool_calls_json();
      if (calls.is_null()) return;
      whole["message"]["tool_calls"] = std::move(calls);
    }
    writer->set_log_tokens(totals_.usage.prompt_tokens, totals_.usage.completion_tokens);
    HttpResponse r;
    r.body = dump_json(final_object(std::move(whole)));
    add_cors_headers(*options, r.headers);
    writer->respond(std::move(r));
  }

 private:
  void begin() {
    if (started_) return;
    Headers h = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    add_cors_headers(*options, h);
    writer->begin_stream(200, kNdjson, std::move(h));
    started_ = true;
  }

  void write_line(const Json& j) { writer->stream_write(dump_json(j) + "\n"); }

  // A chunk: {"model", "created_at", "message": {...}} or {"model", "created_at", "response"},
  // with "done".
  Json piece(const std::string& content, const std::string& thinking, bool done) const {
    Json j = {{"model", model_name}, {"created_at", rfc3339_now()}};
    if (chat_api) {
      Json m = {{"role", "assistant"}, {"content", content}};
      if (!thinking.empty()) m["thinking"] = thinking;
      j["message"] = std::move(m);
    } else {
      j["response"] = content;
      if (!thinking.empty()) j["thinking"] = thinking;
    }
    j["done"] = done;
    return j;
  }

  Json final_object(Json j) const {
    j["done_reason"] = done_reason(totals_);
    const Json stats = ollama_stats(totals_, submitted_);
    for (auto& [k, v] : stats.items()) j[k] = v;
    return j;
  }

  // [{"id", "function": {"index", "name", "arguments": {...}}}]; null after failing the request
  // when the model's arguments are not a JSON object.
  Json tool_calls_json() {
    Json calls = Json::array();
    for (size_t k = 0; k < totals_.message.tool_calls.size(); ++k) {
      const ChatToolCall& c = totals_.message.tool_calls[k];
      Result<Json> args = fields::arguments_object(c.arguments, "tool call " + c.name);
      if (!args.ok()) {
        fail(ApiError::internal(args.status().message()));
        return Json();
      }
      calls.push_back(
          {{"id", c.id},
           {"function", {{"index", k}, {"name", c.name}, {"arguments", std::move(*args)}}}});
    }
    return calls;
  }

  void fail(const ApiError& e) {
    failed_ = true;
    cancel();
    if (!started_) {
      HttpResponse r = error_response(Dialect::kOllama, e);
      add_cors_headers(*options, r.headers);
      writer->respond(std::move(r));
      return;
    }
    write_line(ollama_error_json(e));
    writer->end_stream();
  }

  ChatTotals totals_;
  std::chrono::steady_clock::time_point submitted_{};
  bool started_ = false;
  bool failed_ = false;
};

}  // namespace

std::shared_ptr<GenerationSink> make_ollama_sink(bool chat_api, bool stream, std::string model_name,
                                                 const HttpOptions* options) {
  auto sink = std::make_shared<OllamaSink>();
  sink->chat_api = chat_api;
  sink->stream = stream;
  sink->model_name = std::move(model_name);
  sink->options = options;
  return sink;
}

void Api::ollama(Route route, const HttpRequest& request, Json body,
                 const std::shared_ptr<ResponseWriter>& writer,
                 const std::shared_ptr<Server>& server) {
  auto fail = [&](const ApiError& e) {
    HttpResponse r = error_response(Dialect::kOllama, e);
    add_cors_headers(options_, r.headers);
    writer->respond(std::move(r));
  };
  // Ollama names carry a tag; this server's model is also "<id>:latest".
  const std::string tagged = options_.model_id.find(':') == std::string::npos
                                 ? options_.model_id + ":latest"
                                 : options_.model_id;
  auto serves = [&](const std::string& name) {
    if (name == tagged || serves_model(name)) return true;
    constexpr std::string_view kLatest = ":latest";
    return name.size() > kLatest.size() &&
           name.compare(name.size() - kLatest.size(), kLatest.size(), kLatest) == 0 &&
           serves_model(name.substr(0, name.size() - kLatest.size()));
  };
  auto not_found = [&](const std::string& name) {
    return ApiError::not_found("model '" + name.substr(0, 200) + "' not found (this server has '" +
                               tagged + "')");
  };
  if (route == Route::kOllamaEmbed) {
    return ollama_embed(request, std::move(body), writer, server,
                        [&](const std::string& name) -> std::optional<ApiError> {
                          if (serves(name)) return std::nullopt;
                          return not_found(name);
                        });
  }
  const Model& model = *server->model();
  if (route == Route::kOllamaChat || route == Route::kOllamaGenerate) {
    const bool chat_api = route == Route::kOllamaChat;
    Result<OllamaCall> call = chat_api ? parse_ollama_chat(body) : parse_ollama_generate(body);
    if (!call.ok()) return fail(api_error_from_status(call.status()));
    if (!serves(call->model)) return fail(not_found(call->model));
    const int32_t n_ctx = server->options().n_ctx;
    if (call->num_ctx > n_ctx) {
      return fail(ApiError::invalid_request("options.num_ctx " + std::to_string(call->num_ctx) +
                                                " is larger than this server's context of " +
                                                std::to_string(n_ctx) + " tokens (ember serve -c)",
                                            "options.num_ctx"));
    }
    // As Ollama does: asking a model without a reasoning block to think is an error, not a
    // silent no-op.
    if (!call->raw && call->chat.params.enable_thinking.value_or(false) &&
        !chat::detect_chat_syntax(model.chat_template()).reasoning) {
      return fail(
          ApiError::invalid_request("'" + call->model + "' does not support thinking", "think"));
    }
    if (call->load_only) {
      // Ollama answers an empty request by loading the model: it is loaded already.
      Json j = {{"model", call->model}, {"created_at", rfc3339_now()}};
      if (chat_api) {
        j["message"] = {{"role", "assistant"}, {"content", ""}};
      } else {
        j["response"] = "";
      }
      j["done"] = true;
      j["done_reason"] = "load";
      return respond_json(*writer, 200, j);
    }
    std::shared_ptr<GenerationSink> sink =
        make_ollama_sink(chat_api, call->stream, call->model, &options_);
    sink->writer = writer;
    Status st;
    if (call->raw) {
      st = submit_completion(*server, std::move(call->completion), sink, metrics_);
    } else {
      call->chat.params.model = options_.model_id;
      st = submit_chat(*server, std::move(call->chat), sink, metrics_);
    }
    if (!st.ok()) return fail(api_error_from_status(st));
    return;
  }
  // The informational routes.
  struct stat file_stat {};
  const bool have_stat = ::stat(options_.model_path.c_str(), &file_stat) == 0;
  const std::time_t mtime = have_stat ? file_stat.st_mtime : static_cast<std::time_t>(created_);
  const uint64_t file_size =
      have_stat ? static_cast<uint64_t>(file_stat.st_size) : model.weight_bytes();
  const auto [param_size, quant] = size_and_quant(model);
  const std::string arch = model.architecture();
  const Json details = {{"parent_model", ""},
                        {"format", "gguf"},
                        {"family", arch},
                        {"families", Json::array({arch})},
                        {"parameter_size", param_size},
                        {"quantization_level", quant}};
  const std::string digest = model_digest(options_.model_path, file_size, mtime);

  switch (route) {
    case Route::kOllamaVersion:
      return respond_json(*writer, 200, {{"version", kOllamaApiVersion}});
    case Route::kOllamaTags:
      return respond_json(*writer, 200,
                          {{"models", Json::array({{{"name", tagged},
                                                    {"model", tagged},
                                                    {"modified_at", rfc3339_of(mtime)},
                                                    {"size", file_size},
                                                    {"digest", digest},
                                                    {"details", details}}})}});
    case Route::kOllamaPs: {
      // Loaded for as long as the server runs: expires_at is far in the future, as Ollama shows
      // a model kept alive forever.
      return respond_json(
          *writer, 200,
          {{"models", Json::array({{{"name", tagged},
                                    {"model", tagged},
                                    {"size", file_size},
                                    {"digest", digest},
                                    {"details", details},
                                    {"expires_at", "2318-01-01T00:00:00Z"},
                                    {"size_vram", 0},
                                    {"context_length", server->options().n_ctx}}})}});
    }
    case Route::kOllamaShow: {
      Result<std::string> name = parse_ollama_show(body);
      if (!name.ok()) return fail(api_error_from_status(name.status()));
      if (!serves(*name)) return fail(not_found(*name));
      const chat::ChatSyntax syntax = chat::detect_chat_syntax(model.chat_template());
      // Tool calls work with every template (natively or as ember's generic JSON reply). An
      // encoder only embeds; a decoder with a pooling type (Qwen3-Embedding) also generates.
      Json caps = Json::array();
      if (!server->embeddings_only()) {
        caps = Json::array({"completion", "tools"});
        if (syntax.reasoning) caps.push_back("thinking");
      }
      if (server->embeddings_only() || model.metadata(arch + ".pooling_type")) {
        caps.push_back("embedding");
      }
      const SamplingParams s;
      std::ostringstream params;
      params << "temperature " << s.temperature << "\ntop_k " << s.top_k << "\ntop_p " << s.top_p
             << "\nmin_p " << s.min_p << "\nrepeat_penalty " << s.repeat_penalty
             << "\nrepeat_last_n " << s.repeat_last_n << "\nnum_ctx " << server->options().n_ctx;
      for (const std::string& stop : syntax.stop_strings) params << "\nstop \"" << stop << "\"";
      const std::string pre = arch + ".";
      Json info = {{"general.architecture", arch},
                   {pre + "context_length", model.n_ctx_train()},
                   {pre + "embedding_length", model.n_embd()},
                   {pre + "block_count", model.n_layer()},
                   {pre + "attention.head_count", model.n_head()},
                   {pre + "attention.head_count_kv", model.n_head_kv()},
                   {"tokenizer.vocab_size", model.n_vocab()}};
      if (auto pc = model.metadata("general.parameter_count")) {
        info["general.parameter_count"] = std::strtoull(pc->c_str(), nullptr, 10);
      }
      return respond_json(*writer, 200,
                          {{"modelfile", "# ember serves this GGUF file as it is\nFROM " +
                                             options_.model_path + "\n"},
                           {"parameters", params.str()},
                           // The model's Jinja chat template (Ollama shows a Go template here).
                           {"template", model.chat_template()},
                           {"details", details},
                           {"model_info", std::move(info)},
                           {"capabilities", std::move(caps)},
                           {"modified_at", rfc3339_of(mtime)}});
    }
    case Route::kOllamaUnsupported: {
      ApiError e;
      e.status = 501;
      e.type = "not_supported_error";
      e.message =
          "ember serves the one model it was started with: pulling, pushing, creating, copying "
          "and deleting models are not supported";
      return fail(e);
    }
    default:
      return fail(ApiError::internal("unhandled route"));
  }
}

}  // namespace ember::http
