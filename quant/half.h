// IEEE half (fp16) and bfloat16 conversions, scalar and exact.
//
// float -> half and float -> bfloat16 round to nearest, ties to even;
// overflow gives +-infinity, NaN stays NaN (quiet, sign kept), subnormal
// halves are produced and read exactly. half -> float and bfloat16 -> float
// are exact. The results do not depend on the FPU's flush-to-zero mode for
// half subnormals (they are normal floats).
#pragma once

#include <cstdint>

namespace elmq {

std::uint16_t float_to_half(float x);
float half_to_float(std::uint16_t h);

std::uint16_t float_to_bfloat16(float x);
float bfloat16_to_float(std::uint16_t b);

/// The smallest half >= x (x finite; +inf if x > 65504). Used for scales so
/// that storage rounding never clips a weight.
std::uint16_t half_round_up(double x);
/// The largest half <= x (x finite; -inf if x < -65504).
std::uint16_t half_round_down(double x);

/// Largest finite half, 65504.
inline constexpr float kHalfMax = 65504.0f;

}  // namespace elmq
