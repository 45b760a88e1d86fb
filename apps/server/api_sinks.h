// The per-API turn of a request's events into its wire format (ollama_api.cc, anthropic_api.cc,
// responses_api.cc), made here so tests can drive them with events they build themselves
// (reasoning, tool calls, errors mid-stream) and a ResponseWriter that records what is sent.
// Set the sink's `writer` before the first event; `options` must outlive the sink.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api_stream.h"
#include "http_options.h"

namespace ember::http {

// Ollama /api/chat (`chat_api`) or /api/generate: NDJSON lines when `stream`, else one object.
std::shared_ptr<GenerationSink> make_ollama_sink(bool chat_api, bool stream, std::string model_name,
                                                 const HttpOptions* options);

// Anthropic /v1/messages: the message object, or its event stream. `stop_sequences` are the
// request's (a stop string among them is reported as stop_reason "stop_sequence").
std::shared_ptr<GenerationSink> make_anthropic_sink(bool stream, std::string id,
                                                    std::string model_name,
                                                    std::vector<std::string> stop_sequences,
                                                    const HttpOptions* options);

// OpenAI /v1/responses: the response object, or its typed events. `echo` holds the request
// settings the response repeats (ResponsesCall::echo).
std::shared_ptr<GenerationSink> make_responses_sink(bool stream, std::string id,
                                                    std::string model_name, int64_t created_at,
                                                    Json echo, const HttpOptions* options);

}  // namespace ember::http
