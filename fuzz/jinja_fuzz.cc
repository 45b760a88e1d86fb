// libFuzzer target for the Jinja engine: lexer, parser and interpreter. Any input must render or
// fail with an error, quickly: the limits are tightened so a runaway template stops within a
// few hundred thousand steps instead of seconds.
//
// Input: template source, optionally followed by a NUL byte and a JSON object used as the
// render context (otherwise a small chat conversation with tools is used).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "chat/jinja/template.h"

namespace {

const nlohmann::ordered_json& default_context() {
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Weather in Paris? \"quoted\" <tag> é😀"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21.5}"},
      {"role": "assistant", "content": [{"type": "text", "text": "It is sunny."}],
       "reasoning_content": "look it up"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"},
      "days": {"type": "integer"}}, "required": ["city"]}}}],
    "add_generation_prompt": true, "enable_thinking": false,
    "bos_token": "<s>", "eos_token": "</s>"
  })");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view source = input.substr(0, nul);
  ember::jinja::ParseOptions parse_options;
  auto tmpl = ember::jinja::Template::parse(source, parse_options);
  if (!tmpl.ok()) return 0;
  ember::jinja::RenderOptions options;
  options.limits.max_steps = 200'000;
  options.limits.max_loop_iterations = 20'000;
  options.limits.max_range = 20'000;
  options.limits.max_output_bytes = 1 << 20;
  std::tm now{};
  now.tm_year = 126;
  now.tm_mon = 6;
  now.tm_mday = 26;
  options.now = now;
  if (nul != std::string_view::npos) {
    auto ctx =
        nlohmann::ordered_json::parse(input.substr(nul + 1), nullptr, /*allow_exceptions=*/false);
    if (ctx.is_object()) {
      auto out = tmpl->render(ctx, options);
      (void)out;
      return 0;
    }
  }
  auto out = tmpl->render(default_context(), options);
  (void)out;
  return 0;
}
