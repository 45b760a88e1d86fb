/* A C program built against the *installed* ember (pkg-config or find_package(ember)): loads a
 * model, generates greedily through the C API and checks the result against the engine's own
 * contract (finish reason, token count, tokens ↔ text). Usage: consumer_c MODEL.gguf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/ember.h>

static int on_chunk(const char* text, size_t len, void* user) {
  size_t* total = (size_t*)user;
  (void)text;
  *total += len;
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
    return 2;
  }
  ember_engine_options opts;
  ember_engine_options_init(&opts);
  opts.n_ctx = 128;
  opts.n_threads = 1;
  ember_engine* engine = NULL;
  if (ember_engine_load(argv[1], &opts, &engine) != EMBER_OK) {
    fprintf(stderr, "load failed: %s\n", ember_last_error());
    return 1;
  }
  ember_generation_params params;
  ember_generation_params_init(&params);
  params.max_tokens = 8;
  params.temperature = 0.0f;
  params.ignore_eos = 1;
  size_t streamed = 0;
  ember_result* result = NULL;
  if (ember_generate(engine, "Once upon a time", &params, on_chunk, &streamed, &result) !=
      EMBER_OK) {
    fprintf(stderr, "generate failed: %s\n", ember_last_error());
    ember_engine_free(engine);
    return 1;
  }
  size_t n_tokens = 0;
  const int32_t* tokens = ember_result_tokens(result, &n_tokens);
  const char* text = ember_result_text(result);
  int ok = ember_result_finish_reason(result) == EMBER_FINISH_LENGTH && n_tokens == 8 &&
           streamed + strlen(ember_result_tail(result)) == strlen(text);
  /* The generated tokens detokenize to the generated text. */
  char buffer[1024];
  size_t len = 0;
  ok = ok &&
       ember_detokenize(engine, tokens, n_tokens, 0, 0, buffer, sizeof buffer, &len) == EMBER_OK &&
       strcmp(buffer, text) == 0;
  printf("C consumer: %zu tokens: %s\n", n_tokens, text);
  ember_result_free(result);
  ember_engine_free(engine);
  return ok ? 0 : 1;
}
