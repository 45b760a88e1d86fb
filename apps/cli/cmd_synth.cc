// `ember synth --arch A [shape flags] [--vocab-from FILE] --type T -o OUT`
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "base/parallel.h"
#include "commands.h"
#include "progress.h"
#include "model/synth.h"
#include "tensor/quantize.h"

namespace ember::cli {
namespace {

struct SynthArgs {
  std::string arch = "llama";
  int64_t n_embd = -1, n_layer = -1, n_head = -1, n_head_kv = -1, n_ff = -1, n_vocab = -1;
  int64_t head_dim = -1, n_ctx = -1, experts = -1, experts_used = -1, n_ff_exp = -1;
  int64_t window = -1, swa_period = -1, shared_kv = -2, head_dim_swa = -1, n_embd_per_layer = -1;
  // Gated delta-net hybrids (qwen35, qwen35moe).
  int64_t full_attn_interval = -1, ssm_groups = -1, ssm_v_heads = -1, ssm_head_dim = -1;
  int64_t n_ff_shexp = -1;
  std::string vocab_from;
  std::string type = "f16";
  std::string out;
  uint64_t seed = 42;
  int threads = 0;
  bool tied = false, untied = false, pure = false;
  bool quiet = false;
};

// Hard limits so a typo cannot ask for petabytes.
constexpr int64_t kMaxDim = 1 << 20;

int run_synth(const SynthArgs& a) {
  const auto arch = architecture_from_name(a.arch);
  if (!arch) {
    return report_error("unknown architecture '" + a.arch + "' (" + supported_architecture_names() +
                        ")");
  }
  ModelHParams hp = default_synth_hparams(*arch);
  auto set = [](int64_t v, int64_t& field) { if (v >= 0) field = v; };
  set(a.n_embd, hp.n_embd);
  set(a.n_layer, hp.n_layer);
  set(a.n_head, hp.n_head);
  if (a.n_head >= 0 && a.n_head_kv < 0 && (*arch == Architecture::kPhi3 || is_encoder(*arch))) {
    hp.n_head_kv = hp.n_head;
  }
  set(a.n_head_kv, hp.n_head_kv);
  set(a.n_ff, hp.n_ff);
  set(a.n_vocab, hp.n_vocab);
  set(a.n_ctx, hp.n_ctx_train);
  set(a.experts, hp.n_expert);
  set(a.experts_used, hp.n_expert_used);
  set(a.n_ff_exp, hp.n_ff_exp);
  if (hp.n_expert > 0 && hp.n_ff_exp == 0) hp.n_ff_exp = hp.n_ff;
  if (hp.n_expert > 0 && hp.n_expert_used == 0) hp.n_expert_used = std::min<int64_t>(2, hp.n_expert);
  for (int64_t v : {hp.n_embd, hp.n_layer, hp.n_head, hp.n_head_kv, hp.n_ff, hp.n_vocab, hp.n_expert, hp.n_ff_exp}) {
    if (v > kMaxDim * 4) return report_error("dimension " + std::to_string(v) + " is too large (limit " + std::to_string(kMaxDim * 4) + ")");
  }
  if (hp.n_head <= 0) return report_error("--n-head must be positive");
  int64_t head = -1;
  if (a.head_dim >= 0) {
    head = a.head_dim;
  } else if (a.n_embd >= 0 || a.n_head >= 0) {
    if (hp.n_embd % hp.n_head != 0) {
      return report_error("--n-embd " + std::to_string(hp.n_embd) + " is not a multiple of --n-head " +
                          std::to_string(hp.n_head) + " (give --head-dim)");
    }
    head = hp.n_embd / hp.n_head;
  }
  if (hp.is_mla()) {
    // Multi-head latent attention in DeepSeek V3's proportions: nope and V parts of `head`
    // values, RoPE head / 2, latent 4 heads, query bottleneck 12 heads; one cached KV head.
    if (head >= 0) {
      if (head <= 0 || head % 4 != 0) return report_error("the head size must be a positive multiple of 4");
      hp.n_rot = head / 2;
      hp.head_dim_k_mla = head + hp.n_rot;
      hp.head_dim_v_mla = head;
      hp.n_lora_kv = 4 * head;
      hp.n_lora_q = 12 * head;
    }
    hp.n_head_kv = 1;
    hp.head_dim_k = hp.n_lora_kv + hp.n_rot;
    hp.head_dim_v = hp.n_lora_kv;
  } else {
    if (head >= 0) hp.head_dim_k = hp.head_dim_v = head;
    hp.n_rot = hp.head_dim_k;
  }
  if (hp.n_expert_groups > 1 &&
      (hp.n_expert % hp.n_expert_groups != 0 ||
       hp.n_expert_used > hp.n_group_used * (hp.n_expert / hp.n_expert_groups))) {
    hp.n_expert_groups = hp.n_group_used = 0;  // the expert count no longer splits into groups
  }
  set(a.window, hp.sliding_window);
  if (*arch == Architecture::kGemma4) {
    set(a.n_embd_per_layer, hp.n_embd_per_layer);
    // A shape other than the default: rebuild the per-layer layout (period 5 unless given).
    if (a.n_layer >= 0 || a.n_embd >= 0 || a.n_head >= 0 || a.head_dim >= 0 ||
        a.head_dim_swa >= 0 || a.swa_period >= 0 || a.shared_kv != -2) {
      hp.head_dim_k_swa = hp.head_dim_v_swa = hp.n_rot_swa =
          a.head_dim_swa >= 0 ? a.head_dim_swa : 0;
      Status s = set_gemma4_layers(hp, a.swa_period >= 0 ? a.swa_period : 5,
                                   a.shared_kv != -2 ? a.shared_kv : -1);
      if (!s.ok()) return report_error(s);
    }
  } else if (a.swa_period >= 0 || a.shared_kv != -2 || a.head_dim_swa >= 0 ||
             a.n_embd_per_layer >= 0) {
    return report_error(
        "--swa-period, --shared-kv-layers, --head-dim-swa and --n-embd-per-layer "
        "are for --arch gemma4");
  }
  if (hp.full_attn_interval > 0) {
    // qwen35: RoPE on a quarter of the head (Qwen 3.5's partial rotary factor); delta-net heads
    // of --ssm-head-dim values for q/k and v.
    hp.n_rot = std::max<int64_t>(2, hp.head_dim_k / 4 / 2 * 2);
    set(a.full_attn_interval, hp.full_attn_interval);
    set(a.ssm_groups, hp.ssm_n_group);
    set(a.ssm_v_heads, hp.ssm_dt_rank);
    set(a.ssm_head_dim, hp.ssm_d_state);
    set(a.n_ff_shexp, hp.n_ff_shexp);
    for (int64_t v : {hp.full_attn_interval, hp.ssm_n_group, hp.ssm_dt_rank, hp.ssm_d_state}) {
      if (v <= 0 || v > 4096) return report_error("delta-net sizes must be in [1, 4096]");
    }
    hp.ssm_d_inner = hp.ssm_dt_rank * hp.ssm_d_state;
  } else if (a.full_attn_interval >= 0 || a.ssm_groups >= 0 || a.ssm_v_heads >= 0 ||
             a.ssm_head_dim >= 0 || a.n_ff_shexp >= 0) {
    return report_error("--full-attn-interval and the --ssm-* flags are for qwen35 / qwen35moe");
  }

  SynthOptions opts;
  opts.hparams = hp;
  if (auto preset = find_quant_preset(a.type)) {
    opts.preset = *preset;
    opts.pure = a.pure;
  } else if (auto t = tensor_type_from_name(a.type); t && can_quantize(*t)) {
    opts.preset = QuantPreset{"custom", 0, *t};
    opts.pure = true;
  } else {
    return report_error("unknown or unsupported --type '" + a.type + "'");
  }
  if (a.tied && a.untied) return report_error("--tied-output and --untied-output exclude each other");
  opts.tied_output = a.tied || (!a.untied && architecture_traits(*arch).tied_by_default);
  opts.vocab_from = a.vocab_from;
  opts.seed = a.seed;
  if (a.threads < 0) return report_error("--threads must be >= 0");
  opts.n_threads = a.threads > 0 ? a.threads : hardware_threads();
  opts.name = "synth-" + a.arch;
  Progress bar({.label = "synth",
                .unit = "tensors",
                .style = a.quiet ? Progress::Style::kQuiet : Progress::Style::kAuto});
  opts.progress = [&bar](size_t done, size_t total, const std::string& name, TensorType) {
    bar.update(done, total, name);
  };
  const auto start = std::chrono::steady_clock::now();
  Status s = synthesize_model(opts, a.out);
  bar.finish();  // ends the bar's line before any message
  if (!s.ok()) return report_error(s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "wrote %s (%s, %lld layers, n_embd %lld) in %.1f s\n", a.out.c_str(), a.arch.c_str(),
               static_cast<long long>(hp.n_layer), static_cast<long long>(hp.n_embd), secs);
  return 0;
}

}  // namespace

void register_synth(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand("synth", "Write a random-weight model of any shape (tests, demos, benchmarks)");
  cmd->add_option("--arch", a->arch,
                  "llama, qwen2, qwen3, qwen3moe, phi3, gemma2, gemma3, gemma4, gpt-oss, mistral3, "
                  "smollm3, granite, glm4moe, llama4, deepseek2, lfm2 (conv / attention layers "
                  "alternate), qwen35, qwen35moe (delta-net / attention), bert, nomic-bert "
                  "(embedding encoders)");
  cmd->add_option("--n-embd", a->n_embd, "Embedding width (default 256)");
  cmd->add_option("--n-layer", a->n_layer, "Layers (default 2; gemma3 6)");
  cmd->add_option("--n-head", a->n_head, "Attention heads (default 4)");
  cmd->add_option("--n-head-kv", a->n_head_kv, "KV heads (default 2)");
  cmd->add_option("--head-dim", a->head_dim, "Head size (default n_embd / n_head)");
  cmd->add_option("--n-ff", a->n_ff, "FFN width (default 512)");
  cmd->add_option("--n-vocab", a->n_vocab, "Vocabulary size of the generated vocabulary (default 4096)");
  cmd->add_option("--n-ctx", a->n_ctx, "Training context length (default 2048)");
  cmd->add_option("--experts", a->experts, "Experts (MoE)");
  cmd->add_option("--experts-used", a->experts_used, "Experts used per token (MoE)");
  cmd->add_option("--n-ff-exp", a->n_ff_exp, "Expert FFN width (MoE)");
  cmd->add_option("--window", a->window, "Sliding-window size (gemma2/3/4, gpt-oss; 0: none)");
  cmd->add_option("--swa-period", a->swa_period,
                  "gemma4: every N-th layer and the last use full attention (default 5; 0: all)");
  cmd->add_option(
      "--shared-kv-layers", a->shared_kv,
      "gemma4: the last N layers reuse an earlier layer's KV cache (default: up to 2/5)");
  cmd->add_option("--head-dim-swa", a->head_dim_swa,
                  "gemma4: head size of the sliding layers (default half the head size)");
  cmd->add_option("--n-embd-per-layer", a->n_embd_per_layer,
                  "gemma4: per-layer embedding width (default 32; 0: none)");
  cmd->add_option(
      "--full-attn-interval", a->full_attn_interval,
      "qwen35: every k-th layer full attention, the others gated delta-net (default 2)");
  cmd->add_option("--ssm-groups", a->ssm_groups, "qwen35: delta-net q/k heads (default 2)");
  cmd->add_option("--ssm-v-heads", a->ssm_v_heads, "qwen35: delta-net v heads (default 4)");
  cmd->add_option("--ssm-head-dim", a->ssm_head_dim, "qwen35: delta-net head size (default 32)");
  cmd->add_option("--n-ff-shexp", a->n_ff_shexp, "qwen35moe: shared expert FFN width");
  cmd->add_option("--vocab-from", a->vocab_from, "Copy the tokenizer of this GGUF file");
  cmd->add_option("--type", a->type,
                  "Tensor type or quantize preset, e.g. q4_k_m, mxfp4_moe (default f16)");
  cmd->add_option("-o,--output", a->out, "Output GGUF file")->required();
  cmd->add_option("--seed", a->seed, "Random seed (default 42)");
  cmd->add_option("--threads,-t", a->threads, "Threads (default: all cores)");
  cmd->add_flag("--tied-output", a->tied, "Share token_embd with the output projection");
  cmd->add_flag("--untied-output", a->untied, "Write a separate output.weight");
  cmd->add_flag("--pure", a->pure, "With a preset: every matrix gets the base type");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress output");
  cmd->callback([a, &result] { result.exit_code = run_synth(*a); });
}

}  // namespace ember::cli
