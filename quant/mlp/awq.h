// Activation-aware weight quantization (AWQ, Lin et al. 2024) for one linear
// layer: per-input-channel scales s that protect the weights of channels with
// large activations. The layer computes x W^T = (x / s)(W diag(s))^T exactly;
// quantizing W diag(s) instead of W moves precision to the salient columns.
//
// The scales are searched on a grid, s = m^alpha / sqrt(max(m^alpha) min(m^alpha))
// with m the mean |x| of each input channel (floored at min_activation) and
// alpha = 0, 1/grid, ..., (grid - 1)/grid, minimizing the layer's output error
// on calibration data,
//   loss(alpha) = sum_rows (w - w_hat)^T H (w - w_hat),  H = X^T X / n,
//   w_hat = Q(W diag(s)) diag(s)^-1   (round-to-nearest in the target format).
// alpha = 0 gives s = 1, plain RTN, so the result is never worse than RTN on
// this objective. Folding 1 / s into the layer that produces x (through ReLU,
// which commutes with positive scales) is the caller's job (quantized_mlp.h).
#pragma once

#include <vector>

#include "elm/common/matrix.h"
#include "quant/formats.h"
#include "quant/range.h"

namespace elmq {

struct AwqConfig {
  /// Number of alpha values tried, in [1, 1000] (20: 0, 0.05, ..., 0.95).
  int grid = 20;
  /// Floor of the mean activation magnitude, in (0, 1] (keeps s finite for dead channels).
  float min_activation = 1e-4f;
  /// How the scaled weights are rounded (quant/range.h).
  RangeOptions range;
  /// Threads (0 = all); the result does not depend on it.
  int threads = 0;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

struct AwqSearchResult {
  VectorXf scales;             ///< K per-input-channel scales s (> 0)
  double alpha = 0.0;          ///< the chosen exponent
  double loss = 0.0;           ///< the objective at alpha
  double rtn_loss = 0.0;       ///< the objective at alpha = 0 (plain RTN)
  std::vector<double> losses;  ///< the objective for every alpha of the grid
};

/// Searches the scales for weights w (N x K, finite, integer `format`), the
/// inputs' per-channel mean magnitude mean_abs (K, >= 0) and H = X^T X / n (K x K).
/// @throws InvalidArgument on shape mismatch, non-finite values, a float format or bad config.
AwqSearchResult awq_search_scales(const ConstMatrixRef& w, const ConstVectorRef& mean_abs,
                                  const Eigen::Ref<const RowMatrixXd>& hessian, QuantFormat format,
                                  const AwqConfig& config = AwqConfig());

}  // namespace elmq
