// Random selection from softmax(logits) over the remaining candidates, with a seeded generator.
#include "sampling/rng.h"
#include "sampling/sampler.h"

namespace ember::sampling {

// Shared by the selectors: softmax, then one draw. Error when every candidate is impossible
// (e.g. all banned by logit bias or a grammar).
Status select_by_distribution(Candidates& c, Rng& rng) {
  if (c.empty()) return invalid_argument("sampling: no candidate tokens left");
  c.softmax();
  const int64_t idx = draw_index(rng, c.size(), [&](size_t i) { return double(c[i].p); });
  if (idx < 0) {
    return invalid_argument("sampling: every candidate token has probability zero");
  }
  c.selected = idx;
  return Status::Ok();
}

namespace {

class Distribution final : public Sampler {
 public:
  explicit Distribution(uint32_t seed) : rng_(seed) {}
  std::string_view name() const override { return "dist"; }
  Status apply(Candidates& c) override { return select_by_distribution(c, rng_); }
  void reset() override { rng_.reset(); }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<Distribution>(*this); }

 private:
  Rng rng_;
};

}  // namespace

std::unique_ptr<Sampler> make_distribution(uint32_t seed) {
  return std::make_unique<Distribution>(seed);
}

}  // namespace ember::sampling
