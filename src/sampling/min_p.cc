// Min-p: keep tokens whose probability is at least p times the most likely token's, i.e. whose
// logit is at least max_logit + ln(p). p <= 0 leaves the candidates unchanged.
#include <algorithm>
#include <cmath>

#include "sampling/sampler.h"

namespace ember::sampling {
namespace {

class MinP final : public Sampler {
 public:
  MinP(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
  std::string_view name() const override { return "min_p"; }
  Status apply(Candidates& c) override {
    if (p_ <= 0.0f || c.empty()) return Status::Ok();
    c.sort();
    const float threshold = c[0].logit + std::log(p_);
    size_t keep = 0;
    while (keep < c.size() && c[keep].logit >= threshold) ++keep;
    c.truncate(std::max(keep, std::min(min_keep_, c.size())));
    return Status::Ok();
  }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<MinP>(*this); }

 private:
  float p_;
  size_t min_keep_;
};

}  // namespace

std::unique_ptr<Sampler> make_min_p(float p, size_t min_keep) {
  return std::make_unique<MinP>(p, min_keep);
}

}  // namespace ember::sampling
