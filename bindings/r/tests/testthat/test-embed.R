# llama_embeddings / llama_embed_batch against llama.cpp's reference vectors (testdata
# embed/expected: cosine >= 0.9999 for f32 models, the raw vector's norm as llama.cpp's).
cosine <- function(a, b) sum(a * b) / sqrt(sum(a^2) * sum(b^2))

test_that("embeddings match the reference, batched rows equal single texts", {
  path <- testdata_path("embed", "models", "bert-mean-f32.gguf")
  ref <- jsonlite::fromJSON(testdata_path("embed", "expected", "bert-mean-f32.json"),
                            simplifyVector = FALSE)
  ctx <- test_context("embed", "models", "bert-mean-f32.gguf")
  inputs <- ref$inputs[1:3]
  texts <- vapply(inputs, function(x) x$text, "")
  m <- llama_embed_batch(ctx, texts)
  expect_true(is.matrix(m))
  expect_equal(dim(m), c(length(texts), ref$n_embd))
  for (i in seq_along(inputs)) {
    want <- unlist(inputs[[i]]$embedding)
    expect_gte(cosine(m[i, ], want), 0.9999)
    expect_lt(abs(sqrt(sum(m[i, ]^2)) - inputs[[i]]$l2_norm), 1e-3 * inputs[[i]]$l2_norm)
    one <- llama_embeddings(ctx, texts[[i]])
    expect_true(is.numeric(one) && is.null(dim(one)))
    expect_equal(length(one), ref$n_embd)
    expect_lt(max(abs(one - m[i, ])), 1e-5)
  }
  # Longer than the context: an R error, and the context still works.
  expect_error(llama_embeddings(ctx, strrep("the fox ", 2000)), "context|tokens")
  expect_equal(length(llama_embeddings(ctx, "hello")), ref$n_embd)
})
