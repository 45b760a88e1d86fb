// POST /v1/embeddings (OpenAI's embeddings API) and POST /v1/rerank (+ /rerank; the Jina /
// Cohere shape llama-server serves). Both run as embedding jobs on the Server's scheduler thread;
// the answer is posted back to the connection's executor.
//
// /v1/embeddings: `input` a string, an array of strings, an array of token ids or an array of
// such arrays; `encoding_format` "float" (default) or "base64" (little-endian float32 bytes);
// `dimensions` (Matryoshka); `model` (must be this server's when given). Vectors are
// L2-normalized, as OpenAI's. Response: {"object":"list","data":[{"object":"embedding",
// "index","embedding"}],"model","usage":{"prompt_tokens","total_tokens"}}.
//
// /v1/rerank: `query`, `documents` (strings, or objects with a "text" string), `top_n`,
// `return_documents`. Response: {"object":"list","model","results":[{"index",
// "relevance_score"[,"document":{"text"}]}],"usage"}, most relevant first.
#include <algorithm>
#include <numeric>

#include "api.h"
#include "api_error.h"

namespace ember::http {
namespace {

std::string base64(const void* data, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = static_cast<const uint8_t*>(data);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t b0 = p[i], b1 = i + 1 < n ? p[i + 1] : 0, b2 = i + 2 < n ? p[i + 2] : 0;
    const uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// A token id array (every element an integer in int32 range), or an error naming `where`.
Result<std::vector<int32_t>> token_array(const Json& j, const std::string& where) {
  std::vector<int32_t> ids;
  ids.reserve(j.size());
  for (const Json& t : j) {
    if (!t.is_number_integer())
      return invalid_argument(where + " must hold only integer token ids");
    const auto v = t.get<int64_t>();
    if (v < 0 || v > INT32_MAX)
      return invalid_argument(where + ": token id " + std::to_string(v) + " is out of range");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

struct EmbeddingsCall {
  EmbedRequest request;
  bool base64 = false;
  std::string model;
};

Result<EmbeddingsCall> parse_embeddings(const Json& body) {
  EmbeddingsCall call;
  if (body.contains("model")) {
    if (!body["model"].is_string()) return invalid_argument("'model' must be a string");
    call.model = body["model"].get<std::string>();
  }
  if (!body.contains("input")) return invalid_argument("'input' is required");
  const Json& in = body["input"];
  if (in.is_string()) {
    call.request.inputs.push_back(in.get<std::string>());
  } else if (in.is_array()) {
    if (in.empty()) return invalid_argument("'input' must not be an empty array");
    if (in[0].is_string()) {
      for (const Json& s : in) {
        if (!s.is_string()) return invalid_argument("'input' mixes strings and other values");
        call.request.inputs.push_back(s.get<std::string>());
      }
    } else if (in[0].is_number()) {
      EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> ids, token_array(in, "'input'"));
      call.request.input_tokens.push_back(std::move(ids));
    } else if (in[0].is_array()) {
      for (size_t i = 0; i < in.size(); ++i) {
        if (!in[i].is_array())
          return invalid_argument("'input' mixes token arrays and other values");
        if (in[i].empty()) return invalid_argument("'input[" + std::to_string(i) + "]' is empty");
        EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                               token_array(in[i], "'input[" + std::to_string(i) + "]'"));
        call.request.input_tokens.push_back(std::move(ids));
      }
    } else {
      return invalid_argument(
          "'input' must be a string, an array of strings, of token ids or of token id arrays");
    }
  } else {
    return invalid_argument(
        "'input' must be a string, an array of strings, of token ids or of token id arrays");
  }
  if (body.contains("encoding_format") && !body["encoding_format"].is_null()) {
    const Json& f = body["encoding_format"];
    if (!f.is_string() || (f != "float" && f != "base64")) {
      return invalid_argument("'encoding_format' must be \"float\" or \"base64\"");
    }
    call.base64 = f == "base64";
  }
  if (body.contains("dimensions") && !body["dimensions"].is_null()) {
    const Json& d = body["dimensions"];
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > (1 << 20)) {
      return invalid_argument("'dimensions' must be a positive integer");
    }
    call.request.params.dimensions = static_cast<int32_t>(d.get<int64_t>());
  }
  return call;
}

struct RerankCall {
  RerankRequest request;
  int64_t top_n = -1;
  bool return_documents = false;
  std::string model;
};

Result<RerankCall> parse_rerank(const Json& body) {
  RerankCall call;
  if (body.contains("model")) {
    if (!body["model"].is_string()) return invalid_argument("'model' must be a string");
    call.model = body["model"].get<std::string>();
  }
  if (!body.contains("query") || !body["query"].is_string()) {
    return invalid_argument("'query' is required and must be a string");
  }
  call.request.query = body["query"].get<std::string>();
  const Json* docs = body.contains("documents") ? &body["documents"] : nullptr;
  if (docs == nullptr || !docs->is_array() || docs->empty()) {
    return invalid_argument("'documents' is required and must be a non-empty array");
  }
  for (size_t i = 0; i < docs->size(); ++i) {
    const Json& d = (*docs)[i];
    if (d.is_string()) {
      call.request.documents.push_back(d.get<std::string>());
    } else if (d.is_object() && d.contains("text") && d["text"].is_string()) {
      call.request.documents.push_back(d["text"].get<std::string>());
    } else {
      return invalid_argument("'documents[" + std::to_string(i) +
                              "]' must be a string or an object with a \"text\" string");
    }
  }
  if (body.contains("top_n") && !body["top_n"].is_null()) {
    if (!body["top_n"].is_number_integer() || body["top_n"].get<int64_t>() < 1) {
      return invalid_argument("'top_n' must be a positive integer");
    }
    call.top_n = body["top_n"].get<int64_t>();
  }
  if (body.contains("return_documents") && !body["return_documents"].is_null()) {
    if (!body["return_documents"].is_boolean()) {
      return invalid_argument("'return_documents' must be a boolean");
    }
    call.return_documents = body["return_documents"].get<bool>();
  }
  return call;
}

}  // namespace

void Api::embeddings(Json body, const std::shared_ptr<ResponseWriter>& writer,
                     const std::shared_ptr<Server>& server) {
  Result<EmbeddingsCall> call = parse_embeddings(body);
  if (!call.ok()) return respond_error(*writer, api_error_from_status(call.status()));
  if (std::optional<ApiError> e = unknown_model(call->model)) return respond_error(*writer, *e);
  const bool b64 = call->base64;
  const std::string model_id = options_.model_id;
  auto done = [this, writer, b64, model_id](Result<EmbedResult> r) {
    // Scheduler thread: build nothing here, hand the result to the connection.
    writer->post([this, writer, b64, model_id, r = std::move(r)]() mutable {
      if (!r.ok()) return respond_error(*writer, api_error_from_status(r.status()));
      Json data = Json::array();
      for (size_t i = 0; i < r->data.size(); ++i) {
        const Embedding& e = r->data[i];
        if (static_cast<int32_t>(e.values.size()) != e.dim) {
          return respond_error(
              *writer, ApiError::invalid_request("the model's pooling is 'none' (one vector per "
                                                 "token), which /v1/embeddings cannot return"));
        }
        Json v =
            b64 ? Json(base64(e.values.data(), e.values.size() * sizeof(float))) : Json(e.values);
        data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(v)}});
      }
      writer->set_log_tokens(r->total_tokens, 0);
      respond_json(
          *writer, 200,
          {{"object", "list"},
           {"data", std::move(data)},
           {"model", model_id},
           {"usage", {{"prompt_tokens", r->total_tokens}, {"total_tokens", r->total_tokens}}}});
    });
  };
  Status st = server->embed_async(std::move(call->request), std::move(done));
  if (!st.ok()) respond_error(*writer, api_error_from_status(st));
}

void Api::rerank(Json body, const std::shared_ptr<ResponseWriter>& writer,
                 const std::shared_ptr<Server>& server) {
  Result<RerankCall> call = parse_rerank(body);
  if (!call.ok()) return respond_error(*writer, api_error_from_status(call.status()));
  if (std::optional<ApiError> e = unknown_model(call->model)) return respond_error(*writer, *e);
  auto docs = std::make_shared<std::vector<std::string>>(call->request.documents);
  const int64_t top_n = call->top_n;
  const bool return_documents = call->return_documents;
  const std::string model_id = options_.model_id;
  auto done = [this, writer, docs, top_n, return_documents, model_id](Result<RerankResult> r) {
    writer->post([this, writer, docs, top_n, return_documents, model_id, r = std::move(r)]() {
      if (!r.ok()) return respond_error(*writer, api_error_from_status(r.status()));
      std::vector<size_t> order(r->scores.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return r->scores[a] > r->scores[b]; });
      if (top_n > 0 && static_cast<size_t>(top_n) < order.size())
        order.resize(static_cast<size_t>(top_n));
      Json results = Json::array();
      for (size_t i : order) {
        Json item = {{"index", i}, {"relevance_score", r->scores[i]}};
        if (return_documents) item["document"] = {{"text", (*docs)[i]}};
        results.push_back(std::move(item));
      }
      writer->set_log_tokens(r->total_tokens, 0);
      respond_json(
          *writer, 200,
          {{"object", "list"},
           {"model", model_id},
           {"results", std::move(results)},
           {"usage", {{"prompt_tokens", r->total_tokens}, {"total_tokens", r->total_tokens}}}});
    });
  };
  Status st = server->rerank_async(std::move(call->request), std::move(done));
  if (!st.ok()) respond_error(*writer, api_error_from_status(st));
}

}  // namespace ember::http
