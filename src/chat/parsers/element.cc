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

bool is_valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  size_t i = 0;
  while (i < name.size()) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c <= 0x20 || c == 0x7f) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > name.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(name[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are not valid UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

bool is_valid_json(std::string_view text) {
  return nlohmann::json::accept(text);
}

std::optional<std::string> decode_json_string(std::string_view literal) {
  nlohmann::json j = nlohmann::json::parse(literal, nullptr, /*allow_exceptions=*/false);
  if (!j.is_string()) return std::nullopt;
  return j.get<std::string>();
}

}  // namespace ember::chat::detail
