// Synthesized models: shapes per architecture, determinism, write -> read round trips, and
// quantize -> dequantize error bounds.
#include "model/synth.h"

#include <gtest/gtest.h>

#include <cmath>

#include "gguf/gguf.h"
#include "model/quantize_model.h"
#include "model/tensor_layout.h"
#include "tensor/quantize.h"
#include "testdata.h"

namespace ember {
namespace {

std::filesystem::path synth(Architecture arch, const std::string& type, const std::string& file,
                            int threads = 1, bool tied = false) {
  SynthOptions o;
  o.hparams = default_synth_hparams(arch);
  o.preset = *find_quant_preset(type);
  o.pure = true;
  o.tied_output = tied;
  o.n_threads = threads;
  const auto path = testing::temp_dir() / file;
  Status s = synthesize_model(o, path.string());
  EXPECT_TRUE(s.ok()) << s.to_string();
  return path;
}

std::vector<uint8_t> bytes_of(const std::filesystem::path& p) {
  auto v = testing::read_file_bytes(p);
  return std::vector<uint8_t>(v.begin(), v.end());
}

TEST(Synth, EveryArchitectureHasItsLayout) {
  for (Architecture arch : {Architecture::kLlama, Architecture::kQwen2, Architecture::kQwen3,
                            Architecture::kQwen3Moe, Architecture::kPhi3, Architecture::kGemma2,
                            Architecture::kGemma3, Architecture::kLfm2}) {
    const std::string name(architecture_traits(arch).name);
    SCOPED_TRACE(name);
    const auto path = synth(arch, "F16", name + ".gguf");
    auto f = GgufFile::open(path.string());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ(f->get_string("general.architecture").value_or(""), name);
    auto hp = read_hparams(*f);
    ASSERT_TRUE(hp.ok()) << hp.status().to_string();
    const bool tied = f->find_tensor("output.weight") == nullptr;
    const auto layout = model_tensor_layout(*hp, tied);
    ASSERT_EQ(layout.size(), f->tensors().size());
    for (const TensorSpec& spec : layout) {
      const GgufTensorInfo* t = f->find_tensor(spec.name);
      ASSERT_NE(t, nullptr) << spec.name;
      EXPECT_EQ(t->shape, spec.shape) << spec.name;
      const bool f32 = spec.shape.size() == 1 || role_stays_f32(spec.role);
      EXPECT_EQ(t->type, f32 ? TensorType::kF32 : TensorType::kF16) << spec.name;
    }
  }
}

TEST(Synth, DeterministicAcrossThreadCounts) {
  const auto a = synth(Architecture::kQwen2, "Q4_K_M", "det1.gguf", 1);
  const auto b = synth(Architecture::kQwen2, "Q4_K_M", "det2.gguf", 2);
  EXPECT_EQ(bytes_of(a), bytes_of(b));
}

TEST(Synth, WriteReadRewriteIsIdentical) {
  const auto path = synth(Architecture::kLlama, "Q8_0", "rt.gguf");
  auto f = GgufFile::open(path.string());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  GgufWriter w;
  ASSERT_TRUE(w.set_alignment(static_cast<uint32_t>(f->alignment())).ok());
  for (const auto& [k, v] : f->metadata()) w.set(k, v);
  for (const auto& t : f->tensors()) {
    ASSERT_TRUE(w.add_tensor(t.name, t.type, t.shape, f->tensor_data(t)).ok());
  }
  auto bytes = w.write_to_memory();
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, bytes_of(path));
  auto again = GgufFile::from_bytes(*bytes);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->metadata(), f->metadata());
}

// Relative RMSE (rms error / rms value) of every quantized matrix against the F32 original.
TEST(Synth, QuantizeThenDequantizeStaysWithinTypeError) {
  const auto f32 = synth(Architecture::kLlama, "F32", "src-f32.gguf");
  auto src = GgufFile::open(f32.string());
  ASSERT_TRUE(src.ok());
  const std::vector<std::pair<std::string, double>> bounds = {
      {"F16", 0.001}, {"BF16", 0.005}, {"Q8_0", 0.01},  {"Q6_K", 0.02},  {"Q5_1", 0.04},
      {"Q5_0", 0.045}, {"Q5_K_M", 0.04}, {"Q4_1", 0.08}, {"Q4_0", 0.09},  {"Q4_K_M", 0.08},
      {"Q4_K_S", 0.08}, {"IQ4_NL", 0.09}, {"IQ4_XS", 0.09}, {"Q3_K_M", 0.2}, {"Q2_K", 0.4},
  };
  for (const auto& [preset, bound] : bounds) {
    SCOPED_TRACE(preset);
    QuantizeModelOptions o;
    o.preset = *find_quant_preset(preset);
    o.n_threads = 2;
    const auto out = testing::temp_dir() / ("q-" + preset + ".gguf");
    auto stats = quantize_model(f32.string(), out.string(), o);
    ASSERT_TRUE(stats.ok()) << stats.status().to_string();
    auto q = GgufFile::open(out.string());
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q->get_uint("general.file_type").value_or(999), o.preset.file_type);
    ASSERT_EQ(q->tensors().size(), src->tensors().size());
    for (const GgufTensorInfo& t : q->tensors()) {
      const GgufTensorInfo* orig = src->find_tensor(t.name);
      ASSERT_NE(orig, nullptr);
      ASSERT_EQ(orig->shape, t.shape);
      if (t.shape.size() == 1) {
        EXPECT_EQ(t.type, TensorType::kF32) << t.name;
        continue;
      }
      std::vector<float> row(static_cast<size_t>(t.shape[0]));
      const size_t row_bytes = *tensor_row_size(t.type, t.shape[0]);
      const float* ref = reinterpret_cast<const float*>(orig->data);
      double err = 0, norm = 0;
      for (int64_t r = 0; r < t.n_rows(); ++r) {
        ASSERT_TRUE(dequantize_row(t.type, t.data + r * row_bytes, row.data(), t.shape[0]).ok());
        for (int64_t i = 0; i < t.shape[0]; ++i) {
          const double x = ref[r * t.shape[0] + i];
          err += (row[i] - x) * (row[i] - x);
          norm += x * x;
        }
      }
      EXPECT_LE(std::sqrt(err / norm), bound) << t.name << " as " << tensor_type_name(t.type);
    }
  }
}

TEST(Synth, RejectsBadShapes) {
  SynthOptions o;
  o.hparams = default_synth_hparams(Architecture::kLlama);
  o.hparams.n_head_kv = 3;  // 4 heads do not divide into 3 KV groups
  o.preset = *find_quant_preset("F16");
  Status s = synthesize_model(o, (testing::temp_dir() / "bad.gguf").string());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("head_count_kv"), std::string::npos) << s.message();
}

TEST(Synth, VocabFromCopiesTokenizer) {
  EMBER_REQUIRE_TESTDATA(dir);
  SynthOptions o;
  o.hparams = default_synth_hparams(Architecture::kLlama);
  o.preset = *find_quant_preset("Q4_0");
  o.vocab_from = (dir / "vocab" / "ggml-vocab-llama-bpe.gguf").string();
  const auto path = testing::temp_dir() / "vocab-from.gguf";
  ASSERT_TRUE(synthesize_model(o, path.string()).ok());
  auto f = GgufFile::open(path.string());
  auto v = GgufFile::open(o.vocab_from);
  ASSERT_TRUE(f.ok() && v.ok());
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre").value_or(""), "llama-bpe");
  const GgufTensorInfo* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape[1], static_cast<int64_t>(v->find("tokenizer.ggml.tokens")->array_size()));
  EXPECT_EQ(*f->find("tokenizer.ggml.merges"), *v->find("tokenizer.ggml.merges"));
}

}  // namespace
}  // namespace ember
