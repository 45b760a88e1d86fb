// libFuzzer target for the HTTP server's request path, everything that runs on untrusted bytes
// before a request reaches the model: Beast's request parser with the server's limits (head
// 16 KiB, body 8 MiB; pipelined requests parsed one after the other), the conversion to
// HttpRequest, the gate (API key, CORS preflight, route → 404 / 405, content type → 415, JSON
// body → 400) and the OpenAI / llama-server body parsers into ChatRequest, CompletionRequest,
// tokenize / detokenize / apply-template calls, and the Ollama (/api/embed included), Anthropic
// Messages and OpenAI Responses parsers. Each step must return a value or an error (an
// HTTP response with a 2xx / 4xx status and a JSON error body); nothing may crash, hang or
// allocate without bound. No model is needed: parsing is separate from submission.
//
// Input layout: byte 0 sets the gate's options (bit 0: an API key "k" is required, bit 1: CORS
// on); the rest is raw bytes as a client would send them on the socket.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "anthropic_request.h"
#include "api_error.h"
#include "http_parse.h"
#include "ollama_request.h"
#include "openai_request.h"
#include "responses_request.h"
#include "router.h"

namespace {

using namespace ember::http;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "server_request_fuzz: %s\n", what.c_str());
  std::abort();
}

void check_error_response(const HttpResponse& r) {
  if (r.status < 200 || r.status >= 500) fail("gate answered status " + std::to_string(r.status));
  if (r.status >= 400) {
    const ember::Json j = ember::Json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error") || !j["error"].contains("message")) {
      fail("error body is not OpenAI-shaped: " + r.body);
    }
  }
  // The head must be well-formed whatever the headers hold.
  const std::string head =
      format_response_head(r.status, r.content_type, r.headers, static_cast<int64_t>(r.body.size()),
                           false, true, "req-1");
  if (head.find("\r\n\r\n") != head.size() - 4) fail("response head has an early blank line");
}

void check_status(const ember::Status& st) {
  if (st.ok()) return;
  const ApiError e = api_error_from_status(st);
  if (e.status >= 500)
    fail("a parser error maps to " + std::to_string(e.status) + ": " + st.to_string());
  check_error_response(e.to_response());
}

void run_route(const AdmittedRequest& a) {
  switch (a.match.route) {
    case Route::kChatCompletions: {
      auto r = parse_chat_completion(a.body);
      check_status(r.status());
      if (r.ok()) {
        if (r->request.messages.empty()) fail("chat request without messages accepted");
        if (r->request.n < 1 || r->request.n > kMaxChoices) fail("n out of range accepted");
        if (r->logprobs && r->request.params.generation.sampling.n_probs < 1) {
          fail("logprobs without candidates");
        }
      }
      break;
    }
    case Route::kCompletions: {
      auto r = parse_completion(a.body);
      check_status(r.status());
      if (r.ok()) {
        if (r->prompts.empty()) fail("completion request without a prompt accepted");
        if (r->prompts.size() * static_cast<size_t>(r->n) > static_cast<size_t>(kMaxChoices)) {
          fail("too many choices accepted");
        }
        for (const auto& p : r->prompts) {
          for (int32_t id : p.tokens) {
            if (id < 0) fail("negative token id accepted");
          }
        }
      }
      break;
    }
    case Route::kTokenize:
      check_status(parse_tokenize(a.body).status());
      break;
    case Route::kDetokenize: {
      auto r = parse_detokenize(a.body);
      check_status(r.status());
      if (r.ok()) {
        for (int32_t id : *r) {
          if (id < 0) fail("negative token id accepted");
        }
      }
      break;
    }
    case Route::kApplyTemplate:
      check_status(parse_apply_template(a.body).status());
      break;
    case Route::kOllamaChat:
    case Route::kOllamaGenerate: {
      auto r = a.match.route == Route::kOllamaChat ? parse_ollama_chat(a.body)
                                                   : parse_ollama_generate(a.body);
      check_status(r.status());
      if (r.ok() && r->num_ctx < 0) fail("negative num_ctx accepted");
      break;
    }
    case Route::kOllamaShow:
      check_status(parse_ollama_show(a.body).status());
      break;
    case Route::kOllamaEmbed:
      for (bool legacy : {false, true}) {
        auto r = parse_ollama_embed(a.body, legacy);
        check_status(r.status());
        if (r.ok() && r->request.inputs.empty()) fail("embed request without inputs accepted");
        if (r.ok() && r->request.params.dimensions < 0) fail("negative dimensions accepted");
      }
      break;
    case Route::kAnthropicMessages:
    case Route::kAnthropicCountTokens: {
      auto r = parse_anthropic_messages(a.body, a.match.route == Route::kAnthropicCountTokens);
      check_status(r.status());
      if (r.ok() && r->chat.messages.empty()) fail("messages request without messages accepted");
      break;
    }
    case Route::kResponses: {
      auto r = parse_responses_request(a.body);
      check_status(r.status());
      if (r.ok() && r->chat.messages.empty()) fail("responses request without input accepted");
      break;
    }
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  HttpOptions options;
  options.api_key = (data[0] & 1) ? "k" : "";
  options.cors_origin = (data[0] & 2) ? "https://example.com" : "";
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  size_t left = size - 1;
  for (int request = 0; request < 16 && left > 0; ++request) {
    BeastParser parser;
    configure_parser(parser, options);
    parser.eager(true);
    boost::beast::error_code ec;
    size_t used_total = 0;
    // Feed in pieces, as reads from a socket arrive.
    while (!ec && !parser.is_done() && used_total < left) {
      const size_t used =
          parser.put(boost::asio::buffer(bytes + used_total, left - used_total), ec);
      if (ec == boost::beast::http::error::need_more) {
        ec = {};
        if (used == 0) break;
      }
      used_total += used;
      if (used == 0 && !parser.is_done()) break;
    }
    if (!ec && !parser.is_done()) {
      parser.put_eof(ec);  // the client closed: a body delimited by EOF may end here
    }
    if (ec || !parser.is_done()) {
      // The connection answers 400 / 413 / 431 and closes (http_server.cc): nothing more to do.
      return 0;
    }
    HttpRequest req = to_http_request(parser.release());
    if (req.body.size() > options.max_body) fail("body over the limit accepted");
    auto admitted = admit_request(req, options);
    if (auto* r = std::get_if<HttpResponse>(&admitted)) {
      check_error_response(*r);
    } else {
      const AdmittedRequest& a = std::get<AdmittedRequest>(admitted);
      if (route_takes_json(a.match.route) && !a.body.is_object()) fail("non-object body admitted");
      if (!options.api_key.empty() && a.match.route != Route::kHealth) {
        std::string_view auth = req.header("authorization");
        if (auth.find('k') == std::string_view::npos) fail("request without the key admitted");
      }
      run_route(a);
    }
    bytes += used_total;
    left -= used_total;
  }
  return 0;
}
