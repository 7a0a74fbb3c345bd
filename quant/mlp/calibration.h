// Statistics of a layer's inputs measured on calibration data: activation
// ranges for static INT8 quantization (four observers) and the input Hessian
// X^T X / n used by GPTQ and AWQ.
#pragma once

#include <cstdint>
#include <string>

#include "elm/common/matrix.h"

namespace elmq {

/// How a per-tensor activation range [lo, hi] is chosen from calibration values.
enum class CalibrationMethod : std::uint32_t {
  kMinMax = 0,         ///< the smallest and largest value seen
  kMovingAverage = 1,  ///< min and max of each batch of rows, exponentially averaged
  kPercentile = 2,     ///< the (100 - p)th and p-th percentiles of all values
  kHistogramMse = 3,   ///< the range minimizing the expected uint8 quantization MSE (histogram)
};
const char* calibration_method_name(CalibrationMethod m);
/// Parses "minmax", "moving-average", "percentile", "mse"; @throws InvalidArgument.
CalibrationMethod parse_calibration_method(const std::string& name);

struct CalibrationConfig {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  /// kMovingAverage: rows per batch, in [1, 1<<20], and averaging constant c
  /// in (0, 1]: lo <- lo + c (batch_min - lo) (the first batch initializes).
  Index batch_rows = 256;
  double averaging_constant = 0.1;
  /// kPercentile: p in [50, 100] (100 == kMinMax).
  double percentile = 99.99;
  /// kHistogramMse: histogram bins in [16, 65536] and shrink steps in [1, 10000].
  /// Candidates are the min-max range (widened to include 0) scaled by
  /// t = 1, 1 - 1/steps, ..., 1/steps; each is scored by
  /// sum_bins count * (inside ? step^2 / 12 : (center - clamp(center))^2),
  /// step = (hi - lo) / 255, exact zeros counted as exact.
  int bins = 2048;
  int steps = 200;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

struct ActivationRange {
  float lo = 0.0f;
  float hi = 0.0f;
};

/// The range of the values of x (n x k, all entries one tensor, n >= 1, finite).
/// @throws InvalidArgument on bad config, empty or non-finite x.
ActivationRange calibrate_range(const ConstMatrixRef& x, const CalibrationConfig& config);

/// H = X^T X / n in double (k x k), accumulated over fixed blocks of rows in
/// float products, so the result does not depend on `threads` (0 = all).
/// @throws InvalidArgument on empty or non-finite x.
RowMatrixXd input_hessian(const ConstMatrixRef& x, int threads = 0);

}  // namespace elmq
