#include "chat/chat_format.h"

#include "chat/parsers/tools.h"

namespace ember::chat {
namespace {

bool has(std::string_view src, std::string_view marker) {
  return src.find(marker) != std::string_view::npos;
}

const ReasoningSyntax kThink{"<think>", "</think>"};

}  // namespace

std::string_view chat_format_name(ChatFormat format) {
  switch (format) {
    case ChatFormat::kContentOnly:
      return "Content-only";
    case ChatFormat::kChatML:
      return "ChatML";
    case ChatFormat::kGemma:
      return "Gemma";
    case ChatFormat::kPhi3:
      return "Phi-3";
    case ChatFormat::kGeneric:
      return "Generic";
    case ChatFormat::kHermes2Pro:
      return "Hermes 2 Pro";
    case ChatFormat::kQwen3CoderXml:
      return "Qwen3-Coder XML";
    case ChatFormat::kSeedOss:
      return "Seed-OSS";
    case ChatFormat::kMiniMaxM2:
      return "MiniMax-M2";
    case ChatFormat::kGlm45:
      return "GLM-4.5";
    case ChatFormat::kLlama3x:
      return "Llama 3.x";
    case ChatFormat::kFunctionaryV31:
      return "Functionary v3.1";
    case ChatFormat::kFunctionaryV32:
      return "Functionary v3.2";
    case ChatFormat::kFirefunctionV2:
      return "Firefunction v2";
    case ChatFormat::kMistralNemo:
      return "Mistral Nemo";
    case ChatFormat::kMistralSmall:
      return "Mistral Small";
    case ChatFormat::kDeepSeekR1:
      return "DeepSeek R1";
    case ChatFormat::kDeepSeekV31:
      return "DeepSeek V3.1";
    case ChatFormat::kGptOss:
      return "GPT-OSS";
    case ChatFormat::kCommandR7B:
      return "Command R7B";
    case ChatFormat::kGranite:
      return "Granite";
    case ChatFormat::kKimiK2:
      return "Kimi K2";
    case ChatFormat::kNemotronV2:
      return "Nemotron V2";
    case ChatFormat::kApertus:
      return "Apertus";
    case ChatFormat::kLfm2:
      return "LFM2";
    case ChatFormat::kApriel:
      return "Apriel";
    case ChatFormat::kGigaChatV3:
      return "GigaChat V3";
    case ChatFormat::kGemma4:
      return "Gemma 4";
  }
  return "unknown";
}

ChatFormat detect_chat_format(std::string_view src) {
  if (src.empty()) return ChatFormat::kChatML;
  // Order matters: several families share markers (e.g. <tool_call> appears in Hermes, Qwen3-
  // Coder, GLM and Apriel templates), so the more specific checks come first.
  if (has(src, "<|channel|>")) return ChatFormat::kGptOss;
  if (has(src, "message['prefix'] is defined and message['prefix'] and thinking") ||
      has(src, "['name'] + '<｜tool▁sep｜>'")) {
    return ChatFormat::kDeepSeekV31;
  }
  if (has(src, "<｜tool▁calls▁begin｜>")) return ChatFormat::kDeepSeekR1;
  if (has(src, "<|START_ACTION|>")) return ChatFormat::kCommandR7B;
  if (has(src, "<|tool_call|>") && has(src, "<|start_of_role|>")) return ChatFormat::kGranite;
  if (has(src, "<arg_key>") && has(src, "<arg_value>")) return ChatFormat::kGlm45;
  if (has(src, "<minimax:tool_call>") || (has(src, "]~!b[") && has(src, "]~b]"))) {
    return ChatFormat::kMiniMaxM2;
  }
  if (has(src, "<seed:tool_call>") || has(src, "<seed:think>")) return ChatFormat::kSeedOss;
  if (has(src, "<|tool_calls_section_begin|>")) return ChatFormat::kKimiK2;
  if (has(src, "<|tool_list_start|>") || has(src, "<|tool_call_start|>") ||
      has(src, "List of tools: [")) {
    return ChatFormat::kLfm2;
  }
  if (has(src, "<TOOLCALL>") || has(src, "<SPECIAL_10>")) return ChatFormat::kNemotronV2;
  if (has(src, "<|tools_prefix|>")) return ChatFormat::kApertus;
  if (has(src, "<|role_sep|>") && has(src, "<|message_sep|>")) return ChatFormat::kGigaChatV3;
  if (has(src, "[BEGIN FINAL RESPONSE]")) return ChatFormat::kApriel;
  if (has(src, "<|tool_call>") || (has(src, "<|turn>") && has(src, "<|channel>"))) {
    return ChatFormat::kGemma4;
  }
  if (has(src, "<tool_call>") && has(src, "<function=") && has(src, "<parameter=")) {
    return ChatFormat::kQwen3CoderXml;
  }
  if (has(src, "<tool_call>")) return ChatFormat::kHermes2Pro;
  if (has(src, ">>>all")) return ChatFormat::kFunctionaryV32;
  if (has(src, " functools[")) return ChatFormat::kFirefunctionV2;
  if (has(src, "<|start_header_id|>") && has(src, "<function=")) {
    return ChatFormat::kFunctionaryV31;
  }
  if (has(src, "<|start_header_id|>ipython<|end_header_id|>") || has(src, "<|python_tag|>")) {
    return ChatFormat::kLlama3x;
  }
  if (has(src, "[TOOL_CALLS]") && has(src, "[ARGS]")) return ChatFormat::kMistralSmall;
  if (has(src, "[TOOL_CALLS]")) return ChatFormat::kMistralNemo;
  if (has(src, "<|im_start|>")) return ChatFormat::kChatML;
  if (has(src, "<start_of_turn>")) return ChatFormat::kGemma;
  if (has(src, "<|assistant|>") && has(src, "<|end|>")) return ChatFormat::kPhi3;
  return ChatFormat::kContentOnly;
}

ChatSyntax chat_syntax_for(ChatFormat format) {
  ChatSyntax s;
  s.format = format;
  s.native_tool_calls = true;
  const std::vector<std::string> hermes_markers = {
      "<tool_call>", "</tool_call>", "<function_call>", "</function_call>",
      "<function=",  "</function>",  "<parameter=",     "</parameter>"};
  switch (format) {
    case ChatFormat::kContentOnly:
      s.native_tool_calls = false;
      break;
    case ChatFormat::kChatML:
      s.native_tool_calls = false;
      s.stop_strings = {"<|im_end|>"};
      break;
    case ChatFormat::kGemma:
      s.native_tool_calls = false;
      s.stop_strings = {"<end_of_turn>"};
      break;
    case ChatFormat::kPhi3:
      s.native_tool_calls = false;
      s.stop_strings = {"<|end|>"};
      break;
    case ChatFormat::kGeneric:
      break;
    case ChatFormat::kHermes2Pro:
    case ChatFormat::kQwen3CoderXml:
      s.stop_strings = {"<|im_end|>"};
      s.markers = hermes_markers;
      break;
    case ChatFormat::kSeedOss:
      s.reasoning = ReasoningSyntax{"<seed:think>", "</seed:think>"};
      s.stop_strings = {"<seed:eos>"};
      s.markers = {"<seed:think>", "</seed:think>", "<seed:tool_call>", "</seed:tool_call>",
                   "<function=",   "</function>",   "<parameter=",      "</parameter>"};
      break;
    case ChatFormat::kMiniMaxM2:
      s.reasoning = kThink;
      s.stop_strings = {"[e~["};
      s.markers = {"<think>", "</think>", "<minimax:tool_call>", "</minimax:tool_call>"};
      break;
    case ChatFormat::kGlm45:
      s.reasoning = kThink;
      s.stop_strings = {"<|user|>", "<|observation|>", "<|endoftext|>"};
      s.markers = {"<think>",   "</think>",   "<tool_call>", "</tool_call>",
                   "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>"};
      break;
    case ChatFormat::kLlama3x:
      s.stop_strings = {"<|eot_id|>", "<|eom_id|>"};
      s.markers = {"<|python_tag|>"};
      break;
    case ChatFormat::kFunctionaryV31:
      s.stop_strings = {"<|eot_id|>", "<|eom_id|>"};
      s.markers = {"<function=", "</function>", "<|python_tag|>"};
      break;
    case ChatFormat::kFunctionaryV32:
      s.stop_strings = {"<|eot_id|>"};
      s.markers = {">>>"};
      break;
    case ChatFormat::kFirefunctionV2:
      s.stop_strings = {"<|eot_id|>"};
      s.markers = {"functools["};
      break;
    case ChatFormat::kMistralNemo:
      s.markers = {"[TOOL_CALLS]"};
      break;
    case ChatFormat::kMistralSmall:
      s.markers = {"[TOOL_CALLS]", "[CALL_ID]", "[ARGS]"};
      break;
    case ChatFormat::kDeepSeekR1:
    case ChatFormat::kDeepSeekV31:
      s.reasoning = kThink;
      s.stop_strings = {"<｜end▁of▁sentence｜>"};
      s.markers = {"<think>",
                   "</think>",
                   "<｜tool▁calls▁begin｜>",
                   "<｜tool▁call▁begin｜>",
                   "<｜tool▁sep｜>",
                   "<｜tool▁call▁end｜>",
                   "<｜tool▁calls▁end｜>"};
      break;
    case ChatFormat::kGptOss:
      s.reasoning = ReasoningSyntax{"<|channel|>analysis<|message|>", "<|end|>"};
      s.stop_strings = {"<|return|>", "<|call|>"};
      s.markers = {"<|start|>", "<|channel|>", "<|message|>", "<|constrain|>",
                   "<|end|>",   "<|call|>",    "<|return|>"};
      break;
    case ChatFormat::kCommandR7B:
      s.reasoning = ReasoningSyntax{"<|START_THINKING|>", "<|END_THINKING|>"};
      s.stop_strings = {"<|END_OF_TURN_TOKEN|>"};
      s.markers = {"<|START_THINKING|>", "<|END_THINKING|>",   "<|START_ACTION|>",
                   "<|END_ACTION|>",     "<|START_RESPONSE|>", "<|END_RESPONSE|>"};
      break;
    case ChatFormat::kGranite:
      s.reasoning = kThink;
      s.stop_strings = {"<|end_of_text|>"};
      s.markers = {"<think>", "</think>", "<response>", "</response>", "<|tool_call|>"};
      break;
    case ChatFormat::kKimiK2:
      s.stop_strings = {"<|im_end|>"};
      s.markers = {"<|tool_calls_section_begin|>", "<|tool_calls_section_end|>",
                   "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"};
      break;
    case ChatFormat::kNemotronV2:
      s.reasoning = kThink;
      s.stop_strings = {"<SPECIAL_12>"};
      s.markers = {"<think>", "</think>", "<TOOLCALL>", "</TOOLCALL>"};
      break;
    case ChatFormat::kApertus:
      s.reasoning = ReasoningSyntax{"<|inner_prefix|>", "<|inner_suffix|>"};
      s.stop_strings = {"<|assistant_end|>"};
      s.markers = {"<|inner_prefix|>", "<|inner_suffix|>", "<|tools_prefix|>", "<|tools_suffix|>"};
      break;
    case ChatFormat::kLfm2:
      s.stop_strings = {"<|im_end|>"};
      s.markers = {"<|tool_call_start|>", "<|tool_call_end|>"};
      break;
    case ChatFormat::kApriel:
      s.reasoning = ReasoningSyntax{"", "[BEGIN FINAL RESPONSE]"};
      s.stop_strings = {"<|end|>"};
      s.markers = {"[BEGIN FINAL RESPONSE]", "[END FINAL RESPONSE]", "<tool_calls>",
                   "</tool_calls>"};
      break;
    case ChatFormat::kGigaChatV3:
      s.markers = {"<|message_sep|>", "function call<|role_sep|>"};
      break;
    case ChatFormat::kGemma4:
      s.reasoning = ReasoningSyntax{"<|channel>thought", "<channel|>"};
      s.stop_strings = {"<turn|>"};
      s.markers = {"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|\"|>"};
      break;
  }
  return s;
}

ChatSyntax detect_chat_syntax(std::string_view src) {
  ChatSyntax s = chat_syntax_for(detect_chat_format(src));
  const bool mentions_think = has(src, "<think>") || has(src, "</think>");
  switch (s.format) {
    case ChatFormat::kContentOnly:
    case ChatFormat::kChatML:
    case ChatFormat::kHermes2Pro:
    case ChatFormat::kQwen3CoderXml:
    case ChatFormat::kKimiK2:
    case ChatFormat::kLfm2:
    case ChatFormat::kLlama3x:
      if (mentions_think) {
        s.reasoning = kThink;
        s.markers.insert(s.markers.begin(), {"<think>", "</think>"});
      }
      break;
    case ChatFormat::kMistralNemo:
    case ChatFormat::kMistralSmall:
      if (has(src, "[THINK]")) {
        s.reasoning = ReasoningSyntax{"[THINK]", "[/THINK]"};
        s.markers.insert(s.markers.begin(), {"[THINK]", "[/THINK]"});
      }
      break;
    default:
      break;
  }
  return s;
}

ChatSyntax syntax_for_request(const ChatSyntax& detected, bool tools_enabled) {
  if (!tools_enabled || detected.native_tool_calls) return detected;
  ChatSyntax s = detected;
  s.format = ChatFormat::kGeneric;
  s.native_tool_calls = true;
  return s;
}

std::string_view generic_tool_instruction() {
  return "Respond in JSON format, either with `tool_call` (a request to call tools) or with "
         "`response` reply to the user's request";
}

Result<Json> generic_reply_schema(const Json& tools, bool parallel, bool required,
                                  const Json& response_schema) {
  Result<std::vector<detail::ToolInfo>> infos = detail::read_tools(tools);
  if (!infos.ok()) return infos.status();
  Json alternatives = Json::array();
  for (const auto& t : *infos) {
    Json call = {{"type", "object"},
                 {"properties",
                  {{"name", {{"type", "string"}, {"const", t.name}}}, {"arguments", t.parameters}}},
                 {"required", Json::array({"name", "arguments"})}};
    alternatives.push_back(std::move(call));
  }
  Json one = alternatives.size() == 1 ? alternatives[0] : Json{{"anyOf", alternatives}};
  Json calls;
  if (parallel) {
    calls = {{"type", "object"},
             {"properties", {{"tool_calls", {{"type", "array"}, {"items", one}, {"minItems", 1}}}}},
             {"required", Json::array({"tool_calls"})}};
  } else {
    calls = {{"type", "object"},
             {"properties", {{"tool_call", one}}},
             {"required", Json::array({"tool_call"})}};
  }
  if (required) return calls;
  Json response = {
      {"type", "object"},
      {"properties",
       {{"response", response_schema.is_null() ? Json{{"type", "string"}} : response_schema}}},
      {"required", Json::array({"response"})}};
  return Json{{"anyOf", Json::array({calls, response})}};
}

bool prompt_opens_reasoning(const ChatSyntax& syntax, std::string_view prompt) {
  if (!syntax.reasoning) return false;
  if (syntax.reasoning->start.empty()) return true;
  while (!prompt.empty() && (prompt.back() == ' ' || prompt.back() == '\n' ||
                             prompt.back() == '\t' || prompt.back() == '\r')) {
    prompt.remove_suffix(1);
  }
  const std::string& start = syntax.reasoning->start;
  return prompt.size() >= start.size() && prompt.substr(prompt.size() - start.size()) == start;
}

}  // namespace ember::chat
