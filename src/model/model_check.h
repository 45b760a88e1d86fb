// Checks that a GGUF file holds a model ember can run: every tensor of a supported type, and
// every tensor the architecture needs present with the right shape.
#pragma once

#include "ember/status.h"
#include "model/hparams.h"

namespace ember {

class GgufFile;

// Error naming the first tensor whose type ember cannot compute with (e.g. "tensor
// 'blk.0.attn_q.weight' has type iq2_xxs, which ember does not support").
Status check_tensor_types_supported(const GgufFile& file);

// Error naming the first missing or mis-shaped tensor for `hp`'s architecture. Tensors beyond
// the expected ones (e.g. rope_freqs.weight) are allowed.
Status check_model_tensors(const GgufFile& file, const ModelHParams& hp);

// read_hparams + both checks: ok when the file is a model ember can load.
Status check_model_file(const GgufFile& file);

}  // namespace ember
