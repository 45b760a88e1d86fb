#include "chat/parsers/element.h"

#include <nlohmann/json.hpp>

namespace ember::chat::detail {

JsonStreamer::Status ArgsStream::pump(Input& in, Emitter& out) {
  size_t consumed = 0;
  scratch_.clear();
  JsonStreamer::Status st = json_.feed(in.view(), in.eof(), &consumed, &scratch_);
  in.consume(consumed);
  out.tool_args(scratch_);
  return st;
}

std::string ArgsStream::closing() const {
  if (!json_.started()) return "{}";
  return json_.closing();
}

JsonStreamer::Status JsonCapture::pump(Input& in) {
  size_t consumed = 0;
  JsonStreamer::Status st = json_.feed(in.view(), in.eof(), &consumed, &text_);
  in.consume(consumed);
  return st;
}

void abandon_call(Emitter& out, const ArgsStream* args, const std::string& why) {
  if (out.in_call()) {
    if (args != nullptr) out.tool_args(args->closing());
    out.tool_end();
  }
  out.warn(why);
}

bool is_valid_json(std::string_view text) { return nlohmann::json::accept(text); }

std::optional<std::string> decode_json_string(std::string_view literal) {
  nlohmann::json j = nlohmann::json::parse(literal, nullptr, /*allow_exceptions=*/false);
  if (!j.is_string()) return std::nullopt;
  return j.get<std::string>();
}

}  // namespace ember::chat::detail
