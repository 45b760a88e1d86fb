// Special-token partitioning: the first step of tokenize(). The text is split into runs of plain
// text and whole special tokens, exactly as the reference does it: special tokens are taken
// longest text first, and each one splits every remaining text run at all of its (leftmost,
// non-overlapping) occurrences. Control and unknown tokens take part only with parse_special;
// user-defined tokens always do. A token with the lstrip/rstrip attribute also swallows the ASCII
// whitespace next to it.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/hash_tables.h"

namespace ember::tokenizer {

struct Vocab;

// A byte trie over the special tokens' texts, used to find which of them occur in a text at all
// before running the (per-token) partition over those few.
class SpecialTrie {
 public:
  void insert(std::string_view text, int32_t id);
  // Sets found[id] for every special token that occurs somewhere in `text`.
  void find_all(std::string_view text, std::vector<bool>& found) const;

 private:
  PairMap edges_;                         // (node, byte) -> child node (in Value::merged)
  std::vector<int32_t> terminal_ = {-1};  // node -> token id ending there, or -1
  std::vector<bool> first_byte_ = std::vector<bool>(256, false);
};

struct Fragment {
  int32_t token = -1;  // >= 0: a special token; -1: text [offset, offset + length)
  size_t offset = 0;
  size_t length = 0;
};

// Splits `text` into fragments (in order). Empty text gives no fragments.
void partition_special(const Vocab& v, std::string_view text, bool parse_special,
                       std::vector<Fragment>& out);

}  // namespace ember::tokenizer
