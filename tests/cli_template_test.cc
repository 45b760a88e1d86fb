// `ember template`: renders chat-renders conversations through the CLI, from a template file and
// from the chat template inside the shared GGUF models, and fails with one line on errors.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "gguf/gguf.h"
#include "testdata.h"

namespace ember {
namespace {

using testing::CommandOutput;
using testing::run_cli;
using testing::shell_quote;

std::string read_text(const std::filesystem::path& p) {
  const auto bytes = testing::read_file_bytes(p);
  return std::string(bytes.begin(), bytes.end());
}

std::filesystem::path write_case(const nlohmann::ordered_json& input, const std::string& name) {
  const auto path = testing::temp_dir() / (name + ".json");
  std::ofstream(path, std::ios::binary) << input.dump();
  return path;
}

TEST(CliTemplate, RendersConversationsExactly) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const char* name : {"Qwen-Qwen3-0.6B", "meta-llama-Llama-3.1-8B-Instruct",
                           "openai-gpt-oss-120b", "google-gemma-2-2b-it"}) {
    SCOPED_TRACE(name);
    const auto spec = nlohmann::ordered_json::parse(
        read_text(dir / "chat-renders" / (std::string(name) + ".json")));
    for (const auto& [case_name, c] : spec["cases"].items()) {
      SCOPED_TRACE(case_name);
      const auto input = write_case(c["input"], "cli-template-case");
      const CommandOutput r =
          run_cli("template --template " +
                  shell_quote((dir / "templates" / spec["template"].get<std::string>()).string()) +
                  " --input " + shell_quote(input.string()) + " --bos-token " +
                  shell_quote(spec["bos_token"]) + " --eos-token " +
                  shell_quote(spec["eos_token"]) + " --now " + shell_quote(spec["now"]));
      if (c.contains("expected")) {
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, c["expected"].get<std::string>());
        EXPECT_TRUE(r.err.empty()) << r.err;
      } else {
        EXPECT_NE(r.exit_code, 0);
        EXPECT_TRUE(r.out.empty());
        EXPECT_NE(r.err.find(c["error"].get<std::string>()), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // one line
      }
    }
  }
}

// -m reads tokenizer.chat_template and the BOS/EOS token texts from the model. The shared models
// carry real templates that also appear in templates/, so chat-renders gives the expected text.
TEST(CliTemplate, RendersTheModelsOwnTemplate) {
  EMBER_REQUIRE_TESTDATA(dir);
  int checked = 0;
  for (const char* model : {"qwen3-f16.gguf", "llama-spm-f16.gguf", "gemma2-f16.gguf",
                            "phi3-f16.gguf", "llama3-bpe-f16.gguf", "qwen2-q8_0.gguf"}) {
    SCOPED_TRACE(model);
    const auto path = dir / "models" / model;
    auto f = GgufFile::open(path.string());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    auto tmpl = f->get_string("tokenizer.chat_template");
    ASSERT_TRUE(tmpl.ok());
    // Find the chat-renders spec whose template is this one.
    std::optional<nlohmann::ordered_json> spec;
    for (const auto& e : std::filesystem::directory_iterator(dir / "chat-renders")) {
      auto s = nlohmann::ordered_json::parse(read_text(e.path()));
      if (read_text(dir / "templates" / s["template"].get<std::string>()) == *tmpl) spec = s;
    }
    ASSERT_TRUE(spec.has_value()) << "no chat-renders entry for the template of " << model;
    const auto& c = (*spec)["cases"]["multi_turn"];
    const auto input = write_case(c["input"], "cli-template-model");
    CommandOutput r = run_cli(
        "template -m " + shell_quote(path.string()) + " --input " + shell_quote(input.string()) +
        " --bos-token " + shell_quote((*spec)["bos_token"]) + " --eos-token " +
        shell_quote((*spec)["eos_token"]) + " --now " + shell_quote((*spec)["now"]));
    ASSERT_TRUE(c.contains("expected"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, c["expected"].get<std::string>());
    // Without --bos-token the model's own BOS text is used.
    const auto bos_id = f->get_uint("tokenizer.ggml.bos_token_id");
    if (bos_id.ok() && tmpl->find("bos_token") != std::string::npos) {
      auto tokens = f->find("tokenizer.ggml.tokens")->as_string_array();
      ASSERT_TRUE(tokens.ok());
      r = run_cli("template -m " + shell_quote(path.string()) + " --input " +
                  shell_quote(input.string()));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(r.out.rfind((*tokens)[*bos_id], 0), 0u) << r.out.substr(0, 40);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(CliTemplate, ErrorsAreOneLineWithNonZeroExit) {
  const auto dir = testing::temp_dir();
  const auto tmpl = dir / "t.jinja";
  std::ofstream(tmpl) << "{{ raise_exception('nope') }}";
  const auto bad_syntax = dir / "bad.jinja";
  std::ofstream(bad_syntax) << "{% if %}";
  const auto good = dir / "good.jinja";
  std::ofstream(good) << "{{ messages[0].content }}";
  const auto input = dir / "in.json";
  std::ofstream(input) << R"({"messages": [{"role": "user", "content": "hi"}]})";
  const auto not_json = dir / "notjson.json";
  std::ofstream(not_json) << "{nope";
  const CommandOutput ok = run_cli("template --template " + shell_quote(good.string()) +
                                   " --input " + shell_quote(input.string()));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "hi");
  for (const std::string& args :
       {"template --template " + shell_quote(tmpl.string()) + " --input " +
            shell_quote(input.string()),
        "template --template " + shell_quote(bad_syntax.string()) + " --input " +
            shell_quote(input.string()),
        "template --template " + shell_quote(good.string()) + " --input " +
            shell_quote(not_json.string()),
        "template --template /nonexistent.jinja --input " + shell_quote(input.string()),
        "template --input " + shell_quote(input.string()),
        "template -m /nonexistent.gguf --template " + shell_quote(good.string()) + " --input " +
            shell_quote(input.string()),
        "template --template " + shell_quote(good.string()) + " --input " +
            shell_quote(input.string()) + " --now tomorrow"}) {
    SCOPED_TRACE(args);
    const CommandOutput r = run_cli(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_TRUE(r.out.empty());
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    EXPECT_EQ(r.err.rfind("ember: ", 0), 0u) << r.err;
  }
  const CommandOutput r = run_cli("template --template " + shell_quote(tmpl.string()) +
                                  " --input " + shell_quote(input.string()));
  EXPECT_EQ(r.err, "ember: template: line 1, column 19: nope\n");
}

}  // namespace
}  // namespace ember
