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
  assign_lazy(logits);
  materialize();
}

void Candidates::assign_lazy(std::span<const float> logits) {
  items_.clear();
  row_ = logits;
  lazy_ = true;
  sorted_ = false;
  id_indexed_ = true;
  selected = -1;
}

void Candidates::materialize() const {
  if (!lazy_) return;
  items_.resize(row_.size());
  for (size_t i = 0; i < row_.size(); ++i) {
    items_[i] = Candidate{static_cast<int32_t>(i), row_[i], 0.0f};
  }
  row_ = {};
  lazy_ = false;
}

void Candidates::select_top_from_row(size_t k) {
  // A heap of the best k so far whose front is the worst of them (ordered by `higher`). Ids
  // arrive in increasing order, so a later token with the front's logit never ranks above it:
  // a token enters only with a strictly higher logit, and most of a 128k row is rejected by one
  // comparison per block of 16 against the front's logit. The result is the k first tokens of
  // the row sorted by `higher`, exactly what partial_sort gives (a strict total order).
  const std::span<const float> row = row_;
  const size_t n = row.size();
  items_.resize(k);
  for (size_t i = 0; i < k; ++i) items_[i] = Candidate{static_cast<int32_t>(i), row[i], 0.0f};
  std::make_heap(items_.begin(), items_.end(), higher);
  float worst = items_.front().logit;
  auto offer = [&](size_t i) {
    if (!(row[i] > worst)) return;  // NaN never enters
    std::pop_heap(items_.begin(), items_.end(), higher);
    items_.back() = Candidate{static_cast<int32_t>(i), row[i], 0.0f};
    std::push_heap(items_.begin(), items_.end(), higher);
    worst = items_.front().logit;
  };
  constexpr size_t kBlock = 16;
  size_t i = k;
  for (; i < n && i % kBlock != 0; ++i) offer(i);
  for (; i + kBlock <= n; i += kBlock) {
    // Any value above `worst` in the block? (Branch-free, vectorizable; NaN compares false.)
    bool any = false;
    for (size_t j = 0; j < kBlock; ++j) any |= row[i + j] > worst;
    if (!any) continue;
    for (size_t j = 0; j < kBlock; ++j) offer(i + j);
  }
  for (; i < n; ++i) offer(i);
  std::sort(items_.begin(), items_.end(), higher);
  row_ = {};
  lazy_ = false;
}

void Candidates::sort() {
  materialize();
  if (sorted_) return;
  std::sort(items_.begin(), items_.end(), higher);
  sorted_ = true;
  id_indexed_ = false;
}

void Candidates::keep_top(size_t k) {
  if (lazy_ && k > 0 && k < row_.size() && !sorted_) {
    select_top_from_row(k);
    sorted_ = true;
    id_indexed_ = false;
    return;
  }
  materialize();
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
  materialize();
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
