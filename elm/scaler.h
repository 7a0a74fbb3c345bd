// Input scaling fitted on training data and stored with the model:
// x' = (x - offset) * scale, per feature.
#pragma once

#include <cstdint>
#include <string>

#include "elm/common/matrix.h"
#include "elm/common/serialize.h"

namespace elmq {

enum class ScalingKind : std::uint32_t {
  kNone = 0,
  kStandardize = 1,  ///< zero mean, unit variance (constant features: scale 1)
  kMinMax = 2,       ///< to [0, 1] (constant features: scale 1)
};
const char* scaling_name(ScalingKind s);
/// Parses "none", "standardize", "minmax"; @throws InvalidArgument.
ScalingKind parse_scaling(const std::string& name);

class Scaler {
 public:
  Scaler() = default;
  explicit Scaler(ScalingKind kind) : kind_(kind) {}

  /// Fits on X (n x d, n >= 1); statistics are accumulated in double.
  /// @throws InvalidArgument on empty or non-finite input.
  void fit(const ConstMatrixRef& x);

  bool fitted() const { return offset_.size() > 0; }
  ScalingKind kind() const { return kind_; }
  Index n_features() const { return offset_.size(); }
  const VectorXf& offset() const { return offset_; }
  const VectorXf& scale() const { return scale_; }
  /// Root mean square of the scaled training entries, sqrt(mean_ij x'_ij^2),
  /// computed exactly from the fitted column moments (1 if that is 0).
  float scaled_rms() const { return scaled_rms_; }

  /// out = (x - offset) * scale; out may alias x. @throws InvalidArgument on shape mismatch.
  void transform(const ConstMatrixRef& x, MatrixRef out) const;
  RowMatrixXf transform(const ConstMatrixRef& x) const;
  /// One row, no allocation: out[j] = (x[j] - offset[j]) * scale[j].
  void transform_row(const float* x, float* out) const;

  void save(RecordWriter& w) const;
  static Scaler load(const RecordReader& r);

 private:
  ScalingKind kind_ = ScalingKind::kStandardize;
  VectorXf offset_;
  VectorXf scale_;
  float scaled_rms_ = 1.0f;
};

}  // namespace elmq
