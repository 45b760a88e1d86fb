// Request parsing (see openai_request.h).
#include "openai_request.h"

#include <cmath>
#include <limits>

namespace ember::http {
namespace {

Status read_bool(const Json& body, const char* key, bool& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return invalid_argument(std::string(key) + " must be true or false");
  out = it->get<bool>();
  return Status::Ok();
}

// An integer field in [lo, hi] (never wrapped or truncated).
template <typename T>
Status read_int(const Json& body, const char* key, int64_t lo, int64_t hi, T& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_integer()) return invalid_argument(std::string(key) + " must be an integer");
  const bool too_big =
      it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  const int64_t v = too_big ? 0 : it->get<int64_t>();
  if (too_big || v < lo || v > hi) {
    return invalid_argument(std::string(key) + " must be in [" + std::to_string(lo) + ", " +
                            std::to_string(hi) + "]");
  }
  out = static_cast<T>(v);
  return Status::Ok();
}

Status read_float(const Json& body, const char* key, float& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return invalid_argument(std::string(key) + " must be a number");
  const double v = it->get<double>();
  if (!std::isfinite(v) || std::fabs(v) > 1e30) {
    return invalid_argument(std::string(key) + " must be a finite number");
  }
  out = static_cast<float>(v);
  return Status::Ok();
}

Status read_token_id(const Json& j, const std::string& where, int32_t& out) {
  if (!j.is_number_integer()) return invalid_argument(where + " must be a token id (an integer)");
  if (j.is_number_unsigned() ? j.get<uint64_t>() > 0x7FFFFFFFull
                             : (j.get<int64_t>() < 0 || j.get<int64_t>() > 0x7FFFFFFF)) {
    return invalid_argument(where + " is not a valid token id");
  }
  out = static_cast<int32_t>(j.get<int64_t>());
  return Status::Ok();
}

Status read_bias_value(const Json& v, const std::string& where, float& out) {
  if (v.is_boolean()) {
    if (v.get<bool>()) return invalid_argument(where + " must be a number or false");
    out = -std::numeric_limits<float>::infinity();  // false bans the token (llama-server)
    return Status::Ok();
  }
  if (!v.is_number()) return invalid_argument(where + " must be a number");
  const double b = v.get<double>();
  if (!std::isfinite(b) || std::fabs(b) > 1e6) return invalid_argument(where + " is out of range");
  out = static_cast<float>(b);
  return Status::Ok();
}

Status read_logit_bias(const Json& body, std::map<int32_t, float>& out) {
  auto it = body.find("logit_bias");
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (it->is_object()) {
    for (const auto& [key, value] : it->items()) {
      // Keys are token ids written as decimal strings.
      if (key.empty() || key.size() > 10 ||
          key.find_first_not_of("0123456789") != std::string::npos) {
        return invalid_argument("logit_bias keys must be token ids, not '" + key.substr(0, 40) +
                                "'");
      }
      const int64_t id = std::stoll(key);
      if (id > 0x7FFFFFFF) return invalid_argument("logit_bias key " + key + " is not a token id");
      float bias = 0;
      EMBER_RETURN_IF_ERROR(read_bias_value(value, "logit_bias[\"" + key + "\"]", bias));
      out[static_cast<int32_t>(id)] = bias;
    }
    return Status::Ok();
  }
  if (it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& pair = (*it)[i];
      const std::string where = "logit_bias[" + std::to_string(i) + "]";
      if (!pair.is_array() || pair.size() != 2) {
        return invalid_argument(where + " must be a pair [token id, bias]");
      }
      int32_t id = 0;
      EMBER_RETURN_IF_ERROR(read_token_id(pair[0], where + "[0]", id));
      float bias = 0;
      EMBER_RETURN_IF_ERROR(read_bias_value(pair[1], where + "[1]", bias));
      out[id] = bias;
    }
    return Status::Ok();
  }
  return invalid_argument("logit_bias must be an object {\"token id\": bias}");
}

// The fields shared by chat and completions, on top of ChatParams::from_json.
Status read_common(const Json& body, GenerationParams& g, int& n, bool& stream,
                   bool& include_usage) {
  SamplingParams& s = g.sampling;
  EMBER_RETURN_IF_ERROR(read_float(body, "typical_p", s.typical_p));
  EMBER_RETURN_IF_ERROR(read_int(body, "repeat_last_n", -1, 1 << 20, s.repeat_last_n));
  EMBER_RETURN_IF_ERROR(read_int(body, "mirostat", 0, 2, s.mirostat));
  EMBER_RETURN_IF_ERROR(read_float(body, "mirostat_tau", s.mirostat_tau));
  EMBER_RETURN_IF_ERROR(read_float(body, "mirostat_eta", s.mirostat_eta));
  EMBER_RETURN_IF_ERROR(read_logit_bias(body, s.logit_bias));
  EMBER_RETURN_IF_ERROR(read_bool(body, "ignore_eos", g.ignore_eos));
  EMBER_RETURN_IF_ERROR(read_int(body, "n", 1, kMaxChoices, n));
  EMBER_RETURN_IF_ERROR(read_bool(body, "stream", stream));
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return invalid_argument("stream_options must be an object");
    EMBER_RETURN_IF_ERROR(
        read_bool(*it, "include_usage", include_usage).with_context("stream_options"));
  }
  if (auto it = body.find("grammar"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return invalid_argument("grammar must be a string (GBNF)");
    g.grammar = it->get<std::string>();
  }
  if (auto it = body.find("json_schema"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      g.json_schema = it->get<std::string>();
    } else if (it->is_object() || it->is_boolean()) {
      g.json_schema = it->dump();
    } else {
      return invalid_argument("json_schema must be a JSON schema (object)");
    }
  }
  if (g.max_tokens < -1) return invalid_argument("max_tokens must be -1 (unlimited) or >= 0");
  return Status::Ok();
}

Status read_model(const Json& body, std::string& out) {
  auto it = body.find("model");
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return invalid_argument("model must be a string");
  out = it->get<std::string>();
  return Status::Ok();
}

Status read_token_list(const Json& list, const std::string& where, std::vector<int32_t>& out) {
  out.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    int32_t id = 0;
    EMBER_RETURN_IF_ERROR(read_token_id(list[i], where + "[" + std::to_string(i) + "]", id));
    out.push_back(id);
  }
  return Status::Ok();
}

bool all_integers(const Json& list) {
  for (const auto& x : list) {
    if (!x.is_number_integer()) return false;
  }
  return true;
}

}  // namespace

Result<ChatCompletionCall> parse_chat_completion(const Json& body) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  ChatCompletionCall call;
  auto messages = body.find("messages");
  if (messages == body.end()) return invalid_argument("messages is required");
  EMBER_ASSIGN_OR_RETURN(call.request.messages, chat_messages_from_json(*messages));
  if (call.request.messages.empty()) return invalid_argument("messages must not be empty");
  EMBER_ASSIGN_OR_RETURN(call.request.params, ChatParams::from_json(body));
  EMBER_RETURN_IF_ERROR(read_model(body, call.model));
  GenerationParams& g = call.request.params.generation;
  EMBER_RETURN_IF_ERROR(read_common(body, g, call.request.n, call.stream, call.include_usage));
  EMBER_RETURN_IF_ERROR(read_bool(body, "logprobs", call.logprobs));
  EMBER_RETURN_IF_ERROR(read_int(body, "top_logprobs", 0, kMaxTopLogprobs, call.top_logprobs));
  if (call.top_logprobs > 0 && !call.logprobs) {
    return invalid_argument("top_logprobs requires logprobs: true");
  }
  // The sampled token's probability comes with the candidates: ask for at least one.
  if (call.logprobs) g.sampling.n_probs = std::max(1, call.top_logprobs);
  return call;
}

Result<CompletionCall> parse_completion(const Json& body) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  CompletionCall call;
  // The sampling fields are the chat request's; tools and the like do not apply here.
  for (const char* key : {"tools", "tool_choice", "response_format", "messages"}) {
    if (body.contains(key) && !body[key].is_null()) {
      return invalid_argument(std::string(key) +
                              " is not a /v1/completions field (use "
                              "/v1/chat/completions)");
    }
  }
  EMBER_ASSIGN_OR_RETURN(ChatParams p, ChatParams::from_json(body));
  call.params = std::move(p.generation);
  if (!body.contains("max_tokens") || body["max_tokens"].is_null()) {
    call.params.max_tokens = kDefaultCompletionMaxTokens;
  }
  EMBER_RETURN_IF_ERROR(read_model(body, call.model));
  EMBER_RETURN_IF_ERROR(read_common(body, call.params, call.n, call.stream, call.include_usage));
  EMBER_RETURN_IF_ERROR(read_bool(body, "echo", call.echo));
  if (auto it = body.find("logprobs"); it != body.end() && !it->is_null()) {
    if (it->is_boolean()) {
      call.logprobs = it->get<bool>() ? 0 : -1;
    } else {
      EMBER_RETURN_IF_ERROR(read_int(body, "logprobs", 0, kMaxTopLogprobs, call.logprobs));
    }
  }
  if (call.logprobs >= 0) call.params.sampling.n_probs = std::max(1, call.logprobs);
  if (call.echo && call.logprobs >= 0) {
    return unimplemented("echo with logprobs is not supported (it needs the prompt's logprobs)");
  }
  if (auto it = body.find("suffix"); it != body.end() && !it->is_null()) {
    if (!it->is_string() || !it->get<std::string>().empty()) {
      return unimplemented(
          "suffix (fill-in-the-middle) is not supported: ember has no infill "
          "support");
    }
  }
  if (auto it = body.find("best_of"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() != call.n) {
      return unimplemented("best_of other than n is not supported");
    }
  }
  auto prompt = body.find("prompt");
  if (prompt == body.end() || prompt->is_null()) return invalid_argument("prompt is required");
  if (prompt->is_string()) {
    call.prompts.push_back({prompt->get<std::string>(), {}, false});
  } else if (prompt->is_array()) {
    if (prompt->empty()) return invalid_argument("prompt must not be an empty list");
    if (all_integers(*prompt)) {
      CompletionPrompt cp;
      cp.is_tokens = true;
      EMBER_RETURN_IF_ERROR(read_token_list(*prompt, "prompt", cp.tokens));
      call.prompts.push_back(std::move(cp));
    } else {
      if (prompt->size() > static_cast<size_t>(kMaxPrompts)) {
        return invalid_argument("prompt holds more than " + std::to_string(kMaxPrompts) +
                                " prompts");
      }
      for (size_t i = 0; i < prompt->size(); ++i) {
        const Json& x = (*prompt)[i];
        const std::string where = "prompt[" + std::to_string(i) + "]";
        CompletionPrompt cp;
        if (x.is_string()) {
          cp.text = x.get<std::string>();
        } else if (x.is_array() && !x.empty()) {
          cp.is_tokens = true;
          EMBER_RETURN_IF_ERROR(read_token_list(x, where, cp.tokens));
        } else {
          return invalid_argument(where + " must be a string or a non-empty list of token ids");
        }
        call.prompts.push_back(std::move(cp));
      }
    }
  } else {
    return invalid_argument("prompt must be a string, a list of token ids, or a list of those");
  }
  if (call.prompts.size() * static_cast<size_t>(call.n) > static_cast<size_t>(kMaxChoices)) {
    return invalid_argument("prompts x n must be at most " + std::to_string(kMaxChoices));
  }
  return call;
}

Result<TokenizeCall> parse_tokenize(const Json& body) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  TokenizeCall call;
  auto it = body.find("content");
  if (it == body.end() || !it->is_string()) return invalid_argument("content must be a string");
  call.content = it->get<std::string>();
  EMBER_RETURN_IF_ERROR(read_bool(body, "add_special", call.add_special));
  EMBER_RETURN_IF_ERROR(read_bool(body, "parse_special", call.parse_special));
  EMBER_RETURN_IF_ERROR(read_bool(body, "with_pieces", call.with_pieces));
  return call;
}

Result<std::vector<int32_t>> parse_detokenize(const Json& body) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  auto it = body.find("tokens");
  if (it == body.end() || !it->is_array()) return invalid_argument("tokens must be a list of ids");
  std::vector<int32_t> ids;
  EMBER_RETURN_IF_ERROR(read_token_list(*it, "tokens", ids));
  return ids;
}

Result<ApplyTemplateCall> parse_apply_template(const Json& body) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  ApplyTemplateCall call;
  auto messages = body.find("messages");
  if (messages == body.end()) return invalid_argument("messages is required");
  EMBER_ASSIGN_OR_RETURN(call.messages, chat_messages_from_json(*messages));
  EMBER_ASSIGN_OR_RETURN(call.params, ChatParams::from_json(body));
  return call;
}

}  // namespace ember::http
