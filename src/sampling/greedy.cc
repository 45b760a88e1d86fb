// Greedy selection: the highest logit (ties: the lowest token id).
#include "sampling/sampler.h"

namespace ember::sampling {
namespace {

class Greedy final : public Sampler {
 public:
  std::string_view name() const override { return "greedy"; }
  Status apply(Candidates& c) override {
    if (c.empty()) return invalid_argument("greedy sampler: no candidate tokens left");
    size_t best = 0;
    if (!c.sorted()) {
      for (size_t i = 1; i < c.size(); ++i) {
        if (c[i].logit > c[best].logit || (c[i].logit == c[best].logit && c[i].id < c[best].id)) {
          best = i;
        }
      }
    }
    c.selected = static_cast<int64_t>(best);
    return Status::Ok();
  }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<Greedy>(*this); }
};

}  // namespace

std::unique_ptr<Sampler> make_greedy() {
  return std::make_unique<Greedy>();
}

}  // namespace ember::sampling
