// Tool calls with a fixed shape of literals, a name (and maybe an id) and JSON arguments, e.g.
//   DeepSeek R1:  function<｜tool▁sep｜>NAME\n```json\n{...}\n```<｜tool▁call▁end｜>
//   Kimi K2: <|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>{...}<|tool_call_end|>
//   Mistral:      NAME[CALL_ID]ID[ARGS]{...}
// described as a list of steps, plus a section element for a run of such calls between a begin
// marker (the trigger) and an end marker.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/parsers/element.h"

namespace ember::chat::detail {

struct PatStep {
  enum class Kind {
    kLit,      // one of `texts` must follow
    kOptLit,   // one of `texts` may follow
    kSpace,    // optional whitespace
    kCapture,  // text up to one of `texts` (trimmed) into `slot`; the terminator is consumed
               // unless `keep_terminator`
    kArgs,     // the JSON arguments object (the call starts here)
  };
  enum class Slot { kNone, kName, kId, kKimiId };

  Kind kind;
  std::vector<std::string> texts;
  Slot slot = Slot::kNone;
  size_t max_len = 256;
  bool keep_terminator = false;
  bool only_if_previous_matched = false;  // skipped when the previous kOptLit did not match

  static PatStep lit(std::vector<std::string> t) { return {Kind::kLit, std::move(t)}; }
  static PatStep opt(std::vector<std::string> t) { return {Kind::kOptLit, std::move(t)}; }
  static PatStep space() { return {Kind::kSpace, {}}; }
  static PatStep args() { return {Kind::kArgs, {}}; }
  static PatStep capture(Slot s, std::vector<std::string> terminators, size_t max = 256) {
    PatStep p{Kind::kCapture, std::move(terminators)};
    p.slot = s;
    p.max_len = max;
    return p;
  }
};

// A prepared pattern (terminator sets built once).
struct CallPattern {
  explicit CallPattern(std::vector<PatStep> s);
  std::vector<PatStep> steps;
  std::vector<MarkerSet> terminators;  // per step (kCapture only)
};

class PatternCall final : public Element {
 public:
  explicit PatternCall(const CallPattern* pattern) : pattern_(pattern) {}
  Step step(Input& in, Emitter& out) override;

 private:
  Step fail(Emitter& out, std::string why);

  const CallPattern* pattern_;
  size_t pc_ = 0;
  bool last_opt_matched_ = true;
  std::string name_, id_;
  ArgsStream args_;
  bool committed_ = false;
  bool args_done_ = false;
};

// A run of calls: [space] (call [space])* end. The trigger (begin marker) is consumed already.
// A missing end marker at the end of the output is accepted quietly (it may have been a stop
// sequence).
class CallSection final : public Element {
 public:
  CallSection(const CallPattern* call, std::string end) : call_(call), end_(std::move(end)) {}
  Step step(Input& in, Emitter& out) override;

 private:
  const CallPattern* call_;
  std::string end_;
  std::unique_ptr<PatternCall> item_;
  size_t item_start_ = 0;
  bool any_ = false;
};

// Matches a closing literal after a complete call. At the end of the output a missing or
// partial closer counts as present (the closer may have been a stop sequence).
Match match_closer(Input& in, std::string_view lit);

// "functions.get_weather:0" -> "get_weather" (Kimi K2 ids).
std::string name_from_kimi_id(std::string_view id);

}  // namespace ember::chat::detail
