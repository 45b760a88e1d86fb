// `ember run`, `ember logits` and `ember bench` end to end on the shared test models.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "testdata.h"

namespace ember {
namespace {

using testing::CommandOutput;
using testing::run_cli;
using testing::shell_quote;

nlohmann::json golden(const std::filesystem::path& dir, const std::string& name) {
  std::ifstream in(dir / "golden" / (name + ".json"));
  return nlohmann::json::parse(in);
}

std::vector<float> read_floats(const std::filesystem::path& p) {
  auto bytes = testing::read_file_bytes(p);
  std::vector<float> f(bytes.size() / 4);
  std::memcpy(f.data(), bytes.data(), f.size() * 4);
  return f;
}

double nrmse(const float* ours, const float* ref, size_t n) {
  double mean = 0, var = 0, err = 0;
  for (size_t i = 0; i < n; ++i) mean += ref[i];
  mean /= static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) {
    var += (ref[i] - mean) * (ref[i] - mean);
    err += (ours[i] - ref[i]) * (ours[i] - ref[i]);
  }
  return std::sqrt(err / var);
}

TEST(CliLogits, TokensFileMatchesTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto g = golden(dir, "llama-spm-f32.p1");
  const auto out = testing::temp_dir() / "logits-f32.bin";
  const auto r = run_cli("logits -m " + shell_quote(dir / "models" / "llama-spm-f32.gguf") +
                         " --tokens-file " + shell_quote(dir / "golden" / "llama-spm-f32.p1.json") +
                         " -o " + shell_quote(out) + " -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["prompt_tokens"], g["prompt_tokens"]);
  const auto ours = read_floats(out);
  const auto ref = read_floats(dir / "golden" / "llama-spm-f32.p1.logits");
  const size_t nv = g["n_vocab"].get<size_t>();
  ASSERT_EQ(ours.size(), g["prompt_tokens"].size() * nv);
  ASSERT_EQ(ref.size(), ours.size());  // p1 holds every position
  for (size_t p = 0; p * nv < ours.size(); ++p) {
    EXPECT_LE(nrmse(ours.data() + p * nv, ref.data() + p * nv, nv), 0.01) << "position " << p;
  }
}

// `--numerics reference`: gemma4-q8_0's products in the reference's summation order give the
// reference's logits bit for bit at every position of p1 (the default, fast mode differs by
// NRMSE up to 0.038 on this file: docs/inference.md "Known gap").
TEST(CliLogits, ReferenceNumericsGiveTheReferenceBits) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto gdir = dir / "families" / "golden";
  std::ifstream in(gdir / "gemma4-q8_0.p1.json");
  const auto g = nlohmann::json::parse(in);
  const auto out = testing::temp_dir() / "logits-gemma4-reference.bin";
  const auto r = run_cli("logits -m " +
                         shell_quote(dir / "families" / "models" / "gemma4-q8_0.gguf") +
                         " --tokens-file " + shell_quote(gdir / "gemma4-q8_0.p1.json") + " -o " +
                         shell_quote(out) + " -t 2 --numerics reference");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ours = read_floats(out);
  const auto ref = read_floats(gdir / "gemma4-q8_0.p1.logits");
  ASSERT_EQ(g["logit_positions"].size(), g["prompt_tokens"].size());  // every position
  ASSERT_EQ(ours.size(), ref.size());
  EXPECT_EQ(0, std::memcmp(ours.data(), ref.data(), ours.size() * sizeof(float)));
}

TEST(CliLogits, PromptIsTokenizedLikeTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : {"llama3-bpe-f16.p2", "qwen2-q8_0.p1", "gemma3-q8_0.p2"}) {
    const auto g = golden(dir, name);
    const auto prompt_file = testing::temp_dir() / "prompt.txt";
    std::ofstream(prompt_file, std::ios::binary) << g["prompt"].get<std::string>();
    const auto out = testing::temp_dir() / "logits-prompt.bin";
    const auto r =
        run_cli("logits -m " + shell_quote(dir / "models" / g["model"].get<std::string>()) +
                " --prompt-file " + shell_quote(prompt_file) + " -o " + shell_quote(out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["prompt_tokens"], g["prompt_tokens"]) << name;
    const auto ours = read_floats(out);
    const auto ref = read_floats(dir / "golden" / g["logits_file"].get<std::string>());
    const size_t nv = g["n_vocab"].get<size_t>();
    const auto positions = g["logit_positions"].get<std::vector<size_t>>();
    for (size_t i = 0; i < positions.size(); ++i) {
      EXPECT_LE(nrmse(ours.data() + positions[i] * nv, ref.data() + i * nv, nv), 0.03)
          << name << " position " << positions[i];
    }
  }
}

TEST(CliRun, GreedyContinuationMatchesTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  // Every step of this continuation has a reference margin above 0.1.
  const auto g = golden(dir, "gemma2-f16.p2");
  const auto prompt_file = testing::temp_dir() / "run-prompt.txt";
  std::ofstream(prompt_file, std::ios::binary) << g["prompt"].get<std::string>();
  const auto r =
      run_cli("run -m " + shell_quote(dir / "models" / "gemma2-f16.gguf") + " --prompt-file " +
              shell_quote(prompt_file) + " -n 16 --threads 2 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string want;
  const std::string hex = g["greedy_bytes_hex"];
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    want.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  EXPECT_EQ(r.out, want);
  EXPECT_NE(r.err.find("t/s"), std::string::npos) << r.err;  // timings on stderr
}

TEST(CliBench, JsonHasLlamaBenchFields) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto r = run_cli("bench -m " + shell_quote(dir / "models" / "llama-spm-q4_0.gguf") +
                         " -p 32 -n 8 -t 1,2 -r 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0]["n_prompt"], 32);
  EXPECT_EQ(j[0]["n_gen"], 0);
  EXPECT_EQ(j[0]["n_threads"], 1);
  EXPECT_EQ(j[1]["n_prompt"], 0);
  EXPECT_EQ(j[1]["n_gen"], 8);
  EXPECT_EQ(j[3]["n_threads"], 2);
  for (const auto& t : j) {
    EXPECT_GT(t["avg_ts"].get<double>(), 0.0);
    EXPECT_GE(t["stddev_ts"].get<double>(), 0.0);
    EXPECT_EQ(t["samples_ts"].size(), 2u);
    EXPECT_GT(t["rss_after_load"].get<double>(), 0.0);
    EXPECT_TRUE(t.contains("model_type") && t.contains("model_size"));
  }
  // The table form.
  const auto table = run_cli("bench -m " + shell_quote(dir / "models" / "llama-spm-q4_0.gguf") +
                             " -p 16 -n 4 -r 1");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("pp16"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("tg4"), std::string::npos) << table.out;
}

TEST(CliBench, DepthListsRunEveryTestAtEveryDepth) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::string model = shell_quote(dir / "models" / "llama-spm-q4_0.gguf");
  // llama-bench's order: per thread count, per depth, every pp then every tg.
  const auto r = run_cli("bench -m " + model + " -p 16 -n 4 -d 0,40 -r 2 -t 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u);
  const int64_t want[4][3] = {{16, 0, 0}, {0, 4, 0}, {16, 0, 40}, {0, 4, 40}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(j[i]["n_prompt"], want[i][0]) << i;
    EXPECT_EQ(j[i]["n_gen"], want[i][1]) << i;
    EXPECT_EQ(j[i]["n_depth"], want[i][2]) << i;
    EXPECT_EQ(j[i]["samples_ns"].size(), 2u);
    EXPECT_GT(j[i]["avg_ts"].get<double>(), 0.0);
    // The peak can only be above what was resident at any moment.
    const auto load = j[i]["rss_after_load"].get<uint64_t>();
    const auto peak = j[i]["rss_peak"].get<uint64_t>();
    EXPECT_GT(load, 0u);
    EXPECT_GE(peak, load);
    EXPECT_GE(peak, j[i]["rss_after_test"].get<uint64_t>());
    EXPECT_GE(j[i]["rss_peak_after_load"].get<uint64_t>(), load);
  }
  // The table labels depth tests as llama-bench does, and -c that fits is accepted.
  const auto table = run_cli("bench -m " + model + " -p 8 -n 2 -d 24 -c 32 -r 1 -t 1");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("pp8 @ d24"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("tg2 @ d24"), std::string::npos) << table.out;
  EXPECT_NE(table.err.find("peak"), std::string::npos) << table.err;
}

TEST(CliBench, DepthBeyondTheContextIsAnError) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::string model = shell_quote(dir / "models" / "llama-spm-q4_0.gguf");
  struct Case {
    std::string args;
    std::string needle;
  };
  const Case cases[] = {
      {" -p 16 -n 0 -d 100 -c 64", "depth 100 + pp16 needs 116 cells"},
      {" -p 0 -n 8 -d 0,60 -c 64", "depth 60 + tg8 needs 68 cells"},
      {" -d -1", "-d must not be negative"},
      {" -d 4,x", "n-depth"},
  };
  for (const Case& c : cases) {
    const auto r = run_cli("bench -m " + model + c.args + " -r 1");
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_TRUE(r.out.empty()) << c.args << ": " << r.out;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << ": " << r.err;
  }
}

TEST(CliBench, SequencesDecodeTogether) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::string model = shell_quote(dir / "models" / "llama-spm-q4_0.gguf");
  // Every tg test runs once per --sequences value, at every depth; pp tests once.
  const auto r =
      run_cli("bench -m " + model + " -p 8 -n 4 -d 0,12 --sequences 1,3 -r 2 -t 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 6u);
  const int64_t want[6][4] = {{8, 0, 0, 1},  {0, 4, 0, 1},  {0, 4, 0, 3},
                              {8, 0, 12, 1}, {0, 4, 12, 1}, {0, 4, 12, 3}};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(j[i]["n_prompt"], want[i][0]) << i;
    EXPECT_EQ(j[i]["n_gen"], want[i][1]) << i;
    EXPECT_EQ(j[i]["n_depth"], want[i][2]) << i;
    EXPECT_EQ(j[i]["n_seq"], want[i][3]) << i;
    ASSERT_EQ(j[i]["samples_ns"].size(), 2u);
    // t/s counts every sequence's tokens: S * N per run (or P for pp).
    const double tokens = static_cast<double>(want[i][0] + want[i][1] * want[i][3]);
    for (size_t k = 0; k < 2; ++k) {
      const double ns = j[i]["samples_ns"][k].get<double>();
      EXPECT_NEAR(j[i]["samples_ts"][k].get<double>(), tokens * 1e9 / ns, 1e-6 * tokens * 1e9 / ns)
          << i;
    }
    if (want[i][1] > 0) {
      // One step = one token of every sequence.
      EXPECT_NEAR(j[i]["avg_step_ns"].get<double>(), j[i]["avg_ns"].get<double>() / 4.0, 1.0) << i;
    } else {
      EXPECT_FALSE(j[i].contains("avg_step_ns")) << i;
    }
  }
  // The table labels the tests with their sequence count; a -c that fits S * N is accepted.
  const auto table = run_cli("bench -m " + model + " -p 0 -n 2 -d 4 --sequences 5 -c 14 -r 1 -t 1");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("tg2 x5 @ d4"), std::string::npos) << table.out;
}

TEST(CliBench, BadSequenceCountsAreErrors) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::string model = shell_quote(dir / "models" / "llama-spm-q4_0.gguf");
  struct Case {
    std::string args;
    std::string needle;
  };
  const Case cases[] = {
      {" --sequences 0", "--sequences must be between 1 and 64, not 0"},
      {" --sequences 1,65", "--sequences must be between 1 and 64, not 65"},
      {" --sequences -2", "--sequences must be between 1 and 64"},
      {" --sequences 2,x", "sequences"},
      {" -p 0 -n 8 --sequences 1,4 -c 20", "depth 0 + tg8 x 4 sequences needs 32 cells"},
      {" -p 0 -n 8 -d 10 --sequences 2 -c 25", "depth 10 + tg8 x 2 sequences needs 26 cells"},
  };
  for (const Case& c : cases) {
    const auto r = run_cli("bench -m " + model + c.args + " -r 1");
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_TRUE(r.out.empty()) << c.args << ": " << r.out;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << ": " << r.err;
  }
}

TEST(CliRun, ErrorsAreOneLineAndNonZero) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::string model = shell_quote(dir / "models" / "llama-spm-q4_0.gguf");
  struct Case {
    std::string args;
    std::string needle;
  };
  const Case cases[] = {
      {"run -m /nonexistent/model.gguf -p hi", "model.gguf"},
      {"run -m " + model, "prompt"},
      {"run -m " + model + " -p hi --kv-type q3", "cache type"},
      {"logits -m " + model + " -p hi --tokens-file x.json -o /dev/null", "exactly one"},
      {"logits -m " + model + " --tokens-file /nonexistent.json -o /dev/null", "nonexistent"},
      {"bench -m " + model + " -r 0", "-r"},
      {"run -m " + model + " -p hi --numerics exact", "fast,reference"},
      {"logits -m " + model + " -p hi -o /dev/null --numerics Reference", "fast,reference"},
      {"bench -m " + model + " --numerics exact", "fast,reference"},
      {"serve -m " + model + " --numerics exact", "fast,reference"},
  };
  for (const Case& c : cases) {
    const auto r = run_cli(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find("ember: "), std::string::npos) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << ": " << r.err;
  }
  // A tokens file with an id outside the vocabulary.
  const auto bad = testing::temp_dir() / "bad-ids.json";
  std::ofstream(bad) << "[1, 2, 999999]";
  const auto r =
      run_cli("logits -m " + model + " --tokens-file " + shell_quote(bad) + " -o /dev/null");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("vocabulary"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ember
