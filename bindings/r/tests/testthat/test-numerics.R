test_that("numerics reaches the library: its name is checked there and reported back", {
  path <- testdata_path("families", "models", "gemma4-q8_0.gguf")
  expect_error(load_quietly(path, numerics = "exact"), "unknown numerics \"exact\"")
  expect_error(load_quietly(path, numerics = c("fast", "reference")), "'numerics'")
  expect_equal(llama_model_info(load_quietly(path))$numerics, "fast")
  model <- load_quietly(path, numerics = "reference")
  expect_equal(llama_model_info(model)$numerics, "reference")
})
