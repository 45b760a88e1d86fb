// The request's tools array, checked and flattened for the grammar-spec builders.
#pragma once

#include <string>
#include <vector>

#include "chat/chat_format.h"
#include "ember/status.h"

namespace ember::chat::detail {

struct ToolInfo {
  std::string name;
  Json parameters;  // a JSON schema (an empty object schema when the tool gave none)
};

// OpenAI-style tools: [{"type": "function", "function": {"name": ..., "parameters": ...}}]
// (a bare {"name", "parameters"} object is accepted too). Errors name the offending entry.
Result<std::vector<ToolInfo>> read_tools(const Json& tools);

}  // namespace ember::chat::detail
