// The error model of elmq, shared by every module.
//
// Three tiers:
//  - a caller's mistake (wrong shape, NaN in the input, bad config value, a
//    corrupt model file) throws `InvalidArgument` or a subclass of it; both
//    derive from `std::invalid_argument`, Python sees `ValueError`;
//  - a numerical failure (matrix not positive definite, non-finite result)
//    throws `NumericalError` (a `std::runtime_error`);
//  - the operating system refusing a file throws `IoError` (`std::runtime_error`).
// Internal invariants use `assert` (kept in the Release-with-assertions test build).
// Messages name the function, the argument and the values:
//   "ElmModel::predict: X has 783 columns, model expects 784".
#pragma once

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "elm/common/matrix.h"

namespace elmq {

class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A model or data file that is truncated, corrupt, or of an unknown version.
class FormatError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// A numerical failure: e.g. a system that is not positive definite.
class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file that cannot be opened, read or written.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  os.precision(9);
  (os << ... << args);
  return os.str();
}
}  // namespace detail

/// Builds a message from its pieces with `operator<<`.
template <typename... Args>
std::string str_cat(const Args&... args) {
  return detail::str_cat(args...);
}

/// Throws `InvalidArgument(str_cat(args...))` unless `cond` holds.
#define ELMQ_CHECK_ARG(cond, ...)                                   \
  do {                                                              \
    if (!(cond)) throw ::elmq::InvalidArgument(::elmq::str_cat(__VA_ARGS__)); \
  } while (0)

/// Throws `InvalidArgument` naming `where` and `what` unless every entry is finite.
void check_finite(const ConstMatrixRef& x, const char* where, const char* what);

/// Throws `NumericalError` unless every entry of a model's results is finite:
/// decisions (a block of output rows starting at input row `first_row`), or
/// the hidden activations of rows about to be learned. Finite inputs give
/// non-finite results when they lie so far outside the range the model was
/// trained on that a product overflows float32 (or when a loaded model holds
/// extreme weights); the message says so. The check reads only the results
/// (C or L values per row), a small fraction of the work that produced them.
void check_finite_result(const ConstMatrixRef& r, Index first_row, const char* where,
                         const char* what);
/// The same for the n results of a single-row path.
void check_finite_result(const float* row, Index n, const char* where, const char* what);

/// Throws `InvalidArgument` unless x has `cols` columns (and at least one row when `need_rows`).
void check_shape(const ConstMatrixRef& x, Index cols, const char* where, const char* what,
                 bool need_rows = true);

}  // namespace elmq
