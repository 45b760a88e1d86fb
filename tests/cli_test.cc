// The `ember` CLI end to end: inspect on every shared model and vocabulary, tensor extraction,
// synth + quantize, and one-line errors with a non-zero exit status.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "gguf/gguf.h"
#include "tensor/quantize.h"
#include "testdata.h"

namespace ember {
namespace {

using testing::CommandOutput;
using testing::run_cli;
using testing::shell_quote;

// The architecture each shared file must report, from the tables in the data's README.
std::string expected_arch(const std::string& file) {
  static const std::map<std::string, std::string> kVocab = {
      {"bert-bge", "bert"},        {"deepseek-coder", "llama"},
      {"deepseek-llm", "llama"},   {"falcon", "falcon"},
      {"gpt-2", "gpt2"},           {"llama-bpe", "llama"},
      {"llama-spm", "llama"},      {"mpt", "mpt"},
      {"phi-3", "phi3"},           {"refact", "refact"},
      {"starcoder", "starcoder2"},
  };
  if (file.rfind("ggml-vocab-", 0) == 0) {
    const std::string name = file.substr(11, file.size() - 11 - 5);
    auto it = kVocab.find(name);
    return it == kVocab.end() ? "?" : it->second;
  }
  for (const char* a :
       {"qwen3moe", "qwen3", "qwen2", "phi3", "gemma2", "gemma3", "llama3-bpe", "llama-spm"}) {
    if (file.rfind(std::string(a) + "-", 0) == 0) {
      const std::string s = a;
      return s.rfind("llama", 0) == 0 ? "llama" : s;
    }
  }
  return "?";
}

TEST(Cli, InspectJsonOnEverySharedModel) {
  EMBER_REQUIRE_TESTDATA(dir);
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "models")) {
    const std::string file = e.path().filename().string();
    if (!file.ends_with(".gguf")) continue;
    SCOPED_TRACE(file);
    const CommandOutput r = run_cli("inspect --json " + shell_quote(e.path()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["architecture"], expected_arch(file));
    EXPECT_EQ(j["hparams"]["embedding_length"], 256);
    EXPECT_FALSE(j.contains("hparams_note")) << j["hparams_note"];
    EXPECT_TRUE(j["loadable"].get<bool>()) << j.value("load_error", std::string());
    // Suffix = tensor type of every matrix for the single-type files.
    const std::string suffix = file.substr(file.rfind('-') + 1, file.size() - file.rfind('-') - 6);
    bool found_embd = false;
    for (const auto& t : j["tensors"]) {
      if (t["name"] == "token_embd.weight") {
        found_embd = true;
        EXPECT_EQ(t["shape"][0], 256);
        EXPECT_EQ(t["shape"][1], j["derived"]["n_vocab"]);
      }
      if (t["shape"].size() >= 2 && suffix != "q4_k_m" &&
          t["name"] != "blk.0.ffn_gate_inp.weight" && t["name"] != "blk.1.ffn_gate_inp.weight") {
        std::string type = t["type"];
        for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        EXPECT_EQ(type, suffix) << t["name"];
      }
    }
    EXPECT_TRUE(found_embd);
    EXPECT_TRUE(j["chat_template"].get<bool>());
    ++n;
  }
  EXPECT_EQ(n, 30);
}

// A hybrid model: the layer kinds and the convolution kernel, as the file's head_count_kv array
// (0 = convolution layer) and shortconv.l_cache say.
TEST(Cli, InspectShowsRecurrentLayers) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "families" / "models" / "lfm2-q8_0.gguf";
  const CommandOutput r = run_cli("inspect --json " + shell_quote(model));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["loadable"].get<bool>()) << j.value("load_error", std::string());
  const auto& d = j["derived"];
  EXPECT_EQ(d["conv_kernel"], j["hparams"]["shortconv.l_cache"]);
  const auto kv = j["hparams"]["attention.head_count_kv"];
  ASSERT_EQ(d["layer_kinds"].size(), kv.size());
  for (size_t il = 0; il < kv.size(); ++il) {
    EXPECT_EQ(d["layer_kinds"][il], kv[il].get<int>() == 0 ? "recurrent" : "attention") << il;
    EXPECT_EQ(d["layers"][il]["kind"], d["layer_kinds"][il]);
  }
  // (kernel - 1) inputs of n_embd channels per convolution layer, as floats.
  EXPECT_EQ(d["recurrent_state_bytes_per_sequence"], 3 * 2 * 128 * 4);
  const CommandOutput text = run_cli("inspect " + shell_quote(model));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("layer_kinds"), std::string::npos);
}

TEST(Cli, InspectJsonOnEveryVocabulary) {
  EMBER_REQUIRE_TESTDATA(dir);
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "vocab")) {
    const std::string file = e.path().filename().string();
    if (!file.ends_with(".gguf")) continue;
    SCOPED_TRACE(file);
    const CommandOutput r = run_cli("inspect --json " + shell_quote(e.path()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["architecture"], expected_arch(file));
    EXPECT_GT(j["tokenizer"]["n_tokens"].get<int>(), 1000);
    EXPECT_EQ(j["tensors"].size(), 0u);
    // The text form works too.
    EXPECT_EQ(run_cli("inspect " + shell_quote(e.path())).exit_code, 0);
    ++n;
  }
  EXPECT_EQ(n, 11);
}

TEST(Cli, DequantizeTensorMatchesLibrary) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "models" / "llama-spm-q4_k.gguf";
  const auto out = testing::temp_dir() / "attn_q.f32";
  const CommandOutput r = run_cli("inspect " + shell_quote(model) +
                                  " --tensor blk.1.attn_q.weight --dequantize " + shell_quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = GgufFile::open(model.string());
  ASSERT_TRUE(f.ok());
  const GgufTensorInfo* t = f->find_tensor("blk.1.attn_q.weight");
  ASSERT_NE(t, nullptr);
  std::vector<float> expected(static_cast<size_t>(t->n_elements));
  const size_t row_bytes = *tensor_row_size(t->type, t->shape[0]);
  for (int64_t r2 = 0; r2 < t->n_rows(); ++r2) {
    ASSERT_TRUE(dequantize_row(t->type, t->data + r2 * row_bytes,
                               expected.data() + r2 * t->shape[0], t->shape[0])
                    .ok());
  }
  auto bytes = testing::read_file_bytes(out);
  ASSERT_EQ(bytes.size(), expected.size() * 4);
  EXPECT_EQ(std::memcmp(bytes.data(), expected.data(), bytes.size()), 0);
}

TEST(Cli, SynthInspectQuantize) {
  const auto dir = testing::temp_dir();
  const auto model = dir / "cli-synth.gguf";
  CommandOutput r =
      run_cli("synth --arch qwen3moe --n-layer 2 --type f16 -o " + shell_quote(model));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli("inspect --json " + shell_quote(model));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "qwen3moe");
  EXPECT_EQ(j["hparams"]["expert_count"], 8);
  const auto q = dir / "cli-synth-q4km.gguf";
  r = run_cli("quantize " + shell_quote(model) + " " + shell_quote(q) + " Q4_K_M --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli("inspect --json " + shell_quote(q));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["file_type"], 15);
  EXPECT_TRUE(j["totals"]["by_type"].contains("q4_K"));
  EXPECT_TRUE(j["totals"]["by_type"].contains("q8_0"));  // attn_k/attn_v of an 8-expert model
}

TEST(Cli, ErrorsAreOneLineWithNonZeroExit) {
  const auto dir = testing::temp_dir();
  const auto garbage = dir / "garbage.gguf";
  { std::ofstream(garbage) << "definitely not a gguf file"; }
  for (const std::string& args :
       {std::string("inspect /nonexistent/model.gguf"), "inspect " + shell_quote(garbage),
        std::string("synth --arch nosucharch -o x.gguf"), std::string("nosuchcommand"),
        "quantize " + shell_quote(garbage) + " out.gguf Q9_9",
        std::string("synth --n-head 0 -o x.gguf"),
        "quantize " + shell_quote(garbage) + " " + shell_quote(dir / "o.gguf") + " Q4_0"}) {
    SCOPED_TRACE(args);
    const CommandOutput r = run_cli(args);
    EXPECT_NE(r.exit_code, 0);
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // exactly one line
    EXPECT_EQ(r.err.rfind("ember: ", 0), 0u) << r.err;
  }
}

}  // namespace
}  // namespace ember
