// ModelOptions::progress: the library reports the packing of the weight matrices (the long part
// of a load) as done / total, one call per matrix, never overlapping, ending at total.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "ember/model.h"
#include "testdata.h"

namespace ember {
namespace {

TEST(ModelLoadProgress, ReportsEveryPackedMatrixInOrder) {
  EMBER_REQUIRE_TESTDATA(data);
  for (int threads : {1, 3}) {
    SCOPED_TRACE(threads);
    std::vector<std::pair<size_t, size_t>> calls;
    std::atomic<int> inside{0};
    bool overlapped = false;
    ModelOptions options;
    options.n_threads = threads;
    options.progress = [&](size_t done, size_t total) {
      if (inside.fetch_add(1) != 0) overlapped = true;
      calls.emplace_back(done, total);
      inside.fetch_sub(1);
    };
    auto model = Model::load((data / "models" / "qwen2-q8_0.gguf").string(), options);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    EXPECT_FALSE(overlapped);
    ASSERT_FALSE(calls.empty());
    const size_t total = calls.front().second;
    // qwen2: q, k, v, o, gate, up, down per layer, plus the output matrix (tied or not).
    const size_t expected = static_cast<size_t>((*model)->n_layer()) * 7 + 1;
    EXPECT_EQ(total, expected);
    ASSERT_EQ(calls.size(), total);
    for (size_t i = 0; i < calls.size(); ++i) {
      EXPECT_EQ(calls[i].first, i + 1);
      EXPECT_EQ(calls[i].second, total);
    }
  }
}

}  // namespace
}  // namespace ember
