// The C API's chat completion (ember_chat_create) over Engine::create.
#include <new>
#include <string>

#include "api/c_api_internal.h"
#include "chat/chat_prompt.h"
#include "chat/jinja/template.h"
#include "ember/chat.h"

struct ember_chat_completion {
  std::string json;
  std::string error;
};

struct ember_chat_generation {
  ember::ChatGeneration generation;
  std::string last_chunk;
};

namespace {

using ember::c_api::fail;

// Parses JSON text; the error names `what`.
ember::Result<ember::Json> parse_json(const char* text, const char* what) {
  ember::Json j = ember::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return ember::invalid_argument(std::string(what) + " is not valid JSON");
  return j;
}

struct ChatRequest {
  std::vector<ember::ChatMessage> messages;
  ember::ChatParams params;
};

ember::Result<ChatRequest> parse_request(const char* messages_json, const char* request_json) {
  ChatRequest r;
  EMBER_ASSIGN_OR_RETURN(ember::Json messages_doc, parse_json(messages_json, "messages_json"));
  EMBER_ASSIGN_OR_RETURN(r.messages, ember::chat_messages_from_json(messages_doc));
  if (request_json != nullptr) {
    EMBER_ASSIGN_OR_RETURN(ember::Json request, parse_json(request_json, "request_json"));
    EMBER_ASSIGN_OR_RETURN(r.params, ember::ChatParams::from_json(request));
  }
  return r;
}

ember_chat_completion* new_completion(const ember::ChatCompletion& r) {
  auto* c = new ember_chat_completion;
  c->json = r.to_json().dump(-1, ' ', false, ember::Json::error_handler_t::replace);
  c->error = r.error.ok() ? "" : r.error.to_string();
  return c;
}

ember_status chat_create(ember_engine* engine, const char* messages_json, const char* request_json,
                         ember_chat_chunk_callback callback, void* user_data,
                         ember_chat_completion** out) {
  auto request = parse_request(messages_json, request_json);
  if (!request.ok()) return fail(request.status());
  auto& [messages, params] = *request;
  ember::ChatChunkCallback cb;
  if (callback != nullptr) {
    cb = [&](const ember::ChatChunk& c) {
      const std::string text =
          c.to_json().dump(-1, ' ', false, ember::Json::error_handler_t::replace);
      return callback(text.c_str(), text.size(), user_data) != 0;
    };
  }
  auto r = engine->engine->create(messages, params, cb);
  if (!r.ok()) return fail(r.status());
  *out = new_completion(*r);
  return EMBER_OK;
}

}  // namespace

ember_status ember_chat_create(ember_engine* engine, const char* messages_json,
                               const char* request_json, ember_chat_chunk_callback callback,
                               void* user_data, ember_chat_completion** out_completion) {
  if (engine == nullptr || messages_json == nullptr || out_completion == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT,
                "ember_chat_create: engine, messages_json and out_completion are required");
  }
  *out_completion = nullptr;
  try {
    return chat_create(engine, messages_json, request_json, callback, user_data, out_completion);
  } catch (const std::bad_alloc&) {
    return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory during the chat completion");
  }
}

const char* ember_chat_completion_json(const ember_chat_completion* completion) {
  return completion == nullptr ? "" : completion->json.c_str();
}

const char* ember_chat_completion_error(const ember_chat_completion* completion) {
  return completion == nullptr ? "" : completion->error.c_str();
}

void ember_chat_completion_free(ember_chat_completion* completion) {
  delete completion;
}

ember_status ember_chat_begin(ember_engine* engine, const char* messages_json,
                              const char* request_json, ember_chat_generation** out) {
  if (engine == nullptr || messages_json == nullptr || out == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT,
                "ember_chat_begin: engine, messages_json and out_generation are required");
  }
  *out = nullptr;
  try {
    auto request = parse_request(messages_json, request_json);
    if (!request.ok()) return fail(request.status());
    auto g = engine->engine->begin_chat(request->messages, request->params);
    if (!g.ok()) return fail(g.status());
    *out = new ember_chat_generation{std::move(*g), {}};
    return EMBER_OK;
  } catch (const std::bad_alloc&) {
    return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory starting the chat completion");
  }
}

int ember_chat_next(ember_chat_generation* generation, const char** chunk_json, size_t* len) {
  if (generation == nullptr) return 0;
  std::optional<ember::ChatChunk> chunk = generation->generation.next();
  if (!chunk) return 0;
  generation->last_chunk =
      chunk->to_json().dump(-1, ' ', false, ember::Json::error_handler_t::replace);
  if (chunk_json != nullptr) *chunk_json = generation->last_chunk.c_str();
  if (len != nullptr) *len = generation->last_chunk.size();
  return 1;
}

ember_chat_completion* ember_chat_end(ember_chat_generation* generation) {
  if (generation == nullptr) return nullptr;
  ember_chat_completion* c = new_completion(generation->generation.end());
  delete generation;
  return c;
}

ember_status ember_chat_render(const ember_engine* engine, const char* messages_json,
                               const char* request_json, char** out_text) {
  if (engine == nullptr || messages_json == nullptr || out_text == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT,
                "ember_chat_render: engine, messages_json and out_text are required");
  }
  *out_text = nullptr;
  auto request = parse_request(messages_json, request_json);
  if (!request.ok()) return fail(request.status());
  auto prompt = engine->engine->apply_chat_template(request->messages, request->params);
  if (!prompt.ok()) return fail(prompt.status());
  *out_text = ember::c_api::copy_string(prompt->text);
  return *out_text != nullptr ? EMBER_OK : fail(EMBER_RESOURCE_EXHAUSTED, "out of memory");
}

ember_status ember_chat_template_apply(const char* template_source, const char* messages_json,
                                       int add_generation_prompt, const char* bos_token,
                                       const char* eos_token, char** out_text) {
  if (messages_json == nullptr || out_text == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT,
                "ember_chat_template_apply: messages_json and out_text are required");
  }
  *out_text = nullptr;
  auto messages = parse_json(messages_json, "messages_json");
  if (!messages.ok()) return fail(messages.status());
  if (!messages->is_array()) return fail(EMBER_INVALID_ARGUMENT, "messages_json must be an array");
  auto tmpl = ember::jinja::Template::parse(template_source != nullptr
                                                ? std::string_view(template_source)
                                                : ember::chat::default_chat_template());
  if (!tmpl.ok()) return fail(ember::invalid_argument("chat template: " + tmpl.status().message()));
  ember::Json ctx = ember::Json::object();
  ctx["messages"] = std::move(*messages);
  ctx["add_generation_prompt"] = add_generation_prompt != 0;
  ctx["bos_token"] = bos_token != nullptr ? bos_token : "";
  ctx["eos_token"] = eos_token != nullptr ? eos_token : "";
  auto text = tmpl->render(ctx);
  if (!text.ok()) return fail(ember::invalid_argument("chat template: " + text.status().message()));
  *out_text = ember::c_api::copy_string(*text);
  return *out_text != nullptr ? EMBER_OK : fail(EMBER_RESOURCE_EXHAUSTED, "out of memory");
}
