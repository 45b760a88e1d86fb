test_that("bad paths, freed handles and wrong types are R errors", {
  expect_error(load_quietly("/nonexistent/model.gguf"), "failed to load model")
  expect_error(llama_load_model(42), "'path' must be a single string")
  path <- testdata_path("real", "models", "stories260k-f32.gguf")
  model <- load_quietly(path)
  ctx <- llama_new_context(model, n_ctx = 128L, n_threads = 1L)

  expect_error(llama_generate(model, "x"), "expected a context handle")
  expect_error(llama_generate("ctx", "x"), "expected a context handle")
  expect_error(llama_new_context(ctx), "expected a model handle")
  expect_error(llama_gen_next(ctx), "expected a generation state handle")
  expect_error(llama_generate(ctx, 1), "'prompt' must be a single string")
  expect_error(llama_generate(ctx, "x", temp = "hot"), "'temp' must be a single finite number")
  expect_error(llama_generate(ctx, "x", top_p = 3), "top_p")
  expect_error(llama_generate(ctx, "x", mirostat = 3L), "'mirostat' must be 0, 1 or 2")
  expect_error(llama_generate(ctx, "x", grammar = "root ::= ("), "grammar")
  expect_error(llama_tokenize(ctx, c("a", "b")), "'text' must be a single string")
  expect_error(llama_detokenize(ctx, c(1, NA)), "'tokens'")
  expect_error(llama_detokenize(ctx, 1e6), "token")
  expect_error(llama_new_context(model, n_seq_max = 2L), "n_seq_max")
  expect_error(llama_new_context(model, embedding = "yes"), "embedding")
  # A text-generation model without a pooling type cannot embed.
  expect_error(llama_embeddings(ctx, "x"), "pooling type")
  expect_error(llama_embeddings(ctx, c("a", "b")), "'text' must be a single string")
  expect_error(llama_embed_batch(ctx, character()), "'texts'")
  expect_error(llama_embed_batch(ctx, c("a", NA)), "'texts'")
  expect_error(llama_chat_apply_template(list(), NULL), "'messages'")
  expect_error(llama_chat_apply_template(list(list(role = "user", content = "x")), "{% if %}"),
               "chat template")

  # Errors are conditions a caller can handle.
  cond <- tryCatch(llama_generate(ctx, "x", top_k = "a"), error = identity)
  expect_s3_class(cond, "condition")

  # A stream outlives nothing: freeing its context ends it with an error, not a crash.
  state <- llama_gen_begin(ctx, "Once", max_new_tokens = 8L)
  llama_free_context(ctx)
  expect_error(llama_gen_next(state), "context of this generation was freed")
  expect_error(llama_generate(ctx, "x"), "context handle has been freed")
  llama_free_context(ctx)  # twice is fine
  llama_free_model(model)
  expect_error(llama_model_info(model), "model handle has been freed")
  expect_error(llama_new_context(model), "model handle has been freed")
})

test_that("GPU arguments are accepted and ignored with a message", {
  path <- testdata_path("real", "models", "stories260k-f32.gguf")
  expect_message(m <- llama_load_model(path, n_gpu_layers = 99L), "n_gpu_layers")
  expect_silent(m2 <- llama_load_model(path, n_gpu_layers = 0L))
  expect_message(llama_new_context(m2, n_ctx = 64L, n_threads = 1L, flash_attn = "on"),
                 "flash_attn")
})

test_that("one stream per context: a new one ends the previous one with a clear error", {
  ctx <- test_context("real", "models", "stories260k-f32.gguf")
  first <- llama_gen_begin(ctx, "Once", max_new_tokens = 8L)
  expect_type(llama_gen_next(first), "character")
  second <- llama_gen_begin(ctx, "Once", max_new_tokens = 8L)
  expect_error(llama_gen_next(first), "ended by a later generation")
  expect_type(llama_gen_next(second), "character")
  llama_gen_end(second)
  expect_identical(llama_gen_end(second), "")  # safe to call twice
  expect_null(llama_gen_next(second))
})

test_that("handles are freed by the garbage collector", {
  path <- testdata_path("real", "models", "stories260k-f32.gguf")
  for (i in 1:3) {
    m <- load_quietly(path)
    ctx <- llama_new_context(m, n_ctx = 64L, n_threads = 1L)
    state <- llama_gen_begin(ctx, "Once", max_new_tokens = 4L)
    rm(m, ctx, state)
    gc()
  }
  expect_true(TRUE)
})

test_that("Ctrl-C (SIGINT) stops a generation cleanly and the context stays usable", {
  skip_on_os("windows")
  ctx <- test_context("models", "llama-spm-q8_0.gguf")
  # A long generation (random weights, context 512) interrupted after 0.3 s.
  system(sprintf("sleep 0.3; kill -INT %d", Sys.getpid()), wait = FALSE)
  finished <- FALSE
  r <- tryCatch({
    llama_generate(ctx, "x", max_new_tokens = 100000L, temp = 1.5)
    finished <- TRUE
    Sys.sleep(5)  # the generation ended by itself: let the signal land here, not later
    "slept"
  }, interrupt = function(e) "interrupted")
  if (finished) skip("the generation finished before the interrupt")
  expect_identical(r, "interrupted")
  out <- llama_generate(ctx, "Once", max_new_tokens = 4L, temp = 0)
  expect_type(out, "character")
})
