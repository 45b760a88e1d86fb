// The C API (include/ember/ember.h) over ember::Engine.
#include "ember/ember.h"

#include <cstring>
#include <exception>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "api/c_api_internal.h"
#include "ember/engine.h"

namespace {

// Per-thread, like errno: the message of the last failed call on this thread.
thread_local std::string g_last_error;

}  // namespace

namespace ember::c_api {

ember_status fail(const ember::Status& s) {
  g_last_error = s.to_string();
  return static_cast<ember_status>(static_cast<int>(s.code()));
}

ember_status fail(ember_status code, const char* message) {
  g_last_error = message;
  return code;
}

}  // namespace ember::c_api

namespace {

using ember::c_api::fail;

ember::GenerationParams to_params(const ember_generation_params* p) {
  ember::GenerationParams g;
  if (p == nullptr) return g;
  g.max_tokens = p->max_tokens;
  g.sampling.temperature = p->temperature;
  g.sampling.top_k = p->top_k;
  g.sampling.top_p = p->top_p;
  g.sampling.min_p = p->min_p;
  g.sampling.typical_p = p->typical_p;
  g.sampling.repeat_penalty = p->repeat_penalty;
  g.sampling.repeat_last_n = p->repeat_last_n;
  g.sampling.frequency_penalty = p->frequency_penalty;
  g.sampling.presence_penalty = p->presence_penalty;
  g.sampling.mirostat = p->mirostat;
  g.sampling.mirostat_tau = p->mirostat_tau;
  g.sampling.mirostat_eta = p->mirostat_eta;
  g.sampling.seed = p->seed;
  g.ignore_eos = p->ignore_eos != 0;
  for (size_t i = 0; p->stop != nullptr && i < p->n_stop; ++i) {
    if (p->stop[i] != nullptr) g.stop.emplace_back(p->stop[i]);
  }
  if (p->grammar != nullptr) g.grammar = p->grammar;
  if (p->json_schema != nullptr) g.json_schema = p->json_schema;
  g.add_special = p->add_special != 0;
  g.parse_special = p->parse_special != 0;
  return g;
}

// Engine options from the C struct (defaults when null); false for an invalid kv_cache_type.
bool to_options(const ember_engine_options* options, ember::EngineOptions* o) {
  if (options == nullptr) return true;
  if (options->kv_cache_type < 0 || options->kv_cache_type > 2) return false;
  o->n_ctx = options->n_ctx;
  o->n_threads = options->n_threads;
  o->n_batch = options->n_batch;
  o->kv_cache_type = static_cast<ember::KvCacheType>(options->kv_cache_type);
  o->use_mmap = options->use_mmap != 0;
  return true;
}

}  // namespace

struct ember_generation {
  ember::Generation generation;
  std::string last_text;
};

struct ember_result {
  ember::GenerationResult result;
  std::string error;
};

extern "C" {

const char* ember_last_error(void) {
  return g_last_error.c_str();
}

void ember_engine_options_init(ember_engine_options* o) {
  if (o == nullptr) return;
  const ember::EngineOptions d;
  o->n_ctx = d.n_ctx;
  o->n_threads = d.n_threads;
  o->n_batch = d.n_batch;
  o->kv_cache_type = static_cast<int32_t>(d.kv_cache_type);
  o->use_mmap = d.use_mmap ? 1 : 0;
}

ember_status ember_engine_load(const char* path, const ember_engine_options* options,
                               ember_engine** out_engine) {
  if (path == nullptr || out_engine == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT, "ember_engine_load: path and out_engine are required");
  }
  *out_engine = nullptr;
  ember::EngineOptions o;
  if (!to_options(options, &o)) {
    return fail(EMBER_INVALID_ARGUMENT, "kv_cache_type must be 0 (F16), 1 (F32) or 2 (Q8_0)");
  }
  try {
    auto engine = ember::Engine::load(path, o);
    if (!engine.ok()) return fail(engine.status());
    *out_engine = new ember_engine{std::move(*engine)};
    return EMBER_OK;
  } catch (const std::bad_alloc&) {
    return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory loading the model");
  }
}

ember_status ember_engine_create(const ember_model* model, const ember_engine_options* options,
                                 ember_engine** out_engine) {
  if (model == nullptr || out_engine == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT, "ember_engine_create: model and out_engine are required");
  }
  *out_engine = nullptr;
  ember::EngineOptions o;
  if (!to_options(options, &o)) {
    return fail(EMBER_INVALID_ARGUMENT, "kv_cache_type must be 0 (F16), 1 (F32) or 2 (Q8_0)");
  }
  try {
    auto engine = ember::Engine::create(model->model, o);
    if (!engine.ok()) return fail(engine.status());
    *out_engine = new ember_engine{std::move(*engine)};
    return EMBER_OK;
  } catch (const std::bad_alloc&) {
    return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory creating the engine");
  }
}

void ember_engine_free(ember_engine* engine) {
  delete engine;
}

void ember_engine_cancel(ember_engine* engine) {
  if (engine != nullptr) engine->engine->cancel();
}

int32_t ember_engine_n_ctx(const ember_engine* engine) {
  return engine != nullptr ? engine->engine->n_ctx() : 0;
}

int32_t ember_engine_n_vocab(const ember_engine* engine) {
  return engine != nullptr ? engine->engine->tokenizer().n_vocab() : 0;
}

ember_status ember_engine_logits(ember_engine* engine, const int32_t* tokens, size_t n_tokens,
                                 float* out_logits, size_t capacity, size_t* out_count) {
  if (engine == nullptr || (tokens == nullptr && n_tokens > 0)) {
    return fail(EMBER_INVALID_ARGUMENT, "ember_engine_logits: engine and tokens are required");
  }
  try {
    auto logits = engine->engine->logits(std::span<const int32_t>(tokens, n_tokens));
    if (!logits.ok()) return fail(logits.status());
    if (out_count != nullptr) *out_count = logits->size();
    if (out_logits == nullptr || capacity < logits->size()) {
      return fail(EMBER_OUT_OF_RANGE,
                  ("ember_engine_logits: the row has " + std::to_string(logits->size()) +
                   " values, capacity is " + std::to_string(capacity))
                      .c_str());
    }
    std::memcpy(out_logits, logits->data(), logits->size() * sizeof(float));
    return EMBER_OK;
  } catch (const std::bad_alloc&) {
    return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory evaluating the tokens");
  }
}

ember_status ember_tokenize(const ember_engine* engine, const char* text, size_t text_len,
                            int add_special, int parse_special, int32_t* out_tokens,
                            size_t capacity, size_t* out_count) {
  if (engine == nullptr || (text == nullptr && text_len > 0) || out_count == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT, "ember_tokenize: engine, text and out_count are required");
  }
  auto ids = engine->engine->tokenize(std::string_view(text == nullptr ? "" : text, text_len),
                                      add_special != 0, parse_special != 0);
  if (!ids.ok()) return fail(ids.status());
  *out_count = ids->size();
  if (ids->size() > capacity || (out_tokens == nullptr && !ids->empty())) {
    return fail(EMBER_OUT_OF_RANGE, "ember_tokenize: the token buffer is too small");
  }
  if (!ids->empty()) std::memcpy(out_tokens, ids->data(), ids->size() * sizeof(int32_t));
  return EMBER_OK;
}

ember_status ember_detokenize(const ember_engine* engine, const int32_t* tokens, size_t n_tokens,
                              int remove_special, int unparse_special, char* out, size_t capacity,
                              size_t* out_len) {
  if (engine == nullptr || (tokens == nullptr && n_tokens > 0) || out_len == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT,
                "ember_detokenize: engine, tokens and out_len are required");
  }
  auto text = engine->engine->detokenize(std::span<const int32_t>(tokens, n_tokens),
                                         remove_special != 0, unparse_special != 0);
  if (!text.ok()) return fail(text.status());
  *out_len = text->size();
  if (out == nullptr || text->size() + 1 > capacity) {
    return fail(EMBER_OUT_OF_RANGE, "ember_detokenize: the output buffer is too small");
  }
  std::memcpy(out, text->data(), text->size());
  out[text->size()] = '\0';
  return EMBER_OK;
}

void ember_generation_params_init(ember_generation_params* p) {
  if (p == nullptr) return;
  const ember::GenerationParams d;
  std::memset(p, 0, sizeof(*p));
  p->max_tokens = d.max_tokens;
  p->temperature = d.sampling.temperature;
  p->top_k = d.sampling.top_k;
  p->top_p = d.sampling.top_p;
  p->min_p = d.sampling.min_p;
  p->typical_p = d.sampling.typical_p;
  p->repeat_penalty = d.sampling.repeat_penalty;
  p->repeat_last_n = d.sampling.repeat_last_n;
  p->frequency_penalty = d.sampling.frequency_penalty;
  p->presence_penalty = d.sampling.presence_penalty;
  p->mirostat = d.sampling.mirostat;
  p->mirostat_tau = d.sampling.mirostat_tau;
  p->mirostat_eta = d.sampling.mirostat_eta;
  p->seed = d.sampling.seed;
  p->ignore_eos = d.ignore_eos ? 1 : 0;
  p->add_special = d.add_special ? 1 : 0;
  p->parse_special = d.parse_special ? 1 : 0;
}

ember_status ember_generate(ember_engine* engine, const char* prompt,
                            const ember_generation_params* params, ember_chunk_callback callback,
                            void* user_data, ember_result** out_result) {
  if (engine == nullptr || prompt == nullptr || out_result == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT,
                "ember_generate: engine, prompt and out_result are required");
  }
  *out_result = nullptr;
  try {
    ember::ChunkCallback cb;
    if (callback != nullptr) {
      cb = [&](const ember::GenerationChunk& c) {
        return callback(c.text.c_str(), c.text.size(), user_data) != 0;
      };
    }
    auto r = engine->engine->generate(prompt, to_params(params), cb);
    if (!r.ok()) return fail(r.status());
    auto* res = new ember_result{std::move(*r), {}};
    res->error = res->result.error.ok() ? "" : res->result.error.to_string();
    *out_result = res;
    return EMBER_OK;
  } catch (const std::bad_alloc&) {
    return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory during generation");
  }
}

ember_status ember_begin(ember_engine* engine, const char* prompt,
                         const ember_generation_params* params, ember_generation** out) {
  if (engine == nullptr || prompt == nullptr || out == nullptr) {
    return fail(EMBER_INVALID_ARGUMENT, "ember_begin: engine, prompt and out are required");
  }
  *out = nullptr;
  try {
    auto g = engine->engine->begin(prompt, to_params(params));
    if (!g.ok()) return fail(g.status());
    *out = new ember_generation{std::move(*g), {}};
    return EMBER_OK;
  } catch (const std::bad_alloc&) {
    return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory starting the generation");
  }
}

int ember_next(ember_generation* generation, const char** text, size_t* len) {
  if (generation == nullptr) return 0;
  auto chunk = generation->generation.next();
  if (!chunk) return 0;
  generation->last_text = std::move(chunk->text);
  if (text != nullptr) *text = generation->last_text.c_str();
  if (len != nullptr) *len = generation->last_text.size();
  return 1;
}

ember_result* ember_end(ember_generation* generation) {
  if (generation == nullptr) return nullptr;
  auto* res = new ember_result{generation->generation.end(), {}};
  res->error = res->result.error.ok() ? "" : res->result.error.to_string();
  delete generation;
  return res;
}

const char* ember_result_text(const ember_result* r) {
  return r ? r->result.text.c_str() : "";
}
const char* ember_result_tail(const ember_result* r) {
  return r ? r->result.tail.c_str() : "";
}
ember_finish_reason ember_result_finish_reason(const ember_result* r) {
  return r ? static_cast<ember_finish_reason>(static_cast<int>(r->result.finish_reason))
           : EMBER_FINISH_NONE;
}
const char* ember_result_error(const ember_result* r) {
  return r ? r->error.c_str() : "";
}
const int32_t* ember_result_tokens(const ember_result* r, size_t* n) {
  if (n != nullptr) *n = r ? r->result.tokens.size() : 0;
  return r ? r->result.tokens.data() : nullptr;
}
int32_t ember_result_prompt_tokens(const ember_result* r) {
  return r ? r->result.usage.prompt_tokens : 0;
}
int32_t ember_result_cached_prompt_tokens(const ember_result* r) {
  return r ? r->result.usage.cached_prompt_tokens : 0;
}
double ember_result_prompt_tokens_per_second(const ember_result* r) {
  return r ? r->result.usage.prompt_tokens_per_second : 0.0;
}
double ember_result_generation_tokens_per_second(const ember_result* r) {
  return r ? r->result.usage.generation_tokens_per_second : 0.0;
}
void ember_result_free(ember_result* r) {
  delete r;
}

}  // extern "C"
