// Quantization-aware training (QAT) of the MLP: fine-tunes a trained FP32
// model through fake-quantized weights and exports a QuantizedMlp whose
// weights are exactly the fake-quantized ones.
//
// Forward: every weight matrix is replaced by w_q = dequant(quant(w)) in the
// target format (per-row or per-group scales, and mins for asymmetric
// formats; grouped formats use fp16-rounded scales, as stored). Backward:
// the clipped straight-through estimator, dL/dw = dL/dw_q where the code
// round(w / s) (asymmetric: round((w - m) / s)) lies inside [qmin, qmax] and
// 0 where it is clamped (PyTorch's FakeQuantize rule).
// Scales: recomputed from the current weights at every step with `range`
// (abs-max: symmetric formats max|w| / qmax, ternary mean|w|), or, with
// learn_scales (LSQ, Esser et al. 2020), initialized that way and then
// trained with the LSQ gradient
//   d w_q / d s = q - u inside the range, the clamp bound outside (u = w / s),
//   (asymmetric: d w_q / d m = 0 inside, 1 outside),
// scaled by 1 / sqrt(group size * qmax). Biases stay float. Activations are
// not fake-quantized: the exported model quantizes them to int8 per row at
// run time (dynamic), which costs far less than 4-bit or ternary weights.
// The validation split, shuffles and best-epoch rule are those of Mlp::fit.
#pragma once

#include <cstdint>
#include <vector>

#include "elm/common/matrix.h"
#include "quant/formats.h"
#include "quant/mlp/mlp.h"
#include "quant/mlp/optimizer.h"
#include "quant/mlp/quantized_mlp.h"
#include "quant/mlp/training_history.h"
#include "quant/range.h"

namespace elmq {

struct QatConfig {
  /// Integer weight format of every layer (unless layer_formats is set).
  QuantFormat format = QuantFormat::kInt4G32Sym;
  /// Empty, or one integer format per layer.
  std::vector<QuantFormat> layer_formats;
  /// Learn the scales (and mins) with LSQ instead of recomputing them.
  bool learn_scales = false;
  /// Scale choice (each step, or LSQ's initialization); importance must be empty.
  RangeOptions range;
  /// Fine-tuning epochs, in [1, 100000].
  int epochs = 3;
  /// Rows per step, in [1, 1<<20].
  Index batch_size = 256;
  /// Adam at a tenth of the FP32 recipe's step size by default.
  OptimizerConfig optimizer = [] {
    OptimizerConfig o;
    o.learning_rate = 1e-4;
    return o;
  }();
  /// As MlpConfig (validation rows choose the best epoch).
  double validation_fraction = 0.1;
  int patience = 0;
  bool restore_best = true;
  std::uint64_t seed = 42;
  int threads = 0;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

struct QatResult {
  QuantizedMlp model;  ///< info().method == kQat, dynamic int8 activations
  TrainingHistory history;
  /// Validation accuracy of the fake-quantized network before fine-tuning
  /// (initial scales; 0 without validation rows).
  double initial_val_accuracy = 0.0;
};

/// Fine-tunes `model` (fitted) on (x, labels) (raw rows, labels among
/// model.classes()) and exports the quantized network.
/// @throws InvalidArgument on bad config or data; NumericalError if training diverges.
QatResult qat_finetune(const Mlp& model, const ConstMatrixRef& x, const ConstLabelRef& labels,
                       const QatConfig& config, const MlpProgressFn& progress = MlpProgressFn());

}  // namespace elmq
