// The deep baseline: a multilayer perceptron classifier trained by
// back-propagation (scaler -> [Linear -> ReLU] x H -> Linear -> softmax).
//
// Data layout: see elm/common/matrix.h (row-major float32, samples in rows).
//
//   elmq::MlpConfig cfg;                          // 784-256-256-10 on Fashion-MNIST
//   cfg.hidden = {256, 256};
//   elmq::Mlp mlp(cfg);
//   mlp.set_progress([](const elmq::EpochReport& r) { ... });
//   mlp.fit(x_train, y_train);                    // labels: any int64 values
//   double acc = mlp.score(x_test, y_test);
//   mlp.save("mlp.elmq");                         // FileKind::kMlp
//
// Training: mini-batch Adam or SGD with momentum (optimizer.h) on the mean
// softmax cross-entropy, He-normal initial weights (layer l drawn from
// Rng(seed, l + 1), std sqrt(2 / fan_in)), zero biases. A stratified
// validation split (elm/data/datasets.h stratified_split with `seed`) is held
// out; after each epoch its accuracy decides the best epoch, whose weights
// are kept (restore_best) and early stopping (patience).
//
// Threads: each step's products are split in blocks fixed by the batch size
// (quant/mlp/detail/backprop.h), run with elmq::parallel_for; the same config
// and data give bit-identical models for every thread count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "elm/common/matrix.h"
#include "elm/scaler.h"
#include "quant/mlp/mlp_params.h"
#include "quant/mlp/optimizer.h"
#include "quant/mlp/training_history.h"

namespace elmq {

struct MlpConfig {
  /// Hidden layer widths (ReLU), 1 to 64 layers of 1 to 1<<20 neurons each.
  std::vector<Index> hidden = {256, 256};
  /// Input scaling fitted on the training rows. Min-max keeps pixels in [0, 1].
  ScalingKind scaling = ScalingKind::kMinMax;
  OptimizerConfig optimizer;
  /// Passes over the training rows, in [1, 100000].
  int epochs = 10;
  /// Rows per gradient step, in [1, 1<<20].
  Index batch_size = 256;
  /// Fraction of the training rows held out (stratified) for validation, in
  /// [0, 0.9]; 0: no validation, the model keeps the last epoch's weights.
  double validation_fraction = 0.1;
  /// Stop after this many epochs without a better validation accuracy, in
  /// [0, 100000]; 0: never stop early.
  int patience = 0;
  /// Keep the weights of the best validation epoch (else those of the last epoch).
  bool restore_best = true;
  /// Seed of the initial weights, the validation split and the shuffles.
  std::uint64_t seed = 42;
  /// Threads for training and batch prediction: 0 = all cores.
  int threads = 0;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
  /// E.g. "784-256-256-10" once the input and output widths are known.
  std::string describe(Index n_inputs, Index n_outputs) const;
};

/// Caller-owned scratch for single-row prediction (no allocation after first use).
struct MlpWorkspace {
  std::vector<VectorXf> act;
  VectorXf scaled;
};

class Mlp {
 public:
  /// @throws InvalidArgument if the config is invalid.
  explicit Mlp(MlpConfig config = {});

  // ---------------------------------------------------------------- training
  /// Fits on x (n x d, n >= 2, finite) with labels (n integers, >= 2 distinct):
  /// fits the scaler, initializes the weights, trains. Replaces any previous state.
  /// @throws InvalidArgument on bad input (e.g. a validation split that leaves no training rows).
  Mlp& fit(const ConstMatrixRef& x, const ConstLabelRef& labels);
  /// As fit, with an explicit validation set (validation_fraction is ignored;
  /// labels_val must be among the training labels). x_val may have 0 rows.
  Mlp& fit(const ConstMatrixRef& x, const ConstLabelRef& labels, const ConstMatrixRef& x_val,
           const ConstLabelRef& labels_val);

  /// Called after every epoch of fit; may be empty.
  void set_progress(MlpProgressFn fn) { progress_ = std::move(fn); }
  const TrainingHistory& history() const { return history_; }

  // ---------------------------------------------------------------- prediction
  /// Logits (class scores before the softmax): n x C.
  /// @throws InvalidArgument if unfitted, x has the wrong width or non-finite values;
  ///         NumericalError if a logit is not finite (check_finite_result).
  RowMatrixXf decision_function(const ConstMatrixRef& x) const;
  /// Class labels (argmax of the logits).
  LabelVector predict(const ConstMatrixRef& x) const;
  /// Softmax probabilities, n x C, rows sum to 1.
  RowMatrixXf predict_proba(const ConstMatrixRef& x) const;
  /// Accuracy on (x, labels); labels may include values outside classes() (counted wrong).
  double score(const ConstMatrixRef& x, const ConstLabelRef& labels) const;
  /// Mean softmax cross-entropy on (x, labels) (labels must be among classes()).
  double loss(const ConstMatrixRef& x, const ConstLabelRef& labels) const;
  /// Gradients of loss(x, labels) w.r.t. the weights and biases (weight decay not included).
  MlpParams gradients(const ConstMatrixRef& x, const ConstLabelRef& labels) const;

  /// One sample's logits into out[C]; x holds n_features() values, not checked
  /// one by one (the real-time path): non-finite logits (from a non-finite
  /// input, or a float32 overflow) throw NumericalError. No allocation once
  /// `ws` has been used. @throws InvalidArgument if unfitted.
  void decision_row(const float* x, float* out, MlpWorkspace& ws) const;

  // ---------------------------------------------------------------- state
  bool fitted() const { return !params_.weights.empty(); }
  const MlpConfig& config() const { return config_; }
  Index n_features() const { return fitted() ? params_.weights.front().cols() : 0; }
  Index n_outputs() const { return fitted() ? params_.weights.back().rows() : 0; }
  int n_layers() const { return params_.n_layers(); }
  /// Widths n_0 (inputs), hidden widths, n_L (classes).
  std::vector<Index> sizes() const { return params_.sizes(); }
  const LabelVector& classes() const { return classes_; }
  const Scaler& scaler() const { return scaler_; }
  const MlpParams& params() const { return params_; }
  /// The number of weights and biases.
  Index n_parameters() const;
  /// Sets the thread count used by prediction (and later fits); 0 = all cores.
  void set_threads(int threads);

  // ---------------------------------------------------------------- files
  /// The model as an elmq file image (FileKind::kMlp), training history included.
  std::string to_bytes() const;
  /// @throws FormatError on a corrupt, truncated or inconsistent image.
  static Mlp from_bytes(std::string_view bytes);
  void save(const std::string& path) const;
  /// @throws IoError if unreadable, FormatError if invalid.
  static Mlp load(const std::string& path);

  /// Assembles a fitted model from parts (config.hidden is taken from params).
  /// @throws InvalidArgument if shapes disagree, the scaler is unfitted, classes
  ///         are not sorted and distinct or values are not finite.
  static Mlp from_parts(MlpConfig config, Scaler scaler, MlpParams params, LabelVector classes);

 private:
  Mlp& fit_internal(const ConstMatrixRef& x, const ConstLabelRef& labels,
                    const ConstMatrixRef* x_val, const ConstLabelRef* labels_val);
  void check_input(const ConstMatrixRef& x, const char* where) const;

  MlpConfig config_;
  Scaler scaler_;
  MlpParams params_;
  LabelVector classes_;
  TrainingHistory history_;
  MlpProgressFn progress_;
};

}  // namespace elmq
