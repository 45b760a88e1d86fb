/* The C API exercised from C (compiled as C11, no C++ in sight): load, tokenize, detokenize,
 * generate with a callback, begin/next/end, cancel from the callback, errors.
 * Usage: ember_c_api_test MODEL.gguf   (exit 77 = skipped: no model; the CTest entry knows) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/ember.h"

static int failures = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

typedef struct {
  char text[8192];
  size_t len;
  int chunks;
  int stop_after;
  ember_engine* engine;
} collector;

static int collect(const char* text, size_t len, void* user) {
  collector* c = (collector*)user;
  if (c->len + len < sizeof(c->text)) {
    memcpy(c->text + c->len, text, len);
    c->len += len;
    c->text[c->len] = '\0';
  }
  ++c->chunks;
  if (c->stop_after > 0 && c->chunks == c->stop_after) ember_engine_cancel(c->engine);
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
    return 2;
  }
  FILE* f = fopen(argv[1], "rb");
  if (f == NULL) {
    const char* ci = getenv("CI");
    fprintf(stderr, "model %s not found: %s\n", argv[1],
            ci && strcmp(ci, "true") == 0 ? "failing (CI)" : "skipping");
    return ci && strcmp(ci, "true") == 0 ? 1 : 77;
  }
  fclose(f);

  ember_engine* engine = NULL;
  ember_engine_options opts;
  ember_engine_options_init(&opts);
  opts.n_ctx = 256;

  /* Errors: a missing file reports a message. */
  CHECK(ember_engine_load("/nonexistent/model.gguf", &opts, &engine) != EMBER_OK);
  CHECK(strlen(ember_last_error()) > 0);
  CHECK(engine == NULL);

  CHECK(ember_engine_load(argv[1], &opts, &engine) == EMBER_OK);
  if (engine == NULL) {
    fprintf(stderr, "load failed: %s\n", ember_last_error());
    return 1;
  }
  CHECK(ember_engine_n_ctx(engine) == 256);
  CHECK(ember_engine_n_vocab(engine) > 0);

  /* Tokenize / detokenize round trip; too-small buffers are reported. */
  const char* text = "Hello world";
  int32_t ids[64];
  size_t n = 0;
  CHECK(ember_tokenize(engine, text, strlen(text), 0, 0, ids, 64, &n) == EMBER_OK);
  CHECK(n > 0);
  size_t needed = 0;
  CHECK(ember_tokenize(engine, text, strlen(text), 0, 0, ids, 0, &needed) == EMBER_OUT_OF_RANGE);
  CHECK(needed == n);
  char back[256];
  size_t back_len = 0;
  CHECK(ember_detokenize(engine, ids, n, 0, 0, back, sizeof back, &back_len) == EMBER_OK);
  CHECK(strcmp(back, text) == 0);
  CHECK(ember_detokenize(engine, ids, n, 0, 0, back, 2, &back_len) == EMBER_OUT_OF_RANGE);

  /* Push style with a callback. */
  ember_generation_params params;
  ember_generation_params_init(&params);
  params.max_tokens = 12;
  params.seed = 42;
  params.ignore_eos = 1;
  collector c;
  memset(&c, 0, sizeof c);
  ember_result* pushed = NULL;
  CHECK(ember_generate(engine, "Once upon a time", &params, collect, &c, &pushed) == EMBER_OK);
  CHECK(pushed != NULL);
  if (pushed != NULL) {
    size_t n_tokens = 0;
    const int32_t* tokens = ember_result_tokens(pushed, &n_tokens);
    CHECK(n_tokens == 12);
    CHECK(ember_result_finish_reason(pushed) == EMBER_FINISH_LENGTH);
    CHECK(strcmp(ember_result_text(pushed), c.text) == 0);
    CHECK(ember_result_prompt_tokens(pushed) > 0);

    /* Pull style gives the same tokens for the same seed. */
    ember_generation* g = NULL;
    CHECK(ember_begin(engine, "Once upon a time", &params, &g) == EMBER_OK);
    char pulled[8192] = {0};
    size_t pulled_len = 0;
    const char* chunk;
    size_t chunk_len;
    while (g != NULL && ember_next(g, &chunk, &chunk_len)) {
      if (pulled_len + chunk_len < sizeof pulled) {
        memcpy(pulled + pulled_len, chunk, chunk_len);
        pulled_len += chunk_len;
      }
    }
    ember_result* r = ember_end(g);
    CHECK(r != NULL);
    if (r != NULL) {
      size_t m = 0;
      const int32_t* t2 = ember_result_tokens(r, &m);
      CHECK(m == n_tokens && memcmp(t2, tokens, m * sizeof(int32_t)) == 0);
      strcat(pulled, ember_result_tail(r));
      CHECK(strcmp(pulled, ember_result_text(r)) == 0);
      CHECK(ember_result_cached_prompt_tokens(r) > 0); /* same prompt: prefix reused */
      ember_result_free(r);
    }
    ember_result_free(pushed);
  }

  /* Cancel from the callback. */
  memset(&c, 0, sizeof c);
  c.stop_after = 3;
  c.engine = engine;
  params.max_tokens = 100;
  ember_result* cancelled = NULL;
  CHECK(ember_generate(engine, "Tell me", &params, collect, &c, &cancelled) == EMBER_OK);
  if (cancelled != NULL) {
    size_t m = 0;
    ember_result_tokens(cancelled, &m);
    CHECK(ember_result_finish_reason(cancelled) == EMBER_FINISH_CANCELLED);
    CHECK(m == 3);
    ember_result_free(cancelled);
  }

  /* Invalid parameters are an error with a message. */
  params.top_p = 3.0f;
  ember_result* bad = NULL;
  CHECK(ember_generate(engine, "x", &params, NULL, NULL, &bad) == EMBER_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  CHECK(strstr(ember_last_error(), "top_p") != NULL);

  ember_engine_free(engine);

  /* A model shared by an engine that outlives the caller's model handle. */
  ember_model* model = NULL;
  CHECK(ember_model_load("/nonexistent/model.gguf", 1, 0, &model) != EMBER_OK && model == NULL);
  CHECK(ember_model_load(argv[1], 1, 0, &model) == EMBER_OK);
  if (model != NULL) {
    CHECK(strcmp(ember_model_architecture(model), "llama") == 0);
    CHECK(strlen(ember_model_description(model)) > 0);
    CHECK(ember_model_n_vocab(model) > 0 && ember_model_n_layer(model) > 0);
    CHECK(ember_model_n_head(model) >= ember_model_n_head_kv(model));
    /* At least the token embeddings: n_vocab x n_embd parameters. */
    CHECK(ember_model_n_params(model) >=
          (uint64_t)ember_model_n_vocab(model) * (uint64_t)ember_model_n_embd(model));
    char* arch = NULL;
    CHECK(ember_model_metadata(model, "general.architecture", &arch) == EMBER_OK);
    CHECK(arch != NULL && strcmp(arch, "llama") == 0);
    ember_free(arch);
    CHECK(ember_model_metadata(model, "no.such.key", &arch) == EMBER_NOT_FOUND);
    opts.n_ctx = 128;
    CHECK(ember_engine_create(model, &opts, &engine) == EMBER_OK);
    ember_model_free(model);
    if (engine != NULL) {
      CHECK(ember_engine_n_ctx(engine) == 128);
      /* Chat, pull style: the chunks' content concatenated equals the completion's. */
      ember_chat_generation* chat = NULL;
      CHECK(ember_chat_begin(engine, "[{\"role\": \"user\", \"content\": \"Hi\"}]",
                             "{\"max_tokens\": 4, \"seed\": 1}", &chat) == EMBER_OK);
      int chunks = 0;
      const char* chunk_json;
      size_t chunk_len;
      while (chat != NULL && ember_chat_next(chat, &chunk_json, &chunk_len)) {
        CHECK(strstr(chunk_json, "chat.completion.chunk") != NULL);
        ++chunks;
      }
      CHECK(chunks >= 2);
      ember_chat_completion* done = ember_chat_end(chat);
      CHECK(done != NULL &&
            strstr(ember_chat_completion_json(done), "\"chat.completion\"") != NULL);
      ember_chat_completion_free(done);
      CHECK(ember_chat_begin(engine, "not json", NULL, &chat) == EMBER_INVALID_ARGUMENT);
      char* rendered = NULL;
      CHECK(ember_chat_render(engine, "[{\"role\": \"user\", \"content\": \"Hi\"}]", NULL,
                              &rendered) == EMBER_OK);
      CHECK(rendered != NULL && strstr(rendered, "Hi") != NULL);
      ember_free(rendered);
      ember_engine_free(engine);
    }
  }

  /* Template rendering without a model (ChatML by default). */
  char* prompt = NULL;
  CHECK(ember_chat_template_apply(NULL, "[{\"role\": \"user\", \"content\": \"Hi\"}]", 1, NULL,
                                  NULL, &prompt) == EMBER_OK);
  CHECK(prompt != NULL &&
        strcmp(prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") == 0);
  ember_free(prompt);
  CHECK(ember_chat_template_apply(
            "{{ messages[0].content | upper }}{% if add_generation_prompt %}!{% endif %}",
            "[{\"role\": \"user\", \"content\": \"hi\"}]", 0, NULL, NULL, &prompt) == EMBER_OK);
  CHECK(prompt != NULL && strcmp(prompt, "HI") == 0);
  ember_free(prompt);
  CHECK(ember_chat_template_apply("{% if %}", "[]", 1, NULL, NULL, &prompt) ==
        EMBER_INVALID_ARGUMENT);
  CHECK(prompt == NULL && strstr(ember_last_error(), "chat template") != NULL);

  if (failures == 0) printf("c api: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
