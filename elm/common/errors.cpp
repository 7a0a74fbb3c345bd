#include "elm/common/errors.h"

namespace elmq {

namespace {

// x * 0 is 0 for finite x and NaN for NaN or +-Inf, so one vectorised sum per
// row decides (Eigen's allFinite() is a scalar loop: ~1 s on Fashion-MNIST).
// The bad entry is located only on the error path.
bool all_finite(const ConstMatrixRef& x) {
  bool finite = true;
  for (Index i = 0; i < x.rows() && finite; ++i) finite = (x.row(i).array() * 0.0f).sum() == 0.0f;
  return finite;
}

void first_non_finite(const ConstMatrixRef& x, Index* row, Index* col) {
  for (Index i = 0; i < x.rows(); ++i) {
    for (Index j = 0; j < x.cols(); ++j) {
      if (!std::isfinite(x(i, j))) {
        *row = i;
        *col = j;
        return;
      }
    }
  }
}

}  // namespace

void check_finite(const ConstMatrixRef& x, const char* where, const char* what) {
  if (all_finite(x)) return;
  Index i = 0, j = 0;
  first_non_finite(x, &i, &j);
  throw InvalidArgument(str_cat(where, ": ", what, " has a non-finite value (", x(i, j),
                                ") at row ", i, ", column ", j));
}

void check_finite_result(const ConstMatrixRef& r, Index first_row, const char* where,
                         const char* what) {
  if (all_finite(r)) return;
  Index i = 0, j = 0;
  first_non_finite(r, &i, &j);
  throw NumericalError(str_cat(
      where, ": the ", what, " of input row ", first_row + i, " are not finite (", r(i, j),
      " at column ", j,
      "): the input is too far outside the range the model was trained on (float32 overflows), "
      "or the model holds extreme weights"));
}

void check_finite_result(const float* row, Index n, const char* where, const char* what) {
  check_finite_result(Eigen::Map<const RowMatrixXf>(row, 1, n), 0, where, what);
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
