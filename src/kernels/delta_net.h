// Kernels of the gated delta-net layer (qwen35; runtime/delta_net.cc runs them), written for one
// sequence and one token at a time: the state is plain memory the caller owns and keeps per
// sequence. Every output element is computed with the same arithmetic whatever the batch, the
// thread or the slice it belongs to, so a prompt evaluated in one batch and token by token gives
// the same bits.
//
// The gated delta rule, per value head, with a state S of [dv][dk] (row j belongs to value
// dimension j; the reference stores it the same way), for one token with query q [dk] (already
// L2-normalised and scaled), key k [dk] (L2-normalised), value v [dv], decay g (a log factor,
// g <= 0) and write strength beta in (0, 1):
//   S    = exp(g) * S                        decay the whole state
//   d[j] = beta * (v[j] - sum_i S[j][i] k[i]) the delta between v and what S recalls for k
//   S[j][i] += k[i] * d[j]                   write it back
//   o[j] = sum_i S[j][i] q[i]                read the updated state with q
// which is S_t = exp(g) S_{t-1} (I - beta k k^T) + beta v k^T, o_t = S_t q.
#pragma once

#include <cstdint>

namespace ember::kernels {

// Causal depthwise convolution of one token for channels [c0, c1) of `channels`: with `state`
// holding the previous kernel - 1 inputs, oldest first ([kernel - 1][channels]), and taps w
// ([channels][kernel], the tap of the oldest input first),
//   y[c] = sum_{t < kernel - 1} w[c][t] * state[t][c] + w[c][kernel - 1] * x[c]
// summed from the oldest input on; then the state shifts by one input and takes x.
void ssm_conv_token(float* state, const float* x, const float* w, float* y, int64_t c0, int64_t c1,
                    int64_t channels, int64_t kernel);

// x[i] = x[i] / (1 + exp(-x[i])) (SiLU), in place.
void silu_inplace(float* x, int64_t n);

// x[i] *= 1 / max(sqrt(sum x^2), eps), the squares summed in double.
void l2_normalize(float* x, int64_t n, float eps);

// log(1 + exp(x)), = x above 20 (where the two agree in float).
float softplus(float x);

// One gated delta-rule step for one value head (see above); o may not alias the inputs.
void gated_delta_step(float* state, const float* q, const float* k, const float* v, float g,
                      float beta, float* o, int64_t dk, int64_t dv);

}  // namespace ember::kernels
