// `ember chat` end to end: user lines piped into stdin on a tiny model.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "cli_runner.h"
#include "testdata.h"

namespace ember {
namespace {

using testing::CommandOutput;
using testing::run_cli;
using testing::shell_quote;

std::string model(const std::filesystem::path& dir, const char* name) {
  return shell_quote((dir / "models" / name).string());
}

// Runs `ember chat ARGS` with `input` on stdin.
CommandOutput run_chat(const std::string& args, const std::string& input) {
  return run_cli("chat " + args, input);
}

TEST(CliChat, TwoTurnsThenExit) {
  EMBER_REQUIRE_TESTDATA(data);
  const auto r = run_chat(
      "-m " + model(data, "qwen2-q8_0.gguf") + " --system 'Be brief.' -n 8 --seed 3 -c 1024 -t 2",
      "Hello!\nHow are you?\n/exit\nnot read\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // One line per reply (replies end with a newline), and nothing after /exit.
  size_t lines = 0;
  for (char c : r.out) lines += c == '\n';
  EXPECT_GE(lines, 2u) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(CliChat, ResetAndEndOfInput) {
  EMBER_REQUIRE_TESTDATA(data);
  const auto r = run_chat("-m " + model(data, "llama3-bpe-q4_k_m.gguf") + " -n 4 --seed 1 -c 1024",
                          "Hi\n/reset\nHi again\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(conversation reset)"), std::string::npos) << r.out;
}

TEST(CliChat, BadFlagsAreClearErrors) {
  EMBER_REQUIRE_TESTDATA(data);
  auto r = run_chat("-m " + model(data, "qwen2-q8_0.gguf") + " --kv-type q3", "hi\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--kv-type"), std::string::npos) << r.err;
  r = run_chat("-m /nonexistent/model.gguf", "hi\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ember:"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ember
