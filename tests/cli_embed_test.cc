// `ember embed` and `ember rerank` against llama.cpp's reference outputs (testdata/embed).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_runner.h"

namespace ember {
namespace {

using testing::run_cli;
using testing::shell_quote;

nlohmann::json expected(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream f(dir / "embed" / "expected" / (name + ".json"));
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str());
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

TEST(CliEmbed, JsonMatchesTheReferenceForTextStdinAndFileInputs) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "embed" / "models" / "bert-cls-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  const nlohmann::json ref = expected(dir, "bert-cls-f32");
  const std::string t0 = ref["inputs"][0]["text"], t1 = ref["inputs"][1]["text"];
  const std::string m = "-t 2 -m " + shell_quote(model.string());
  for (const auto& r :
       {run_cli("embed " + m + " --json --text " + shell_quote(t0) + " --text " + shell_quote(t1)),
        run_cli("embed " + m + " --json --stdin", t0 + "\n" + t1 + "\n")}) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["data"].size(), 2u);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(j["data"][i]["index"], i);
      const auto got = j["data"][i]["embedding"].get<std::vector<double>>();
      EXPECT_GE(cosine(got, ref["inputs"][i]["embedding_l2"].get<std::vector<double>>()), 0.9999);
    }
    const size_t tokens = ref["inputs"][0]["tokens"].size() + ref["inputs"][1]["tokens"].size();
    EXPECT_EQ(j["usage"]["prompt_tokens"], tokens);
  }
  // Plain output: one line of values per input; --dimensions cuts.
  const auto plain = run_cli("embed " + m + " --dimensions 8 --text " + shell_quote(t0));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  std::istringstream in(plain.out);
  std::vector<double> values;
  for (double v; in >> v;) values.push_back(v);
  EXPECT_EQ(values.size(), 8u);
}

TEST(CliEmbed, RerankJsonAndTopN) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "embed" / "models" / "bert-rerank-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  const nlohmann::json ref = expected(dir, "bert-rerank-f32");
  const std::string q = ref["inputs"][0]["query"];
  std::vector<std::string> docs;
  std::vector<double> scores;
  for (const auto& in : ref["inputs"]) {
    if (in["query"] != q) continue;
    docs.push_back(in["document"]);
    scores.push_back(in["score"]);
  }
  ASSERT_GE(docs.size(), 1u);
  std::string args =
      "rerank -t 2 -m " + shell_quote(model.string()) + " --json --query " + shell_quote(q);
  for (const auto& d : docs) args += " --document " + shell_quote(d);
  const auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(j["results"][i]["index"], i);  // input order without --top-n
    EXPECT_NEAR(j["results"][i]["relevance_score"].get<double>(), scores[i],
                0.02 * std::max(1.0, std::abs(scores[i])));
  }
  const auto top = run_cli(args + " --top-n 1");
  ASSERT_EQ(top.exit_code, 0) << top.err;
  const auto jt = nlohmann::json::parse(top.out);
  ASSERT_EQ(jt["results"].size(), 1u);
  const size_t best = std::max_element(scores.begin(), scores.end()) - scores.begin();
  EXPECT_EQ(jt["results"][0]["index"], best);
}

TEST(CliEmbed, BadInvocationsFailWithAMessage) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "embed" / "models" / "bert-cls-f32.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  const std::string m = "-m " + shell_quote(model.string());
  for (const std::string& args : std::vector<std::string>{
           "embed " + m, "embed " + m + " --text a --stdin",
           "embed " + m + " --pooling bogus --text a", "embed " + m + " --dimensions 9999 --text a",
           "rerank " + m + " --query q --document d", "rerank " + m + " --document d",
           "embed -m /nonexistent.gguf --text a"}) {
    const auto r = run_cli(args, std::string());
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.err.find("ember:"), std::string::npos) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace ember
