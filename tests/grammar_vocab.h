// Token byte strings of a GGUF vocabulary, for grammar tests and benchmarks (no tokenizer needed:
// byte-level BPE pieces are mapped back through GPT-2's byte-to-character table, SentencePiece
// pieces get '▁' -> ' ' and <0xXX> byte tokens; control tokens have no bytes).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "ember/status.h"
#include "gguf/gguf.h"
#include "grammar/utf8.h"

namespace ember::testing {

inline Result<std::vector<std::string>> grammar_vocab_bytes(const std::string& gguf_path) {
  EMBER_ASSIGN_OR_RETURN(GgufFile f, GgufFile::open(gguf_path));
  const GgufValue* tokens_v = f.find("tokenizer.ggml.tokens");
  const GgufValue* model_v = f.find("tokenizer.ggml.model");
  if (tokens_v == nullptr || model_v == nullptr) return not_found("no tokenizer in " + gguf_path);
  EMBER_ASSIGN_OR_RETURN(std::span<const std::string> pieces, tokens_v->as_string_array());
  EMBER_ASSIGN_OR_RETURN(const std::string_view model_view, model_v->as_string());
  const std::string model(model_view);
  std::vector<int64_t> types(pieces.size(), 1);
  if (const GgufValue* t = f.find("tokenizer.ggml.token_type"); t != nullptr) {
    if (auto a = t->as_int_array(); a.ok() && a->size() == pieces.size()) {
      types.assign(a->begin(), a->end());
    }
  }
  // GPT-2's table: printable bytes stand for themselves, the others for U+0100 onwards.
  std::unordered_map<uint32_t, uint8_t> unbyte;
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    unbyte[printable ? b : next++] = static_cast<uint8_t>(b);
  }
  std::vector<std::string> out(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string& p = pieces[i];
    if (types[i] == 3 || types[i] == 5) continue;  // control / unused: no text
    if (model == "gpt2") {
      size_t pos = 0;
      uint32_t cp;
      while (grammar::utf8_decode(p, &pos, &cp)) {
        auto it = unbyte.find(cp);
        if (it == unbyte.end()) break;
        out[i] += static_cast<char>(it->second);
      }
    } else {
      if (types[i] == 6 && p.size() == 6 && p.rfind("<0x", 0) == 0) {
        out[i] = std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
        continue;
      }
      for (size_t k = 0; k < p.size(); ++k) {
        if (p.compare(k, 3, "\xE2\x96\x81") == 0) {
          out[i] += ' ';
          k += 2;
        } else {
          out[i] += p[k];
        }
      }
    }
  }
  return out;
}

}  // namespace ember::testing
