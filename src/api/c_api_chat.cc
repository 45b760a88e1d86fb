// The C API's chat completion (ember_chat_create) over Engine::create.
#include <new>
#include <string>

#include "api/c_api_internal.h"
#include "ember/chat.h"

struct ember_chat_completion {
  std::string json;
  std::string error;
};

namespace {

using ember::c_api::fail;

// Parses JSON text; the error names `what`.
ember::Result<ember::Json> parse_json(const char* text, const char* what) {
  ember::Json j = ember::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return ember::invalid_argument(std::string(what) + " is not valid JSON");
  return j;
}

ember_status chat_create(ember_engine* engine, const char* messages_json, const char* request_json,
                         ember_chat_chunk_callback callback, void* user_data,
                         ember_chat_completion** out) {
  auto messages_doc = parse_json(messages_json, "messages_json");
  if (!messages_doc.ok()) return fail(messages_doc.status());
  auto messages = ember::chat_messages_from_json(*messages_doc);
  if (!messages.ok()) return fail(messages.status());
  ember::ChatParams params;
  if (request_json != nullptr) {
    auto request = parse_json(request_json, "request_json");
    if (!request.ok()) return fail(request.status());
    auto p = ember::ChatParams::from_json(*request);
    if (!p.ok()) return fail(p.status());
    params = std::move(*p);
  }
  ember::ChatChunkCallback cb;
  if (callback != nullptr) {
    cb = [&](const ember::ChatChunk& c) {
      const std::string text =
          c.to_json().dump(-1, ' ', false, ember::Json::error_handler_t::replace);
      return callback(text.c_str(), text.size(), user_data) != 0;
    };
  }
  auto r = engine->engine->create(*messages, params, cb);
  if (!r.ok()) return fail(r.status());
  auto* c = new ember_chat_completion;
  c->json = r->to_json().dump(-1, ' ', false, ember::Json::error_handler_t::replace);
  c->error = r->error.ok() ? "" : r->error.to_string();
  *out = c;
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
