// libFuzzer target for the chat output parsers: any model output, in any chunking, must parse
// without crashing, and the streamed result must equal the whole-text result, with deltas that
// rebuild the message.
//
// Input layout: byte 0 picks the format, byte 1 the options (tools on/off, reasoning forced
// open, reasoning extracted), byte 2 seeds the chunk sizes; the rest is the model output.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_format.h"
#include "chat/output_parser.h"

namespace {

using ember::chat::ChatDelta;
using ember::chat::ChatFormat;
using ember::chat::OutputParser;
using ember::chat::OutputParserOptions;
using ember::chat::ParsedMessage;

constexpr ChatFormat kFormats[] = {
    ChatFormat::kContentOnly,    ChatFormat::kChatML,         ChatFormat::kGemma,
    ChatFormat::kPhi3,           ChatFormat::kGeneric,        ChatFormat::kHermes2Pro,
    ChatFormat::kQwen3CoderXml,  ChatFormat::kSeedOss,        ChatFormat::kMiniMaxM2,
    ChatFormat::kGlm45,          ChatFormat::kLlama3x,        ChatFormat::kFunctionaryV31,
    ChatFormat::kFunctionaryV32, ChatFormat::kFirefunctionV2, ChatFormat::kMistralNemo,
    ChatFormat::kMistralSmall,   ChatFormat::kDeepSeekR1,     ChatFormat::kDeepSeekV31,
    ChatFormat::kGptOss,         ChatFormat::kCommandR7B,     ChatFormat::kGranite,
    ChatFormat::kKimiK2,         ChatFormat::kNemotronV2,     ChatFormat::kApertus,
    ChatFormat::kLfm2,           ChatFormat::kApriel,         ChatFormat::kGigaChatV3,
    ChatFormat::kGemma4,
};

struct Outcome {
  std::vector<ChatDelta> deltas;
  ParsedMessage message;
};

Outcome run(const OutputParserOptions& opt, std::string_view text, uint32_t seed) {
  Outcome o;
  auto parser = OutputParser::create(opt);
  if (!parser.ok()) std::abort();
  size_t pos = 0;
  uint32_t state = seed * 2654435761u + 1;
  while (pos < text.size()) {
    size_t n = text.size() - pos;
    if (seed != 0) {
      state = state * 1664525u + 1013904223u;
      n = std::min<size_t>(n, 1 + (state >> 24) % 9);
    }
    for (auto& d : parser->feed(text.substr(pos, n))) o.deltas.push_back(std::move(d));
    pos += n;
  }
  OutputParser::Final f = parser->finish();
  for (auto& d : f.deltas) o.deltas.push_back(std::move(d));
  o.message = std::move(f.message);
  return o;
}

void check_deltas(const Outcome& o) {
  std::string content, reasoning;
  std::vector<ember::chat::ToolCall> calls;
  for (const auto& d : o.deltas) {
    const int set = !d.content.empty() + !d.reasoning_content.empty() + d.tool_call.has_value();
    if (set != 1) std::abort();
    content += d.content;
    reasoning += d.reasoning_content;
    if (d.tool_call) {
      if (d.tool_call->index == calls.size()) {
        calls.push_back({d.tool_call->id, d.tool_call->name, ""});
      } else if (d.tool_call->index + 1 != calls.size()) {
        std::abort();
      }
      calls[d.tool_call->index].arguments += d.tool_call->arguments;
    }
  }
  if (content != o.message.content || reasoning != o.message.reasoning_content ||
      calls != o.message.tool_calls) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  OutputParserOptions opt;
  opt.syntax = ember::chat::chat_syntax_for(kFormats[data[0] % std::size(kFormats)]);
  if (opt.syntax.format == ChatFormat::kChatML || opt.syntax.format == ChatFormat::kHermes2Pro) {
    opt.syntax.reasoning = ember::chat::ReasoningSyntax{"<think>", "</think>"};
  }
  opt.parse_tool_calls = (data[1] & 1) == 0;
  opt.thinking_forced_open = (data[1] & 2) != 0;
  opt.extract_reasoning = (data[1] & 4) == 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 3), size - 3);

  Outcome whole = run(opt, text, 0);
  Outcome chunked = run(opt, text, data[2] == 0 ? 1 : data[2]);
  check_deltas(whole);
  check_deltas(chunked);
  if (!(whole.message == chunked.message)) std::abort();
  return 0;
}
