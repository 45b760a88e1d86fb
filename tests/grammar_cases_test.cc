// GBNF conformance: every case of ../shared/testdata/grammars/cases.json (decided by llama.cpp's
// GBNF validator) must get the same verdict from ember, through the library and through
// `ember grammar check`.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.h"
#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"
#include "testdata.h"

namespace ember::grammar {
namespace {

using ember::testing::CommandOutput;
using ember::testing::run_cli;
using ember::testing::shell_quote;

std::string read_text(const std::filesystem::path& p) {
  const std::vector<char> bytes = testing::read_file_bytes(p);
  return std::string(bytes.begin(), bytes.end());
}

nlohmann::json load_cases(const std::filesystem::path& dir) {
  return nlohmann::json::parse(read_text(dir / "grammars" / "cases.json"));
}

// Whole-string match: every byte accepted and the root rule complete at the end.
bool matches(const std::shared_ptr<const Grammar>& g, const std::string& input) {
  auto m = GrammarMatcher::create(g);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  if (!m.ok()) return false;
  Result<bool> ok = m->try_accept(input);
  EXPECT_TRUE(ok.ok()) << ok.status().to_string();
  return ok.ok() && *ok && m->is_complete();
}

TEST(GrammarCases, LibraryAgreesWithReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const nlohmann::json cases = load_cases(dir);
  int total = 0, agreed = 0;
  for (const auto& [file, list] : cases.items()) {
    SCOPED_TRACE(file);
    auto g = parse_gbnf(read_text(dir / "grammars" / file));
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    for (const auto& c : list) {
      const std::string input = c["input"];
      const bool expected = c["accepted"];
      ++total;
      const bool got = matches(*g, input);
      EXPECT_EQ(got, expected) << "input: " << input;
      agreed += got == expected;
      // Byte-by-byte feeding (characters split across calls) gives the same verdict.
      auto m = GrammarMatcher::create(*g);
      ASSERT_TRUE(m.ok());
      bool all = true;
      for (char ch : input) all = all && m->accept_bytes(std::string_view(&ch, 1));
      EXPECT_EQ(all && m->is_complete(), expected) << "byte by byte: " << input;
    }
  }
  EXPECT_GT(total, 0);
  std::printf("grammar cases agreed: %d/%d\n", agreed, total);
}

// Every grammar file in the folder parses, including those without cases.
TEST(GrammarCases, AllSharedGrammarsParse) {
  EMBER_REQUIRE_TESTDATA(dir);
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "grammars")) {
    if (e.path().extension() != ".gbnf") continue;
    SCOPED_TRACE(e.path().filename().string());
    auto g = parse_gbnf(read_text(e.path()));
    EXPECT_TRUE(g.ok()) << g.status().to_string();
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(GrammarCases, CliAgreesWithReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const nlohmann::json cases = load_cases(dir);
  const auto tmp = testing::temp_dir() / "grammar-cases";
  std::filesystem::create_directories(tmp);
  int total = 0, agreed = 0;
  for (const auto& [file, list] : cases.items()) {
    SCOPED_TRACE(file);
    const auto grammar_path = dir / "grammars" / file;
    const CommandOutput parsed = run_cli("grammar check " + shell_quote(grammar_path));
    EXPECT_EQ(parsed.exit_code, 0);
    EXPECT_EQ(parsed.out, "ok\n");
    int i = 0;
    for (const auto& c : list) {
      const std::string input = c["input"];
      const bool expected = c["accepted"];
      const auto input_path = tmp / (file + "." + std::to_string(i++) + ".txt");
      {
        std::ofstream f(input_path, std::ios::binary);
        f << input;
      }
      const CommandOutput r = run_cli("grammar check " + shell_quote(grammar_path) + " --input " +
                                      shell_quote(input_path));
      ++total;
      const bool got = r.exit_code == 0 && r.out == "accepted\n";
      const bool consistent =
          r.exit_code == 0 ? r.out == "accepted\n" : r.exit_code == 1 && r.out == "rejected\n";
      EXPECT_TRUE(consistent) << "exit " << r.exit_code << ", output '" << r.out << "'";
      EXPECT_EQ(got, expected) << "input: " << input;
      agreed += got == expected && consistent;
    }
  }
  EXPECT_GT(total, 0);
  std::printf("grammar cases agreed via the CLI: %d/%d\n", agreed, total);
}

TEST(GrammarCli, ErrorsSchemasAndText) {
  const auto tmp = testing::temp_dir() / "grammar-cli";
  std::filesystem::create_directories(tmp);
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(tmp / name, std::ios::binary) << content;
    return tmp / name;
  };
  // A parse error: exit 1, nothing on stdout.
  const auto bad = write("bad.gbnf", "root ::= \"a\"\nnext ::= (\"b\"\n");
  CommandOutput r = run_cli("grammar check " + shell_quote(bad));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  // --text and rejection at the end of input.
  const auto yes = write("yes.gbnf", "root ::= (\"yes\" | \"no\") \".\"\n");
  r = run_cli("grammar check " + shell_quote(yes) + " --text 'yes.'");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "accepted\n");
  r = run_cli("grammar check " + shell_quote(yes) + " --text 'yes'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "rejected\n");
  // JSON schema: prints the grammar, and matches documents.
  const auto schema = write(
      "s.json",
      R"({"type":"object","properties":{"n":{"type":"integer","minimum":1}},"required":["n"]})");
  r = run_cli("grammar check --json-schema " + shell_quote(schema));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("root ::= "), std::string::npos) << r.out;
  EXPECT_TRUE(parse_gbnf(r.out).ok());
  const auto doc = write("doc.json", R"({"n": 5})");
  r = run_cli("grammar check --json-schema " + shell_quote(schema) + " --input " +
              shell_quote(doc));
  EXPECT_EQ(r.out, "accepted\n");
  const auto bad_doc = write("bad-doc.json", R"({"n": 0})");
  r = run_cli("grammar check --json-schema " + shell_quote(schema) + " --input " +
              shell_quote(bad_doc));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "rejected\n");
  const auto unsupported = write("u.json", R"({"type":"array","uniqueItems":true})");
  r = run_cli("grammar check --json-schema " + shell_quote(unsupported));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  // Missing files and conflicting arguments.
  EXPECT_EQ(run_cli("grammar check " + shell_quote(tmp / "missing.gbnf")).exit_code, 1);
  EXPECT_EQ(run_cli("grammar check").exit_code, 1);
  EXPECT_EQ(run_cli("grammar check " + shell_quote(yes) + " --json-schema " + shell_quote(schema))
                .exit_code,
            1);
}

}  // namespace
}  // namespace ember::grammar
