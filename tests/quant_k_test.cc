// K-quant (Q2_K..Q6_K) conversions against llama.cpp's reference data, plus robustness checks.
#include "tensor/quant_k.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "testdata.h"
#include "tensor/blocks_k.h"

namespace ember {
namespace {

using DequantFn = void (*)(const void*, float*, int64_t);
using QuantFn = void (*)(const float*, void*, int64_t);

struct KType {
  const char* name;  // file prefix in testdata/quant
  size_t block_bytes;
  DequantFn dequant;
  QuantFn quant;
  double gaussian_bound;  // max RMSE / std on N(0,1) data (measured, with margin)
};

const KType kTypes[] = {
    {"q2_K", sizeof(BlockQ2K), dequantize_row_q2_k, quantize_row_q2_k, 0.30},
    {"q3_K", sizeof(BlockQ3K), dequantize_row_q3_k, quantize_row_q3_k, 0.15},
    {"q4_K", sizeof(BlockQ4K), dequantize_row_q4_k, quantize_row_q4_k, 0.08},
    {"q5_K", sizeof(BlockQ5K), dequantize_row_q5_k, quantize_row_q5_k, 0.04},
    {"q6_K", sizeof(BlockQ6K), dequantize_row_q6_k, quantize_row_q6_k, 0.02},
};

constexpr int64_t kRows = 16;
constexpr int64_t kCols = 512;

std::vector<float> as_floats(const std::vector<char>& bytes) {
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

class KQuant : public ::testing::TestWithParam<KType> {};

TEST_P(KQuant, DequantizeMatchesReferenceBitForBit) {
  EMBER_REQUIRE_TESTDATA(dir);
  const KType& t = GetParam();
  const std::vector<char> bin = testing::read_file_bytes(dir / "quant" / (std::string(t.name) + ".bin"));
  const std::vector<char> ref =
      testing::read_file_bytes(dir / "quant" / (std::string(t.name) + ".dequant.f32"));
  const size_t row_bytes = static_cast<size_t>(kCols / kQK_K) * t.block_bytes;
  ASSERT_EQ(bin.size(), row_bytes * kRows);
  ASSERT_EQ(ref.size(), sizeof(float) * kRows * kCols);

  std::vector<float> out(kRows * kCols);
  for (int64_t r = 0; r < kRows; ++r) {
    t.dequant(bin.data() + r * row_bytes, out.data() + r * kCols, kCols);
  }
  if (std::memcmp(out.data(), ref.data(), ref.size()) != 0) {
    const std::vector<float> expect = as_floats(ref);
    for (size_t i = 0; i < out.size(); ++i) {
      uint32_t a, b;
      std::memcpy(&a, &out[i], 4);
      std::memcpy(&b, &expect[i], 4);
      if (a != b) {
        FAIL() << t.name << ": first mismatch at row " << i / kCols << " col " << i % kCols
               << ": got " << out[i] << " (0x" << std::hex << a << "), want " << expect[i]
               << " (0x" << b << ")";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllKTypes, KQuant, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<KType>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace ember
