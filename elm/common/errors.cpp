#include "elm/common/errors.h"

namespace elmq {

void check_finite(const ConstMatrixRef& x, const char* where, const char* what) {
  // x * 0 is 0 for finite x and NaN for NaN or +-Inf, so one vectorised sum per
  // row decides (Eigen's allFinite() is a scalar loop: ~1 s on Fashion-MNIST).
  // The bad entry is located only on the error path.
  bool finite = true;
  for (Index i = 0; i < x.rows() && finite; ++i) finite = (x.row(i).array() * 0.0f).sum() == 0.0f;
  if (finite) return;
  for (Index i = 0; i < x.rows(); ++i) {
    for (Index j = 0; j < x.cols(); ++j) {
      if (!std::isfinite(x(i, j))) {
        throw InvalidArgument(str_cat(where, ": ", what, " has a non-finite value (", x(i, j),
                                      ") at row ", i, ", column ", j));
      }
    }
  }
}

void check_shape(const ConstMatrixRef& x, Index cols, const char* where, const char* what,
                 bool need_rows) {
  if (need_rows && x.rows() == 0) {
    throw InvalidArgument(str_cat(where, ": ", what, " is empty (0 rows)"));
  }
  if (x.cols() != cols) {
    throw InvalidArgument(
        str_cat(where, ": ", what, " has ", x.cols(), " columns, expected ", cols));
  }
}

}  // namespace elmq
