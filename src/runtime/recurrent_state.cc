#include "runtime/recurrent_state.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <string>

namespace ember {
namespace {

// Positions [p0, end) of a removal or copy range (p1 < 0: to the end).
int32_t range_end(int32_t p1) { return p1 < 0 ? std::numeric_limits<int32_t>::max() : p1; }

}  // namespace

Result<std::unique_ptr<RecurrentState>> RecurrentState::create(const std::vector<LayerSize>& layers,
                                                               int n_seq) {
  if (n_seq < 1 || n_seq > 64) {
    return invalid_argument("recurrent state: sequence count " + std::to_string(n_seq) +
                            " is out of [1, 64]");
  }
  std::unique_ptr<RecurrentState> rs(new RecurrentState());
  rs->layers_ = layers;
  rs->n_seq_ = n_seq;
  constexpr int64_t kMaxFloats = int64_t{1} << 36;  // 256 GiB: anything beyond is a bad file
  for (const LayerSize& s : layers) {
    if (s.conv < 0 || s.ssm < 0 || s.conv > kMaxFloats || s.ssm > kMaxFloats) {
      return invalid_argument("recurrent state: layer sizes out of range");
    }
    rs->offset_.push_back(rs->seq_floats_);
    rs->seq_floats_ += s.conv + s.ssm;
    if (rs->seq_floats_ > kMaxFloats) return invalid_argument("recurrent state is too large");
  }
  rs->total_floats_ = rs->seq_floats_ * n_seq;
  if (rs->total_floats_ > kMaxFloats) {
    return resource_exhausted("recurrent state of " +
                              std::to_string(rs->total_floats_ * 4 >> 20) +
                              " MiB is too large: use fewer sequences");
  }
  rs->storage_.reset(new (std::nothrow) float[static_cast<size_t>(std::max<int64_t>(rs->total_floats_, 1))]);
  if (!rs->storage_) {
    return resource_exhausted("cannot allocate " + std::to_string(rs->total_floats_ * 4 >> 20) +
                              " MiB for the recurrent state");
  }
  rs->pos_.assign(static_cast<size_t>(n_seq), -1);
  return rs;
}

float* RecurrentState::part(int64_t il, int32_t seq, bool ssm) {
  const LayerSize& s = layers_[static_cast<size_t>(il)];
  if ((ssm ? s.ssm : s.conv) == 0) return nullptr;
  return storage_.get() + static_cast<size_t>(seq) * static_cast<size_t>(seq_floats_) +
         static_cast<size_t>(offset_[static_cast<size_t>(il)] + (ssm ? s.conv : 0));
}

void RecurrentState::zero(int32_t seq) {
  std::memset(storage_.get() + static_cast<size_t>(seq) * static_cast<size_t>(seq_floats_), 0,
              static_cast<size_t>(seq_floats_) * sizeof(float));
}

Status RecurrentState::check_rm(int32_t seq, int32_t p0, int32_t p1) const {
  p0 = std::max(p0, 0);
  const int32_t end = range_end(p1);
  for (int32_t s = seq < 0 ? 0 : seq; s < (seq < 0 ? n_seq_ : seq + 1); ++s) {
    const int32_t p = pos(s);
    if (p < 0 || p0 >= end || p0 > p) continue;  // nothing of the state's range removed
    if (end > p) continue;                       // everything, or a tail
    return invalid_argument(
        "sequence " + std::to_string(s) + " has recurrent state up to position " +
        std::to_string(p) + ": removing positions [" + std::to_string(p0) + ", " +
        std::to_string(end) +
        ") would need the state before them, which a recurrent model does not keep (remove the "
        "sequence from position 0, or from a position to its end)");
  }
  return Status::Ok();
}

void RecurrentState::seq_rm(int32_t seq, int32_t p0, int32_t p1) {
  p0 = std::max(p0, 0);
  const int32_t end = range_end(p1);
  for (int32_t s = seq < 0 ? 0 : seq; s < (seq < 0 ? n_seq_ : seq + 1); ++s) {
    int32_t& p = pos_[static_cast<size_t>(s)];
    if (p == kInvalid) {
      // Unknown state: removing everything makes the sequence usable again.
      if (p0 == 0 && p1 < 0) p = -1;
      continue;
    }
    if (p < 0 || p0 >= end || p0 > p) continue;
    if (end > p) p = p0 == 0 ? -1 : kInvalid;
  }
}

void RecurrentState::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  if (src == dst) return;
  p0 = std::max(p0, 0);
  const int32_t end = range_end(p1);
  const int32_t p = pos(src);
  if (p == kInvalid) {
    if (p0 < end) pos_[static_cast<size_t>(dst)] = kInvalid;
    return;
  }
  if (p < 0 || p0 >= end || p0 > p) return;  // no position of the source is copied
  if (p0 == 0 && end > p) {
    copy(src, dst);
  } else {
    pos_[static_cast<size_t>(dst)] = kInvalid;
  }
}

void RecurrentState::copy(int32_t src, int32_t dst) {
  if (src == dst) return;
  const size_t n = static_cast<size_t>(seq_floats_);
  if (pos(src) >= 0 && n > 0) {
    std::memcpy(storage_.get() + static_cast<size_t>(dst) * n,
                storage_.get() + static_cast<size_t>(src) * n, n * sizeof(float));
  }
  pos_[static_cast<size_t>(dst)] = pos(src);
}

void RecurrentState::seq_keep(int32_t seq) {
  for (int32_t s = 0; s < n_seq_; ++s) {
    if (s != seq) pos_[static_cast<size_t>(s)] = -1;
  }
}

void RecurrentState::clear() { std::fill(pos_.begin(), pos_.end(), -1); }

}  // namespace ember
