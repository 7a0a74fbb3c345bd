#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "elm/common/rng.h"
#include "quant/half.h"

namespace elmq {
namespace {

float f_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
std::uint32_t u_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(Half, KnownBitPatterns) {
  EXPECT_EQ(float_to_half(0.0f), 0x0000);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(0.5f), 0x3800);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);     // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1023.0f, -24)), 0x03FF);  // largest subnormal
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_half(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(float_to_half(1e-30f), 0x0000);
  EXPECT_EQ(float_to_half(-1e-30f), 0x8000);
  EXPECT_EQ(float_to_half(1e30f), 0x7C00);
}

TEST(Half, TiesRoundToEven) {
  // 1 + 2^-11 lies halfway between 1 (even) and 1 + 2^-10 (odd).
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  // 1 + 3 * 2^-11 lies halfway between 0x3C01 (odd) and 0x3C02 (even).
  EXPECT_EQ(float_to_half(1.0f + 3.0f * std::ldexp(1.0f, -11)), 0x3C02);
  // Just above a tie rounds up.
  EXPECT_EQ(float_to_half(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
  // Subnormal ties: 2^-25 is halfway between 0 and 2^-24 -> 0; 3 * 2^-25 -> 2 * 2^-24.
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);
  EXPECT_EQ(float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  // 65520 is halfway between 65504 (odd mantissa) and 65536 (overflow): rounds to inf.
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);
  EXPECT_EQ(float_to_half(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  // Boundary between subnormal and normal halves.
  EXPECT_EQ(float_to_half(std::ldexp(2047.0f, -25)), 0x0400);  // 1023.5 ulps -> 1024 (even)
}

TEST(Half, NanStaysNanAndKeepsSign) {
  const std::uint16_t h = float_to_half(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(h & 0x7C00, 0x7C00);
  EXPECT_NE(h & 0x03FF, 0);
  const std::uint16_t hn = float_to_half(-std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(hn & 0x8000, 0x8000);
  EXPECT_TRUE(std::isnan(half_to_float(h)));
  // A signalling NaN with a payload only in the low bits must not become inf.
  const std::uint16_t hs = float_to_half(f_of(0x7F800001u));
  EXPECT_NE(hs & 0x03FF, 0);
}

TEST(Half, EveryHalfRoundTripsExactly) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_EQ(h & 0x7C00u, 0x7C00u);
      EXPECT_NE(h & 0x03FFu, 0u);
      continue;
    }
    ASSERT_EQ(float_to_half(f), h) << "half 0x" << std::hex << h;
  }
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0xFBFF), -65504.0f);
}

// Independent reference: round in double on the half grid, then look the value up.
TEST(Half, MatchesDoubleReferenceOnRandomFloats) {
  std::map<float, std::uint16_t> value_to_half;
  for (std::uint32_t h = 0; h < 0x7C00; ++h) {
    value_to_half[half_to_float(static_cast<std::uint16_t>(h))] = static_cast<std::uint16_t>(h);
  }
  Rng rng(7);
  for (int i = 0; i < 200000; ++i) {
    // Magnitudes from 2^-30 to 2^17, both signs.
    const double mag = std::ldexp(1.0 + rng.uniform(), static_cast<int>(rng.below(48)) - 30);
    const float f = static_cast<float>(rng.below(2) ? mag : -mag);
    const double a = std::fabs(static_cast<double>(f));
    std::uint16_t expect;
    if (a >= 65520.0) {
      expect = 0x7C00;
    } else {
      const int e = a < std::ldexp(1.0, -14) ? -14 : std::ilogb(a);
      const double ulp = std::ldexp(1.0, e - 10);
      const double v = std::nearbyint(a / ulp) * ulp;
      expect = v >= 65520.0 ? 0x7C00 : value_to_half.at(static_cast<float>(v));
    }
    if (f < 0) expect |= 0x8000;
    ASSERT_EQ(float_to_half(f), expect) << "f = " << f;
  }
}

TEST(BFloat16, KnownBitPatternsAndTies) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bfloat16(-2.0f), 0xC000);
  EXPECT_EQ(float_to_bfloat16(f_of(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(float_to_bfloat16(f_of(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(float_to_bfloat16(f_of(0x3F808001u)), 0x3F81);  // above tie
  EXPECT_EQ(float_to_bfloat16(f_of(0x7F7FFFFFu)), 0x7F80);  // FLT_MAX rounds to inf
  EXPECT_EQ(float_to_bfloat16(f_of(0x7F7F7FFFu)), 0x7F7F);
  EXPECT_EQ(float_to_bfloat16(f_of(0x00008000u)), 0x0000);  // subnormal tie -> even
  EXPECT_EQ(float_to_bfloat16(f_of(0x00018000u)), 0x0002);
  EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(float_to_bfloat16(-std::numeric_limits<float>::infinity()), 0xFF80);
  const std::uint16_t nan = float_to_bfloat16(f_of(0x7F800001u));  // payload in low bits only
  EXPECT_EQ(nan & 0x7F80, 0x7F80);
  EXPECT_NE(nan & 0x007F, 0);
  EXPECT_TRUE(std::isnan(bfloat16_to_float(nan)));
  EXPECT_EQ(bfloat16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(u_of(bfloat16_to_float(0x0001)), 0x00010000u);
}

TEST(Half, DirectedRounding) {
  EXPECT_EQ(half_round_up(1.0), 0x3C00);
  EXPECT_EQ(half_round_down(1.0), 0x3C00);
  EXPECT_EQ(half_round_up(1.0001), 0x3C01);
  EXPECT_EQ(half_round_down(1.0001), 0x3C00);
  EXPECT_EQ(half_round_up(-1.0001), 0xBC00);
  EXPECT_EQ(half_round_down(-1.0001), 0xBC01);
  EXPECT_EQ(half_round_up(70000.0), 0x7C00);
  EXPECT_EQ(half_round_down(70000.0), 0x7BFF);
  EXPECT_EQ(half_round_up(-70000.0), 0xFBFF);
  EXPECT_EQ(half_round_down(-70000.0), 0xFC00);
  EXPECT_EQ(half_round_up(1e-9), 0x0001);
  EXPECT_EQ(half_round_down(1e-9), 0x0000);
  Rng rng(11);
  for (int i = 0; i < 20000; ++i) {
    const double x = (rng.uniform() - 0.5) * std::ldexp(1.0, static_cast<int>(rng.below(40)) - 24);
    const std::uint16_t up = half_round_up(x), down = half_round_down(x);
    ASSERT_GE(static_cast<double>(half_to_float(up)), x);
    ASSERT_LE(static_cast<double>(half_to_float(down)), x);
    // Tight: the two are equal or adjacent halves.
    const double gap = static_cast<double>(half_to_float(up)) - half_to_float(down);
    ASSERT_LE(gap, std::max(std::ldexp(1.0, -24), std::fabs(x) * std::ldexp(1.0, -10)) * 1.0000001);
  }
}

}  // namespace
}  // namespace elmq
