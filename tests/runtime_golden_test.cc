// The forward pass against llama.cpp's logits for every model x prompt in
// ../shared/testdata/golden (see its README): per-position NRMSE, argmax where the reference is
// decisive, and the greedy continuation up to the first near-tie.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "golden_logits.h"
#include "model/model.h"
#include "runtime/context.h"
#include "testdata.h"

namespace ember {
namespace {

using runtime::Batch;
using runtime::Context;
using runtime::ContextParams;
using runtime::Model;
using runtime::ModelLoadOptions;

using Golden = testing::GoldenLogits;

bool is_float_model(const std::string& model) {
  for (const char* s : {"-f32.", "-f16.", "-bf16."}) {
    if (model.find(s) != std::string::npos) return true;
  }
  return false;
}

using testing::load_golden_logits;
using testing::nrmse;

int64_t argmax(const float* x, int64_t n) {
  return std::max_element(x, x + n) - x;
}

// Gap between the best and second-best value.
double top2_margin(const float* x, int64_t n) {
  float a = -INFINITY, b = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] > a) {
      b = a;
      a = x[i];
    } else if (x[i] > b) {
      b = x[i];
    }
  }
  return static_cast<double>(a) - static_cast<double>(b);
}

// The 2026 families ember runs (families/golden holds more; the others are not supported yet).
const std::vector<std::string> kFamilies = {"gemma4-",    "gemma4moe-", "mistral3-", "smollm3-",
                                            "granite-",   "gpt-oss-",   "glm4moe-",  "llama4-",
                                            "deepseek2-", "lfm2-",      "qwen35-",   "qwen35moe-"};

// Known gaps: the NRMSE bound a few quantized models are held to instead of 0.03, with the
// worst NRMSE measured (both prompts) and why. ember follows the reference's arithmetic for the
// 8-bit activations, the F32 products and RoPE (docs/inference.md, "Numerics"), which makes
// llama-spm-q4_0, -iq4_nl and glm4moe-q8_0 bit-identical to it on both prompts. What is left is
// the float summation order of the quantized dot products: the reference keeps 8 float lanes
// per Q8_0 / K-quant / MXFP4 dot product (each an FMA chain over the blocks of 4-product integer
// sums), ember's packed kernels one running sum per block and row. Computing Q8_0 in the
// reference's order made gemma4-q8_0 bit-identical and gpt-oss-q8_0 0.023, but a kernel in that
// order is 5-8x slower for 512-token prompts, so it is an opt-in mode (Numerics::kReference, held
// to the standard bound by GoldenReferenceNumericsTest below). A last-bit difference flips an 8-bit
// activation code every few positions, which Gemma 4's per-layer embeddings, gpt-oss's expert
// routing and DeepSeek's latent attention amplify; argmax and greedy continuations match
// everywhere.
double known_gap_tolerance(const std::string& model) {
  if (model.rfind("gemma4", 0) == 0) return 0.05;     // measured 0.038-0.040 (all three files)
  if (model.rfind("gpt-oss", 0) == 0) return 0.07;    // measured 0.054-0.055
  if (model.rfind("deepseek2", 0) == 0) return 0.05;  // measured 0.036
  return 0.0;
}

// Golden files relative to the test data folder: golden/*.json and the supported families'
// families/golden/*.json.
std::vector<std::string> golden_files() {
  std::vector<std::string> out;
  const auto dir = testing::testdata_dir();
  if (dir.empty() || !std::filesystem::is_directory(dir / "golden")) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir / "golden")) {
    if (e.path().extension() == ".json") out.push_back("golden/" + e.path().stem().string());
  }
  if (std::filesystem::is_directory(dir / "families" / "golden")) {
    for (const auto& e : std::filesystem::directory_iterator(dir / "families" / "golden")) {
      const std::string stem = e.path().stem().string();
      if (e.path().extension() != ".json") continue;
      for (const std::string& f : kFamilies) {
        if (stem.rfind(f, 0) == 0) out.push_back("families/golden/" + stem);
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Worst NRMSE per model, printed at the end of the suite for the record.
std::map<std::string, double>& worst_nrmse() {
  static std::map<std::string, double> m;
  return m;
}

// The bound of a known-gap model in the reference numerics mode (Numerics::kReference: Q8_0,
// MXFP4, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K products in the reference's summation order): the
// standard 0.03 (measured: gemma4-q8_0 bit-identical, gpt-oss-q8_0 0.023, deepseek2-q8_0 0.025,
// gemma4-q4_k_m 0.024 with p2 within 2e-7 of the reference at every position, gemma4moe-q4_k_m
// 0.020 with p1 within 2e-7 at every position) except for this file, with the worst NRMSE
// measured in that mode:
//  - gpt-oss-mxfp4_moe 0.046 (was 0.054): p1 is bit-identical to the reference in this mode (the
//    MXFP4 order is right); p2 (the golden holds its last 8 positions, 143-150) differs, as
//    gpt-oss-q8_0.p2 does (0.023), whose products are all in the reference's order: at least
//    part of the difference comes from outside the quantized products (not located yet).
double reference_tolerance(const std::string& model) {
  if (model.rfind("gpt-oss-mxfp4_moe", 0) == 0) return 0.06;
  return 0.03;
}

// Checks one golden file (logits at the reference's positions, argmax, greedy continuation)
// with the model loaded in the given numerics mode, against `tol`.
void check_golden(const std::filesystem::path& json, Numerics numerics, double tol) {
  const Golden g = load_golden_logits(json);
  ModelLoadOptions lo;
  lo.numerics = numerics;
  auto model = Model::load((json.parent_path().parent_path() / "models" / g.model).string(), lo);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  ASSERT_EQ((*model)->hparams().n_vocab, g.n_vocab);
  ContextParams cp;
  cp.n_ctx = 512;  // the reference's context (LongRoPE picks factors by it)
  cp.n_threads = 2;
  auto ctx = Context::create(**model, cp);
  ASSERT_TRUE(ctx.ok()) << ctx.status().to_string();

  Batch batch;
  for (size_t i = 0; i < g.prompt.size(); ++i) {
    const bool want = std::find(g.positions.begin(), g.positions.end(), static_cast<int32_t>(i)) !=
                      g.positions.end();
    batch.add(g.prompt[i], static_cast<int32_t>(i), 0, want);
  }
  ASSERT_TRUE((*ctx)->decode(batch).ok());
  ASSERT_EQ((*ctx)->n_outputs(), static_cast<int64_t>(g.positions.size()));

  const int64_t nv = g.n_vocab;
  double worst = 0.0;
  for (size_t i = 0; i < g.positions.size(); ++i) {
    const float* ours = (*ctx)->logits(static_cast<int64_t>(i));
    const float* ref = g.logits.data() + i * static_cast<size_t>(nv);
    const double e = nrmse(ours, ref, nv);
    worst = std::max(worst, e);
    EXPECT_LE(e, tol) << g.model << " prompt " << g.name << " position " << g.positions[i]
                      << ": NRMSE " << e;
    if (top2_margin(ref, nv) > 0.1) {
      EXPECT_EQ(argmax(ours, nv), argmax(ref, nv))
          << g.model << " prompt " << g.name << " position " << g.positions[i]
          << ": argmax differs (reference margin " << top2_margin(ref, nv) << ")";
    }
  }
  const std::string mode = numerics == Numerics::kReference ? g.model + " (reference)" : g.model;
  double& w = worst_nrmse()[mode];
  w = std::max(w, worst);

  // Greedy continuation, one token at a time, until the reference's first near-tie.
  int32_t pos = static_cast<int32_t>(g.prompt.size());
  const float* last = (*ctx)->logits(static_cast<int64_t>(g.positions.size()) - 1);
  std::vector<float> cur(last, last + nv);
  for (size_t step = 0; step < g.greedy.size(); ++step) {
    if (g.margins[step] < 0.1) break;
    const int64_t ours = argmax(cur.data(), nv);
    ASSERT_EQ(ours, g.greedy[step]) << g.model << " prompt " << g.name << ": greedy token " << step
                                    << " differs (reference margin " << g.margins[step] << ")";
    batch.clear();
    batch.add(g.greedy[step], pos++, 0, true);
    ASSERT_TRUE((*ctx)->decode(batch).ok());
    cur.assign((*ctx)->logits(0), (*ctx)->logits(0) + nv);
  }
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, MatchesReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto json = dir / (GetParam() + ".json");
  const std::string model = load_golden_logits(json).model;
  const double tol = std::max(is_float_model(model) ? 0.01 : 0.03, known_gap_tolerance(model));
  check_golden(json, Numerics::kFast, tol);
}

// The known-gap models again in the reference numerics mode, held to the standard bound.
class GoldenReferenceNumericsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenReferenceNumericsTest, MatchesReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto json = dir / (GetParam() + ".json");
  check_golden(json, Numerics::kReference, reference_tolerance(load_golden_logits(json).model));
}

std::vector<std::string> golden_names() {
  std::vector<std::string> out;
  for (const auto& p : golden_files()) out.push_back(p);
  if (out.empty()) out.push_back("none");
  return out;
}

// The files of the known-gap models (known_gap_tolerance > 0).
std::vector<std::string> known_gap_names() {
  std::vector<std::string> out;
  for (const auto& p : golden_files()) {
    const std::string stem = std::filesystem::path(p).stem().string();  // "<model>.p1"
    if (known_gap_tolerance(stem.substr(0, stem.find('.')) + ".gguf") > 0.0) out.push_back(p);
  }
  if (out.empty()) out.push_back("none");
  return out;
}

std::string golden_test_name(const ::testing::TestParamInfo<std::string>& param) {
  std::string s = param.param;
  // golden/ keeps its historical names; families get a prefix.
  if (s.rfind("golden/", 0) == 0) s = s.substr(7);
  if (s.rfind("families/golden/", 0) == 0) s = "families_" + s.substr(16);
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(All, GoldenTest, ::testing::ValuesIn(golden_names()), golden_test_name);
INSTANTIATE_TEST_SUITE_P(KnownGaps, GoldenReferenceNumericsTest,
                         ::testing::ValuesIn(known_gap_names()), golden_test_name);

class GoldenReport : public ::testing::Environment {
 public:
  void TearDown() override {
    if (worst_nrmse().empty()) return;
    std::printf("worst NRMSE per model:\n");
    for (const auto& [model, e] : worst_nrmse()) std::printf("  %-28s %.5f\n", model.c_str(), e);
  }
};
const auto* const kReport = ::testing::AddGlobalTestEnvironment(new GoldenReport);

}  // namespace
}  // namespace ember
