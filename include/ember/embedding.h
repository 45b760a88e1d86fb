// ember — sentence embeddings and reranking (Engine::embed, Engine::rerank; ember/engine.h).
//
//   auto engine = ember::Engine::load("bge-small-en-v1.5-f16.gguf");
//   auto r = (*engine)->embed({"first document", "second document"});
//   // r->data[i].values: the L2-normalized embedding of input i (n_embd floats).
//
//   auto ranked = (*engine)->rerank("what is a panda?", {"The giant panda is a bear.", "Paris"});
//   // ranked->scores[i]: relevance of document i (higher is more relevant).
//
// Models. Encoders (`bert`: BGE, MiniLM, E5, GTE, Arctic-embed, bge-reranker; `nomic-bert`:
// nomic-embed-text) and decoders with a pooling type in their metadata (Qwen3-Embedding with
// pooling LAST, Qwen3-Reranker with pooling RANK). Each input is tokenized as llama-server's
// /embeddings does (the model's BOS/EOS/SEP added, special-token text parsed), evaluated as its own
// sequence (inputs of one call are packed into shared forward passes but never attend to each
// other), and pooled. Results match llama.cpp (see docs/embeddings.md for the tolerances) and do
// not depend on the thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember {

// How the per-token hidden states of an input become its embedding.
enum class Pooling : int8_t {
  kModel = -1,  // the model's `<arch>.pooling_type` (kNone when the file has none)
  kNone = 0,    // no pooling: one vector per token
  kMean = 1,    // average of every token's vector (special tokens included)
  kCls = 2,     // the first token's vector
  kLast = 3,    // the last token's vector
  kRank = 4,    // the classification head's outputs (rerankers); never normalized
};

// "none", "mean", "cls", "last", "rank", "model".
const char* pooling_name(Pooling p);

struct EmbedParams {
  Pooling pooling = Pooling::kModel;
  // Divide each vector by its L2 norm (what OpenAI's API and llama-server return). Per-token
  // vectors (kNone) are normalized one by one. Not applied to kRank outputs.
  bool normalize = true;
  // Matryoshka truncation: keep the first `dimensions` values (then normalize, when asked). 0 =
  // all. Errors when larger than the model's width.
  int32_t dimensions = 0;
  // Inputs longer than the context (Engine::n_ctx) are an error naming both lengths; with
  // truncate they are cut to the context (their last tokens dropped) instead.
  bool truncate = false;
  // Tokenization of text inputs: add the model's special tokens, parse special-token text.
  bool add_special = true;
  bool parse_special = true;
};

struct Embedding {
  // Pooled: `dim` values. kNone: n_tokens rows of `dim` values, row-major.
  std::vector<float> values;
  int32_t dim = 0;
  int32_t n_tokens = 0;    // tokens evaluated for this input (after truncation)
  bool truncated = false;  // the input was cut (EmbedParams::truncate)
};

struct EmbedResult {
  std::vector<Embedding> data;  // one per input, in input order
  int64_t total_tokens = 0;
};

struct RerankParams {
  // Pairs longer than the context are an error, or cut with truncate (as EmbedParams::truncate).
  bool truncate = false;
};

struct RerankResult {
  // One score per document, in input order: the raw classifier logit for encoder rerankers
  // (bge-reranker), p("yes") for decoder rerankers with a rerank template (Qwen3-Reranker).
  std::vector<float> scores;
  std::vector<int32_t> n_tokens;  // tokens of each (query, document) pair
  int64_t total_tokens = 0;
};

}  // namespace ember
