// Temperature: divide logits by t (t < 1 sharpens, t > 1 flattens). t <= 0 means greedy: only the
// highest logit survives (the others drop to -infinity, as llama.cpp does, so later samplers and
// reported probabilities see a one-hot distribution).
#include <cmath>
#include <limits>

#include "sampling/sampler.h"

namespace ember::sampling {
namespace {

class Temperature final : public Sampler {
 public:
  explicit Temperature(float t) : t_(t) {}
  std::string_view name() const override { return "temperature"; }
  Status apply(Candidates& c) override {
    if (c.empty()) return Status::Ok();
    if (t_ <= 0.0f) {
      c.sort();
      for (size_t i = 1; i < c.size(); ++i) c[i].logit = -std::numeric_limits<float>::infinity();
      return Status::Ok();
    }
    if (t_ == 1.0f) return Status::Ok();
    for (auto& cand : c.items()) cand.logit /= t_;  // order is unchanged for t > 0
    return Status::Ok();
  }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<Temperature>(*this); }

 private:
  float t_;
};

}  // namespace

std::unique_ptr<Sampler> make_temperature(float temperature) {
  return std::make_unique<Temperature>(temperature);
}

}  // namespace ember::sampling
