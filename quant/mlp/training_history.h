// What an MLP training run (FP32 training or quantization-aware fine-tuning)
// reports per epoch, and the progress callback that receives it.
#pragma once

#include <functional>
#include <vector>

namespace elmq {

struct EpochReport {
  int epoch = 0;                 ///< 1-based
  double train_loss = 0.0;       ///< mean cross-entropy over the epoch's training batches
  double val_loss = 0.0;         ///< mean cross-entropy on the validation rows (0 without them)
  double val_accuracy = 0.0;     ///< fraction correct on the validation rows (0 without them)
  double epoch_seconds = 0.0;    ///< wall clock of this epoch, validation included
  double elapsed_seconds = 0.0;  ///< wall clock since the start of training
};

struct TrainingHistory {
  std::vector<EpochReport> epochs;
  /// The epoch whose weights the model holds (1-based): the best validation
  /// epoch when restoring the best weights, else the last one.
  int best_epoch = 0;
  bool stopped_early = false;  ///< patience ran out before the last epoch
  double seconds = 0.0;        ///< total wall clock (setup included)
  long long train_rows = 0;    ///< rows used for the gradient steps
  long long val_rows = 0;      ///< rows held out for validation / early stopping
};

/// Called after every epoch (on the training thread).
using MlpProgressFn = std::function<void(const EpochReport&)>;

}  // namespace elmq
