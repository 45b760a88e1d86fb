// Gemma 4 per-layer embeddings ("PLE"). Each token has, per layer, a small input vector
// (n_embd_per_layer = npl values) computed once per ubatch from two sources:
//   tok  = per_layer_token_embd[token]            [n_layer * npl], scaled by sqrt(npl)
//   proj = per_layer_model_proj · e / sqrt(n_embd) [n_layer * npl], e = the scaled embedding,
//          RMS-normed per layer chunk with per_layer_proj_norm
//   pl   = (proj + tok) / sqrt(2)
// After a layer's FFN residual, x += post_norm(proj_l(gelu(inp_gate_l · x) * pl[layer])).
//
// Shapes: pl_ [ub][n_layer][npl], pl_gate_ [rows][npl].
#include <cmath>

#include "runtime/context.h"
#include "tensor/quantize.h"

namespace ember::runtime {

void Context::per_layer_inputs(const int32_t* tokens, int64_t n) {
  const ModelHParams& hp = model_.hparams();
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd, npl = hp.n_embd_per_layer, n_all = hp.n_layer * npl;
  const Linear& proj = model_.per_layer_model_proj();
  const Product p = {&proj, convert(0, proj.w.type, x_.data(), n, d), pl_.data(), n_all};
  run_products(&p, 1, n, Stage::kOther);
  const kernels::Weights& emb = model_.per_layer_tok_embd();
  const float proj_scale = 1.0f / std::sqrt(static_cast<float>(d));
  const float tok_scale = std::sqrt(static_cast<float>(npl));
  const float out_scale = 1.0f / std::sqrt(2.0f);
  pool_.run(n, [&](int64_t t, int) {
    float* pl = pl_.data() + t * n_all;
    float* tok = pl_tok_.data() + t * n_all;
    const auto* row =
        static_cast<const uint8_t*>(emb.data) + static_cast<size_t>(tokens[t]) * emb.row_bytes;
    // The type was checked at load and the id at decode(): this cannot fail.
    (void)dequantize_row(emb.type, row, tok, n_all);
    O.scale(pl, proj_scale, n_all);
    O.scale(tok, tok_scale, n_all);
    for (int64_t il = 0; il < hp.n_layer; ++il) {
      float* chunk = pl + il * npl;
      O.rmsnorm(chunk, model_.per_layer_proj_norm(), chunk, npl, hp.norm_eps);
    }
    O.add(pl, tok, n_all);
    O.scale(pl, out_scale, n_all);
  });
}

void Context::per_layer_block(int64_t il, int64_t n_rows, const int32_t* rows_to_tokens) {
  const ModelHParams& hp = model_.hparams();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd, npl = hp.n_embd_per_layer, n_all = hp.n_layer * npl;
  const Product g = {&L.pl_inp_gate, convert(0, L.pl_inp_gate.w.type, x_.data(), n_rows, d),
                     pl_gate_.data(), npl};
  run_products(&g, 1, n_rows, Stage::kMatmulUpGate);
  pool_.run(n_rows, [&](int64_t i, int) {
    // In the last layer the rows are compacted to the tokens that want logits.
    const int64_t t = rows_to_tokens != nullptr ? rows_to_tokens[i] : i;
    O.gelu_mul(pl_gate_.data() + i * npl, pl_.data() + t * n_all + il * npl, npl);
  });
  const Product p = {&L.pl_proj, convert(0, L.pl_proj.w.type, pl_gate_.data(), n_rows, npl),
                     o_.data(), d};
  run_products(&p, 1, n_rows, Stage::kMatmulDown);
  pool_.run(n_rows, [&](int64_t t, int) {
    float* o = o_.data() + t * d;
    O.rmsnorm(o, L.pl_post_norm, o, d, hp.norm_eps);
    O.add(x_.data() + t * d, o, d);
  });
}

}  // namespace ember::runtime
