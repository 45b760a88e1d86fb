// Top-k: keep the k highest logits. k <= 0 leaves the candidates unchanged.
#include <algorithm>

#include "sampling/sampler.h"

namespace ember::sampling {
namespace {

class TopK final : public Sampler {
 public:
  TopK(int32_t k, size_t min_keep) : k_(k), min_keep_(min_keep) {}
  std::string_view name() const override { return "top_k"; }
  Status apply(Candidates& c) override {
    if (k_ <= 0) return Status::Ok();
    const size_t k = std::max(static_cast<size_t>(k_), min_keep_);
    c.keep_top(std::min(k, c.size()));
    return Status::Ok();
  }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<TopK>(*this); }

 private:
  int32_t k_;
  size_t min_keep_;
};

}  // namespace

std::unique_ptr<Sampler> make_top_k(int32_t k, size_t min_keep) {
  return std::make_unique<TopK>(k, min_keep);
}

}  // namespace ember::sampling
