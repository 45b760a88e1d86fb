#include "tokenizer/spm.h"

#include <algorithm>

#include "tokenizer/vocab.h"

namespace ember::tokenizer {
namespace {

constexpr char kSpaceMarker[] = "\xe2\x96\x81";  // U+2581 '▁'

// Symbol length from a UTF-8 lead byte, without validation (continuation bytes count as 1).
inline uint32_t utf8_len(unsigned char lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Heap order: the highest score on top; among equal scores the leftmost pair.
struct LowerPriority {
  template <typename B>
  bool operator()(const B& a, const B& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void SpmSession::tokenize(std::string_view run, bool space_prefix, std::vector<int32_t>& out) {
  chunk_.clear();
  symbols_.clear();
  uint32_t pending = 0;  // bytes still missing from the symbol being read
  size_t start = 0;      // its offset in chunk_

  // Symbols are cut from the escaped text; a lone separator byte closes the current chunk, which
  // is then merged on its own (no token can contain the separator, so no merge crosses it).
  auto finish_symbol = [&](size_t offset, size_t n, std::vector<int32_t>& o) {
    const auto lead = static_cast<unsigned char>(chunk_[offset]);
    if (n == 1 && lead < 128 && v_.spm_separator[lead]) {
      flush(o);
      emit(Symbol{static_cast<uint32_t>(offset), 1, -1, -1}, o);
      chunk_.clear();
      return;
    }
    add_symbol(std::string_view(chunk_).substr(offset, n));
  };
  auto push_byte = [&](char c, std::vector<int32_t>& o) {
    chunk_.push_back(c);
    if (pending == 0) {
      start = chunk_.size() - 1;
      pending = utf8_len(static_cast<unsigned char>(c));
    }
    if (--pending == 0) finish_symbol(start, chunk_.size() - start, o);
  };

  if (space_prefix) {
    for (int i = 0; i < 3; ++i) push_byte(kSpaceMarker[i], out);
  }
  for (char c : run) {
    if (c == ' ') {
      for (int i = 0; i < 3; ++i) push_byte(kSpaceMarker[i], out);
    } else {
      push_byte(c, out);
    }
  }
  if (pending > 0) finish_symbol(start, chunk_.size() - start, out);  // truncated at the end
  flush(out);
}

void SpmSession::add_symbol(std::string_view bytes) {
  const auto index = static_cast<int32_t>(symbols_.size());
  const auto offset = static_cast<uint32_t>(bytes.data() - chunk_.data());
  if (!symbols_.empty()) symbols_.back().next = index;
  symbols_.push_back(Symbol{offset, static_cast<uint32_t>(bytes.size()), index - 1, -1});
}

void SpmSession::try_add_bigram(int32_t left, int32_t right) {
  if (left < 0 || right < 0) return;
  const Symbol& l = symbols_[static_cast<size_t>(left)];
  const Symbol& r = symbols_[static_cast<size_t>(right)];
  const std::string_view text(chunk_.data() + l.offset, l.n + r.n);
  const int32_t id = v_.find(text);
  if (id < 0) return;
  heap_.push_back(Bigram{v_.tokens[static_cast<size_t>(id)].score, left, right,
                         static_cast<uint32_t>(text.size())});
  std::push_heap(heap_.begin(), heap_.end(), LowerPriority{});
}

void SpmSession::flush(std::vector<int32_t>& out) {
  if (symbols_.empty()) return;
  heap_.clear();
  for (size_t i = 1; i < symbols_.size(); ++i) {
    try_add_bigram(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  }
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), LowerPriority{});
    const Bigram b = heap_.back();
    heap_.pop_back();
    Symbol& l = symbols_[static_cast<size_t>(b.left)];
    Symbol& r = symbols_[static_cast<size_t>(b.right)];
    // Stale entry: one side has been merged with something else since it was queued.
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) symbols_[static_cast<size_t>(r.next)].prev = b.left;
    try_add_bigram(l.prev, b.left);
    try_add_bigram(b.left, symbols_[static_cast<size_t>(b.left)].next);
  }
  for (int32_t i = 0; i >= 0; i = symbols_[static_cast<size_t>(i)].next) {
    emit(symbols_[static_cast<size_t>(i)], out);
  }
  symbols_.clear();
}

void SpmSession::emit(const Symbol& s, std::vector<int32_t>& out) const {
  const std::string_view text(chunk_.data() + s.offset, s.n);
  const int32_t id = v_.find(text);
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  // Byte fallback. A vocabulary without byte tokens gets <unk> for each byte instead.
  for (char c : text) {
    const int32_t b = v_.byte_token[static_cast<unsigned char>(c)];
    if (b >= 0) {
      out.push_back(b);
    } else if (v_.unk >= 0) {
      out.push_back(v_.unk);
    }
  }
}

}  // namespace ember::tokenizer
