#include "quant/mlp/calibration.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"

namespace elmq {

const char* calibration_method_name(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::kMinMax:
      return "minmax";
    case CalibrationMethod::kMovingAverage:
      return "moving-average";
    case CalibrationMethod::kPercentile:
      return "percentile";
    case CalibrationMethod::kHistogramMse:
      return "mse";
  }
  return "unknown";
}

CalibrationMethod parse_calibration_method(const std::string& name) {
  if (name == "minmax") return CalibrationMethod::kMinMax;
  if (name == "moving-average") return CalibrationMethod::kMovingAverage;
  if (name == "percentile") return CalibrationMethod::kPercentile;
  if (name == "mse") return CalibrationMethod::kHistogramMse;
  throw InvalidArgument(str_cat("parse_calibration_method: unknown method '", name,
                                "' (known: minmax, moving-average, percentile, mse)"));
}

void CalibrationConfig::validate() const {
  ELMQ_CHECK_ARG(
      static_cast<std::uint32_t>(method) <= 3,
      "CalibrationConfig: method must be minmax, moving-average, percentile or mse, got ",
      static_cast<std::uint32_t>(method));
  ELMQ_CHECK_ARG(batch_rows >= 1 && batch_rows <= (Index{1} << 20),
                 "CalibrationConfig: batch_rows must be in [1, 1048576], got ", batch_rows);
  ELMQ_CHECK_ARG(averaging_constant > 0.0 && averaging_constant <= 1.0,
                 "CalibrationConfig: averaging_constant must be in (0, 1], got ",
                 averaging_constant);
  ELMQ_CHECK_ARG(percentile >= 50.0 && percentile <= 100.0,
                 "CalibrationConfig: percentile must be in [50, 100], got ", percentile);
  ELMQ_CHECK_ARG(bins >= 16 && bins <= 65536,
                 "CalibrationConfig: bins must be in [16, 65536], got ", bins);
  ELMQ_CHECK_ARG(steps >= 1 && steps <= 10000,
                 "CalibrationConfig: steps must be in [1, 10000], got ", steps);
}

namespace {

ActivationRange min_max(const ConstMatrixRef& x) { return {x.minCoeff(), x.maxCoeff()}; }

ActivationRange moving_average(const ConstMatrixRef& x, const CalibrationConfig& c) {
  double lo = 0.0, hi = 0.0;
  for (Index b = 0; b < x.rows(); b += c.batch_rows) {
    const auto blk = x.middleRows(b, std::min(c.batch_rows, x.rows() - b));
    const double bl = blk.minCoeff(), bh = blk.maxCoeff();
    if (b == 0) {
      lo = bl;
      hi = bh;
    } else {
      lo += c.averaging_constant * (bl - lo);
      hi += c.averaging_constant * (bh - hi);
    }
  }
  return {static_cast<float>(lo), static_cast<float>(hi)};
}

// The value of rank q (0-based, fractional ranks interpolated) of the sorted values.
float quantile(std::vector<float>& v, double q) {
  const std::size_t n = v.size();
  const double pos = q * static_cast<double>(n - 1);
  const std::size_t i = static_cast<std::size_t>(std::floor(pos));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  const float a = v[i];
  if (i + 1 >= n) return a;
  const float b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(i) + 1, v.end());
  return static_cast<float>(a + (pos - static_cast<double>(i)) * (static_cast<double>(b) - a));
}

ActivationRange percentile(const ConstMatrixRef& x, const CalibrationConfig& c) {
  std::vector<float> v(static_cast<std::size_t>(x.size()));
  std::size_t k = 0;
  for (Index i = 0; i < x.rows(); ++i) {
    for (Index j = 0; j < x.cols(); ++j) v[k++] = x(i, j);
  }
  const double p = c.percentile / 100.0;
  const float hi = quantile(v, p);
  const float lo = quantile(v, 1.0 - p);
  return {std::min(lo, hi), hi};
}

ActivationRange histogram_mse(const ConstMatrixRef& x, const CalibrationConfig& c) {
  const double lo0 = std::min(0.0f, x.minCoeff()), hi0 = std::max(0.0f, x.maxCoeff());
  if (hi0 - lo0 <= 0.0) return {0.0f, 0.0f};
  const int nb = c.bins;
  const double width = (hi0 - lo0) / nb;
  std::vector<double> count(static_cast<std::size_t>(nb), 0.0);
  for (Index i = 0; i < x.rows(); ++i) {
    for (Index j = 0; j < x.cols(); ++j) {
      const float v = x(i, j);
      if (v == 0.0f) continue;  // exactly representable in every candidate range
      const int b = std::clamp(static_cast<int>((v - lo0) / width), 0, nb - 1);
      count[static_cast<std::size_t>(b)] += 1.0;
    }
  }
  double best_err = -1.0;
  ActivationRange best{static_cast<float>(lo0), static_cast<float>(hi0)};
  for (int s = 0; s < c.steps; ++s) {
    const double t = 1.0 - static_cast<double>(s) / c.steps;
    const double lo = t * lo0, hi = t * hi0;
    const double step = (hi - lo) / 255.0;
    double err = 0.0;
    for (int b = 0; b < nb; ++b) {
      const double n = count[static_cast<std::size_t>(b)];
      if (n == 0.0) continue;
      const double center = lo0 + (b + 0.5) * width;
      if (center < lo) {
        err += n * (lo - center) * (lo - center);
      } else if (center > hi) {
        err += n * (center - hi) * (center - hi);
      } else {
        err += n * step * step / 12.0;
      }
    }
    if (best_err < 0.0 || err < best_err) {
      best_err = err;
      best = {static_cast<float>(lo), static_cast<float>(hi)};
    }
  }
  return best;
}

}  // namespace

ActivationRange calibrate_range(const ConstMatrixRef& x, const CalibrationConfig& config) {
  config.validate();
  ELMQ_CHECK_ARG(x.size() >= 1, "calibrate_range: the calibration values are empty (", x.rows(),
                 " x ", x.cols(), ")");
  check_finite(x, "calibrate_range", "x");
  switch (config.method) {
    case CalibrationMethod::kMinMax:
      return min_max(x);
    case CalibrationMethod::kMovingAverage:
      return moving_average(x, config);
    case CalibrationMethod::kPercentile:
      return percentile(x, config);
    case CalibrationMethod::kHistogramMse:
      return histogram_mse(x, config);
  }
  return min_max(x);
}

RowMatrixXd input_hessian(const ConstMatrixRef& x, int threads) {
  ELMQ_CHECK_ARG(x.rows() >= 1 && x.cols() >= 1, "input_hessian: X is ", x.rows(), " x ", x.cols(),
                 ", needs at least one row and column");
  check_finite(x, "input_hessian", "X");
  const Index n = x.rows(), k = x.cols();
  constexpr Index kRows = 512, kCols = 64;
  RowMatrixXd h = RowMatrixXd::Zero(k, k);
  // Each task owns a block of columns of H and adds the row blocks in order.
  parallel_for_range(k, kCols, resolve_threads(threads), [&](Index c0, Index c1) {
    RowMatrixXf part(k, c1 - c0);
    for (Index r0 = 0; r0 < n; r0 += kRows) {
      const auto xr = x.middleRows(r0, std::min(kRows, n - r0));
      part.noalias() = xr.transpose() * xr.middleCols(c0, c1 - c0);
      h.middleCols(c0, c1 - c0) += part.cast<double>();
    }
  });
  h /= static_cast<double>(n);
  // Exactly symmetric (the blocks' float rounding may differ across the diagonal).
  const RowMatrixXd sym = 0.5 * (h + h.transpose());
  return sym;
}

}  // namespace elmq
