// `ember tokenize -m FILE (--text T | --file F | --stdin) [--no-add-special] [--parse-special]
//                [--ids | --pieces | --json] [--time]`
// `ember detokenize -m FILE [--remove-special] [--unparse-special] IDS...`
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "ember/tokenizer.h"

namespace ember::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;
  bool text_given = false;
  bool stdin_input = false;
  bool no_add_special = false;
  bool parse_special = false;
  bool ids = false;
  bool pieces = false;
  bool json = false;
  bool time = false;
};

struct DetokenizeArgs {
  std::string model;
  std::vector<std::string> ids;
  bool remove_special = false;
  bool unparse_special = false;
};

Result<std::string> read_all(std::istream& in, const std::string& what) {
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return io_error("cannot read " + what);
  return data;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Result<Tokenizer> load_tokenizer(const std::string& path) {
  Result<Tokenizer> tok = Tokenizer::load(path);
  if (tok.ok()) {
    for (const std::string& w : tok->warnings()) {
      std::fprintf(stderr, "ember: warning: %s\n", w.c_str());
    }
  }
  return tok;
}

// A piece for humans: printable ASCII and valid UTF-8 as is, other bytes as \n, \t, \xNN.
std::string escape_piece(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (valid && len > 1) {
      out.append(s.substr(i, len));
      i += len;
      continue;
    }
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\\')
      out += "\\\\";
    else if (c == '\'')
      out += "\\'";
    else if (c >= 0x20 && c < 0x7F)
      out.push_back(static_cast<char>(c));
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
    ++i;
  }
  return out;
}

int run_tokenize(const TokenizeArgs& a) {
  const int sources = int(a.text_given) + int(!a.file.empty()) + int(a.stdin_input);
  if (sources != 1) return report_error("tokenize: give exactly one of --text, --file, --stdin");
  if (int(a.ids) + int(a.pieces) + int(a.json) > 1) {
    return report_error("tokenize: give at most one of --ids, --pieces, --json");
  }
  std::string text;
  if (a.text_given) {
    text = a.text;
  } else if (a.stdin_input) {
    Result<std::string> data = read_all(std::cin, "standard input");
    if (!data.ok()) return report_error(data.status());
    text = std::move(*data);
  } else {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) return report_error("cannot open '" + a.file + "'");
    Result<std::string> data = read_all(in, "'" + a.file + "'");
    if (!data.ok()) return report_error(data.status());
    text = std::move(*data);
  }
  Result<Tokenizer> tok = load_tokenizer(a.model);
  if (!tok.ok()) return report_error(tok.status());

  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_seconds();
  Result<std::vector<int32_t>> ids = tok->tokenize(text, !a.no_add_special, a.parse_special);
  const double cpu = thread_cpu_seconds() - cpu0;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!ids.ok()) return report_error(ids.status());

  if (a.pieces) {
    for (int32_t id : *ids) {
      const std::string piece = tok->token_to_piece(id, true).value_or("");
      std::printf("%d -> '%s'\n", id, escape_piece(piece).c_str());
    }
  } else if (a.json) {
    nlohmann::ordered_json j;
    j["n_tokens"] = ids->size();
    nlohmann::ordered_json tokens = nlohmann::ordered_json::array();
    for (int32_t id : *ids) {
      nlohmann::ordered_json t;
      t["id"] = id;
      t["text"] = std::string(tok->token_text(id).value_or(""));
      t["piece"] = tok->token_to_piece(id, true).value_or("");
      tokens.push_back(std::move(t));
    }
    j["tokens"] = std::move(tokens);
    // Pieces can be partial UTF-8 (one byte of a character); those bytes are shown as U+FFFD.
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::string line = "[";
    for (size_t i = 0; i < ids->size(); ++i) {
      if (i) line += ", ";
      line += std::to_string((*ids)[i]);
    }
    line += "]\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  if (a.time) {
    // CPU time too: on a busy machine it is the steadier measure of the tokenizer itself.
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::fprintf(stderr,
                 "tokenized %zu bytes into %zu tokens in %.3f s (%.2f MB/s); thread CPU time "
                 "%.3f s (%.2f MB/s)\n",
                 text.size(), ids->size(), seconds, seconds > 0 ? mb / seconds : 0.0, cpu,
                 cpu > 0 ? mb / cpu : 0.0);
  }
  return 0;
}

// Token ids from the arguments: each may hold several ids separated by commas or spaces, and
// brackets are ignored, so the output of `ember tokenize` can be pasted as is.
Result<std::vector<int32_t>> parse_ids(const std::vector<std::string>& args) {
  std::vector<int32_t> ids;
  for (const std::string& arg : args) {
    std::string cleaned = arg;
    for (char& c : cleaned) {
      if (c == '[' || c == ']' || c == ',') c = ' ';
    }
    std::istringstream in(cleaned);
    std::string word;
    while (in >> word) {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(word, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != word.size() || v < INT32_MIN || v > INT32_MAX) {
        return invalid_argument("detokenize: '" + word + "' is not a token id");
      }
      ids.push_back(static_cast<int32_t>(v));
    }
  }
  return ids;
}

int run_detokenize(const DetokenizeArgs& a) {
  Result<std::vector<int32_t>> ids = parse_ids(a.ids);
  if (!ids.ok()) return report_error(ids.status());
  Result<Tokenizer> tok = load_tokenizer(a.model);
  if (!tok.ok()) return report_error(tok.status());
  Result<std::string> text = tok->detokenize(*ids, a.remove_special, a.unparse_special);
  if (!text.ok()) return report_error(text.status());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Turn text into the model's token ids");
  cmd->add_option("-m,--model", a->model, "GGUF model or vocabulary file")->required();
  cmd->add_option_function<std::string>(
      "--text",
      [a](const std::string& t) {
        a->text = t;
        a->text_given = true;
      },
      "Text to tokenize");
  cmd->add_option("--file", a->file, "Tokenize this file's bytes exactly as they are");
  cmd->add_flag("--stdin", a->stdin_input, "Tokenize standard input");
  cmd->add_flag("--no-add-special", a->no_add_special,
                "Do not add BOS/EOS (CLS/SEP for BERT) even when the model's metadata asks");
  cmd->add_flag("--parse-special", a->parse_special,
                "Turn special-token text such as <|im_start|> into those tokens");
  cmd->add_flag("--ids", a->ids, "Print the ids as a JSON array on one line (the default)");
  cmd->add_flag("--pieces", a->pieces, "Print one 'id -> piece' line per token");
  cmd->add_flag("--json", a->json, "Print a JSON object with each token's id, text and piece");
  cmd->add_flag("--time", a->time, "Print the tokenization time and throughput on stderr");
  cmd->callback([a, &result] { result.exit_code = run_tokenize(*a); });
}

void register_detokenize(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<DetokenizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "detokenize", "Turn token ids back into text (written to stdout exactly, no newline added)");
  cmd->add_option("-m,--model", a->model, "GGUF model or vocabulary file")->required();
  cmd->add_flag("--remove-special", a->remove_special,
                "Drop a leading BOS and a trailing EOS the model adds");
  cmd->add_flag("--unparse-special", a->unparse_special,
                "Render control tokens as their text (hidden by default)");
  cmd->add_option("ids", a->ids, "Token ids (spaces, commas or a JSON array)")->required();
  cmd->callback([a, &result] { result.exit_code = run_detokenize(*a); });
}

}  // namespace ember::cli
