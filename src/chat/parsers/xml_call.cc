#include "chat/parsers/xml_call.h"

#include "chat/parsers/pattern_call.h"

namespace ember::chat::detail {
namespace {

std::string_view trim_view(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool may_start_json(char c) {
  return c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' ||
         c == 'f' || c == 'n';
}

}  // namespace

ToolSchemas::ToolSchemas(const nlohmann::ordered_json& tools) : tools_(tools) {}

ToolSchemas::Type ToolSchemas::param_type(const std::string& tool, const std::string& param) const {
  if (!tools_.is_array()) return Type::kUnknown;
  for (const auto& t : tools_) {
    if (!t.is_object()) continue;
    const auto fn = t.find("function");
    const nlohmann::ordered_json& f = fn != t.end() && fn->is_object() ? *fn : t;
    const auto name = f.find("name");
    if (name == f.end() || !name->is_string() || name->get_ref<const std::string&>() != tool) {
      continue;
    }
    const auto params = f.find("parameters");
    if (params == f.end() || !params->is_object()) return Type::kUnknown;
    const auto props = params->find("properties");
    if (props == params->end() || !props->is_object()) return Type::kUnknown;
    const auto p = props->find(param);
    if (p == props->end() || !p->is_object()) return Type::kUnknown;
    const auto type = p->find("type");
    if (type == p->end()) {
      const auto e = p->find("enum");
      if (e != p->end() && e->is_array() && !e->empty()) {
        for (const auto& v : *e) {
          if (!v.is_string()) return Type::kUnknown;
        }
        return Type::kString;
      }
      return Type::kUnknown;
    }
    if (type->is_string()) {
      return type->get_ref<const std::string&>() == "string" ? Type::kString : Type::kOther;
    }
    if (type->is_array()) {
      // ["string", "null"] and the like: the raw text is meant as a string.
      for (const auto& v : *type) {
        if (v.is_string() && v.get_ref<const std::string&>() == "string") return Type::kString;
      }
      return Type::kOther;
    }
    return Type::kUnknown;
  }
  return Type::kUnknown;
}

XmlCall::XmlCall(const XmlCallSyntax* syntax, const ToolSchemas* schemas, bool in_scope)
    : syntax_(syntax),
      schemas_(schemas),
      in_scope_(in_scope),
      state_(in_scope ? State::kScopeNext : State::kName),
      name_terms_(syntax->name_end),
      key_terms_({syntax->key_end}),
      value_terms_({"\n" + syntax->value_end, syntax->value_end, "\n" + syntax->key_start,
                    "\n" + syntax->tool_end}) {}

void XmlCall::open_args(Emitter& out) {
  if (args_open_) return;
  out.tool_args("{");
  args_open_ = true;
}

void XmlCall::close_value(Emitter& out) {
  if (streaming_value_) {
    out.tool_args("\"");
    streaming_value_ = false;
    return;
  }
  const ToolSchemas::Type type = schemas_->param_type(name_, key_);
  std::string_view trimmed = trim_view(value_);
  if (type != ToolSchemas::Type::kString && !trimmed.empty() && is_valid_json(trimmed)) {
    out.tool_args(trimmed);
  } else {
    out.tool_args(json_quote(value_));
  }
  value_.clear();
}

Step XmlCall::end_call(Emitter& out) {
  open_args(out);
  out.tool_args("}");
  out.tool_end();
  in_call_ = false;
  args_open_ = false;
  any_param_ = false;
  call_start_ = 0;
  if (!in_scope_) return Step::kDone;
  state_ = State::kScopeNext;
  return Step::kNeedMore;  // not returned to the caller: the loop continues
}

Step XmlCall::fail(Input& in, Emitter& out, std::string why) {
  if (!committed_) return reject(std::move(why));
  if (in_call_) {
    if (in_json_body_) {
      out.tool_args(json_body_.closing());
    } else {
      if (state_ == State::kValue) {
        close_value(out);
      } else if (state_ == State::kValueStart || state_ == State::kValueNewline ||
                 state_ == State::kValueKind) {
        out.tool_args("null");
      }
      if (!in_json_body_ && state_ != State::kAfterJsonBody) {
        open_args(out);
        out.tool_args("}");
      }
    }
    out.tool_end();
    in_call_ = false;
    out.warn("tool call '" + name_ + "': " + why + "; arguments closed");
  } else {
    // Between calls of a block, or before this call's body began: the rest is text again.
    if (call_start_ != 0) in.rewind(call_start_);
    out.warn("tool call block: " + why + "; rest kept as text");
  }
  state_ = State::kDone;
  return Step::kDone;
}

void XmlCall::begin_call(Emitter& out) {
  if (in_call_) return;
  out.tool_begin("", name_);
  committed_ = true;
  in_call_ = true;
}

Step XmlCall::step(Input& in, Emitter& out) {
  for (;;) {
    switch (state_) {
      case State::kDone:
        return Step::kDone;
      case State::kScopeNext: {
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.eof() && in.empty()) {
          if (!committed_) return reject("output ended before the tool call");
          return Step::kDone;  // the closing tag may have been a stop sequence
        }
        Match end = committed_ ? match_closer(in, syntax_->scope_end)
                               : match_literal(in, syntax_->scope_end);
        if (end == Match::kYes) {
          if (!committed_) return reject("empty tool call block");
          return Step::kDone;
        }
        const size_t call_start = in.offset();
        Match start = match_literal(in, syntax_->tool_start);
        if (start == Match::kYes) {
          call_start_ = call_start;
          state_ = State::kName;
          break;
        }
        if (end == Match::kMore || start == Match::kMore) return Step::kNeedMore;
        return fail(in, out, "expected " + syntax_->tool_start);
      }
      case State::kName: {
        std::string text;
        size_t which = 0;
        Match m = capture_until(in, name_terms_, 256, &text, &which);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo) return fail(in, out, "bad function name");
        if (which == 0) in.consume(syntax_->name_end[0].size());
        name_ = std::string(trim_view(text));
        if (!is_valid_tool_name(name_)) return fail(in, out, "bad function name");
        // The call starts once its body does (below), so "<function=x> and more prose" can
        // still turn out to be text.
        state_ = State::kBody;
        break;
      }
      case State::kBody: {
        if (!skip_space(in)) return Step::kNeedMore;
        if (in.eof() && in.empty()) return fail(in, out, "output ended inside the tool call");
        if (syntax_->json_body_allowed && !any_param_ && in.peek() == '{') {
          begin_call(out);
          in_json_body_ = true;
          state_ = State::kJsonBody;
          break;
        }
        Match key = match_literal(in, syntax_->key_start);
        if (key == Match::kYes) {
          begin_call(out);
          state_ = State::kKey;
          break;
        }
        Match end = match_literal(in, syntax_->tool_end);
        if (end == Match::kYes) {
          begin_call(out);
          if (end_call(out) == Step::kDone) return Step::kDone;
          break;
        }
        if (key == Match::kMore || end == Match::kMore) return Step::kNeedMore;
        return fail(in, out, "expected " + syntax_->key_start + " or " + syntax_->tool_end);
      }
      case State::kJsonBody: {
        JsonStreamer::Status st = json_body_.pump(in, out);
        if (st == JsonStreamer::Status::kError) return fail(in, out, json_body_.error());
        if (st == JsonStreamer::Status::kNeedMore) {
          if (in.eof()) return fail(in, out, "output ended inside the arguments");
          return Step::kNeedMore;
        }
        in_json_body_ = false;
        state_ = State::kAfterJsonBody;
        break;
      }
      case State::kAfterJsonBody: {
        if (!skip_space(in)) return Step::kNeedMore;
        Match end = match_closer(in, syntax_->tool_end);
        if (end == Match::kMore) return Step::kNeedMore;
        if (end == Match::kNo) return fail(in, out, "missing " + syntax_->tool_end);
        out.tool_end();
        in_call_ = false;
        call_start_ = 0;
        if (!in_scope_) return Step::kDone;
        state_ = State::kScopeNext;
        break;
      }
      case State::kKey: {
        std::string text;
        size_t which = 0;
        Match m = capture_until(in, key_terms_, 256, &text, &which);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo) return fail(in, out, "bad parameter name");
        in.consume(syntax_->key_end.size());
        key_ = std::string(trim_view(text));
        open_args(out);
        std::string piece = any_param_ ? ", " : "";
        piece += json_quote(key_);
        piece += ": ";
        out.tool_args(piece);
        any_param_ = true;
        state_ = State::kValueStart;
        break;
      }
      case State::kValueStart: {
        if (syntax_->value_start.empty()) {
          state_ = State::kValueNewline;
          break;
        }
        if (!skip_space(in)) return Step::kNeedMore;
        Match m = match_literal(in, syntax_->value_start);
        if (m == Match::kMore) return Step::kNeedMore;
        if (m == Match::kNo) return fail(in, out, "expected " + syntax_->value_start);
        state_ = State::kValueNewline;
        break;
      }
      case State::kValueNewline:
        if (in.empty() && !in.eof()) return Step::kNeedMore;
        if (!in.empty() && in.peek() == '\n') in.consume(1);
        state_ = State::kValueKind;
        break;
      case State::kValueKind: {
        const ToolSchemas::Type type = schemas_->param_type(name_, key_);
        bool stream = type == ToolSchemas::Type::kString;
        if (type == ToolSchemas::Type::kUnknown) {
          if (in.empty() && !in.eof()) return Step::kNeedMore;
          stream = in.empty() || !may_start_json(in.peek());
        }
        streaming_value_ = stream;
        value_.clear();
        if (stream) out.tool_args("\"");
        state_ = State::kValue;
        break;
      }
      case State::kValue: {
        std::string_view v = in.view();
        MarkerSet::Hit hit = value_terms_.scan(v, in.eof());
        std::string_view text = v.substr(0, hit.safe);
        if (streaming_value_) {
          std::string escaped;
          append_json_escaped(&escaped, text);
          out.tool_args(escaped);
        } else {
          value_.append(text);
        }
        in.consume(hit.safe);
        if (!hit.marker) {
          if (in.eof()) return fail(in, out, "output ended inside a parameter value");
          return Step::kNeedMore;
        }
        // The real closing tag is consumed; for a missing one only the newline before the next
        // tag is.
        in.consume(*hit.marker <= 1 ? value_terms_.markers()[*hit.marker].size() : 1);
        close_value(out);
        state_ = State::kBody;
        break;
      }
    }
  }
}

}  // namespace ember::chat::detail
