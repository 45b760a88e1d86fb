#include "chat/output_parser.h"

#include "chat/parsers/emitter.h"
#include "chat/parsers/formats.h"
#include "chat/parsers/input.h"

namespace ember::chat {

struct OutputParser::State {
  State(ChatSyntax s, detail::IdStyle style, uint64_t seed)
      : syntax(std::move(s)), out(style, seed) {}

  void run() {
    impl->run(in, out);
    in.compact(impl->keep_from(in));
  }

  ChatSyntax syntax;
  detail::Input in;
  detail::Emitter out;
  std::unique_ptr<detail::ParserImpl> impl;
  bool finished = false;
};

Result<OutputParser> OutputParser::create(OutputParserOptions options) {
  if (!options.tools.is_null() && !options.tools.is_array()) {
    return invalid_argument("output parser: tools must be a JSON array");
  }
  detail::ParserSetup setup;
  setup.format = options.syntax.format;
  if (options.extract_reasoning) setup.reasoning = options.syntax.reasoning;
  setup.reasoning_open = options.thinking_forced_open;
  setup.tools = options.parse_tool_calls;
  setup.tool_definitions = options.tools;
  auto state = std::make_unique<State>(std::move(options.syntax),
                                       detail::id_style_for(setup.format), options.id_seed);
  state->impl = detail::make_parser_impl(setup);
  return OutputParser(std::move(state));
}

OutputParser::OutputParser(std::unique_ptr<State> state) : state_(std::move(state)) {}
OutputParser::OutputParser(OutputParser&&) noexcept = default;
OutputParser& OutputParser::operator=(OutputParser&&) noexcept = default;
OutputParser::~OutputParser() = default;

const ChatSyntax& OutputParser::syntax() const {
  return state_->syntax;
}

std::vector<ChatDelta> OutputParser::feed(std::string_view text) {
  if (state_->finished || text.empty()) return {};
  state_->in.append(text);
  state_->run();
  return state_->out.take_deltas();
}

OutputParser::Final OutputParser::finish() {
  Final f;
  if (state_->finished) return f;
  state_->finished = true;
  state_->in.set_eof();
  state_->run();
  f.deltas = state_->out.take_deltas();
  f.message = state_->out.finish();
  return f;
}

Result<ParsedMessage> parse_output(OutputParserOptions options, std::string_view text) {
  Result<OutputParser> parser = OutputParser::create(std::move(options));
  if (!parser.ok()) return parser.status();
  parser->feed(text);
  return parser->finish().message;
}

Json message_to_json(const ParsedMessage& m) {
  Json j = {{"role", "assistant"}};
  if (m.content.empty() && !m.tool_calls.empty()) {
    j["content"] = nullptr;
  } else {
    j["content"] = m.content;
  }
  if (!m.reasoning_content.empty()) j["reasoning_content"] = m.reasoning_content;
  if (!m.tool_calls.empty()) {
    Json calls = Json::array();
    for (const auto& c : m.tool_calls) {
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    j["tool_calls"] = std::move(calls);
  }
  return j;
}

}  // namespace ember::chat
