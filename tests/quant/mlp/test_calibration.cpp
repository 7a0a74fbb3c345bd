#include <gtest/gtest.h>

#include <cmath>

#include "elm/common/errors.h"
#include "elm/common/rng.h"
#include "quant/mlp/awq.h"
#include "quant/mlp/calibration.h"
#include "quant/quantized_tensor.h"
#include "tests/quant/quant_test_util.h"

namespace elmq {
namespace {

RowMatrixXf ramp(Index rows, Index cols) {
  RowMatrixXf x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i);
  return x;
}

TEST(CalibrateRange, MinMaxAndPercentile) {
  const RowMatrixXf x = ramp(100, 10);  // 0..999
  CalibrationConfig c;
  ActivationRange r = calibrate_range(x, c);
  EXPECT_EQ(r.lo, 0.0f);
  EXPECT_EQ(r.hi, 999.0f);
  c.method = CalibrationMethod::kPercentile;
  c.percentile = 99.0;
  r = calibrate_range(x, c);
  // Linear interpolation between order statistics: rank 0.99 * 999 = 989.01.
  EXPECT_NEAR(r.hi, 989.01f, 1e-3f);
  EXPECT_NEAR(r.lo, 9.99f, 1e-3f);
  c.percentile = 100.0;
  r = calibrate_range(x, c);
  EXPECT_EQ(r.hi, 999.0f);
  EXPECT_EQ(r.lo, 0.0f);
}

TEST(CalibrateRange, MovingAverageFollowsItsRecurrence) {
  RowMatrixXf x(3, 2);
  x << 0, 10,  // batch 1: [0, 10]
      -2, 20,  // batch 2: [-2, 20]
      1, 2;    // batch 3: [1, 2]
  CalibrationConfig c;
  c.method = CalibrationMethod::kMovingAverage;
  c.batch_rows = 1;
  c.averaging_constant = 0.5;
  const ActivationRange r = calibrate_range(x, c);
  // lo: 0 -> -1 -> 0; hi: 10 -> 15 -> 8.5
  EXPECT_NEAR(r.lo, 0.0f, 1e-6f);
  EXPECT_NEAR(r.hi, 8.5f, 1e-6f);
}

TEST(CalibrateRange, HistogramMseClipsALongTail) {
  // Laplace(1) values: with 8 bits the MSE-optimal clip is near 10 (Banner et
  // al., ACIQ), below the largest of 200000 samples (about 12).
  Rng rng(3);
  RowMatrixXf x(400, 500);
  for (Index i = 0; i < x.size(); ++i) {
    const double e = -std::log(1.0 - rng.uniform());
    x.data()[i] = static_cast<float>(rng.uniform() < 0.5 ? -e : e);
  }
  CalibrationConfig c;
  c.method = CalibrationMethod::kHistogramMse;
  const ActivationRange r = calibrate_range(x, c);
  const ActivationRange mm = calibrate_range(x, CalibrationConfig());
  EXPECT_LT(r.hi, 0.95f * mm.hi);
  EXPECT_GT(r.hi, 6.0f);
  EXPECT_LT(r.lo, 0.0f);
  // The clipped range has a lower actual uint8 MSE than the min-max one.
  auto mse = [&](const ActivationRange& a) {
    const double step = (static_cast<double>(a.hi) - a.lo) / 255.0;
    double e = 0.0;
    for (Index i = 0; i < x.size(); ++i) {
      const double v = x.data()[i];
      const double q = std::min(255.0, std::max(0.0, std::nearbyint((v - a.lo) / step)));
      e += (a.lo + q * step - v) * (a.lo + q * step - v);
    }
    return e;
  };
  EXPECT_LT(mse(r), mse(mm));
}

TEST(CalibrateRange, BadInputs) {
  CalibrationConfig c;
  c.percentile = 40.0;
  EXPECT_THROW(calibrate_range(ramp(2, 2), c), InvalidArgument);
  c = CalibrationConfig();
  c.bins = 4;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = CalibrationConfig();
  c.averaging_constant = 0.0;
  EXPECT_THROW(c.validate(), InvalidArgument);
  EXPECT_THROW(calibrate_range(RowMatrixXf(0, 3), CalibrationConfig()), InvalidArgument);
  RowMatrixXf nan = ramp(2, 2);
  nan(1, 1) = std::nanf("");
  EXPECT_THROW(calibrate_range(nan, CalibrationConfig()), InvalidArgument);
  EXPECT_THROW(parse_calibration_method("kl"), InvalidArgument);
  EXPECT_EQ(parse_calibration_method("moving-average"), CalibrationMethod::kMovingAverage);
}

TEST(InputHessian, MatchesTheDefinitionForAnyThreadCount) {
  const RowMatrixXf x = test::normal_matrix(1100, 70, 4);
  const RowMatrixXd h1 = input_hessian(x, 1);
  const RowMatrixXd h2 = input_hessian(x, 2);
  EXPECT_EQ(h1, h2);
  const RowMatrixXd ref = x.cast<double>().transpose() * x.cast<double>() / 1100.0;
  EXPECT_LT((h1 - ref).cwiseAbs().maxCoeff(), 1e-5 * ref.cwiseAbs().maxCoeff());
  EXPECT_EQ(h1, h1.transpose());
}

TEST(Awq, NeverWorseThanRtnAndFavoursLargeChannels) {
  // Inputs with a few channels 20x larger than the rest.
  RowMatrixXf x = test::normal_matrix(512, 64, 5);
  for (Index j = 0; j < 64; j += 16) x.col(j) *= 20.0f;
  const RowMatrixXf w = test::normal_matrix(32, 64, 6, 0.1f);
  const RowMatrixXd h = input_hessian(x, 1);
  const VectorXf mean_abs = x.cwiseAbs().colwise().mean().transpose();
  AwqConfig c;
  const AwqSearchResult r = awq_search_scales(w, mean_abs, h, QuantFormat::kInt4G32Sym, c);
  ASSERT_EQ(r.losses.size(), 20u);
  EXPECT_EQ(r.rtn_loss, r.losses[0]);
  EXPECT_LE(r.loss, r.rtn_loss);
  EXPECT_LT(r.loss, 0.9 * r.rtn_loss);  // the outlier channels make scaling worthwhile
  EXPECT_GT(r.alpha, 0.0);
  EXPECT_GT(r.scales[0], r.scales[1]);
  // alpha = 0 is plain RTN.
  const RowMatrixXf rtn = QuantizedTensor::quantize(w, QuantFormat::kInt4G32Sym).dequantize();
  const RowMatrixXd d = (w - rtn).cast<double>();
  EXPECT_NEAR(r.rtn_loss, (d * h).cwiseProduct(d).sum(), 1e-9 * r.rtn_loss);
  c.threads = 1;
  const AwqSearchResult r1 = awq_search_scales(w, mean_abs, h, QuantFormat::kInt4G32Sym, c);
  EXPECT_EQ(r1.scales, r.scales);
  EXPECT_THROW(awq_search_scales(w, mean_abs, h, QuantFormat::kF16, c), InvalidArgument);
  EXPECT_THROW(awq_search_scales(w, mean_abs.head(10), h, QuantFormat::kInt4G32Sym, c),
               InvalidArgument);
  c.grid = 0;
  EXPECT_THROW(c.validate(), InvalidArgument);
}

}  // namespace
}  // namespace elmq
