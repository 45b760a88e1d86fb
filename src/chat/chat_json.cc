// The chat API's types and their OpenAI JSON forms (include/ember/chat.h).
#include <cmath>
#include <limits>

#include "ember/chat.h"

namespace ember {
namespace {

const char* type_name(const Json& j) {
  return j.type_name();
}

std::string at(std::string_view where, std::string_view field) {
  return std::string(where) + "." + std::string(field);
}

// A string field that may be absent or null ("" then).
Status read_string(const Json& obj, const char* key, std::string_view where, std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) {
    return invalid_argument(at(where, key) + " must be a string, not " + type_name(*it));
  }
  out = it->get<std::string>();
  return Status::Ok();
}

Status read_content(const Json& msg, std::string_view where, ChatMessage& m) {
  auto it = msg.find("content");
  if (it == msg.end() || it->is_null()) return Status::Ok();
  if (it->is_string()) {
    m.content = it->get<std::string>();
    return Status::Ok();
  }
  if (!it->is_array()) {
    return invalid_argument(at(where, "content") +
                            " must be a string, null or a list of text parts, not " +
                            type_name(*it));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& part = (*it)[i];
    const std::string pw = at(where, "content[" + std::to_string(i) + "]");
    if (part.is_string()) {
      m.content_parts.push_back(part.get<std::string>());
      continue;
    }
    if (!part.is_object()) return invalid_argument(pw + " must be an object {type, text}");
    auto type = part.find("type");
    if (type == part.end() || !type->is_string() || type->get<std::string>() != "text") {
      return invalid_argument(pw + ".type must be \"text\" (only text parts are supported)");
    }
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) {
      return invalid_argument(pw + ".text must be a string");
    }
    m.content_parts.push_back(text->get<std::string>());
  }
  return Status::Ok();
}

Status read_tool_calls(const Json& msg, std::string_view where, ChatMessage& m) {
  auto it = msg.find("tool_calls");
  if (it == msg.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return invalid_argument(at(where, "tool_calls") + " must be a list");
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& call = (*it)[i];
    const std::string cw = at(where, "tool_calls[" + std::to_string(i) + "]");
    if (!call.is_object()) return invalid_argument(cw + " must be an object");
    ChatToolCall tc;
    EMBER_RETURN_IF_ERROR(read_string(call, "id", cw, tc.id));
    auto fn = call.find("function");
    if (fn == call.end() || !fn->is_object()) {
      return invalid_argument(cw + ".function must be an object {name, arguments}");
    }
    const std::string fw = cw + ".function";
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string() || name->get<std::string>().empty()) {
      return invalid_argument(fw + ".name must be a non-empty string");
    }
    tc.name = name->get<std::string>();
    auto args = fn->find("arguments");
    if (args == fn->end() || args->is_null()) {
      tc.arguments = "{}";
    } else if (args->is_string()) {
      tc.arguments = args->get<std::string>();
    } else if (args->is_object()) {
      tc.arguments = args->dump();  // lenient: an object instead of its JSON text
    } else {
      return invalid_argument(fw + ".arguments must be a string of JSON, not " + type_name(*args));
    }
    m.tool_calls.push_back(std::move(tc));
  }
  return Status::Ok();
}

}  // namespace

std::string_view chat_role_name(ChatRole role) {
  switch (role) {
    case ChatRole::kSystem:
      return "system";
    case ChatRole::kUser:
      return "user";
    case ChatRole::kAssistant:
      return "assistant";
    case ChatRole::kTool:
      return "tool";
  }
  return "user";
}

Result<ChatRole> chat_role_from_name(std::string_view name) {
  if (name == "system" || name == "developer") return ChatRole::kSystem;
  if (name == "user") return ChatRole::kUser;
  if (name == "assistant") return ChatRole::kAssistant;
  if (name == "tool") return ChatRole::kTool;
  return invalid_argument("unknown role '" + std::string(name) +
                          "' (expected system, user, assistant or tool)");
}

ChatMessage ChatMessage::system(std::string text) {
  ChatMessage m;
  m.role = ChatRole::kSystem;
  m.content = std::move(text);
  return m;
}
ChatMessage ChatMessage::user(std::string text) {
  ChatMessage m;
  m.role = ChatRole::kUser;
  m.content = std::move(text);
  return m;
}
ChatMessage ChatMessage::assistant(std::string text) {
  ChatMessage m;
  m.role = ChatRole::kAssistant;
  m.content = std::move(text);
  return m;
}
ChatMessage ChatMessage::tool(std::string tool_call_id, std::string name, std::string content) {
  ChatMessage m;
  m.role = ChatRole::kTool;
  m.tool_call_id = std::move(tool_call_id);
  m.name = std::move(name);
  m.content = std::move(content);
  return m;
}

std::string ChatMessage::text() const {
  if (content_parts.empty()) return content;
  std::string out;
  for (size_t i = 0; i < content_parts.size(); ++i) {
    if (i > 0) out += "\n";
    out += content_parts[i];
  }
  return out;
}

Json ChatMessage::to_json() const {
  Json j = Json::object();
  j["role"] = std::string(chat_role_name(role));
  if (!content_parts.empty()) {
    Json parts = Json::array();
    for (const auto& p : content_parts) parts.push_back({{"type", "text"}, {"text", p}});
    j["content"] = std::move(parts);
  } else if (content.empty() && !tool_calls.empty()) {
    j["content"] = nullptr;
  } else {
    j["content"] = content;
  }
  if (!reasoning_content.empty()) j["reasoning_content"] = reasoning_content;
  if (!tool_calls.empty()) {
    Json calls = Json::array();
    for (const auto& c : tool_calls) {
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    j["tool_calls"] = std::move(calls);
  }
  if (!tool_call_id.empty()) j["tool_call_id"] = tool_call_id;
  if (!name.empty()) j["name"] = name;
  return j;
}

Result<ChatMessage> ChatMessage::from_json(const Json& msg) {
  {
    if (!msg.is_object()) {
      return invalid_argument(std::string("a message must be an object, not ") + type_name(msg));
    }
    ChatMessage m;
    auto role = msg.find("role");
    if (role == msg.end() || !role->is_string()) {
      return invalid_argument("message.role must be a string");
    }
    Result<ChatRole> r = chat_role_from_name(role->get<std::string>());
    if (!r.ok()) return r.status().with_context("message.role");
    m.role = *r;
    if (m.role != ChatRole::kAssistant) {
      // OpenAI requires content in system, user and tool messages; only an assistant message
      // (e.g. one that only calls tools) may leave it out or set it to null.
      auto content = msg.find("content");
      if (content == msg.end() || content->is_null()) {
        return invalid_argument("message.content is required in " +
                                std::string(chat_role_name(m.role)) + " messages");
      }
    }
    EMBER_RETURN_IF_ERROR(read_content(msg, "message", m));
    EMBER_RETURN_IF_ERROR(read_string(msg, "reasoning_content", "message", m.reasoning_content));
    EMBER_RETURN_IF_ERROR(read_string(msg, "tool_call_id", "message", m.tool_call_id));
    EMBER_RETURN_IF_ERROR(read_string(msg, "name", "message", m.name));
    if (msg.contains("tool_calls") && !msg["tool_calls"].is_null() &&
        m.role != ChatRole::kAssistant) {
      return invalid_argument("message.tool_calls is only allowed in assistant messages");
    }
    EMBER_RETURN_IF_ERROR(read_tool_calls(msg, "message", m));
    if (m.role == ChatRole::kTool && m.tool_call_id.empty()) {
      return invalid_argument("message.tool_call_id is required in tool messages");
    }
    return m;
  }
}

Result<std::vector<ChatMessage>> chat_messages_from_json(const Json& messages) {
  if (!messages.is_array()) {
    return invalid_argument(std::string("messages must be a list, not ") + type_name(messages));
  }
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    Result<ChatMessage> m = ChatMessage::from_json(messages[i]);
    if (!m.ok()) return m.status().with_context("messages[" + std::to_string(i) + "]");
    out.push_back(std::move(*m));
  }
  return out;
}

Json chat_messages_to_json(const std::vector<ChatMessage>& messages) {
  Json out = Json::array();
  for (const auto& m : messages) out.push_back(m.to_json());
  return out;
}

Result<ResponseFormat> ResponseFormat::from_json(const Json& format) {
  ResponseFormat rf;
  if (format.is_null()) return rf;
  if (!format.is_object()) return invalid_argument("response_format must be an object");
  auto type = format.find("type");
  if (type == format.end() || !type->is_string()) {
    return invalid_argument("response_format.type must be a string");
  }
  const std::string t = type->get<std::string>();
  if (t == "text") return rf;
  if (t == "json_object") {
    rf.type = Type::kJsonObject;
    // llama.cpp extension: a schema next to json_object.
    if (auto s = format.find("schema"); s != format.end() && s->is_object()) {
      rf.type = Type::kJsonSchema;
      rf.schema = *s;
    }
    return rf;
  }
  if (t == "json_schema") {
    rf.type = Type::kJsonSchema;
    const Json* schema = nullptr;
    if (auto js = format.find("json_schema"); js != format.end()) {
      if (!js->is_object())
        return invalid_argument("response_format.json_schema must be an object");
      if (auto s = js->find("schema"); s != js->end()) schema = &*s;
    } else if (auto s = format.find("schema"); s != format.end()) {
      schema = &*s;
    }
    if (schema == nullptr || !(schema->is_object() || schema->is_boolean())) {
      return invalid_argument("response_format.json_schema.schema must be a JSON schema object");
    }
    rf.schema = *schema;
    return rf;
  }
  return invalid_argument("response_format.type '" + t +
                          "' is not one of text, json_object, json_schema");
}

Status ChatParams::set_tool_choice_json(const Json& choice) {
  if (choice.is_null()) {
    tool_choice = "auto";
    return Status::Ok();
  }
  if (choice.is_string()) {
    tool_choice = choice.get<std::string>();
    if (tool_choice != "auto" && tool_choice != "none" && tool_choice != "required") {
      return invalid_argument("tool_choice '" + tool_choice +
                              "' is not one of auto, none, required (or an object naming a "
                              "function)");
    }
    return Status::Ok();
  }
  if (choice.is_object()) {
    auto fn = choice.find("function");
    if (fn != choice.end() && fn->is_object()) {
      auto name = fn->find("name");
      if (name != fn->end() && name->is_string() && !name->get<std::string>().empty()) {
        tool_choice = name->get<std::string>();
        return Status::Ok();
      }
    }
  }
  return invalid_argument(
      "tool_choice must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", "
      "\"function\": {\"name\": ...}}");
}

Result<ChatParams> ChatParams::from_json(const Json& req) {
  if (!req.is_object()) return invalid_argument("the request must be a JSON object");
  ChatParams p;
  SamplingParams& s = p.generation.sampling;
  auto number = [&](const char* key, auto& out) -> Status {
    auto it = req.find(key);
    if (it == req.end() || it->is_null()) return Status::Ok();
    if (!it->is_number()) return invalid_argument(std::string(key) + " must be a number");
    using T = std::remove_reference_t<decltype(out)>;
    if constexpr (std::is_integral_v<T>) {
      if (!it->is_number_integer())
        return invalid_argument(std::string(key) + " must be an integer");
      // Unsigned JSON integers above INT64_MAX would wrap to negative values here.
      if (it->is_number_unsigned() &&
          it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return invalid_argument(std::string(key) + " is out of range");
      }
      const int64_t v = it->get<int64_t>();
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
        return invalid_argument(std::string(key) + " is out of range");
      }
      out = static_cast<T>(v);
    } else {
      out = it->get<T>();
    }
    return Status::Ok();
  };
  EMBER_RETURN_IF_ERROR(number("temperature", s.temperature));
  EMBER_RETURN_IF_ERROR(number("top_p", s.top_p));
  EMBER_RETURN_IF_ERROR(number("top_k", s.top_k));
  EMBER_RETURN_IF_ERROR(number("min_p", s.min_p));
  EMBER_RETURN_IF_ERROR(number("frequency_penalty", s.frequency_penalty));
  EMBER_RETURN_IF_ERROR(number("presence_penalty", s.presence_penalty));
  EMBER_RETURN_IF_ERROR(number("repeat_penalty", s.repeat_penalty));
  if (auto it = req.find("seed"); it != req.end() && !it->is_null()) {
    if (!it->is_number_integer()) return invalid_argument("seed must be an integer");
    // -1 is llama.cpp's "random seed" (kRandomSeed); otherwise a 32-bit seed, never truncated.
    const bool too_big = it->is_number_unsigned() && it->get<uint64_t>() > 0xFFFFFFFFull;
    const int64_t v = too_big ? 0 : it->get<int64_t>();
    if (too_big || v < -1 || v > 0xFFFFFFFFll) {
      return invalid_argument("seed must be -1 (random) or in [0, 4294967295]");
    }
    s.seed = v == -1 ? kRandomSeed : static_cast<uint32_t>(v);
  }
  EMBER_RETURN_IF_ERROR(number("max_tokens", p.generation.max_tokens));
  EMBER_RETURN_IF_ERROR(number("max_completion_tokens", p.generation.max_tokens));
  if (auto it = req.find("stop"); it != req.end() && !it->is_null()) {
    if (it->is_string()) {
      p.generation.stop.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& x : *it) {
        if (!x.is_string()) return invalid_argument("stop must be a string or a list of strings");
        p.generation.stop.push_back(x.get<std::string>());
      }
    } else {
      return invalid_argument("stop must be a string or a list of strings");
    }
  }
  if (auto it = req.find("tools"); it != req.end() && !it->is_null()) {
    if (!it->is_array()) return invalid_argument("tools must be a list");
    p.tools = *it;
  }
  if (auto it = req.find("tool_choice"); it != req.end()) {
    EMBER_RETURN_IF_ERROR(p.set_tool_choice_json(*it));
  }
  if (auto it = req.find("parallel_tool_calls"); it != req.end() && !it->is_null()) {
    if (!it->is_boolean()) return invalid_argument("parallel_tool_calls must be true or false");
    p.parallel_tool_calls = it->get<bool>();
  }
  if (auto it = req.find("response_format"); it != req.end()) {
    EMBER_ASSIGN_OR_RETURN(p.response_format, ResponseFormat::from_json(*it));
  }
  if (auto it = req.find("enable_thinking"); it != req.end() && !it->is_null()) {
    if (!it->is_boolean()) return invalid_argument("enable_thinking must be true or false");
    p.enable_thinking = it->get<bool>();
  }
  if (auto it = req.find("chat_template_kwargs"); it != req.end() && !it->is_null()) {
    if (!it->is_object()) return invalid_argument("chat_template_kwargs must be an object");
    p.template_kwargs = *it;
  }
  if (auto it = req.find("model"); it != req.end() && it->is_string()) {
    p.model = it->get<std::string>();
  }
  return p;
}

std::string_view chat_finish_reason_name(ChatFinishReason reason) {
  switch (reason) {
    case ChatFinishReason::kNone:
      return "";
    case ChatFinishReason::kStop:
      return "stop";
    case ChatFinishReason::kLength:
      return "length";
    case ChatFinishReason::kToolCalls:
      return "tool_calls";
    case ChatFinishReason::kCancelled:
      return "cancelled";
    case ChatFinishReason::kError:
      return "error";
  }
  return "";
}

Json ChatUsage::to_json() const {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_prompt_tokens}}}};
}

Json ChatChunk::to_json() const {
  Json delta = Json::object();
  if (has_role) delta["role"] = "assistant";
  if (!content.empty() || (has_role && reasoning_content.empty() && tool_calls.empty())) {
    delta["content"] = content;
  }
  if (!reasoning_content.empty()) delta["reasoning_content"] = reasoning_content;
  if (!tool_calls.empty()) {
    Json calls = Json::array();
    for (const auto& c : tool_calls) {
      Json call = {{"index", c.index}};
      if (!c.id.empty()) {
        call["id"] = c.id;
        call["type"] = "function";
      }
      Json fn = Json::object();
      if (!c.name.empty()) fn["name"] = c.name;
      fn["arguments"] = c.arguments;
      call["function"] = std::move(fn);
      calls.push_back(std::move(call));
    }
    delta["tool_calls"] = std::move(calls);
  }
  Json choice = {{"index", 0}, {"delta", std::move(delta)}};
  if (finish_reason == ChatFinishReason::kNone) {
    choice["finish_reason"] = nullptr;
  } else {
    choice["finish_reason"] = std::string(chat_finish_reason_name(finish_reason));
  }
  Json j = {{"id", id},
            {"object", "chat.completion.chunk"},
            {"created", created},
            {"model", model},
            {"choices", Json::array({std::move(choice)})}};
  if (usage) j["usage"] = usage->to_json();
  return j;
}

Json ChatCompletion::to_json() const {
  Json choice = {{"index", 0},
                 {"message", message.to_json()},
                 {"finish_reason", std::string(chat_finish_reason_name(finish_reason))}};
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"choices", Json::array({std::move(choice)})},
          {"usage", usage.to_json()}};
}

}  // namespace ember
