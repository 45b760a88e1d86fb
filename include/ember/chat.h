// ember — chat completions: messages in, an assistant message (content, reasoning, tool calls) out.
//
//   #include "ember/chat.h"
//
//   auto engine = ember::Engine::load("model.gguf");
//   std::vector<ember::ChatMessage> messages = {
//       ember::ChatMessage::system("You are terse."),
//       ember::ChatMessage::user("What is the capital of France?")};
//   ember::ChatParams params;
//   params.generation.max_tokens = 256;
//   auto reply = (*engine)->create(messages, params, [](const ember::ChatChunk& c) {
//     std::cout << c.content << std::flush;  // streamed, OpenAI chat.completion.chunk shaped
//     return true;                           // false stops the generation
//   });
//   if (reply.ok()) std::cout << reply->to_json().dump() << "\n";  // like chat.completion
//
// What create() does:
// 1. Renders the model's chat template (`tokenizer.chat_template`; ChatML when the model has
//    none, as llama.cpp does; or ChatParams::chat_template) with the messages, the tools,
//    add_generation_prompt = true, bos_token / eos_token, enable_thinking and the extra
//    variables of ChatParams::template_kwargs.
// 2. Tokenizes the rendered text injection-safely: the template's own text has its special-token
//    text turned into control tokens, but message text (contents, reasoning, tool calls and
//    results) never does — a user typing "<|im_start|>system" gets ordinary text tokens. See
//    docs/chat.md for how. No second BOS is added when the template already wrote it.
// 3. Generates (same loop as Engine::generate), with the chat format's extra stop strings, and
//    constrained by a grammar where the request asks for structure: tool_choice "required" or a
//    named function, response_format json_object / json_schema, or the generic JSON reply of a
//    model without native tool calls.
// 4. Parses the output incrementally into content, reasoning_content and tool calls, streaming
//    each piece as a ChatChunk. Streamed and non-streamed results are identical for a seed: the
//    concatenated deltas always equal the final message.
//
// ChatSession keeps a conversation going and reuses the KV cache between turns, so each turn
// evaluates only the tokens that are new.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ember/engine.h"
#include "ember/generation.h"
#include "ember/status.h"

namespace ember {

using Json = nlohmann::ordered_json;

// ---- Messages ---------------------------------------------------------------------------------

enum class ChatRole : uint8_t { kSystem, kUser, kAssistant, kTool };

// "system", "user", "assistant", "tool".
std::string_view chat_role_name(ChatRole role);
// The role named by `name` ("developer" is accepted as system). Error: any other name.
Result<ChatRole> chat_role_from_name(std::string_view name);

// A tool call of an assistant message. `arguments` is JSON text (normally an object), as OpenAI
// sends it.
struct ChatToolCall {
  std::string id;
  std::string name;
  std::string arguments;

  bool operator==(const ChatToolCall&) const = default;
};

// One message of a conversation, as in OpenAI's chat API.
struct ChatMessage {
  ChatRole role = ChatRole::kUser;
  // The text. OpenAI also allows a list of parts ([{"type": "text", "text": ...}]); those are
  // kept in `content_parts` (and `content` is then empty) so they render as the template expects.
  std::string content;
  std::vector<std::string> content_parts;
  // Assistant: the reasoning ("thinking") that came before the reply, if any.
  std::string reasoning_content;
  // Assistant: the tools it called.
  std::vector<ChatToolCall> tool_calls;
  // Tool: the id of the call this message answers.
  std::string tool_call_id;
  // Tool: the function's name (optional); user/assistant: a participant name (optional).
  std::string name;

  static ChatMessage system(std::string text);
  static ChatMessage user(std::string text);
  static ChatMessage assistant(std::string text);
  static ChatMessage tool(std::string tool_call_id, std::string name, std::string content);

  // The text: `content`, or the parts joined with "\n" when given as parts.
  std::string text() const;

  // The OpenAI JSON form: {"role", "content", ...}. Empty optional fields are left out; an
  // assistant message with tool calls and no text has "content": null.
  Json to_json() const;
  // Parses an OpenAI message object. Errors name the field: unknown role, content that is not a
  // string / null / list of text parts, malformed tool_calls, ...
  static Result<ChatMessage> from_json(const Json& message);

  bool operator==(const ChatMessage&) const = default;
};

// A JSON array of messages (e.g. a request's "messages"). Errors name the message index.
Result<std::vector<ChatMessage>> chat_messages_from_json(const Json& messages);
Json chat_messages_to_json(const std::vector<ChatMessage>& messages);

// ---- Request ----------------------------------------------------------------------------------

// OpenAI's response_format.
struct ResponseFormat {
  enum class Type : uint8_t {
    kText,        // free text (default)
    kJsonObject,  // any JSON object
    kJsonSchema,  // JSON validating against `schema`
  };
  Type type = Type::kText;
  Json schema;  // kJsonSchema

  // {"type": "text"} | {"type": "json_object"} | {"type": "json_schema", "json_schema":
  // {"name": .., "schema": {...}}} (a bare "schema" next to "type" is accepted too).
  static Result<ResponseFormat> from_json(const Json& format);
};

struct ChatParams {
  // Sampling, max_tokens, stop strings. `grammar` / `json_schema` constrain the raw output and
  // conflict with response_format and with forced tool calls (an error says so).
  // add_special / parse_special are ignored: chat prompts are tokenized as described above.
  GenerationParams generation;

  // OpenAI tools: [{"type": "function", "function": {"name", "description", "parameters"}}].
  Json tools = Json::array();
  // "auto" (default), "none", "required", or a function name (OpenAI's {"type": "function",
  // "function": {"name": ...}} is accepted by set_tool_choice_json).
  //  - "none": the tools are still rendered into the prompt (the model sees them, as with
  //    OpenAI and llama.cpp), but no tool calls are parsed or forced: the reply is content.
  //  - "auto": tool calls are parsed in the model's native syntax; a model without one is asked
  //    for the generic JSON reply (an instruction in the system message + a grammar).
  //  - "required" / a name: generation is constrained by a grammar to produce one tool call
  //    (several with parallel_tool_calls) whose arguments validate against the tool's schema.
  std::string tool_choice = "auto";
  bool parallel_tool_calls = false;
  ResponseFormat response_format;

  // Reasoning: passed to the template as `enable_thinking` when set, and when false the
  // reasoning markers are left in the content instead of being split off. Unset: the
  // template's default, reasoning extracted.
  std::optional<bool> enable_thinking;
  // Extra template variables (OpenAI-compatible servers call them chat_template_kwargs).
  Json template_kwargs = Json::object();
  // Jinja source to use instead of the model's template ("" = the model's).
  std::string chat_template;

  // Copied into chunks and the completion ("model" field).
  std::string model;

  // Reads OpenAI request fields: tools, tool_choice (string or object), parallel_tool_calls,
  // response_format, enable_thinking (bool), chat_template_kwargs, model, and the
  // sampling fields temperature, top_p, top_k, min_p, seed, max_tokens / max_completion_tokens,
  // stop (string or list), frequency_penalty, presence_penalty, repeat_penalty. Unknown keys are
  // ignored (messages and stream included). Errors name the field.
  static Result<ChatParams> from_json(const Json& request);
  // tool_choice from its JSON form.
  Status set_tool_choice_json(const Json& choice);
};

// ---- Results ----------------------------------------------------------------------------------

enum class ChatFinishReason : uint8_t {
  kNone = 0,   // not finished (chunks before the last)
  kStop,       // end of turn or a stop string
  kLength,     // max_tokens or the context is full
  kToolCalls,  // the reply ends with tool calls
  kCancelled,  // cancel() or the callback asked to stop
  kError,      // see ChatCompletion::error
};

// "stop", "length", "tool_calls", "cancelled", "error" ("" for kNone).
std::string_view chat_finish_reason_name(ChatFinishReason reason);

// Token counts in OpenAI's shape, plus the engine's timings.
struct ChatUsage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // prompt tokens reused from the KV cache
  GenerationUsage timings;           // the engine's full statistics

  // {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details":
  // {"cached_tokens"}}.
  Json to_json() const;
};

// A streamed piece of tool call `index`: the first one carries id and name, later ones
// fragments of `arguments` to append.
struct ChatToolCallDelta {
  int32_t index = 0;
  std::string id;
  std::string name;
  std::string arguments;

  bool operator==(const ChatToolCallDelta&) const = default;
};

// One streamed piece, shaped like OpenAI's chat.completion.chunk. The first chunk carries
// role "assistant"; the last one the finish_reason and the usage (and an empty delta).
struct ChatChunk {
  std::string id;         // "chatcmpl-..." (the same in every chunk of a completion)
  int64_t created = 0;    // Unix time in seconds
  std::string model;      // ChatParams::model
  bool has_role = false;  // delta.role = "assistant" (first chunk only)
  std::string content;
  std::string reasoning_content;
  std::vector<ChatToolCallDelta> tool_calls;
  ChatFinishReason finish_reason = ChatFinishReason::kNone;
  std::optional<ChatUsage> usage;  // last chunk only

  // {"id", "object": "chat.completion.chunk", "created", "model", "choices": [{"index": 0,
  // "delta": {"role"?, "content"?, "reasoning_content"?, "tool_calls"?}, "finish_reason":
  // string or null}], "usage"? }. Tool-call deltas: {"index", "id"?, "type": "function"?,
  // "function": {"name"?, "arguments"}}. Text is passed on as the model produced it, which may
  // be invalid UTF-8: serialize with dump(-1, ' ', false, Json::error_handler_t::replace).
  Json to_json() const;
};

// A finished chat completion.
struct ChatCompletion {
  std::string id;
  int64_t created = 0;
  std::string model;
  // The assistant message (role kAssistant; content, reasoning_content, tool_calls).
  ChatMessage message;
  ChatFinishReason finish_reason = ChatFinishReason::kNone;
  Status error;  // finish_reason kError
  ChatUsage usage;
  // Generated token ids (including the end-of-turn token if one was sampled).
  std::vector<int32_t> tokens;
  // Things the output parser did not take at face value (e.g. a malformed tool call kept as
  // text). Empty for well-formed output.
  std::vector<std::string> warnings;

  // {"id", "object": "chat.completion", "created", "model", "choices": [{"index": 0,
  // "message": {...}, "finish_reason"}], "usage": {...}}.
  Json to_json() const;
};

// The prompt of a chat request, as Engine::apply_chat_template computes it.
struct ChatPrompt {
  std::string text;             // the rendered template
  std::vector<int32_t> tokens;  // what create() evaluates
  // Chat format detected from the template, e.g. "Hermes 2 Pro" (see docs/chat-formats.md).
  std::string format;
};

// Pull style (Engine::begin_chat). Move-only; destroying it ends the generation.
class ChatGeneration {
 public:
  ChatGeneration(ChatGeneration&&) noexcept;
  ChatGeneration& operator=(ChatGeneration&&) noexcept;
  ~ChatGeneration();

  // The next chunk, or std::nullopt after the last one (the one with finish_reason and usage).
  std::optional<ChatChunk> next();
  // Stops (if still running) and returns the completion; calling it twice returns the same.
  ChatCompletion end();

 private:
  friend class Engine;
  explicit ChatGeneration(std::unique_ptr<detail::ChatState> state);
  std::unique_ptr<detail::ChatState> state_;
};

// ---- Sessions ---------------------------------------------------------------------------------

// A multi-turn conversation on one Engine. Each send() renders the whole history; the engine
// reuses the KV cache for the longest common token prefix with what it evaluated before (the
// previous prompt and, where the template reproduces it, the previous reply), so a turn
// evaluates only its new tokens.
//
//   ember::ChatSession chat(*engine, params);
//   chat.set_system("You are terse.");
//   auto r = chat.send("Hello!", [](const ember::ChatChunk& c) { ...; return true; });
//   if (r.ok() && !r->message.tool_calls.empty()) {
//     chat.add_tool_result(r->message.tool_calls[0].id, "get_weather", "{\"temp\": 21}");
//     r = chat.resume();   // let the model answer with the result
//   }
class ChatSession {
 public:
  // The engine must outlive the session. Other generations on the same engine in between turns
  // are fine (they only cost the cache reuse).
  ChatSession(Engine& engine, ChatParams params = {});

  // Sets (or replaces, or with "" removes) the system message at the start of the history.
  void set_system(std::string text);
  // Appends a user message, generates the reply and appends it (with its tool calls and
  // reasoning) to the history; a cancelled or length-limited reply is kept as far as it got.
  // On an error Status the user message is taken back out; a reply that failed during
  // generation (finish_reason kError) is not added.
  Result<ChatCompletion> send(std::string user_text, const ChatChunkCallback& on_chunk = {});
  Result<ChatCompletion> send(ChatMessage message, const ChatChunkCallback& on_chunk = {});
  // Appends a tool result (answering the call with `tool_call_id`).
  void add_tool_result(std::string tool_call_id, std::string name, std::string content);
  // Generates the next assistant message without adding a user message (after tool results).
  Result<ChatCompletion> resume(const ChatChunkCallback& on_chunk = {});
  // Forgets the history (the system message too).
  void reset();

  const std::vector<ChatMessage>& history() const { return history_; }
  ChatParams& params() { return params_; }
  const ChatParams& params() const { return params_; }

 private:
  Engine& engine_;
  ChatParams params_;
  std::vector<ChatMessage> history_;
};

}  // namespace ember
