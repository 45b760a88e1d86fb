// The marker-driven parser used by most formats.
//
// The reply is text in one of two modes — reasoning or content — in which trigger markers start
// Elements (tool calls) or are dropped (formatting tags such as Granite's <response>). Reasoning
// is a block at the start of the reply: opened by its start marker (after optional whitespace),
// or already open when the prompt ended inside it, and closed by its end marker. A "start
// element" can claim the beginning of the content (Llama 3.x's bare JSON calls).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/parsers/element.h"

namespace ember::chat::detail {

// What every format's parser implements.
class ParserImpl {
 public:
  virtual ~ParserImpl() = default;
  // Consumes as much input as can be decided on; at eof, all of it.
  virtual void run(Input& in, Emitter& out) = 0;
  // The earliest position the parser may still go back to.
  virtual size_t keep_from(const Input& in) const { return in.offset(); }
};

using ElementFactory = std::function<std::unique_ptr<Element>()>;

struct Trigger {
  std::string marker;
  ElementFactory make;       // empty: the marker is formatting and is dropped
  bool in_reasoning = true;  // also active inside the reasoning block
};

struct EngineConfig {
  std::optional<std::string> reasoning_start;  // nullopt: no reasoning parsing
  std::string reasoning_end;
  bool reasoning_open_at_start = false;  // the prompt ended inside the reasoning block
  std::vector<Trigger> triggers;
  ElementFactory start_element;  // tried once where the content begins
};

class MarkerEngine final : public ParserImpl {
 public:
  explicit MarkerEngine(EngineConfig config);
  void run(Input& in, Emitter& out) override;
  size_t keep_from(const Input& in) const override {
    return element_ ? element_start_ : in.offset();
  }

 private:
  enum class Mode { kBegin, kReasoningStart, kReasoning, kContentBegin, kContent, kElement, kEnd };

  // Handles a marker found in `text_mode` (kReasoning or kContent). `marker` indexes triggers_
  // (for content) or is offset by one for the reasoning end marker.
  void start_trigger(Input& in, Emitter& out, const Trigger& t, Mode text_mode);
  void emit_text(Emitter& out, Mode mode, std::string_view text);

  EngineConfig config_;
  MarkerSet content_markers_;
  std::vector<const Trigger*> content_triggers_;
  MarkerSet reasoning_markers_;  // end marker first, then triggers active in reasoning
  std::vector<const Trigger*> reasoning_triggers_;

  Mode mode_ = Mode::kBegin;
  Mode return_mode_ = Mode::kContent;
  std::unique_ptr<Element> element_;
  size_t element_start_ = 0;
  size_t marker_len_ = 0;
  bool start_tried_ = false;
};

}  // namespace ember::chat::detail
