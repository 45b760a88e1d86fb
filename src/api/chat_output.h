// The chat half of a chat completion: the model's raw output text in, OpenAI-shaped chunks
// (content, reasoning and tool-call deltas; the last one with finish_reason and usage) and the
// final ChatCompletion out. Shared by Engine::begin_chat (src/api/chat_engine.cc) and the serving
// scheduler (src/serve/), so both parse and stream a reply identically.
//
//   auto out = ChatOutput::create(std::move(plan.parser), id_seed, id, created, model);
//   for (each generated text piece) out->feed(piece);   // queues delta chunks
//   out->finalize(generation_result);                   // last deltas + the final chunk
//   while (auto c = out->pop()) send(*c);               // the first has the role
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "chat/output_parser.h"
#include "ember/chat.h"

namespace ember::detail {

// Mixes bits (splitmix64): ids from seeds and counters.
uint64_t mix_bits(uint64_t x);
// "chatcmpl-" + 24 letters/digits, a pure function of `seed`.
std::string chat_completion_id(uint64_t seed);

class ChatOutput {
 public:
  // `parser.id_seed` seeds the tool-call ids. Errors: the parser's (tools not an array).
  static Result<std::unique_ptr<ChatOutput>> create(chat::OutputParserOptions parser,
                                                    std::string id, int64_t created,
                                                    std::string model);

  // Raw generated text (the generation's chunk text, stop strings already cut).
  void feed(std::string_view text);
  // The generation ended with `result` (its tail not yet fed): releases the parser's held-back
  // text, assembles the message and queues the final chunk. Only the first call counts.
  void finalize(const GenerationResult& result);
  bool finalized() const { return done_; }

  // The next queued chunk (the very first one gets the role).
  std::optional<ChatChunk> pop();
  bool empty() const { return queue_.empty(); }
  void clear() { queue_.clear(); }

  // The completion (complete after finalize()).
  const ChatCompletion& completion() const { return completion_; }

 private:
  ChatOutput() = default;
  ChatChunk make_chunk() const;
  void push_deltas(std::vector<chat::ChatDelta> deltas);

  std::optional<chat::OutputParser> parser_;
  std::deque<ChatChunk> queue_;
  bool sent_role_ = false;
  bool done_ = false;
  ChatCompletion completion_;
};

}  // namespace ember::detail
