// Cost of grammar-constrained sampling on a 128k vocabulary (Llama 3's, from the shared test
// data: set EMBER_TESTDATA or run from the repository root so ../shared/testdata is found).
//
//   BM_JsonMaskCold      mask for one state with a fresh filter (automaton built from scratch)
//   BM_JsonMaskWalk      mask walk with cached transitions but no mask cache
//   BM_JsonMaskCached    mask for a state seen before (cache hit)
//   BM_JsonGeneration    a whole JSON document token by token, from a fresh filter: fill_mask +
//                        accept_token per token (per_token = average cost per token)
//   BM_SchemaBoundedString  the same for a schema string with maxLength (no reusable states)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "../tests/grammar_vocab.h"
#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"
#include "grammar/json_schema.h"
#include "grammar/token_filter.h"

namespace ember::grammar {
namespace {

std::string testdata() {
  const char* env = std::getenv("EMBER_TESTDATA");
  return env != nullptr && *env != '\0' ? env : "../shared/testdata";
}

struct Fixture {
  std::shared_ptr<const Grammar> grammar;
  std::shared_ptr<const TokenTrie> trie;
  std::string error;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    std::ifstream in(testdata() + "/grammars/json.gbnf");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto g = parse_gbnf(text);
    if (!g.ok()) {
      x.error = "json.gbnf: " + g.status().to_string();
      return x;
    }
    x.grammar = *g;
    auto vocab = testing::grammar_vocab_bytes(testdata() + "/vocab/ggml-vocab-llama-bpe.gguf");
    if (!vocab.ok()) {
      x.error = vocab.status().to_string();
      return x;
    }
    x.trie = std::make_shared<const TokenTrie>(*vocab);
    return x;
  }();
  return f;
}

// A matcher positioned inside a string value (the state where most tokens are allowed).
GrammarMatcher in_string_matcher(const Fixture& f) {
  auto m = GrammarMatcher::create(f.grammar);
  (void)m->accept_bytes("{\"key\": [1, {\"name\": \"some te");
  return *m;
}

void BM_JsonMaskCold(benchmark::State& state) {
  const Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  const GrammarMatcher m = in_string_matcher(f);
  TokenMask mask;
  size_t allowed = 0;
  for (auto _ : state) {
    TokenFilter filter(f.grammar, f.trie);
    if (!filter.fill_mask(m, &mask).ok()) return state.SkipWithError("fill_mask failed");
    allowed = mask.count();
  }
  state.counters["allowed"] = static_cast<double>(allowed);
  state.counters["vocab"] = static_cast<double>(f.trie->vocab_size());
}
BENCHMARK(BM_JsonMaskCold)->Unit(benchmark::kMillisecond);

void BM_JsonMaskWalk(benchmark::State& state) {
  const Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  const GrammarMatcher m = in_string_matcher(f);
  TokenFilterOptions opts;
  opts.max_cached_masks = 0;
  TokenFilter filter(f.grammar, f.trie, {}, opts);
  TokenMask mask;
  (void)filter.fill_mask(m, &mask);  // warm the transitions
  for (auto _ : state) {
    if (!filter.fill_mask(m, &mask).ok()) return state.SkipWithError("fill_mask failed");
  }
  state.counters["nodes"] = static_cast<double>(f.trie->node_count());
}
BENCHMARK(BM_JsonMaskWalk)->Unit(benchmark::kMillisecond);

void BM_JsonMaskCached(benchmark::State& state) {
  const Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  const GrammarMatcher m = in_string_matcher(f);
  TokenFilter filter(f.grammar, f.trie);
  TokenMask mask;
  (void)filter.fill_mask(m, &mask);
  for (auto _ : state) {
    if (!filter.fill_mask(m, &mask).ok()) return state.SkipWithError("fill_mask failed");
  }
}
BENCHMARK(BM_JsonMaskCached)->Unit(benchmark::kMicrosecond);

const char* kDocument =
    R"({"id": 12345, "name": "Widget \"Pro\" 2000", "tags": ["alpha", "beta", "gamma"],
  "price": 19.99, "in_stock": true, "dimensions": {"w": 10.5, "h": 3, "d": 0.25},
  "notes": null, "history": [{"date": "2024-01-02", "event": "created"},
  {"date": "2024-03-04", "event": "updated: price changed from 24.99 to 19.99"}],
  "description": "A compact widget for everyday use, with Unicode: caf\u00e9 – 日本語 ✓"})";

// The document as tokens: at each step the longest vocabulary entry that continues the text
// and that the grammar accepts (a stand-in for what a model would emit).
std::vector<int32_t> document_tokens(const Fixture& f, const std::string& doc) {
  std::unordered_map<std::string_view, int32_t> by_bytes;
  for (int32_t id = 0; id < static_cast<int32_t>(f.trie->vocab_size()); ++id) {
    const std::string_view b = f.trie->token_bytes(id);
    if (!b.empty()) by_bytes.emplace(b, id);
  }
  auto m = GrammarMatcher::create(f.grammar);
  std::vector<int32_t> out;
  size_t pos = 0;
  while (pos < doc.size()) {
    int32_t chosen = -1;
    size_t len = std::min<size_t>(32, doc.size() - pos);
    for (; len > 0; --len) {
      auto it = by_bytes.find(std::string_view(doc).substr(pos, len));
      if (it != by_bytes.end() && m->accept_bytes(it->first)) {
        chosen = it->second;
        break;
      }
    }
    if (chosen < 0) return {};
    out.push_back(chosen);
    pos += len;
  }
  return out;
}

void BM_JsonGeneration(benchmark::State& state) {
  const Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  const std::vector<int32_t> tokens = document_tokens(f, kDocument);
  if (tokens.empty()) return state.SkipWithError("document cannot be tokenized under the grammar");
  TokenFilter::Stats stats;
  for (auto _ : state) {
    auto m = GrammarMatcher::create(f.grammar);
    TokenFilter filter(f.grammar, f.trie);
    TokenMask mask;
    for (int32_t id : tokens) {
      if (!filter.fill_mask(*m, &mask).ok() || !mask.test(id)) {
        return state.SkipWithError("token not allowed");
      }
      auto ok = filter.accept_token(*m, id);
      if (!ok.ok() || !*ok) return state.SkipWithError("accept_token failed");
    }
    benchmark::DoNotOptimize(mask);
    stats = filter.stats();
  }
  state.counters["walks"] = static_cast<double>(stats.mask_walks);
  state.counters["hits"] = static_cast<double>(stats.mask_hits);
  state.counters["states"] = static_cast<double>(stats.states);
  state.counters["nodes_per_walk"] = static_cast<double>(stats.nodes_visited) /
                                     static_cast<double>(std::max<size_t>(1, stats.mask_walks));
  state.counters["tokens"] = static_cast<double>(tokens.size());
  state.counters["per_token"] = benchmark::Counter(
      static_cast<double>(tokens.size()),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_JsonGeneration)->Unit(benchmark::kMillisecond);

// A bounded string (maxLength): every character moves to a new grammar state, so masks cannot be
// reused and nothing loops; the worst common case for the filter.
void BM_SchemaBoundedString(benchmark::State& state) {
  const Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  auto gbnf = json_schema_text_to_gbnf(
      R"({"type":"object","properties":{"text":{"type":"string","maxLength":600}},"required":["text"]})");
  if (!gbnf.ok()) return state.SkipWithError(gbnf.status().to_string().c_str());
  auto g = parse_gbnf(*gbnf);
  if (!g.ok()) return state.SkipWithError(g.status().to_string().c_str());
  Fixture schema_fixture{*g, f.trie, ""};
  const std::string doc =
      "{\"text\": \"The quick brown fox jumps over the lazy dog. Grammar-constrained sampling "
      "keeps "
      "every token inside the language of the grammar, even when the string has a maximum length "
      "and each character advances the parser to a new state.\"}";
  const std::vector<int32_t> tokens = document_tokens(schema_fixture, doc);
  if (tokens.empty()) return state.SkipWithError("document cannot be tokenized under the grammar");
  TokenFilter::Stats stats;
  for (auto _ : state) {
    auto m = GrammarMatcher::create(*g);
    TokenFilter filter(*g, f.trie);
    TokenMask mask;
    for (int32_t id : tokens) {
      if (!filter.fill_mask(*m, &mask).ok() || !mask.test(id)) {
        return state.SkipWithError("token not allowed");
      }
      auto ok = filter.accept_token(*m, id);
      if (!ok.ok() || !*ok) return state.SkipWithError("accept_token failed");
    }
    stats = filter.stats();
  }
  state.counters["tokens"] = static_cast<double>(tokens.size());
  state.counters["hits"] = static_cast<double>(stats.mask_hits);
  state.counters["nodes_per_walk"] = static_cast<double>(stats.nodes_visited) /
                                     static_cast<double>(std::max<size_t>(1, stats.mask_walks));
  state.counters["walks"] = static_cast<double>(stats.mask_walks);
  state.counters["states"] = static_cast<double>(stats.states);
  state.counters["per_token"] = benchmark::Counter(
      static_cast<double>(tokens.size()),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SchemaBoundedString)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ember::grammar
