#include "tokenizer/bpe.h"

#include <algorithm>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace ember::tokenizer {
namespace {

// Heap order: the lowest rank on top; among equal ranks the leftmost pair.
struct LowerPriority {
  bool operator()(const auto& a, const auto& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

void BpeSession::tokenize(std::string_view run, std::vector<int32_t>& out) {
  std::string_view text = run;
  if (!is_valid_utf8(run)) {
    sanitized_ = sanitize_utf8(run);
    text = sanitized_;
  }
  if (v_.bpe.raw_utf8) {
    tokenize_raw(text, out);
    return;
  }
  words_.clear();
  pre_tokenize(v_.pre, text, words_);
  for (const auto& [begin, end] : words_) {
    tokenize_word(text.substr(begin, end - begin), out);
  }
}

void BpeSession::tokenize_raw(std::string_view text, std::vector<int32_t>& out) {
  // Spaces become U+2581, then the text splits into runs of newlines and runs of the rest
  // (the reference's "[^\n]+|[\n]+"). A run of newlines that is a token is emitted whole.
  escaped_.clear();
  for (char c : text) {
    if (c == ' ') {
      escaped_ += "\xE2\x96\x81";
    } else {
      escaped_.push_back(c);
    }
  }
  const std::string_view s = escaped_;
  for (size_t i = 0; i < s.size();) {
    const bool newline = s[i] == '\n';
    size_t j = i + 1;
    while (j < s.size() && (s[j] == '\n') == newline) ++j;
    const std::string_view word = s.substr(i, j - i);
    const int32_t whole = newline ? v_.find(word) : -1;
    if (whole >= 0) {
      out.push_back(whole);
    } else {
      tokenize_word(word, out);
    }
    i = j;
  }
}

void BpeSession::tokenize_word(std::string_view word, std::vector<int32_t>& out) {
  if (word.empty()) return;
  const BpeTables& t = v_.bpe;
  const int32_t n_vocab = v_.n_vocab();
  if (word.size() == 1 || v_.ignore_merges) {
    const int32_t id = word.size() == 1 ? t.byte_piece[static_cast<unsigned char>(word[0])]
                                        : t.raw_to_piece.find(word);
    if (id >= 0 && id < n_vocab) {
      out.push_back(id);
      return;
    }
  }

  symbols_.clear();
  heap_.clear();
  if (t.raw_utf8) {
    // One symbol per UTF-8 character (the text is valid UTF-8 here).
    for (size_t i = 0; i < word.size();) {
      const auto lead = static_cast<unsigned char>(word[i]);
      size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      len = std::min(len, word.size() - i);
      const auto index = static_cast<int32_t>(symbols_.size());
      symbols_.push_back(Symbol{t.raw_to_piece.find(word.substr(i, len)), static_cast<uint32_t>(i),
                                static_cast<uint32_t>(len), index - 1,
                                i + len < word.size() ? index + 1 : -1});
      i += len;
    }
  } else {
    for (size_t i = 0; i < word.size(); ++i) {
      const auto index = static_cast<int32_t>(i);
      symbols_.push_back(Symbol{t.byte_piece[static_cast<unsigned char>(word[i])],
                                static_cast<uint32_t>(i), 1, index - 1,
                                i + 1 < word.size() ? index + 1 : -1});
    }
  }
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
    l.piece = b.merged;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) symbols_[static_cast<size_t>(r.next)].prev = b.left;
    try_add_bigram(l.prev, b.left);
    try_add_bigram(b.left, symbols_[static_cast<size_t>(b.left)].next);
  }
  for (int32_t i = 0; i >= 0; i = symbols_[static_cast<size_t>(i)].next) {
    emit(word, symbols_[static_cast<size_t>(i)], out);
  }
}

void BpeSession::try_add_bigram(int32_t left, int32_t right) {
  if (left < 0 || right < 0) return;
  const Symbol& l = symbols_[static_cast<size_t>(left)];
  const Symbol& r = symbols_[static_cast<size_t>(right)];
  if (l.piece < 0 || r.piece < 0) return;
  const PairMap::Value m = v_.bpe.merges.find(l.piece, r.piece);
  if (m.rank < 0) return;
  heap_.push_back(Bigram{m.rank, left, right, m.merged, l.n + r.n});
  std::push_heap(heap_.begin(), heap_.end(), LowerPriority{});
}

void BpeSession::emit(std::string_view word, const Symbol& s, std::vector<int32_t>& out) const {
  if (s.piece >= 0 && s.piece < v_.n_vocab()) {
    out.push_back(s.piece);
    return;
  }
  // Not a token: the reference looks up each byte of the symbol's byte-level text as a
  // one-character token (raw UTF-8 vocabularies: its `<0xXX>` token) and drops the bytes that
  // have none.
  for (size_t i = s.offset; i < s.offset + s.n; ++i) {
    for (int32_t id : v_.bpe.byte_fallback[static_cast<unsigned char>(word[i])]) {
      if (id >= 0) out.push_back(id);
    }
  }
}

void bpe_tokenize(const Vocab& v, std::string_view run, std::vector<int32_t>& out) {
  BpeSession session(v);
  session.tokenize(run, out);
}

}  // namespace ember::tokenizer
