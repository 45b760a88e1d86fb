// Elements for call syntaxes that need a little dispatching of their own.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/parsers/element.h"
#include "chat/parsers/json_call.h"
#include "chat/parsers/pattern_call.h"
#include "chat/parsers/python_call.h"
#include "chat/parsers/xml_call.h"

namespace ember::chat::detail {

// After <tool_call> (Hermes 2 Pro, Qwen 2.5/3, Qwen3-Coder, ...): either a JSON call object and
// the closing tag, or Qwen3-Coder's <function=...> block(s) up to the closing tag.
class HermesCall final : public Element {
 public:
  HermesCall(const JsonCallKeys* keys, const XmlCallSyntax* xml, const ToolSchemas* schemas,
             std::string closer)
      : keys_(keys), xml_(xml), schemas_(schemas), closer_(std::move(closer)) {}
  Step step(Input& in, Emitter& out) override;

 private:
  enum class State { kStart, kChild, kCloser, kNext };
  const JsonCallKeys* keys_;
  const XmlCallSyntax* xml_;
  const ToolSchemas* schemas_;
  std::string closer_;
  State state_ = State::kStart;
  std::unique_ptr<Element> child_;
  bool child_has_closer_ = false;
  size_t next_start_ = 0;
};

// After [TOOL_CALLS]: Mistral Nemo's JSON list, or NAME[CALL_ID]ID[ARGS]{...} of later models.
class MistralCall final : public Element {
 public:
  MistralCall(const JsonCallKeys* list_keys, const CallPattern* named)
      : list_keys_(list_keys), named_(named) {}
  Step step(Input& in, Emitter& out) override;

 private:
  const JsonCallKeys* list_keys_;
  const CallPattern* named_;
  std::unique_ptr<Element> child_;
};

// A run of JSON call objects at the very start of the reply (Llama 3.x, and Hermes models that
// forget their tags), separated by whitespace or ';'. Anything else there is plain content.
class LeadingJsonCalls final : public Element {
 public:
  explicit LeadingJsonCalls(const JsonCallKeys* keys) : keys_(keys) {}
  Step step(Input& in, Emitter& out) override;

 private:
  enum class State { kFirst, kChild, kNext };
  const JsonCallKeys* keys_;
  State state_ = State::kFirst;
  std::unique_ptr<JsonCallObject> child_;
  size_t child_start_ = 0;
  bool any_ = false;
};

// Code written straight into a tool call (Llama's <|python_tag|>print(1), Functionary's python
// recipient): streamed as {"<key>": "<code>"} until one of `terminators` or the end.
class RawCodeCall final : public Element {
 public:
  RawCodeCall(std::string name, std::string key, const MarkerSet* terminators)
      : name_(std::move(name)), key_(std::move(key)), terminators_(terminators) {}
  Step step(Input& in, Emitter& out) override;

 private:
  std::string name_, key_;
  const MarkerSet* terminators_;
  bool started_ = false;
};

// After <|python_tag|> (Llama 3.1+, Functionary v3.1): a JSON call object, a builtin
// `name.call(k=v, ...)`, or raw Python code for the "python" tool.
class PythonTag final : public Element {
 public:
  explicit PythonTag(const JsonCallKeys* keys) : keys_(keys) {}
  Step step(Input& in, Emitter& out) override;

 private:
  const JsonCallKeys* keys_;
  std::unique_ptr<Element> child_;
};

// Functionary v3.2 "recipient" segments: NAME\n{json} is a call, all\n starts plain content,
// python\n<code> is code for the python tool. The prompt ends with ">>>", so the first segment
// starts the reply; later ones follow ">>>".
class FunctionaryRecipient final : public Element {
 public:
  explicit FunctionaryRecipient(const MarkerSet* code_end) : code_end_(code_end) {}
  Step step(Input& in, Emitter& out) override;

 private:
  enum class State { kName, kBody, kArgs, kCode };
  const MarkerSet* code_end_;
  State state_ = State::kName;
  std::string name_;
  ArgsStream args_;
  std::unique_ptr<RawCodeCall> code_;
};

// llama.cpp's generic JSON reply for templates without a tool syntax of their own:
// {"tool_call": {...}}, {"tool_calls": [...]} or {"response": ...}.
class GenericReply final : public Element {
 public:
  explicit GenericReply(const JsonCallKeys* keys) : keys_(keys) {}
  Step step(Input& in, Emitter& out) override;

 private:
  enum class State { kOpen, kKeyStart, kKey, kColon, kValue, kResponse, kCapture, kChild, kAfter };
  Step fail(Emitter& out, std::string why);

  const JsonCallKeys* keys_;
  State state_ = State::kOpen;
  JsonCapture capture_;
  std::string key_;
  JsonStringDecoder response_;
  std::unique_ptr<Element> child_;
  bool committed_ = false;
  bool first_key_ = true;
};

// Gemma 4: <|tool_call>call:NAME{key:<|"|>text<|"|>,n:1}<tool_call|>. The argument syntax
// (bare keys, <|"|> string quotes without escapes) is converted to JSON as it streams.
class Gemma4Call final : public Element {
 public:
  Gemma4Call() = default;
  Step step(Input& in, Emitter& out) override;

 private:
  enum class State { kPrefix, kName, kArgs, kCloser };
  enum class Lex { kNormal, kKey, kString };
  enum class Convert { kOk, kMore, kError };
  Step fail(Emitter& out, std::string why);
  // Converts the next piece of input to JSON text (appended to `json`).
  Convert convert(Input& in, std::string* json);

  State state_ = State::kPrefix;
  Lex lex_ = Lex::kNormal;
  std::string name_;
  std::vector<char> stack_;
  bool expect_key_ = false;
  JsonStreamer json_;
  bool committed_ = false;
};

}  // namespace ember::chat::detail
