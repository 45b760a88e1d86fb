#include "model/synth.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "base/parallel.h"
#include "gguf/gguf.h"
#include "model/tensor_layout.h"
#include "tensor/quantize.h"

namespace ember {
namespace {

// Counter-based generator: every (tensor, row) pair gets its own stream, so the output does not
// depend on how rows are split across threads.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Fills `out` with normally distributed values (Box-Muller), mean 0, standard deviation `stddev`.
void fill_gaussian(uint64_t stream, float stddev, std::vector<float>& out) {
  uint64_t state = stream;
  for (size_t i = 0; i < out.size(); i += 2) {
    const double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1p-53;  // (0, 1]
    const double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(r * std::cos(2.0 * M_PI * u2) * stddev);
    if (i + 1 < out.size()) out[i + 1] = static_cast<float>(r * std::sin(2.0 * M_PI * u2) * stddev);
  }
}

// A SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte-fallback tokens, then
// pieces made of lower-case letters (word-initial ones start with U+2581), shorter pieces first,
// with scores decreasing so that earlier pieces are preferred.
void write_generated_vocab(int64_t n_vocab, GgufWriter& w) {
  const size_t want = static_cast<size_t>(n_vocab);
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int64_t> types = {2, 3, 3};  // unknown, control, control
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.emplace_back(buf);
    types.push_back(6);  // byte
  }
  std::vector<double> scores(tokens.size(), 0.0);
  std::set<std::string> seen;
  auto add = [&](const std::string& piece) {
    if (tokens.size() >= want || !seen.insert(piece).second) return;
    tokens.push_back(piece);
    types.push_back(1);  // normal
    scores.push_back(-static_cast<double>(tokens.size()));
  };
  const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's word-boundary marker
  const std::string letters = "etaoinshrdlucmfwypvbgkjqxz";
  add(space);
  for (char c : std::string(".,!?'-:;0123456789")) add(std::string(1, c));
  std::vector<std::string> level;
  for (char c : letters) level.push_back(std::string(1, c));
  // Each level extends the previous one by a letter; word-initial variants are added alongside.
  while (tokens.size() < want && !level.empty()) {
    for (const std::string& p : level) {
      add(space + p);
      add(p);
    }
    std::vector<std::string> next;
    for (const std::string& p : level) {
      for (char c : letters) {
        if (next.size() + tokens.size() > 2 * want) break;
        next.push_back(p + c);
      }
    }
    level = std::move(next);
  }
  w.set("tokenizer.ggml.model", GgufValue::string("llama"));
  w.set("tokenizer.ggml.pre", GgufValue::string("default"));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(std::move(tokens)));
  w.set("tokenizer.ggml.scores", GgufValue::float_array(GgufType::kF32, std::move(scores)));
  w.set("tokenizer.ggml.token_type", GgufValue::int_array(GgufType::kI32, std::move(types)));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(0));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
}

// Standard deviation of a tensor's initial values: matrices scaled by 1/sqrt(fan-in) so that
// activations stay of order one through the layers.
float init_stddev(TensorRole role, int64_t row_len) {
  switch (role) {
    case TensorRole::kNorm: return 0.1f;
    case TensorRole::kBias: return 0.02f;
    case TensorRole::kTokenEmbedding: return 1.0f;
    default: return 1.0f / std::sqrt(static_cast<float>(row_len));
  }
}

}  // namespace

ModelHParams default_synth_hparams(Architecture arch) {
  ModelHParams hp;
  hp.arch = arch;
  hp.n_ctx_train = 2048;
  hp.n_embd = 256;
  hp.n_layer = 2;
  hp.n_head = 4;
  hp.n_head_kv = 2;
  hp.n_ff = 512;
  hp.n_vocab = 4096;
  hp.head_dim_k = hp.head_dim_v = 64;
  hp.n_rot = 64;
  hp.norm_eps = 1e-5f;
  switch (arch) {
    case Architecture::kLlama: hp.rope_freq_base = 10000.0f; break;
    case Architecture::kQwen2:
    case Architecture::kQwen3: hp.rope_freq_base = 1000000.0f; hp.norm_eps = 1e-6f; break;
    case Architecture::kQwen3Moe:
      hp.rope_freq_base = 1000000.0f;
      hp.norm_eps = 1e-6f;
      hp.n_expert = 8;
      hp.n_expert_used = 2;
      hp.n_ff_exp = 256;
      break;
    case Architecture::kPhi3: hp.n_head_kv = hp.n_head; break;
    case Architecture::kGemma2:
      hp.norm_eps = 1e-6f;
      hp.sliding_window = 16;
      hp.attn_softcap = 50.0f;
      hp.final_softcap = 30.0f;
      break;
    case Architecture::kGemma3:
      hp.norm_eps = 1e-6f;
      hp.n_layer = 6;
      hp.sliding_window = 16;
      hp.rope_freq_base = 1000000.0f;
      hp.rope_freq_base_swa = 10000.0f;
      break;
    case Architecture::kLlama4:
      hp.n_expert = 4;
      hp.n_expert_used = 1;
      hp.n_ff_exp = 256;
      hp.n_moe_layer_step = 2;
      break;
    case Architecture::kDeepseek2:
      // DeepSeek V3 in miniature: MLA (latent 128 + RoPE 32, heads of 64 + 32), one dense layer,
      // then 8 experts in 4 groups (top-2 from the best 2) and a shared expert.
      hp.norm_eps = 1e-6f;
      hp.n_head_kv = 1;
      hp.n_lora_q = 128;
      hp.n_lora_kv = 128;
      hp.n_rot = 32;
      hp.head_dim_k_mla = 96;
      hp.head_dim_v_mla = 64;
      hp.head_dim_k = hp.n_lora_kv + hp.n_rot;
      hp.head_dim_v = hp.n_lora_kv;
      hp.n_expert = 8;
      hp.n_expert_used = 2;
      hp.n_ff_exp = 256;
      hp.n_layer_dense_lead = 1;
      hp.n_expert_shared = 1;
      hp.n_expert_groups = 4;
      hp.n_group_used = 2;
      break;
    case Architecture::kGlm4Moe:
      hp.n_expert = 8;
      hp.n_expert_used = 2;
      hp.n_ff_exp = 256;
      break;
    case Architecture::kGptOss:
      hp.n_ctx_train = 131072;
      hp.n_expert = 8;
      hp.n_expert_used = 4;
      hp.n_ff = hp.n_ff_exp = 256;
      hp.sliding_window = 128;
      hp.rope_freq_base = 150000.0f;
      hp.rope_scaling = RopeScalingType::kYarn;
      hp.rope_scaling_factor = 32.0f;
      hp.rope_scaling_orig_ctx = 4096;
      break;
    case Architecture::kMistral3:
    case Architecture::kSmollm3:
    case Architecture::kGranite:
      hp.rope_freq_base = 1000000.0f;
      break;
    case Architecture::kGemma4:
      hp.norm_eps = 1e-6f;
      hp.n_layer = 5;
      hp.sliding_window = 512;
      hp.rope_freq_base = 1000000.0f;
      hp.rope_freq_base_swa = 10000.0f;
      hp.final_softcap = 30.0f;
      hp.n_embd_per_layer = 32;
      (void)set_gemma4_layers(hp, 3, 2);  // valid for these 5 layers
      break;
    case Architecture::kQwen35:
    case Architecture::kQwen35Moe:
      // Qwen 3.5 style: delta-net, full attention alternating (interval 2 here), NeoX RoPE on a
      // quarter of the head, q/k heads of 32 tiled over twice as many v heads.
      hp.rope_freq_base = 10000000.0f;
      hp.norm_eps = 1e-6f;
      hp.n_layer = 4;
      hp.n_rot = 16;
      hp.full_attn_interval = 2;
      hp.ssm_d_conv = 4;
      hp.ssm_d_state = 32;
      hp.ssm_n_group = 2;
      hp.ssm_dt_rank = 4;
      hp.ssm_d_inner = 128;
      if (arch == Architecture::kQwen35Moe) {
        hp.n_expert = 8;
        hp.n_expert_used = 2;
        hp.n_ff_exp = 128;
        hp.n_ff_shexp = 256;
      }
      break;
    case Architecture::kLfm2:
      // Layer kinds are set by synthesize_model from the final layer count and width.
      hp.rope_freq_base = 1000000.0f;
      hp.n_layer = 4;
      hp.conv_kernel = 3;
      break;
    case Architecture::kBert:
    case Architecture::kNomicBert:
      hp.n_ctx_train = 512;
      hp.n_head_kv = hp.n_head;
      hp.norm_eps = 1e-12f;
      hp.rope_freq_base = 1000.0f;
      break;
  }
  return hp;
}

Status set_gemma4_layers(ModelHParams& hp, int64_t swa_period, int64_t shared_kv_layers) {
  if (hp.n_layer <= 0) return invalid_argument("gemma4 layers: no layers");
  if (swa_period < 0) return invalid_argument("gemma4 layers: negative sliding-window period");
  hp.swa_layers.assign(static_cast<size_t>(hp.n_layer), 0);
  for (int64_t il = 0; il + 1 < hp.n_layer; ++il) {
    hp.swa_layers[static_cast<size_t>(il)] = swa_period > 0 && il % swa_period != swa_period - 1;
  }
  if (hp.head_dim_k_swa == 0) hp.head_dim_k_swa = std::max<int64_t>(hp.head_dim_k / 2, 2);
  if (hp.head_dim_v_swa == 0) hp.head_dim_v_swa = hp.head_dim_k_swa;
  if (hp.n_rot_swa == 0) hp.n_rot_swa = hp.head_dim_k_swa;
  auto all_find_cache = [&](int64_t shared) {
    hp.shared_kv_layers = shared;
    for (int64_t il = hp.n_layer - shared; il < hp.n_layer; ++il) {
      if (hp.layer_shape(il).kv_layer < 0) return false;
    }
    return true;
  };
  if (shared_kv_layers < 0) {
    int64_t s = hp.n_layer * 2 / 5;
    while (s > 0 && !all_find_cache(s)) --s;
    hp.shared_kv_layers = s;
    return Status::Ok();
  }
  if (shared_kv_layers >= hp.n_layer || !all_find_cache(shared_kv_layers)) {
    return invalid_argument("gemma4 layers: " + std::to_string(shared_kv_layers) +
                            " shared-KV layers leave a layer without an earlier cache of its kind");
  }
  return Status::Ok();
}

namespace {

// Whether a synthesized model gets an optional tensor of the layout (what released files have).
bool write_optional(const ModelHParams& hp, const TensorSpec& spec) {
  if (hp.arch != Architecture::kGemma4) return false;
  if (spec.role == TensorRole::kAttnV) {
    // The MoE model's full-attention layers use the K projection as V.
    return !hp.is_moe() || hp.layer_shape(spec.layer).sliding;
  }
  return spec.role == TensorRole::kRopeFreqs || spec.name.ends_with("layer_output_scale.weight");
}

// Proportional RoPE (Gemma 4's full layers): the first quarter of the dimension pairs rotate at
// their usual frequencies (factor 1), the others not at all (a factor of 1e30 divides their
// frequency to 0).
void fill_rope_freqs(std::vector<float>& row) {
  for (size_t i = 0; i < row.size(); ++i) row[i] = i < row.size() / 4 ? 1.0f : 1e30f;
}

}  // namespace

Status synthesize_model(const SynthOptions& options, const std::string& out_path) {
  ModelHParams hp = options.hparams;
  if (hp.arch == Architecture::kLfm2) {
    // Convolution and attention layers alternate (conv first); a convolution layer has no KV
    // heads and keeps (kernel - 1) * n_embd floats of recurrent state per sequence.
    if (hp.conv_kernel <= 0) hp.conv_kernel = 3;
    const auto n = static_cast<size_t>(std::max<int64_t>(hp.n_layer, 0));
    hp.n_head_kv_arr.assign(n, 0);
    hp.recurrent_conv.assign(n, 0);
    hp.recurrent_ssm.assign(n, 0);
    for (size_t il = 0; il < n; ++il) {
      if (il % 2 == 1) {
        hp.n_head_kv_arr[il] = hp.n_head_kv;
      } else {
        hp.recurrent_conv[il] = (hp.conv_kernel - 1) * hp.n_embd;
      }
    }
  }
  GgufWriter w;
  if (!options.vocab_from.empty()) {
    EMBER_ASSIGN_OR_RETURN(GgufFile vocab, GgufFile::open(options.vocab_from));
    const GgufValue* tokens = vocab.find("tokenizer.ggml.tokens");
    if (tokens == nullptr || !tokens->is_array() || tokens->array_size() == 0) {
      return invalid_argument("'" + options.vocab_from + "' has no tokenizer.ggml.tokens array");
    }
    hp.n_vocab = static_cast<int64_t>(tokens->array_size());
    // Written after the hyper-parameters below; collected now so the file can be closed.
    std::vector<std::pair<std::string, GgufValue>> tok;
    for (const auto& [k, v] : vocab.metadata()) {
      if (k.rfind("tokenizer.", 0) == 0) tok.emplace_back(k, v);
    }
    EMBER_RETURN_IF_ERROR(hp.validate());
    write_hparams(hp, w);
    for (auto& [k, v] : tok) w.set(k, std::move(v));
  } else {
    if (hp.n_vocab < 259 + 64) {
      return invalid_argument("a generated vocabulary needs at least 323 tokens, got " +
                              std::to_string(hp.n_vocab));
    }
    EMBER_RETURN_IF_ERROR(hp.validate());
    write_hparams(hp, w);
    write_generated_vocab(hp.n_vocab, w);
  }
  w.set("general.name", GgufValue::string(options.name));
  if (hp.arch == Architecture::kDeepseek2 && hp.is_moe()) {
    // DeepSeek V3 routing: sigmoid scores, normalised, scaled (model/arch/deepseek2.cc).
    w.set("deepseek2.expert_gating_func", GgufValue::u32(2));
    w.set("deepseek2.expert_weights_norm", GgufValue::boolean(true));
    w.set("deepseek2.expert_weights_scale", GgufValue::f32(2.5f));
  }
  if (is_encoder(hp.arch)) {
    // Embedding models name their pooling: CLS for bert (BGE-style), mean for nomic-bert.
    const std::string prefix(architecture_traits(hp.arch).name);
    w.set(prefix + ".pooling_type", GgufValue::u32(hp.arch == Architecture::kBert ? 2 : 1));
    w.set(prefix + ".attention.causal", GgufValue::boolean(false));
  }
  w.set("general.file_type", GgufValue::u32(options.preset.file_type));
  w.set("general.quantization_version", GgufValue::u32(2));

  const bool tied = options.tied_output || architecture_traits(hp.arch).never_has_output;
  const std::vector<TensorSpec> layout = model_tensor_layout(hp, tied);
  QuantRecipeContext ctx;
  ctx.n_layer = hp.n_layer;
  ctx.n_gqa = hp.n_head / hp.n_head_kv;
  ctx.n_expert = hp.n_expert;
  ctx.has_output = !tied;
  ctx.pure = options.pure;
  const int n_threads = options.n_threads > 0 ? options.n_threads : hardware_threads();
  const size_t total = layout.size();
  auto done = std::make_shared<size_t>(0);
  for (size_t ti = 0; ti < layout.size(); ++ti) {
    const TensorSpec& spec = layout[ti];
    // e.g. RoPE factors: the model runs without them
    if (spec.optional && !write_optional(hp, spec)) continue;
    const bool rope_freqs = spec.role == TensorRole::kRopeFreqs;
    const TensorType type =
        choose_tensor_type(options.preset, spec.name, spec.role, spec.layer, spec.shape, ctx)
            .value_or(TensorType::kF32);
    int64_t n_rows = 1;
    for (size_t d = 1; d < spec.shape.size(); ++d) n_rows *= spec.shape[d];
    const int64_t row_len = spec.shape[0];
    const float stddev = init_stddev(spec.role, row_len);
    const bool is_norm = spec.role == TensorRole::kNorm;
    // Delta-net decays (ssm_a = -exp(A_log)) must be negative, or the state grows without bound.
    const bool negative = spec.name.ends_with(".ssm_a");
    const uint64_t tensor_stream = options.seed * 0x100000001b3ull + ti * 0x9e3779b97f4a7c15ull;
    EMBER_RETURN_IF_ERROR(w.add_tensor(
        spec.name, type, spec.shape,
        [=, &options](std::span<uint8_t> dst) -> Status {
          EMBER_ASSIGN_OR_RETURN(const size_t row_bytes, tensor_row_size(type, row_len));
          EMBER_RETURN_IF_ERROR(parallel_for(n_rows, n_threads, [&](int64_t b, int64_t e) -> Status {
            std::vector<float> row(static_cast<size_t>(row_len));
            for (int64_t r = b; r < e; ++r) {
              uint64_t s = tensor_stream + static_cast<uint64_t>(r);
              fill_gaussian(splitmix64(s), stddev, row);
              if (negative) {
                for (float& v : row) v = -std::exp(v);
              } else if (is_norm) {
                for (float& v : row) v += 1.0f;
              }
              if (rope_freqs) fill_rope_freqs(row);
              EMBER_RETURN_IF_ERROR(
                  quantize_row(type, row.data(), dst.data() + static_cast<size_t>(r) * row_bytes, row_len));
            }
            return Status::Ok();
          }));
          if (options.progress) options.progress(++*done, total, spec.name, type);
          return Status::Ok();
        }));
  }
  return w.write_file(out_path);
}

}  // namespace ember
