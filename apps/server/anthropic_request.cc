// Anthropic request parsing (see anthropic_request.h).
#include "anthropic_request.h"

#include "json_fields.h"

namespace ember::http {
namespace {

using fields::find;

std::string block_type(const Json& block, const std::string& where, Status& st) {
  std::string type;
  st = fields::read_string(block, "type", where, type);
  if (st.ok() && type.empty()) st = invalid_argument(where + ".type is required");
  return type;
}

Status refuse_block(const std::string& type, const std::string& where) {
  if (type == "image" || type == "document" || type == "search_result") {
    return unimplemented(where + ": " + type +
                         " blocks are not supported (ember serves text-only models)");
  }
  if (type == "server_tool_use" || type == "web_search_tool_result" ||
      type == "code_execution_tool_result" || type == "mcp_tool_use" || type == "mcp_tool_result" ||
      type == "container_upload") {
    return unimplemented(where + ": " + type + " blocks are not supported (no server tools)");
  }
  return invalid_argument(where + ".type '" + type.substr(0, 64) + "' is not a content block type");
}

// A text-only block list (system prompt, tool_result content) joined into one string.
Status text_blocks(const Json& v, const std::string& where, std::string& out) {
  if (v.is_string()) {
    out = v.get<std::string>();
    return Status::Ok();
  }
  if (!v.is_array()) return invalid_argument(where + " must be a string or a list of blocks");
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string bw = where + "[" + std::to_string(i) + "]";
    if (!v[i].is_object()) return invalid_argument(bw + " must be an object");
    Status st;
    const std::string type = block_type(v[i], bw, st);
    EMBER_RETURN_IF_ERROR(st);
    if (type != "text") return refuse_block(type, bw);
    std::string text;
    EMBER_RETURN_IF_ERROR(fields::read_string(v[i], "text", bw, text));
    if (!out.empty()) out += "\n";
    out += text;
  }
  return Status::Ok();
}

Status user_message(const Json& content, const std::string& where, std::vector<ChatMessage>& out) {
  if (content.is_string()) {
    out.push_back(ChatMessage::user(content.get<std::string>()));
    return Status::Ok();
  }
  if (!content.is_array()) return invalid_argument(where + " must be a string or a list of blocks");
  ChatMessage pending;
  pending.role = ChatRole::kUser;
  bool has_pending = false;
  auto flush = [&] {
    if (has_pending) out.push_back(std::move(pending));
    pending = ChatMessage();
    pending.role = ChatRole::kUser;
    has_pending = false;
  };
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string bw = where + "[" + std::to_string(i) + "]";
    const Json& b = content[i];
    if (!b.is_object()) return invalid_argument(bw + " must be an object");
    Status st;
    const std::string type = block_type(b, bw, st);
    EMBER_RETURN_IF_ERROR(st);
    if (type == "text") {
      std::string text;
      EMBER_RETURN_IF_ERROR(fields::read_string(b, "text", bw, text));
      pending.content_parts.push_back(std::move(text));
      has_pending = true;
    } else if (type == "tool_result") {
      flush();
      ChatMessage tool;
      tool.role = ChatRole::kTool;
      EMBER_RETURN_IF_ERROR(fields::read_string(b, "tool_use_id", bw, tool.tool_call_id));
      if (tool.tool_call_id.empty()) return invalid_argument(bw + ".tool_use_id is required");
      if (const Json* c = find(b, "content")) {
        EMBER_RETURN_IF_ERROR(text_blocks(*c, bw + ".content", tool.content));
      }
      bool is_error = false;
      EMBER_RETURN_IF_ERROR(fields::read_bool(b, "is_error", bw, is_error));
      if (is_error) tool.content = "Error: " + tool.content;
      out.push_back(std::move(tool));
    } else {
      return refuse_block(type, bw);
    }
  }
  flush();
  return Status::Ok();
}

Status assistant_message(const Json& content, const std::string& where,
                         std::vector<ChatMessage>& out) {
  ChatMessage m;
  m.role = ChatRole::kAssistant;
  if (content.is_string()) {
    m.content = content.get<std::string>();
    out.push_back(std::move(m));
    return Status::Ok();
  }
  if (!content.is_array()) return invalid_argument(where + " must be a string or a list of blocks");
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string bw = where + "[" + std::to_string(i) + "]";
    const Json& b = content[i];
    if (!b.is_object()) return invalid_argument(bw + " must be an object");
    Status st;
    const std::string type = block_type(b, bw, st);
    EMBER_RETURN_IF_ERROR(st);
    if (type == "text") {
      std::string text;
      EMBER_RETURN_IF_ERROR(fields::read_string(b, "text", bw, text));
      m.content += text;
    } else if (type == "thinking") {
      std::string text;
      EMBER_RETURN_IF_ERROR(fields::read_string(b, "thinking", bw, text));
      m.reasoning_content += text;
    } else if (type == "redacted_thinking") {
      continue;  // encrypted by another provider: nothing a template can render
    } else if (type == "tool_use") {
      ChatToolCall call;
      EMBER_RETURN_IF_ERROR(fields::read_string(b, "id", bw, call.id));
      EMBER_RETURN_IF_ERROR(fields::read_string(b, "name", bw, call.name));
      if (call.id.empty() || call.name.empty()) {
        return invalid_argument(bw + " needs an id and a name");
      }
      const Json* input = find(b, "input");
      if (input != nullptr && !input->is_object()) {
        return invalid_argument(bw + ".input must be an object");
      }
      call.arguments = input != nullptr ? input->dump() : "{}";
      m.tool_calls.push_back(std::move(call));
    } else {
      return refuse_block(type, bw);
    }
  }
  out.push_back(std::move(m));
  return Status::Ok();
}

Status read_tools(const Json& body, ChatParams& p) {
  const Json* tools = find(body, "tools");
  if (tools == nullptr) return Status::Ok();
  if (!tools->is_array()) return invalid_argument("tools must be a list");
  Json out = Json::array();
  for (size_t i = 0; i < tools->size(); ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const Json& t = (*tools)[i];
    if (!t.is_object()) return invalid_argument(where + " must be an object");
    std::string type = "custom", name, description;
    EMBER_RETURN_IF_ERROR(fields::read_string(t, "type", where, type));
    if (type != "custom") {
      return unimplemented(where + ": server tools ('" + type.substr(0, 64) +
                           "') are not supported; define the tool with name and input_schema");
    }
    EMBER_RETURN_IF_ERROR(fields::read_string(t, "name", where, name));
    if (name.empty()) return invalid_argument(where + ".name is required");
    EMBER_RETURN_IF_ERROR(fields::read_string(t, "description", where, description));
    const Json* schema = find(t, "input_schema");
    if (schema == nullptr || !schema->is_object()) {
      return invalid_argument(where + ".input_schema must be a JSON schema object");
    }
    Json fn = {{"name", name}, {"parameters", *schema}};
    if (!description.empty()) fn["description"] = description;
    out.push_back({{"type", "function"}, {"function", std::move(fn)}});
  }
  p.tools = std::move(out);
  return Status::Ok();
}

Status read_tool_choice(const Json& body, ChatParams& p) {
  // Anthropic lets the model call several tools at once unless told otherwise.
  p.parallel_tool_calls = true;
  const Json* tc = find(body, "tool_choice");
  if (tc == nullptr) return Status::Ok();
  if (!tc->is_object()) return invalid_argument("tool_choice must be an object {type}");
  std::string type, name;
  EMBER_RETURN_IF_ERROR(fields::read_string(*tc, "type", "tool_choice", type));
  bool disable_parallel = false;
  EMBER_RETURN_IF_ERROR(
      fields::read_bool(*tc, "disable_parallel_tool_use", "tool_choice", disable_parallel));
  p.parallel_tool_calls = !disable_parallel;
  if (type == "auto") {
    p.tool_choice = "auto";
  } else if (type == "any") {
    p.tool_choice = "required";
  } else if (type == "none") {
    p.tool_choice = "none";
  } else if (type == "tool") {
    EMBER_RETURN_IF_ERROR(fields::read_string(*tc, "name", "tool_choice", name));
    if (name.empty()) return invalid_argument("tool_choice.name is required with type \"tool\"");
    p.tool_choice = name;
  } else {
    return invalid_argument("tool_choice.type must be auto, any, tool or none");
  }
  return Status::Ok();
}

Status read_thinking(const Json& body, ChatParams& p) {
  const Json* t = find(body, "thinking");
  if (t == nullptr) return Status::Ok();
  if (!t->is_object()) return invalid_argument("thinking must be an object {type}");
  std::string type;
  EMBER_RETURN_IF_ERROR(fields::read_string(*t, "type", "thinking", type));
  if (type == "enabled" || type == "adaptive") {
    int64_t budget = 0;
    EMBER_RETURN_IF_ERROR(fields::read_int(*t, "budget_tokens", "thinking", 0, 1 << 30, budget));
    p.enable_thinking = true;
  } else if (type == "disabled") {
    p.enable_thinking = false;
  } else {
    return invalid_argument("thinking.type must be enabled or disabled");
  }
  return Status::Ok();
}

}  // namespace

Result<AnthropicCall> parse_anthropic_messages(const Json& body, bool count_tokens) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  AnthropicCall call;
  ChatParams& p = call.chat.params;
  GenerationParams& g = p.generation;
  EMBER_RETURN_IF_ERROR(fields::read_string(body, "model", "", call.model));
  if (call.model.empty()) return invalid_argument("model is required");
  if (!count_tokens) {
    if (find(body, "max_tokens") == nullptr) return invalid_argument("max_tokens is required");
    EMBER_RETURN_IF_ERROR(fields::read_int(body, "max_tokens", "", 1, 1 << 30, g.max_tokens));
    EMBER_RETURN_IF_ERROR(fields::read_bool(body, "stream", "", call.stream));
  }
  EMBER_RETURN_IF_ERROR(fields::read_strings(body, "stop_sequences", "", call.stop_sequences));
  g.stop = call.stop_sequences;
  EMBER_RETURN_IF_ERROR(fields::read_float(body, "temperature", "", g.sampling.temperature));
  EMBER_RETURN_IF_ERROR(fields::read_float(body, "top_p", "", g.sampling.top_p));
  EMBER_RETURN_IF_ERROR(fields::read_int(body, "top_k", "", 0, 1 << 30, g.sampling.top_k));
  if (const Json* m = find(body, "metadata"); m != nullptr && !m->is_object()) {
    return invalid_argument("metadata must be an object");
  }
  if (const Json* mcp = find(body, "mcp_servers");
      mcp != nullptr && !(mcp->is_array() && mcp->empty())) {
    return unimplemented("mcp_servers are not supported");
  }
  EMBER_RETURN_IF_ERROR(read_tools(body, p));
  EMBER_RETURN_IF_ERROR(read_tool_choice(body, p));
  EMBER_RETURN_IF_ERROR(read_thinking(body, p));

  if (const Json* system = find(body, "system")) {
    std::string text;
    EMBER_RETURN_IF_ERROR(text_blocks(*system, "system", text));
    call.chat.messages.push_back(ChatMessage::system(std::move(text)));
  }
  const Json* messages = find(body, "messages");
  if (messages == nullptr || !messages->is_array()) {
    return invalid_argument("messages must be a list");
  }
  if (messages->empty()) return invalid_argument("messages must not be empty");
  for (size_t i = 0; i < messages->size(); ++i) {
    const std::string where = "messages[" + std::to_string(i) + "]";
    const Json& m = (*messages)[i];
    if (!m.is_object()) return invalid_argument(where + " must be an object {role, content}");
    std::string role;
    EMBER_RETURN_IF_ERROR(fields::read_string(m, "role", where, role));
    const Json* content = find(m, "content");
    if (content == nullptr) return invalid_argument(where + ".content is required");
    if (role == "user") {
      EMBER_RETURN_IF_ERROR(user_message(*content, where + ".content", call.chat.messages));
    } else if (role == "assistant") {
      EMBER_RETURN_IF_ERROR(assistant_message(*content, where + ".content", call.chat.messages));
    } else {
      return invalid_argument(where + ".role must be user or assistant");
    }
  }
  // Anthropic continues a final assistant message ("prefill"); ember's chat templates can only
  // start a new turn, which would silently answer something else.
  if ((*messages)[messages->size() - 1].value("role", "") == "assistant") {
    return unimplemented(
        "a final assistant message (prefill) is not supported: end the messages with a user "
        "turn");
  }
  return call;
}

}  // namespace ember::http
