// Top-p (nucleus): keep the most likely tokens until their probabilities add up to at least p;
// the token that crosses p is kept. p >= 1 leaves the candidates unchanged.
#include "sampling/sampler.h"

namespace ember::sampling {
namespace {

class TopP final : public Sampler {
 public:
  TopP(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
  std::string_view name() const override { return "top_p"; }
  Status apply(Candidates& c) override {
    if (p_ >= 1.0f || c.empty()) return Status::Ok();
    c.softmax();
    double cum = 0.0;
    size_t keep = c.size();
    for (size_t i = 0; i < c.size(); ++i) {
      cum += c[i].p;
      if (cum >= p_ && i + 1 >= min_keep_) {
        keep = i + 1;
        break;
      }
    }
    c.truncate(keep);
    return Status::Ok();
  }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<TopP>(*this); }

 private:
  float p_;
  size_t min_keep_;
};

}  // namespace

std::unique_ptr<Sampler> make_top_p(float p, size_t min_keep) {
  return std::make_unique<TopP>(p, min_keep);
}

}  // namespace ember::sampling
