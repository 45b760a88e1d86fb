#include "chat/chat_prompt.h"

#include <algorithm>

#include "chat/jinja/template.h"
#include "chat/parsers/tools.h"
#include "chat/tool_call_grammar.h"
#include "grammar/json_schema.h"

namespace ember::chat {
namespace {

using Span = std::pair<size_t, size_t>;

// ChatML (written for ember; the same output as the template llama.cpp falls back to).
constexpr std::string_view kChatMl =
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

std::string token_text_or_empty(const Tokenizer& tok, int32_t id) {
  if (id < 0) return "";
  Result<std::string_view> t = tok.token_text(id);
  return t.ok() ? std::string(*t) : std::string();
}

std::string trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// Whether tokenizing `s` with special-token parsing yields a control token.
Result<bool> has_control_text(const Tokenizer& tok, std::string_view s) {
  EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok.tokenize(s, false, true));
  for (int32_t id : ids) {
    if (tok.is_control(id)) return true;
  }
  return false;
}

// Placeholders for untrusted strings: text no template treats specially.
constexpr std::string_view kSentinelOpen = "@@ember-untrusted-";
constexpr std::string_view kSentinelClose = "@@";

// Replaces every string value in `j` (not object keys) that contains special-token text with a
// placeholder, remembering the original in `originals`.
Status replace_untrusted(const Tokenizer& tok, Json& j, std::vector<std::string>& originals) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    EMBER_ASSIGN_OR_RETURN(bool dangerous, has_control_text(tok, s));
    if (dangerous) {
      originals.push_back(s);
      j = std::string(kSentinelOpen) + std::to_string(originals.size() - 1) +
          std::string(kSentinelClose);
    }
  } else if (j.is_structured()) {
    for (auto& [k, v] : j.items()) EMBER_RETURN_IF_ERROR(replace_untrusted(tok, v, originals));
  }
  return Status::Ok();
}

// Finds where the untrusted strings are in `real` (the template rendered with them) by walking
// `with_placeholders` (the same template rendered with placeholders): the text between
// placeholders must match exactly, and each placeholder stands for its string as is, trimmed,
// or JSON-escaped (tojson). Error when the template treated the text differently (it
// inspected or transformed it beyond that).
Result<std::vector<Span>> untrusted_spans(std::string_view real, std::string_view with_placeholders,
                                          const std::vector<std::string>& originals) {
  const Status mismatch = invalid_argument(
      "a message contains special-token text (e.g. '<|...|>') that the chat template transforms "
      "or inspects, so it cannot be kept as plain text safely; remove the special-token text");
  std::vector<Span> spans;
  size_t i = 0, j = 0;
  while (i < with_placeholders.size()) {
    size_t k = with_placeholders.find(kSentinelOpen, i);
    if (k == std::string_view::npos) k = with_placeholders.size();
    const std::string_view literal = with_placeholders.substr(i, k - i);
    if (real.substr(j, literal.size()) != literal) return mismatch;
    j += literal.size();
    if (k == with_placeholders.size()) break;
    const size_t digits = k + kSentinelOpen.size();
    const size_t close = with_placeholders.find(kSentinelClose, digits);
    if (close == std::string_view::npos) return mismatch;
    size_t index = 0;
    for (size_t d = digits; d < close; ++d) {
      const char c = with_placeholders[d];
      if (c < '0' || c > '9') return mismatch;
      index = index * 10 + static_cast<size_t>(c - '0');
    }
    if (index >= originals.size()) return mismatch;
    const std::string& s = originals[index];
    const std::string escaped = Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
    const std::string forms[] = {s, escaped.substr(1, escaped.size() - 2), trim(s)};
    bool found = false;
    for (const std::string& f : forms) {
      if (real.substr(j, f.size()) == f) {
        spans.emplace_back(j, j + f.size());
        j += f.size();
        found = true;
        break;
      }
    }
    if (!found) return mismatch;
    i = close + kSentinelClose.size();
  }
  if (j != real.size()) return mismatch;
  return spans;
}

std::vector<Span> merge_spans(std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end());
  std::vector<Span> out;
  for (const Span& s : spans) {
    if (!out.empty() && s.first <= out.back().second) {
      out.back().second = std::max(out.back().second, s.second);
    } else {
      out.push_back(s);
    }
  }
  return out;
}

bool is_forced_choice(const std::string& choice) {
  return choice != "auto" && choice != "none";
}

Status check_messages(const std::vector<ChatMessage>& messages) {
  if (messages.empty()) return invalid_argument("messages: at least one message is needed");
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (m.role != ChatRole::kAssistant && !m.tool_calls.empty()) {
      return invalid_argument(where + ".tool_calls: only assistant messages have tool calls");
    }
    if (m.role == ChatRole::kTool && m.tool_call_id.empty()) {
      return invalid_argument(where + ".tool_call_id: required in tool messages");
    }
    for (size_t k = 0; k < m.tool_calls.size(); ++k) {
      if (m.tool_calls[k].name.empty()) {
        return invalid_argument(where + ".tool_calls[" + std::to_string(k) +
                                "].function.name: must not be empty");
      }
    }
  }
  return Status::Ok();
}

// The messages as the template sees them: content as a string (text parts joined), tool-call
// arguments as objects (templates iterate or `tojson` them), and `system_addition` appended to
// the system message (one is inserted when there is none).
Json template_messages(const std::vector<ChatMessage>& messages,
                       const std::string& system_addition) {
  Json out = Json::array();
  for (const ChatMessage& m : messages) {
    Json j = Json::object();
    j["role"] = std::string(chat_role_name(m.role));
    j["content"] = m.text();
    if (!m.reasoning_content.empty()) j["reasoning_content"] = m.reasoning_content;
    if (!m.tool_calls.empty()) {
      Json calls = Json::array();
      for (const ChatToolCall& c : m.tool_calls) {
        Json args = Json::parse(c.arguments, nullptr, /*allow_exceptions=*/false);
        if (args.is_discarded()) args = c.arguments;
        calls.push_back({{"id", c.id},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", std::move(args)}}}});
      }
      j["tool_calls"] = std::move(calls);
    }
    if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
    if (!m.name.empty()) j["name"] = m.name;
    out.push_back(std::move(j));
  }
  if (!system_addition.empty()) {
    const std::string& instruction = system_addition;
    if (!out.empty() && out[0]["role"] == "system") {
      std::string text = out[0]["content"].get<std::string>();
      out[0]["content"] = text.empty() ? instruction : text + "\n\n" + instruction;
    } else {
      out.insert(out.begin(), Json{{"role", "system"}, {"content", instruction}});
    }
  }
  return out;
}

// Whether the template renders a system message (Gemma's raises an error, others drop it).
bool supports_system_role(const jinja::Template& tmpl, const Json& base_ctx) {
  static constexpr std::string_view kProbe = "ember-system-probe-7f3a";
  Json ctx = base_ctx;
  ctx["messages"] = Json::array(
      {Json{{"role", "system"}, {"content", kProbe}}, Json{{"role", "user"}, {"content", "hi"}}});
  Result<std::string> out = tmpl.render(ctx);
  return out.ok() && out->find(kProbe) != std::string::npos;
}

// Leading system messages merged into the first user message ("system\n\nuser"), for templates
// without a system role (as llama.cpp does).
void merge_system_into_user(Json& messages) {
  std::string system;
  while (!messages.empty() && messages[0]["role"] == "system") {
    const std::string text = messages[0]["content"].get<std::string>();
    if (!text.empty()) system += (system.empty() ? "" : "\n\n") + text;
    messages.erase(messages.begin());
  }
  if (system.empty()) return;
  if (!messages.empty() && messages[0]["role"] == "user") {
    const std::string text = messages[0]["content"].get<std::string>();
    messages[0]["content"] = text.empty() ? system : system + "\n\n" + text;
  } else {
    messages.insert(messages.begin(), Json{{"role", "user"}, {"content", system}});
  }
}

bool renders_containing(const jinja::Template& tmpl, const Json& base_ctx, Json messages,
                        std::string_view probe) {
  Json ctx = base_ctx;
  ctx["messages"] = std::move(messages);
  Result<std::string> out = tmpl.render(ctx);
  return out.ok() && out->find(probe) != std::string::npos;
}

Json probe_call() {
  return Json{{"id", "call_ember_probe"},
              {"type", "function"},
              {"function", {{"name", "ember_probe_fn"}, {"arguments", {{"ember_probe_arg", 1}}}}}};
}

// Whether the template renders the `tools` variable at all.
bool supports_tools(const jinja::Template& tmpl, const Json& base_ctx) {
  Json ctx = base_ctx;
  ctx["tools"] =
      Json::array({Json{{"type", "function"},
                        {"function",
                         {{"name", "ember_probe_tool"},
                          {"description", "probe"},
                          {"parameters", {{"type", "object"}, {"properties", Json::object()}}}}}}});
  return renders_containing(tmpl, ctx, Json::array({Json{{"role", "user"}, {"content", "x"}}}),
                            "ember_probe_tool");
}

// Whether assistant tool calls are rendered (templates without tool support drop them).
bool supports_tool_calls(const jinja::Template& tmpl, const Json& base_ctx) {
  Json messages = Json::array(
      {Json{{"role", "user"}, {"content", "x"}},
       Json{{"role", "assistant"}, {"content", ""}, {"tool_calls", Json::array({probe_call()})}}});
  return renders_containing(tmpl, base_ctx, std::move(messages), "ember_probe_fn");
}

// Whether tool messages are rendered (some templates drop or reject the role).
bool supports_tool_role(const jinja::Template& tmpl, const Json& base_ctx, bool tool_calls) {
  Json assistant = {{"role", "assistant"}, {"content", tool_calls ? "" : "y"}};
  if (tool_calls) assistant["tool_calls"] = Json::array({probe_call()});
  Json messages = Json::array({Json{{"role", "user"}, {"content", "x"}}, std::move(assistant),
                               Json{{"role", "tool"},
                                    {"tool_call_id", "call_ember_probe"},
                                    {"name", "ember_probe_fn"},
                                    {"content", "ember-tool-probe-result"}}});
  return renders_containing(tmpl, base_ctx, std::move(messages), "ember-tool-probe-result");
}

// For templates without tool-call support: the calls become the assistant's content, written
// as the generic JSON reply ({"tool_call": ...} or {"tool_calls": [...]}), so the model sees
// what it called (as llama.cpp does).
void tool_calls_into_content(Json& messages) {
  for (Json& m : messages) {
    auto calls = m.find("tool_calls");
    if (calls == m.end()) continue;
    Json list = Json::array();
    for (const Json& c : *calls) {
      Json call = {{"name", c["function"]["name"]}, {"arguments", c["function"]["arguments"]}};
      if (c.contains("id") && !c["id"].get<std::string>().empty()) call["id"] = c["id"];
      list.push_back(std::move(call));
    }
    const Json reply =
        list.size() == 1 ? Json{{"tool_call", list[0]}} : Json{{"tool_calls", std::move(list)}};
    std::string content = m["content"].get<std::string>();
    if (!content.empty()) content += "\n";
    m["content"] = content + reply.dump(2);
    m.erase("tool_calls");
  }
}

// For templates without a tool role: tool results become user messages
// {"tool_response": {"tool": NAME, "content": ...}}; consecutive results share one message
// (templates that insist on alternating roles accept that).
void tool_results_into_user(Json& messages) {
  Json out = Json::array();
  bool previous_was_result = false;
  for (Json& m : messages) {
    if (m["role"] != "tool") {
      out.push_back(std::move(m));
      previous_was_result = false;
      continue;
    }
    Json response = {{"tool_response", Json::object()}};
    if (m.contains("name")) response["tool_response"]["tool"] = m["name"];
    if (m.contains("tool_call_id")) response["tool_response"]["id"] = m["tool_call_id"];
    response["tool_response"]["content"] = m["content"];
    const std::string text = response.dump(2);
    if (previous_was_result) {
      out.back()["content"] = out.back()["content"].get<std::string>() + "\n" + text;
    } else {
      out.push_back(Json{{"role", "user"}, {"content", text}});
    }
    previous_was_result = true;
  }
  messages = std::move(out);
}

}  // namespace

std::string_view default_chat_template() {
  return kChatMl;
}

Result<std::vector<int32_t>> tokenize_with_untrusted_spans(const Tokenizer& tok,
                                                           std::string_view rendered,
                                                           const std::vector<Span>& untrusted) {
  std::vector<int32_t> out;
  size_t pos = 0;
  auto add = [&](size_t begin, size_t end, bool parse_special) -> Status {
    if (end <= begin) return Status::Ok();
    EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                           tok.tokenize(rendered.substr(begin, end - begin), false, parse_special));
    out.insert(out.end(), ids.begin(), ids.end());
    return Status::Ok();
  };
  for (const Span& s : untrusted) {
    EMBER_RETURN_IF_ERROR(add(pos, s.first, true));
    EMBER_RETURN_IF_ERROR(add(s.first, s.second, false));
    pos = s.second;
  }
  EMBER_RETURN_IF_ERROR(add(pos, rendered.size(), true));
  return out;
}

Result<ChatPlan> plan_chat(const Tokenizer& tok, std::string_view model_template,
                           const std::vector<ChatMessage>& messages, const ChatParams& params) {
  EMBER_RETURN_IF_ERROR(check_messages(messages));
  const std::string& choice = params.tool_choice;
  if (choice.empty()) {
    return invalid_argument("tool_choice: empty (use auto, none, required or a function name)");
  }
  if (!params.tools.is_array()) return invalid_argument("tools: must be a list");
  if (!params.tools.empty()) {
    Result<std::vector<detail::ToolInfo>> infos = detail::read_tools(params.tools);
    if (!infos.ok()) return infos.status().with_context("tools");
    if (is_forced_choice(choice) && choice != "required") {
      bool known = false;
      for (const auto& t : *infos) known = known || t.name == choice;
      if (!known) {
        return invalid_argument("tool_choice names the function '" + choice +
                                "', which is not in tools");
      }
    }
  } else if (is_forced_choice(choice)) {
    return invalid_argument("tool_choice '" + choice + "' needs tools, but none were given");
  }
  if (!params.template_kwargs.is_object()) {
    return invalid_argument("template_kwargs (chat_template_kwargs): must be an object");
  }

  const std::string source = !params.chat_template.empty() ? params.chat_template
                             : !model_template.empty()     ? std::string(model_template)
                                                           : std::string(kChatMl);
  const bool tools_enabled = !params.tools.empty() && choice != "none";
  const bool forced = tools_enabled && is_forced_choice(choice);
  ChatPlan plan;
  plan.syntax = syntax_for_request(detect_chat_syntax(source), tools_enabled);
  const bool generic = tools_enabled && plan.syntax.format == ChatFormat::kGeneric;

  std::optional<bool> thinking = params.enable_thinking;
  if (!thinking) {
    auto it = params.template_kwargs.find("enable_thinking");
    if (it != params.template_kwargs.end() && it->is_boolean()) thinking = it->get<bool>();
  }

  // ---- render ----
  Json ctx = Json::object();
  for (const auto& [k, v] : params.template_kwargs.items()) {
    if (k == "messages" || k == "tools" || k == "add_generation_prompt") continue;
    ctx[k] = v;
  }
  ctx["add_generation_prompt"] = true;
  ctx["bos_token"] = token_text_or_empty(tok, tok.bos());
  ctx["eos_token"] = token_text_or_empty(tok, tok.eos());
  if (params.enable_thinking) ctx["enable_thinking"] = *params.enable_thinking;
  auto tmpl = jinja::Template::parse(source);
  if (!tmpl.ok()) return invalid_argument("chat template: " + tmpl.status().message());
  // What the system message needs on top: the tools, for templates that do not render them
  // (the model must know what it can call), and the generic format's instruction.
  std::string system_addition;
  if (tools_enabled && !supports_tools(*tmpl, ctx)) {
    system_addition = "You can call any of the following tools to satisfy the user's requests: " +
                      params.tools.dump(2, ' ', false, Json::error_handler_t::replace);
  }
  if (generic) {
    if (!system_addition.empty()) system_addition += "\n\n";
    system_addition += generic_tool_instruction();
  }
  Json msgs = template_messages(messages, system_addition);
  if (!msgs.empty() && msgs[0]["role"] == "system" && !supports_system_role(*tmpl, ctx)) {
    merge_system_into_user(msgs);
  }
  // Polyfills for templates that cannot render tool calls or tool results.
  bool has_calls = false, has_results = false;
  for (const Json& m : msgs) {
    has_calls = has_calls || m.contains("tool_calls");
    has_results = has_results || m["role"] == "tool";
  }
  bool calls_supported = true;
  if (has_calls && !supports_tool_calls(*tmpl, ctx)) {
    calls_supported = false;
    tool_calls_into_content(msgs);
  }
  if (has_results && !supports_tool_role(*tmpl, ctx, calls_supported)) {
    tool_results_into_user(msgs);
  }
  ctx["messages"] = std::move(msgs);
  if (!params.tools.empty()) ctx["tools"] = params.tools;
  auto rendered = tmpl->render(ctx);
  if (!rendered.ok()) return invalid_argument("chat template: " + rendered.status().message());
  plan.rendered = std::move(*rendered);

  // ---- injection-safe tokenization ----
  // Render again with placeholders for the strings that hold special-token text, to find where
  // the template put them; those spans are tokenized as plain text.
  std::vector<Span> spans;
  {
    Json safe_ctx = ctx;
    std::vector<std::string> originals;
    EMBER_RETURN_IF_ERROR(replace_untrusted(tok, safe_ctx["messages"], originals));
    if (safe_ctx.contains("tools")) {
      EMBER_RETURN_IF_ERROR(replace_untrusted(tok, safe_ctx["tools"], originals));
    }
    if (!originals.empty()) {
      auto with_placeholders = tmpl->render(safe_ctx);
      if (!with_placeholders.ok()) {
        return invalid_argument("chat template: " + with_placeholders.status().message());
      }
      EMBER_ASSIGN_OR_RETURN(spans, untrusted_spans(plan.rendered, *with_placeholders, originals));
    }
  }
  spans = merge_spans(std::move(spans));
  EMBER_ASSIGN_OR_RETURN(plan.tokens, tokenize_with_untrusted_spans(tok, plan.rendered, spans));
  const std::string bos_text = token_text_or_empty(tok, tok.bos());
  const bool starts_with_bos =
      !bos_text.empty() && plan.rendered.compare(0, bos_text.size(), bos_text) == 0;
  if (tok.add_bos() && tok.bos() >= 0 && !starts_with_bos) {
    plan.tokens.insert(plan.tokens.begin(), tok.bos());
  }

  // ---- generation: stops and constraints ----
  plan.generation = params.generation;
  plan.generation.add_special = false;
  plan.generation.parse_special = true;
  for (const std::string& s : plan.syntax.stop_strings) {
    if (std::find(plan.generation.stop.begin(), plan.generation.stop.end(), s) ==
        plan.generation.stop.end()) {
      plan.generation.stop.push_back(s);
    }
  }
  const bool user_constraint =
      !params.generation.grammar.empty() || !params.generation.json_schema.empty();
  const ResponseFormat& rf = params.response_format;
  const bool wants_json = rf.type != ResponseFormat::Type::kText;
  if (user_constraint && (wants_json || forced || generic)) {
    return invalid_argument(
        std::string("generation.grammar / json_schema cannot be combined with ") +
        (wants_json ? "response_format"
         : forced   ? "tool_choice '" + choice + "'"
                    : "tools on a model without native tool calls "
                      "(they need the generic JSON grammar)"));
  }
  Json response_schema;
  if (rf.type == ResponseFormat::Type::kJsonObject) response_schema = {{"type", "object"}};
  if (rf.type == ResponseFormat::Type::kJsonSchema) response_schema = rf.schema;
  if (wants_json && forced) {
    return invalid_argument("response_format cannot be combined with tool_choice '" + choice +
                            "' (the reply must be a tool call)");
  }
  if (wants_json && tools_enabled && !generic) {
    return invalid_argument(
        "response_format with tools (tool_choice auto) is only supported for models without a "
        "native tool-call syntax; this model's format is " +
        std::string(chat_format_name(plan.syntax.format)) +
        " (use tool_choice \"none\" or drop the tools)");
  }
  const bool thinking_open = prompt_opens_reasoning(plan.syntax, plan.rendered);
  std::string gbnf;
  if (forced) {
    ForcedToolCallOptions fo;
    fo.parallel = params.parallel_tool_calls;
    fo.only_tool = choice == "required" ? "" : choice;
    fo.thinking_forced_open = thinking_open;
    Result<ForcedToolCallSpec> spec = forced_tool_call_spec(plan.syntax, params.tools, fo);
    if (!spec.ok()) return spec.status().with_context("tool_choice '" + choice + "'");
    if (thinking == false) spec->reasoning.reset();
    Result<std::string> g = forced_tool_call_grammar(*spec);
    if (!g.ok()) return g.status().with_context("tool_choice '" + choice + "'");
    gbnf = std::move(*g);
  } else if (generic) {
    Result<Json> schema = generic_reply_schema(params.tools, params.parallel_tool_calls,
                                               /*required=*/false, response_schema);
    if (!schema.ok()) return schema.status().with_context("tools");
    Result<std::string> g = grammar::json_schema_to_gbnf(*schema);
    if (!g.ok()) return g.status().with_context("the generic tool-call reply schema");
    gbnf = std::move(*g);
  } else if (wants_json) {
    Result<std::string> g = grammar::json_schema_to_gbnf(response_schema);
    if (!g.ok()) return g.status().with_context("response_format");
    gbnf = std::move(*g);
  }
  if (!gbnf.empty()) plan.generation.grammar = std::move(gbnf);

  // ---- parser ----
  plan.parser.syntax = plan.syntax;
  plan.parser.parse_tool_calls = tools_enabled;
  plan.parser.extract_reasoning = thinking.value_or(true);
  plan.parser.thinking_forced_open = thinking_open;
  plan.parser.tools = params.tools;
  return plan;
}

}  // namespace ember::chat
