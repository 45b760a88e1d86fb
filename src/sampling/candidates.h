// The candidate set samplers work on: (token id, logit, probability) for every token still in the
// running. Built from a logits row, then narrowed and reshaped by each sampler of a chain.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ember::sampling {

struct Candidate {
  int32_t id;
  float logit;
  float p;  // valid only after softmax()
};

class Candidates {
 public:
  Candidates() = default;

  // All tokens of a logits row [n_vocab], in id order. Reuses this object's storage.
  void assign(std::span<const float> logits);
  // As assign, but the row is read lazily: it must stay valid until materialize() or the first
  // access other than size(), empty() and keep_top() (SamplerChain::sample keeps it so). A
  // keep_top(k) first thing then picks the k best tokens straight from the row (one pass of
  // comparisons against the k-th best so far) instead of building and partially sorting a
  // candidate per token: the same result, several times cheaper on a 128k vocabulary.
  void assign_lazy(std::span<const float> logits);

  size_t size() const { return lazy_ ? row_.size() : items_.size(); }
  bool empty() const { return size() == 0; }
  Candidate& operator[](size_t i) { return items()[i]; }
  const Candidate& operator[](size_t i) const { return items()[i]; }
  std::vector<Candidate>& items() {
    materialize();
    return items_;
  }
  const std::vector<Candidate>& items() const {
    materialize();
    return items_;
  }

  // True when items are ordered by logit, highest first (ties: lower id first).
  bool sorted() const { return sorted_; }
  // Sorts by logit descending (ties by id, so the order is deterministic).
  void sort();
  // Keeps only the `k` highest logits (sorted), k <= size().
  void keep_top(size_t k);
  // Keeps the first `n` items in the current order.
  void truncate(size_t n);
  // After a sampler edited logits in place (items not moved): no longer known to be sorted.
  void logits_changed() { sorted_ = false; }
  // After a sampler moved items into an order of its own.
  void reordered() {
    sorted_ = false;
    id_indexed_ = false;
  }
  // True while items()[i].id == i for every i (right after assign(), possibly truncated).
  bool id_indexed() const { return id_indexed_; }

  // Sorts, then sets p = softmax(logit) over the current items. Tokens at -infinity get p = 0.
  void softmax();

  // Index into items() of the chosen token, or -1 while none is chosen.
  int64_t selected = -1;

  // Builds the candidate per token of a lazily assigned row now (no-op otherwise), so that the
  // row may go away.
  void materialize() const;

 private:
  // Replaces the lazy row by its k best tokens, sorted (k < row_.size()).
  void select_top_from_row(size_t k);

  // Mutable: a lazily assigned row is materialized on first access, const accesses included.
  mutable std::vector<Candidate> items_;
  mutable std::span<const float> row_;  // the assigned row while lazy_
  mutable bool lazy_ = false;
  bool sorted_ = false;
  bool id_indexed_ = false;
};

}  // namespace ember::sampling
