// Private to quant/mlp: the mini-batch training loop shared by FP32 training
// (Mlp::fit) and quantization-aware fine-tuning (qat.h).
//
// Each epoch shuffles the training rows with Rng(seed, kShuffleStream + epoch),
// gathers each batch into a preallocated buffer (applying the scaler row by
// row), runs Backprop::forward_backward and one optimizer step. Hooks let QAT
// train through fake-quantized weights. After each epoch the validation rows
// are scored; the best epoch's parameters (all blocks, hooks' extras too) are
// kept in preallocated copies.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "elm/common/matrix.h"
#include "elm/scaler.h"
#include "quant/mlp/mlp_params.h"
#include "quant/mlp/optimizer.h"
#include "quant/mlp/training_history.h"

namespace elmq {
namespace detail {

inline constexpr std::uint64_t kShuffleStream = 0x5348554646ULL;  // "SHUFF"

/// Class index (position in the sorted `classes`) of every label.
/// @throws InvalidArgument "<where>: label v at row i is not one of the model's classes".
std::vector<std::int32_t> encode_labels(const LabelVector& classes, const ConstLabelRef& labels,
                                        const char* where);

/// The sorted distinct labels. @throws InvalidArgument (naming `where`) if fewer than 2.
LabelVector distinct_labels(const ConstLabelRef& labels, const char* where);

struct TrainHooks {
  /// The parameters the forward/backward pass uses for the current master
  /// parameters (unset: the master parameters themselves).
  std::function<const MlpParams&(const MlpParams& master)> forward_params;
  /// Turns the gradients w.r.t. the forward parameters into gradients w.r.t.
  /// the master parameters, in place, and fills the gradients of extra_blocks.
  std::function<void(const MlpParams& master, MlpParams& grads)> adjust_gradients;
  /// Called after every optimizer step.
  std::function<void()> after_step;
  /// Further trainable arrays (optimized and snapshotted with the master parameters).
  std::vector<ParamBlock> extra_blocks;
};

struct TrainSettings {
  int epochs = 10;
  Index batch_size = 256;
  OptimizerConfig optimizer;
  int patience = 0;  ///< 0: never stop early
  bool restore_best = true;
  std::uint64_t seed = 0;
  int threads = 1;  ///< resolved count
  MlpProgressFn progress;
};

/// Rows of `x` (raw, scaled by `scaler` on the fly) used for the gradient
/// steps and for validation. `val_x`/`val_y` null: validation rows are `val_rows` of x.
struct TrainData {
  const ConstMatrixRef* x = nullptr;
  const std::vector<std::int32_t>* y = nullptr;  ///< class index of every row of x
  std::vector<Index> train_rows;
  std::vector<Index> val_rows;
  const ConstMatrixRef* val_x = nullptr;
  const std::vector<std::int32_t>* val_y = nullptr;
  const Scaler* scaler = nullptr;
};

/// Trains `params` in place. @throws whatever the hooks or the progress callback throw.
TrainingHistory train_loop(MlpParams& params, const TrainData& data, const TrainSettings& settings,
                           const TrainHooks& hooks);

}  // namespace detail
}  // namespace elmq
