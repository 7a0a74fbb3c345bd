#include "quant/half.h"

#include <cstring>

namespace elmq {

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Next representable half towards +infinity (x not NaN, not +inf).
std::uint16_t half_next_up(std::uint16_t h) {
  if (h == 0x8000) return 0x0001;                            // -0 -> smallest positive subnormal
  if (h & 0x8000) return static_cast<std::uint16_t>(h - 1);  // negative: magnitude shrinks
  return static_cast<std::uint16_t>(h + 1);                  // 0x7BFF + 1 = +inf
}

}  // namespace

std::uint16_t float_to_half(float x) {
  // After F. Giesen's float_to_half_fast3_rtne (public domain).
  std::uint32_t u = bits_of(x);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  u &= 0x7FFFFFFFu;
  if (u >= 0x7F800000u) {  // inf or NaN
    if (u == 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7C00u);
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((u >> 13) & 0x3FFu));
  }
  if (u >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520: inf
  if (u < 0x38800000u) {
    // Result is a half subnormal (or zero): adding 0.5f puts the half's last
    // mantissa bit at the float's last bit, so the FPU's round-to-nearest-even
    // does the rounding. |x| < 2^-14 keeps the sum below 1.
    const float v = float_of(u) + 0.5f;
    return static_cast<std::uint16_t>(sign | (bits_of(v) - 0x3F000000u));
  }
  const std::uint32_t odd = (u >> 13) & 1u;
  u += 0xC8000FFFu + odd;  // rebias exponent (-112 << 23) and round to nearest even
  return static_cast<std::uint16_t>(sign | (u >> 13));
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1Fu;
  const std::uint32_t m = h & 0x3FFu;
  if (e == 0) {
    // zero or subnormal: m * 2^-24, exact in float and normal when m != 0.
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    return float_of(bits_of(v) | sign);
  }
  if (e == 31) return float_of(sign | 0x7F800000u | (m << 13));
  return float_of(sign | ((e + 112u) << 23) | (m << 13));
}

std::uint16_t float_to_bfloat16(float x) {
  std::uint32_t u = bits_of(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

float bfloat16_to_float(std::uint16_t b) { return float_of(static_cast<std::uint32_t>(b) << 16); }

std::uint16_t half_round_up(double x) {
  std::uint16_t h = float_to_half(static_cast<float>(x));
  // float and half rounding may each land below x (or at -inf): step up until >= x.
  while (h != 0x7C00u && static_cast<double>(half_to_float(h)) < x) {
    h = half_next_up(h);
  }
  return h;
}

std::uint16_t half_round_down(double x) {
  return static_cast<std::uint16_t>(half_round_up(-x) ^ 0x8000u);
}

}  // namespace elmq
