#include "sampling/candidates.h"

#include <algorithm>
#include <cmath>

namespace ember::sampling {
namespace {

bool higher(const Candidate& a, const Candidate& b) {
  if (a.logit != b.logit) return a.logit > b.logit;
  return a.id < b.id;
}

}  // namespace

void Candidates::assign(std::span<const float> logits) {
  items_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    items_[i] = Candidate{static_cast<int32_t>(i), logits[i], 0.0f};
  }
  sorted_ = false;
  id_indexed_ = true;
  selected = -1;
}

void Candidates::sort() {
  if (sorted_) return;
  std::sort(items_.begin(), items_.end(), higher);
  sorted_ = true;
  id_indexed_ = false;
}

void Candidates::keep_top(size_t k) {
  if (k >= items_.size()) {
    sort();
    return;
  }
  if (!sorted_) {
    // Only the first k need ordering: a partial sort keeps top-k cheap on a 128k vocabulary.
    std::partial_sort(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(k), items_.end(),
                      higher);
    id_indexed_ = false;
  }
  items_.resize(k);
  sorted_ = true;
}

void Candidates::truncate(size_t n) {
  if (n < items_.size()) items_.resize(n);
}

void Candidates::softmax() {
  sort();
  if (items_.empty()) return;
  const float max_logit = items_[0].logit;
  if (std::isinf(max_logit) && max_logit < 0) {
    for (auto& c : items_) c.p = 0.0f;  // nothing is possible; callers check
    return;
  }
  double sum = 0.0;
  for (auto& c : items_) {
    c.p = std::exp(c.logit - max_logit);
    sum += c.p;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (auto& c : items_) c.p *= inv;
}

}  // namespace ember::sampling
