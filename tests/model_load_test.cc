// Model::load on good and bad files: every architecture synthesizes, loads and runs; broken files
// give clear errors that name the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "gguf/gguf.h"
#include "model/model.h"
#include "model/synth.h"
#include "runtime/context.h"
#include "testdata.h"

namespace ember {
namespace {

using runtime::Batch;
using runtime::Context;
using runtime::ContextParams;
using runtime::Model;
using runtime::ModelLoadOptions;

// Writes a small synthesized model of `hp` and returns its path.
std::string synth(const ModelHParams& hp, const std::string& name, bool tied = false) {
  SynthOptions o;
  o.hparams = hp;
  o.preset = *find_quant_preset("Q8_0");
  o.tied_output = tied;
  o.n_threads = 2;
  const auto path = testing::temp_dir() / (name + ".gguf");
  const Status st = synthesize_model(o, path.string());
  EXPECT_TRUE(st.ok()) << st.to_string();
  return path.string();
}

// Runs a short prompt and a decode step; logits must be finite.
void expect_runs(const Model& m) {
  ContextParams p;
  p.n_ctx = 64;
  p.n_threads = 2;
  auto ctx = Context::create(m, p);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
  Batch b;
  for (int i = 0; i < 20; ++i) b.add(3 + i, i, 0, i == 19);
  ASSERT_TRUE((*ctx)->decode(b).ok());
  b.clear();
  b.add(7, 20, 0, true);
  ASSERT_TRUE((*ctx)->decode(b).ok());
  for (int64_t i = 0; i < (*ctx)->n_vocab(); ++i) ASSERT_TRUE(std::isfinite((*ctx)->logits(0)[i]));
}

TEST(ModelLoad, EveryArchitectureLoadsAndRuns) {
  for (Architecture arch :
       {Architecture::kLlama, Architecture::kQwen2, Architecture::kQwen3, Architecture::kQwen3Moe,
        Architecture::kPhi3, Architecture::kGemma2, Architecture::kGemma3, Architecture::kGemma4,
        Architecture::kMistral3, Architecture::kSmollm3, Architecture::kGranite,
        Architecture::kGptOss, Architecture::kGlm4Moe, Architecture::kLlama4,
        Architecture::kDeepseek2, Architecture::kLfm2,
        Architecture::kQwen35, Architecture::kQwen35Moe}) {
    const ModelHParams hp = default_synth_hparams(arch);
    const std::string name(architecture_traits(arch).name);
    SCOPED_TRACE(name);
    auto m = Model::load(synth(hp, "load-" + name, architecture_traits(arch).tied_by_default));
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ((*m)->hparams().arch, arch);
    expect_runs(**m);
  }
}

TEST(ModelLoad, LlamaVariants) {
  // Mixture of experts with ffn_*_exps, and the RoPE scaling types.
  ModelHParams moe = default_synth_hparams(Architecture::kLlama);
  moe.n_expert = 4;
  moe.n_expert_used = 2;
  moe.n_ff_exp = 128;
  auto m = Model::load(synth(moe, "load-llama-moe"));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ((*m)->layer(0).gate_exps.size(), 4u);
  expect_runs(**m);
  for (RopeScalingType t :
       {RopeScalingType::kLinear, RopeScalingType::kYarn, RopeScalingType::kLlama3}) {
    ModelHParams hp = default_synth_hparams(Architecture::kLlama);
    hp.rope_scaling = t;
    hp.rope_scaling_factor = 4.0f;
    hp.rope_scaling_orig_ctx = 512;
    auto mm = Model::load(synth(hp, "load-llama-rope" + std::to_string(int(t))));
    ASSERT_TRUE(mm.ok()) << mm.status().to_string();
    expect_runs(**mm);
  }
}

TEST(ModelLoad, GemmaLayerPatterns) {
  auto g2 = Model::load(synth(default_synth_hparams(Architecture::kGemma2), "pat-gemma2", true));
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ((*g2)->config().layer_sliding, (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ((*g2)->config().attn_softcap, 50.0f);
  auto g3 = Model::load(synth(default_synth_hparams(Architecture::kGemma3), "pat-gemma3", true));
  ASSERT_TRUE(g3.ok());
  EXPECT_EQ((*g3)->config().layer_sliding, (std::vector<uint8_t>{1, 1, 1, 1, 1, 0}));
  EXPECT_EQ((*g3)->config().rope.freq_base_swa, 10000.0f);
  EXPECT_EQ((*g3)->config().attn_softcap, 0.0f);
}

// Rewrites `path` with `edit` applied to its metadata and tensors; returns the new path.
std::string edited(const std::string& path, const std::string& out,
                   const std::function<void(GgufWriter&, const GgufFile&)>& edit) {
  auto f = GgufFile::open(path);
  EXPECT_TRUE(f.ok());
  GgufWriter w;
  edit(w, *f);
  const auto p = testing::temp_dir() / out;
  EXPECT_TRUE(w.write_file(p.string()).ok());
  return p.string();
}

void copy_all(GgufWriter& w, const GgufFile& f, const std::string& skip = "") {
  for (const auto& [k, v] : f.metadata()) w.set(k, v);
  for (const auto& t : f.tensors()) {
    if (t.name == skip) continue;
    EXPECT_TRUE(w.add_tensor(t.name, t.type, t.shape, f.tensor_data(t)).ok());
  }
}

void expect_load_error(const std::string& path, StatusCode code, const std::string& needle) {
  auto m = Model::load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), code) << m.status().to_string();
  EXPECT_NE(m.status().message().find(needle), std::string::npos) << m.status().to_string();
}

TEST(ModelLoad, BadFilesGiveClearErrors) {
  const std::string base = synth(default_synth_hparams(Architecture::kLlama), "bad-base");
  expect_load_error((testing::temp_dir() / "no-such-file.gguf").string(), StatusCode::kNotFound,
                    "no-such-file.gguf");
  {
    const auto p = testing::temp_dir() / "not-gguf.gguf";
    std::ofstream(p) << "this is not a model";
    auto m = Model::load(p.string());
    EXPECT_FALSE(m.ok());
  }
  {
    // Truncated in the middle of the tensor data.
    std::ifstream in(base, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    const auto p = testing::temp_dir() / "truncated.gguf";
    std::ofstream(p, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
    auto m = Model::load(p.string());
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kDataLoss) << m.status().to_string();
  }
  expect_load_error(edited(base, "unknown-arch.gguf",
                           [](GgufWriter& w, const GgufFile& f) {
                             copy_all(w, f);
                             w.set("general.architecture", GgufValue::string("mamba9"));
                           }),
                    StatusCode::kUnimplemented, "mamba9");
  // ... and lists what ember does run.
  expect_load_error(edited(base, "unknown-arch2.gguf",
                           [](GgufWriter& w, const GgufFile& f) {
                             copy_all(w, f);
                             w.set("general.architecture", GgufValue::string("mamba9"));
                           }),
                    StatusCode::kUnimplemented, "supported: llama, qwen2");
  expect_load_error(
      edited(base, "missing.gguf",
             [](GgufWriter& w, const GgufFile& f) { copy_all(w, f, "blk.1.attn_k.weight"); }),
      StatusCode::kNotFound, "blk.1.attn_k.weight");
  expect_load_error(
      edited(
          base, "misshaped.gguf",
          [](GgufWriter& w, const GgufFile& f) {
            copy_all(w, f, "blk.0.ffn_up.weight");
            const GgufTensorInfo* t = f.find_tensor("blk.0.ffn_up.weight");
            std::vector<uint8_t> data(
                f.tensor_data(*t).begin(),
                f.tensor_data(*t).end() - *tensor_row_size(t->type, t->shape[0]));
            EXPECT_TRUE(w.add_tensor(t->name, t->type, {t->shape[0], t->shape[1] - 1}, data).ok());
          }),
      StatusCode::kInvalidArgument, "blk.0.ffn_up.weight");
  expect_load_error(
      edited(base, "bad-rope-freqs.gguf",
             [](GgufWriter& w, const GgufFile& f) {
               copy_all(w, f);
               std::vector<float> ff(7, 1.0f);
               EXPECT_TRUE(w.add_tensor("rope_freqs.weight", TensorType::kF32, {7},
                                        {reinterpret_cast<const uint8_t*>(ff.data()), 28})
                               .ok());
             }),
      StatusCode::kInvalidArgument, "rope_freqs.weight");
  expect_load_error(edited(base, "missing-key.gguf",
                           [](GgufWriter& w, const GgufFile& f) {
                             copy_all(w, f);
                             w.remove("llama.block_count");
                           }),
                    StatusCode::kNotFound, "llama.block_count");
}

// Multi-head latent attention (deepseek2) caches one key head of [latent | RoPE key] per cell
// and reads the values from the same rows: no V storage. Every cache type runs it (the
// synthesized shape, 128 + 32, divides into Q8_0 blocks) and agrees with the F32 cache up to the
// cache's rounding.
TEST(ModelLoad, LatentAttentionCaches) {
  const ModelHParams hp = default_synth_hparams(Architecture::kDeepseek2);
  auto m = Model::load(synth(hp, "load-deepseek2-caches"));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_TRUE((*m)->layer(0).mla());
  // A file from before llama.cpp's MLA layout (no key_length_mla) is refused with a message.
  expect_load_error(edited(synth(hp, "load-deepseek2-old"), "deepseek2-old.gguf",
                           [](GgufWriter& w, const GgufFile& f) {
                             copy_all(w, f);
                             w.remove("deepseek2.attention.key_length_mla");
                           }),
                    StatusCode::kUnimplemented, "convert the model again");
  std::vector<float> logits[3];
  int i = 0;
  for (kernels::KvType type : {kernels::KvType::kF32, kernels::KvType::kF16, kernels::KvType::kQ8_0}) {
    ContextParams p;
    p.n_ctx = 64;
    p.n_threads = 2;
    p.kv_type = type;
    auto ctx = Context::create(**m, p);
    ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();
    const size_t value_bytes = type == kernels::KvType::kF32 ? 4 : 2;
    if (type != kernels::KvType::kQ8_0) {
      EXPECT_EQ((*ctx)->kv_bytes(), static_cast<size_t>(hp.n_layer * 64 * (hp.n_lora_kv + hp.n_rot)) *
                                        value_bytes);
    }
    Batch b;
    for (int t = 0; t < 20; ++t) b.add(3 + t, t, 0, t == 19);
    ASSERT_TRUE((*ctx)->decode(b).ok());
    logits[i++].assign((*ctx)->logits(0), (*ctx)->logits(0) + (*ctx)->n_vocab());
  }
  for (int k = 1; k < 3; ++k) {
    double err = 0.0, norm = 0.0;
    for (size_t j = 0; j < logits[0].size(); ++j) {
      ASSERT_TRUE(std::isfinite(logits[k][j]));
      err += (logits[k][j] - logits[0][j]) * (logits[k][j] - logits[0][j]);
      norm += logits[0][j] * logits[0][j];
    }
    EXPECT_LT(std::sqrt(err / norm), k == 1 ? 0.02 : 0.1) << "cache type " << k;
  }
}

TEST(ModelLoad, PackedWeightsMatchUnpacked) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::string path = (dir / "models" / "llama-spm-q4_k_m.gguf").string();
  auto packed = Model::load(path);
  ModelLoadOptions o;
  o.prepare = false;
  auto plain = Model::load(path, o);
  ASSERT_TRUE(packed.ok() && plain.ok());
  std::vector<float> results[2];
  int i = 0;
  for (const Model* m : {packed->get(), plain->get()}) {
    auto ctx = Context::create(*m, ContextParams{.n_ctx = 64});
    ASSERT_TRUE(ctx.ok());
    Batch b;
    for (int t = 0; t < 10; ++t) b.add(5 + t, t, 0, true);
    ASSERT_TRUE((*ctx)->decode(b).ok());
    results[i++].assign((*ctx)->logits(0), (*ctx)->logits(0) + 10 * (*ctx)->n_vocab());
  }
  EXPECT_EQ(results[0], results[1]);
}

}  // namespace
}  // namespace ember
