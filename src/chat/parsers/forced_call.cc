// forced_tool_call_spec: what a forced tool call looks like in each format (see chat_format.h).
#include "chat/chat_format.h"
#include "chat/parsers/tools.h"

namespace ember::chat {
namespace {

using detail::ToolInfo;

// Builds one call's parts, merging adjacent literals.
class Parts {
 public:
  Parts& lit(std::string_view s) {
    if (!parts_.empty() && parts_.back().kind == ToolCallPart::Kind::kLiteral) {
      parts_.back().literal += s;
    } else {
      ToolCallPart p;
      p.literal = std::string(s);
      parts_.push_back(std::move(p));
    }
    return *this;
  }
  Parts& json(Json schema) {
    ToolCallPart p;
    p.kind = ToolCallPart::Kind::kJson;
    p.schema = std::move(schema);
    parts_.push_back(std::move(p));
    return *this;
  }
  Parts& text(std::string end) {
    ToolCallPart p;
    p.kind = ToolCallPart::Kind::kText;
    p.text_end = std::move(end);
    parts_.push_back(std::move(p));
    return *this;
  }
  std::vector<ToolCallPart> take() { return std::move(parts_); }

 private:
  std::vector<ToolCallPart> parts_;
};

// {"<name_key>": {"const": NAME}, "<args_key>": PARAMETERS} (+ extra properties).
Json call_object(const ToolInfo& t, const std::string& name_key, const std::string& args_key,
                 const Json& extra = Json::object()) {
  Json props = Json::object();
  Json required = Json::array();
  for (const auto& [k, v] : extra.items()) {
    props[k] = v;
    required.push_back(k);
  }
  props[name_key] = {{"type", "string"}, {"const", t.name}};
  props[args_key] = t.parameters;
  required.push_back(name_key);
  required.push_back(args_key);
  return {{"type", "object"}, {"properties", props}, {"required", required}};
}

Json list_of(const std::vector<Json>& items, bool parallel) {
  Json schema = {{"type", "array"},
                 {"items", items.size() == 1 ? items[0] : Json{{"anyOf", items}}},
                 {"minItems", 1}};
  if (!parallel) schema["maxItems"] = 1;
  return schema;
}

bool is_string_schema(const Json& s) {
  auto t = s.find("type");
  return t != s.end() && t->is_string() && t->get_ref<const std::string&>() == "string";
}

// Required parameters in schema order, with their schemas.
std::vector<std::pair<std::string, Json>> required_params(const Json& parameters) {
  std::vector<std::pair<std::string, Json>> out;
  auto props = parameters.find("properties");
  auto req = parameters.find("required");
  if (props == parameters.end() || !props->is_object() || req == parameters.end() ||
      !req->is_array()) {
    return out;
  }
  for (const auto& [name, schema] : props->items()) {
    for (const auto& r : *req) {
      if (r.is_string() && r.get_ref<const std::string&>() == name) {
        out.emplace_back(name, schema);
        break;
      }
    }
  }
  return out;
}

// XML-style parameters: <open P close>value<value_end>.
struct XmlShape {
  std::string call_open_before, call_open_after;  // around the name
  std::string key_open, key_close;                // around the parameter name
  std::string value_end;                          // literal that ends a value
  std::string call_close;
};

std::vector<ToolCallPart> xml_call(const ToolInfo& t, const XmlShape& x) {
  Parts p;
  p.lit(x.call_open_before + t.name + x.call_open_after);
  for (const auto& [name, schema] : required_params(t.parameters)) {
    p.lit(x.key_open + name + x.key_close);
    if (is_string_schema(schema)) {
      p.text(x.value_end);
    } else {
      p.json(schema);
    }
    p.lit(x.value_end);
  }
  p.lit(x.call_close);
  return p.take();
}

}  // namespace

Result<ForcedToolCallSpec> forced_tool_call_spec(const ChatSyntax& syntax, const Json& tools,
                                                 const ForcedToolCallOptions& o) {
  Result<std::vector<ToolInfo>> read = detail::read_tools(tools);
  if (!read.ok()) return read.status();
  std::vector<ToolInfo> infos;
  for (auto& t : *read) {
    if (o.only_tool.empty() || t.name == o.only_tool) infos.push_back(std::move(t));
  }
  if (infos.empty()) {
    if (!o.only_tool.empty()) {
      return invalid_argument("tool_choice names '" + o.only_tool + "', which is not in tools");
    }
    return invalid_argument("a forced tool call needs at least one tool");
  }

  ForcedToolCallSpec spec;
  spec.reasoning = syntax.reasoning;
  spec.reasoning_open =
      syntax.reasoning && (o.thinking_forced_open || syntax.reasoning->start.empty());
  const bool parallel = o.parallel;
  auto each = [&](auto make) {
    for (const auto& t : infos) spec.calls.push_back({t.name, make(t)});
  };
  auto one_list = [&](std::vector<Json> items, const std::string& before,
                      const std::string& after) {
    spec.calls.push_back(
        {"", Parts().lit(before).json(list_of(items, parallel)).lit(after).take()});
  };
  auto items = [&](auto make) {
    std::vector<Json> v;
    for (const auto& t : infos) v.push_back(make(t));
    return v;
  };
  auto repeatable = [&](std::string separator) {
    spec.repeat = parallel;
    spec.separator = std::move(separator);
  };

  switch (syntax.format) {
    case ChatFormat::kContentOnly:
    case ChatFormat::kChatML:
    case ChatFormat::kGemma:
    case ChatFormat::kPhi3:
    case ChatFormat::kGeneric: {
      Json filtered = Json::array();
      for (const auto& t : infos) {
        filtered.push_back(
            {{"type", "function"}, {"function", {{"name", t.name}, {"parameters", t.parameters}}}});
      }
      Result<Json> schema = generic_reply_schema(filtered, parallel, /*required=*/true);
      if (!schema.ok()) return schema.status();
      spec.calls.push_back({"", Parts().json(*schema).take()});
      break;
    }
    case ChatFormat::kHermes2Pro:
      each([](const ToolInfo& t) {
        return Parts()
            .lit("<tool_call>\n")
            .json(call_object(t, "name", "arguments"))
            .lit("\n</tool_call>")
            .take();
      });
      repeatable("\n");
      break;
    case ChatFormat::kQwen3CoderXml:
      each([](const ToolInfo& t) {
        return xml_call(t, {"<tool_call>\n<function=", ">\n", "<parameter=", ">\n",
                            "\n</parameter>\n", "</function>\n</tool_call>"});
      });
      repeatable("\n");
      break;
    case ChatFormat::kSeedOss:
      each([](const ToolInfo& t) {
        return xml_call(t, {"<seed:tool_call>\n<function=", ">\n", "<parameter=", ">",
                            "</parameter>\n", "</function>\n</seed:tool_call>"});
      });
      repeatable("\n");
      break;
    case ChatFormat::kMiniMaxM2:
      spec.prefix = "<minimax:tool_call>\n";
      spec.suffix = "</minimax:tool_call>";
      each([](const ToolInfo& t) {
        return xml_call(t, {"<invoke name=\"", "\">\n", "<parameter name=\"", "\">",
                            "</parameter>\n", "</invoke>\n"});
      });
      repeatable("");
      break;
    case ChatFormat::kGlm45:
      each([](const ToolInfo& t) {
        return xml_call(t, {"<tool_call>", "\n", "<arg_key>", "</arg_key>\n<arg_value>",
                            "</arg_value>\n", "</tool_call>"});
      });
      repeatable("\n");
      break;
    case ChatFormat::kLlama3x:
      each([](const ToolInfo& t) {
        return Parts().json(call_object(t, "name", "parameters")).take();
      });
      break;  // one call per message
    case ChatFormat::kFunctionaryV31:
      each([](const ToolInfo& t) {
        return Parts()
            .lit("<function=" + t.name + ">")
            .json(t.parameters)
            .lit("</function>")
            .take();
      });
      repeatable("");
      break;
    case ChatFormat::kFunctionaryV32:
      // The prompt ends with ">>>": the first recipient follows directly.
      each([](const ToolInfo& t) { return Parts().lit(t.name + "\n").json(t.parameters).take(); });
      repeatable(">>>");
      break;
    case ChatFormat::kFirefunctionV2:
      one_list(items([](const ToolInfo& t) { return call_object(t, "name", "arguments"); }),
               " functools", "");
      break;
    case ChatFormat::kMistralNemo: {
      const Json id = {{"id", {{"type", "string"}, {"pattern", "^[a-zA-Z0-9]{9}$"}}}};
      one_list(items([&](const ToolInfo& t) { return call_object(t, "name", "arguments", id); }),
               "[TOOL_CALLS]", "");
      break;
    }
    case ChatFormat::kMistralSmall:
      each([](const ToolInfo& t) {
        return Parts().lit("[TOOL_CALLS]" + t.name + "[ARGS]").json(t.parameters).take();
      });
      repeatable("");
      break;
    case ChatFormat::kDeepSeekR1:
      spec.prefix = "<｜tool▁calls▁begin｜>";
      spec.suffix = "<｜tool▁calls▁end｜>";
      each([](const ToolInfo& t) {
        return Parts()
            .lit("<｜tool▁call▁begin｜>function<｜tool▁sep｜>" + t.name + "\n```json\n")
            .json(t.parameters)
            .lit("\n```<｜tool▁call▁end｜>")
            .take();
      });
      repeatable("\n");
      break;
    case ChatFormat::kDeepSeekV31:
      spec.prefix = "<｜tool▁calls▁begin｜>";
      spec.suffix = "<｜tool▁calls▁end｜>";
      each([](const ToolInfo& t) {
        return Parts()
            .lit("<｜tool▁call▁begin｜>" + t.name + "<｜tool▁sep｜>")
            .json(t.parameters)
            .lit("<｜tool▁call▁end｜>")
            .take();
      });
      repeatable("");
      break;
    case ChatFormat::kGptOss:
      // The prompt ends with "<|start|>assistant"; <|call|> ends generation, so one call.
      spec.reasoning =
          ReasoningSyntax{"<|channel|>analysis<|message|>", "<|end|><|start|>assistant"};
      spec.reasoning_open = false;
      each([](const ToolInfo& t) {
        return Parts()
            .lit("<|channel|>commentary to=functions." + t.name + " <|constrain|>json<|message|>")
            .json(t.parameters)
            .take();
      });
      break;
    case ChatFormat::kCommandR7B: {
      const Json id = {{"tool_call_id", {{"type", "string"}, {"pattern", "^[0-9]{1,10}$"}}}};
      one_list(
          items([&](const ToolInfo& t) { return call_object(t, "tool_name", "parameters", id); }),
          "<|START_ACTION|>", "<|END_ACTION|>");
      break;
    }
    case ChatFormat::kGranite:
      one_list(items([](const ToolInfo& t) { return call_object(t, "name", "arguments"); }),
               "<|tool_call|>", "");
      break;
    case ChatFormat::kKimiK2:
      spec.prefix = "<|tool_calls_section_begin|>";
      spec.suffix = "<|tool_calls_section_end|>";
      each([](const ToolInfo& t) {
        return Parts()
            .lit("<|tool_call_begin|>functions." + t.name + ":")
            .json({{"type", "integer"}, {"minimum", 0}})
            .lit("<|tool_call_argument_begin|>")
            .json(t.parameters)
            .lit("<|tool_call_end|>")
            .take();
      });
      repeatable("");
      break;
    case ChatFormat::kNemotronV2:
      one_list(items([](const ToolInfo& t) { return call_object(t, "name", "arguments"); }),
               "<TOOLCALL>", "</TOOLCALL>");
      break;
    case ChatFormat::kApertus:
      one_list(items([](const ToolInfo& t) {
                 return Json{{"type", "object"},
                             {"properties", {{t.name, t.parameters}}},
                             {"required", Json::array({t.name})},
                             {"additionalProperties", false}};
               }),
               "<|tools_prefix|>", "<|tools_suffix|>");
      break;
    case ChatFormat::kLfm2:
      one_list(items([](const ToolInfo& t) { return call_object(t, "name", "arguments"); }),
               "<|tool_call_start|>", "<|tool_call_end|>");
      break;
    case ChatFormat::kApriel:
      one_list(items([](const ToolInfo& t) { return call_object(t, "name", "arguments"); }),
               "<tool_calls>", "</tool_calls>");
      break;
    case ChatFormat::kGigaChatV3:
      each([](const ToolInfo& t) {
        return Parts()
            .lit("<|message_sep|>\n\nfunction call<|role_sep|>\n")
            .json(call_object(t, "name", "arguments"))
            .take();
      });
      break;  // one call per message
    case ChatFormat::kGemma4:
      return unimplemented(
          "forced tool calls for Gemma 4: its argument syntax is not JSON; use the generic "
          "format (syntax_for_request with a non-native syntax) instead");
  }
  return spec;
}

}  // namespace ember::chat
