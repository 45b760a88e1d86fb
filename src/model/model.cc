#include "model/model.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string_view>

#include <sys/mman.h>
#include <unistd.h>

#include "base/parallel.h"

#include "model/model_check.h"
#include "model/quant_recipe.h"
#include "tensor/quantize.h"

namespace ember::runtime {

Result<std::unique_ptr<Model>> Model::load(const std::string& path,
                                           const ModelLoadOptions& options) {
  GgufReadOptions read;
  read.use_mmap = options.use_mmap;
  Result<GgufFile> file = GgufFile::open(path, read);
  if (!file.ok()) return file.status().with_context(path);
  Result<std::unique_ptr<Model>> model =
      from_file_impl(std::move(file).value(), options, options.use_mmap);
  if (!model.ok()) return model.status().with_context(path);
  return model;
}

Result<std::unique_ptr<Model>> Model::from_file(GgufFile file, const ModelLoadOptions& options) {
  return from_file_impl(std::move(file), options, false);
}

Result<std::unique_ptr<Model>> Model::from_file_impl(GgufFile file, const ModelLoadOptions& options,
                                                     bool mapped) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  m->mapped_ = mapped;
  EMBER_ASSIGN_OR_RETURN(m->hp_, read_hparams(m->file_));
  EMBER_RETURN_IF_ERROR(check_tensor_types_supported(m->file_));
  EMBER_RETURN_IF_ERROR(check_model_tensors(m->file_, m->hp_));
  EMBER_RETURN_IF_ERROR(configure_architecture(m->file_, m->hp_, m->config_));
  EMBER_RETURN_IF_ERROR(is_encoder(m->hp_.arch) ? m->bind_encoder() : m->bind());
  EMBER_RETURN_IF_ERROR(m->bind_head());
  EMBER_RETURN_IF_ERROR(m->prepare(options, mapped));
  return m;
}

namespace {

// Binds a matrix tensor whose shape (row length first) is [cols, rows...]; every dimension after
// the first multiplies into the row count (3-D expert tensors stack their experts).
Result<kernels::Weights> bind_matrix(const GgufFile& file, const std::string& name) {
  const GgufTensorInfo* t = file.find_tensor(name);
  if (t == nullptr) return not_found("missing tensor '" + name + "'");
  if (t->shape.size() < 2) {
    return invalid_argument("tensor '" + name + "' must be a matrix, has " +
                            std::to_string(t->shape.size()) + " dimension(s)");
  }
  EMBER_RETURN_IF_ERROR(check_tensor_type_supported(t->type).with_context("tensor '" + name + "'"));
  kernels::Weights w;
  w.type = t->type;
  w.data = t->data;
  w.cols = t->shape[0];
  w.rows = t->n_rows();
  EMBER_ASSIGN_OR_RETURN(w.row_bytes, tensor_row_size(t->type, w.cols));
  if (static_cast<uint64_t>(w.row_bytes) * static_cast<uint64_t>(w.rows) != t->n_bytes) {
    return data_loss("tensor '" + name + "' size does not match its shape");
  }
  return w;
}

bool is_aligned(const void* p, size_t a) {
  return reinterpret_cast<uintptr_t>(p) % a == 0;
}

// Drops the whole pages inside [p, p + n) of a read-only file mapping from memory.
void release_mapped_range(const void* p, size_t n) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

Status Model::bind() {
  const ArchitectureTraits& traits = architecture_traits(hp_.arch);
  for (const GgufTensorInfo& t : file_.tensors()) weight_bytes_ += t.n_bytes;

  // 1-D F32 tensors are used in place when aligned; other float types are widened once.
  auto vec = [&](const std::string& name, int64_t n, bool required, const float** out) -> Status {
    *out = nullptr;
    const GgufTensorInfo* t = file_.find_tensor(name);
    if (t == nullptr) {
      if (required) return not_found("missing tensor '" + name + "'");
      return Status::Ok();
    }
    if (t->n_elements != n) {
      return invalid_argument("tensor '" + name + "' has " + std::to_string(t->n_elements) +
                              " values, expected " + std::to_string(n));
    }
    if (t->type == TensorType::kF32 && is_aligned(t->data, alignof(float))) {
      *out = reinterpret_cast<const float*>(t->data);
      return Status::Ok();
    }
    auto owned = std::make_unique<std::vector<float>>(static_cast<size_t>(n));
    EMBER_RETURN_IF_ERROR(
        dequantize_row(t->type, t->data, owned->data(), n).with_context("tensor '" + name + "'"));
    *out = owned->data();
    widened_.push_back(std::move(owned));
    return Status::Ok();
  };
  auto mat_view = [&](const std::string& name, int64_t rows, int64_t cols,
                      kernels::Weights* out) -> Status {
    EMBER_ASSIGN_OR_RETURN(*out, bind_matrix(file_, name));
    if (out->rows != rows || out->cols != cols) {
      return invalid_argument("tensor '" + name + "' is " + std::to_string(out->rows) + " x " +
                              std::to_string(out->cols) + ", expected " + std::to_string(rows) +
                              " x " + std::to_string(cols));
    }
    return kernels::check_weights(*out).with_context("tensor '" + name + "'");
  };
  auto mat = [&](const std::string& name, int64_t rows, int64_t cols, Linear* out) -> Status {
    return mat_view(name, rows, cols, &out->w);
  };
  // Row slices of a stacked [n * rows][cols] tensor (experts, or per-head matrices).
  auto slices = [&](const std::string& name, int64_t n, int64_t rows, int64_t cols,
                    std::vector<Linear>* out) -> Status {
    kernels::Weights all;
    EMBER_RETURN_IF_ERROR(mat_view(name, n * rows, cols, &all));
    out->resize(static_cast<size_t>(n));
    for (int64_t e = 0; e < n; ++e) {
      kernels::Weights& w = (*out)[static_cast<size_t>(e)].w;
      w = all;
      w.rows = rows;
      w.data =
          static_cast<const uint8_t*>(all.data) + static_cast<size_t>(e * rows) * all.row_bytes;
    }
    return Status::Ok();
  };
  auto experts = [&](const std::string& name, int64_t rows, int64_t cols,
                     std::vector<Linear>* out) -> Status {
    return slices(name, hp_.n_expert, rows, cols, out);
  };

  const int64_t d = hp_.n_embd;
  const bool gemma4 = hp_.arch == Architecture::kGemma4;
  EMBER_RETURN_IF_ERROR(mat_view("token_embd.weight", hp_.n_vocab, d, &token_embd_));
  if (hp_.n_embd_per_layer > 0) {
    const int64_t npl = hp_.n_embd_per_layer * hp_.n_layer;
    EMBER_RETURN_IF_ERROR(
        mat_view("per_layer_token_embd.weight", hp_.n_vocab, npl, &per_layer_tok_embd_));
    EMBER_RETURN_IF_ERROR(mat("per_layer_model_proj.weight", npl, d, &per_layer_model_proj_));
    EMBER_RETURN_IF_ERROR(
        vec("per_layer_proj_norm.weight", hp_.n_embd_per_layer, true, &per_layer_proj_norm_));
  }
  EMBER_RETURN_IF_ERROR(
      vec(hp_.arch == Architecture::kLfm2 ? "token_embd_norm.weight" : "output_norm.weight", d,
          true, &output_norm_));
  tied_output_ = file_.find_tensor("output.weight") == nullptr;
  if (tied_output_) {
    output_.w = token_embd_;
  } else {
    EMBER_RETURN_IF_ERROR(mat("output.weight", hp_.n_vocab, d, &output_));
  }

  layers_.resize(static_cast<size_t>(hp_.n_layer));
  for (int64_t il = 0; il < hp_.n_layer; ++il) {
    LayerWeights& L = layers_[static_cast<size_t>(il)];
    const std::string p = "blk." + std::to_string(il) + ".";
    const ModelHParams::LayerShape ls = hp_.layer_shape(il);
    // GLM-4.5 / DeepSeek: dense lead layers, then routed experts and the shared experts, which
    // run as the layer's dense branch (ffn_gate/up/down).
    auto bind_dense_lead_or_moe = [&](bool bias_required) -> Status {
      if (il < hp_.n_layer_dense_lead || !hp_.is_moe()) {
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate.weight", ls.n_ff, d, &L.ffn_gate));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_up.weight", ls.n_ff, d, &L.ffn_up));
        return mat(p + "ffn_down.weight", d, ls.n_ff, &L.ffn_down);
      }
      const int64_t ne = hp_.n_expert, nf = hp_.n_ff_exp, nfs = nf * hp_.n_expert_shared;
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate_inp.weight", ne, d, &L.ffn_gate_inp));
      EMBER_RETURN_IF_ERROR(vec(p + "exp_probs_b.bias", ne, bias_required, &L.exp_probs_b));
      EMBER_RETURN_IF_ERROR(experts(p + "ffn_gate_exps.weight", nf, d, &L.gate_exps));
      EMBER_RETURN_IF_ERROR(experts(p + "ffn_up_exps.weight", nf, d, &L.up_exps));
      EMBER_RETURN_IF_ERROR(experts(p + "ffn_down_exps.weight", d, nf, &L.down_exps));
      if (nfs > 0) {
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate_shexp.weight", nfs, d, &L.ffn_gate));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_up_shexp.weight", nfs, d, &L.ffn_up));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_down_shexp.weight", d, nfs, &L.ffn_down));
      }
      return Status::Ok();
    };
    if (hp_.arch == Architecture::kDeepseek2) {
      // Multi-head latent attention (model/hparams.h, runtime/mla.cc).
      const int64_t H = hp_.n_head, dq = hp_.head_dim_k_mla, dvm = hp_.head_dim_v_mla;
      const int64_t kv = hp_.n_lora_kv;
      EMBER_RETURN_IF_ERROR(vec(p + "attn_norm.weight", d, true, &L.attn_norm));
      if (hp_.n_lora_q > 0) {
        EMBER_RETURN_IF_ERROR(mat(p + "attn_q_a.weight", hp_.n_lora_q, d, &L.wq_a));
        EMBER_RETURN_IF_ERROR(vec(p + "attn_q_a_norm.weight", hp_.n_lora_q, true, &L.q_a_norm));
        EMBER_RETURN_IF_ERROR(mat(p + "attn_q_b.weight", H * dq, hp_.n_lora_q, &L.wq_b));
      } else {
        EMBER_RETURN_IF_ERROR(mat(p + "attn_q.weight", H * dq, d, &L.wq));
      }
      EMBER_RETURN_IF_ERROR(mat(p + "attn_kv_a_mqa.weight", kv + hp_.n_rot, d, &L.wkv_a_mqa));
      EMBER_RETURN_IF_ERROR(vec(p + "attn_kv_a_norm.weight", kv, true, &L.kv_a_norm));
      // [nope, kv, H] and [kv, dvm, H]: head h's matrix is rows [h * n, (h + 1) * n).
      EMBER_RETURN_IF_ERROR(slices(p + "attn_k_b.weight", H, kv, hp_.head_dim_nope_mla(), &L.wk_b));
      EMBER_RETURN_IF_ERROR(slices(p + "attn_v_b.weight", H, dvm, kv, &L.wv_b));
      EMBER_RETURN_IF_ERROR(mat(p + "attn_output.weight", d, H * dvm, &L.wo));
      EMBER_RETURN_IF_ERROR(vec(p + "ffn_norm.weight", d, true, &L.ffn_norm));
      EMBER_RETURN_IF_ERROR(bind_dense_lead_or_moe(false));
      continue;
    }
    const int64_t nq = hp_.n_head * ls.head_dim_k;
    const int64_t nk = ls.n_head_kv * ls.head_dim_k, nv = ls.n_head_kv * ls.head_dim_v;
    const bool own_kv = ls.kv_layer == il;
    EMBER_RETURN_IF_ERROR(vec(p + "attn_norm.weight", d, true, &L.attn_norm));
    if (hp_.arch == Architecture::kQwen35 || hp_.arch == Architecture::kQwen35Moe) {
      // Delta-net or gated full attention, then post_attention_norm as the FFN input norm.
      if (hp_.is_delta_net(il)) {
        const int64_t n_vh = hp_.ssm_dt_rank, cc = hp_.ssm_conv_channels();
        L.delta_net = true;
        EMBER_RETURN_IF_ERROR(mat(p + "attn_qkv.weight", cc, d, &L.wqkv));
        EMBER_RETURN_IF_ERROR(mat(p + "attn_gate.weight", hp_.ssm_d_inner, d, &L.ssm_z));
        EMBER_RETURN_IF_ERROR(mat(p + "ssm_alpha.weight", n_vh, d, &L.ssm_alpha));
        EMBER_RETURN_IF_ERROR(mat(p + "ssm_beta.weight", n_vh, d, &L.ssm_beta));
        EMBER_RETURN_IF_ERROR(mat(p + "ssm_out.weight", d, hp_.ssm_d_inner, &L.ssm_out));
        EMBER_RETURN_IF_ERROR(
            vec(p + "ssm_conv1d.weight", cc * hp_.ssm_d_conv, true, &L.ssm_conv1d));
        EMBER_RETURN_IF_ERROR(vec(p + "ssm_dt.bias", n_vh, true, &L.ssm_dt_bias));
        EMBER_RETURN_IF_ERROR(vec(p + "ssm_a", n_vh, true, &L.ssm_a));
        EMBER_RETURN_IF_ERROR(vec(p + "ssm_norm.weight", hp_.ssm_head_v_dim(), true, &L.ssm_norm));
      } else {
        // attn_q rows per head: [query(dk), gate(dk)].
        EMBER_RETURN_IF_ERROR(mat(p + "attn_q.weight", 2 * nq, d, &L.wq));
        EMBER_RETURN_IF_ERROR(mat(p + "attn_k.weight", nk, d, &L.wk));
        EMBER_RETURN_IF_ERROR(mat(p + "attn_v.weight", nv, d, &L.wv));
        EMBER_RETURN_IF_ERROR(vec(p + "attn_q_norm.weight", ls.head_dim_k, true, &L.q_norm));
        EMBER_RETURN_IF_ERROR(vec(p + "attn_k_norm.weight", ls.head_dim_k, true, &L.k_norm));
        EMBER_RETURN_IF_ERROR(mat(p + "attn_output.weight", d, hp_.n_head * ls.head_dim_v, &L.wo));
      }
      EMBER_RETURN_IF_ERROR(vec(p + "post_attention_norm.weight", d, true, &L.ffn_norm));
      if (!hp_.is_moe()) {
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate.weight", ls.n_ff, d, &L.ffn_gate));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_up.weight", ls.n_ff, d, &L.ffn_up));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_down.weight", d, ls.n_ff, &L.ffn_down));
        continue;
      }
      const int64_t ne = hp_.n_expert, nf = hp_.n_ff_exp, nfs = hp_.n_ff_shexp;
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate_inp.weight", ne, d, &L.ffn_gate_inp));
      EMBER_RETURN_IF_ERROR(experts(p + "ffn_gate_exps.weight", nf, d, &L.gate_exps));
      EMBER_RETURN_IF_ERROR(experts(p + "ffn_up_exps.weight", nf, d, &L.up_exps));
      EMBER_RETURN_IF_ERROR(experts(p + "ffn_down_exps.weight", d, nf, &L.down_exps));
      if (nfs > 0) {
        // The shared expert runs as the layer's dense branch, scaled by its sigmoid gate.
        EMBER_RETURN_IF_ERROR(vec(p + "ffn_gate_inp_shexp.weight", d, true, &L.shexp_gate));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate_shexp.weight", nfs, d, &L.ffn_gate));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_up_shexp.weight", nfs, d, &L.ffn_up));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_down_shexp.weight", d, nfs, &L.ffn_down));
      }
      continue;
    }
    if (hp_.arch == Architecture::kLfm2) {
      if (hp_.is_recurrent(il)) {
        EMBER_RETURN_IF_ERROR(mat(p + "shortconv.in_proj.weight", 3 * d, d, &L.shortconv_in));
        EMBER_RETURN_IF_ERROR(
            vec(p + "shortconv.conv.weight", hp_.conv_kernel * d, true, &L.shortconv_kernel));
        EMBER_RETURN_IF_ERROR(mat(p + "shortconv.out_proj.weight", d, d, &L.shortconv_out));
      } else {
        EMBER_RETURN_IF_ERROR(mat(p + "attn_q.weight", nq, d, &L.wq));
        EMBER_RETURN_IF_ERROR(mat(p + "attn_k.weight", nk, d, &L.wk));
        EMBER_RETURN_IF_ERROR(mat(p + "attn_v.weight", nv, d, &L.wv));
        EMBER_RETURN_IF_ERROR(vec(p + "attn_q_norm.weight", ls.head_dim_k, true, &L.q_norm));
        EMBER_RETURN_IF_ERROR(vec(p + "attn_k_norm.weight", ls.head_dim_k, true, &L.k_norm));
        EMBER_RETURN_IF_ERROR(mat(p + "attn_output.weight", d, hp_.n_head * ls.head_dim_v, &L.wo));
      }
      EMBER_RETURN_IF_ERROR(vec(p + "ffn_norm.weight", d, true, &L.ffn_norm));
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate.weight", ls.n_ff, d, &L.ffn_gate));
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_up.weight", ls.n_ff, d, &L.ffn_up));
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_down.weight", d, ls.n_ff, &L.ffn_down));
      continue;
    }
    if (traits.fused_qkv) {
      EMBER_RETURN_IF_ERROR(mat(p + "attn_qkv.weight", nq + nk + nv, d, &L.wqkv));
    } else {
      EMBER_RETURN_IF_ERROR(mat(p + "attn_q.weight", nq, d, &L.wq));
      if (own_kv) {
        EMBER_RETURN_IF_ERROR(mat(p + "attn_k.weight", nk, d, &L.wk));
        // Gemma 4 full-attention layers without attn_v use the K projection as V.
        if (!gemma4 || file_.find_tensor(p + "attn_v.weight") != nullptr) {
          EMBER_RETURN_IF_ERROR(mat(p + "attn_v.weight", nv, d, &L.wv));
        } else if (nk != nv) {
          return invalid_argument("layer " + std::to_string(il) +
                                  " has no attn_v and its K and V sizes differ");
        }
      }
    }
    // Biases: required by qwen2, honoured when present elsewhere.
    EMBER_RETURN_IF_ERROR(vec(p + "attn_q.bias", nq, traits.qkv_bias, &L.bq));
    EMBER_RETURN_IF_ERROR(vec(p + "attn_k.bias", nk, traits.qkv_bias, &L.bk));
    EMBER_RETURN_IF_ERROR(vec(p + "attn_v.bias", nv, traits.qkv_bias, &L.bv));
    EMBER_RETURN_IF_ERROR(vec(p + "attn_q_norm.weight", ls.head_dim_k, traits.qk_norm, &L.q_norm));
    EMBER_RETURN_IF_ERROR(
        vec(p + "attn_k_norm.weight", ls.head_dim_k, traits.qk_norm && own_kv, &L.k_norm));
    EMBER_RETURN_IF_ERROR(mat(p + "attn_output.weight", d, hp_.n_head * ls.head_dim_v, &L.wo));
    const bool gpt_oss = hp_.arch == Architecture::kGptOss;
    if (hp_.arch == Architecture::kLlama4) {
      EMBER_RETURN_IF_ERROR(vec(p + "ffn_norm.weight", d, true, &L.ffn_norm));
      const bool moe = hp_.n_moe_layer_step > 0 && (il + 1) % hp_.n_moe_layer_step == 0;
      if (!moe) {
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate.weight", ls.n_ff, d, &L.ffn_gate));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_up.weight", ls.n_ff, d, &L.ffn_up));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_down.weight", d, ls.n_ff, &L.ffn_down));
      } else {
        const int64_t ne = hp_.n_expert, nf = hp_.n_ff_exp;
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate_inp.weight", ne, d, &L.ffn_gate_inp));
        EMBER_RETURN_IF_ERROR(experts(p + "ffn_gate_exps.weight", nf, d, &L.gate_exps));
        EMBER_RETURN_IF_ERROR(experts(p + "ffn_up_exps.weight", nf, d, &L.up_exps));
        EMBER_RETURN_IF_ERROR(experts(p + "ffn_down_exps.weight", d, nf, &L.down_exps));
        // The shared expert runs as the layer's dense branch.
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate_shexp.weight", nf, d, &L.ffn_gate));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_up_shexp.weight", nf, d, &L.ffn_up));
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_down_shexp.weight", d, nf, &L.ffn_down));
      }
      continue;
    }
    if (hp_.arch == Architecture::kGlm4Moe) {
      EMBER_RETURN_IF_ERROR(vec(p + "post_attention_norm.weight", d, true, &L.ffn_norm));
      EMBER_RETURN_IF_ERROR(bind_dense_lead_or_moe(true));
      continue;
    }
    if (gpt_oss) {
      // Its FFN input norm is named post_attention_norm.
      const int64_t ne = hp_.n_expert, nf = hp_.n_ff_exp;
      EMBER_RETURN_IF_ERROR(vec(p + "post_attention_norm.weight", d, true, &L.ffn_norm));
      EMBER_RETURN_IF_ERROR(vec(p + "attn_output.bias", d, true, &L.bo));
      EMBER_RETURN_IF_ERROR(vec(p + "attn_sinks.weight", hp_.n_head, true, &L.sinks));
      EMBER_RETURN_IF_ERROR(vec(p + "ffn_gate_inp.bias", ne, true, &L.gate_inp_b));
      EMBER_RETURN_IF_ERROR(vec(p + "ffn_gate_exps.bias", ne * nf, true, &L.gate_exps_b));
      EMBER_RETURN_IF_ERROR(vec(p + "ffn_up_exps.bias", ne * nf, true, &L.up_exps_b));
      EMBER_RETURN_IF_ERROR(vec(p + "ffn_down_exps.bias", ne * d, true, &L.down_exps_b));
    } else {
      EMBER_RETURN_IF_ERROR(
          vec(p + "post_attention_norm.weight", d, traits.post_norms, &L.post_attn_norm));
      EMBER_RETURN_IF_ERROR(vec(p + "ffn_norm.weight", d, true, &L.ffn_norm));
    }
    EMBER_RETURN_IF_ERROR(vec(p + "post_ffw_norm.weight", d, traits.post_norms, &L.post_ffn_norm));
    if (gemma4) {
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate.weight", ls.n_ff, d, &L.ffn_gate));
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_up.weight", ls.n_ff, d, &L.ffn_up));
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_down.weight", d, ls.n_ff, &L.ffn_down));
      EMBER_RETURN_IF_ERROR(vec(p + "layer_output_scale.weight", 1, false, &L.out_scale));
      if (hp_.n_embd_per_layer > 0) {
        const int64_t npl = hp_.n_embd_per_layer;
        EMBER_RETURN_IF_ERROR(mat(p + "inp_gate.weight", npl, d, &L.pl_inp_gate));
        EMBER_RETURN_IF_ERROR(mat(p + "proj.weight", d, npl, &L.pl_proj));
        EMBER_RETURN_IF_ERROR(vec(p + "post_norm.weight", d, true, &L.pl_post_norm));
      }
      if (hp_.is_moe()) {
        const int64_t ne = hp_.n_expert, nf = hp_.n_ff_exp;
        EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate_inp.weight", ne, d, &L.ffn_gate_inp));
        EMBER_RETURN_IF_ERROR(vec(p + "ffn_gate_inp.scale", d, true, &L.gate_inp_scale));
        EMBER_RETURN_IF_ERROR(vec(p + "ffn_down_exps.scale", ne, true, &L.down_exps_scale));
        EMBER_RETURN_IF_ERROR(vec(p + "pre_ffw_norm_2.weight", d, true, &L.pre_ffn_norm_2));
        EMBER_RETURN_IF_ERROR(vec(p + "post_ffw_norm_1.weight", d, true, &L.post_ffn_norm_1));
        EMBER_RETURN_IF_ERROR(vec(p + "post_ffw_norm_2.weight", d, true, &L.post_ffn_norm_2));
        // [n_expert][2 * nf][n_embd], each expert's gate rows first, then its up rows.
        std::vector<Linear> fused;
        EMBER_RETURN_IF_ERROR(experts(p + "ffn_gate_up_exps.weight", 2 * nf, d, &fused));
        L.gate_exps.resize(static_cast<size_t>(ne));
        L.up_exps.resize(static_cast<size_t>(ne));
        for (int64_t e = 0; e < ne; ++e) {
          kernels::Weights g = fused[static_cast<size_t>(e)].w;
          g.rows = nf;
          kernels::Weights u = g;
          u.data = static_cast<const uint8_t*>(g.data) + static_cast<size_t>(nf) * g.row_bytes;
          L.gate_exps[static_cast<size_t>(e)].w = g;
          L.up_exps[static_cast<size_t>(e)].w = u;
        }
        EMBER_RETURN_IF_ERROR(experts(p + "ffn_down_exps.weight", d, nf, &L.down_exps));
      }
    } else if (hp_.is_moe()) {
      const int64_t ne = hp_.n_expert, nf = hp_.n_ff_exp;
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate_inp.weight", ne, d, &L.ffn_gate_inp));
      EMBER_RETURN_IF_ERROR(experts(p + "ffn_gate_exps.weight", nf, d, &L.gate_exps));
      EMBER_RETURN_IF_ERROR(experts(p + "ffn_up_exps.weight", nf, d, &L.up_exps));
      EMBER_RETURN_IF_ERROR(experts(p + "ffn_down_exps.weight", d, nf, &L.down_exps));
    } else if (traits.fused_gate_up) {
      // One [2 * n_ff][n_embd] tensor, gate rows first: bound as two row views.
      kernels::Weights fused;
      EMBER_RETURN_IF_ERROR(mat_view(p + "ffn_up.weight", 2 * ls.n_ff, d, &fused));
      L.ffn_gate.w = fused;
      L.ffn_gate.w.rows = ls.n_ff;
      L.ffn_up.w = L.ffn_gate.w;
      L.ffn_up.w.data =
          static_cast<const uint8_t*>(fused.data) + static_cast<size_t>(ls.n_ff) * fused.row_bytes;
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_down.weight", d, ls.n_ff, &L.ffn_down));
    } else {
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_gate.weight", ls.n_ff, d, &L.ffn_gate));
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_up.weight", ls.n_ff, d, &L.ffn_up));
      EMBER_RETURN_IF_ERROR(mat(p + "ffn_down.weight", d, ls.n_ff, &L.ffn_down));
    }
  }
  return Status::Ok();
}

Status Model::prepare(const ModelLoadOptions& options, bool release_source_pages) {
  isa_ = options.isa ? *options.isa : kernels::best_isa();
  numerics_ = options.numerics;
  if (!options.prepare) return Status::Ok();
  std::vector<Linear*> all;
  std::vector<kernels::WeightForm> forms;
  // The reference numerics mode (ember/numerics.h) reads the matrices of the types it covers in
  // place, in the reference's summation order, for every product of them (decoders and encoders).
  const bool reference = options.numerics == Numerics::kReference;
  // Decoders: every BF16 matrix (the runtime then converts all activations for BF16 weights
  // into the split layout: runtime/context.cc) in the on-the-fly split form, which reads the
  // 2-byte weights in place, so decoding streams the same bytes as the exact form. Not in the
  // reference numerics mode, which keeps the exact arithmetic for the types it does not cover.
  bf16_split_ = !is_encoder(hp_.arch) && options.decoder_split_bf16 && !reference &&
                kernels::split_bf16_fly_supported(isa_, TensorType::kBF16);
  // F16 matrices likewise (prompts on the tile unit, 1..15 tokens on FMA instructions that give
  // the tile unit's bits), where this CPU passed the start-up check that they do; opt-in
  // (ModelLoadOptions::decoder_split_f16 or EMBER_F16_TILES=1): batched decoding gets slower.
  const char* f16_env = std::getenv("EMBER_F16_TILES");
  const bool f16_wanted =
      options.decoder_split_f16 || (f16_env != nullptr && std::string_view(f16_env) == "1");
  f16_split_ = !is_encoder(hp_.arch) && f16_wanted && !reference &&
               isa_ == kernels::Isa::kAvx512Amx && kernels::split_bf16_fly_exact();
  auto add = [&](Linear& l, kernels::WeightForm form = kernels::WeightForm::kExact) {
    if (!l.present()) return;
    if (reference && kernels::reference_order_supported(l.w.type, l.w.rows)) {
      form = kernels::WeightForm::kReferenceOrder;
    }
    if ((bf16_split_ && l.w.type == TensorType::kBF16) ||
        (f16_split_ && l.w.type == TensorType::kF16)) {
      form = kernels::WeightForm::kSplitBf16Fly;
    }
    all.push_back(&l);
    forms.push_back(form);
  };
  // Encoders (bert, nomic-bert) multiply their layer matrices in the split-BF16 form where the
  // CPU has AMX-BF16 (kernels/matmul.h; docs/inference.md "Numerics"): the encoder runs every
  // product of those weights with it, whatever the token count. Decoders: BF16 matrices as above.
  const bool split = is_encoder(hp_.arch) && options.encoder_split_bf16;
  auto encoder_form = [&](const Linear& l) {
    return split && kernels::split_bf16_supported(isa_, l.w.type) ? kernels::WeightForm::kSplitBf16
                                                                  : kernels::WeightForm::kExact;
  };
  add(output_);
  add(cls_);
  add(cls_out_);
  add(per_layer_model_proj_);
  for (LayerWeights& L : layers_) {
    for (Linear* l : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
      add(*l, encoder_form(*l));
    }
    for (Linear* l :
         {&L.ffn_gate_inp, &L.pl_inp_gate, &L.pl_proj, &L.wq_a, &L.wq_b, &L.wkv_a_mqa,
          &L.shortconv_in, &L.shortconv_out, &L.ssm_z, &L.ssm_alpha, &L.ssm_beta, &L.ssm_out}) {
      add(*l);
    }
    for (auto* v : {&L.gate_exps, &L.up_exps, &L.down_exps, &L.wk_b, &L.wv_b}) {
      for (Linear& l : *v) add(l);
    }
  }
  // The packed copies are what the kernels read: each tensor's mapped pages go back to the OS
  // as soon as it is packed (they are file-backed and reload when touched again), so the file
  // and the packed copies are never resident together: the peak stays near the packed size
  // instead of file + packed. That includes a tied token embedding, whose packing read all of
  // it: lookups fault back in only the rows they use. Only whole pages inside a tensor are
  // released, so a neighbour that is still to be packed (or read in place) keeps its bytes, and
  // a dropped page that something does read again is simply reloaded from the file.
  const int threads = options.n_threads > 0 ? options.n_threads : hardware_threads();
  std::mutex progress_mu;
  size_t done = 0;
  EMBER_RETURN_IF_ERROR(parallel_for(
      static_cast<int64_t>(all.size()), threads, [&](int64_t begin, int64_t end) -> Status {
        for (int64_t i = begin; i < end; ++i) {
          Linear& l = *all[static_cast<size_t>(i)];
          EMBER_ASSIGN_OR_RETURN(
              l.prepared, kernels::prepare_weights(isa_, l.w, forms[static_cast<size_t>(i)]));
          if (release_source_pages && l.prepared.packed())
            release_mapped_range(l.w.data, static_cast<size_t>(l.w.rows) * l.w.row_bytes);
          if (options.progress) {
            std::lock_guard<std::mutex> lock(progress_mu);
            options.progress(++done, all.size());
          }
        }
        return Status::Ok();
      }));
  for (const Linear* l : all) packed_bytes_ += l->prepared.packed_bytes();
  return Status::Ok();
}

void Model::release_token_embd_pages() const {
  if (!mapped_ || token_embd_.data == nullptr) return;
  release_mapped_range(token_embd_.data,
                       static_cast<size_t>(token_embd_.rows) * token_embd_.row_bytes);
}

std::string Model::main_type_name() const {
  if (const GgufValue* ft = file_.find("general.file_type"); ft != nullptr) {
    if (auto v = ft->as_uint(); v.ok()) {
      for (const QuantPreset& p : quant_presets()) {
        if (p.file_type == *v) return std::string(p.name);
      }
    }
  }
  std::map<TensorType, uint64_t> bytes;
  for (const GgufTensorInfo& t : file_.tensors()) {
    if (t.shape.size() >= 2) bytes[t.type] += t.n_bytes;
  }
  TensorType best = TensorType::kF32;
  uint64_t most = 0;
  for (const auto& [type, n] : bytes) {
    if (n > most) {
      most = n;
      best = type;
    }
  }
  return tensor_type_name(best);
}

uint64_t Model::n_params() const {
  uint64_t params = 0;
  for (const GgufTensorInfo& t : file_.tensors()) params += static_cast<uint64_t>(t.n_elements);
  return params;
}

std::string Model::description() const {
  const uint64_t params = n_params();
  char size[32];
  if (params >= 1000000000) {
    std::snprintf(size, sizeof size, "%.2fB", static_cast<double>(params) / 1e9);
  } else {
    std::snprintf(size, sizeof size, "%.1fM", static_cast<double>(params) / 1e6);
  }
  return std::string(architecture_traits(hp_.arch).name) + " " + size + " " + main_type_name();
}

}  // namespace ember::runtime
