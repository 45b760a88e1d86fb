// Per-sequence recurrent state of hybrid and recurrent models (lfm2's short convolutions, Qwen
// 3.5's gated delta-net, Mamba-style layers), kept beside the key/value cache and owned by the
// Context.
//
// A recurrent layer does not keep one row per token like attention: it folds every token into a
// fixed-size state per sequence. Each layer that has one declares its size in two parts
// (ModelHParams::recurrent_conv / recurrent_ssm, filled per architecture by read_hparams):
//   conv  the last (kernel - 1) inputs of a causal depthwise convolution, as [kernel - 1][channels]
//         floats, row 0 the oldest input (what a convolution over "previous tokens" reads);
//   ssm   an optional matrix state, e.g. delta-net's [n_v_heads][d_k][d_v].
// The layout inside each part is the architecture's business; this class only stores floats.
//
// Per sequence the state tracks the position of the last token folded into it:
//   -1        empty: nothing evaluated; the next decode zeroes the state and must start at 0;
//   p >= 0    the state after positions [0, p]; the next token of the sequence must be p + 1;
//   kInvalid  unknown (its tail was removed, or only part of another sequence was copied into
//             it): the sequence cannot continue until it is removed whole (seq_rm(s, 0, -1)).
// The sequence operations mirror KvCache's (and are called by Context's together with it):
//   seq_rm   removing every position of a sequence empties its state; removing a tail [p0, end)
//            with 0 < p0 <= p leaves the state invalid (the state at p0 - 1 is gone); removing a
//            range that ends at or before p and does not start at 0 is refused (a recurrent state
//            cannot forget a middle part), leaving everything unchanged;
//   seq_cp   copying a range that covers all of the source's positions copies its state; a range
//            covering only some of them makes the destination's state invalid;
//   seq_keep empties every other sequence; clear empties all.
//
// Memory: n_seq * sum over layers of (conv + ssm) floats, allocated once and not zeroed (a
// sequence's block is zeroed when it starts, so unused slots never touch their pages).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ember/status.h"

namespace ember {

class RecurrentState {
 public:
  static constexpr int32_t kInvalid = -2;

  // Floats of state per sequence for one layer (both 0: the layer is not recurrent).
  struct LayerSize {
    int64_t conv = 0;
    int64_t ssm = 0;
  };

  // One entry per layer of the model; n_seq sequence slots. Errors: negative sizes, n_seq out of
  // [1, 64], a state too large to allocate.
  static Result<std::unique_ptr<RecurrentState>> create(const std::vector<LayerSize>& layers,
                                                        int n_seq);

  int64_t n_layer() const { return static_cast<int64_t>(layers_.size()); }
  int n_seq() const { return n_seq_; }
  bool has_layer(int64_t il) const {
    const LayerSize& s = layers_[static_cast<size_t>(il)];
    return s.conv > 0 || s.ssm > 0;
  }
  int64_t conv_size(int64_t il) const { return layers_[static_cast<size_t>(il)].conv; }
  int64_t ssm_size(int64_t il) const { return layers_[static_cast<size_t>(il)].ssm; }

  // The state of layer il for sequence seq: conv_size(il) / ssm_size(il) floats (nullptr when the
  // part is empty). The forward pass reads them, then writes the state after its tokens.
  float* conv(int64_t il, int32_t seq) { return part(il, seq, false); }
  float* ssm(int64_t il, int32_t seq) { return part(il, seq, true); }
  const float* conv(int64_t il, int32_t seq) const {
    return const_cast<RecurrentState*>(this)->part(il, seq, false);
  }
  const float* ssm(int64_t il, int32_t seq) const {
    return const_cast<RecurrentState*>(this)->part(il, seq, true);
  }

  // Position of the last token folded into seq's state (-1 empty, kInvalid unknown).
  int32_t pos(int32_t seq) const { return pos_[static_cast<size_t>(seq)]; }
  // Zeroes every layer's state of `seq` (it is about to start at position 0).
  void zero(int32_t seq);
  // After a ubatch: the state of `seq` now includes position `pos`.
  void set_pos(int32_t seq, int32_t pos) { pos_[static_cast<size_t>(seq)] = pos; }

  // Checks that seq_rm(seq, p0, p1) is allowed (see above); seq < 0 checks every sequence, p1 < 0
  // means "to the end".
  Status check_rm(int32_t seq, int32_t p0, int32_t p1) const;
  // Applies a removal that check_rm allowed.
  void seq_rm(int32_t seq, int32_t p0, int32_t p1);
  void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1);
  // Copies the whole state and position of src into dst.
  void copy(int32_t src, int32_t dst);
  void seq_keep(int32_t seq);
  void clear();

  // Bytes of state storage (all sequences).
  size_t memory_bytes() const { return static_cast<size_t>(total_floats_) * sizeof(float); }

 private:
  RecurrentState() = default;
  float* part(int64_t il, int32_t seq, bool ssm);

  std::vector<LayerSize> layers_;
  std::vector<int64_t> offset_;  // per layer: floats from a sequence's block start
  int64_t seq_floats_ = 0;       // floats per sequence
  int64_t total_floats_ = 0;
  int n_seq_ = 0;
  std::unique_ptr<float[]> storage_;
  std::vector<int32_t> pos_;
};

}  // namespace ember
