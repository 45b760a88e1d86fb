// GPT-OSS "harmony" output: a sequence of messages, each a header up to <|message|> and a body
// up to <|end|> (or <|call|> / <|return|>, which are also stop tokens). The prompt ends with
// "<|start|>assistant", so the first header starts the reply:
//
//   <|channel|>analysis<|message|>Let me check.<|end|>
//   <|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>
//   {"city":"Oslo"}<|call|>
//   <|channel|>final<|message|>It is sunny.<|return|>
//
// analysis -> reasoning, final/commentary -> content, a recipient ("to=functions.NAME", before
// or after the channel) -> a tool call whose body is the JSON arguments.
#include "chat/parsers/formats.h"

namespace ember::chat::detail {
namespace {

constexpr size_t kMaxHeader = 256;

class GptOssParser final : public ParserImpl {
 public:
  GptOssParser(bool tools, bool reasoning)
      : tools_(tools),
        reasoning_(reasoning),
        header_end_({"<|message|>"}),
        body_end_({"<|end|>", "<|return|>", "<|call|>", "<|start|>"}),
        resync_({"<|start|>", "<|channel|>"}) {}

  void run(Input& in, Emitter& out) override;

 private:
  enum class Mode { kHeader, kText, kCallArgs, kAfterCall, kAfter, kRaw, kEnd };

  void start_body(std::string_view header, Emitter& out);

  bool tools_;
  bool reasoning_;
  MarkerSet header_end_, body_end_, resync_;
  Mode mode_ = Mode::kHeader;
  bool text_is_reasoning_ = false;
  std::string name_;
  ArgsStream args_;
};

std::string_view token_after(std::string_view header, std::string_view key) {
  size_t p = header.find(key);
  if (p == std::string_view::npos) return {};
  std::string_view rest = header.substr(p + key.size());
  size_t n = 0;
  while (n < rest.size() && !is_space(rest[n]) && rest[n] != '<') ++n;
  return rest.substr(0, n);
}

void GptOssParser::start_body(std::string_view header, Emitter& out) {
  std::string_view recipient = token_after(header, "to=");
  std::string_view channel = token_after(header, "<|channel|>");
  if (!recipient.empty() && tools_) {
    name_ = std::string(recipient.substr(0, 10) == "functions." ? recipient.substr(10) : recipient);
    if (!is_valid_tool_name(name_)) {
      out.warn("message to an invalid recipient; kept as text");
      mode_ = Mode::kText;
      text_is_reasoning_ = false;
      return;
    }
    args_ = ArgsStream();
    mode_ = Mode::kCallArgs;
    return;
  }
  text_is_reasoning_ = channel == "analysis" && reasoning_;
  if (text_is_reasoning_) out.reasoning_open();
  mode_ = Mode::kText;
}

void GptOssParser::run(Input& in, Emitter& out) {
  for (;;) {
    switch (mode_) {
      case Mode::kEnd:
        return;
      case Mode::kHeader: {
        if (!skip_space(in)) return;
        if (in.eof() && in.empty()) {
          mode_ = Mode::kEnd;
          return;
        }
        std::string header;
        size_t which = 0;
        Match m = capture_until(in, header_end_, kMaxHeader, &header, &which);
        if (m == Match::kMore) return;
        if (m == Match::kNo) {
          // Not a message header: plain text. A marker it starts with is text too (so the raw
          // scan below does not come straight back here).
          MarkerSet::Hit h = resync_.scan(in.view(), /*eof=*/true);
          if (h.safe == 0 && h.marker) {
            out.content(resync_.markers()[*h.marker]);
            in.consume(resync_.markers()[*h.marker].size());
          }
          mode_ = Mode::kRaw;
          break;
        }
        in.consume(header_end_.markers()[0].size());
        start_body(header, out);
        break;
      }
      case Mode::kText: {
        std::string_view v = in.view();
        MarkerSet::Hit hit = body_end_.scan(v, in.eof());
        if (text_is_reasoning_) {
          out.reasoning(v.substr(0, hit.safe));
        } else {
          out.content(v.substr(0, hit.safe));
        }
        in.consume(hit.safe);
        if (!hit.marker && !in.eof()) return;
        if (text_is_reasoning_) out.reasoning_close();
        if (hit.marker && *hit.marker != 3) in.consume(body_end_.markers()[*hit.marker].size());
        mode_ = hit.marker ? Mode::kAfter : Mode::kEnd;
        break;
      }
      case Mode::kCallArgs: {
        if (!out.in_call()) {
          if (!skip_space(in)) return;
          if (in.empty() || in.peek() != '{') {
            if (!in.empty() || !in.eof()) {
              out.warn("tool call '" + name_ + "': arguments are not a JSON object; kept as text");
            }
            text_is_reasoning_ = false;
            mode_ = Mode::kText;
            break;
          }
          out.tool_begin("", name_);
        }
        JsonStreamer::Status st = args_.pump(in, out);
        if (st == JsonStreamer::Status::kError) {
          abandon_call(out, &args_, "tool call '" + name_ + "': " + args_.error());
          mode_ = Mode::kRaw;
          break;
        }
        if (st == JsonStreamer::Status::kNeedMore) {
          if (!in.eof()) return;
          abandon_call(out, &args_, "tool call '" + name_ + "': output ended inside the arguments");
          mode_ = Mode::kEnd;
          return;
        }
        out.tool_end();
        mode_ = Mode::kAfterCall;
        break;
      }
      case Mode::kAfterCall: {
        if (!skip_space(in)) return;
        Match call = match_literal(in, "<|call|>");
        Match end = call == Match::kYes ? Match::kNo : match_literal(in, "<|end|>");
        if (call == Match::kMore || end == Match::kMore) return;
        mode_ = Mode::kAfter;
        break;
      }
      case Mode::kAfter: {
        if (!skip_space(in)) return;
        if (in.eof() && in.empty()) {
          mode_ = Mode::kEnd;
          return;
        }
        std::string_view v = in.view();
        MarkerSet::Hit hit = resync_.scan(v, in.eof());
        if (hit.safe == 0 && hit.marker) {
          mode_ = Mode::kHeader;
          break;
        }
        if (hit.safe == 0 && !in.eof()) return;  // a marker may be starting
        mode_ = Mode::kRaw;
        break;
      }
      case Mode::kRaw: {
        // Text outside any message: content, until something that looks like a header again.
        std::string_view v = in.view();
        MarkerSet::Hit hit = resync_.scan(v, in.eof());
        out.content(v.substr(0, hit.safe));
        in.consume(hit.safe);
        if (hit.marker) {
          mode_ = Mode::kHeader;
          break;
        }
        if (in.eof()) mode_ = Mode::kEnd;
        return;
      }
    }
  }
}

}  // namespace

std::unique_ptr<ParserImpl> make_gpt_oss_parser(bool tools, bool reasoning) {
  return std::make_unique<GptOssParser>(tools, reasoning);
}

}  // namespace ember::chat::detail
