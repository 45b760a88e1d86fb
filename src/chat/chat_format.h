// Chat formats: how a model family writes tool calls and reasoning in its output.
//
// A chat template (Jinja source from `tokenizer.chat_template`) tells which family a model
// belongs to; `detect_chat_syntax` reads the template source for the markers each family's
// template uses (the same idea as llama.cpp's common/chat.cpp, with its own rules, listed in
// docs/chat-formats.md) and returns what the output parser, the stop-string handling and the
// grammar for forced tool calls need to know.
//
//   ChatSyntax syntax = detect_chat_syntax(template_source);
//   syntax = syntax_for_request(syntax, /*tools_enabled=*/!tools.empty() && choice != "none");
//   bool open = prompt_opens_reasoning(syntax, rendered_prompt);
//   auto parser = OutputParser::create({.syntax = syntax, .thinking_forced_open = open, ...});
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ember/status.h"

namespace ember::chat {

using Json = nlohmann::ordered_json;

enum class ChatFormat {
  // No tool-call syntax of their own (with tools, kGeneric is used instead).
  kContentOnly,  // unknown template: plain text (Llama 2, RWKV, Command R+, ...)
  kChatML,       // <|im_start|> templates without tool calls (SmolLM3, default template)
  kGemma,        // Gemma 2/3: <start_of_turn>model
  kPhi3,         // Phi-3 / 3.5: <|assistant|> ... <|end|>
  kGeneric,      // a JSON reply {"tool_call": ...} / {"tool_calls": [...]} / {"response": ...}

  // Native tool-call syntaxes.
  kHermes2Pro,      // <tool_call>{"name":..,"arguments":..}</tool_call>: Hermes, Qwen 2.5/3, QwQ
  kQwen3CoderXml,   // <tool_call><function=NAME><parameter=P>value</parameter></function>..
  kSeedOss,         // <seed:think>, <seed:tool_call><function=NAME><parameter=P>..
  kMiniMaxM2,       // <minimax:tool_call><invoke name="NAME"><parameter name="P">..
  kGlm45,           // <tool_call>NAME<arg_key>P</arg_key><arg_value>v</arg_value></tool_call>
  kLlama3x,         // {"name":..,"parameters":..} at the start; <|python_tag|> builtins
  kFunctionaryV31,  // <function=NAME>{...}</function>, <|python_tag|>code
  kFunctionaryV32,  // >>>NAME\n{...}, >>>all\ntext
  kFirefunctionV2,  //  functools[{"name":..,"arguments":..}]
  kMistralNemo,     // [TOOL_CALLS][{"name":..,"arguments":..,"id":..}]
  kMistralSmall,    // [TOOL_CALLS]NAME[CALL_ID]ID[ARGS]{...} (Mistral Small 3.2, Magistral)
  kDeepSeekR1,      // <think>; function<｜tool▁sep｜>NAME\n```json\n{...}```
  kDeepSeekV31,     // <think>; NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜>
  kGptOss,          // harmony: <|channel|>analysis / commentary to=functions.NAME / final
  kCommandR7B,      // <|START_THINKING|>, <|START_ACTION|>[...]<|END_ACTION|>, <|START_RESPONSE|>
  kGranite,         // <think>/<response>, <|tool_call|>[...]
  kKimiK2,          // <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0...
  kNemotronV2,      // <think>, <TOOLCALL>[...]</TOOLCALL>
  kApertus,         // <|inner_prefix|>..<|inner_suffix|>, <|tools_prefix|>[{"NAME": {...}}]
  kLfm2,            // <|tool_call_start|>[NAME(a="v")]<|tool_call_end|> (or a JSON list)
  kApriel,          // reasoning, then [BEGIN FINAL RESPONSE]; <tool_calls>[...]</tool_calls>
  kGigaChatV3,      // <|message_sep|>\n\nfunction call<|role_sep|>\n{"name":..,"arguments":..}
  kGemma4,          // <|channel>thought..<channel|>, <|tool_call>call:NAME{k:<|"|>v<|"|>}..
};

// "Hermes 2 Pro", "GPT-OSS", ...
std::string_view chat_format_name(ChatFormat format);

// Reasoning ("thinking") markers in the output. An empty `start` means the output always begins
// inside the reasoning block (Apriel writes its reasoning first, then `end`).
struct ReasoningSyntax {
  std::string start;
  std::string end;

  bool operator==(const ReasoningSyntax&) const = default;
};

struct ChatSyntax {
  ChatFormat format = ChatFormat::kContentOnly;
  // The family writes tool calls in its own syntax. When false and the request has tools, the
  // generic JSON reply is used (see syntax_for_request).
  bool native_tool_calls = false;
  // nullopt: the output has no reasoning block to split off.
  std::optional<ReasoningSyntax> reasoning;
  // Extra stop strings for this family (end-of-turn texts beyond the model's EOG tokens).
  std::vector<std::string> stop_strings;
  // Texts the output parser looks for. Many are special tokens: the detokenizer must render
  // them as text in the output stream handed to the parser.
  std::vector<std::string> markers;

  bool operator==(const ChatSyntax&) const = default;
};

// The family of a template, from markers in its source. An empty template gets kChatML (what a
// model without a template is rendered with).
ChatFormat detect_chat_format(std::string_view template_source);

// Everything about the output syntax a template implies: the format, whether its reasoning
// block is used (e.g. a ChatML/Hermes template that mentions </think>), stops and markers.
ChatSyntax detect_chat_syntax(std::string_view template_source);

// The default syntax of a format (reasoning markers included where the family always has
// them).
ChatSyntax chat_syntax_for(ChatFormat format);

// The syntax to parse a request's reply with: a family without native tool calls switches to
// kGeneric when tools are enabled (tools given and tool_choice is not "none"). The caller must
// then also ask for the JSON reply: add `generic_tool_instruction()` to the system message and
// constrain the output with `generic_reply_schema()`.
ChatSyntax syntax_for_request(const ChatSyntax& detected, bool tools_enabled);

// System-prompt sentence for the generic JSON reply.
std::string_view generic_tool_instruction();

// The JSON schema of the generic reply: {"tool_call": ...} (or {"tool_calls": [...]} when
// `parallel`), or, unless `required`, {"response": <response_schema or a string>}.
Result<Json> generic_reply_schema(const Json& tools, bool parallel, bool required,
                                  const Json& response_schema = Json());

// True when the rendered prompt ends inside a reasoning block — it ends with the reasoning start
// marker (optionally followed by whitespace), e.g. Qwen3 / DeepSeek-R1 templates that put
// "<think>\n" into the generation prompt — or the format always starts in reasoning (Apriel).
// Pass the result as OutputParserOptions::thinking_forced_open.
bool prompt_opens_reasoning(const ChatSyntax& syntax, std::string_view rendered_prompt);

// ---- Forced tool calls (tool_choice "required" or a named function) ----------------------------
//
// What the output must look like so that it is one or more valid tool calls: literal text and
// JSON values with schemas, for the grammar builder (JSON schema -> GBNF) to turn into a grammar:
//
//   [reasoning]? prefix  call (separator call)*  suffix
//   call := one of `calls`; each is a sequence of parts
//
// For JSON formats a call is literal + JSON + literal (e.g. "<tool_call>\n", {"name":
// {"const": "get_weather"}, "arguments": <parameters>}, "\n</tool_call>"). Formats whose
// parameter values are raw text (Qwen3-Coder XML, GLM, Seed-OSS, MiniMax) use kText parts for
// string parameters; only required parameters are included there (in schema order).

struct ToolCallPart {
  enum class Kind {
    kLiteral,  // `literal`, verbatim
    kJson,     // a JSON value matching `schema`
    kText,     // any text not containing `text_end` (the literal that follows)
  };
  Kind kind = Kind::kLiteral;
  std::string literal;
  Json schema;
  std::string text_end;

  bool operator==(const ToolCallPart&) const = default;
};

struct ToolCallShape {
  std::string tool_name;  // the tool this alternative calls ("" when the JSON covers all tools)
  std::vector<ToolCallPart> parts;
};

struct ForcedToolCallSpec {
  // Reasoning allowed before the calls: `reasoning->start` + free text + `reasoning->end`. When
  // `reasoning_open` (the prompt ended inside the block) the output starts with the free text.
  std::optional<ReasoningSyntax> reasoning;
  bool reasoning_open = false;
  std::string prefix;
  std::vector<ToolCallShape> calls;
  bool repeat = false;  // more than one call may follow (parallel tool calls)
  std::string separator;
  std::string suffix;
};

struct ForcedToolCallOptions {
  bool parallel = false;  // parallel_tool_calls
  std::string only_tool;  // tool_choice naming one function; "" = any of the tools
  bool thinking_forced_open = false;
};

// `tools` is the request's OpenAI-style tools array ([{"type": "function", "function": {"name",
// "parameters", ...}}]). Errors: tools malformed, `only_tool` unknown, or a syntax that cannot
// be described this way (Gemma 4's non-JSON arguments: unimplemented).
Result<ForcedToolCallSpec> forced_tool_call_spec(const ChatSyntax& syntax, const Json& tools,
                                                 const ForcedToolCallOptions& options);

}  // namespace ember::chat
