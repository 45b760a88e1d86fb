// Ollama request parsing (see ollama_request.h).
#include "ollama_request.h"

#include <deque>
#include <set>
#include <string_view>

#include "json_fields.h"

namespace ember::http {
namespace {

using fields::find;

// Options that tune how Ollama loads or runs a model, not what it samples: accepted, no effect
// here (ember's threads, batch and memory mapping are `ember serve` flags).
constexpr std::string_view kRuntimeOptions[] = {
    "num_keep",   "num_batch",  "num_gpu",        "main_gpu",         "num_thread",
    "use_mmap",   "use_mlock",  "numa",           "low_vram",         "f16_kv",
    "vocab_only", "logits_all", "embedding_only", "penalize_newline", "num_gqa"};

bool is_runtime_option(std::string_view key) {
  for (std::string_view k : kRuntimeOptions) {
    if (k == key) return true;
  }
  return false;
}

Status read_keep_alive(const Json& body) {
  const Json* v = find(body, "keep_alive");
  if (v == nullptr || v->is_string() || v->is_number()) return Status::Ok();
  return invalid_argument("keep_alive must be a duration string (\"5m\") or a number of seconds");
}

Status read_format(const Json& body, ChatParams& p) {
  const Json* v = find(body, "format");
  if (v == nullptr) return Status::Ok();
  if (v->is_string()) {
    const std::string f = v->get<std::string>();
    if (f.empty()) return Status::Ok();
    if (f != "json") return invalid_argument("format must be \"json\" or a JSON schema object");
    p.response_format.type = ResponseFormat::Type::kJsonObject;
    return Status::Ok();
  }
  if (v->is_object()) {
    p.response_format.type = ResponseFormat::Type::kJsonSchema;
    p.response_format.schema = *v;
    return Status::Ok();
  }
  return invalid_argument("format must be \"json\" or a JSON schema object");
}

Status read_think(const Json& body, ChatParams& p) {
  const Json* v = find(body, "think");
  if (v == nullptr) return Status::Ok();
  if (v->is_boolean()) {
    p.enable_thinking = v->get<bool>();
    return Status::Ok();
  }
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    if (s == "low" || s == "medium" || s == "high") {
      // Reasoning effort levels: ember has no effort control, the model reasons as it does.
      p.enable_thinking = true;
      return Status::Ok();
    }
  }
  return invalid_argument("think must be true, false, \"low\", \"medium\" or \"high\"");
}

Status refuse_images(const Json& obj, const std::string& where) {
  const Json* v = find(obj, "images");
  if (v == nullptr) return Status::Ok();
  if (!v->is_array()) return invalid_argument(where + ".images must be a list");
  if (!v->empty()) {
    return unimplemented(where +
                         ".images: images are not supported (ember serves text-only models)");
  }
  return Status::Ok();
}

Status read_model_name(const Json& body, std::string& model) {
  const Json* v = find(body, "model");
  if (v == nullptr) return invalid_argument("model is required");
  if (!v->is_string()) return invalid_argument("model must be a string");
  model = v->get<std::string>();
  return Status::Ok();
}

// Ollama sends tool arguments as an object; ember's messages hold them as JSON text.
Result<ChatToolCall> tool_call_from_json(const Json& call, const std::string& where) {
  if (!call.is_object()) return invalid_argument(where + " must be an object {function}");
  const Json* fn = find(call, "function");
  if (fn == nullptr || !fn->is_object()) {
    return invalid_argument(where + ".function must be an object {name, arguments}");
  }
  ChatToolCall tc;
  EMBER_RETURN_IF_ERROR(fields::read_string(*fn, "name", where + ".function", tc.name));
  if (tc.name.empty()) return invalid_argument(where + ".function.name must be a non-empty string");
  const Json* args = find(*fn, "arguments");
  if (args == nullptr) {
    tc.arguments = "{}";
  } else if (args->is_object()) {
    tc.arguments = args->dump();
  } else if (args->is_string()) {
    tc.arguments = args->get<std::string>();
  } else {
    return invalid_argument(where + ".function.arguments must be an object");
  }
  EMBER_RETURN_IF_ERROR(fields::read_string(call, "id", where, tc.id));
  return tc;
}

Result<std::vector<ChatMessage>> messages_from_json(const Json& list) {
  if (!list.is_array()) return invalid_argument("messages must be a list");
  std::vector<ChatMessage> out;
  // Ollama's tool messages name the tool, not the call: they answer the latest assistant
  // message's calls in order (by name when it matches).
  std::deque<ChatToolCall> open_calls;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "messages[" + std::to_string(i) + "]";
    const Json& m = list[i];
    if (!m.is_object()) return invalid_argument(where + " must be an object {role, content}");
    ChatMessage msg;
    std::string role;
    EMBER_RETURN_IF_ERROR(fields::read_string(m, "role", where, role));
    if (role.empty()) return invalid_argument(where + ".role is required");
    Result<ChatRole> r = chat_role_from_name(role);
    if (!r.ok()) return r.status().with_context(where + ".role");
    msg.role = *r;
    EMBER_RETURN_IF_ERROR(fields::read_string(m, "content", where, msg.content));
    EMBER_RETURN_IF_ERROR(refuse_images(m, where));
    std::string thinking;
    EMBER_RETURN_IF_ERROR(fields::read_string(m, "thinking", where, thinking));
    if (msg.role == ChatRole::kAssistant) msg.reasoning_content = thinking;
    if (const Json* calls = find(m, "tool_calls")) {
      if (msg.role != ChatRole::kAssistant) {
        return invalid_argument(where + ".tool_calls is only allowed in assistant messages");
      }
      if (!calls->is_array()) return invalid_argument(where + ".tool_calls must be a list");
      open_calls.clear();
      for (size_t k = 0; k < calls->size(); ++k) {
        EMBER_ASSIGN_OR_RETURN(
            ChatToolCall tc,
            tool_call_from_json((*calls)[k], where + ".tool_calls[" + std::to_string(k) + "]"));
        if (tc.id.empty()) tc.id = "call_" + std::to_string(i) + "_" + std::to_string(k);
        open_calls.push_back(tc);
        msg.tool_calls.push_back(std::move(tc));
      }
    }
    if (msg.role == ChatRole::kTool) {
      EMBER_RETURN_IF_ERROR(fields::read_string(m, "tool_name", where, msg.name));
      if (msg.name.empty()) EMBER_RETURN_IF_ERROR(fields::read_string(m, "name", where, msg.name));
      EMBER_RETURN_IF_ERROR(fields::read_string(m, "tool_call_id", where, msg.tool_call_id));
      if (msg.tool_call_id.empty()) {
        auto match = open_calls.begin();
        for (auto it = open_calls.begin(); it != open_calls.end(); ++it) {
          if (!msg.name.empty() && it->name == msg.name) {
            match = it;
            break;
          }
        }
        if (match != open_calls.end()) {
          msg.tool_call_id = match->id;
          if (msg.name.empty()) msg.name = match->name;
          open_calls.erase(match);
        } else {
          msg.tool_call_id = "call_" + std::to_string(i);
        }
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

Status read_common(const Json& body, OllamaCall& call, ChatParams& p) {
  EMBER_RETURN_IF_ERROR(read_model_name(body, call.model));
  EMBER_RETURN_IF_ERROR(fields::read_bool(body, "stream", "", call.stream));
  EMBER_RETURN_IF_ERROR(read_keep_alive(body));
  EMBER_RETURN_IF_ERROR(read_format(body, p));
  EMBER_RETURN_IF_ERROR(read_think(body, p));
  if (const Json* o = find(body, "options")) {
    EMBER_RETURN_IF_ERROR(apply_ollama_options(*o, p.generation, call.num_ctx));
  }
  return Status::Ok();
}

}  // namespace

Status apply_ollama_options(const Json& options, GenerationParams& g, int64_t& num_ctx) {
  if (!options.is_object()) return invalid_argument("options must be an object");
  static const std::set<std::string> kKnown = {"num_predict",
                                               "temperature",
                                               "top_k",
                                               "top_p",
                                               "min_p",
                                               "typical_p",
                                               "repeat_penalty",
                                               "repeat_last_n",
                                               "presence_penalty",
                                               "frequency_penalty",
                                               "seed",
                                               "stop",
                                               "mirostat",
                                               "mirostat_tau",
                                               "mirostat_eta",
                                               "num_ctx",
                                               "tfs_z"};
  for (const auto& [key, value] : options.items()) {
    if (kKnown.count(key) == 0 && !is_runtime_option(key)) {
      return invalid_argument("options." + key.substr(0, 64) +
                              " is not an option ember knows (docs/server.md lists them)");
    }
  }
  const std::string w = "options";
  SamplingParams& s = g.sampling;
  int64_t num_predict = -1;
  if (find(options, "num_predict") != nullptr) {
    EMBER_RETURN_IF_ERROR(fields::read_int(options, "num_predict", w, -2, 1 << 30, num_predict));
    // -1: no limit, -2: until the context is full; both are "up to the context" here.
    g.max_tokens = num_predict < 0 ? -1 : static_cast<int32_t>(num_predict);
  }
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "temperature", w, s.temperature));
  EMBER_RETURN_IF_ERROR(fields::read_int(options, "top_k", w, 0, 1 << 30, s.top_k));
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "top_p", w, s.top_p));
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "min_p", w, s.min_p));
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "typical_p", w, s.typical_p));
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "repeat_penalty", w, s.repeat_penalty));
  EMBER_RETURN_IF_ERROR(
      fields::read_int(options, "repeat_last_n", w, -1, 1 << 20, s.repeat_last_n));
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "presence_penalty", w, s.presence_penalty));
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "frequency_penalty", w, s.frequency_penalty));
  EMBER_RETURN_IF_ERROR(fields::read_seed(options, "seed", w, s.seed));
  EMBER_RETURN_IF_ERROR(fields::read_strings(options, "stop", w, g.stop));
  EMBER_RETURN_IF_ERROR(fields::read_int(options, "mirostat", w, 0, 2, s.mirostat));
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "mirostat_tau", w, s.mirostat_tau));
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "mirostat_eta", w, s.mirostat_eta));
  EMBER_RETURN_IF_ERROR(fields::read_int(options, "num_ctx", w, 1, 1 << 30, num_ctx));
  float tfs_z = 1.0f;
  EMBER_RETURN_IF_ERROR(fields::read_float(options, "tfs_z", w, tfs_z));
  if (tfs_z != 1.0f) {
    return unimplemented("options.tfs_z: tail-free sampling is not supported (1 = off is)");
  }
  return Status::Ok();
}

Result<OllamaCall> parse_ollama_chat(const Json& body) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  OllamaCall call;
  ChatParams& p = call.chat.params;
  EMBER_RETURN_IF_ERROR(read_common(body, call, p));
  const Json* messages = find(body, "messages");
  if (messages != nullptr) {
    EMBER_ASSIGN_OR_RETURN(call.chat.messages, messages_from_json(*messages));
  }
  call.load_only = call.chat.messages.empty();
  if (const Json* tools = find(body, "tools")) {
    if (!tools->is_array()) return invalid_argument("tools must be a list");
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& t = (*tools)[i];
      const std::string where = "tools[" + std::to_string(i) + "]";
      if (!t.is_object()) return invalid_argument(where + " must be an object");
      const Json* fn = find(t, "function");
      if (fn == nullptr || !fn->is_object() || !(*fn)["name"].is_string()) {
        return invalid_argument(where + ".function must be an object with a name");
      }
      std::string type = "function";
      EMBER_RETURN_IF_ERROR(fields::read_string(t, "type", where, type));
      if (type != "function") return invalid_argument(where + ".type must be \"function\"");
    }
    p.tools = *tools;
  }
  return call;
}

Result<OllamaCall> parse_ollama_generate(const Json& body) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  OllamaCall call;
  ChatParams& p = call.chat.params;
  EMBER_RETURN_IF_ERROR(read_common(body, call, p));
  std::string prompt, system, suffix, tmpl;
  EMBER_RETURN_IF_ERROR(fields::read_string(body, "prompt", "", prompt));
  EMBER_RETURN_IF_ERROR(fields::read_string(body, "system", "", system));
  EMBER_RETURN_IF_ERROR(fields::read_string(body, "suffix", "", suffix));
  EMBER_RETURN_IF_ERROR(fields::read_string(body, "template", "", tmpl));
  EMBER_RETURN_IF_ERROR(fields::read_bool(body, "raw", "", call.raw));
  EMBER_RETURN_IF_ERROR(refuse_images(body, "request"));
  if (!suffix.empty()) {
    return unimplemented("suffix (fill-in-the-middle) is not supported: ember has no infill");
  }
  if (!tmpl.empty()) {
    return unimplemented(
        "template is not supported: ember renders the model's own (Jinja) chat template; send "
        "raw: true with a prompt you formatted yourself");
  }
  if (const Json* ctx = find(body, "context")) {
    if (!ctx->is_array()) return invalid_argument("context must be a list of token ids");
    if (!ctx->empty()) {
      return unimplemented(
          "context (the token list of an earlier /api/generate) is not supported: send the "
          "conversation to /api/chat instead");
    }
  }
  call.load_only = prompt.empty() && system.empty();
  if (call.raw) {
    if (p.enable_thinking.has_value()) {
      return invalid_argument("think needs the chat template: it cannot be used with raw: true");
    }
    if (!system.empty()) {
      return invalid_argument("system needs the chat template: it cannot be used with raw: true");
    }
    call.completion.prompt = std::move(prompt);
    call.completion.params = p.generation;
    // format → the same constraint a chat request gets from response_format.
    if (p.response_format.type == ResponseFormat::Type::kJsonObject) {
      call.completion.params.json_schema = R"({"type":"object"})";
    } else if (p.response_format.type == ResponseFormat::Type::kJsonSchema) {
      call.completion.params.json_schema = p.response_format.schema.dump();
    }
    return call;
  }
  if (!system.empty()) call.chat.messages.push_back(ChatMessage::system(std::move(system)));
  if (!prompt.empty()) call.chat.messages.push_back(ChatMessage::user(std::move(prompt)));
  return call;
}

Result<std::string> parse_ollama_show(const Json& body) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  std::string model;
  EMBER_RETURN_IF_ERROR(fields::read_string(body, "model", "", model));
  if (model.empty()) EMBER_RETURN_IF_ERROR(fields::read_string(body, "name", "", model));
  if (model.empty()) return invalid_argument("model is required");
  return model;
}

Result<OllamaEmbedCall> parse_ollama_embed(const Json& body, bool legacy) {
  if (!body.is_object()) return invalid_argument("the request must be a JSON object");
  OllamaEmbedCall call;
  EMBER_RETURN_IF_ERROR(read_model_name(body, call.model));
  EMBER_RETURN_IF_ERROR(read_keep_alive(body));
  EmbedParams& p = call.request.params;
  if (legacy) {
    // The older endpoint returns the pooled vector as the model computes it (Ollama does not
    // normalize it) and errors on inputs longer than the context.
    const Json* prompt = find(body, "prompt");
    if (prompt == nullptr || !prompt->is_string())
      return invalid_argument("prompt is required and must be a string");
    call.request.inputs.push_back(prompt->get<std::string>());
    p.normalize = false;
  } else {
    const Json* in = find(body, "input");
    if (in == nullptr) return invalid_argument("input is required");
    if (in->is_string()) {
      call.request.inputs.push_back(in->get<std::string>());
    } else if (in->is_array() && !in->empty()) {
      for (const Json& s : *in) {
        if (!s.is_string())
          return invalid_argument("input must be a string or an array of strings");
        call.request.inputs.push_back(s.get<std::string>());
      }
    } else {
      return invalid_argument("input must be a string or a non-empty array of strings");
    }
    // Ollama cuts inputs longer than the context unless told not to.
    p.truncate = true;
    EMBER_RETURN_IF_ERROR(fields::read_bool(body, "truncate", "", p.truncate));
    int64_t dims = 0;
    EMBER_RETURN_IF_ERROR(fields::read_int(body, "dimensions", "", 1, 1 << 20, dims));
    p.dimensions = static_cast<int32_t>(dims);
  }
  if (const Json* o = find(body, "options")) {
    // Checked as for generation; the sampling options have no effect on an embedding.
    GenerationParams unused;
    EMBER_RETURN_IF_ERROR(apply_ollama_options(*o, unused, call.num_ctx));
  }
  return call;
}

}  // namespace ember::http
