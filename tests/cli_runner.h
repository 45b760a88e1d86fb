// Running the `ember` command-line program from tests: one helper for every CLI suite.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "testdata.h"

namespace ember::testing {

struct CommandOutput {
  int exit_code = -1;  // -1 when the program did not exit normally (or could not start)
  std::string out;
  std::string err;
};

// Single-quotes `s` for the shell (embedded single quotes escaped).
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

// Runs `ember ARGS` (the CLI built with the tests, EMBER_CLI_PATH) through the shell, with
// `input` on stdin when given (otherwise the test's stdin), capturing stdout and stderr apart.
inline CommandOutput run_cli(const std::string& args,
                             const std::optional<std::string>& input = std::nullopt) {
  const auto dir = temp_dir();
  const auto err_path = dir / "cli-stderr.txt";
  std::string cmd = std::string(EMBER_CLI_PATH) + " " + args;
  if (input) {
    const auto in_path = dir / "cli-stdin.txt";
    std::ofstream(in_path, std::ios::binary) << *input;
    cmd += " <" + shell_quote(in_path.string());
  }
  cmd += " 2>" + shell_quote(err_path.string());
  CommandOutput r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const auto e = read_file_bytes(err_path);
  r.err.assign(e.begin(), e.end());
  return r;
}

}  // namespace ember::testing
