#include "chat/parsers/pattern_call.h"

namespace ember::chat::detail {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

}  // namespace

Match match_closer(Input& in, std::string_view lit) {
  Match m = match_literal(in, lit);
  if (m != Match::kNo || !in.eof()) return m;
  std::string_view v = in.view();
  if (v.size() < lit.size() && lit.substr(0, v.size()) == v) {
    in.consume(v.size());
    return Match::kYes;
  }
  return Match::kNo;
}

std::string name_from_kimi_id(std::string_view id) {
  std::string_view s = id;
  if (s.substr(0, 10) == "functions.") s.remove_prefix(10);
  if (size_t colon = s.rfind(':'); colon != std::string_view::npos) s = s.substr(0, colon);
  return std::string(s);
}

CallPattern::CallPattern(std::vector<PatStep> s) : steps(std::move(s)) {
  for (const auto& st : steps) {
    terminators.emplace_back(st.kind == PatStep::Kind::kCapture ? st.texts
                                                                : std::vector<std::string>{});
  }
}

Step PatternCall::fail(Emitter& out, std::string why) {
  if (!committed_) return reject(std::move(why));
  abandon_call(out, args_done_ ? nullptr : &args_,
               "tool call '" + name_ + "': " + why + (args_done_ ? "" : "; arguments closed"));
  return Step::kDone;
}

Step PatternCall::step(Input& in, Emitter& out) {
  const auto& steps = pattern_->steps;
  while (pc_ < steps.size()) {
    const PatStep& s = steps[pc_];
    if (s.only_if_previous_matched && !last_opt_matched_) {
      ++pc_;
      continue;
    }
    switch (s.kind) {
      case PatStep::Kind::kSpace:
        if (!skip_space(in)) return Step::kNeedMore;
        ++pc_;
        break;
      case PatStep::Kind::kLit:
      case PatStep::Kind::kOptLit: {
        bool more = false;
        bool yes = false;
        for (const auto& t : s.texts) {
          Match m = args_done_ ? match_closer(in, t) : match_literal(in, t);
          if (m == Match::kYes) {
            yes = true;
            break;
          }
          if (m == Match::kMore) more = true;
        }
        if (more && !yes) return Step::kNeedMore;
        if (s.kind == PatStep::Kind::kOptLit) {
          last_opt_matched_ = yes;
        } else if (!yes) {
          if (args_done_ && in.eof() && in.empty()) {
            ++pc_;  // output ended after the arguments: the rest may have been a stop sequence
            break;
          }
          return fail(out, "expected " + s.texts[0]);
        }
        ++pc_;
        break;
      }
      case PatStep::Kind::kCapture: {
        std::string text;
        size_t which = 0;
        Match m = capture_until(in, pattern_->terminators[pc_], s.max_len, &text, &which);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo) return fail(out, "expected " + s.texts[0]);
        if (!s.keep_terminator) in.consume(s.texts[which].size());
        std::string value = trim(text);
        switch (s.slot) {
          case PatStep::Slot::kName:
            name_ = std::move(value);
            break;
          case PatStep::Slot::kId:
            id_ = std::move(value);
            break;
          case PatStep::Slot::kKimiId:
            name_ = name_from_kimi_id(value);
            id_ = std::move(value);
            break;
          case PatStep::Slot::kNone:
            break;
        }
        ++pc_;
        break;
      }
      case PatStep::Kind::kArgs: {
        if (!committed_) {
          if (!skip_space(in)) return Step::kNeedMore;
          if (in.empty() || in.peek() != '{') return fail(out, "arguments must be a JSON object");
          if (!is_valid_tool_name(name_)) return fail(out, "tool call without a valid name");
          if (!id_.empty() && !is_valid_tool_name(id_)) return fail(out, "invalid tool call id");
          out.tool_begin(id_, name_);
          committed_ = true;
        }
        JsonStreamer::Status st = args_.pump(in, out);
        if (st == JsonStreamer::Status::kError) return fail(out, args_.error());
        if (st == JsonStreamer::Status::kNeedMore) {
          if (in.eof()) return fail(out, "output ended inside the arguments");
          return Step::kNeedMore;
        }
        args_done_ = true;
        ++pc_;
        break;
      }
    }
  }
  if (!committed_) return reject("tool call without arguments");
  out.tool_end();
  return Step::kDone;
}

Step CallSection::step(Input& in, Emitter& out) {
  for (;;) {
    if (item_) {
      Step s = item_->step(in, out);
      if (s == Step::kNeedMore) return s;
      if (s == Step::kReject) {
        if (!any_) return reject(item_->reject_reason());
        in.rewind(item_start_);
        out.warn("tool call section: " + item_->reject_reason() + "; rest kept as text");
        return Step::kDone;
      }
      any_ = true;
      item_.reset();
    }
    if (!skip_space(in)) return Step::kNeedMore;
    if (in.eof() && in.empty()) {
      if (!any_) return reject("output ended before the tool calls");
      return Step::kDone;
    }
    Match m = any_ ? match_closer(in, end_) : match_literal(in, end_);
    if (m == Match::kMore) return Step::kNeedMore;
    if (m == Match::kYes) {
      if (!any_) return reject("empty tool call section");
      return Step::kDone;
    }
    item_start_ = in.offset();
    item_ = std::make_unique<PatternCall>(call_);
  }
}

}  // namespace ember::chat::detail
