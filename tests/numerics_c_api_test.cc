// The numerics mode through the C API (ember_model_load_ex's `numerics`, ember_model_numerics,
// ember_engine_logits), checked against llama.cpp's logits in the golden files of gemma4-q8_0.
// An engine evaluates attention with the tiled algorithm at every batch size (so that batches and
// single tokens agree), where the reference picked by batch size, so only the first position
// (one key) can match the reference bit for bit; later positions are held to the argmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ember/ember.h"
#include "golden_logits.h"
#include "testdata.h"

namespace {

using ember::testing::GoldenLogits;
using ember::testing::load_golden_logits;
using ember::testing::nrmse;

// Loads `model` with `numerics` through the C API and returns ember_engine_logits of each golden
// position's prefix (successive prefixes reuse the cache), for each golden file in turn.
std::vector<std::vector<float>> logits_at_golden_positions(
    const std::filesystem::path& model, const char* numerics,
    const std::vector<GoldenLogits>& goldens) {
  std::vector<std::vector<float>> rows;
  ember_model_options mo;
  ember_model_options_init(&mo);
  mo.n_threads = 2;
  mo.numerics = numerics;
  ember_model* m = nullptr;
  EXPECT_EQ(ember_model_load_ex(model.string().c_str(), &mo, &m), EMBER_OK) << ember_last_error();
  if (m == nullptr) return rows;
  EXPECT_STREQ(ember_model_numerics(m), numerics);
  ember_engine_options eo;
  ember_engine_options_init(&eo);
  eo.n_ctx = 512;  // the reference's context
  eo.n_threads = 2;
  ember_engine* e = nullptr;
  EXPECT_EQ(ember_engine_create(m, &eo, &e), EMBER_OK) << ember_last_error();
  ember_model_free(m);
  if (e == nullptr) return rows;
  for (const GoldenLogits& g : goldens) {
    for (int32_t pos : g.positions) {
      std::vector<float> row(static_cast<size_t>(g.n_vocab));
      size_t count = 0;
      EXPECT_EQ(ember_engine_logits(e, g.prompt.data(), static_cast<size_t>(pos) + 1, row.data(),
                                    row.size(), &count),
                EMBER_OK)
          << ember_last_error();
      EXPECT_EQ(count, row.size());
      rows.push_back(std::move(row));
    }
  }
  ember_engine_free(e);
  return rows;
}

int64_t argmax(const float* x, int64_t n) {
  return std::max_element(x, x + n) - x;
}

double top2_margin(const float* x, int64_t n) {
  std::vector<float> v(x, x + n);
  std::partial_sort(v.begin(), v.begin() + 2, v.end(), std::greater<float>());
  return static_cast<double>(v[0]) - v[1];
}

TEST(NumericsCApi, ReferenceModeReachesTheKernels) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto fam = dir / "families";
  const auto model = fam / "models" / "gemma4-q8_0.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  const std::vector<GoldenLogits> goldens = {
      load_golden_logits(fam / "golden" / "gemma4-q8_0.p1.json"),
      load_golden_logits(fam / "golden" / "gemma4-q8_0.p2.json")};
  const auto reference = logits_at_golden_positions(model, "reference", goldens);
  const auto fast = logits_at_golden_positions(model, "fast", goldens);
  ASSERT_EQ(reference.size(), goldens[0].positions.size() + goldens[1].positions.size());
  ASSERT_EQ(fast.size(), reference.size());
  // p1 position 0 (the BOS token alone): reference mode gives llama.cpp's logits bit for bit.
  const GoldenLogits& p1 = goldens[0];
  ASSERT_EQ(p1.positions[0], 0);
  EXPECT_EQ(0, std::memcmp(reference[0].data(), p1.logits.data(), reference[0].size() * 4))
      << "NRMSE " << nrmse(reference[0].data(), p1.logits.data(), p1.n_vocab);
  // The modes compute different bits (their products sum in different orders).
  int64_t differing = 0;
  for (size_t i = 0; i < fast.size(); ++i) differing += fast[i] != reference[i] ? 1 : 0;
  EXPECT_GT(differing, 0);
  // Both give the reference's next token wherever its choice is clear.
  size_t i = 0;
  for (const GoldenLogits& g : goldens) {
    for (size_t k = 0; k < g.positions.size(); ++k, ++i) {
      const float* ref = g.logits.data() + k * static_cast<size_t>(g.n_vocab);
      if (top2_margin(ref, g.n_vocab) < 0.5) continue;
      EXPECT_EQ(argmax(reference[i].data(), g.n_vocab), argmax(ref, g.n_vocab))
          << "position " << g.positions[k];
      EXPECT_EQ(argmax(fast[i].data(), g.n_vocab), argmax(ref, g.n_vocab))
          << "position " << g.positions[k];
    }
  }
}

TEST(NumericsCApi, OptionsAndLogitsErrors) {
  ember_model_options mo;
  ember_model_options_init(&mo);
  EXPECT_EQ(mo.size, sizeof(ember_model_options));
  EXPECT_EQ(mo.numerics, nullptr);
  ember_model* m = nullptr;
  mo.numerics = "exact";
  EXPECT_EQ(ember_model_load_ex("/nonexistent.gguf", &mo, &m), EMBER_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ember_last_error()).find("exact"), std::string::npos) << ember_last_error();
  EXPECT_EQ(m, nullptr);
  mo.numerics = "fast";
  mo.size = 4;  // a struct from no version of this header
  EXPECT_EQ(ember_model_load_ex("/nonexistent.gguf", &mo, &m), EMBER_INVALID_ARGUMENT);
  EXPECT_EQ(ember_model_load_ex(nullptr, nullptr, &m), EMBER_INVALID_ARGUMENT);
  EXPECT_STREQ(ember_model_numerics(nullptr), "");
  float row[4];
  const int32_t token = 0;
  EXPECT_EQ(ember_engine_logits(nullptr, &token, 1, row, 4, nullptr), EMBER_INVALID_ARGUMENT);

  EMBER_REQUIRE_TESTDATA(dir);
  const auto model = dir / "families" / "models" / "gemma4-q8_0.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  ember_engine_options eo;
  ember_engine_options_init(&eo);
  eo.n_ctx = 16;
  eo.n_threads = 1;
  ember_engine* e = nullptr;
  ASSERT_EQ(ember_engine_load(model.string().c_str(), &eo, &e), EMBER_OK) << ember_last_error();
  const int32_t n_vocab = ember_engine_n_vocab(e);
  size_t count = 0;
  // Too small a buffer: the row's length comes back, nothing else.
  EXPECT_EQ(ember_engine_logits(e, &token, 1, row, 4, &count), EMBER_OUT_OF_RANGE);
  EXPECT_EQ(count, static_cast<size_t>(n_vocab));
  std::vector<float> big(static_cast<size_t>(n_vocab));
  EXPECT_EQ(ember_engine_logits(e, &token, 0, big.data(), big.size(), &count),
            EMBER_INVALID_ARGUMENT);
  const int32_t bad[] = {1, n_vocab};
  EXPECT_EQ(ember_engine_logits(e, bad, 2, big.data(), big.size(), &count), EMBER_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ember_last_error()).find("vocabulary"), std::string::npos);
  const std::vector<int32_t> too_long(17, 1);
  EXPECT_EQ(
      ember_engine_logits(e, too_long.data(), too_long.size(), big.data(), big.size(), &count),
      EMBER_OUT_OF_RANGE);
  // Still usable after the errors.
  EXPECT_EQ(ember_engine_logits(e, bad, 1, big.data(), big.size(), &count), EMBER_OK)
      << ember_last_error();
  ember_engine_free(e);
}

}  // namespace
