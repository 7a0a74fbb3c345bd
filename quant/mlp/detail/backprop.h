// Private to quant/mlp: the batched forward and backward passes of the MLP
// (ReLU hidden layers, softmax cross-entropy) on preallocated buffers.
//
// Work split (fixed by the batch size only, so results do not depend on the
// thread count): the forward pass, the loss and the back-propagation of the
// deltas are independent per row and run on blocks of kRowGrain rows, each
// block through all layers; the weight gradients dW_l = delta_l^T a_{l-1}
// sum over the whole batch and run as (layer, block of output rows) tasks.
#pragma once

#include <cstdint>
#include <vector>

#include "elm/common/matrix.h"
#include "quant/mlp/mlp_params.h"

namespace elmq {
namespace detail {

/// Rows per forward task (a multiple of 8; 64 keeps the products efficient
/// and still gives 4 tasks for a batch of 256).
inline constexpr Index kMlpRowGrain = 64;

/// Multiply-adds below which a pass runs on one thread: a parallel region
/// costs more than it saves on small networks and batches (the split into
/// tasks stays the same, so results do not change).
inline constexpr double kMinParallelMacs = 2.0e6;

/// `threads`, or 1 if `rows` rows through a network of widths `sizes` are
/// fewer than kMinParallelMacs multiply-adds.
int threads_for_rows(Index rows, const std::vector<Index>& sizes, int threads);

/// Forward pass of rows [r0, r0 + n) of x through all layers into act
/// (act[l]: at least r0 + n rows x n_{l+1}; act.back() receives the logits).
void mlp_forward_rows(const ConstMatrixRef& x, const MlpParams& p, std::vector<RowMatrixXf>& act,
                      Index r0, Index n);

/// Logits of every row of x (n x n_L), computed in blocks of kMlpRowGrain rows on
/// up to `threads` threads; each block allocates its own buffers.
void mlp_forward(const ConstMatrixRef& x, const MlpParams& p, MatrixRef logits, int threads);

/// Softmax cross-entropy of one row of logits z (c values) for class y:
/// writes softmax(z) - onehot(y), times `grad_scale`, into delta (may be null).
/// Returns log(sum exp z) - z_y.
double softmax_xent_row(const float* z, Index c, std::int32_t y, float grad_scale, float* delta);

class Backprop {
 public:
  Backprop() = default;
  /// Buffers for batches of up to max_rows rows of a network of widths `sizes` (n_0..n_L).
  Backprop(const std::vector<Index>& sizes, Index max_rows);

  Index max_rows() const { return max_rows_; }

  /// Forward and backward pass of the mean cross-entropy over the rows of x
  /// (1 <= rows <= max_rows; labels: class indices in [0, n_L)). Writes the
  /// gradient of the mean loss w.r.t. p into grads (same shapes, preallocated)
  /// and returns the summed (not mean) loss. No allocation.
  double forward_backward(const ConstMatrixRef& x, const std::int32_t* labels, const MlpParams& p,
                          MlpParams& grads, int threads);

  /// Forward pass only; the logits are in logits().topRows(x.rows()).
  void forward(const ConstMatrixRef& x, const MlpParams& p, int threads);
  const RowMatrixXf& logits() const { return act_.back(); }

  /// Summed loss and number of correct argmax predictions of the last forward's first `rows` rows.
  void score(Index rows, const std::int32_t* labels, double* loss_sum, Index* correct) const;

 private:
  struct GradTask {
    int layer;
    Index r0, r1;
  };
  std::vector<Index> sizes_;
  Index max_rows_ = 0;
  std::vector<RowMatrixXf> act_;    // act_[l]: max_rows x n_{l+1} (ReLU outputs; last: logits)
  std::vector<RowMatrixXf> delta_;  // delta_[l]: max_rows x n_{l+1}, d loss / d z_l
  std::vector<double> row_loss_;
  std::vector<GradTask> grad_tasks_;
};

}  // namespace detail
}  // namespace elmq
