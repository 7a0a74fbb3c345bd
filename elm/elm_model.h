// The FP32 Extreme Learning Machine: scaler -> fixed random hidden layer ->
// ridge output weights.
//
// Data layout: see elm/common/matrix.h (row-major float32, samples in rows).
//
//   elmq::ElmConfig cfg;
//   cfg.hidden.groups = {{2000, elmq::Activation::kTanh}};
//   elmq::ElmModel model(cfg);
//   model.fit(x_train, y_train);                 // labels: any int64 values
//   elmq::LabelVector pred = model.predict(x_test);
//   model.save("model.elmq");
//
// Tasks: multiclass classification (one-hot targets, argmax decision),
// multilabel classification (0/1 targets, threshold 0.5) and multi-output
// regression. Determinism: the same config and data give bit-identical
// models for every thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "elm/common/matrix.h"
#include "elm/hidden_layer.h"
#include "elm/ridge_solver.h"
#include "elm/scaler.h"

namespace elmq {

enum class Task : std::uint32_t { kClassification = 0, kMultilabel = 1, kRegression = 2 };
const char* task_name(Task t);

enum class ClassWeight : std::uint32_t {
  kNone = 0,
  kBalanced = 1,  ///< weight n / (n_classes * count(class)), classification `fit` only
};

/// Progress of a long fit: rows processed so far out of the total (0 if unknown).
using ProgressFn = std::function<void(std::int64_t done, std::int64_t total)>;

struct ElmConfig {
  HiddenLayerConfig hidden;
  /// Min-max keeps sparse inputs (pixels) sparse; projection weights are
  /// normalised by the input RMS either way (see HiddenLayer::create).
  ScalingKind scaling = ScalingKind::kMinMax;
  RidgeConfig ridge;
  ClassWeight class_weight = ClassWeight::kNone;
  /// Rows per training chunk, in [1, 1<<24]. Training memory is about
  /// chunk_rows * L * 4 bytes for the chunk's H, plus one L x L float32 slice
  /// buffer per thread (at most 512 MiB of them) for H^T H.
  Index chunk_rows = 8192;
  /// Threads for training and batch prediction: 0 = all cores.
  int threads = 0;
  /// predict_proba = softmax(decision / proba_temperature); > 0.
  float proba_temperature = 0.1f;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

/// Caller-owned scratch space so that single-row prediction never allocates
/// after its first use.
struct PredictWorkspace {
  VectorXf scaled, hidden;
};

class ElmModel {
 public:
  /// @throws InvalidArgument if the config is invalid.
  explicit ElmModel(ElmConfig config = {});

  // ---------------------------------------------------------------- training
  /// Multiclass fit. x: n x d (n >= 1, finite); labels: n arbitrary integers
  /// (at least 2 distinct); sample_weight: empty or n non-negative values.
  /// Fits the scaler on x, draws the hidden layer, accumulates statistics in
  /// chunks and solves. Replaces any previous state.
  /// @throws InvalidArgument on bad input; NumericalError if the solve fails.
  ElmModel& fit(const ConstMatrixRef& x, const ConstLabelRef& labels,
                const ConstVectorRef& sample_weight = VectorXf());
  /// Multi-output regression: y is n x k real targets.
  ElmModel& fit_regression(const ConstMatrixRef& x, const ConstMatrixRef& y,
                           const ConstVectorRef& sample_weight = VectorXf());
  /// Multilabel: y is n x k with entries 0 or 1.
  ElmModel& fit_multilabel(const ConstMatrixRef& x, const ConstMatrixRef& y,
                           const ConstVectorRef& sample_weight = VectorXf());

  /// As `fit`, but with a given hidden layer instead of a randomly drawn one
  /// (e.g. weights on a quantization grid, for a quantization-aware solve).
  /// The scaler is fitted on x as in `fit`; the layer's config replaces
  /// config().hidden. @throws InvalidArgument if the layer's input width is not x's.
  ElmModel& fit_with_layer(HiddenLayer layer, const ConstMatrixRef& x, const ConstLabelRef& labels,
                           const ConstVectorRef& sample_weight = VectorXf());

  /// Incremental multiclass training: accumulates this chunk and re-solves.
  /// The first call fixes `classes` (all labels that will ever appear; later
  /// calls may pass an empty vector) and, unless `fit_scaler` was called, fits
  /// the scaler on this first chunk. A sequence of partial_fit calls equals
  /// one `fit` on the concatenated rows when the scaler is the same.
  /// @throws InvalidArgument on unknown labels, shape changes, bad input.
  ElmModel& partial_fit(const ConstMatrixRef& x, const ConstLabelRef& labels,
                        const ConstLabelRef& classes = LabelVector(),
                        const ConstVectorRef& sample_weight = VectorXf());
  ElmModel& partial_fit_regression(const ConstMatrixRef& x, const ConstMatrixRef& y,
                                   const ConstVectorRef& sample_weight = VectorXf());
  /// Accumulates a chunk without solving (call `solve()` afterwards): the
  /// cheap path for streaming many chunks.
  ElmModel& accumulate(const ConstMatrixRef& x, const ConstLabelRef& labels,
                       const ConstLabelRef& classes = LabelVector(),
                       const ConstVectorRef& sample_weight = VectorXf());
  /// Fits the scaler explicitly (before the first partial_fit / accumulate).
  /// @throws InvalidArgument if statistics were already accumulated.
  ElmModel& fit_scaler(const ConstMatrixRef& x);
  /// Solves the output weights from the accumulated statistics (choosing
  /// lambda if configured). @throws InvalidArgument if nothing was accumulated.
  ElmModel& solve();
  /// Re-solves with a given lambda (keeps the statistics), e.g. to trade
  /// accuracy for a smaller, more quantizable beta.
  ElmModel& resolve_with_lambda(double lambda);

  /// Threads for later training and batch prediction (0 = all cores); a
  /// runtime setting, not part of the model file's meaning.
  /// @throws InvalidArgument if negative.
  void set_threads(int threads);

  /// Threads for one-row prediction (decision_row, predict_row): 1 (the
  /// default) computes the row on the calling thread; n > 1 splits the hidden
  /// neurons, in blocks of 64, over up to n threads of elmq's pool (0 = all
  /// cores) when the layer has at least 2^18 weights. Results are bit-identical
  /// for any n. It pays for large layers (L = 2000, d = 784 on 2 cores: 1.5-1.8x
  /// less time, bench/elm BM_PredictRow), but every call wakes the pool:
  /// keep 1 when the caller already predicts rows on several threads. A
  /// runtime setting, not stored in files. @throws InvalidArgument if negative.
  void set_row_threads(int threads);
  int row_threads() const { return row_threads_; }

  /// Called during fit with rows processed; may be empty.
  void set_progress(ProgressFn fn) { progress_ = std::move(fn); }

  // ---------------------------------------------------------------- prediction
  /// Raw outputs H beta: n x C (C = classes, labels or targets).
  /// @throws InvalidArgument if unfitted, x has the wrong width or non-finite values;
  ///         NumericalError if a result is not finite (check_finite_result).
  RowMatrixXf decision_function(const ConstMatrixRef& x) const;
  /// Writes decision_function into a caller buffer (n x C).
  void decision_function(const ConstMatrixRef& x, MatrixRef out) const;
  /// Class labels (classification only).
  LabelVector predict(const ConstMatrixRef& x) const;
  /// Softmax of decision / temperature; rows sum to 1; argmax == predict.
  RowMatrixXf predict_proba(const ConstMatrixRef& x) const;
  /// 0/1 matrix (multilabel only): decision > 0.5.
  RowMatrixXf predict_multilabel(const ConstMatrixRef& x) const;
  /// Regression outputs (== decision_function; regression only).
  RowMatrixXf predict_regression(const ConstMatrixRef& x) const;

  /// One sample, no heap allocation once `ws` has been used once: out[C].
  /// Runs on the calling thread unless set_row_threads asked for more.
  /// x must hold n_features() values; they are not checked one by one (this
  /// is the real-time path), the C results are: a non-finite input, or one so
  /// far outside the training range that float32 overflows, throws
  /// NumericalError (check_finite_result) instead of returning NaN or Inf.
  /// @throws InvalidArgument if unfitted.
  void decision_row(const float* x, float* out, PredictWorkspace& ws) const;
  /// One sample's label; no allocation after warm-up. Classification only.
  std::int64_t predict_row(const float* x, PredictWorkspace& ws, float* scores) const;

  /// Accuracy (classification, multilabel: exact-match ratio) or R^2 averaged over outputs (regression).
  double score(const ConstMatrixRef& x, const ConstLabelRef& labels) const;
  double score_regression(const ConstMatrixRef& x, const ConstMatrixRef& y) const;

  // ---------------------------------------------------------------- state
  bool fitted() const { return beta_.size() > 0; }
  Task task() const { return task_; }
  const ElmConfig& config() const { return config_; }
  Index n_features() const { return hidden_.n_inputs(); }
  Index n_hidden() const { return hidden_.n_neurons(); }
  Index n_outputs() const { return beta_.cols(); }
  const LabelVector& classes() const { return classes_; }
  const Scaler& scaler() const { return scaler_; }
  const HiddenLayer& hidden() const { return hidden_; }
  /// Output weights, L x C.
  const RowMatrixXf& beta() const { return beta_; }
  double lambda() const { return lambda_; }
  /// The last automatic lambda search (empty if lambda was fixed).
  const LambdaSearchResult& lambda_search() const { return search_; }
  /// Accumulated statistics (fit part + held-out part). Empty after
  /// `drop_training_state()` or loading a file saved without them.
  bool has_training_state() const { return fit_stats_.n_hidden() > 0; }
  GramAccumulator training_stats() const;
  /// Frees the L x L statistics (partial_fit is then impossible).
  void drop_training_state();

  /// Scaled inputs -> hidden activations, as used by the model (n x L).
  RowMatrixXf hidden_activations(const ConstMatrixRef& x) const;

  // ---------------------------------------------------------------- files
  /// The model as an elmq file image (FileKind::kElm). With
  /// include_training_state the L x L statistics are stored too, so training
  /// or quantization can resume from the file.
  std::string to_bytes(bool include_training_state = false) const;
  /// @throws FormatError on a corrupt, truncated or inconsistent image.
  static ElmModel from_bytes(std::string_view bytes);
  void save(const std::string& path, bool include_training_state = false) const;
  /// @throws IoError if unreadable, FormatError if invalid.
  static ElmModel load(const std::string& path);

  /// Assembles a fitted model from parts (used by online and quantized models).
  /// @throws InvalidArgument if shapes disagree.
  static ElmModel from_parts(ElmConfig config, Task task, Scaler scaler, HiddenLayer hidden,
                             RowMatrixXf beta, LabelVector classes, double lambda);

 private:
  void reset_for_task(Task task, Index n_features, Index n_outputs);
  void ensure_layer(const ConstMatrixRef& x);
  void accumulate_targets(const ConstMatrixRef& x, const ConstMatrixRef& t,
                          const ConstVectorRef& w);
  RowMatrixXf encode_labels(const ConstLabelRef& labels, const char* where) const;
  void check_predict_input(const ConstMatrixRef& x, const char* where) const;
  void require_task(Task t, const char* where) const;
  void solve_internal();
  ElmModel& fit_classification(const HiddenLayer* layer, const ConstMatrixRef& x,
                               const ConstLabelRef& labels, const ConstVectorRef& sample_weight);

  ElmConfig config_;
  Task task_ = Task::kClassification;
  Scaler scaler_;
  HiddenLayer hidden_;
  RowMatrixXf beta_;
  LabelVector classes_;
  double lambda_ = 0.0;
  LambdaSearchResult search_;
  GramAccumulator fit_stats_, val_stats_;
  std::int64_t rows_seen_ = 0;
  bool scaler_fixed_ = false;
  ProgressFn progress_;
  int row_threads_ = 1;
};

/// One training pass as ElmModel::fit makes it, on a given scaler and hidden
/// layer: x (n x d) in chunks of config.chunk_rows rows -> scaler (none if
/// null) -> layer -> statistics. `rows_seen` is the global index of x's first
/// row on entry and advances by each chunk's rows once they are added (so it
/// stays right if a later chunk throws). Without `val` every row goes to
/// `fit`; with it, the row of global index g goes to `val` when
/// is_validation_row(config.ridge.split_seed, g, config.ridge.validation_fraction),
/// else to `fit`. t: n x C targets; w: empty or n sample weights. ElmModel and
/// the re-solve of a quantized layer (quant/elm) both use it, so equal layers
/// give equal statistics bit for bit. progress (optional) gets (rows done, n)
/// per chunk.
/// @throws InvalidArgument on shape mismatches (from the accumulators).
void accumulate_hidden_stats(const ElmConfig& config, const Scaler* scaler,
                             const HiddenLayer& layer, const ConstMatrixRef& x,
                             const ConstMatrixRef& t, const ConstVectorRef& w,
                             std::int64_t& rows_seen, int threads, GramAccumulator& fit,
                             GramAccumulator* val, const ProgressFn& progress = {});

}  // namespace elmq
