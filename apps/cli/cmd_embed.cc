// `ember embed -m FILE (--text T ... | --file F | --stdin) [--pooling P] [--no-normalize]
//              [--dimensions N] [--truncate] [--json] [-t N] [-c N]`
// `ember rerank -m FILE --query Q (--documents F | --document D ...) [--json] [--top-n N]
//               [--truncate] [-t N] [-c N]`
//
// --file / --stdin: one input per line (empty lines are inputs too, except a final newline).
// Plain output: one line per input (embed: the vector's values separated by spaces; rerank:
// "index<TAB>score<TAB>document"). --json: OpenAI's embeddings response / the /v1/rerank response.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "commands.h"
#include "ember/engine.h"

namespace ember::cli {
namespace {

struct EmbedArgs {
  std::string model;
  std::vector<std::string> texts;
  std::string file;
  bool stdin_input = false;
  std::string pooling = "model";
  bool no_normalize = false;
  int32_t dimensions = 0;
  bool truncate = false;
  bool json = false;
  int32_t threads = 0;
  int32_t ctx = 0;
};

struct RerankArgs {
  std::string model;
  std::string query;
  bool query_given = false;
  std::string documents_file;
  std::vector<std::string> documents;
  bool json = false;
  int32_t top_n = -1;
  bool truncate = false;
  int32_t threads = 0;
  int32_t ctx = 0;
};

// Lines of a stream; a final newline does not make an extra empty input.
Result<std::vector<std::string>> read_lines(std::istream& in, const std::string& what) {
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return io_error("cannot read " + what);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string::npos) nl = data.size();
    std::string line = data.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = nl + 1;
  }
  return lines;
}

Result<std::vector<std::string>> read_lines_from(const std::string& path, bool use_stdin) {
  if (use_stdin) return read_lines(std::cin, "standard input");
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error("cannot open '" + path + "'");
  return read_lines(f, "'" + path + "'");
}

Result<Pooling> parse_pooling(const std::string& s) {
  for (Pooling p : {Pooling::kModel, Pooling::kNone, Pooling::kMean, Pooling::kCls, Pooling::kLast,
                    Pooling::kRank}) {
    if (s == pooling_name(p)) return p;
  }
  return invalid_argument("unknown pooling '" + s + "' (model, none, mean, cls, last, rank)");
}

Result<std::unique_ptr<Engine>> load_engine(const std::string& path, int32_t threads, int32_t ctx) {
  EngineOptions o;
  o.n_threads = threads;
  o.n_ctx = ctx;  // 0: the model's own (capped)
  return Engine::load(path, o);
}

int run_embed(const EmbedArgs& a) {
  const int sources =
      (a.texts.empty() ? 0 : 1) + (a.file.empty() ? 0 : 1) + (a.stdin_input ? 1 : 0);
  if (sources != 1)
    return report_error("give the inputs with exactly one of --text, --file, --stdin");
  std::vector<std::string> inputs = a.texts;
  if (inputs.empty()) {
    Result<std::vector<std::string>> lines = read_lines_from(a.file, a.stdin_input);
    if (!lines.ok()) return report_error(lines.status());
    inputs = std::move(lines).value();
  }
  if (inputs.empty()) return report_error("no inputs (the file is empty)");
  Result<Pooling> pooling = parse_pooling(a.pooling);
  if (!pooling.ok()) return report_error(pooling.status());
  Result<std::unique_ptr<Engine>> engine = load_engine(a.model, a.threads, a.ctx);
  if (!engine.ok()) return report_error(engine.status());
  EmbedParams p;
  p.pooling = *pooling;
  p.normalize = !a.no_normalize;
  p.dimensions = a.dimensions;
  p.truncate = a.truncate;
  Result<EmbedResult> r = (*engine)->embed(inputs, p);
  if (!r.ok()) return report_error(r.status());
  if (a.json) {
    nlohmann::json data = nlohmann::json::array();
    for (size_t i = 0; i < r->data.size(); ++i) {
      const Embedding& e = r->data[i];
      nlohmann::json vec;
      if (static_cast<int64_t>(e.values.size()) == e.dim) {
        vec = e.values;
      } else {
        // Pooling none: one vector per token.
        vec = nlohmann::json::array();
        for (size_t row = 0; row * static_cast<size_t>(e.dim) < e.values.size(); ++row) {
          vec.push_back(std::vector<float>(
              e.values.begin() + static_cast<std::ptrdiff_t>(row * e.dim),
              e.values.begin() + static_cast<std::ptrdiff_t>((row + 1) * e.dim)));
        }
      }
      data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(vec)}});
    }
    nlohmann::json out = {
        {"object", "list"},
        {"data", std::move(data)},
        {"model", a.model},
        {"usage", {{"prompt_tokens", r->total_tokens}, {"total_tokens", r->total_tokens}}}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  for (const Embedding& e : r->data) {
    std::string line;
    for (size_t k = 0; k < e.values.size(); ++k) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%s%.9g", k == 0 ? "" : " ", static_cast<double>(e.values[k]));
      line += buf;
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

int run_rerank(const RerankArgs& a) {
  if (!a.query_given) return report_error("--query is required");
  if (a.documents_file.empty() == a.documents.empty()) {
    return report_error("give the documents with exactly one of --documents FILE, --document D");
  }
  std::vector<std::string> docs = a.documents;
  if (docs.empty()) {
    Result<std::vector<std::string>> lines =
        read_lines_from(a.documents_file, a.documents_file == "-");
    if (!lines.ok()) return report_error(lines.status());
    docs = std::move(lines).value();
  }
  if (docs.empty()) return report_error("no documents (the file is empty)");
  if (a.top_n == 0 || a.top_n < -1) return report_error("--top-n must be positive");
  Result<std::unique_ptr<Engine>> engine = load_engine(a.model, a.threads, a.ctx);
  if (!engine.ok()) return report_error(engine.status());
  RerankParams p;
  p.truncate = a.truncate;
  Result<RerankResult> r = (*engine)->rerank(a.query, docs, p);
  if (!r.ok()) return report_error(r.status());
  std::vector<size_t> order(docs.size());
  std::iota(order.begin(), order.end(), 0);
  if (a.top_n > 0) {
    // Most relevant first, the first n of them.
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return r->scores[x] > r->scores[y]; });
    order.resize(std::min(order.size(), static_cast<size_t>(a.top_n)));
  }
  if (a.json) {
    nlohmann::json results = nlohmann::json::array();
    for (size_t i : order) results.push_back({{"index", i}, {"relevance_score", r->scores[i]}});
    nlohmann::json out = {
        {"model", a.model},
        {"results", std::move(results)},
        {"usage", {{"prompt_tokens", r->total_tokens}, {"total_tokens", r->total_tokens}}}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  for (size_t i : order) {
    std::printf("%zu\t%.6g\t%s\n", i, static_cast<double>(r->scores[i]), docs[i].c_str());
  }
  return 0;
}

}  // namespace

void register_embed(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<EmbedArgs>();
  CLI::App* cmd =
      app.add_subcommand("embed", "Sentence embeddings of texts (one vector per input)");
  cmd->add_option("-m,--model", a->model, "GGUF embedding model")->required();
  cmd->add_option("--text", a->texts, "An input text (repeat for several)");
  cmd->add_option("--file", a->file, "Inputs, one per line");
  cmd->add_flag("--stdin", a->stdin_input, "Read inputs from standard input, one per line");
  cmd->add_option("--pooling", a->pooling, "model (default), none, mean, cls, last or rank");
  cmd->add_flag("--no-normalize", a->no_normalize, "Print raw vectors (default: L2-normalized)");
  cmd->add_option("--dimensions", a->dimensions, "Keep the first N values (Matryoshka), 0 = all");
  cmd->add_flag("--truncate", a->truncate, "Cut inputs longer than the context instead of failing");
  cmd->add_flag("--json", a->json, "Print OpenAI's embeddings response JSON");
  cmd->add_option("-t,--threads", a->threads, "Threads (0 = all cores)");
  cmd->add_option("-c,--ctx-size", a->ctx, "Longest input in tokens (0 = the model's, capped)");
  cmd->callback([a, &result] { result.exit_code = run_embed(*a); });
}

void register_rerank(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<RerankArgs>();
  CLI::App* cmd = app.add_subcommand("rerank", "Score documents against a query with a reranker");
  cmd->add_option("-m,--model", a->model, "GGUF reranker model")->required();
  cmd->add_option_function<std::string>(
      "--query",
      [a](const std::string& q) {
        a->query = q;
        a->query_given = true;
      },
      "The query");
  cmd->add_option("--documents", a->documents_file, "Documents, one per line ('-' = stdin)");
  cmd->add_option("--document", a->documents, "A document (repeat for several)");
  cmd->add_flag("--json", a->json, "Print the /v1/rerank response JSON");
  cmd->add_option("--top-n", a->top_n, "Only the N most relevant, most relevant first");
  cmd->add_flag("--truncate", a->truncate, "Cut pairs longer than the context instead of failing");
  cmd->add_option("-t,--threads", a->threads, "Threads (0 = all cores)");
  cmd->add_option("-c,--ctx-size", a->ctx, "Longest pair in tokens (0 = the model's, capped)");
  cmd->callback([a, &result] { result.exit_code = run_rerank(*a); });
}

}  // namespace ember::cli
