// Locally typical sampling (Meister et al., 2022): rank tokens by how far their surprise -ln p is
// from the distribution's entropy, and keep the closest ones until their probabilities add up to
// more than p. p >= 1 leaves the candidates unchanged.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "sampling/sampler.h"

namespace ember::sampling {
namespace {

class Typical final : public Sampler {
 public:
  Typical(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
  std::string_view name() const override { return "typ_p"; }
  Status apply(Candidates& c) override {
    if (p_ >= 1.0f || c.empty()) return Status::Ok();
    c.softmax();
    double entropy = 0.0;
    for (size_t i = 0; i < c.size(); ++i) {
      if (c[i].p > 0.0f) entropy -= c[i].p * std::log(static_cast<double>(c[i].p));
    }
    std::vector<double> distance(c.size());
    for (size_t i = 0; i < c.size(); ++i) {
      distance[i] =
          c[i].p > 0.0f ? std::fabs(-std::log(static_cast<double>(c[i].p)) - entropy) : INFINITY;
    }
    std::vector<size_t> order(c.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return distance[a] < distance[b]; });
    double cum = 0.0;
    size_t keep = order.size();
    for (size_t i = 0; i < order.size(); ++i) {
      cum += c[order[i]].p;
      if (cum > p_ && i + 1 >= min_keep_) {
        keep = i + 1;
        break;
      }
    }
    std::vector<Candidate> kept;
    kept.reserve(keep);
    for (size_t i = 0; i < keep; ++i) kept.push_back(c[order[i]]);
    c.items() = std::move(kept);
    c.reordered();
    return Status::Ok();
  }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<Typical>(*this); }

 private:
  float p_;
  size_t min_keep_;
};

}  // namespace

std::unique_ptr<Sampler> make_typical(float p, size_t min_keep) {
  return std::make_unique<Typical>(p, min_keep);
}

}  // namespace ember::sampling
