#include "elm/scaler.h"

#include <gtest/gtest.h>

#include "elm/common/errors.h"

namespace elmq {
namespace {

TEST(Scaler, StandardizeGivesZeroMeanUnitVariance) {
  RowMatrixXf x(4, 3);
  x << 1, 10, 5, 2, 20, 5, 3, 30, 5, 4, 40, 5;
  Scaler s(ScalingKind::kStandardize);
  s.fit(x);
  const RowMatrixXf y = s.transform(x);
  for (Index j = 0; j < 2; ++j) {
    EXPECT_NEAR(y.col(j).mean(), 0.0, 1e-6);
    EXPECT_NEAR(y.col(j).squaredNorm() / 4, 1.0, 1e-5);
  }
  EXPECT_TRUE((y.col(2).array() == 0.0f).all());  // constant column: centred, not blown up
}

TEST(Scaler, MinMaxMapsToUnitInterval) {
  RowMatrixXf x(3, 2);
  x << 0, -1, 255, 1, 127.5, 0;
  Scaler s(ScalingKind::kMinMax);
  s.fit(x);
  const RowMatrixXf y = s.transform(x);
  EXPECT_FLOAT_EQ(y(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(y(1, 0), 1.0f);
  EXPECT_FLOAT_EQ(y(2, 1), 0.5f);
  float row[2];
  s.transform_row(x.row(1).data(), row);
  EXPECT_FLOAT_EQ(row[0], y(1, 0));
}

TEST(Scaler, NoneIsIdentity) {
  RowMatrixXf x = RowMatrixXf::Random(5, 3);
  Scaler s(ScalingKind::kNone);
  s.fit(x);
  EXPECT_EQ(s.transform(x), x);
}

TEST(Scaler, BadInputRejected) {
  Scaler s;
  EXPECT_THROW(s.transform(RowMatrixXf::Zero(2, 2)), InvalidArgument);  // unfitted
  EXPECT_THROW(s.fit(RowMatrixXf(0, 3)), InvalidArgument);
  RowMatrixXf x = RowMatrixXf::Zero(2, 2);
  x(1, 1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(s.fit(x), InvalidArgument);
  s.fit(RowMatrixXf::Zero(2, 2));
  EXPECT_THROW(s.transform(RowMatrixXf::Zero(2, 3)), InvalidArgument);
  EXPECT_THROW(parse_scaling("zscore"), InvalidArgument);
}

}  // namespace
}  // namespace elmq
