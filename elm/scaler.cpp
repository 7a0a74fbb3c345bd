#include "elm/scaler.h"

#include <cmath>

#include "elm/common/errors.h"

namespace elmq {

const char* scaling_name(ScalingKind s) {
  switch (s) {
    case ScalingKind::kNone:
      return "none";
    case ScalingKind::kStandardize:
      return "standardize";
    case ScalingKind::kMinMax:
      return "minmax";
  }
  return "unknown";
}

ScalingKind parse_scaling(const std::string& name) {
  if (name == "none") return ScalingKind::kNone;
  if (name == "standardize") return ScalingKind::kStandardize;
  if (name == "minmax") return ScalingKind::kMinMax;
  throw InvalidArgument(str_cat("unknown scaling '", name, "' (known: none, standardize, minmax)"));
}

void Scaler::fit(const ConstMatrixRef& x) {
  ELMQ_CHECK_ARG(x.rows() >= 1 && x.cols() >= 1, "Scaler::fit: X is ", x.rows(), " x ", x.cols(),
                 ", needs at least one row and one column");
  check_finite(x, "Scaler::fit", "X");
  const Index d = x.cols();
  offset_ = VectorXf::Zero(d);
  scale_ = VectorXf::Ones(d);
  // Column moments in double (two passes: exact enough for any realistic n) and
  // the column range, all row by row: column-wise reductions of a row-major
  // matrix walk memory with a stride and cost more than training's GEMMs do.
  Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(d);
  Eigen::RowVectorXf lo = x.row(0), hi = x.row(0);
  for (Index i = 0; i < x.rows(); ++i) {
    mean += x.row(i).cast<double>();
    lo = lo.cwiseMin(x.row(i));
    hi = hi.cwiseMax(x.row(i));
  }
  mean /= static_cast<double>(x.rows());
  Eigen::RowVectorXd var = Eigen::RowVectorXd::Zero(d);
  for (Index i = 0; i < x.rows(); ++i) {
    var.array() += (x.row(i).cast<double>() - mean).array().square();
  }
  var /= static_cast<double>(x.rows());
  if (kind_ == ScalingKind::kStandardize) {
    for (Index j = 0; j < d; ++j) {
      offset_[j] = static_cast<float>(mean[j]);
      const double sd = std::sqrt(var[j]);
      // A constant feature carries no information: centre it, do not blow it up.
      scale_[j] = sd > 1e-12 * (1.0 + std::abs(mean[j])) ? static_cast<float>(1.0 / sd) : 1.0f;
    }
  } else if (kind_ == ScalingKind::kMinMax) {
    for (Index j = 0; j < d; ++j) {
      offset_[j] = lo[j];
      const double range = static_cast<double>(hi[j]) - lo[j];
      scale_[j] = range > 0.0 ? static_cast<float>(1.0 / range) : 1.0f;
    }
  }
  // E[((x - o) s)^2] = s^2 (var + (mean - o)^2), per column.
  double mean_sq = 0.0;
  for (Index j = 0; j < d; ++j) {
    const double dm = mean[j] - offset_[j];
    mean_sq += static_cast<double>(scale_[j]) * scale_[j] * (var[j] + dm * dm);
  }
  mean_sq /= static_cast<double>(d);
  scaled_rms_ = mean_sq > 1e-24 ? static_cast<float>(std::sqrt(mean_sq)) : 1.0f;
}

void Scaler::transform(const ConstMatrixRef& x, MatrixRef out) const {
  ELMQ_CHECK_ARG(fitted(), "Scaler::transform: the scaler is not fitted");
  ELMQ_CHECK_ARG(x.cols() == n_features(), "Scaler::transform: X has ", x.cols(),
                 " columns, the scaler expects ", n_features());
  ELMQ_CHECK_ARG(out.rows() == x.rows() && out.cols() == x.cols(), "Scaler::transform: output is ",
                 out.rows(), " x ", out.cols(), ", expected ", x.rows(), " x ", x.cols());
  if (kind_ == ScalingKind::kNone) {
    if (out.data() != x.data()) out = x;
    return;
  }
  out = (x.rowwise() - offset_.transpose()).array().rowwise() * scale_.transpose().array();
}

RowMatrixXf Scaler::transform(const ConstMatrixRef& x) const {
  RowMatrixXf out(x.rows(), x.cols());
  transform(x, out);
  return out;
}

void Scaler::transform_row(const float* x, float* out) const {
  const Index d = n_features();
  for (Index j = 0; j < d; ++j) out[j] = (x[j] - offset_[j]) * scale_[j];
}

namespace {
constexpr std::uint32_t kTagKind = tag("KIND");
constexpr std::uint32_t kTagOffset = tag("OFFS");
constexpr std::uint32_t kTagScale = tag("SCAL");
constexpr std::uint32_t kTagRms = tag("SRMS");
}  // namespace

void Scaler::save(RecordWriter& w) const {
  w.put_u64(kTagKind, static_cast<std::uint64_t>(kind_));
  w.put_f32_array(kTagOffset, offset_.data(), static_cast<std::size_t>(offset_.size()));
  w.put_f32_array(kTagScale, scale_.data(), static_cast<std::size_t>(scale_.size()));
  w.put_f64(kTagRms, scaled_rms_);
}

Scaler Scaler::load(const RecordReader& r) {
  const std::uint64_t kind = r.get_u64(kTagKind);
  if (kind > 2) r.fail(str_cat("unknown scaling kind ", kind));
  Scaler s(static_cast<ScalingKind>(kind));
  const auto offset = r.get_f32_array(kTagOffset);
  const auto scale = r.get_f32_array(kTagScale);
  if (offset.size() != scale.size()) r.fail("scaler offset and scale differ in length");
  s.offset_ = Eigen::Map<const VectorXf>(offset.data(), static_cast<Index>(offset.size()));
  s.scale_ = Eigen::Map<const VectorXf>(scale.data(), static_cast<Index>(scale.size()));
  s.scaled_rms_ = static_cast<float>(r.get_f64(kTagRms));
  if (!s.offset_.allFinite() || !s.scale_.allFinite() || !(s.scaled_rms_ > 0.0f) ||
      !std::isfinite(s.scaled_rms_)) {
    r.fail("scaler holds non-finite values");
  }
  return s;
}

}  // namespace elmq
