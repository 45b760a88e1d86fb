#include "tensor/tensor_type.h"

#include <gtest/gtest.h>

#include "tensor/fp16.h"

namespace ember {
namespace {

TEST(TensorType, RowSizes) {
  EXPECT_EQ(*tensor_row_size(TensorType::kF32, 7), 28u);
  EXPECT_EQ(*tensor_row_size(TensorType::kQ4_0, 64), 36u);
  EXPECT_EQ(*tensor_row_size(TensorType::kQ4_K, 512), 288u);
  EXPECT_FALSE(tensor_row_size(TensorType::kQ4_K, 100).ok());
  EXPECT_FALSE(tensor_row_size(static_cast<TensorType>(99), 32).ok());
}

TEST(TensorType, Names) {
  EXPECT_EQ(tensor_type_name(TensorType::kQ4_K), "q4_K");
  EXPECT_EQ(tensor_type_from_name("Q4_K"), TensorType::kQ4_K);
  EXPECT_EQ(tensor_type_from_name("IQ4_XS"), TensorType::kIQ4_XS);
  EXPECT_FALSE(tensor_type_from_name("q4_k_m").has_value());
  EXPECT_EQ(tensor_type_name(static_cast<TensorType>(99)), "type 99");
}

TEST(TensorType, UnsupportedTypeNamed) {
  Status s = check_tensor_type_supported(TensorType::kIQ2_XXS);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("iq2_xxs"), std::string::npos);
  EXPECT_TRUE(check_tensor_type_supported(TensorType::kQ6_K).ok());
}

TEST(Fp16, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (f != f) continue;  // NaN payloads need not round trip exactly
    EXPECT_EQ(fp32_to_fp16(f), h) << std::hex << h;
  }
}

TEST(Fp16, RoundsToNearestEven) {
  // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties to even -> 1.
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  EXPECT_EQ(fp32_to_fp16(70000.0f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);             // halfway to smallest subnormal: even
  EXPECT_EQ(fp32_to_fp16(0x1p-25f + 0x1p-30f), 0x0001);  // just above halfway
}

TEST(Bf16, Rounds) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(fp32_to_bf16(fp32_from_bits(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(fp32_to_bf16(fp32_from_bits(0x3f818000u)), 0x3f82);  // tie -> even (up)
}

}  // namespace
}  // namespace ember
