// Responses API request parsing (see responses_request.h).
#include "responses_request.h"

#include <cmath>
#include <map>

#include "json_fields.h"

namespace ember::http {
namespace {

using fields::find;

Status refuse_part(const std::string& type, const std::string& where) {
  if (type == "input_image" || type == "input_file" || type == "input_audio") {
    return unimplemented(where + ": " + type +
                         " parts are not supported (ember serves text-only models)");
  }
  return invalid_argument(where + ".type '" + type.substr(0, 64) + "' is not a content part type");
}

Status content_text(const Json& content, const std::string& where, std::string& out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return Status::Ok();
  }
  if (!content.is_array()) return invalid_argument(where + " must be a string or a list of parts");
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string pw = where + "[" + std::to_string(i) + "]";
    const Json& part = content[i];
    if (!part.is_object()) return invalid_argument(pw + " must be an object {type, text}");
    std::string type, text;
    EMBER_RETURN_IF_ERROR(fields::read_string(part, "type", pw, type));
    if (type == "input_text" || type == "output_text" || type == "text") {
      EMBER_RETURN_IF_ERROR(fields::read_string(part, "text", pw, text));
    } else if (type == "refusal") {
      EMBER_RETURN_IF_ERROR(fields::read_string(part, "refusal", pw, text));
    } else {
      return refuse_part(type, pw);
    }
    out += text;
  }
  return Status::Ok();
}

class InputBuilder {
 public:
  explicit InputBuilder(std::vector<ChatMessage>& out) : out_(out) {}

  Status item(const Json& it, const std::string& where) {
    if (!it.is_object()) return invalid_argument(where + " must be an object");
    std::string type;
    EMBER_RETURN_IF_ERROR(fields::read_string(it, "type", where, type));
    if (type.empty() || type == "message") return message(it, where);
    if (type == "function_call") {
      ChatToolCall call;
      EMBER_RETURN_IF_ERROR(fields::read_string(it, "call_id", where, call.id));
      EMBER_RETURN_IF_ERROR(fields::read_string(it, "name", where, call.name));
      EMBER_RETURN_IF_ERROR(fields::read_string(it, "arguments", where, call.arguments));
      if (call.id.empty() || call.name.empty()) {
        return invalid_argument(where + " needs a call_id and a name");
      }
      if (call.arguments.empty()) call.arguments = "{}";
      names_[call.id] = call.name;
      assistant().tool_calls.push_back(std::move(call));
      return Status::Ok();
    }
    if (type == "function_call_output") {
      ChatMessage tool;
      tool.role = ChatRole::kTool;
      EMBER_RETURN_IF_ERROR(fields::read_string(it, "call_id", where, tool.tool_call_id));
      if (tool.tool_call_id.empty()) return invalid_argument(where + ".call_id is required");
      const Json* output = find(it, "output");
      if (output == nullptr) return invalid_argument(where + ".output is required");
      EMBER_RETURN_IF_ERROR(content_text(*output, where + ".output", tool.content));
      if (auto n = names_.find(tool.tool_call_id); n != names_.end()) tool.name = n->second;
      out_.push_back(std::move(tool));
      return Status::Ok();
    }
    if (type == "reasoning") {
      std::string text;
      for (const char* key : {"content", "summary"}) {
        const Json* parts = find(it, key);
        if (parts == nullptr) continue;
        if (!parts->is_array()) return invalid_argument(where + "." + key + " must be a list");
        for (const Json& p : *parts) {
          if (p.is_object() && p.contains("text") && p["text"].is_string()) {
            text += p["text"].get<std::string>();
          }
        }
        if (!text.empty()) break;  // the full reasoning when given, else its summary
      }
      // Encrypted reasoning from another provider has no text: nothing to render.
      if (text.empty()) return Status::Ok();
      ChatMessage m;
      m.role = ChatRole::kAssistant;
      m.reasoning_content = std::move(text);
      out_.push_back(std::move(m));
      return Status::Ok();
    }
    if (type == "item_reference") {
      return invalid_argument(where +
                              ": item_reference needs stored items; this server keeps none (send "
                              "the items themselves)");
    }
    return unimplemented(where + ": input items of type '" + type.substr(0, 64) +
                         "' are not supported");
  }

 private:
  Status message(const Json& it, const std::string& where) {
    std::string role;
    EMBER_RETURN_IF_ERROR(fields::read_string(it, "role", where, role));
    if (role.empty()) return invalid_argument(where + ".role is required");
    Result<ChatRole> r = chat_role_from_name(role);
    if (!r.ok() || *r == ChatRole::kTool) {
      return invalid_argument(where + ".role must be user, system, developer or assistant");
    }
    const Json* content = find(it, "content");
    if (content == nullptr) return invalid_argument(where + ".content is required");
    std::string text;
    EMBER_RETURN_IF_ERROR(content_text(*content, where + ".content", text));
    if (*r == ChatRole::kAssistant) {
      assistant().content += text;
      return Status::Ok();
    }
    ChatMessage m;
    m.role = *r;
    m.content = std::move(text);
    out_.push_back(std::move(m));
    return Status::Ok();
  }

  // The assistant message being built: the last message when it is one, else a new one.
  ChatMessage& assistant() {
    if (out_.empty() || out_.back().role != ChatRole::kAssistant) {
      ChatMessage m;
      m.role = ChatRole::kAssistant;
      out_.push_back(std::move(m));
    }
    return out_.back();
  }

  std::vector<ChatMessage>& out_;
  std::map<std::string, std::string> names_;  // call_id → function name
};

Status read_tools(const Json& body, ChatParams& p) {
  const Json* tools = find(body, "tools");
  if (tools == nullptr) return Status::Ok();
  if (!tools->is_array()) return invalid_argument("tools must be a list");
  Json out = Json::array();
  for (size_t i = 0; i < tools->size(); ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const Json& t = (*tools)[i];
    if (!t.is_object()) return invalid_argument(where + " must be an object");
    std::string type, name, description;
    EMBER_RETURN_IF_ERROR(fields::read_string(t, "type", where, type));
    if (type != "function") {
      return unimplemented(where + ": tools of type '" + type.substr(0, 64) +
                           "' are not supported (only function tools are)");
    }
    EMBER_RETURN_IF_ERROR(fields::read_string(t, "name", where, name));
    if (name.empty()) return invalid_argument(where + ".name is required");
    EMBER_RETURN_IF_ERROR(fields::read_string(t, "description", where, description));
    Json fn = {{"name", name}};
    if (!description.empty()) fn["description"] = description;
    if (const Json* params = find(t, "parameters")) {
      if (!params->is_object()) return invalid_argument(where + ".parameters must be an object");
      fn["parameters"] = *params;
    } else {
      fn["parameters"] = {{"type", "object"}, {"properties", Json::object()}};
    }
    out.push_back({{"type", "function"}, {"function", std::move(fn)}});
  }
  p.tools = std::move(out);
  return Status::Ok();
}

Status read_tool_choice(const Json& body, ChatParams& p) {
  const Json* tc = find(body, "tool_choice");
  if (tc == nullptr) return Status::Ok();
  if (tc->is_string()) return p.set_tool_choice_json(*tc);
  if (tc->is_object()) {
    std::string type, name;
    EMBER_RETURN_IF_ERROR(fields::read_string(*tc, "type", "tool_choice", type));
    if (type == "function") {
      EMBER_RETURN_IF_ERROR(fields::read_string(*tc, "name", "tool_choice", name));
      if (name.empty()) return invalid_argument("tool_choice.name is required");
      p.tool_choice = name;
      return Status::Ok();
    }
    return unimplemented("tool_choice of type '" + type.substr(0, 64) + "' is not supported");
  }
  return invalid_argument(
      "tool_choice must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", "
      "\"name\"}");
}

Status read_text_format(const Json& body, ChatParams& p, Json& echo) {
  echo["text"] = {{"format", {{"type", "text"}}}};
  const Json* text = find(body, "text");
  if (text == nullptr) return Status::Ok();
  if (!text->is_object()) return invalid_argument("text must be an object {format}");
  const Json* format = find(*text, "format");
  if (format == nullptr) return Status::Ok();
  if (!format->is_object()) return invalid_argument("text.format must be an object {type}");
  std::string type;
  EMBER_RETURN_IF_ERROR(fields::read_string(*format, "type", "text.format", type));
  if (type == "text") return Status::Ok();
  if (type == "json_object") {
    p.response_format.type = ResponseFormat::Type::kJsonObject;
  } else if (type == "json_schema") {
    const Json* schema = find(*format, "schema");
    if (schema == nullptr || !(schema->is_object() || schema->is_boolean())) {
      return invalid_argument("text.format.schema must be a JSON schema object");
    }
    p.response_format.type = ResponseFormat::Type::kJsonSchema;
    p.response_format.schema = *schema;
  } else {
    return invalid_argument("text.format.type must be text, json_object or json_schema");
  }
  echo["text"] = {{"format", *format}};
  return Status::Ok();
}

}  // namespace

Result<ResponsesCall> parse_responses_request(const Json& body) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  ResponsesCall call;
  ChatParams& p = call.chat.params;
  GenerationParams& g = p.generation;
  for (const char* key : {"previous_response_id", "conversation"}) {
    if (find(body, key) != nullptr) {
      return invalid_argument(std::string(key) +
                              " is not supported: this server keeps no responses or "
                              "conversations; send the whole conversation in input");
    }
  }
  bool background = false;
  EMBER_RETURN_IF_ERROR(fields::read_bool(body, "background", "", background));
  if (background) return unimplemented("background responses are not supported");
  if (find(body, "prompt") != nullptr) {
    return unimplemented("prompt (a stored prompt template) is not supported");
  }
  EMBER_RETURN_IF_ERROR(fields::read_string(body, "model", "", call.model));
  EMBER_RETURN_IF_ERROR(fields::read_bool(body, "stream", "", call.stream));
  bool store = false;
  EMBER_RETURN_IF_ERROR(fields::read_bool(body, "store", "", store));
  if (const Json* m = find(body, "metadata"); m != nullptr && !m->is_object()) {
    return invalid_argument("metadata must be an object");
  }
  int64_t max_output = -1;
  EMBER_RETURN_IF_ERROR(fields::read_int(body, "max_output_tokens", "", 1, 1 << 30, max_output));
  g.max_tokens = static_cast<int32_t>(max_output);
  EMBER_RETURN_IF_ERROR(fields::read_float(body, "temperature", "", g.sampling.temperature));
  EMBER_RETURN_IF_ERROR(fields::read_float(body, "top_p", "", g.sampling.top_p));
  EMBER_RETURN_IF_ERROR(fields::read_bool(body, "parallel_tool_calls", "", p.parallel_tool_calls));
  int64_t top_logprobs = 0;
  EMBER_RETURN_IF_ERROR(fields::read_int(body, "top_logprobs", "", 0, 20, top_logprobs));
  if (top_logprobs > 0) return unimplemented("top_logprobs is not supported on /v1/responses");
  EMBER_RETURN_IF_ERROR(read_tools(body, p));
  EMBER_RETURN_IF_ERROR(read_tool_choice(body, p));
  EMBER_RETURN_IF_ERROR(read_text_format(body, p, call.echo));
  Json reasoning_echo = {{"effort", nullptr}, {"summary", nullptr}};
  if (const Json* r = find(body, "reasoning")) {
    if (!r->is_object()) return invalid_argument("reasoning must be an object {effort}");
    std::string effort;
    EMBER_RETURN_IF_ERROR(fields::read_string(*r, "effort", "reasoning", effort));
    if (!effort.empty()) {
      if (effort != "none" && effort != "minimal" && effort != "low" && effort != "medium" &&
          effort != "high") {
        return invalid_argument("reasoning.effort must be none, minimal, low, medium or high");
      }
      // ember has no effort levels: the model reasons or it does not.
      p.enable_thinking = effort != "none";
      reasoning_echo["effort"] = effort;
    }
  }

  std::string instructions;
  EMBER_RETURN_IF_ERROR(fields::read_string(body, "instructions", "", instructions));
  if (!instructions.empty()) call.chat.messages.push_back(ChatMessage::system(instructions));
  const Json* input = find(body, "input");
  if (input == nullptr) return invalid_argument("input is required");
  if (input->is_string()) {
    call.chat.messages.push_back(ChatMessage::user(input->get<std::string>()));
  } else if (input->is_array()) {
    InputBuilder builder(call.chat.messages);
    for (size_t i = 0; i < input->size(); ++i) {
      EMBER_RETURN_IF_ERROR(builder.item((*input)[i], "input[" + std::to_string(i) + "]"));
    }
  } else {
    return invalid_argument("input must be a string or a list of items");
  }
  if (call.chat.messages.empty()) return invalid_argument("input must not be empty");

  Json& e = call.echo;
  e["instructions"] = instructions.empty() ? Json(nullptr) : Json(instructions);
  e["max_output_tokens"] = max_output < 0 ? Json(nullptr) : Json(max_output);
  e["parallel_tool_calls"] = p.parallel_tool_calls;
  // The values used, without float noise (0.95f is 0.949999988...).
  auto rounded = [](float x) { return std::round(static_cast<double>(x) * 1e6) / 1e6; };
  e["temperature"] = rounded(g.sampling.temperature);
  e["top_p"] = rounded(g.sampling.top_p);
  e["tool_choice"] = find(body, "tool_choice") ? body["tool_choice"] : Json("auto");
  e["tools"] = find(body, "tools") ? body["tools"] : Json::array();
  e["reasoning"] = std::move(reasoning_echo);
  e["metadata"] = find(body, "metadata") ? body["metadata"] : Json::object();
  return call;
}

}  // namespace ember::http
