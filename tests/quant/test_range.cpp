#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "elm/common/errors.h"
#include "quant/half.h"
#include "quant/range.h"
#include "quant_test_util.h"

namespace elmq {
namespace {

double weighted_sym_error(const std::vector<float>& x, const std::vector<float>* imp, int qmax,
                          float s) {
  double e = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double q = std::min<double>(qmax, std::max<double>(-qmax, std::nearbyint(x[i] / s)));
    const double d = x[i] - s * q;
    e += (imp ? (*imp)[i] : 1.0) * d * d;
  }
  return e;
}

std::vector<float> normal_vector(int n, std::uint64_t seed) {
  const RowMatrixXf m = test::normal_matrix(1, n, seed);
  return std::vector<float>(m.data(), m.data() + n);
}

TEST(RangeOptions, ValidateNamesTheField) {
  RangeOptions o;
  EXPECT_NO_THROW(o.validate());
  o.grid = 0;
  try {
    o.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("grid"), std::string::npos);
  }
  o = RangeOptions();
  o.min_shrink = 0.0f;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o.min_shrink = 1.5f;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o = RangeOptions();
  o.importance = VectorXf::Ones(4);
  o.importance[2] = -1.0f;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o.importance[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(o.validate(), InvalidArgument);
  o.importance[2] = 1.0f;
  EXPECT_NO_THROW(o.validate_for(4));
  EXPECT_THROW(o.validate_for(5), InvalidArgument);
  o = RangeOptions();
  o.method = static_cast<RangeOptions::Method>(7);
  EXPECT_THROW(o.validate(), InvalidArgument);
}

TEST(Range, AbsMaxScaleIsRoundedUpAndNeverClips) {
  const std::vector<float> x = normal_vector(32, 1);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  const RangeOptions opt;
  const float s16 = choose_symmetric_scale(x.data(), nullptr, 32, 7, ScalePrecision::kF16, opt);
  EXPECT_EQ(s16, half_to_float(half_round_up(static_cast<double>(amax) / 7)));
  EXPECT_GE(static_cast<double>(s16) * 7, amax);
  const float s32 = choose_symmetric_scale(x.data(), nullptr, 32, 127, ScalePrecision::kF32, opt);
  EXPECT_GE(static_cast<double>(s32) * 127, amax);
  EXPECT_LE(static_cast<double>(s32) * 127, amax * (1 + 1e-6));
  const std::vector<float> zeros(8, 0.0f);
  EXPECT_EQ(choose_symmetric_scale(zeros.data(), nullptr, 8, 7, ScalePrecision::kF16, opt), 0.0f);
}

TEST(Range, MseSearchBeatsAbsMaxWithAnOutlier) {
  std::vector<float> x = normal_vector(128, 2);
  x[5] = 12.0f;  // an outlier stretches the abs-max range
  RangeOptions mse;
  mse.method = RangeOptions::Method::kMseSearch;
  const float s_abs =
      choose_symmetric_scale(x.data(), nullptr, 128, 7, ScalePrecision::kF16, RangeOptions());
  const float s_mse = choose_symmetric_scale(x.data(), nullptr, 128, 7, ScalePrecision::kF16, mse);
  EXPECT_LT(s_mse, s_abs);
  EXPECT_LT(weighted_sym_error(x, nullptr, 7, s_mse), weighted_sym_error(x, nullptr, 7, s_abs));
}

TEST(Range, ImportanceSteersTheSearch) {
  std::vector<float> x = normal_vector(128, 3);
  x[9] = 6.0f;
  RangeOptions mse;
  mse.method = RangeOptions::Method::kMseSearch;
  mse.min_shrink = 0.2f;
  mse.grid = 40;
  // The outlier's channel matters a lot: keep it representable.
  std::vector<float> heavy(128, 1.0f);
  heavy[9] = 1e4f;
  // The outlier's channel does not matter at all: clip it.
  std::vector<float> none(128, 1.0f);
  none[9] = 0.0f;
  const float s_heavy =
      choose_symmetric_scale(x.data(), heavy.data(), 128, 7, ScalePrecision::kF16, mse);
  const float s_none =
      choose_symmetric_scale(x.data(), none.data(), 128, 7, ScalePrecision::kF16, mse);
  EXPECT_GT(s_heavy, s_none);
  EXPECT_GE(s_heavy * 7.5f, 6.0f);
  // Each choice is optimal among the candidates for its own weighting, so it is
  // at least as good as the other's.
  EXPECT_LE(weighted_sym_error(x, &heavy, 7, s_heavy), weighted_sym_error(x, &heavy, 7, s_none));
  EXPECT_LE(weighted_sym_error(x, &none, 7, s_none), weighted_sym_error(x, &none, 7, s_heavy));
}

TEST(Range, AffineMinMaxCoversTheGroup) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<float> x = normal_vector(32, 10 + seed);
    for (float& v : x) v += 3.0f;  // not centred on 0
    const AffineParams p =
        choose_affine_params(x.data(), nullptr, 32, 15, ScalePrecision::kF16, RangeOptions());
    EXPECT_EQ(p.min, half_to_float(float_to_half(p.min)));
    EXPECT_EQ(p.scale, half_to_float(float_to_half(p.scale)));
    for (float v : x) {
      const double t = (static_cast<double>(v) - p.min) / p.scale;
      EXPECT_GE(t, 0.0);
      EXPECT_LE(t, 15.0);
    }
  }
  const std::vector<float> c(16, 0.3f);
  const AffineParams p =
      choose_affine_params(c.data(), nullptr, 16, 3, ScalePrecision::kF16, RangeOptions());
  EXPECT_EQ(p.scale, 0.0f);
  EXPECT_EQ(p.min, half_to_float(float_to_half(0.3f)));
}

TEST(Range, TernaryScales) {
  const std::vector<float> x = normal_vector(784, 4);
  double mean_abs = 0;
  for (float v : x) mean_abs += std::fabs(v);
  mean_abs /= x.size();
  const float s_abs =
      choose_ternary_scale(x.data(), nullptr, 784, ScalePrecision::kF32, RangeOptions());
  EXPECT_FLOAT_EQ(s_abs, static_cast<float>(mean_abs));
  RangeOptions mse;
  mse.method = RangeOptions::Method::kMseSearch;
  const float s_mse = choose_ternary_scale(x.data(), nullptr, 784, ScalePrecision::kF32, mse);
  EXPECT_LT(weighted_sym_error(x, nullptr, 1, s_mse), weighted_sym_error(x, nullptr, 1, s_abs));
  // Lloyd's fixed point for a Gaussian: scale ~ 1.22 sigma (threshold ~ 0.61 sigma).
  EXPECT_NEAR(s_mse, 1.22, 0.12);
}

TEST(Range, ScaleOutsideFp16IsRejected) {
  std::vector<float> x(32, 1.0f);
  x[0] = 1e6f;  // needs a scale of 1e6 / 7 > 65504
  try {
    choose_symmetric_scale(x.data(), nullptr, 32, 7, ScalePrecision::kF16, RangeOptions());
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("fp16"), std::string::npos);
  }
  // ... but fits the fp32 scale of a per-channel format.
  EXPECT_NO_THROW(
      choose_symmetric_scale(x.data(), nullptr, 32, 7, ScalePrecision::kF32, RangeOptions()));
}

TEST(Range, QuantizeValueRoundsHalfToEvenAndClamps) {
  const FormatTraits& i8 = format_traits(QuantFormat::kInt8Channel);
  EXPECT_EQ(quantize_value(i8, 2.5f, 1.0f, 0.0f), 2);
  EXPECT_EQ(quantize_value(i8, 3.5f, 1.0f, 0.0f), 4);
  EXPECT_EQ(quantize_value(i8, -2.5f, 1.0f, 0.0f), -2);
  EXPECT_EQ(quantize_value(i8, 0.5f, 1.0f, 0.0f), 0);
  EXPECT_EQ(quantize_value(i8, 1000.0f, 1.0f, 0.0f), 127);
  EXPECT_EQ(quantize_value(i8, -1000.0f, 1.0f, 0.0f), -127);  // restricted range
  EXPECT_EQ(quantize_value(i8, 5.0f, 0.0f, 0.0f), 0);
  const FormatTraits& a4 = format_traits(QuantFormat::kInt4G32Asym);
  EXPECT_EQ(quantize_value(a4, 1.25f, 0.5f, -1.0f), 4);  // (1.25 + 1) / 0.5 = 4.5 -> 4
  EXPECT_EQ(quantize_value(a4, -5.0f, 0.5f, -1.0f), 0);
  EXPECT_EQ(quantize_value(a4, 50.0f, 0.5f, -1.0f), 15);
  EXPECT_FLOAT_EQ(dequantize_value(a4, 4, 0.5f, -1.0f), 1.0f);
  const FormatTraits& t = format_traits(QuantFormat::kTernaryChannel);
  EXPECT_EQ(quantize_value(t, 0.49f, 1.0f, 0.0f), 0);
  EXPECT_EQ(quantize_value(t, -0.51f, 1.0f, 0.0f), -1);
  EXPECT_EQ(quantize_value(t, 9.0f, 1.0f, 0.0f), 1);
  EXPECT_THROW(quantize_value(t, std::numeric_limits<float>::quiet_NaN(), 1.0f, 0.0f),
               InvalidArgument);
}

TEST(Range, RowParamsPerFormat) {
  const RowMatrixXf w = test::normal_matrix(1, 100, 5);
  std::vector<float> s(4), m(4);
  choose_row_params(QuantFormat::kInt4G32Asym, w.data(), 100, RangeOptions(), s.data(), m.data());
  for (int g = 0; g < 4; ++g) EXPECT_GT(s[g], 0.0f);
  EXPECT_THROW(
      choose_row_params(QuantFormat::kF16, w.data(), 100, RangeOptions(), s.data(), m.data()),
      InvalidArgument);
  EXPECT_THROW(choose_row_params(QuantFormat::kInt4G32Asym, w.data(), 100, RangeOptions(), s.data(),
                                 nullptr),
               InvalidArgument);
  RangeOptions bad;
  bad.importance = VectorXf::Ones(99);
  EXPECT_THROW(choose_row_params(QuantFormat::kInt8Channel, w.data(), 100, bad, s.data(), nullptr),
               InvalidArgument);
}

}  // namespace
}  // namespace elmq
