test_that("llama_chat_apply_template renders as Jinja2 does", {
  # Reference renders made with Python's Jinja2 (testdata chat-renders/); cases without tools.
  ref <- jsonlite::fromJSON(testdata_path("chat-renders", "microsoft-Phi-3.5-mini-instruct.json"),
                            simplifyVector = FALSE)
  template <- readChar(testdata_path("templates", ref$template), 1e6, useBytes = TRUE)
  Encoding(template) <- "UTF-8"
  n <- 0L
  for (name in names(ref$cases)) {
    case <- ref$cases[[name]]
    if (!is.null(case$input$tools) || length(setdiff(names(case$input),
                                                     c("messages", "add_generation_prompt")))) {
      next
    }
    # llama_chat_apply_template has no model, so no bos_token / eos_token (rendered as "").
    if (grepl(ref$eos_token, case$expected, fixed = TRUE) ||
        grepl(ref$bos_token, case$expected, fixed = TRUE)) {
      next
    }
    got <- llama_chat_apply_template(case$input$messages, template = template,
                                     add_generation_prompt = isTRUE(case$input$add_generation_prompt))
    expect_identical(got, case$expected, label = name)
    n <- n + 1L
  }
  expect_gt(n, 2L)
})

test_that("llama_chat_template returns the model's template or NULL", {
  m <- load_quietly(testdata_path("models", "qwen2-q8_0.gguf"))
  expect_match(llama_chat_template(m), "im_start")
  expect_null(llama_chat_template(load_quietly(testdata_path("real", "models",
                                                             "stories260k-f32.gguf"))))
})

test_that("llama_chat returns content, reasoning and parsed tool calls as R lists", {
  ctx <- test_context("models", "qwen2-q8_0.gguf")
  tools <- '[{"type": "function", "function": {"name": "get_weather", "parameters":
    {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
     "required": ["city"]}}}]'
  r <- llama_chat(ctx, list(list(role = "user", content = "Weather in Paris?")), tools = tools,
                  tool_choice = "required", max_new_tokens = 200L, seed = 3L)
  expect_identical(r$finish_reason, "tool_calls")
  expect_length(r$tool_calls, 1L)
  call <- r$tool_calls[[1L]]
  expect_identical(call$name, "get_weather")
  expect_true(call$arguments$city %in% c("Paris", "Rome"))
  expect_identical(jsonlite::fromJSON(call$arguments_json, simplifyVector = FALSE),
                   call$arguments)

  plain <- llama_chat(ctx, list(list(role = "user", content = "Hi")), max_new_tokens = 8L,
                      seed = 1L)
  expect_type(plain$content, "character")
  expect_type(plain$reasoning, "character")
  expect_length(plain$tool_calls, 0L)
  expect_identical(plain$usage$completion_tokens, 8L)
})

test_that("llama_chat follows a json_schema response format", {
  ctx <- test_context("models", "qwen2-q8_0.gguf")
  format <- list(type = "json_schema", json_schema = list(name = "answer", schema = list(
    type = "object", properties = list(n = list(type = "integer")), required = list("n"))))
  r <- llama_chat(ctx, list(list(role = "user", content = "A number")),
                  response_format = format, max_new_tokens = 48L, seed = 2L)
  skip_if(r$finish_reason == "length", "the model did not finish within 48 tokens")
  value <- jsonlite::fromJSON(r$content, simplifyVector = FALSE)
  expect_true(is.numeric(value$n) && value$n == trunc(value$n))
})
