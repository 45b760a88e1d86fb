// /v1/embeddings and /v1/rerank through the real server (`ember serve` on the testdata embedding
// models), against llama.cpp's reference outputs; malformed requests get 400s; an embedding
// model asked for chat and a chat model asked for embeddings get 400s; concurrent requests share
// forward passes without changing a bit of their vectors, and a long request does not hold back
// short ones.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "server_harness.h"
#include "testdata.h"

namespace ember::testing {
namespace {

using Json = nlohmann::json;

Json expected(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream f(dir / "embed" / "expected" / (name + ".json"));
  std::stringstream ss;
  ss << f.rdbuf();
  return Json::parse(ss.str());
}

struct Reply {
  int status = 0;
  Json body;
};

Reply post(int port, const std::string& path, const std::string& body) {
  HttpResponse r = http_request(port, "POST", path, body);
  return {r.status, Json::parse(r.body, nullptr, false)};
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

std::vector<double> from_base64(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string bytes;
  for (size_t i = 0; i + 3 < s.size(); i += 4) {
    const int a = val(s[i]), b = val(s[i + 1]), c = val(s[i + 2]), d = val(s[i + 3]);
    bytes += static_cast<char>((a << 2) | (b >> 4));
    if (c >= 0) bytes += static_cast<char>(((b & 15) << 4) | (c >> 2));
    if (d >= 0) bytes += static_cast<char>(((c & 3) << 6) | d);
  }
  std::vector<double> out(bytes.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    float f;
    std::memcpy(&f, bytes.data() + 4 * i, 4);
    out[i] = f;
  }
  return out;
}

TEST(ServerEmbed, EmbeddingsMatchTheReferenceInEveryInputShape) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "embed" / "models" / "bert-mean-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  const Json ref = expected(dir, "bert-mean-f32");
  auto srv = ServerProcess::start(std::vector<std::string>{"-m", model.string(), "-t", "2"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  const int port = srv->port();
  const std::string t0 = ref["inputs"][0]["text"], t1 = ref["inputs"][1]["text"];
  const auto ids0 = ref["inputs"][0]["tokens"].get<std::vector<int32_t>>();
  const auto ids1 = ref["inputs"][1]["tokens"].get<std::vector<int32_t>>();
  const auto l2_0 = ref["inputs"][0]["embedding_l2"].get<std::vector<double>>();
  const auto l2_1 = ref["inputs"][1]["embedding_l2"].get<std::vector<double>>();

  // A string.
  Reply one = post(port, "/v1/embeddings", Json({{"input", t0}}).dump());
  ASSERT_EQ(one.status, 200) << one.body.dump();
  EXPECT_EQ(one.body["object"], "list");
  ASSERT_EQ(one.body["data"].size(), 1u);
  EXPECT_EQ(one.body["data"][0]["object"], "embedding");
  EXPECT_GE(cosine(one.body["data"][0]["embedding"].get<std::vector<double>>(), l2_0), 0.9999);
  EXPECT_EQ(one.body["usage"]["prompt_tokens"], ids0.size());
  // An array of strings, base64.
  Reply two =
      post(port, "/embeddings", Json({{"input", {t0, t1}}, {"encoding_format", "base64"}}).dump());
  ASSERT_EQ(two.status, 200) << two.body.dump();
  ASSERT_EQ(two.body["data"].size(), 2u);
  EXPECT_EQ(two.body["data"][1]["index"], 1);
  EXPECT_GE(cosine(from_base64(two.body["data"][0]["embedding"]), l2_0), 0.9999);
  EXPECT_GE(cosine(from_base64(two.body["data"][1]["embedding"]), l2_1), 0.9999);
  EXPECT_EQ(two.body["usage"]["total_tokens"], ids0.size() + ids1.size());
  // Token ids, and arrays of them.
  Reply tok = post(port, "/v1/embeddings", Json({{"input", ids1}}).dump());
  ASSERT_EQ(tok.status, 200) << tok.body.dump();
  EXPECT_GE(cosine(tok.body["data"][0]["embedding"].get<std::vector<double>>(), l2_1), 0.9999);
  Reply toks = post(port, "/v1/embeddings", Json({{"input", {ids0, ids1}}}).dump());
  ASSERT_EQ(toks.status, 200) << toks.body.dump();
  EXPECT_GE(cosine(toks.body["data"][1]["embedding"].get<std::vector<double>>(), l2_1), 0.9999);
  // dimensions: the first 16 values, renormalized.
  Reply dims = post(port, "/v1/embeddings", Json({{"input", t0}, {"dimensions", 16}}).dump());
  ASSERT_EQ(dims.status, 200) << dims.body.dump();
  const auto cut = dims.body["data"][0]["embedding"].get<std::vector<double>>();
  ASSERT_EQ(cut.size(), 16u);
  EXPECT_GE(cosine(cut, std::vector<double>(l2_0.begin(), l2_0.begin() + 16)), 0.9999);

  // Malformed requests: 400 with an error object.
  for (const std::string& bad :
       {std::string(R"({})"), std::string(R"({"input": []})"), std::string(R"({"input": 5})"),
        std::string(R"({"input": [1, "a"]})"), std::string(R"({"input": [[1, 2], []]})"),
        std::string(R"({"input": [99999999]})"), std::string(R"({"input": "x", "dimensions": 0})"),
        std::string(R"({"input": "x", "dimensions": 100000})"),
        std::string(R"({"input": "x", "encoding_format": "int8"})"),
        std::string(R"({"input": [-1]})")}) {
    Reply r = post(port, "/v1/embeddings", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body.dump();
    EXPECT_TRUE(r.body.contains("error")) << bad;
  }
  // Too long: 400 naming the context.
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "the fox ";
  Reply too_long = post(port, "/v1/embeddings", Json({{"input", long_text}}).dump());
  EXPECT_EQ(too_long.status, 400) << too_long.body.dump();
  // An embedding model asked for chat / completions / rerank.
  Reply chat = post(port, "/v1/chat/completions",
                    Json({{"messages", {{{"role", "user"}, {"content", "hi"}}}}}).dump());
  EXPECT_EQ(chat.status, 400) << chat.body.dump();
  Reply comp = post(port, "/v1/completions", Json({{"prompt", "hi"}}).dump());
  EXPECT_EQ(comp.status, 400) << comp.body.dump();
  Reply rr = post(port, "/v1/rerank", Json({{"query", "q"}, {"documents", {"d"}}}).dump());
  EXPECT_EQ(rr.status, 400) << rr.body.dump();
}

TEST(ServerEmbed, RerankSortsTopNAndReturnsDocuments) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "embed" / "models" / "qwen3-rerank-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  const Json ref = expected(dir, "qwen3-rerank-f32");
  auto srv = ServerProcess::start(std::vector<std::string>{"-m", model.string(), "-t", "2"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  const int port = srv->port();
  const std::string q = ref["inputs"][4]["query"];
  std::vector<std::string> docs;
  std::vector<double> scores;
  for (const Json& in : ref["inputs"]) {
    if (in["query"] != q) continue;
    docs.push_back(in["document"]);
    scores.push_back(in["score"]);
  }
  ASSERT_GE(docs.size(), 2u);
  for (const std::string path : {"/v1/rerank", "/rerank"}) {
    Reply r = post(port, path,
                   Json({{"query", q}, {"documents", docs}, {"return_documents", true}}).dump());
    ASSERT_EQ(r.status, 200) << r.body.dump();
    ASSERT_EQ(r.body["results"].size(), docs.size());
    double prev = 1e9;
    for (const Json& item : r.body["results"]) {
      const size_t i = item["index"];
      const double s = item["relevance_score"];
      EXPECT_LE(s, prev);  // most relevant first
      prev = s;
      EXPECT_NEAR(s, scores[i], 0.02 * std::max(1.0, std::abs(scores[i])));
      EXPECT_EQ(item["document"]["text"], docs[i]);
    }
  }
  Reply top =
      post(port, "/v1/rerank", Json({{"query", q}, {"documents", docs}, {"top_n", 1}}).dump());
  ASSERT_EQ(top.status, 200) << top.body.dump();
  ASSERT_EQ(top.body["results"].size(), 1u);
  EXPECT_EQ(top.body["results"][0]["index"],
            std::max_element(scores.begin(), scores.end()) - scores.begin());
  EXPECT_FALSE(top.body["results"][0].contains("document"));
  for (const std::string& bad :
       {std::string(R"({"documents": ["a"]})"), std::string(R"({"query": "q"})"),
        std::string(R"({"query": "q", "documents": []})"),
        std::string(R"({"query": 1, "documents": ["a"]})"),
        std::string(R"({"query": "q", "documents": [1]})"),
        std::string(R"({"query": "q", "documents": ["a"], "top_n": 0})"),
        std::string(R"({"query": "q", "documents": ["a"], "return_documents": "yes"})")}) {
    Reply r = post(port, "/v1/rerank", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body.dump();
  }
}

TEST(ServerEmbed, OllamaEmbedMatchesV1AndTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "embed" / "models" / "bert-mean-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  const Json ref = expected(dir, "bert-mean-f32");
  auto srv = ServerProcess::start(std::vector<std::string>{"-m", model.string(), "-t", "2"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  const int port = srv->port();
  HttpResponse tags = http_request(port, "GET", "/api/tags", "");
  ASSERT_EQ(tags.status, 200) << tags.body;
  const std::string name = Json::parse(tags.body)["models"][0]["name"];
  Reply show = post(port, "/api/show", Json({{"model", name}}).dump());
  ASSERT_EQ(show.status, 200) << show.body.dump();
  EXPECT_EQ(show.body["capabilities"], Json::array({"embedding"}));
  const std::string t0 = ref["inputs"][0]["text"], t1 = ref["inputs"][1]["text"];
  const size_t n0 = ref["inputs"][0]["tokens"].size(), n1 = ref["inputs"][1]["tokens"].size();
  const auto l2_0 = ref["inputs"][0]["embedding_l2"].get<std::vector<double>>();
  const auto l2_1 = ref["inputs"][1]["embedding_l2"].get<std::vector<double>>();
  const auto raw_0 = ref["inputs"][0]["embedding"].get<std::vector<double>>();

  Reply v1 = post(port, "/v1/embeddings", Json({{"input", {t0, t1}}}).dump());
  ASSERT_EQ(v1.status, 200) << v1.body.dump();
  // /api/embed with an array: one normalized vector per input, the same as /v1/embeddings.
  Reply both = post(port, "/api/embed", Json({{"model", name}, {"input", {t0, t1}}}).dump());
  ASSERT_EQ(both.status, 200) << both.body.dump();
  EXPECT_EQ(both.body["model"], name);
  ASSERT_EQ(both.body["embeddings"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto a = both.body["embeddings"][i].get<std::vector<double>>();
    const auto b = v1.body["data"][i]["embedding"].get<std::vector<double>>();
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-6) << i << " " << k;
  }
  EXPECT_GE(cosine(both.body["embeddings"][0].get<std::vector<double>>(), l2_0), 0.9999);
  EXPECT_GE(cosine(both.body["embeddings"][1].get<std::vector<double>>(), l2_1), 0.9999);
  EXPECT_EQ(both.body["prompt_eval_count"], n0 + n1);
  EXPECT_GT(both.body["total_duration"].get<int64_t>(), 0);
  EXPECT_EQ(both.body["load_duration"], 0);
  // A string, ":latest" accepted, dimensions, options.
  Reply one = post(port, "/api/embed",
                   Json({{"model", name},
                         {"input", t0},
                         {"dimensions", 16},
                         {"options", {{"temperature", 0.5}}},
                         {"keep_alive", "5m"}})
                       .dump());
  ASSERT_EQ(one.status, 200) << one.body.dump();
  ASSERT_EQ(one.body["embeddings"].size(), 1u);
  const auto cut = one.body["embeddings"][0].get<std::vector<double>>();
  ASSERT_EQ(cut.size(), 16u);
  EXPECT_GE(cosine(cut, std::vector<double>(l2_0.begin(), l2_0.begin() + 16)), 0.9999);
  // The older /api/embeddings: one vector, not normalized (as Ollama's).
  Reply old = post(port, "/api/embeddings", Json({{"model", name}, {"prompt", t0}}).dump());
  ASSERT_EQ(old.status, 200) << old.body.dump();
  const auto raw = old.body["embedding"].get<std::vector<double>>();
  EXPECT_GE(cosine(raw, raw_0), 0.9999);
  double norm = 0;
  for (double x : raw) norm += x * x;
  const double ref_norm = ref["inputs"][0]["l2_norm"];
  EXPECT_NEAR(std::sqrt(norm), ref_norm, 1e-3 * ref_norm);
  // Too long: cut by default (Ollama's truncate: true), a 400 with truncate: false.
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "the fox ";
  Reply cut_long = post(port, "/api/embed", Json({{"model", name}, {"input", long_text}}).dump());
  EXPECT_EQ(cut_long.status, 200) << cut_long.body.dump();
  Reply too_long = post(port, "/api/embed",
                        Json({{"model", name}, {"input", long_text}, {"truncate", false}}).dump());
  EXPECT_EQ(too_long.status, 400) << too_long.body.dump();
  EXPECT_TRUE(too_long.body["error"].is_string());
  // Malformed: 400 with Ollama's {"error": "..."}; another model: 404.
  for (const Json& bad :
       {Json({{"input", "x"}}), Json({{"model", name}}), Json({{"model", name}, {"input", 5}}),
        Json({{"model", name}, {"input", Json::array()}}),
        Json({{"model", name}, {"input", Json::array({"a", 1})}}),
        Json({{"model", name}, {"input", "x"}, {"dimensions", 0}}),
        Json({{"model", name}, {"input", "x"}, {"truncate", "yes"}}),
        Json({{"model", name}, {"input", "x"}, {"options", "fast"}}),
        Json({{"model", name}, {"input", "x"}, {"options", {{"num_ctx", 1 << 24}}}})}) {
    Reply r = post(port, "/api/embed", bad.dump());
    EXPECT_EQ(r.status, 400) << bad.dump() << " -> " << r.body.dump();
    EXPECT_TRUE(r.body["error"].is_string()) << bad.dump();
  }
  Reply no_prompt = post(port, "/api/embeddings", Json({{"model", name}, {"input", t0}}).dump());
  EXPECT_EQ(no_prompt.status, 400) << no_prompt.body.dump();
  Reply other = post(port, "/api/embed", Json({{"model", "llama3"}, {"input", t0}}).dump());
  EXPECT_EQ(other.status, 404) << other.body.dump();
}

TEST(ServerEmbed, ChatModelAskedForEmbeddingsGets400) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "models" / "qwen2-q8_0.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  auto srv = ServerProcess::start(std::vector<std::string>{"-m", model.string(), "-t", "1"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  Reply r = post(srv->port(), "/v1/embeddings", Json({{"input", "hello"}}).dump());
  EXPECT_EQ(r.status, 400) << r.body.dump();
  Reply rr = post(srv->port(), "/v1/rerank", Json({{"query", "q"}, {"documents", {"d"}}}).dump());
  EXPECT_EQ(rr.status, 400) << rr.body.dump();
  // Ollama's routes: the same message, in Ollama's {"error": "..."} shape.
  HttpResponse tags = http_request(srv->port(), "GET", "/api/tags", "");
  const std::string name = Json::parse(tags.body)["models"][0]["name"];
  Reply o = post(srv->port(), "/api/embed", Json({{"model", name}, {"input", "hello"}}).dump());
  EXPECT_EQ(o.status, 400) << o.body.dump();
  ASSERT_TRUE(o.body["error"].is_string()) << o.body.dump();
  EXPECT_EQ(o.body["error"], r.body["error"]["message"]);
  Reply old =
      post(srv->port(), "/api/embeddings", Json({{"model", name}, {"prompt", "hi"}}).dump());
  EXPECT_EQ(old.status, 400) << old.body.dump();
}

// A counter of /metrics (-1 when absent).
double metric(int port, const std::string& name) {
  HttpResponse r = http_request(port, "GET", "/metrics", "");
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

// Concurrent requests are packed into shared forward passes: a long request (many inputs) runs
// while short requests arrive; each pass then holds sequences of several requests. Every vector
// must be bit-identical to the same input embedded alone (base64 carries the exact floats):
// attention never crosses sequences and the matrix kernels compute each token's row with the
// same operations whatever else is in the batch (kernels/matmul.h), so the packing cannot change
// a bit, for F32 and for Q8_0 weights (whose products switch to AMX tiles from 16 tokens where
// the CPU has them, bit-identical to the VNNI tiles). The short requests finish before the long
// one: each admitted request gets a sequence in every pass.
TEST(ServerEmbed, ConcurrentRequestsSharePassesBitIdenticallyAndFairly) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const std::string name : {"bert-mean-f32", "nomic-bert-q8_0"}) {
    SCOPED_TRACE(name);
    const auto model = dir / "embed" / "models" / (name + ".gguf");
    if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
    const Json ref = expected(dir, name);
    std::vector<std::string> texts;
    for (const Json& in : ref["inputs"]) texts.push_back(in["text"]);
    auto srv = ServerProcess::start(std::vector<std::string>{"-m", model.string(), "-t", "2"});
    ASSERT_TRUE(srv->ok()) << srv->error();
    const int port = srv->port();
    auto embed = [&](const std::vector<std::string>& inputs) {
      Reply r = post(port, "/v1/embeddings",
                     Json({{"input", inputs}, {"encoding_format", "base64"}}).dump());
      std::vector<std::vector<double>> out;
      if (r.status != 200) {
        ADD_FAILURE() << r.body.dump();
        return out;
      }
      for (const Json& d : r.body["data"]) out.push_back(from_base64(d["embedding"]));
      return out;
    };
    // Each input alone, one request at a time.
    std::vector<std::vector<double>> alone;
    for (const std::string& t : texts) {
      std::vector<std::vector<double>> v = embed({t});
      ASSERT_EQ(v.size(), 1u);
      alone.push_back(v[0]);
    }
    // The long request: every input many times over (many passes, so that the short requests
    // below arrive while it runs even on a loaded machine), first alone.
    std::vector<std::string> long_inputs;
    std::vector<size_t> long_index;
    for (int rep = 0; rep < 150; ++rep) {
      for (size_t i = 0; i < texts.size(); ++i) {
        long_inputs.push_back(texts[i]);
        long_index.push_back(i);
      }
    }
    const double passes0 = metric(port, "ember_embed_passes_total");
    ASSERT_GE(passes0, 0);
    ASSERT_EQ(embed(long_inputs).size(), long_inputs.size());
    const double passes_long = metric(port, "ember_embed_passes_total") - passes0;
    ASSERT_GT(passes_long, 1);
    std::atomic<int> long_done_order{-1};
    std::atomic<int> finished{0};
    std::vector<std::vector<double>> long_out;
    std::thread long_client([&] {
      long_out = embed(long_inputs);
      long_done_order = finished++;
    });
    // Short requests from 4 clients, each a different mix of the inputs, sent while it runs.
    constexpr int kShort = 4;
    std::vector<std::vector<size_t>> short_index(kShort);
    std::vector<std::vector<std::vector<double>>> short_out(kShort);
    std::vector<int> short_done_order(kShort, -1);
    // Send the short requests only once the long one is being evaluated (its first pass is
    // counted): on a loaded machine a fixed sleep let them arrive first, and then they ran in
    // passes of their own.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool long_started = false;
    for (;;) {
      long_started = metric(port, "ember_embed_passes_total") - passes0 - passes_long >= 1;
      if (long_started || long_done_order >= 0 || std::chrono::steady_clock::now() >= give_up) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!long_started) {
      long_client.join();
      FAIL() << "no pass of the long request was counted within 60 s";
    }
    std::vector<std::thread> clients;
    for (int k = 0; k < kShort; ++k) {
      for (size_t j = 0; j < 3; ++j) short_index[k].push_back((k + 3 * j) % texts.size());
      clients.emplace_back([&, k] {
        std::vector<std::string> in;
        for (size_t i : short_index[k]) in.push_back(texts[i]);
        short_out[k] = embed(in);
        short_done_order[k] = finished++;
      });
    }
    for (std::thread& t : clients) t.join();
    long_client.join();
    ASSERT_EQ(long_out.size(), long_inputs.size());
    for (size_t j = 0; j < long_out.size(); ++j) {
      ASSERT_EQ(long_out[j], alone[long_index[j]]) << "long request, input " << j;
    }
    for (int k = 0; k < kShort; ++k) {
      ASSERT_EQ(short_out[k].size(), short_index[k].size());
      for (size_t j = 0; j < short_out[k].size(); ++j) {
        EXPECT_EQ(short_out[k][j], alone[short_index[k][j]]) << "client " << k << " input " << j;
      }
      // Fairness: every short request was answered before the long one.
      EXPECT_LT(short_done_order[k], long_done_order.load()) << "client " << k;
    }
    // Packing across requests: without it, each short request would need passes of its own
    // beside the long request's; with it, they ride in the long request's passes (their few
    // tokens add at most a pass or two).
    const double passes = metric(port, "ember_embed_passes_total") - passes0 - passes_long;
    EXPECT_LT(passes, passes_long + kShort) << passes_long << " passes for the long request alone";
  }
}

}  // namespace
}  // namespace ember::testing
