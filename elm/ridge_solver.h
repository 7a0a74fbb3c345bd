// Ridge regression from accumulated statistics.
//
// Training streams chunks of hidden activations H (rows x L) and targets T
// (rows x C) through a `GramAccumulator`, which keeps G = H^T H (L x L),
// H^T T (L x C) and T^T T (C x C) in double precision. N x L never has to
// exist at once. The output weights solve (G + lambda I) beta = H^T T by
// Cholesky in double precision.
//
// Automatic lambda: rows are assigned (by a hash of their global index, so
// chunking does not matter) to a fit part and a held-out validation part,
// each with its own accumulator. For each lambda on a log grid, beta is
// solved on the fit part and its validation mean squared error is computed
// exactly from the validation statistics:
//   ||T_v - H_v beta||^2 = tr(T_v^T T_v) - 2 tr(beta^T H_v^T T_v) + tr(beta^T G_v beta).
// The final model is solved on both parts with the chosen lambda.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "elm/common/matrix.h"
#include "elm/common/serialize.h"

namespace elmq {

struct RidgeConfig {
  /// Choose lambda on a held-out split (true) or use `lambda` as given.
  bool auto_lambda = true;
  /// The ridge penalty when auto_lambda is false; >= 0 (0 only if G is positive definite).
  double lambda = 1e-2;
  /// Relative grid for auto_lambda: lambda = r * trace(G_fit) / L for each r (> 0, ascending).
  std::vector<double> relative_grid{1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  /// Fraction of rows held out to choose lambda, in (0, 0.5].
  double validation_fraction = 0.2;
  /// Seed of the hash that assigns rows to the held-out part.
  std::uint64_t split_seed = 0x5EED;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

/// Work space of GramAccumulator::add: the float32 L x L slice buffers of the
/// SYRKs (one per thread). Passing the same scratch to consecutive add()
/// calls of a training loop saves allocating and zeroing them per chunk. It
/// holds no statistics; use it from one thread at a time.
class GramScratch {
 public:
  /// Bytes held (up to threads x L^2 x 4, capped at 512 MiB).
  std::size_t bytes() const;

 private:
  friend class GramAccumulator;
  std::vector<RowMatrixXf> buffers_;  // zero between add() calls when clean_
  bool clean_ = false;
};

/// Accumulates G = H^T W H, H^T W T, T^T W T and sum(w) over chunks (W = sample weights).
class GramAccumulator {
 public:
  GramAccumulator() = default;
  GramAccumulator(Index n_hidden, Index n_outputs);

  Index n_hidden() const { return gram_.rows(); }
  Index n_outputs() const { return hty_.cols(); }
  /// Number of rows added (unweighted count).
  std::int64_t rows() const { return rows_; }
  /// Sum of sample weights (== rows() when unweighted).
  double weight_sum() const { return weight_sum_; }

  /// Adds a chunk: h is n x L, t is n x C, sample_weight empty or n non-negative values.
  /// H^T H is summed as float32 SYRKs (upper triangle) over row slices of the
  /// chunk whose split depends only on the number of rows (so the result is
  /// the same for any thread count), one slice per thread, each added to the
  /// double G in slice order; G is kept exactly symmetric. `scratch`
  /// (optional) keeps the slice buffers for the next call; the result does
  /// not depend on it.
  /// @throws InvalidArgument on shape mismatch or a negative/non-finite weight.
  void add(const ConstMatrixRef& h, const ConstMatrixRef& t, const ConstVectorRef& sample_weight,
           int threads, GramScratch* scratch = nullptr);
  /// Adds another accumulator's statistics (same shapes).
  void merge(const GramAccumulator& other);
  /// Appends zero output columns (new classes); existing statistics are unchanged.
  void grow_outputs(Index new_n_outputs);

  const RowMatrixXd& gram() const { return gram_; }  ///< L x L, symmetric
  const RowMatrixXd& hty() const { return hty_; }    ///< L x C
  const RowMatrixXd& tty() const { return tty_; }    ///< C x C

  void save(RecordWriter& w) const;
  static GramAccumulator load(const RecordReader& r);

 private:
  RowMatrixXd gram_, hty_, tty_;
  std::int64_t rows_ = 0;
  double weight_sum_ = 0.0;
};

/// Solves (G + lambda I) beta = rhs by Cholesky (LLT) in double.
/// G: L x L symmetric, rhs: L x C, lambda >= 0. Returns beta (L x C).
/// @throws NumericalError if G + lambda I is not numerically positive definite
///         or the solution is not finite (the message suggests a larger lambda).
/// @throws InvalidArgument on shape mismatch or negative lambda.
RowMatrixXd solve_ridge(const RowMatrixXd& gram, const RowMatrixXd& rhs, double lambda);

/// Squared error sum ||T - H beta||^2 from statistics of (H, T).
double squared_error_from_stats(const GramAccumulator& stats, const RowMatrixXd& beta);

struct LambdaSearchResult {
  double lambda = 0.0;                  ///< chosen (absolute) lambda
  std::vector<double> lambdas;          ///< absolute lambdas tried, ascending
  std::vector<double> validation_mse;   ///< mean squared error per row and output (NaN: solve failed)
  std::int64_t fit_rows = 0, validation_rows = 0;
};

/// Picks lambda minimizing the held-out MSE (ties: the larger lambda).
/// Grid points are solved in parallel (one Cholesky each).
/// @throws InvalidArgument if either part is empty; NumericalError if every point failed.
LambdaSearchResult search_lambda(const GramAccumulator& fit, const GramAccumulator& validation,
                                 const RidgeConfig& config, int threads);

/// True if the row with this global index belongs to the held-out part.
bool is_validation_row(std::uint64_t split_seed, std::int64_t row_index, double fraction);

}  // namespace elmq
