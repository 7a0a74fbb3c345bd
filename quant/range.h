// Choosing the quantization range (scale, and min for asymmetric formats) of a
// group of weights: round-to-nearest with an abs-max / min-max range, or an
// error-minimizing search over shrunken (clipped) ranges, optionally weighted
// by the importance of each input channel (e.g. the mean squared activation).
//
// These are the building blocks of QuantizedTensor::quantize and are exposed
// so that other quantizers (GPTQ, AWQ) pick identical parameters and codes.
#pragma once

#include <cstdint>

#include "elm/common/matrix.h"
#include "quant/formats.h"

namespace elmq {

struct RangeOptions {
  enum class Method : std::uint32_t {
    /// Symmetric: scale = max|w| / qmax. Asymmetric: [min w, max w].
    /// Ternary formats (whose max|w| range would leave most weights at 0):
    /// scale = mean|w| (the BitNet b1.58 rule).
    kAbsMax = 0,
    /// Minimizes sum_k importance_k (w_k - dequant(quant(w_k)))^2 over
    /// candidate ranges: the abs-max / min-max range shrunk by factors
    /// 1, 1 - s, 1 - 2s, ..., min_shrink (s = (1 - min_shrink) / grid; the
    /// min-max range shrinks around its midpoint). Ties keep the wider range.
    /// Ternary formats: Lloyd iterations from mean|w| (scale = importance-
    /// weighted mean of |w| over the nonzero codes, codes re-rounded), at most
    /// `grid` of them, keeping the best scale seen.
    kMseSearch = 1,
  };
  Method method = Method::kAbsMax;
  int grid = 20;            ///< kMseSearch: number of steps, in [1, 1000]
  float min_shrink = 0.5f;  ///< kMseSearch: smallest shrink factor, in (0, 1]
  /// Empty, or one weight per input column (>= 0, finite) used by kMseSearch.
  VectorXf importance;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
  /// validate(), and importance is empty or has `cols` entries.
  void validate_for(Index cols) const;
};

const char* range_method_name(RangeOptions::Method m);

/// How a scale or min is stored; the chosen value is exactly representable.
enum class ScalePrecision : std::uint32_t { kF32 = 0, kF16 = 1 };

/// Scale for w = scale * q, q in [-qmax, qmax], of n values x (n >= 1).
/// The abs-max scale is rounded up to the storage precision (so storage never
/// clips); 0 for an all-zero group. importance: n weights or null (all 1).
/// @throws InvalidArgument if the scale does not fit the precision (fp16: > 65504).
float choose_symmetric_scale(const float* x, const float* importance, Index n, int qmax,
                             ScalePrecision precision, const RangeOptions& opt);

struct AffineParams {
  float scale = 0.0f;
  float min = 0.0f;
};

/// Scale and min for w = scale * q + min, q in [0, qmax]. With kAbsMax the
/// min is rounded down and the scale up to the storage precision, so every
/// x maps into [0, qmax] without clipping. A constant group gets scale 0 and
/// min = x rounded to nearest.
/// @throws InvalidArgument if a value does not fit the precision.
AffineParams choose_affine_params(const float* x, const float* importance, Index n, int qmax,
                                  ScalePrecision precision, const RangeOptions& opt);

/// Scale for ternary codes w = scale * t, t in {-1, 0, 1} (see Method).
float choose_ternary_scale(const float* x, const float* importance, Index n,
                           ScalePrecision precision, const RangeOptions& opt);

/// The parameters quantize() chooses for one row of `cols` weights in
/// `format`: format_groups_per_row(format, cols) scales, and as many mins for
/// asymmetric formats (`mins` may be null for symmetric ones). Importance
/// is taken from opt.importance (whole row).
/// @throws InvalidArgument for float formats, non-finite weights, bad options,
///         or values outside the scale precision.
void choose_row_params(QuantFormat format, const float* row, Index cols, const RangeOptions& opt,
                       float* scales, float* mins);

/// The value code of x: clamp(nearbyint(x / scale), qmin, qmax) (symmetric) or
/// clamp(nearbyint((x - min) / scale), 0, qmax) (asymmetric), computed in
/// double, ties to even; 0 when scale == 0.
int quantize_value(const FormatTraits& traits, float x, float scale, float min);
/// scale * q (+ min), in float.
float dequantize_value(const FormatTraits& traits, int q, float scale, float min);

}  // namespace elmq
