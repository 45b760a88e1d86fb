// From a chat request (messages + ChatParams) to what the engine runs: the rendered template, its
// injection-safe tokens, the generation parameters (stops, grammar) and the output parser setup.
// Used by Engine::create / begin_chat / apply_chat_template (src/api/chat_engine.cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_format.h"
#include "chat/output_parser.h"
#include "ember/chat.h"
#include "ember/tokenizer.h"

namespace ember::chat {

// The template used when a model has none: ChatML, as llama.cpp does.
std::string_view default_chat_template();

struct ChatPlan {
  std::string rendered;
  std::vector<int32_t> tokens;
  ChatSyntax syntax;  // the reply's syntax (after syntax_for_request)
  OutputParserOptions parser;
  GenerationParams generation;  // the request's, plus the format's stops and the grammar
};

// Plans a request. `model_template` is the model's tokenizer.chat_template ("" when it has
// none). Errors name the problem: invalid messages or tools, tool_choice naming an unknown
// function, conflicting constraints, a template error, message text the template transformed so
// that it cannot be tokenized safely.
Result<ChatPlan> plan_chat(const Tokenizer& tokenizer, std::string_view model_template,
                           const std::vector<ChatMessage>& messages, const ChatParams& params);

// Tokenizes `rendered` with special-token text parsed, except inside `untrusted` spans (byte
// ranges [begin, end), sorted and disjoint), which are tokenized as plain text. No BOS/EOS added.
Result<std::vector<int32_t>> tokenize_with_untrusted_spans(
    const Tokenizer& tokenizer, std::string_view rendered,
    const std::vector<std::pair<size_t, size_t>>& untrusted);

}  // namespace ember::chat
