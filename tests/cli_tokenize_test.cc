// `ember tokenize` and `ember detokenize` end to end: output formats, input sources (exact
// bytes), special-token flags, and one-line errors with a non-zero exit status.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "ember/tokenizer.h"
#include "testdata.h"

namespace ember {
namespace {

using testing::CommandOutput;
using testing::run_cli;
using testing::shell_quote;

std::filesystem::path spm_vocab(const std::filesystem::path& dir) {
  return dir / "vocab" / "ggml-vocab-llama-spm.gguf";
}

std::vector<int32_t> parse_array(const std::string& line) {
  return nlohmann::json::parse(line).get<std::vector<int32_t>>();
}

// The reference ids of one case of a vocabulary's .inp/.out files.
std::vector<int32_t> reference_ids(const std::filesystem::path& gguf, const std::string& input) {
  const std::vector<char> inp = testing::read_file_bytes(gguf.string() + ".inp");
  const std::vector<char> out = testing::read_file_bytes(gguf.string() + ".out");
  const std::string inputs(inp.begin(), inp.end());
  const std::string outputs(out.begin(), out.end());
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  size_t line_pos = 0;
  while (pos <= inputs.size()) {
    size_t next = inputs.find(sep, pos);
    if (next == std::string::npos) next = inputs.size();
    size_t line_end = outputs.find('\n', line_pos);
    if (line_end == std::string::npos) line_end = outputs.size();
    if (inputs.compare(pos, next - pos, input) == 0) {
      std::vector<int32_t> ids;
      std::istringstream in(outputs.substr(line_pos, line_end - line_pos));
      for (int32_t id; in >> id;) ids.push_back(id);
      return ids;
    }
    pos = next + sep.size();
    line_pos = line_end + 1;
  }
  ADD_FAILURE() << "no case '" << input << "' in " << gguf;
  return {};
}

TEST(CliTokenize, DefaultOutputIsAJsonArrayOfTheReferenceIds) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto vocab = spm_vocab(dir);
  const std::vector<int32_t> want = reference_ids(vocab, "Hello world");
  ASSERT_FALSE(want.empty());
  CommandOutput r = run_cli("tokenize -m " + shell_quote(vocab.string()) +
                            " --no-add-special --text 'Hello world'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line";
  EXPECT_EQ(parse_array(r.out), want);
  // --ids is the same format.
  CommandOutput ids = run_cli("tokenize -m " + shell_quote(vocab.string()) +
                              " --no-add-special --ids --text 'Hello world'");
  EXPECT_EQ(ids.out, r.out);
  // By default BOS is added as the metadata says (tokenizer.ggml.bos_token_id = 1).
  CommandOutput with_bos =
      run_cli("tokenize -m " + shell_quote(vocab.string()) + " --text 'Hello world'");
  ASSERT_EQ(with_bos.exit_code, 0) << with_bos.err;
  std::vector<int32_t> expected = {1};
  expected.insert(expected.end(), want.begin(), want.end());
  EXPECT_EQ(parse_array(with_bos.out), expected);
}

TEST(CliTokenize, FileAndStdinBytesAreTokenizedExactly) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto vocab = spm_vocab(dir);
  const auto path = testing::temp_dir() / "tokenize-input.txt";
  {
    std::ofstream f(path, std::ios::binary);
    f << "\n\n\n";  // a reference case made only of the trailing newlines a shell would strip
  }
  const std::vector<int32_t> want = reference_ids(vocab, "\n\n\n");
  CommandOutput file = run_cli("tokenize -m " + shell_quote(vocab.string()) +
                               " --no-add-special --file " + shell_quote(path.string()));
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(parse_array(file.out), want);
  CommandOutput in = run_cli("tokenize -m " + shell_quote(vocab.string()) +
                             " --no-add-special --stdin < " + shell_quote(path.string()));
  ASSERT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(in.out, file.out);
  std::filesystem::remove(path);
}

TEST(CliTokenize, ParseSpecialTurnsMarkupIntoControlTokens) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "models" / "qwen2-q8_0.gguf";
  Result<Tokenizer> tok = Tokenizer::load(model.string());
  ASSERT_TRUE(tok.ok());
  int32_t im_start = -1;
  for (int32_t id = 0; id < tok->n_vocab(); ++id) {
    if (tok->token_text(id).value() == "<|im_start|>") im_start = id;
  }
  ASSERT_GE(im_start, 0);
  const std::string args =
      "tokenize -m " + shell_quote(model.string()) + " --text '<|im_start|>user'";
  const std::vector<int32_t> plain = parse_array(run_cli(args).out);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), im_start), 0);
  const std::vector<int32_t> parsed = parse_array(run_cli(args + " --parse-special").out);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed.front(), im_start);
}

TEST(CliTokenize, PiecesAndJsonOutputs) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto vocab = spm_vocab(dir);
  const std::vector<int32_t> want = reference_ids(vocab, "Hello world");
  CommandOutput pieces = run_cli("tokenize -m " + shell_quote(vocab.string()) +
                                 " --no-add-special --pieces --text 'Hello world'");
  ASSERT_EQ(pieces.exit_code, 0) << pieces.err;
  EXPECT_EQ(pieces.out, std::to_string(want[0]) + " -> ' Hello'\n" + std::to_string(want[1]) +
                            " -> ' world'\n");
  CommandOutput json =
      run_cli("tokenize -m " + shell_quote(vocab.string()) + " --json --text 'Hello world'");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  ASSERT_EQ(j["n_tokens"], 3);
  EXPECT_EQ(j["tokens"][0]["id"], 1);
  EXPECT_EQ(j["tokens"][0]["text"], "<s>");
  EXPECT_EQ(j["tokens"][1]["id"], want[0]);
  EXPECT_EQ(j["tokens"][1]["text"], "\xe2\x96\x81Hello");
  EXPECT_EQ(j["tokens"][1]["piece"], " Hello");
}

TEST(CliDetokenize, IdsBackToText) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto vocab = spm_vocab(dir);
  const std::vector<int32_t> want = reference_ids(vocab, "Hello world");
  const std::string a = std::to_string(want[0]);
  const std::string b = std::to_string(want[1]);
  CommandOutput r = run_cli("detokenize -m " + shell_quote(vocab.string()) + " " + a + " " + b);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello world");  // exact bytes, no newline added
  // The JSON array printed by `tokenize` can be pasted as is.
  CommandOutput pasted =
      run_cli("detokenize -m " + shell_quote(vocab.string()) + " '[1, " + a + ", " + b + "]'");
  ASSERT_EQ(pasted.exit_code, 0) << pasted.err;
  EXPECT_EQ(pasted.out, " Hello world");  // the leading BOS takes the space-strip turn
  CommandOutput shown = run_cli("detokenize -m " + shell_quote(vocab.string()) +
                                " --unparse-special 1 " + a + " " + b);
  EXPECT_EQ(shown.out, "<s> Hello world");
}

TEST(CliTokenize, ErrorsAreOneLineWithNonZeroExit) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::string m = "-m " + shell_quote(spm_vocab(dir).string());
  for (const std::string& args : std::vector<std::string>{
           "tokenize " + m, "tokenize " + m + " --text a --stdin",
           "tokenize " + m + " --text a --json --pieces", "tokenize -m /nonexistent.gguf --text a",
           "tokenize " + m + " --file /nonexistent.txt", "detokenize " + m + " 1 99999999",
           "detokenize " + m + " 12x", "detokenize -m /nonexistent.gguf 1"}) {
    SCOPED_TRACE(args);
    CommandOutput r = run_cli(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err.rfind("ember: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
}  // namespace ember
