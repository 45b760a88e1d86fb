// libFuzzer target for chat requests: an OpenAI chat request, as JSON text, goes through the
// request parsers (chat_messages_from_json, ChatParams::from_json) and, when both accept it,
// through chat::plan_chat: template render, polyfills, injection-safe tokenization, stops and the
// tool_choice / response_format grammars. Every step must return a value or an error; a plan's
// token ids must lie in the vocabulary and its grammar, if any, must compile.
//
// Input layout: byte 0 picks the chat template (ChatML default, Qwen3, Llama 3.1, Mistral Small
// 3.2); the rest is the request JSON. The tokenizer is ggml-vocab-llama-bpe.gguf (Llama 3, with
// its <|start_header_id|> / <|eot_id|> special tokens), loaded once from $EMBER_TESTDATA/vocab or
// ../shared/testdata/vocab (relative to the current directory), like the templates.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_prompt.h"
#include "ember/chat.h"
#include "ember/tokenizer.h"
#include "grammar/gbnf_parser.h"

namespace {

using ember::Json;

constexpr const char* kTemplateFiles[] = {
    "Qwen-Qwen3-0.6B.jinja",
    "meta-llama-Llama-3.1-8B-Instruct.jinja",
    "Mistral-Small-3.2-24B-Instruct-2506.jinja",
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "chat_request_fuzz: %s\n", what.c_str());
  std::exit(1);
}

std::filesystem::path testdata_dir() {
  if (const char* env = std::getenv("EMBER_TESTDATA"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::filesystem::current_path() / ".." / "shared" / "testdata";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path.string() + " (set EMBER_TESTDATA to the testdata folder)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Setup {
  ember::Tokenizer tokenizer;
  std::vector<std::string> templates;  // [0] = "" (the ChatML default)
};

const Setup& setup() {
  static const Setup s = [] {
    const std::filesystem::path dir = testdata_dir();
    const std::filesystem::path vocab = dir / "vocab" / "ggml-vocab-llama-bpe.gguf";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(vocab, ec)) {
      fail("missing " + vocab.string() + " (set EMBER_TESTDATA to the testdata folder)");
    }
    auto tok = ember::Tokenizer::load(vocab.string());
    if (!tok.ok()) fail("cannot load " + vocab.string());
    Setup out{std::move(tok).value(), {""}};
    for (const char* name : kTemplateFiles) {
      out.templates.push_back(read_file(dir / "templates" / name));
    }
    return out;
  }();
  return s;
}

}  // namespace

// Loading the vocabulary takes a while under ASan: do it before the first timed input.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  setup();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Setup& s = setup();
  const std::string& tmpl = s.templates[data[0] % s.templates.size()];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const Json request = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) return 0;
  const auto it = request.find("messages");
  const Json messages_json = it != request.end() ? *it : Json();

  auto messages = ember::chat_messages_from_json(messages_json);
  auto params = ember::ChatParams::from_json(request);
  if (!messages.ok() || !params.ok()) return 0;

  auto plan = ember::chat::plan_chat(s.tokenizer, tmpl, *messages, *params);
  if (!plan.ok()) return 0;
  for (int32_t id : plan->tokens) {
    if (id < 0 || id >= s.tokenizer.n_vocab()) std::abort();
  }
  // The grammar built for tool_choice / response_format must compile (limits aside).
  if (!plan->generation.grammar.empty()) {
    auto g = ember::grammar::parse_gbnf(plan->generation.grammar);
    if (!g.ok() && g.status().code() != ember::StatusCode::kResourceExhausted &&
        g.status().message().find("too large") == std::string::npos) {
      std::fprintf(stderr, "chat_request_fuzz: generated grammar does not compile: %s\n%s\n",
                   g.status().message().c_str(), plan->generation.grammar.c_str());
      std::abort();
    }
  }
  return 0;
}
