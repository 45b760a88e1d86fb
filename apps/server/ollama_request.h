// Ollama API request bodies → the serving API's requests (POST /api/chat, /api/generate,
// /api/show). Pure parsing, as openai_request.h: no model or Server needed; checks that need the
// model (context length, grammar) happen in Server::submit, and num_ctx against the server's
// context in the handler.
//
// Fields (Ollama's docs/api.md):
//   /api/chat: model, messages [{role, content, thinking, tool_calls [{function: {name,
//     arguments: {...}}}], tool_name, images}], tools, format ("json" | a JSON schema), options,
//     stream (default true), think (bool or "low" / "medium" / "high"), keep_alive.
//   /api/generate: model, prompt, system, raw, format, options, stream, think, keep_alive;
//     suffix, template, context and images are refused with a clear error.
//   options: num_predict, temperature, top_k, top_p, min_p, typical_p, repeat_penalty,
//     repeat_last_n, presence_penalty, frequency_penalty, seed, stop, mirostat, mirostat_tau,
//     mirostat_eta, num_ctx; options that only tune Ollama's runtime (num_gpu, num_thread,
//     num_batch, use_mmap, ...) are accepted and have no effect; any other name is 400.
#pragma once

#include <cstdint>
#include <string>

#include "ember/chat.h"
#include "ember/server.h"
#include "ember/status.h"

namespace ember::http {

struct OllamaCall {
  std::string model;  // as requested
  bool stream = true;
  // /api/generate with raw: true: the prompt goes to the model as it is (`completion`);
  // otherwise the request is a chat (`chat`), rendered with the model's template.
  bool raw = false;
  // No prompt / no messages: Ollama's "load the model" request, answered with done_reason
  // "load" and nothing generated.
  bool load_only = false;
  ChatRequest chat;
  CompletionRequest completion;
  int64_t num_ctx = 0;  // options.num_ctx (0: not given)
};

Result<OllamaCall> parse_ollama_chat(const Json& body);
Result<OllamaCall> parse_ollama_generate(const Json& body);

// The model an /api/show request names ("model", or the older "name").
Result<std::string> parse_ollama_show(const Json& body);

// POST /api/embed (`input`: a string or an array of strings; `truncate`, default true as Ollama's;
// `dimensions`; `options`; `keep_alive`) and the older POST /api/embeddings (`prompt`: one string;
// its vector is not normalized, as Ollama's is not). `model` is required by both.
struct OllamaEmbedCall {
  std::string model;
  EmbedRequest request;
  int64_t num_ctx = 0;  // options.num_ctx (0: not given)
};
Result<OllamaEmbedCall> parse_ollama_embed(const Json& body, bool legacy);

// Applies an Ollama `options` object to the generation parameters (see above).
Status apply_ollama_options(const Json& options, GenerationParams& params, int64_t& num_ctx);

}  // namespace ember::http
