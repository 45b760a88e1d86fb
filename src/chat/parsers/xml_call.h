// Tool calls written with XML-like tags whose parameter values are raw text, e.g. Qwen3-Coder:
//   <tool_call>
//   <function=get_weather>
//   <parameter=city>
//   Oslo
//   </parameter>
//   </function>
//   </tool_call>
// and the same idea in Seed-OSS, MiniMax-M2 and GLM-4.5 spellings. The arguments are turned into
// a JSON object: a value is a JSON string when the tool's schema says "string" (or, without a
// schema, when it cannot be read as JSON), else the JSON value written. String values stream as
// they are generated; other values are passed on when complete. One newline right after the
// opening tag and one right before the closing tag belong to the layout and are not part of the
// value.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/parsers/element.h"

namespace ember::chat::detail {

struct XmlCallSyntax {
  std::string scope_end;              // closes a block of calls ("" when calls are not grouped)
  std::string tool_start;             // starts a call inside a block
  std::vector<std::string> name_end;  // the first one is consumed, others end the name only
  std::string tool_end;
  std::string key_start, key_end;
  std::string value_start;  // may be empty
  std::string value_end;
  bool json_body_allowed = false;  // "<function=NAME>{...}</function>" is accepted too
};

// Parameter types from the request's tools, to type XML parameter values.
class ToolSchemas {
 public:
  ToolSchemas() = default;
  explicit ToolSchemas(const nlohmann::ordered_json& tools);
  enum class Type { kUnknown, kString, kOther };
  Type param_type(const std::string& tool, const std::string& param) const;

 private:
  nlohmann::ordered_json tools_;
};

class XmlCall final : public Element {
 public:
  // `in_scope`: the trigger opened a block (calls start with `tool_start`); otherwise the
  // trigger was the call's own start and the name comes next.
  XmlCall(const XmlCallSyntax* syntax, const ToolSchemas* schemas, bool in_scope);
  Step step(Input& in, Emitter& out) override;

 private:
  enum class State {
    kScopeNext,
    kName,
    kBody,
    kJsonBody,
    kAfterJsonBody,
    kKey,
    kValueStart,
    kValueNewline,
    kValueKind,
    kValue,
    kDone
  };
  Step fail(Input& in, Emitter& out, std::string why);
  void begin_call(Emitter& out);
  void close_value(Emitter& out);
  void open_args(Emitter& out);
  Step end_call(Emitter& out);

  const XmlCallSyntax* syntax_;
  const ToolSchemas* schemas_;
  bool in_scope_;
  State state_;
  MarkerSet name_terms_, key_terms_, value_terms_;
  std::string name_, key_;
  bool args_open_ = false;  // "{" emitted
  bool any_param_ = false;
  bool streaming_value_ = false;
  std::string value_;  // a value that is passed on when complete
  ArgsStream json_body_;
  bool in_json_body_ = false;
  bool committed_ = false;  // a call started in this element
  bool in_call_ = false;
  size_t call_start_ = 0;  // where the current call of a block began (0: not in a block)
};

}  // namespace ember::chat::detail
