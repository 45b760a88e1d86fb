// C API: embeddings and reranking (include/ember/ember.h).
#include <new>
#include <string>
#include <vector>

#include "api/c_api_internal.h"

struct ember_embeddings {
  ember::EmbedResult result;
};

using ember::c_api::fail;

extern "C" {

void ember_embed_params_init(ember_embed_params* params) {
  if (params == nullptr) return;
  params->pooling = -1;
  params->normalize = 1;
  params->dimensions = 0;
  params->truncate = 0;
}

ember_status ember_embed(ember_engine* engine, const char* const* inputs, size_t n_inputs,
                         const ember_embed_params* params, ember_embeddings** out) {
  if (engine == nullptr || out == nullptr || (inputs == nullptr && n_inputs > 0)) {
    return fail(EMBER_INVALID_ARGUMENT, "null engine, inputs or output pointer");
  }
  *out = nullptr;
  ember_embed_params p;
  ember_embed_params_init(&p);
  if (params != nullptr) p = *params;
  if (p.pooling < -1 || p.pooling > 4) {
    return fail(EMBER_INVALID_ARGUMENT, "pooling must be in [-1, 4]");
  }
  ember::EmbedParams ep;
  ep.pooling = static_cast<ember::Pooling>(p.pooling);
  ep.normalize = p.normalize != 0;
  ep.dimensions = p.dimensions;
  ep.truncate = p.truncate != 0;
  std::vector<std::string> texts;
  texts.reserve(n_inputs);
  for (size_t i = 0; i < n_inputs; ++i) {
    if (inputs[i] == nullptr) return fail(EMBER_INVALID_ARGUMENT, "null input string");
    texts.emplace_back(inputs[i]);
  }
  ember::Result<ember::EmbedResult> r = engine->engine->embed(texts, ep);
  if (!r.ok()) return fail(r.status());
  auto* e = new (std::nothrow) ember_embeddings{std::move(r).value()};
  if (e == nullptr) return fail(EMBER_RESOURCE_EXHAUSTED, "out of memory");
  *out = e;
  return EMBER_OK;
}

size_t ember_embeddings_count(const ember_embeddings* e) {
  return e == nullptr ? 0 : e->result.data.size();
}

const float* ember_embeddings_vector(const ember_embeddings* e, size_t i, size_t* out_len) {
  if (e == nullptr || i >= e->result.data.size()) {
    if (out_len != nullptr) *out_len = 0;
    return nullptr;
  }
  if (out_len != nullptr) *out_len = e->result.data[i].values.size();
  return e->result.data[i].values.data();
}

int32_t ember_embeddings_dim(const ember_embeddings* e) {
  return e == nullptr || e->result.data.empty() ? 0 : e->result.data[0].dim;
}

int32_t ember_embeddings_n_tokens(const ember_embeddings* e, size_t i) {
  return e == nullptr || i >= e->result.data.size() ? 0 : e->result.data[i].n_tokens;
}

int64_t ember_embeddings_total_tokens(const ember_embeddings* e) {
  return e == nullptr ? 0 : e->result.total_tokens;
}

void ember_embeddings_free(ember_embeddings* e) {
  delete e;
}

ember_status ember_rerank(ember_engine* engine, const char* query, const char* const* documents,
                          size_t n_documents, int truncate, float* out_scores,
                          int64_t* out_tokens) {
  if (engine == nullptr || query == nullptr || out_scores == nullptr ||
      (documents == nullptr && n_documents > 0)) {
    return fail(EMBER_INVALID_ARGUMENT, "null engine, query, documents or output pointer");
  }
  std::vector<std::string> docs;
  docs.reserve(n_documents);
  for (size_t i = 0; i < n_documents; ++i) {
    if (documents[i] == nullptr) return fail(EMBER_INVALID_ARGUMENT, "null document string");
    docs.emplace_back(documents[i]);
  }
  ember::RerankParams rp;
  rp.truncate = truncate != 0;
  ember::Result<ember::RerankResult> r = engine->engine->rerank(query, docs, rp);
  if (!r.ok()) return fail(r.status());
  for (size_t i = 0; i < r->scores.size(); ++i) out_scores[i] = r->scores[i];
  if (out_tokens != nullptr) *out_tokens = r->total_tokens;
  return EMBER_OK;
}

}  // extern "C"
