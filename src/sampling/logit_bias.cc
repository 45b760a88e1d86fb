// Logit bias: add a fixed value to chosen tokens' logits (-infinity bans a token). Runs first in
// a chain, on the full vocabulary in id order, so a bias is a direct index.
#include <unordered_map>
#include <utility>
#include <vector>

#include "sampling/sampler.h"

namespace ember::sampling {
namespace {

class LogitBias final : public Sampler {
 public:
  explicit LogitBias(std::vector<std::pair<int32_t, float>> biases) : biases_(std::move(biases)) {}
  std::string_view name() const override { return "logit_bias"; }
  Status apply(Candidates& c) override {
    if (biases_.empty()) return Status::Ok();
    if (c.id_indexed()) {
      for (const auto& [id, bias] : biases_) {
        if (id >= 0 && static_cast<size_t>(id) < c.size()) c[static_cast<size_t>(id)].logit += bias;
      }
    } else {
      std::unordered_map<int32_t, float> by_id(biases_.begin(), biases_.end());
      for (auto& cand : c.items()) {
        auto it = by_id.find(cand.id);
        if (it != by_id.end()) cand.logit += it->second;
      }
    }

    c.logits_changed();
    return Status::Ok();
  }
  std::unique_ptr<Sampler> clone() const override { return std::make_unique<LogitBias>(*this); }

 private:
  std::vector<std::pair<int32_t, float>> biases_;
};

}  // namespace

std::unique_ptr<Sampler> make_logit_bias(std::vector<std::pair<int32_t, float>> biases) {
  return std::make_unique<LogitBias>(std::move(biases));
}

}  // namespace ember::sampling
