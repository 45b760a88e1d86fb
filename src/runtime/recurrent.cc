// Recurrent layers of hybrid models: the architecture's block, then the residual.
//
// Contract of an architecture's block (shortconv_block, and the ones that follow): it reads the
// residual stream x_ [n][n_embd] of every ubatch row, runs each sequence's rows (Ubatch::
// seq_groups, in position order) through that sequence's state rs_->conv(il, seq) /
// rs_->ssm(il, seq), leaves the state after the group's last row, and writes the layer's
// output before the residual to o_ [n][n_embd]. Rows are evaluated with the plain sequential
// recurrence, so a sequence split into any batches or ubatches, or decoded beside others, gives
// the same bits.
#include <cstring>

#include "runtime/context.h"
#include "runtime/ubatch.h"

namespace ember::runtime {

void Context::recurrent_block(const Ubatch& ub, int64_t il) {
  const ModelHParams& hp = model_.hparams();
  switch (hp.arch) {
    case Architecture::kLfm2:
      shortconv_block(ub, il);
      break;
    case Architecture::kQwen35:
    case Architecture::kQwen35Moe:
      delta_net_block(ub, il);
      break;
    default:
      // read_hparams gives recurrent layers only to the architectures handled above.
      return;
  }
  const int64_t d = hp.n_embd;
  const kernels::OpsTable& O = *ops_;
  if (il != hp.n_layer - 1) {
    pool_.run(ub.n, [&](int64_t t, int) { O.add(x_.data() + t * d, o_.data() + t * d, d); });
    return;
  }
  // Last layer: only the output rows go on, compacted to the front (ascending, so a row is
  // read before anything is written over it).
  for (size_t i = 0; i < ub.out_rows.size(); ++i) {
    const int64_t t = ub.out_rows[i];
    float* x = x_.data() + static_cast<int64_t>(i) * d;
    if (t != static_cast<int64_t>(i)) {
      std::memcpy(x, x_.data() + t * d, static_cast<size_t>(d) * sizeof(float));
    }
    O.add(x, o_.data() + t * d, d);
  }
}

}  // namespace ember::runtime
