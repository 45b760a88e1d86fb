/* The R package's native layer: .Call entry points over ember's C API (ember/ember.h).
 *
 * Handles are external pointers tagged with their kind (model, context, generation state) and
 * freed by finalizers (or llama_free_*). A context owns its engine and at most one streaming
 * generation (llama_gen_begin); the state's external pointer keeps its context alive (protected
 * value), and freeing a context ends its stream first. Long loops call R_CheckUserInterrupt
 * between tokens inside R_UnwindProtect, so Ctrl-C stops a generation and frees what it holds
 * before the interrupt reaches R. Argument types are checked in R (R/ember.R); the handles here. */
#define R_NO_REMAP
#include <R.h>
#include <R_ext/Rdynload.h>
#include <Rinternals.h>
#include <stdlib.h>
#include <string.h>

#include <ember/ember.h>

typedef struct gen_state gen_state;

typedef struct {
  ember_engine* engine;
  gen_state* active; /* the context's streaming generation, or NULL */
} r_context;

struct gen_state {
  ember_generation* generation; /* NULL once ended */
  r_context* context;           /* NULL once ended or once the context was freed */
  int finished;                 /* llama_gen_next returned NULL */
  const char* ended_by;         /* why the stream was ended from outside, or NULL */
};

static SEXP tag_model = NULL;
static SEXP tag_context = NULL;
static SEXP tag_state = NULL;

/* ---- handles ------------------------------------------------------------------------------ */

static void* handle(SEXP x, SEXP tag, const char* what, const char* from) {
  if (TYPEOF(x) != EXTPTRSXP || R_ExternalPtrTag(x) != tag) {
    Rf_error("expected a %s handle (from %s)", what, from);
  }
  void* p = R_ExternalPtrAddr(x);
  if (p == NULL) Rf_error("the %s handle has been freed", what);
  return p;
}

static void model_finalizer(SEXP x) {
  ember_model* m = (ember_model*)R_ExternalPtrAddr(x);
  if (m != NULL) ember_model_free(m);
  R_ClearExternalPtr(x);
}

static const char kContextFreed[] = "the context of this generation was freed";
static const char kSuperseded[] =
    "this generation was ended by a later generation on the same context (one at a time)";

/* Ends the context's streaming generation (if any); its state handle then reports `why`. */
static void end_active(r_context* c, const char* why) {
  gen_state* s = c->active;
  if (s == NULL) return;
  if (s->generation != NULL) ember_result_free(ember_end(s->generation));
  s->generation = NULL;
  s->context = NULL;
  s->finished = 1;
  s->ended_by = why;
  c->active = NULL;
}

static void context_free(r_context* c) {
  end_active(c, kContextFreed);
  ember_engine_free(c->engine);
  free(c);
}

static void context_finalizer(SEXP x) {
  r_context* c = (r_context*)R_ExternalPtrAddr(x);
  if (c != NULL) context_free(c);
  R_ClearExternalPtr(x);
}

static void state_finalizer(SEXP x) {
  gen_state* s = (gen_state*)R_ExternalPtrAddr(x);
  if (s != NULL) {
    if (s->generation != NULL) ember_result_free(ember_end(s->generation));
    if (s->context != NULL) s->context->active = NULL;
    free(s);
  }
  R_ClearExternalPtr(x);
}

static SEXP utf8_string(const char* text, size_t len) {
  return Rf_ScalarString(Rf_mkCharLenCE(text, (int)len, CE_UTF8));
}

static const char* utf8_arg(SEXP x) {
  return Rf_translateCharUTF8(STRING_ELT(x, 0));
}

/* ---- model -------------------------------------------------------------------------------- */

SEXP r_model_load(SEXP path, SEXP use_mmap, SEXP numerics) {
  SEXP ext = PROTECT(R_MakeExternalPtr(NULL, tag_model, R_NilValue));
  R_RegisterCFinalizerEx(ext, model_finalizer, TRUE);
  ember_model* m = NULL;
  ember_model_options options;
  ember_model_options_init(&options);
  options.use_mmap = Rf_asLogical(use_mmap);
  options.numerics = utf8_arg(numerics); /* the library checks the name */
  if (ember_model_load_ex(R_ExpandFileName(utf8_arg(path)), &options, &m) != EMBER_OK) {
    Rf_error("failed to load model: %s", ember_last_error());
  }
  R_SetExternalPtrAddr(ext, m);
  UNPROTECT(1);
  return ext;
}

SEXP r_model_free(SEXP model) {
  if (TYPEOF(model) != EXTPTRSXP || R_ExternalPtrTag(model) != tag_model) {
    Rf_error("expected a model handle (from llama_load_model)");
  }
  model_finalizer(model);
  return R_NilValue;
}

SEXP r_model_info(SEXP model) {
  ember_model* m = (ember_model*)handle(model, tag_model, "model", "llama_load_model");
  /* llamaR's fields (+ architecture). Every architecture ember runs is a decoder-only
   * transformer: no encoder, not recurrent. */
  const char* names[] = {"n_ctx_train", "n_embd",   "n_vocab",     "n_layer",     "n_head",
                         "n_head_kv",   "desc",     "size",        "n_params",    "has_encoder",
                         "has_decoder", "is_recurrent", "architecture", "numerics"};
  const int n = (int)(sizeof names / sizeof names[0]);
  SEXP out = PROTECT(Rf_allocVector(VECSXP, n));
  SEXP nm = PROTECT(Rf_allocVector(STRSXP, n));
  for (int i = 0; i < n; ++i) SET_STRING_ELT(nm, i, Rf_mkChar(names[i]));
  SET_VECTOR_ELT(out, 0, Rf_ScalarInteger(ember_model_n_ctx_train(m)));
  SET_VECTOR_ELT(out, 1, Rf_ScalarInteger(ember_model_n_embd(m)));
  SET_VECTOR_ELT(out, 2, Rf_ScalarInteger(ember_model_n_vocab(m)));
  SET_VECTOR_ELT(out, 3, Rf_ScalarInteger(ember_model_n_layer(m)));
  SET_VECTOR_ELT(out, 4, Rf_ScalarInteger(ember_model_n_head(m)));
  SET_VECTOR_ELT(out, 5, Rf_ScalarInteger(ember_model_n_head_kv(m)));
  SET_VECTOR_ELT(out, 6, Rf_mkString(ember_model_description(m)));
  SET_VECTOR_ELT(out, 7, Rf_ScalarReal((double)ember_model_size(m)));
  SET_VECTOR_ELT(out, 8, Rf_ScalarReal((double)ember_model_n_params(m)));
  SET_VECTOR_ELT(out, 9, Rf_ScalarLogical(FALSE));
  SET_VECTOR_ELT(out, 10, Rf_ScalarLogical(TRUE));
  SET_VECTOR_ELT(out, 11, Rf_ScalarLogical(FALSE));
  SET_VECTOR_ELT(out, 12, Rf_mkString(ember_model_architecture(m)));
  SET_VECTOR_ELT(out, 13, Rf_mkString(ember_model_numerics(m)));
  Rf_setAttrib(out, R_NamesSymbol, nm);
  UNPROTECT(2);
  return out;
}

SEXP r_chat_template(SEXP model) {
  ember_model* m = (ember_model*)handle(model, tag_model, "model", "llama_load_model");
  const char* t = ember_model_chat_template(m);
  if (t[0] == '\0') return R_NilValue;
  return utf8_string(t, strlen(t));
}

/* ---- context ------------------------------------------------------------------------------ */

SEXP r_context_new(SEXP model, SEXP n_ctx, SEXP n_threads, SEXP n_batch) {
  ember_model* m = (ember_model*)handle(model, tag_model, "model", "llama_load_model");
  /* The model handle is the context's protected value: R keeps it while the context lives
   * (the engine also holds the weights itself). */
  SEXP ext = PROTECT(R_MakeExternalPtr(NULL, tag_context, model));
  R_RegisterCFinalizerEx(ext, context_finalizer, TRUE);
  r_context* c = (r_context*)calloc(1, sizeof *c);
  if (c == NULL) Rf_error("out of memory");
  ember_engine_options opts;
  ember_engine_options_init(&opts);
  opts.n_ctx = Rf_asInteger(n_ctx);
  opts.n_threads = Rf_asInteger(n_threads);
  opts.n_batch = Rf_asInteger(n_batch);
  if (ember_engine_create(m, &opts, &c->engine) != EMBER_OK) {
    free(c);
    Rf_error("failed to create the context: %s", ember_last_error());
  }
  R_SetExternalPtrAddr(ext, c);
  UNPROTECT(1);
  return ext;
}

SEXP r_context_free(SEXP ctx) {
  if (TYPEOF(ctx) != EXTPTRSXP || R_ExternalPtrTag(ctx) != tag_context) {
    Rf_error("expected a context handle (from llama_new_context)");
  }
  context_finalizer(ctx);
  return R_NilValue;
}

/* ---- tokens ------------------------------------------------------------------------------- */

SEXP r_tokenize(SEXP ctx, SEXP text, SEXP add_special, SEXP parse_special) {
  r_context* c = (r_context*)handle(ctx, tag_context, "context", "llama_new_context");
  const char* t = utf8_arg(text);
  const size_t len = strlen(t);
  const int add = Rf_asLogical(add_special), parse = Rf_asLogical(parse_special);
  size_t n = 0;
  ember_status st = ember_tokenize(c->engine, t, len, add, parse, NULL, 0, &n);
  if (st != EMBER_OK && st != EMBER_OUT_OF_RANGE) Rf_error("%s", ember_last_error());
  SEXP out = PROTECT(Rf_allocVector(INTSXP, (R_xlen_t)n));
  if (n > 0 && ember_tokenize(c->engine, t, len, add, parse, INTEGER(out), n, &n) != EMBER_OK) {
    Rf_error("%s", ember_last_error());
  }
  UNPROTECT(1);
  return out;
}

SEXP r_detokenize(SEXP ctx, SEXP tokens) {
  r_context* c = (r_context*)handle(ctx, tag_context, "context", "llama_new_context");
  const size_t n = (size_t)XLENGTH(tokens);
  const int32_t* ids = (const int32_t*)INTEGER(tokens);
  size_t len = 0;
  ember_status st = ember_detokenize(c->engine, ids, n, 0, 0, NULL, 0, &len);
  if (st != EMBER_OK && st != EMBER_OUT_OF_RANGE) Rf_error("%s", ember_last_error());
  char* buffer = R_alloc(len + 1, 1);
  if (ember_detokenize(c->engine, ids, n, 0, 0, buffer, len + 1, &len) != EMBER_OK) {
    Rf_error("%s", ember_last_error());
  }
  return utf8_string(buffer, len);
}

/* ---- generation --------------------------------------------------------------------------- */

/* `p`: max_new_tokens, temp, top_k, top_p, seed, min_p, typical_p, repeat_penalty, repeat_last_n,
 * frequency_penalty, presence_penalty, mirostat, mirostat_tau, mirostat_eta (R/ember.R). */
static void to_params(SEXP p, SEXP grammar, ember_generation_params* out) {
  if (TYPEOF(p) != REALSXP || XLENGTH(p) != 14) Rf_error("internal: bad parameter vector");
  const double* v = REAL(p);
  ember_generation_params_init(out);
  out->max_tokens = (int32_t)v[0];
  out->temperature = (float)v[1];
  out->top_k = (int32_t)v[2];
  out->top_p = (float)v[3];
  out->seed = v[4] < 0 ? 0xFFFFFFFFu : (uint32_t)v[4];
  out->min_p = (float)v[5];
  out->typical_p = (float)v[6];
  out->repeat_penalty = (float)v[7];
  out->repeat_last_n = (int32_t)v[8];
  out->frequency_penalty = (float)v[9];
  out->presence_penalty = (float)v[10];
  out->mirostat = (int32_t)v[11];
  out->mirostat_tau = (float)v[12];
  out->mirostat_eta = (float)v[13];
  out->grammar = Rf_isNull(grammar) ? NULL : utf8_arg(grammar);
}

typedef struct {
  ember_generation* generation;
  ember_result* result;
} generate_run;

static SEXP generate_body(void* data) {
  generate_run* run = (generate_run*)data;
  const char* text;
  size_t len;
  while (ember_next(run->generation, &text, &len)) R_CheckUserInterrupt();
  run->result = ember_end(run->generation);
  run->generation = NULL;
  if (ember_result_finish_reason(run->result) == EMBER_FINISH_ERROR) {
    Rf_error("generation failed: %s", ember_result_error(run->result));
  }
  const char* out = ember_result_text(run->result);
  SEXP value = PROTECT(Rf_allocVector(VECSXP, 2));
  SET_VECTOR_ELT(value, 0, utf8_string(out, strlen(out)));
  size_t n_tokens = 0;
  ember_result_tokens(run->result, &n_tokens);
  SEXP timings = Rf_allocVector(REALSXP, 4);
  SET_VECTOR_ELT(value, 1, timings);
  REAL(timings)[0] = ember_result_prompt_tokens(run->result);
  REAL(timings)[1] = (double)n_tokens;
  REAL(timings)[2] = ember_result_prompt_tokens_per_second(run->result);
  REAL(timings)[3] = ember_result_generation_tokens_per_second(run->result);
  UNPROTECT(1);
  return value;
}

static void generate_cleanup(void* data, Rboolean jump) {
  (void)jump;
  generate_run* run = (generate_run*)data;
  if (run->generation != NULL) ember_result_free(ember_end(run->generation));
  run->generation = NULL;
  ember_result_free(run->result);
  run->result = NULL;
}

/* list(text, c(prompt_tokens, generated_tokens, prompt_tps, generation_tps)). */
SEXP r_generate(SEXP ctx, SEXP prompt, SEXP params, SEXP grammar) {
  r_context* c = (r_context*)handle(ctx, tag_context, "context", "llama_new_context");
  ember_generation_params p;
  to_params(params, grammar, &p);
  end_active(c, kSuperseded);
  generate_run run = {NULL, NULL};
  if (ember_begin(c->engine, utf8_arg(prompt), &p, &run.generation) != EMBER_OK) {
    Rf_error("%s", ember_last_error());
  }
  SEXP cont = PROTECT(R_MakeUnwindCont());
  SEXP value = R_UnwindProtect(generate_body, &run, generate_cleanup, &run, cont);
  UNPROTECT(1);
  return value;
}

SEXP r_gen_begin(SEXP ctx, SEXP prompt, SEXP params, SEXP grammar) {
  r_context* c = (r_context*)handle(ctx, tag_context, "context", "llama_new_context");
  ember_generation_params p;
  to_params(params, grammar, &p);
  /* The state keeps its context alive (protected value). */
  SEXP ext = PROTECT(R_MakeExternalPtr(NULL, tag_state, ctx));
  R_RegisterCFinalizerEx(ext, state_finalizer, TRUE);
  gen_state* s = (gen_state*)calloc(1, sizeof *s);
  if (s == NULL) Rf_error("out of memory");
  R_SetExternalPtrAddr(ext, s);
  /* One stream per context: a new one ends the previous one. */
  end_active(c, kSuperseded);
  if (ember_begin(c->engine, utf8_arg(prompt), &p, &s->generation) != EMBER_OK) {
    s->finished = 1;
    Rf_error("%s", ember_last_error());
  }
  s->context = c;
  c->active = s;
  UNPROTECT(1);
  return ext;
}

SEXP r_gen_next(SEXP state) {
  gen_state* s = (gen_state*)handle(state, tag_state, "generation state", "llama_gen_begin");
  if (s->ended_by != NULL) Rf_error("%s", s->ended_by);
  if (s->finished || s->generation == NULL) return R_NilValue;
  for (;;) {
    const char* text;
    size_t len;
    if (!ember_next(s->generation, &text, &len)) {
      s->finished = 1;
      return R_NilValue;
    }
    /* A token that only starts a character (or a stop string) gives no text yet. */
    if (len > 0) return utf8_string(text, len);
    R_CheckUserInterrupt();
  }
}

SEXP r_gen_end(SEXP state) {
  gen_state* s = (gen_state*)handle(state, tag_state, "generation state", "llama_gen_begin");
  if (s->ended_by != NULL) Rf_error("%s", s->ended_by);
  if (s->generation == NULL) return Rf_mkString("");
  ember_result* r = ember_end(s->generation);
  s->generation = NULL;
  s->finished = 1;
  if (s->context != NULL) s->context->active = NULL;
  s->context = NULL;
  if (r == NULL) Rf_error("out of memory");
  if (ember_result_finish_reason(r) == EMBER_FINISH_ERROR) {
    char message[1024];
    snprintf(message, sizeof message, "%s", ember_result_error(r));
    ember_result_free(r);
    Rf_error("generation failed: %s", message);
  }
  /* Copy before freeing the result (an allocation error must not leak it). */
  const char* tail = ember_result_tail(r);
  const size_t len = strlen(tail);
  char* copy = R_alloc(len + 1, 1);
  memcpy(copy, tail, len + 1);
  ember_result_free(r);
  return utf8_string(copy, len);
}

/* ---- chat --------------------------------------------------------------------------------- */

SEXP r_chat_template_apply(SEXP template_source, SEXP messages_json, SEXP add_generation_prompt) {
  char* text = NULL;
  if (ember_chat_template_apply(Rf_isNull(template_source) ? NULL : utf8_arg(template_source),
                                utf8_arg(messages_json), Rf_asLogical(add_generation_prompt), NULL,
                                NULL, &text) != EMBER_OK) {
    Rf_error("%s", ember_last_error());
  }
  const size_t len = strlen(text);
  char* copy = R_alloc(len + 1, 1);
  memcpy(copy, text, len + 1);
  ember_free(text);
  return utf8_string(copy, len);
}

typedef struct {
  ember_chat_generation* generation;
  ember_chat_completion* completion;
} chat_run;

static SEXP chat_body(void* data) {
  chat_run* run = (chat_run*)data;
  const char* chunk;
  size_t len;
  while (ember_chat_next(run->generation, &chunk, &len)) R_CheckUserInterrupt();
  run->completion = ember_chat_end(run->generation);
  run->generation = NULL;
  const char* error = ember_chat_completion_error(run->completion);
  if (error[0] != '\0') Rf_error("chat completion failed: %s", error);
  const char* json = ember_chat_completion_json(run->completion);
  return utf8_string(json, strlen(json));
}

static void chat_cleanup(void* data, Rboolean jump) {
  (void)jump;
  chat_run* run = (chat_run*)data;
  if (run->generation != NULL) ember_chat_completion_free(ember_chat_end(run->generation));
  run->generation = NULL;
  ember_chat_completion_free(run->completion);
  run->completion = NULL;
}

/* The chat.completion JSON text. */
SEXP r_chat(SEXP ctx, SEXP messages_json, SEXP request_json) {
  r_context* c = (r_context*)handle(ctx, tag_context, "context", "llama_new_context");
  end_active(c, kSuperseded);
  chat_run run = {NULL, NULL};
  if (ember_chat_begin(c->engine, utf8_arg(messages_json), utf8_arg(request_json),
                       &run.generation) != EMBER_OK) {
    Rf_error("%s", ember_last_error());
  }
  SEXP cont = PROTECT(R_MakeUnwindCont());
  SEXP value = R_UnwindProtect(chat_body, &run, chat_cleanup, &run, cont);
  UNPROTECT(1);
  return value;
}

/* ---- registration ------------------------------------------------------------------------- */

/* ---- embeddings --------------------------------------------------------------------------- */

/* Embeds the strings of `texts` (one batch, each its own sequence) with the model's pooling, not
 * normalized (llama.cpp's pooled vectors, as llamaR returns them): a length(texts) x n_embd
 * numeric matrix. */
SEXP r_embed(SEXP ctx, SEXP texts) {
  r_context* c = (r_context*)handle(ctx, tag_context, "context", "llama_new_context");
  if (c->active != NULL) {
    Rf_error("a streaming generation is running on this context: end it with llama_gen_end "
             "first");
  }
  const R_xlen_t n = XLENGTH(texts);
  const char** inputs = (const char**)R_alloc((size_t)n, sizeof *inputs);
  for (R_xlen_t i = 0; i < n; ++i) inputs[i] = Rf_translateCharUTF8(STRING_ELT(texts, i));
  ember_embed_params params;
  ember_embed_params_init(&params);
  params.normalize = 0;
  ember_embeddings* out = NULL;
  if (ember_embed(c->engine, inputs, (size_t)n, &params, &out) != EMBER_OK) {
    Rf_error("%s", ember_last_error());
  }
  const int32_t dim = ember_embeddings_dim(out);
  SEXP m = PROTECT(Rf_allocMatrix(REALSXP, (int)n, dim));
  double* values = REAL(m);
  for (R_xlen_t i = 0; i < n; ++i) {
    size_t len = 0;
    const float* v = ember_embeddings_vector(out, (size_t)i, &len);
    if (v == NULL || len != (size_t)dim) {
      ember_embeddings_free(out);
      Rf_error("the model's pooling is 'none' (one vector per token): llama_embeddings and "
               "llama_embed_batch return one vector per text");
    }
    for (int32_t j = 0; j < dim; ++j) values[i + (R_xlen_t)j * n] = v[j];  /* column-major */
  }
  ember_embeddings_free(out);
  UNPROTECT(1);
  return m;
}

static const R_CallMethodDef call_methods[] = {
    {"r_model_load", (DL_FUNC)&r_model_load, 3},
    {"r_model_free", (DL_FUNC)&r_model_free, 1},
    {"r_model_info", (DL_FUNC)&r_model_info, 1},
    {"r_chat_template", (DL_FUNC)&r_chat_template, 1},
    {"r_context_new", (DL_FUNC)&r_context_new, 4},
    {"r_context_free", (DL_FUNC)&r_context_free, 1},
    {"r_tokenize", (DL_FUNC)&r_tokenize, 4},
    {"r_detokenize", (DL_FUNC)&r_detokenize, 2},
    {"r_generate", (DL_FUNC)&r_generate, 4},
    {"r_gen_begin", (DL_FUNC)&r_gen_begin, 4},
    {"r_gen_next", (DL_FUNC)&r_gen_next, 1},
    {"r_gen_end", (DL_FUNC)&r_gen_end, 1},
    {"r_chat_template_apply", (DL_FUNC)&r_chat_template_apply, 3},
    {"r_chat", (DL_FUNC)&r_chat, 3},
    {"r_embed", (DL_FUNC)&r_embed, 2},
    {NULL, NULL, 0}};

void R_init_ember(DllInfo* dll) {
  tag_model = Rf_install("ember_model");
  tag_context = Rf_install("ember_context");
  tag_state = Rf_install("ember_generation_state");
  R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
  R_useDynamicSymbols(dll, FALSE);
  R_forceSymbols(dll, TRUE);
}
