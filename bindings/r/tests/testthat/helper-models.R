# Test models come from ember's shared test data ($EMBER_TESTDATA, else
# $EMBER_DEFAULT_TESTDATA). Missing data skips the tests, except in CI where it fails.
testdata_path <- function(...) {
  root <- Sys.getenv("EMBER_TESTDATA", Sys.getenv("EMBER_DEFAULT_TESTDATA", ""))
  path <- file.path(root, ...)
  if (root == "" || !file.exists(path)) {
    if (identical(Sys.getenv("CI"), "true")) stop("test data missing: ", path)
    skip(paste("test data missing:", path))
  }
  path
}

load_quietly <- function(path, ...) suppressMessages(llama_load_model(path, ...))

# One context per model file for the whole test run (loading is the slow part).
context_cache <- new.env()
test_context <- function(...) {
  path <- testdata_path(...)
  if (is.null(context_cache[[path]])) {
    model <- load_quietly(path)
    context_cache[[path]] <- llama_new_context(model, n_ctx = 512L, n_threads = 2L)
  }
  context_cache[[path]]
}

# Streams a generation: the chunks and the held-back tail from llama_gen_end.
stream <- function(ctx, prompt, ...) {
  state <- llama_gen_begin(ctx, prompt, ...)
  chunks <- character()
  while (!is.null(chunk <- llama_gen_next(state))) chunks <- c(chunks, chunk)
  list(chunks = chunks, tail = llama_gen_end(state))
}
