# llamaR's API over ember's C API (src/ember_r.c). Names, arguments and defaults follow llamaR
# 0.2.x's reference manual; arguments that only make sense on a GPU (or for llama.cpp's
# internals) are accepted and ignored with a message. Argument types are checked here so the
# native layer only ever sees what it expects; every problem is an R error.

.check_string <- function(x, name) {
  if (!is.character(x) || length(x) != 1L || is.na(x)) {
    stop(sprintf("'%s' must be a single string", name), call. = FALSE)
  }
  x
}

.check_flag <- function(x, name) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    stop(sprintf("'%s' must be TRUE or FALSE", name), call. = FALSE)
  }
  x
}

.check_number <- function(x, name) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x)) {
    stop(sprintf("'%s' must be a single finite number", name), call. = FALSE)
  }
  as.numeric(x)
}

.check_integer <- function(x, name) {
  x <- .check_number(x, name)
  if (x != trunc(x) || abs(x) > .Machine$integer.max) {
    stop(sprintf("'%s' must be a whole number", name), call. = FALSE)
  }
  as.integer(x)
}

.ignored <- function(name, why = "ember runs on the CPU") {
  message(sprintf("ember: '%s' is ignored (%s)", name, why))
}

.to_json <- function(x) {
  as.character(jsonlite::toJSON(x, auto_unbox = TRUE, null = "null", na = "null",
                                digits = NA))
}

# The sampling arguments in the order src/ember_r.c reads them.
.sampling <- function(max_new_tokens, temp, top_k, top_p, seed, min_p, typical_p,
                      repeat_penalty, repeat_last_n, frequency_penalty, presence_penalty,
                      mirostat, mirostat_tau, mirostat_eta, grammar) {
  max_new_tokens <- .check_integer(max_new_tokens, "max_new_tokens")
  if (max_new_tokens < 0L) stop("'max_new_tokens' must be >= 0", call. = FALSE)
  seed <- .check_number(seed, "seed")
  if (seed != trunc(seed) || seed > 4294967294) {
    stop("'seed' must be a whole number below 2^32 - 1 (negative = random)", call. = FALSE)
  }
  mirostat <- .check_integer(mirostat, "mirostat")
  if (!mirostat %in% 0:2) stop("'mirostat' must be 0, 1 or 2", call. = FALSE)
  if (!is.null(grammar)) .check_string(grammar, "grammar")
  c(max_new_tokens, .check_number(temp, "temp"), .check_integer(top_k, "top_k"),
    .check_number(top_p, "top_p"), seed, .check_number(min_p, "min_p"),
    .check_number(typical_p, "typical_p"), .check_number(repeat_penalty, "repeat_penalty"),
    .check_integer(repeat_last_n, "repeat_last_n"),
    .check_number(frequency_penalty, "frequency_penalty"),
    .check_number(presence_penalty, "presence_penalty"), mirostat,
    .check_number(mirostat_tau, "mirostat_tau"), .check_number(mirostat_eta, "mirostat_eta"))
}

llama_load_model <- function(path, n_gpu_layers = -1L, devices = NULL, split_mode = "layer",
                             use_mmap = TRUE, use_mlock = FALSE, numerics = "fast") {
  .check_string(path, "path")
  .check_string(numerics, "numerics")
  .check_flag(use_mmap, "use_mmap")
  .check_flag(use_mlock, "use_mlock")
  n_gpu_layers <- .check_integer(n_gpu_layers, "n_gpu_layers")
  if (n_gpu_layers != 0L) .ignored("n_gpu_layers")
  if (!is.null(devices) && !identical(tolower(devices), "cpu")) .ignored("devices")
  if (!identical(split_mode, "layer")) .ignored("split_mode")
  if (use_mlock) .ignored("use_mlock", "not supported")
  .Call(r_model_load, path, use_mmap, numerics)
}

llama_free_model <- function(model) {
  invisible(.Call(r_model_free, model))
}

llama_model_info <- function(model) {
  .Call(r_model_info, model)
}

llama_new_context <- function(model, n_ctx = 2048L, n_threads = NULL, n_threads_batch = NULL,
                              n_batch = 2048L, n_ubatch = 512L, n_seq_max = 1L,
                              flash_attn = "auto", embedding = FALSE) {
  n_ctx <- .check_integer(n_ctx, "n_ctx")
  if (n_ctx < 0L) stop("'n_ctx' must be >= 0 (0 = the model's training context)", call. = FALSE)
  if (is.null(n_threads)) n_threads <- 4L
  n_threads <- .check_integer(n_threads, "n_threads")
  if (n_threads < 1L) stop("'n_threads' must be >= 1", call. = FALSE)
  if (!is.null(n_threads_batch) && .check_integer(n_threads_batch, "n_threads_batch") != n_threads) {
    .ignored("n_threads_batch", "ember uses n_threads for the prompt too")
  }
  n_batch <- .check_integer(n_batch, "n_batch")
  if (n_batch < 1L) stop("'n_batch' must be >= 1", call. = FALSE)
  if (.check_integer(n_ubatch, "n_ubatch") != 512L) .ignored("n_ubatch", "ember sizes its own batches")
  if (.check_integer(n_seq_max, "n_seq_max") != 1L) {
    stop("'n_seq_max' > 1 is not supported: an ember context runs one sequence", call. = FALSE)
  }
  if (!flash_attn %in% c("auto", "on", "off")) {
    stop("'flash_attn' must be \"auto\", \"on\" or \"off\"", call. = FALSE)
  }
  if (flash_attn != "auto") .ignored("flash_attn", "ember picks its attention kernel itself")
  # Every ember context embeds (llama_embeddings); the flag is checked and needs nothing more.
  .check_flag(embedding, "embedding")
  .Call(r_context_new, model, n_ctx, n_threads, n_batch)
}

llama_free_context <- function(ctx) {
  invisible(.Call(r_context_free, ctx))
}

llama_tokenize <- function(ctx, text, add_special = TRUE, parse_special = FALSE) {
  .check_string(text, "text")
  .Call(r_tokenize, ctx, enc2utf8(text), .check_flag(add_special, "add_special"),
        .check_flag(parse_special, "parse_special"))
}

llama_detokenize <- function(ctx, tokens) {
  if (!is.numeric(tokens) || anyNA(tokens) || any(tokens != trunc(tokens))) {
    stop("'tokens' must be a vector of token ids (whole numbers, no NA)", call. = FALSE)
  }
  .Call(r_detokenize, ctx, as.integer(tokens))
}

llama_generate <- function(ctx, prompt, max_new_tokens = 256L, temp = 0.8, top_k = 50L,
                           top_p = 0.9, seed = 42L, min_p = 0, typical_p = 1,
                           repeat_penalty = 1, repeat_last_n = 64L, frequency_penalty = 0,
                           presence_penalty = 0, mirostat = 0L, mirostat_tau = 5,
                           mirostat_eta = 0.1, grammar = NULL, with_timings = FALSE) {
  .check_string(prompt, "prompt")
  params <- .sampling(max_new_tokens, temp, top_k, top_p, seed, min_p, typical_p,
                      repeat_penalty, repeat_last_n, frequency_penalty, presence_penalty,
                      mirostat, mirostat_tau, mirostat_eta, grammar)
  .check_flag(with_timings, "with_timings")
  out <- .Call(r_generate, ctx, enc2utf8(prompt), params,
               if (is.null(grammar)) NULL else enc2utf8(grammar))
  if (!with_timings) return(out[[1L]])
  t <- out[[2L]]
  list(text = out[[1L]],
       timings = list(prompt_tokens = t[[1L]], generated_tokens = t[[2L]],
                      prompt_tokens_per_second = t[[3L]],
                      generation_tokens_per_second = t[[4L]]))
}

llama_gen_begin <- function(ctx, prompt, max_new_tokens = 256L, temp = 0.8, top_k = 50L,
                            top_p = 0.9, seed = 42L, min_p = 0, typical_p = 1,
                            repeat_penalty = 1, repeat_last_n = 64L, frequency_penalty = 0,
                            presence_penalty = 0, mirostat = 0L, mirostat_tau = 5,
                            mirostat_eta = 0.1, grammar = NULL) {
  .check_string(prompt, "prompt")
  params <- .sampling(max_new_tokens, temp, top_k, top_p, seed, min_p, typical_p,
                      repeat_penalty, repeat_last_n, frequency_penalty, presence_penalty,
                      mirostat, mirostat_tau, mirostat_eta, grammar)
  .Call(r_gen_begin, ctx, enc2utf8(prompt), params,
        if (is.null(grammar)) NULL else enc2utf8(grammar))
}

llama_gen_next <- function(state) {
  .Call(r_gen_next, state)
}

llama_gen_end <- function(state) {
  .Call(r_gen_end, state)
}

llama_chat_template <- function(model, name = NULL) {
  if (!is.null(name)) {
    .check_string(name, "name")
    stop("named chat templates are not supported: ember reads the model's default template",
         call. = FALSE)
  }
  .Call(r_chat_template, model)
}

.check_messages <- function(messages) {
  if (is.character(messages)) return(.check_string(messages, "messages"))
  ok <- is.list(messages) && length(messages) > 0L &&
    all(vapply(messages, function(m) is.list(m) && is.character(m$role), logical(1)))
  if (!ok) {
    stop("'messages' must be a non-empty list of messages, each a list with 'role' and ",
         "'content' (or a JSON array as a string)", call. = FALSE)
  }
  .to_json(messages)
}

llama_chat_apply_template <- function(messages, template = NULL, add_generation_prompt = TRUE) {
  json <- .check_messages(messages)
  if (!is.null(template)) .check_string(template, "template")
  .Call(r_chat_template_apply, if (is.null(template)) NULL else enc2utf8(template),
        enc2utf8(json), .check_flag(add_generation_prompt, "add_generation_prompt"))
}

llama_chat <- function(ctx, messages, tools = NULL, tool_choice = "auto",
                       response_format = NULL, max_new_tokens = 256L, temp = 0.8, top_k = 50L,
                       top_p = 0.9, seed = 42L, min_p = 0, repeat_penalty = 1,
                       frequency_penalty = 0, presence_penalty = 0, stop = NULL,
                       enable_thinking = NULL) {
  json <- .check_messages(messages)
  request <- list(max_tokens = .check_integer(max_new_tokens, "max_new_tokens"),
                  temperature = .check_number(temp, "temp"),
                  top_k = .check_integer(top_k, "top_k"), top_p = .check_number(top_p, "top_p"),
                  min_p = .check_number(min_p, "min_p"),
                  repeat_penalty = .check_number(repeat_penalty, "repeat_penalty"),
                  frequency_penalty = .check_number(frequency_penalty, "frequency_penalty"),
                  presence_penalty = .check_number(presence_penalty, "presence_penalty"))
  seed <- .check_number(seed, "seed")
  if (seed >= 0) request$seed <- seed
  if (!is.null(stop)) {
    if (!is.character(stop) || anyNA(stop)) stop("'stop' must be a character vector", call. = FALSE)
    request$stop <- as.list(stop)
  }
  if (!is.null(enable_thinking)) request$enable_thinking <- .check_flag(enable_thinking, "enable_thinking")
  if (is.list(tool_choice)) {
    request$tool_choice <- tool_choice
  } else {
    request$tool_choice <- .check_string(tool_choice, "tool_choice")
  }
  request_json <- .to_json(request)
  # tools / response_format may be R lists or JSON text (JSON keeps empty objects exact).
  splice <- function(json, key, value) {
    value_json <- if (is.character(value)) .check_string(value, key) else .to_json(value)
    sub("\\}$", sprintf(",\"%s\":%s}", key, value_json), json)
  }
  if (!is.null(tools)) request_json <- splice(request_json, "tools", tools)
  if (!is.null(response_format)) {
    request_json <- splice(request_json, "response_format", response_format)
  }
  completion <- jsonlite::fromJSON(.Call(r_chat, ctx, enc2utf8(json), enc2utf8(request_json)),
                                   simplifyVector = FALSE)
  choice <- completion$choices[[1L]]
  message <- choice$message
  calls <- lapply(message$tool_calls, function(call) {
    args <- tryCatch(jsonlite::fromJSON(call$`function`$arguments, simplifyVector = FALSE),
                     error = function(e) NULL)
    list(id = call$id, name = call$`function`$name, arguments = args,
         arguments_json = call$`function`$arguments)
  })
  list(content = if (is.null(message$content)) "" else message$content,
       reasoning = if (is.null(message$reasoning_content)) "" else message$reasoning_content,
       tool_calls = calls, finish_reason = choice$finish_reason, usage = completion$usage)
}

llama_embeddings <- function(ctx, text) {
  .check_string(text, "text")
  .Call(r_embed, ctx, enc2utf8(text))[1L, ]
}

llama_embed_batch <- function(ctx, texts) {
  if (!is.character(texts) || length(texts) == 0L || anyNA(texts)) {
    stop("'texts' must be a non-empty character vector without NA", call. = FALSE)
  }
  .Call(r_embed, ctx, enc2utf8(texts))
}
