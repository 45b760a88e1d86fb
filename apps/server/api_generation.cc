// POST /v1/chat/completions and /v1/completions: submit to the Server, turn its events into
// OpenAI JSON, stream them as SSE or collect them into one response (see api.h for the
// threading).
//
// Lifetime: the Server holds the event callback, which holds the per-request state and the
// connection until the request ends. The state holds the Server's request handle (to cancel
// it) and drops it after the last event, so no reference cycle outlives the request.
#include <ctime>
#include <random>

#include "api.h"
#include "api_error.h"
#include "openai_request.h"
#include "openai_response.h"
#include "sse.h"

namespace ember::http {
namespace {

using Clock = std::chrono::steady_clock;

bool is_error_event(const RequestEvent& ev) {
  if (!ev.last) return false;
  if (ev.finish_reason == FinishReason::kError) return true;
  return ev.chat && ev.chat->finish_reason == ChatFinishReason::kError;
}

// The error of a failed choice (an ok Status is turned into an internal error).
ApiError event_error(const RequestEvent& ev) {
  if (ev.error.ok()) return ApiError::internal("generation failed");
  return api_error_from_status(ev.error);
}

Headers sse_headers(const HttpOptions& options) {
  Headers h = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  add_cors_headers(options, h);
  return h;
}

std::string random_hex(size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kHex[rd() % 16];
  return s;
}

// The callback given to Server::submit: metrics, then a hop to the connection's executor.
template <typename State>
RequestEventCallback make_callback(std::shared_ptr<State> state, int n_choices, Metrics& metrics,
                                   size_t prompt_index = 0) {
  auto timer = std::make_shared<RequestTimer>(n_choices);
  return [state = std::move(state), timer, &metrics, prompt_index](RequestEvent ev) {
    timer->observe(ev, Clock::now(), metrics);
    std::shared_ptr<ResponseWriter> writer = state->writer;
    writer->post([state, prompt_index, ev = std::move(ev)]() mutable {
      state->on_event(prompt_index, std::move(ev));
    });
  };
}

// ---- chat -------------------------------------------------------------------------------------

struct ChatState {
  std::shared_ptr<ResponseWriter> writer;
  std::shared_ptr<const Model> model;
  const HttpOptions* options = nullptr;
  std::shared_ptr<ServerRequest> handle;
  bool stream = false;
  bool include_usage = false;
  bool logprobs = false;
  int top_logprobs = 0;
  int remaining = 0;  // choices without their last event yet
  bool started = false;
  bool failed = false;
  ChatCompletionBuilder builder;
  UsageTotals usage;
  std::string id;
  int64_t created = 0;
  std::string model_name;

  ChatState(int n, bool lp, int top) : builder(n, lp, top) {}

  void on_event(size_t /*prompt_index*/, RequestEvent ev) {
    if (ev.last) --remaining;
    const bool done = remaining <= 0;
    if (ev.chat) {
      // One id per HTTP request, unguessable and unique (the chunk's own id is derived from the
      // request, not from this server's history).
      ev.chat->id = id;
      if (created == 0) created = ev.chat->created;
      ev.chat->created = created;
      if (model_name.empty()) model_name = ev.chat->model;
    }
    if (!failed) deliver(ev, done);
    if (done) handle.reset();
  }

  void fail(const ApiError& e) {
    failed = true;
    if (handle) handle->cancel();
    if (!started) {
      HttpResponse r = e.to_response();
      add_cors_headers(*options, r.headers);
      writer->respond(std::move(r));
    } else {
      writer->stream_write(sse_event(e.to_json()));
      writer->end_stream();
    }
  }

  void deliver(const RequestEvent& ev, bool done) {
    const Tokenizer& tok = model->tokenizer();
    if (is_error_event(ev)) return fail(event_error(ev));
    if (ev.last) {
      if (ev.chat && ev.chat->usage) {
        const ChatUsage& u = *ev.chat->usage;
        usage.add(u.prompt_tokens, u.completion_tokens, u.cached_prompt_tokens, !usage.seen);
      } else {
        usage.add(ev.usage.prompt_tokens, ev.usage.completion_tokens, ev.usage.cached_prompt_tokens,
                  !usage.seen);
      }
    }
    if (!stream) {
      builder.add(ev, tok);
      if (done) {
        writer->set_log_tokens(usage.prompt_tokens, usage.completion_tokens);
        HttpResponse r;
        r.body = dump_json(builder.to_json());
        add_cors_headers(*options, r.headers);
        writer->respond(std::move(r));
      }
      return;
    }
    if (!started) {
      writer->begin_stream(200, kSseContentType, sse_headers(*options));
      started = true;
    }
    if (std::optional<Json> chunk = chat_chunk_json(ev, logprobs, top_logprobs, tok)) {
      writer->stream_write(sse_event(*chunk));
    }
    if (done) {
      if (include_usage)
        writer->stream_write(sse_event(chat_usage_chunk_json(id, created, model_name, usage)));
      writer->stream_write(std::string(kSseDone));
      writer->set_log_tokens(usage.prompt_tokens, usage.completion_tokens);
      writer->end_stream();
    }
  }
};

// ---- completions ------------------------------------------------------------------------------

struct CompletionState {
  struct Choice {
    std::string text;
    std::string prefix;  // echo: the prompt, sent before the first generated text
    bool prefix_sent = false;
    std::optional<CompletionLogprobs> logprobs;
    std::string finish_reason;
  };

  std::shared_ptr<ResponseWriter> writer;
  std::shared_ptr<const Model> model;
  const HttpOptions* options = nullptr;
  std::vector<std::shared_ptr<ServerRequest>> handles;
  int n = 1;
  bool stream = false;
  bool include_usage = false;
  int remaining = 0;
  bool started = false;
  bool failed = false;
  std::vector<Choice> choices;  // prompt_index * n + choice
  std::vector<bool> prompt_counted;
  UsageTotals usage;
  std::string id;
  int64_t created = 0;
  std::string model_name;

  void on_event(size_t prompt_index, RequestEvent ev) {
    if (ev.last) --remaining;
    const bool done = remaining <= 0;
    if (!failed) deliver(prompt_index, ev, done);
    if (done) handles.clear();
  }

  void fail(const ApiError& e) {
    failed = true;
    for (auto& h : handles) {
      if (h) h->cancel();
    }
    if (!started) {
      HttpResponse r = e.to_response();
      add_cors_headers(*options, r.headers);
      writer->respond(std::move(r));
    } else {
      writer->stream_write(sse_event(e.to_json()));
      writer->end_stream();
    }
  }

  void deliver(size_t prompt_index, const RequestEvent& ev, bool done) {
    if (is_error_event(ev)) return fail(event_error(ev));
    const size_t index = prompt_index * static_cast<size_t>(n) + static_cast<size_t>(ev.index);
    if (ev.index < 0 || ev.index >= n || index >= choices.size()) return;
    Choice& ch = choices[index];
    std::string text;
    if (!ch.prefix_sent) {
      text = ch.prefix;
      ch.prefix_sent = true;
    }
    text += ev.generation.text;
    ch.text += text;
    if (ch.logprobs) ch.logprobs->add(ev, model->tokenizer());
    if (ev.last) {
      ch.finish_reason = completion_finish_reason(ev);
      const bool first_of_prompt = !prompt_counted[prompt_index];
      prompt_counted[prompt_index] = true;
      usage.add(ev.usage.prompt_tokens, ev.usage.completion_tokens, ev.usage.cached_prompt_tokens,
                first_of_prompt);
    }
    if (stream) {
      if (!started) {
        writer->begin_stream(200, kSseContentType, sse_headers(*options));
        started = true;
      }
      const bool has_tokens = ch.logprobs && !ev.generation.tokens.empty();
      if (!text.empty() || ev.last || has_tokens) {
        Json lp = ch.logprobs ? ch.logprobs->take_json() : Json(nullptr);
        Json choice = completion_choice_json(static_cast<int64_t>(index), text, std::move(lp),
                                             ev.last ? ch.finish_reason : "");
        writer->stream_write(
            sse_event(completion_json(id, created, model_name, Json::array({std::move(choice)}))));
      }
      if (done) {
        if (include_usage) {
          Json u = completion_json(id, created, model_name, Json::array());
          u["usage"] = usage.to_json();
          writer->stream_write(sse_event(u));
        }
        writer->stream_write(std::string(kSseDone));
        writer->set_log_tokens(usage.prompt_tokens, usage.completion_tokens);
        writer->end_stream();
      }
      return;
    }
    if (done) {
      Json out = Json::array();
      for (size_t i = 0; i < choices.size(); ++i) {
        Json lp = choices[i].logprobs ? choices[i].logprobs->to_json() : Json(nullptr);
        out.push_back(completion_choice_json(static_cast<int64_t>(i), choices[i].text,
                                             std::move(lp), choices[i].finish_reason));
      }
      Json body = completion_json(id, created, model_name, std::move(out));
      body["usage"] = usage.to_json();
      writer->set_log_tokens(usage.prompt_tokens, usage.completion_tokens);
      HttpResponse r;
      r.body = dump_json(body);
      add_cors_headers(*options, r.headers);
      writer->respond(std::move(r));
    }
  }
};

}  // namespace

void Api::chat_completions(const HttpRequest& /*request*/, Json body,
                           const std::shared_ptr<ResponseWriter>& writer,
                           const std::shared_ptr<Server>& server) {
  Result<ChatCompletionCall> call = parse_chat_completion(body);
  if (!call.ok()) return respond_error(*writer, api_error_from_status(call.status()));
  if (std::optional<ApiError> e = unknown_model(call->model)) return respond_error(*writer, *e);
  call->request.params.model = options_.model_id;
  const int n = call->request.n;
  auto state = std::make_shared<ChatState>(n, call->logprobs, call->top_logprobs);
  state->writer = writer;
  state->model = server->model();
  state->options = &options_;
  state->stream = call->stream;
  state->include_usage = call->include_usage;
  state->logprobs = call->logprobs;
  state->top_logprobs = call->top_logprobs;
  state->remaining = n;
  state->id = "chatcmpl-" + random_hex(24);
  Result<std::shared_ptr<ServerRequest>> handle =
      server->submit(std::move(call->request), make_callback(state, n, metrics_));
  if (!handle.ok()) return respond_error(*writer, api_error_from_status(handle.status()));
  state->handle = *handle;
  writer->on_disconnect([state] {
    if (state->handle) state->handle->cancel();
  });
}

void Api::completions(const HttpRequest& /*request*/, Json body,
                      const std::shared_ptr<ResponseWriter>& writer,
                      const std::shared_ptr<Server>& server) {
  Result<CompletionCall> call = parse_completion(body);
  if (!call.ok()) return respond_error(*writer, api_error_from_status(call.status()));
  if (std::optional<ApiError> e = unknown_model(call->model)) return respond_error(*writer, *e);
  const Tokenizer& tok = server->model()->tokenizer();
  const size_t n_prompts = call->prompts.size();
  const int n = call->n;
  auto state = std::make_shared<CompletionState>();
  state->writer = writer;
  state->model = server->model();
  state->options = &options_;
  state->n = n;
  state->stream = call->stream;
  state->include_usage = call->include_usage;
  state->id = "cmpl-" + random_hex(24);
  state->created = static_cast<int64_t>(std::time(nullptr));
  state->model_name = options_.model_id;
  state->choices.resize(n_prompts * static_cast<size_t>(n));
  state->prompt_counted.assign(n_prompts, false);
  for (size_t p = 0; p < n_prompts; ++p) {
    const CompletionPrompt& prompt = call->prompts[p];
    for (int32_t id : prompt.tokens) {
      if (id >= tok.n_vocab()) {
        return respond_error(*writer,
                             ApiError::invalid_request("prompt token " + std::to_string(id) +
                                                           " is outside the vocabulary (" +
                                                           std::to_string(tok.n_vocab()) + ")",
                                                       "prompt"));
      }
    }
    std::string echo;
    if (call->echo) {
      if (prompt.is_tokens) {
        Result<std::string> text = tok.detokenize(prompt.tokens, false, true);
        if (text.ok()) echo = *text;
      } else {
        echo = prompt.text;
      }
    }
    for (int c = 0; c < n; ++c) {
      CompletionState::Choice& ch =
          state->choices[p * static_cast<size_t>(n) + static_cast<size_t>(c)];
      ch.prefix = echo;
      if (call->logprobs >= 0) ch.logprobs.emplace(call->logprobs, echo.size());
    }
  }
  // Each prompt is its own Server request. Events are posted to this connection's executor, so
  // none is handled before this function returns.
  for (size_t p = 0; p < n_prompts; ++p) {
    CompletionRequest req;
    if (call->prompts[p].is_tokens) {
      req.prompt_tokens = std::move(call->prompts[p].tokens);
    } else {
      req.prompt = std::move(call->prompts[p].text);
    }
    req.params = call->params;
    req.n = n;
    Result<std::shared_ptr<ServerRequest>> handle =
        server->submit(std::move(req), make_callback(state, n, metrics_, p));
    if (!handle.ok()) {
      // Nothing is sent for the prompts already submitted: cancel them, answer with the error.
      state->remaining = static_cast<int>(p) * n;
      state->failed = true;
      for (auto& h : state->handles) h->cancel();
      if (p == 0) state->handles.clear();
      return respond_error(*writer, api_error_from_status(handle.status()));
    }
    state->handles.push_back(*handle);
  }
  state->remaining = static_cast<int>(n_prompts) * n;
  writer->on_disconnect([state] {
    for (auto& h : state->handles) {
      if (h) h->cancel();
    }
  });
}

}  // namespace ember::http
