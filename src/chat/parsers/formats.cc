#include "chat/parsers/formats.h"

#include <algorithm>

#include "chat/parsers/json_call.h"
#include "chat/parsers/pattern_call.h"
#include "chat/parsers/python_call.h"
#include "chat/parsers/special_calls.h"
#include "chat/parsers/xml_call.h"

namespace ember::chat::detail {
namespace {

template <typename T>
std::shared_ptr<const T> share(T value) {
  return std::make_shared<const T>(std::move(value));
}

// Qwen3-Coder's tags; `scope_end` closes the block the call sits in ("" for a lone call).
XmlCallSyntax qwen_xml(std::string scope_end, std::string name_end = ">") {
  XmlCallSyntax x;
  x.scope_end = std::move(scope_end);
  x.tool_start = "<function=";
  x.name_end = {std::move(name_end)};
  x.tool_end = "</function>";
  x.key_start = "<parameter=";
  x.key_end = ">";
  x.value_end = "</parameter>";
  x.json_body_allowed = true;
  return x;
}

const std::vector<std::string> kDeepSeekBegins = {
    "<｜tool▁calls▁begin｜>", "<｜tool_calls_begin｜>", "<｜tool calls begin｜>",
    "<｜tool\\_calls\\_begin｜>", "<｜tool▁calls｜>"};

}  // namespace

IdStyle id_style_for(ChatFormat format) {
  return format == ChatFormat::kMistralNemo || format == ChatFormat::kMistralSmall
             ? IdStyle::kMistral
             : IdStyle::kOpenAI;
}

std::unique_ptr<ParserImpl> make_parser_impl(const ParserSetup& s) {
  if (s.format == ChatFormat::kGptOss) return make_gpt_oss_parser(s.tools, s.reasoning.has_value());

  EngineConfig c;
  if (s.reasoning) {
    c.reasoning_start = s.reasoning->start;
    c.reasoning_end = s.reasoning->end;
    c.reasoning_open_at_start = s.reasoning_open;
  }
  auto schemas = share(ToolSchemas(s.tool_definitions));
  auto add = [&c](std::string marker, ElementFactory make) {
    c.triggers.push_back(Trigger{std::move(marker), std::move(make), true});
  };
  auto drop = [&c](std::string marker) {
    c.triggers.push_back(Trigger{std::move(marker), nullptr, false});
  };
  bool structural = false;  // the syntax carries plain replies too: keep it without tools

  switch (s.format) {
    case ChatFormat::kContentOnly:
    case ChatFormat::kChatML:
    case ChatFormat::kGemma:
    case ChatFormat::kPhi3:
    case ChatFormat::kGptOss:
      break;
    case ChatFormat::kGeneric: {
      JsonCallKeys k;
      k.args = {"arguments"};
      auto keys = share(k);
      c.start_element = [keys] { return std::make_unique<GenericReply>(keys.get()); };
      break;
    }
    case ChatFormat::kHermes2Pro:
    case ChatFormat::kQwen3CoderXml: {
      auto keys = share(JsonCallKeys{});
      JsonCallKeys lead;
      lead.args = {"arguments"};
      lead.require_args = true;
      auto lead_keys = share(lead);
      auto tc = share(qwen_xml("</tool_call>"));
      auto fc = share(qwen_xml("</function_call>"));
      auto fn = share(qwen_xml(""));
      auto fn_named = share(qwen_xml("", "\">"));
      add("<tool_call>", [keys, tc, schemas] {
        return std::make_unique<HermesCall>(keys.get(), tc.get(), schemas.get(), "</tool_call>");
      });
      add("<function_call>", [keys, fc, schemas] {
        return std::make_unique<HermesCall>(keys.get(), fc.get(), schemas.get(),
                                            "</function_call>");
      });
      add("<function=", [fn, schemas] {
        return std::make_unique<XmlCall>(fn.get(), schemas.get(), /*in_scope=*/false);
      });
      add("<function name=\"", [fn_named, schemas] {
        return std::make_unique<XmlCall>(fn_named.get(), schemas.get(), /*in_scope=*/false);
      });
      c.start_element = [lead_keys] { return std::make_unique<LeadingJsonCalls>(lead_keys.get()); };
      break;
    }
    case ChatFormat::kSeedOss: {
      auto x = share(qwen_xml("</seed:tool_call>"));
      add("<seed:tool_call>", [x, schemas] {
        return std::make_unique<XmlCall>(x.get(), schemas.get(), /*in_scope=*/true);
      });
      break;
    }
    case ChatFormat::kMiniMaxM2: {
      XmlCallSyntax m;
      m.scope_end = "</minimax:tool_call>";
      m.tool_start = "<invoke name=\"";
      m.name_end = {"\">"};
      m.tool_end = "</invoke>";
      m.key_start = "<parameter name=\"";
      m.key_end = "\">";
      m.value_end = "</parameter>";
      auto x = share(m);
      add("<minimax:tool_call>", [x, schemas] {
        return std::make_unique<XmlCall>(x.get(), schemas.get(), /*in_scope=*/true);
      });
      break;
    }
    case ChatFormat::kGlm45: {
      XmlCallSyntax g;
      g.name_end = {"\n", "<arg_key>", "</tool_call>"};
      g.tool_end = "</tool_call>";
      g.key_start = "<arg_key>";
      g.key_end = "</arg_key>";
      g.value_start = "<arg_value>";
      g.value_end = "</arg_value>";
      auto x = share(g);
      add("<tool_call>", [x, schemas] {
        return std::make_unique<XmlCall>(x.get(), schemas.get(), /*in_scope=*/false);
      });
      break;
    }
    case ChatFormat::kLlama3x: {
      JsonCallKeys k;
      k.id = {};
      k.require_args = true;
      auto keys = share(k);
      c.start_element = [keys] { return std::make_unique<LeadingJsonCalls>(keys.get()); };
      add("<|python_tag|>", [keys] { return std::make_unique<PythonTag>(keys.get()); });
      break;
    }
    case ChatFormat::kFunctionaryV31: {
      auto fn = share(qwen_xml(""));
      JsonCallKeys k;
      k.id = {};
      auto keys = share(k);
      add("<function=", [fn, schemas] {
        return std::make_unique<XmlCall>(fn.get(), schemas.get(), /*in_scope=*/false);
      });
      add("<|python_tag|>", [keys] { return std::make_unique<PythonTag>(keys.get()); });
      break;
    }
    case ChatFormat::kFunctionaryV32: {
      auto code_end = share(MarkerSet({">>>"}));
      c.start_element = [code_end] {
        return std::make_unique<FunctionaryRecipient>(code_end.get());
      };
      add(">>>", [code_end] { return std::make_unique<FunctionaryRecipient>(code_end.get()); });
      structural = true;
      break;
    }
    case ChatFormat::kFirefunctionV2: {
      auto keys = share(JsonCallKeys{});
      add("functools[", [keys] {
        return std::make_unique<JsonCallArray>(keys.get(), "", /*open_consumed=*/true);
      });
      break;
    }
    case ChatFormat::kMistralNemo:
    case ChatFormat::kMistralSmall: {
      JsonCallKeys k;
      k.args = {"arguments"};
      k.wait_for_end = true;  // Nemo writes the id after the arguments
      auto keys = share(k);
      PatStep name = PatStep::capture(PatStep::Slot::kName, {"[CALL_ID]", "[ARGS]"});
      name.keep_terminator = true;
      PatStep id = PatStep::capture(PatStep::Slot::kId, {"[ARGS]"});
      id.keep_terminator = true;
      id.only_if_previous_matched = true;
      auto named = share(CallPattern(
          {name, PatStep::opt({"[CALL_ID]"}), id, PatStep::lit({"[ARGS]"}), PatStep::args()}));
      add("[TOOL_CALLS]",
          [keys, named] { return std::make_unique<MistralCall>(keys.get(), named.get()); });
      break;
    }
    case ChatFormat::kDeepSeekR1:
    case ChatFormat::kDeepSeekV31: {
      std::vector<PatStep> steps = {PatStep::space(), PatStep::opt({"<｜tool▁call▁begin｜>"})};
      if (s.format == ChatFormat::kDeepSeekR1) {
        steps.push_back(PatStep::capture(PatStep::Slot::kNone, {"<｜tool▁sep｜>"}, 32));
        steps.push_back(PatStep::capture(PatStep::Slot::kName, {"\n"}));
      } else {
        steps.push_back(PatStep::capture(PatStep::Slot::kName, {"<｜tool▁sep｜>"}));
      }
      for (PatStep st : {PatStep::space(), PatStep::opt({"```json"}), PatStep::space(),
                         PatStep::args(), PatStep::space(), PatStep::opt({"```"}), PatStep::space(),
                         PatStep::lit({"<｜tool▁call▁end｜>"})}) {
        steps.push_back(std::move(st));
      }
      auto call = share(CallPattern(std::move(steps)));
      for (const auto& begin : kDeepSeekBegins) {
        add(begin,
            [call] { return std::make_unique<CallSection>(call.get(), "<｜tool▁calls▁end｜>"); });
      }
      add("<｜tool▁call▁begin｜>", [call] { return std::make_unique<PatternCall>(call.get()); });
      break;
    }
    case ChatFormat::kCommandR7B: {
      JsonCallKeys k;
      k.name = {"tool_name"};
      k.args = {"parameters"};
      k.id = {"tool_call_id"};
      auto keys = share(k);
      add("<|START_ACTION|>",
          [keys] { return std::make_unique<JsonCallArray>(keys.get(), "<|END_ACTION|>"); });
      drop("<|START_RESPONSE|>");
      drop("<|END_RESPONSE|>");
      break;
    }
    case ChatFormat::kGranite: {
      auto keys = share(JsonCallKeys{});
      add("<|tool_call|>", [keys] { return std::make_unique<JsonCallArray>(keys.get(), ""); });
      drop("<response>");
      drop("</response>");
      break;
    }
    case ChatFormat::kKimiK2: {
      std::vector<PatStep> tail = {
          PatStep::capture(PatStep::Slot::kKimiId, {"<|tool_call_argument_begin|>"}),
          PatStep::space(), PatStep::args(), PatStep::space(), PatStep::lit({"<|tool_call_end|>"})};
      std::vector<PatStep> full = {PatStep::lit({"<|tool_call_begin|>"})};
      full.insert(full.end(), tail.begin(), tail.end());
      auto section_call = share(CallPattern(std::move(full)));
      auto lone_call = share(CallPattern(std::move(tail)));
      add("<|tool_calls_section_begin|>", [section_call] {
        return std::make_unique<CallSection>(section_call.get(), "<|tool_calls_section_end|>");
      });
      add("<|tool_call_begin|>",
          [lone_call] { return std::make_unique<PatternCall>(lone_call.get()); });
      break;
    }
    case ChatFormat::kNemotronV2: {
      auto keys = share(JsonCallKeys{});
      add("<TOOLCALL>",
          [keys] { return std::make_unique<JsonCallArray>(keys.get(), "</TOOLCALL>"); });
      break;
    }
    case ChatFormat::kApertus: {
      JsonCallKeys k;
      k.short_form = true;
      auto keys = share(k);
      add("<|tools_prefix|>",
          [keys] { return std::make_unique<JsonCallArray>(keys.get(), "<|tools_suffix|>"); });
      break;
    }
    case ChatFormat::kLfm2: {
      auto keys = share(JsonCallKeys{});
      add("<|tool_call_start|>", [keys] { return std::make_unique<Lfm2Calls>(keys.get()); });
      break;
    }
    case ChatFormat::kApriel: {
      auto keys = share(JsonCallKeys{});
      add("<tool_calls>",
          [keys] { return std::make_unique<JsonCallArray>(keys.get(), "</tool_calls>"); });
      drop("[END FINAL RESPONSE]");
      break;
    }
    case ChatFormat::kGigaChatV3: {
      auto keys = share(JsonCallKeys{});
      add("function call<|role_sep|>",
          [keys] { return std::make_unique<JsonCallObject>(keys.get()); });
      drop("<|message_sep|>");
      break;
    }
    case ChatFormat::kGemma4:
      add("<|tool_call>", [] { return std::make_unique<Gemma4Call>(); });
      break;
  }

  if (!s.tools && !structural) {
    c.triggers.erase(std::remove_if(c.triggers.begin(), c.triggers.end(),
                                    [](const Trigger& t) { return static_cast<bool>(t.make); }),
                     c.triggers.end());
    c.start_element = nullptr;
  }
  return std::make_unique<MarkerEngine>(std::move(c));
}

}  // namespace ember::chat::detail
