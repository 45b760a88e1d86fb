#include "tokenizer/special.h"

#include "tokenizer/vocab.h"

namespace ember::tokenizer {
namespace {

// C-locale isspace: space, \t, \n, \v, \f, \r.
bool is_ascii_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

}  // namespace

void SpecialTrie::insert(std::string_view text, int32_t id) {
  if (text.empty()) return;
  first_byte_[static_cast<unsigned char>(text[0])] = true;
  int32_t node = 0;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    int32_t child = edges_.find(node, byte).merged;
    if (child < 0) {
      child = static_cast<int32_t>(terminal_.size());
      terminal_.push_back(-1);
      edges_.insert(node, byte, {0, child});
    }
    node = child;
  }
  if (terminal_[static_cast<size_t>(node)] < 0) terminal_[static_cast<size_t>(node)] = id;
}

void SpecialTrie::find_all(std::string_view text, std::vector<bool>& found) const {
  for (size_t i = 0; i < text.size(); ++i) {
    if (!first_byte_[static_cast<unsigned char>(text[i])]) continue;
    int32_t node = 0;
    for (size_t k = i; k < text.size(); ++k) {
      node = edges_.find(node, static_cast<unsigned char>(text[k])).merged;
      if (node < 0) break;
      const int32_t id = terminal_[static_cast<size_t>(node)];
      if (id >= 0) found[static_cast<size_t>(id)] = true;
    }
  }
}

void partition_special(const Vocab& v, std::string_view text, bool parse_special,
                       std::vector<Fragment>& out) {
  out.clear();
  if (text.empty()) return;
  out.push_back({-1, 0, text.size()});
  if (v.special_tokens.empty()) return;

  // Only tokens that occur in the text can split it.
  std::vector<bool> found(v.tokens.size(), false);
  v.special_trie.find_all(text, found);

  std::vector<Fragment> next;
  for (int32_t id : v.special_tokens) {
    if (!found[static_cast<size_t>(id)]) continue;
    const TokenData& t = v.tokens[static_cast<size_t>(id)];
    if (!parse_special && (t.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = t.text;
    next.clear();
    for (const Fragment& frag : out) {
      if (frag.token >= 0) {
        next.push_back(frag);
        continue;
      }
      size_t base = frag.offset;
      size_t length = frag.length;
      for (;;) {
        const size_t match = text.substr(0, base + length).find(needle, base);
        if (match == std::string_view::npos) {
          if (length > 0) next.push_back({-1, base, length});
          break;
        }
        size_t left = match - base;
        if (t.attr & kAttrLstrip) {
          while (left > 0 && is_ascii_space(text[base + left - 1])) --left;
        }
        if (left > 0) next.push_back({-1, base, left});
        next.push_back({id, 0, 0});
        const size_t end = match + needle.size();
        if (end >= base + length) break;
        size_t right = base + length - end;
        size_t right_offset = end;
        if (t.attr & kAttrRstrip) {
          while (right > 0 && is_ascii_space(text[right_offset])) {
            ++right_offset;
            --right;
          }
        }
        base = right_offset;
        length = right;
      }
    }
    out.swap(next);
  }
}

}  // namespace ember::tokenizer
