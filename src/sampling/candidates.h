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

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  Candidate& operator[](size_t i) { return items_[i]; }
  const Candidate& operator[](size_t i) const { return items_[i]; }
  std::vector<Candidate>& items() { return items_; }
  const std::vector<Candidate>& items() const { return items_; }

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

 private:
  std::vector<Candidate> items_;
  bool sorted_ = false;
  bool id_indexed_ = false;
};

}  // namespace ember::sampling
