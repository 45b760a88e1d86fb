// Repeat, frequency and presence penalties over a window of the last accepted tokens.
//
// For a token seen `count` > 0 times in the window: a positive logit is divided by the repeat
// penalty and a non-positive one multiplied (so the penalty always lowers it when > 1), then
// count * frequency + presence is subtracted (OpenAI's definition).
#include <deque>
#include <unordered_map>

#include "sampling/sampler.h"

namespace ember::sampling {
namespace {

class Penalties final : public Sampler {
 public:
  Penalties(int32_t window, float repeat, float frequency, float presence)
      : window_(window), repeat_(repeat), frequency_(frequency), presence_(presence) {}
  std::string_view name() const override { return "penalties"; }

  Status apply(Candidates& c) override {
    if (window_ <= 0 || counts_.empty()) return Status::Ok();
    if (repeat_ == 1.0f && frequency_ == 0.0f && presence_ == 0.0f) return Status::Ok();
    auto penalize = [&](Candidate& cand, int count) {
      if (cand.logit <= 0.0f) {
        cand.logit *= repeat_;
      } else {
        cand.logit /= repeat_;
      }
      cand.logit -= static_cast<float>(count) * frequency_ + presence_;
    };
    if (c.id_indexed()) {
      for (const auto& [id, count] : counts_) {
        if (static_cast<size_t>(id) < c.size()) penalize(c[static_cast<size_t>(id)], count);
      }
    } else {
      for (auto& cand : c.items()) {
        auto it = counts_.find(cand.id);
        if (it != counts_.end()) penalize(cand, it->second);
      }
    }
    c.logits_changed();
    return Status::Ok();
  }

  void accept(int32_t token) override {
    if (window_ <= 0) return;
    history_.push_back(token);
    ++counts_[token];
    if (history_.size() > static_cast<size_t>(window_)) {
      const int32_t old = history_.front();
      history_.pop_front();
      auto it = counts_.find(old);
      if (--it->second == 0) counts_.erase(it);
    }
  }

  void reset() override {
    history_.clear();
    counts_.clear();
  }

  std::unique_ptr<Sampler> clone() const override { return std::make_unique<Penalties>(*this); }

 private:
  int32_t window_;
  float repeat_, frequency_, presence_;
  std::deque<int32_t> history_;
  std::unordered_map<int32_t, int> counts_;  // occurrences of each token inside the window
};

}  // namespace

std::unique_ptr<Sampler> make_penalties(int32_t window, float repeat, float frequency,
                                        float presence) {
  return std::make_unique<Penalties>(window, repeat, frequency, presence);
}

}  // namespace ember::sampling
