/* ember — C API.
 *
 * A plain C interface over ember::Engine for language bindings (Dart FFI, R, Python ctypes, ...):
 * opaque handles, integer error codes, and a message getter. No C++ types cross this boundary.
 *
 *   ember_engine* engine = NULL;
 *   ember_engine_options opts;
 *   ember_engine_options_init(&opts);
 *   if (ember_engine_load("model.gguf", &opts, &engine) != EMBER_OK) {
 *     fprintf(stderr, "%s\n", ember_last_error());
 *     return 1;
 *   }
 *   ember_generation_params params;
 *   ember_generation_params_init(&params);
 *   params.max_tokens = 64;
 *   ember_generate(engine, "Once upon a time", &params, on_chunk, user_data, &result);
 *   ember_result_free(result);
 *   ember_engine_free(engine);
 *
 * Strings are UTF-8 and NUL-terminated on input; output text is valid UTF-8. Returned strings and
 * arrays belong to the object they came from and live until that object is freed (or, for
 * ember_last_error, until the next failing call on the same thread).
 *
 * Threads: an engine runs one generation at a time; ember_engine_cancel may be called from any
 * thread. ember_last_error is per thread.
 *
 * ABI: existing functions and structs keep their signatures and layouts within a soname. New
 * options come as new functions, or in structs whose first field is their `size` (set by their
 * _init function): such a struct may grow at its end in a later version, which then reads only
 * the fields `size` covers, so a program built against this header keeps working.
 */
#ifndef EMBER_EMBER_H_
#define EMBER_EMBER_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: EMBER_OK or the class of failure (ember::StatusCode values). */
typedef enum {
  EMBER_OK = 0,
  EMBER_INVALID_ARGUMENT = 1,
  EMBER_NOT_FOUND = 2,
  EMBER_DATA_LOSS = 3,
  EMBER_UNIMPLEMENTED = 4,
  EMBER_OUT_OF_RANGE = 5,
  EMBER_RESOURCE_EXHAUSTED = 6,
  EMBER_IO_ERROR = 7,
  EMBER_CANCELLED = 8,
  EMBER_INTERNAL = 9
} ember_status;

/* Why a generation ended. */
typedef enum {
  EMBER_FINISH_NONE = 0,
  EMBER_FINISH_STOP = 1,      /* end-of-generation token or stop string */
  EMBER_FINISH_LENGTH = 2,    /* max_tokens or context full */
  EMBER_FINISH_CANCELLED = 3, /* ember_engine_cancel, or the callback returned 0 */
  EMBER_FINISH_ERROR = 4      /* see ember_result_error */
} ember_finish_reason;

typedef struct ember_model ember_model;
typedef struct ember_engine ember_engine;
typedef struct ember_generation ember_generation;
typedef struct ember_result ember_result;

/* The message of the last failed call on this thread ("" when none). */
const char* ember_last_error(void);

/* Frees a string the library allocated for the caller (the char** outputs below). NULL is fine. */
void ember_free(void* p);

/* ---- model ---------------------------------------------------------------------------- */

/* A loaded model (weights, hyper-parameters, tokenizer), shared by any number of engines: load it
 * once, create an engine (a context: KV cache + generation state) per conversation. */

/* Loads a GGUF file. `use_mmap` nonzero maps the file; `n_threads` (0 = all cores) is used while
 * loading only. Errors: unreadable or invalid file (ember_last_error names the problem). */
ember_status ember_model_load(const char* path, int use_mmap, int32_t n_threads,
                              ember_model** out_model);
/* Options of ember_model_load_ex (versioned: see "ABI" above). */
typedef struct {
  uint32_t size;        /* sizeof(ember_model_options); set by ember_model_options_init */
  int32_t use_mmap;     /* nonzero (default) maps the file */
  int32_t n_threads;    /* threads while loading; 0 = all cores (default) */
  /* How closely the matrix products follow llama.cpp's arithmetic (ember/numerics.h): "fast"
   * (default; NULL means "fast") or "reference" (the quantized products of the weight types
   * ember/numerics.h lists in llama.cpp's x86 summation order; prompts several times slower).
   * Every engine on the model uses it. Any other name is EMBER_INVALID_ARGUMENT. */
  const char* numerics;
} ember_model_options;

void ember_model_options_init(ember_model_options* options);
/* ember_model_load with options (NULL = the defaults). Errors: those of ember_model_load, an
 * unknown numerics name, a `size` smaller than the first version's struct. */
ember_status ember_model_load_ex(const char* path, const ember_model_options* options,
                                 ember_model** out_model);
/* Frees the caller's reference: engines created from the model keep it alive. */
void ember_model_free(ember_model* model);
/* "llama 1.24B q4_0"-style description, the GGUF general.architecture, and the
 * tokenizer.chat_template ("" when absent); owned by the model. */
const char* ember_model_description(const ember_model* model);
const char* ember_model_architecture(const ember_model* model);
const char* ember_model_chat_template(const ember_model* model);
int32_t ember_model_n_vocab(const ember_model* model);
int32_t ember_model_n_ctx_train(const ember_model* model);
int32_t ember_model_n_embd(const ember_model* model);
int32_t ember_model_n_layer(const ember_model* model);
int32_t ember_model_n_head(const ember_model* model);
int32_t ember_model_n_head_kv(const ember_model* model);
/* Bytes of tensor data in the file, and the parameter count (elements of all tensors). */
uint64_t ember_model_size(const ember_model* model);
uint64_t ember_model_n_params(const ember_model* model);
/* The numerics the model was loaded with: "fast" or "reference" (static storage). */
const char* ember_model_numerics(const ember_model* model);
/* A metadata value as text (see ember::Model::metadata) in *out_value, freed with ember_free.
 * EMBER_NOT_FOUND when the key is absent. */
ember_status ember_model_metadata(const ember_model* model, const char* key, char** out_value);

/* ---- engine --------------------------------------------------------------------------- */

typedef struct {
  int32_t n_ctx;      /* context size in tokens; 0 = the model's own (capped at 8192). Default 4096 */
  int32_t n_threads;  /* 0 = all cores (default) */
  int32_t n_batch;    /* prompt tokens evaluated together; default 512 */
  int32_t kv_cache_type; /* 0 = F16 (default), 1 = F32, 2 = Q8_0 */
  int32_t use_mmap;   /* nonzero (default) maps the file */
} ember_engine_options;

void ember_engine_options_init(ember_engine_options* options);
ember_status ember_engine_load(const char* path, const ember_engine_options* options,
                               ember_engine** out_engine);
/* An engine on a model already loaded (options->use_mmap is not used); the engine keeps the model
 * alive, so ember_model_free may come first. Errors: bad options, not enough memory. */
ember_status ember_engine_create(const ember_model* model, const ember_engine_options* options,
                                 ember_engine** out_engine);
void ember_engine_free(ember_engine* engine);
/* Stops the running generation before its next token. Any thread. */
void ember_engine_cancel(ember_engine* engine);
int32_t ember_engine_n_ctx(const ember_engine* engine);
int32_t ember_engine_n_vocab(const ember_engine* engine);

/* Evaluates `tokens` (n_tokens ids) as the engine's sequence and writes the logits of the last one
 * (the model's raw output before sampling: a row of the model's ember_model_n_vocab floats) to
 * `out_logits`, and the row's length to `*out_count` (may be NULL). The longest prefix the
 * engine's cache holds is reused, as for a generation's prompt, and the tokens stay cached, so
 * calls on growing prefixes of one sequence evaluate only the new tokens (same logits either
 * way). Errors: `capacity` below the row's length (EMBER_OUT_OF_RANGE, nothing written but
 * `*out_count`), no tokens, more than n_ctx, an id outside the vocabulary, an embedding model, a
 * running generation; ember_engine_cancel stops it between batches (EMBER_CANCELLED). */
ember_status ember_engine_logits(ember_engine* engine, const int32_t* tokens, size_t n_tokens,
                                 float* out_logits, size_t capacity, size_t* out_count);

/* ---- tokenizer ------------------------------------------------------------------------ */

/* Tokenizes `text` (length `text_len` bytes; may contain NUL). Writes at most `capacity` ids to
 * `out_tokens` and the full count to `*out_count`; if the count exceeds `capacity`, returns
 * EMBER_OUT_OF_RANGE and writes nothing (call again with a larger buffer). */
ember_status ember_tokenize(const ember_engine* engine, const char* text, size_t text_len,
                            int add_special, int parse_special, int32_t* out_tokens,
                            size_t capacity, size_t* out_count);
/* Detokenizes into `out` (capacity bytes, NUL-terminated on success); `*out_len` receives the
 * length without the NUL. EMBER_OUT_OF_RANGE (nothing written) when it does not fit. */
ember_status ember_detokenize(const ember_engine* engine, const int32_t* tokens, size_t n_tokens,
                              int remove_special, int unparse_special, char* out,
                              size_t capacity, size_t* out_len);

/* ---- generation ----------------------------------------------------------------------- */

typedef struct {
  int32_t max_tokens;         /* -1 = no limit (default) */
  float temperature;          /* default 0.8; 0 = greedy */
  int32_t top_k;              /* default 40; 0 = off */
  float top_p;                /* default 0.95; 1 = off */
  float min_p;                /* default 0.05; 0 = off */
  float typical_p;            /* default 1 = off */
  float repeat_penalty;       /* default 1 = off */
  int32_t repeat_last_n;      /* default 64; -1 = context */
  float frequency_penalty;    /* default 0 */
  float presence_penalty;     /* default 0 */
  int32_t mirostat;           /* 0, 1 or 2 */
  float mirostat_tau;         /* default 5 */
  float mirostat_eta;         /* default 0.1 */
  uint32_t seed;              /* 0xFFFFFFFF = random (default) */
  int32_t ignore_eos;         /* nonzero: never stop on end-of-generation tokens */
  const char* const* stop;    /* stop strings (n_stop of them), may be NULL */
  size_t n_stop;
  const char* grammar;        /* GBNF text or NULL */
  const char* json_schema;    /* JSON schema text or NULL */
  int32_t add_special;        /* default 1 */
  int32_t parse_special;      /* default 1 */
} ember_generation_params;

void ember_generation_params_init(ember_generation_params* params);

/* Called with each chunk of text (valid UTF-8, `len` bytes, NUL-terminated); return nonzero to
 * continue, 0 to stop. */
typedef int (*ember_chunk_callback)(const char* text, size_t len, void* user_data);

/* Push style: runs the whole generation, calling `callback` (may be NULL) per chunk. On
 * EMBER_OK, `*out_result` must be freed with ember_result_free. */
ember_status ember_generate(ember_engine* engine, const char* prompt,
                            const ember_generation_params* params, ember_chunk_callback callback,
                            void* user_data, ember_result** out_result);

/* Pull style: evaluates the prompt. */
ember_status ember_begin(ember_engine* engine, const char* prompt,
                         const ember_generation_params* params, ember_generation** out_generation);
/* Next chunk: returns 1 and sets *text and *len (owned by the generation, valid until the next call)
 * while running, 0 when finished. */
int ember_next(ember_generation* generation, const char** text, size_t* len);
/* Finishes and returns the result (freed with ember_result_free); frees the generation. */
ember_result* ember_end(ember_generation* generation);

/* ---- result --------------------------------------------------------------------------- */

const char* ember_result_text(const ember_result* result);
/* The held-back text ember_next never returned (already part of ember_result_text). */
const char* ember_result_tail(const ember_result* result);
ember_finish_reason ember_result_finish_reason(const ember_result* result);
const char* ember_result_error(const ember_result* result); /* "" unless FINISH_ERROR */
const int32_t* ember_result_tokens(const ember_result* result, size_t* n_tokens);
int32_t ember_result_prompt_tokens(const ember_result* result);
int32_t ember_result_cached_prompt_tokens(const ember_result* result);
double ember_result_prompt_tokens_per_second(const ember_result* result);
double ember_result_generation_tokens_per_second(const ember_result* result);
void ember_result_free(ember_result* result);

/* ---- chat ----------------------------------------------------------------------------- */

typedef struct ember_chat_completion ember_chat_completion;

/* Called with each chunk as OpenAI chat.completion.chunk JSON (`len` bytes, NUL-terminated);
 * return nonzero to continue, 0 to stop (finish_reason "cancelled"). */
typedef int (*ember_chat_chunk_callback)(const char* chunk_json, size_t len, void* user_data);

/* Chat completion (see ember/chat.h and docs/chat.md): renders the model's chat template with
 * `messages_json` (an OpenAI messages array), generates and parses the reply. `request_json` is
 * an OpenAI request object or NULL: tools, tool_choice, parallel_tool_calls, response_format,
 * enable_thinking, chat_template_kwargs, model, temperature, top_p, top_k, min_p, seed,
 * max_tokens, stop, frequency_penalty, presence_penalty, repeat_penalty are read, other keys
 * (messages, stream, ...) ignored. `callback` may be NULL. Errors (invalid JSON or request, a
 * template error) return the status with ember_last_error naming the problem. On EMBER_OK,
 * `*out_completion` must be freed with ember_chat_completion_free. */
ember_status ember_chat_create(ember_engine* engine, const char* messages_json,
                               const char* request_json, ember_chat_chunk_callback callback,
                               void* user_data, ember_chat_completion** out_completion);
/* The completion as OpenAI chat.completion JSON (owned by the completion). */
const char* ember_chat_completion_json(const ember_chat_completion* completion);
/* The error that stopped generation ("" unless finish_reason is "error"). */
const char* ember_chat_completion_error(const ember_chat_completion* completion);
void ember_chat_completion_free(ember_chat_completion* completion);

/* Pull style: ember_chat_begin renders the template and evaluates the prompt (same arguments and
 * errors as ember_chat_create); each ember_chat_next returns 1 and one chunk as OpenAI
 * chat.completion.chunk JSON in *chunk_json / *len (owned by the generation, valid until the next
 * call), or 0 after the last chunk; ember_chat_end stops if still running, frees the generation
 * and returns the completion (free it with ember_chat_completion_free). One generation at a time
 * per engine; ember_engine_cancel stops it before its next token. */
typedef struct ember_chat_generation ember_chat_generation;
ember_status ember_chat_begin(ember_engine* engine, const char* messages_json,
                              const char* request_json, ember_chat_generation** out_generation);
int ember_chat_next(ember_chat_generation* generation, const char** chunk_json, size_t* len);
ember_chat_completion* ember_chat_end(ember_chat_generation* generation);

/* The prompt ember_chat_create would evaluate for these messages and request (rendered with the
 * model's template, tools included), in *out_text (freed with ember_free). */
ember_status ember_chat_render(const ember_engine* engine, const char* messages_json,
                               const char* request_json, char** out_text);

/* Renders a Jinja chat template (`template_source`, or ChatML when NULL) with `messages_json` (an
 * OpenAI messages array, passed as the template's `messages`), add_generation_prompt, and
 * bos_token / eos_token (NULL = ""), without a model. *out_text is freed with ember_free.
 * Errors: invalid JSON, a template syntax or render error (line and column in the message). */
ember_status ember_chat_template_apply(const char* template_source, const char* messages_json,
                                       int add_generation_prompt, const char* bos_token,
                                       const char* eos_token, char** out_text);

/* ---- embeddings and reranking (see ember/embedding.h) ------------------------------------ */

typedef struct ember_embeddings ember_embeddings;

typedef struct {
  int32_t pooling;    /* -1 = the model's (default), 0 none, 1 mean, 2 cls, 3 last, 4 rank */
  int32_t normalize;  /* nonzero (default): L2-normalize each vector (not rank outputs) */
  int32_t dimensions; /* 0 (default) = all; else keep the first N values (Matryoshka) */
  int32_t truncate;   /* nonzero: cut inputs longer than the context instead of failing */
} ember_embed_params;

void ember_embed_params_init(ember_embed_params* params);

/* Embeds `n_inputs` NUL-terminated UTF-8 texts (batched; each its own sequence). On EMBER_OK,
 * `*out` must be freed with ember_embeddings_free. */
ember_status ember_embed(ember_engine* engine, const char* const* inputs, size_t n_inputs,
                         const ember_embed_params* params, ember_embeddings** out);
size_t ember_embeddings_count(const ember_embeddings* e);
/* Vector i: `*out_len` floats (pooling none: n_tokens rows of `ember_embeddings_dim` floats);
 * NULL when i is out of range. Valid until ember_embeddings_free. */
const float* ember_embeddings_vector(const ember_embeddings* e, size_t i, size_t* out_len);
int32_t ember_embeddings_dim(const ember_embeddings* e);
/* Tokens evaluated for input i (0 when out of range), and for all inputs. */
int32_t ember_embeddings_n_tokens(const ember_embeddings* e, size_t i);
int64_t ember_embeddings_total_tokens(const ember_embeddings* e);
void ember_embeddings_free(ember_embeddings* e);

/* Scores `n_documents` documents against `query` with a reranker model: writes n_documents
 * scores (input order) to `out_scores` and, when not NULL, the total tokens to `*out_tokens`.
 * `truncate` nonzero cuts pairs longer than the context instead of failing. */
ember_status ember_rerank(ember_engine* engine, const char* query, const char* const* documents,
                          size_t n_documents, int truncate, float* out_scores,
                          int64_t* out_tokens);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_EMBER_H_ */
