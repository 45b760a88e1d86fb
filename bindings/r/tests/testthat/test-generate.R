models <- list(c("models", "llama-spm-q8_0.gguf"), c("models", "llama3-bpe-q4_k_m.gguf"),
               c("models", "qwen2-q8_0.gguf"), c("real", "models", "stories260k-f32.gguf"))
settings <- list(
  defaults = list(),
  greedy = list(temp = 0),
  hot = list(temp = 1.3, top_k = 0L, top_p = 1, min_p = 0.02),
  penalties = list(repeat_penalty = 1.3, repeat_last_n = 16L, frequency_penalty = 0.4,
                   presence_penalty = 0.3),
  typical = list(typical_p = 0.7, top_k = 100L),
  mirostat = list(mirostat = 2L, mirostat_tau = 4, mirostat_eta = 0.2))

test_that("gen_begin/next/end concatenated equals llama_generate (5 seeds, several samplers)", {
  for (m in models) {
    ctx <- do.call(test_context, as.list(m))
    for (name in names(settings)) {
      for (seed in 1:5) {
        args <- c(list(ctx, "Once upon a time", max_new_tokens = 16L, seed = seed),
                  settings[[name]])
        whole <- do.call(llama_generate, args)
        s <- do.call(stream, args)
        label <- sprintf("%s, %s, seed %d", m[length(m)], name, seed)
        expect_identical(paste0(paste(s$chunks, collapse = ""), s$tail), whole, label = label)
        expect_true(all(nzchar(s$chunks)), label = label)
        expect_true(all(validUTF8(c(s$chunks, s$tail))), label = label)
        expect_identical(Encoding(whole) %in% c("UTF-8", "unknown"), TRUE)
      }
    }
  }
})

test_that("the same seed gives the same text, another seed (usually) another", {
  ctx <- test_context("real", "models", "stories260k-f32.gguf")
  a <- llama_generate(ctx, "Once upon a time", max_new_tokens = 24L, seed = 7L)
  b <- llama_generate(ctx, "Once upon a time", max_new_tokens = 24L, seed = 7L)
  expect_identical(a, b)
  texts <- vapply(1:5, function(s) llama_generate(ctx, "Once upon a time",
                                                  max_new_tokens = 24L, seed = s), "")
  expect_gt(length(unique(texts)), 1L)
})

test_that("greedy stories260k continues as llama.cpp does", {
  # The real model's greedy continuation, from llama.cpp (testdata real/golden, p1).
  golden <- jsonlite::fromJSON(testdata_path("real", "golden", "stories260k-f32.p1.json"))
  ctx <- test_context("real", "models", "stories260k-f32.gguf")
  expect_identical(llama_tokenize(ctx, golden$prompt, add_special = golden$add_special,
                                  parse_special = golden$parse_special),
                   as.integer(golden$prompt_tokens))
  # Compare up to the first near-tie of the reference (margin < 0.1).
  n <- which(c(golden$greedy_margins, 0) < 0.1)[1] - 1L
  skip_if(n < 4L, "reference continuation has an early near-tie")
  state <- llama_gen_begin(ctx, golden$prompt, max_new_tokens = n, temp = 0)
  text <- character()
  while (!is.null(chunk <- llama_gen_next(state))) text <- c(text, chunk)
  text <- paste0(paste(text, collapse = ""), llama_gen_end(state))
  # llama.cpp's continuation bytes, cut after the n-th token.
  hex <- golden$greedy_bytes_hex
  bytes <- as.raw(strtoi(substring(hex, seq(1L, nchar(hex), 2L), seq(2L, nchar(hex), 2L)), 16L))
  expected <- rawToChar(bytes)
  Encoding(expected) <- "UTF-8"
  expect_true(startsWith(expected, text))
  expect_gt(nchar(text), 10L)
})

test_that("llama_tokenize matches llama.cpp's tokens", {
  for (m in c("llama-spm-q8_0", "llama3-bpe-q4_k_m", "qwen2-q8_0")) {
    golden <- jsonlite::fromJSON(testdata_path("golden", paste0(m, ".p2.json")))
    ctx <- test_context("models", paste0(m, ".gguf"))
    expect_identical(llama_tokenize(ctx, golden$prompt, add_special = golden$add_special,
                                    parse_special = golden$parse_special),
                     as.integer(golden$prompt_tokens), label = m)
  }
})

test_that("multi-byte characters split across tokens never reach R broken", {
  ctx <- test_context("models", "llama-spm-q8_0.gguf")
  text <- "\u65e5\u672c\u8a9e \u00e9t\u00e9 \U0001F600"
  # The vocabulary spells these with byte tokens: several tokens per character.
  expect_gt(length(llama_tokenize(ctx, text, add_special = FALSE)), nchar(text))
  grammar <- sprintf("root ::= \"%s\"", text)
  for (seed in 1:5) {
    s <- stream(ctx, "x", max_new_tokens = 64L, seed = seed, temp = 1.5, grammar = grammar)
    expect_true(all(validUTF8(c(s$chunks, s$tail))))
    expect_identical(paste0(paste(s$chunks, collapse = ""), s$tail), enc2utf8(text))
  }
})

test_that("grammar-constrained output matches its grammar", {
  grammar <- 'root ::= ("yes" | "no") ", " [0-9] [0-9] " items"'
  for (m in list(c("models", "qwen2-q8_0.gguf"), c("real", "models", "stories260k-f32.gguf"))) {
    ctx <- do.call(test_context, as.list(m))
    for (seed in 1:5) {
      out <- llama_generate(ctx, "Answer:", max_new_tokens = 32L, seed = seed, temp = 1.2,
                            grammar = grammar)
      expect_match(out, "^(yes|no), [0-9]{2} items$")
      s <- stream(ctx, "Answer:", max_new_tokens = 32L, seed = seed, temp = 1.2,
                  grammar = grammar)
      expect_identical(paste0(paste(s$chunks, collapse = ""), s$tail), out)
    }
  }
})

test_that("with_timings reports the counts", {
  ctx <- test_context("real", "models", "stories260k-f32.gguf")
  r <- llama_generate(ctx, "Once upon a time", max_new_tokens = 5L, temp = 0,
                      with_timings = TRUE)
  expect_type(r$text, "character")
  expect_equal(r$timings$generated_tokens, 5)
  expect_gt(r$timings$prompt_tokens, 0)
})

test_that("llama_model_info reports the model (stories260k: llama, 5 layers, 64 wide)", {
  m <- load_quietly(testdata_path("real", "models", "stories260k-f32.gguf"))
  info <- llama_model_info(m)
  # The checkpoint's published shape (testdata README).
  expect_identical(info[c("n_embd", "n_vocab", "n_layer", "n_head", "n_head_kv")],
                   list(n_embd = 64L, n_vocab = 512L, n_layer = 5L, n_head = 8L,
                        n_head_kv = 4L))
  expect_identical(info$architecture, "llama")
  expect_true(info$n_params >= 512 * 64 && info$n_params < 1e6)
  expect_equal(info$size, info$n_params * 4)  # f32: four bytes per parameter
  expect_identical(c(info$has_encoder, info$has_decoder, info$is_recurrent), c(FALSE, TRUE, FALSE))
  expect_match(info$desc, "^llama ")
})
