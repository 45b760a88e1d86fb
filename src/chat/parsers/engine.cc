#include "chat/parsers/engine.h"

namespace ember::chat::detail {

MarkerEngine::MarkerEngine(EngineConfig config) : config_(std::move(config)) {
  // A reasoning block needs an end marker; empty markers would never match.
  if (config_.reasoning_end.empty()) config_.reasoning_start.reset();
  std::vector<std::string> content;
  std::vector<std::string> reasoning;
  if (config_.reasoning_start) reasoning.push_back(config_.reasoning_end);
  for (const auto& t : config_.triggers) {
    if (t.marker.empty()) continue;
    content.push_back(t.marker);
    content_triggers_.push_back(&t);
    if (t.in_reasoning && t.make) {
      reasoning.push_back(t.marker);
      reasoning_triggers_.push_back(&t);
    }
  }
  content_markers_ = MarkerSet(std::move(content));
  reasoning_markers_ = MarkerSet(std::move(reasoning));
}

void MarkerEngine::emit_text(Emitter& out, Mode mode, std::string_view text) {
  if (mode == Mode::kReasoning) {
    out.reasoning(text);
  } else {
    out.content(text);
  }
}

void MarkerEngine::start_trigger(Input& in, Emitter& out, const Trigger& t, Mode text_mode) {
  if (!t.make) {  // formatting: drop it
    in.consume(t.marker.size());
    return;
  }
  element_start_ = in.offset();
  marker_len_ = t.marker.size();
  in.consume(marker_len_);
  element_ = t.make();
  return_mode_ = text_mode;
  mode_ = Mode::kElement;
  (void)out;
}

void MarkerEngine::run(Input& in, Emitter& out) {
  for (;;) {
    switch (mode_) {
      case Mode::kEnd:
        return;
      case Mode::kBegin:
        if (config_.reasoning_start) {
          if (config_.reasoning_open_at_start || config_.reasoning_start->empty()) {
            out.reasoning_open();
            mode_ = Mode::kReasoning;
          } else {
            mode_ = Mode::kReasoningStart;
          }
        } else {
          mode_ = Mode::kContentBegin;
        }
        break;
      case Mode::kReasoningStart: {
        if (!skip_space(in)) return;
        Match m = match_literal(in, *config_.reasoning_start);
        if (m == Match::kMore) return;
        if (m == Match::kYes) {
          out.reasoning_open();
          mode_ = Mode::kReasoning;
        } else {
          mode_ = Mode::kContentBegin;
        }
        break;
      }
      case Mode::kContentBegin:
        mode_ = Mode::kContent;
        if (config_.start_element && !start_tried_) {
          start_tried_ = true;
          element_start_ = in.offset();
          marker_len_ = 0;
          element_ = config_.start_element();
          return_mode_ = Mode::kContent;
          mode_ = Mode::kElement;
        }
        break;
      case Mode::kReasoning:
      case Mode::kContent: {
        const bool reasoning = mode_ == Mode::kReasoning;
        const MarkerSet& markers = reasoning ? reasoning_markers_ : content_markers_;
        std::string_view v = in.view();
        MarkerSet::Hit hit = markers.scan(v, in.eof());
        emit_text(out, mode_, v.substr(0, hit.safe));
        in.consume(hit.safe);
        if (!hit.marker) {
          if (!in.eof()) return;
          if (reasoning) out.reasoning_close();
          mode_ = Mode::kEnd;
          return;
        }
        if (reasoning && *hit.marker == 0) {
          in.consume(config_.reasoning_end.size());
          out.reasoning_close();
          mode_ = Mode::kContentBegin;
          break;
        }
        const Trigger& t =
            reasoning ? *reasoning_triggers_[*hit.marker - 1] : *content_triggers_[*hit.marker];
        start_trigger(in, out, t, mode_);
        break;
      }
      case Mode::kElement: {
        Step s = element_->step(in, out);
        if (s == Step::kNeedMore) {
          if (!in.eof()) return;
          // An element must finish at the end of the output; if one did not, do not loop.
          if (out.in_call()) {
            out.tool_end();
            out.warn("tool call cut off at the end of the output");
          }
          s = Step::kDone;
        }
        if (s == Step::kReject) {
          // Not a tool call after all: the text from the trigger on is ordinary text.
          if (!element_->reject_reason().empty()) {
            out.warn("text kept as is: " + element_->reject_reason());
          }
          in.rewind(element_start_);
          emit_text(out, return_mode_, in.view().substr(0, marker_len_));
          in.consume(marker_len_);
        }
        element_.reset();
        mode_ = return_mode_;
        break;
      }
    }
  }
}

}  // namespace ember::chat::detail
