// GPTQ: quantization of a weight matrix whose error is measured by a quadratic
// form, with error feedback (Frantar et al., "GPTQ: Accurate Post-Training
// Quantization for Generative Pre-trained Transformers", 2023).
//
// The weights are an N x K matrix W (one output channel per row, K inputs, as
// everywhere in elmq). The error of a quantized row w_hat is
//   loss(w_hat) = (w - w_hat)^T H (w - w_hat),
// with H a K x K symmetric positive semi-definite matrix shared by all rows.
// For a linear layer fed with inputs X (n x K), H = X^T X; for the output
// weights beta of an ELM (beta^T is C x L), H = G + lambda I (G = H^T H the
// training Gram matrix): the increase of the ridge objective
// ||T - H beta||^2 + lambda ||beta||^2 caused by replacing the solution beta
// by beta + Delta is exactly tr(Delta^T (G + lambda I) Delta).
//
// The algorithm quantizes the columns one at a time (all rows together); the
// error of column k is spread over the not yet quantized columns through row k
// of the upper Cholesky factor U of H^-1 (H^-1 = U^T U), which keeps the
// remaining weights optimal for the objective. Columns are processed in
// blocks of `block_size`: inside a block the updates are applied column by
// column, to the rest of the matrix once per block (lazy batch updates).
// Scales (and mins) of grouped formats are chosen when a group starts, from
// the error-updated weights; per-channel scales are chosen once from the
// original row. With act-order the columns are visited by decreasing H_kk;
// grouped formats then use static groups (every group's range chosen up front
// from the original weights) because the storage groups consecutive columns.
//
// Three additions to the published algorithm, all on by default and all only
// ever lowering the loss (the local search: its damped form):
//  - local_search_sweeps: GPTQ visits each column once, greedily; a
//    coordinate descent then moves single codes by one step wherever that
//    lowers the row's loss on H + damping, until no step helps (measured on
//    8 trained 784-256-256-10 Fashion-MNIST MLPs, mean test accuracy below
//    FP32, without -> with: ternary -2.51 -> -2.03 points, int3 -0.33 ->
//    -0.24, int2-g32 -0.35 -> -0.28; int2-g64 -0.32 -> -0.40 and int4 within
//    noise of a few hundredths);
//  - refit_scales: with the codes fixed, each row's scales (and mins) are
//    re-chosen by least squares on the objective itself (the rounding ranges
//    were chosen before the error feedback moved the weights);
//  - keep_better_rtn: GPTQ is greedy and can, on some rows, end above plain
//    round-to-nearest (RTN); both are computed and each row keeps the one with
//    the lower loss, so the result is never worse than RTN (with `range`) on
//    the objective, row by row.
#pragma once

#include <cstdint>

#include "elm/common/matrix.h"
#include "quant/formats.h"
#include "quant/quantized_tensor.h"
#include "quant/range.h"

namespace elmq {

struct GptqOptions {
  /// Columns per lazy batch update, in [1, 65536]. For grouped formats
  /// without act-order it is rounded up to a multiple of the group size.
  Index block_size = 128;
  /// Visit columns by decreasing H_kk (grouped formats: static groups).
  bool act_order = false;
  /// Extra damping added to the diagonal of H before the factorization, as a
  /// fraction of mean(diag(H)); in [0, 1]. The loss is always measured with
  /// the undamped H. If H is not numerically positive definite the damping is
  /// raised (1e-8, 1e-6, ..., 1e-1 of the mean diagonal) until it is.
  double damp = 0.0;
  /// How each group's (or row's) scale and min are chosen (quant/range.h).
  /// The RTN baseline uses exactly these options.
  RangeOptions range = [] {
    RangeOptions r;
    r.method = RangeOptions::Method::kMseSearch;
    return r;
  }();
  /// GPTQ's own range choices weight each column's error by H_kk (the
  /// objective's diagonal) instead of by range.importance.
  bool hessian_weighted_range = true;
  /// After the codes are chosen, refit each row's scales (and mins) by least
  /// squares on the objective with the codes fixed (a G x G system per row,
  /// G = scale groups; 2G for asymmetric formats), rounded to the storage
  /// precision and kept only where the loss decreases.
  bool refit_scales = true;
  /// Keep RTN's codes for every row where they give a lower loss.
  bool keep_better_rtn = true;
  /// Sweeps of a local search after GPTQ (and again after each refit): each
  /// code in turn moves one step up or down where that lowers the row's loss
  /// on the damped H (exactly: the loss change of a step is O(1) with the
  /// gradient H delta kept up to date), until a sweep changes nothing or this
  /// many sweeps; in [0, 100], 0 = off.
  int local_search_sweeps = 20;
  /// Threads for the factorization and the RTN baseline (0 = all); the result
  /// does not depend on it.
  int threads = 0;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

struct GptqResult {
  QuantizedTensor tensor;  ///< N x K in the requested format
  VectorXd loss;           ///< per row: (w - w_hat)^T H (w - w_hat) of `tensor`
  VectorXd gptq_loss;      ///< per row: the same for GPTQ's own codes
  VectorXd rtn_loss;       ///< per row: the same for round-to-nearest with opt.range
  Index rtn_rows = 0;      ///< rows where RTN's codes were kept
  Index local_search_moves = 0;  ///< codes the local search moved (both rounds)
  double damp = 0.0;       ///< absolute damping added to diag(H) for the factorization
  double seconds = 0.0;    ///< wall time

  double total_loss() const { return loss.sum(); }
};

/// Quantizes w (N x K, finite) to `format` minimizing the per-row loss above.
/// hessian: K x K, symmetric, finite, positive semi-definite; columns with H_kk <= 0 do not affect
/// the loss and are rounded to nearest. Float formats are converted directly (no error feedback;
/// losses still reported).
/// @throws InvalidArgument on shape mismatch, non-finite values, bad options.
/// @throws NumericalError if H cannot be factorized even with 10% damping.
GptqResult gptq_quantize(const ConstMatrixRef& w, const Eigen::Ref<const RowMatrixXd>& hessian,
                         QuantFormat format, const GptqOptions& opt = GptqOptions());

/// Per row r: (w_r - v_r)^T H (w_r - v_r), in double. w, v: N x K; H: K x K
/// (symmetric, the full matrix is read).
/// @throws InvalidArgument on shape mismatch.
VectorXd quadratic_loss(const ConstMatrixRef& w, const ConstMatrixRef& v,
                        const Eigen::Ref<const RowMatrixXd>& hessian);

/// The upper-triangular U with U^T U = H^-1 (H: K x K symmetric positive
/// definite), computed without forming H^-1: with P the reversal permutation
/// and P H P = L L^T, U = P L^-1 P. Exposed for tests.
/// @throws NumericalError if H is not numerically positive definite.
RowMatrixXd inverse_cholesky_upper(const Eigen::Ref<const RowMatrixXd>& hessian, int threads = 0);

}  // namespace elmq
