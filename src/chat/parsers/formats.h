// Per-format parser construction.
#pragma once

#include <memory>
#include <optional>

#include "chat/chat_format.h"
#include "chat/parsers/emitter.h"
#include "chat/parsers/engine.h"

namespace ember::chat::detail {

struct ParserSetup {
  ChatFormat format = ChatFormat::kContentOnly;
  std::optional<ReasoningSyntax> reasoning;  // nullopt: reasoning is not split off
  bool reasoning_open = false;               // the prompt ended inside the reasoning block
  bool tools = true;                         // tool calls are parsed
  Json tool_definitions;                     // the request's tools (types of XML parameters)
};

std::unique_ptr<ParserImpl> make_parser_impl(const ParserSetup& setup);

// GPT-OSS's harmony messages (gpt_oss.cc).
std::unique_ptr<ParserImpl> make_gpt_oss_parser(bool tools, bool reasoning);

IdStyle id_style_for(ChatFormat format);

}  // namespace ember::chat::detail
