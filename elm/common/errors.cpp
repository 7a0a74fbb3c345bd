#include "elm/common/errors.h"

namespace elmq {

void check_finite(const ConstMatrixRef& x, const char* where, const char* what) {
  // allFinite() is vectorised; locate the bad entry only on the error path.
  if (x.allFinite()) return;
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
    throw InvalidArgument(str_cat(where, ": ", what, " has ", x.cols(), " columns, expected ",
                                  cols));
  }
}

}  // namespace elmq
