// Online sequential ELM (OS-ELM): recursive least squares on the output
// weights of a fixed hidden layer, without ever re-reading old data.
//
// Data layout: see elm/common/matrix.h (row-major float32, samples in rows).
//
//   elmq::ElmModel batch(cfg);  batch.fit(x0, y0);            // or from nothing:
//   auto online = elmq::OnlineElm::from_model(batch);          // OnlineElm::create(...)
//   elmq::PredictWorkspace ws;  std::vector<float> scores(online.n_outputs());
//   for (each sample x, label y) {
//     std::int64_t guess = online.predict_row(x, ws, scores.data());  // no heap allocation
//     online.learn_row(x, y);                                         // one RLS step
//   }
//   online.save("stream.elmq");   // state included: load() and continue == never stopped
//
// The model. The hidden activations h (length L) of the samples learned so
// far form the statistics
//   G = sum_i a_i h_i h_i^T (L x L),   B = sum_i a_i h_i t_i^T (L x C),
// with t_i the one-hot target (classification) or the target row
// (regression) and a_i = w_i rho^(number of samples learned after i) (w_i: the
// sample weight, rho: the forgetting factor). The output weights are the
// ridge solution beta = (G + lambda I)^-1 B. A fitted batch model contributes
// its statistics; without them its beta becomes the centre of the ridge prior
// (G = 0, B = lambda beta0).
//
// The engine. The state is P = (G + lambda I)^-1 and beta (double). A sample
// updates both by Sherman-Morrison (a block of up to 64 by Woodbury: one
// k x k Cholesky) in O(L^2) (O(k L^2)) work. P is symmetric and only its
// upper triangle is stored, in 8 x 8 tiles that a product streams front to
// back (L^2/2 numbers plus 4 L; elm/packed_sym.h), float32 by default.
// Rank-1 corrections are queued and applied together, 64 at a time, as one
// rank-64 product: a single-sample update reads the stored triangle once
// (one fused pass computes P h) and writes it once per 64 samples, with the
// same result as applying them one by one (in exact arithmetic). The 8 x 8
// diagonal tiles are re-symmetrized after each write.
//
// Latency. That rank-64 product, and the one that adds 64 buffered rows to
// G (and B), are each spread over the next 32 samples, a few 8-row block
// rows at the start of each single-sample update (they do not depend on the
// new sample, so set_row_threads can run them beside its hidden-layer
// product), instead of falling on one sample: while one is in
// progress, the block rows already done hold the new values and the queued
// rows still correct the rest (the trailing principal submatrix), so every
// product with P is exact throughout; the rows are regrouped for the tile
// update as they arrive, so no update starts with a copy. Every single-sample
// update then costs about the same. bench/online's BM_LearnRowTail (6,400
// single-sample updates with statistics, 784 inputs, this 2-core Zen3; two
// interleaved runs each, us; before -> after):
//   L = 1000: mean 142 / 129 -> 141 / 115, p50 97 / 86 -> 141 / 113,
//             p99 1,663 / 1,381 -> 233 / 186, p99.9 1,883 / 1,793 -> 288 / 237;
//   L = 2000: mean 478 / 428 -> 519 / 428, p50 297 / 262 -> 495 / 423,
//             p99 5,668 / 5,451 -> 961 / 675, p99.9 6,759 / 6,293 -> 1,191 / 765.
// The Fashion-MNIST stream of examples/streaming_classifier.cpp at L = 1000:
// update p50 / p99 80-97 / 1,352-1,548 -> 131-139 / 243-280 us. The median
// rises (most samples now carry a slice), the tail falls 5-7x, the mean
// stays within this machine's noise. An exact re-solve (below, O(L^3))
// still falls on one sample when it is due: in that stream (rho = 0.999,
// a re-solve every 3,000 samples) it is the slowest update, 42-70 ms (77-102
// before the inverse was built from the Cholesky factor's triangles,
// 2026-12-03; the example prints it as "upd max us"). A model
// saved mid-way stores the product in progress (file version 2).
//
// Forgetting (0 < rho <= 1): each learned sample multiplies the weight of all
// earlier ones by rho (P <- P / rho: exponentially weighted RLS), so the
// model follows a drifting stream with a memory of about 1 / (1 - rho)
// samples. Between exact re-solves the recursion also decays the ridge term
// (lambda rho^m after m samples, as any RLS with forgetting does); each
// re-solve restores the full lambda, so P cannot grow without bound in
// directions the recent data does not excite ("wind-up").
//
// Statistics, re-solves and drift. With `keep_statistics` (the default) G and
// B are also accumulated in double precision (double products, rank-64 adds
// of the buffered hidden rows), and every `resolve_period` samples P and beta
// are recomputed from them by a double Cholesky (O(L^3)). Measured against
// the double ridge solution of the same float32 activations (max |error| /
// max |beta|; tests/elm/online/):
//   digits, L = 128, lambda = 1, cond(G + lambda I) = 3.7e4, 1347 samples:
//     float32 state 1.4e-6 (rows) / 2.0e-6 (blocks of 64); float64 state
//     1e-12; the batch ElmModel, whose Gram matrix uses float32 products, 2e-4;
//   stationary streams, L = 32, lambda = 0.01, cond(G + lambda I) = 1.6e6 to
//     3.4e6, single-sample updates without re-solve (ELMQ_DRIFT_SEED = 1, 2,
//     3, 4, 7; ELMQ_DRIFT_UPDATES = 3,000,000): float64 at most 1.3e-9
//     (stream 7); float32 at most 1.1e-4 over the first 1M updates on every
//     stream, but beyond that at this conditioning (float32's 6e-8 times a
//     condition number of 3e6 leaves no margin) it can drift (4.8e-4 at 3M on
//     stream 4) or lose positive definiteness (stream 7 between 2M and 6M;
//     other summation orders of the same kernels broke on stream 4 instead):
//     which stream fails depends on rounding details, that some do does not.
//   With re-solves every 20,000 samples the float32 error stays below 1e-4
//     and is 5e-13 right after a re-solve.
// So float32 is the default state (half the bytes an update must read), and
// the re-solve (every 1M samples by default, with statistics) is what makes
// it safe on an unbounded stream: it bounds the drift of the float32
// recursion (and of the double beta) unconditionally, refreshes the ridge term
// under forgetting, and backs unlearning: a downdate whose pivot
// 1 - w h^T P h is too small for the stored precision is done as an exact
// re-solve instead. Without statistics, use the float64 state for long
// streams of ill-conditioned features.
//
// Unlearning removes samples learned earlier (G -= a h h^T, B -= a h t^T): the
// result equals the model trained without them. Removing samples that were
// never learned can leave G + lambda I indefinite: that throws NumericalError
// and leaves the model unchanged.
//
// Classes first seen mid-stream (classification with `grow_classes`): the
// output layer grows by one zero column (the new class scores 0 until it is
// learned); the columns of the earlier classes are unaffected, and the result
// equals a model that had known the class from the start.
//
// Threads. An OnlineElm is a value (copyable) and not safe for concurrent
// use. For a predictor thread beside a learner thread, the learner publishes
// immutable `OnlineSnapshot`s (they share the fixed hidden layer and copy
// only beta) through a `ModelSlot`; the predictor loads the current one
// without heap allocation and never waits for an update. The work of an
// OnlineElm runs on the calling thread (one core), except that
// set_row_threads may run a single-sample update on two; results never
// depend on a thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "elm/common/matrix.h"
#include "elm/elm_model.h"

namespace elmq {

/// Precision of the stored inverse-Gram state P.
enum class StatePrecision : std::uint32_t {
  kFloat32 = 0,  ///< half the memory traffic; drift bounded by the periodic exact re-solve
  kFloat64 = 1,
};
const char* state_precision_name(StatePrecision p);
/// Parses "float32" / "float64"; @throws InvalidArgument.
StatePrecision parse_state_precision(const std::string& name);

struct OnlineConfig {
  /// Forgetting factor rho in (0, 1]; 1 = remember everything. The memory is
  /// about 1 / (1 - rho) samples.
  double forgetting = 1.0;
  /// Precision of the stored P (see the file comment for the measured drift).
  StatePrecision precision = StatePrecision::kFloat32;
  /// Keep G and B in double precision (double products, rank-64 adds) and
  /// re-solve exactly every `resolve_period` samples. Costs L^2/2 double
  /// multiply-adds per sample (batched) and 4 L^2 bytes. Without it: no drift
  /// correction, no ridge refresh under forgetting (not recommended with
  /// rho < 1), no exact fallback for unlearning, no `resolve()`.
  bool keep_statistics = true;
  /// Samples between exact re-solves (with keep_statistics), >= 1, or 0 =
  /// automatic: 1,000,000 when rho = 1; ceil(3 / (1 - rho)) when rho < 1 (the
  /// ridge term then never decays below rho^period ~ 5% of lambda). A
  /// re-solve is a double Cholesky and inverse of L x L (about L^3 / 2
  /// multiply-adds; it runs inside the update that triggers it: bench/online
  /// BM_Resolve, about 75-90 ms at L = 1000 and 0.4-0.5 s at L = 2000 here).
  std::int64_t resolve_period = 0;
  /// Classification: a label not seen before adds a class (true) or throws
  /// InvalidArgument (false).
  bool grow_classes = true;
  /// Rows per Woodbury block in `learn` / `unlearn` on many rows, in [1, 64];
  /// 1 = Sherman-Morrison row by row.
  std::int64_t block_rows = 64;

  /// The resolve period in force (resolves `resolve_period == 0`).
  std::int64_t effective_resolve_period() const;
  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

namespace detail {
struct OnlineFeatures;  // scaler + hidden layer, shared by a model and its snapshots
class OnlineState;      // the packed inverse-Gram state (float32 or float64)
}  // namespace detail

/// An immutable predictor taken from an OnlineElm at one moment: the shared,
/// fixed hidden layer plus a copy of beta. Safe to use from any number of
/// threads at once.
class OnlineSnapshot {
 public:
  Task task() const { return task_; }
  Index n_features() const;
  Index n_hidden() const { return beta_.rows(); }
  Index n_outputs() const { return beta_.cols(); }
  const LabelVector& classes() const { return classes_; }
  /// Output weights, L x C.
  const RowMatrixXf& beta() const { return beta_; }
  /// Number of samples the model had learned when this snapshot was taken.
  std::int64_t samples_learned() const { return samples_learned_; }

  /// One sample's raw outputs into out[C]. x holds n_features() values, not
  /// checked one by one (real-time path); the L activations and C results
  /// are: a non-finite input, or one so far outside the training range that
  /// float32 overflows, throws NumericalError (check_finite_result). No heap
  /// allocation once `ws` has been used with a model of this shape.
  void decision_row(const float* x, float* out, PredictWorkspace& ws) const;
  /// One sample's label (classification) and its scores out[C]; no allocation after warm-up.
  /// @throws InvalidArgument if the task is not classification or no class is known yet.
  std::int64_t predict_row(const float* x, PredictWorkspace& ws, float* scores) const;

 private:
  friend class OnlineElm;
  std::shared_ptr<const detail::OnlineFeatures> features_;
  Task task_ = Task::kClassification;
  LabelVector classes_;
  RowMatrixXf beta_;
  std::int64_t samples_learned_ = 0;
};

/// A published snapshot that one thread replaces while others read it.
/// `load()` and `store()` are std::atomic_load / std::atomic_store on a
/// shared_ptr: no heap allocation, and the only wait is libstdc++'s internal
/// lock around the pointer copy (a reference-count increment), never an
/// update. A reader keeps its snapshot alive as long as it holds the
/// returned pointer, so whichever thread drops the last reference to an old
/// snapshot frees it (a free, never an allocation, on the predictor thread).
class ModelSlot {
 public:
  explicit ModelSlot(std::shared_ptr<const OnlineSnapshot> initial = nullptr);
  std::shared_ptr<const OnlineSnapshot> load() const;
  void store(std::shared_ptr<const OnlineSnapshot> snapshot);

 private:
  std::shared_ptr<const OnlineSnapshot> current_;
};

class OnlineElm {
 public:
  // ---------------------------------------------------------------- construction
  /// Starts from a fitted batch model: its scaler, hidden layer, task, classes
  /// and lambda. If the model has training statistics (after fit, or loaded
  /// from a file saved with them) they seed G and B, so P = (G + lambda I)^-1
  /// and beta is the model's ridge solution (recomputed in double). Without
  /// them, G = 0 and B = lambda * beta: the model's beta is the centre of the
  /// ridge prior.
  /// @throws InvalidArgument if the model is unfitted, its lambda is not > 0,
  ///         or the config is invalid; NumericalError if the seed solve fails.
  static OnlineElm from_model(const ElmModel& model, const OnlineConfig& online = {});

  /// Starts a classifier from nothing with the ridge prior P = I / lambda,
  /// beta = 0, where lambda = config.ridge.lambda (must be > 0;
  /// ridge.auto_lambda is ignored: there is no held-out split online).
  /// x_init (n x d, n >= 1, finite) fits the scaler (config.scaling) and
  /// provides RBF centres; it is NOT learned (call `learn` for that).
  /// classes: labels known in advance (any order, distinct; may be empty when
  /// online.grow_classes is true).
  /// @throws InvalidArgument on a bad config or input.
  static OnlineElm create(const ElmConfig& config, const OnlineConfig& online,
                          const ConstMatrixRef& x_init, const ConstLabelRef& classes);
  /// Same for multi-output regression with n_outputs targets (>= 1).
  static OnlineElm create_regression(const ElmConfig& config, const OnlineConfig& online,
                                     const ConstMatrixRef& x_init, Index n_outputs);

  // ---------------------------------------------------------------- learning
  /// Learns rows one after the other (in blocks of online.block_rows). x:
  /// n x d finite; labels: n (classification); sample_weight: empty or n
  /// finite values >= 0 (0 skips a row). Equivalent to n calls of learn_row.
  /// @throws InvalidArgument on bad input (nothing is learned then): wrong
  ///         width, non-finite values, an unknown label without grow_classes,
  ///         wrong task. NumericalError if the state stopped being positive
  ///         definite (only possible after unlearning without statistics), or
  ///         if a row's hidden activations are not finite (a row so far
  ///         outside the training range that float32 overflows); the blocks
  ///         before the failing one stay learned.
  OnlineElm& learn(const ConstMatrixRef& x, const ConstLabelRef& labels,
                   const ConstVectorRef& sample_weight = VectorXf());
  /// Regression: y is n x C real targets.
  OnlineElm& learn_regression(const ConstMatrixRef& x, const ConstMatrixRef& y,
                              const ConstVectorRef& sample_weight = VectorXf());

  /// One classification sample: x points to n_features() values, weight > 0.
  /// No heap allocation after warm-up, except when a class is added or at an
  /// exact re-solve. @throws InvalidArgument, NumericalError as `learn`
  ///         (the model is unchanged then).
  void learn_row(const float* x, std::int64_t label, float weight = 1.0f);
  /// One regression sample: y points to n_outputs() values.
  void learn_row_regression(const float* x, const float* y, float weight = 1.0f);
  /// Prequential step for real-time classification: predicts x with the
  /// current model (label returned, scores[C] written: C before learning,
  /// i.e. n_outputs() at the time of the call), then learns (x, label) reusing
  /// the hidden activations (one pass over the hidden weights instead of two).
  /// If no class is known yet, returns `label` unchanged and writes no score.
  std::int64_t predict_then_learn_row(const float* x, std::int64_t label, float* scores,
                                      float weight = 1.0f);

  /// Threads for one single-sample update (learn_row, learn_row_regression,
  /// predict_then_learn_row): 1 (the default) does all of it on the calling
  /// thread; n != 1 (0 = all cores) spreads it over up to n threads of
  /// elmq's pool in two steps. First the hidden layer's product (bound by
  /// memory: it streams W), in blocks of 64 neurons, and the sample's share
  /// of the rank-64 updates of P and G (bound by arithmetic), taken as
  /// threads come free; from 2^16 weights when such a share is due, else
  /// from 2^18 as a prediction (ElmModel::set_row_threads). Then the product
  /// with P, in two halves from L = 512 up. Results are bit-identical for any
  /// n (each neuron, share and half is summed by one thread in a fixed
  /// order). Wall time at 784 inputs on a 2-core Zen 3 (bench/online
  /// BM_LearnRowThreads2 / BM_LearnRowNoStatsThreads2 against one thread;
  /// interleaved runs, min of 3, 2026-12-03): L = 1000 with statistics 156
  /// -> 95 us, without 110 -> 72 us; L = 2000 664 -> 529 us and 489 -> 232 us.
  /// `learn` / `unlearn` on one row (or with block_rows = 1) take the same
  /// path. Every call wakes the pool: keep 1 when the other cores are busy
  /// (e.g. predicting on another thread of a 2-core machine). With n != 1, a
  /// NumericalError from the activations (a row so far outside the training
  /// range that float32 overflows) may come after that share was applied:
  /// predictions and statistics are unchanged, the rounding of later updates
  /// may differ. A runtime setting, not stored in files; copies keep it.
  /// @throws InvalidArgument if negative.
  void set_row_threads(int threads);
  int row_threads() const { return row_threads_; }

  /// Declares classes before their first sample (e.g. the `classes` of a
  /// scikit-learn partial_fit): each label not yet known adds a zero output
  /// column (its score is 0 until it is learned); known labels are ignored.
  /// @throws InvalidArgument if not a classifier, or if a label is new and
  ///         grow_classes is false.
  OnlineElm& add_classes(const ConstLabelRef& labels);

  /// Removes rows learned earlier: G -= w h h^T, B -= w h t^T. With forgetting,
  /// pass the weight the row has now (w_original * rho^age, age = samples
  /// learned since). The result equals the model trained without them.
  /// @throws InvalidArgument on bad input (unknown label: never learned);
  ///         NumericalError if removing them leaves G + lambda I not positive
  ///         definite (they were not learned), or, without statistics, if the
  ///         downdate pivot is below 1e-3 (float32) / 1e-6 (float64); the
  ///         block that fails is not applied.
  OnlineElm& unlearn(const ConstMatrixRef& x, const ConstLabelRef& labels,
                     const ConstVectorRef& sample_weight = VectorXf());
  OnlineElm& unlearn_regression(const ConstMatrixRef& x, const ConstMatrixRef& y,
                                const ConstVectorRef& sample_weight = VectorXf());

  /// Recomputes P and beta exactly from the double statistics now (the
  /// periodic re-solve does this automatically).
  /// @throws InvalidArgument without keep_statistics; NumericalError if
  ///         G + lambda I is not positive definite.
  OnlineElm& resolve();

  // ---------------------------------------------------------------- prediction
  /// One sample, as OnlineSnapshot::decision_row (no heap allocation after warm-up).
  void decision_row(const float* x, float* out, PredictWorkspace& ws) const;
  /// One sample's label (classification); scores[C]. @throws InvalidArgument
  /// if not classification or no class is known yet.
  std::int64_t predict_row(const float* x, PredictWorkspace& ws, float* scores) const;
  /// Many samples: n x C outputs / n labels / accuracy.
  /// @throws InvalidArgument on a wrong width or non-finite values.
  RowMatrixXf decision_function(const ConstMatrixRef& x) const;
  LabelVector predict(const ConstMatrixRef& x) const;
  double score(const ConstMatrixRef& x, const ConstLabelRef& labels) const;

  /// An immutable predictor for other threads (copies beta, shares the hidden layer).
  std::shared_ptr<const OnlineSnapshot> snapshot() const;
  /// A batch model with the current beta (ridge.auto_lambda = false, lambda =
  /// this lambda), e.g. to save as a kElm file for Python. It holds no
  /// training statistics.
  /// @throws InvalidArgument for a classifier with fewer than 2 classes.
  ElmModel to_elm_model() const;

  // ---------------------------------------------------------------- state
  Task task() const { return task_; }
  const OnlineConfig& online_config() const { return online_; }
  const ElmConfig& elm_config() const { return elm_; }
  Index n_features() const;
  Index n_hidden() const { return L_; }
  Index n_outputs() const { return beta_.cols(); }
  const LabelVector& classes() const { return classes_; }
  double lambda() const { return lambda_; }
  const Scaler& scaler() const;
  const HiddenLayer& hidden() const;
  /// Output weights (L x C) in double, as maintained by the recursion.
  const RowMatrixXd& beta() const { return beta_; }
  /// The same in float32, as used for prediction.
  const RowMatrixXf& beta_f32() const { return beta_f_; }
  /// P = (G + lambda I)^-1 as currently held (L x L, symmetric), materialized.
  RowMatrixXd inverse_gram() const;
  /// The double statistics G (L x L) and B (L x C) including buffered rows.
  /// @throws InvalidArgument without keep_statistics.
  RowMatrixXd gram() const;
  RowMatrixXd gram_targets() const;
  /// Samples learned / unlearned (rows with weight > 0), exact re-solves done,
  /// and samples since the last re-solve.
  std::int64_t samples_learned() const { return n_learned_; }
  std::int64_t samples_unlearned() const { return n_unlearned_; }
  std::int64_t resolves() const { return n_resolves_; }
  std::int64_t samples_since_resolve() const { return since_resolve_; }
  /// Bytes of the stored inverse-Gram triangle (the state a single-sample update reads).
  std::size_t state_bytes() const;
  /// Where those state_bytes() bytes lie (layout: elm/packed_sym.h, float32
  /// or float64 as online_config().precision). Read-only and for the memory
  /// itself: a real-time program can lock it in RAM (mlock) beside
  /// hidden().weights(), and bench/online reads it to time its floor. Valid
  /// until the model is assigned, moved or destroyed (updates keep it); the
  /// numbers change with every update and are not P (queued corrections
  /// and a multiplier apply): use to_bytes() for the state's value.
  const void* state_data() const;

  // ---------------------------------------------------------------- files
  /// The online model as an elmq file image (FileKind::kOnlineElm), with the
  /// whole state (P, queued corrections, statistics, counters): from_bytes ->
  /// continue gives bit-identical results to never stopping.
  std::string to_bytes() const;
  /// @throws FormatError on a corrupt, truncated or inconsistent image.
  static OnlineElm from_bytes(std::string_view bytes);
  void save(const std::string& path) const;
  /// @throws IoError if unreadable, FormatError if invalid.
  static OnlineElm load(const std::string& path);

  OnlineElm(const OnlineElm&);
  OnlineElm& operator=(const OnlineElm&);
  OnlineElm(OnlineElm&&) noexcept;
  OnlineElm& operator=(OnlineElm&&) noexcept;
  ~OnlineElm();

 private:
  OnlineElm();

  void init_common(const OnlineConfig& online, Task task, Index n_outputs);
  void init_prior(const RowMatrixXd* gram, const RowMatrixXd& hty);
  void check_row_input(const float* x, float weight, const char* where) const;
  Index class_column(std::int64_t label, bool may_grow, const char* where);
  void add_class(std::int64_t label, Index position);
  // stepped: side_steps() already ran for this sample.
  void update_row(const float* h, const float* t, double weight, bool unlearn, bool stepped);
  // A sample's share of the rank-64 updates in progress (P's flush, G's
  // fold): done at the start of every single-sample update.
  void side_steps();
  bool side_steps_due() const;
  // features_->hidden_row(x, ws_) and side_steps(), on two threads if
  // row_threads_ asks for them.
  void hidden_row_and_side_steps(const float* x, const char* where, Index row = 0);
  // Throws as class_column would, without adding the class.
  void check_label(std::int64_t label, bool may_grow, const char* where) const;
  void update_block(const RowMatrixXf& h, const RowMatrixXf& t, const VectorXd& weight,
                    bool unlearn);
  void learn_rows(const ConstMatrixRef& x, const RowMatrixXf& t, const ConstVectorRef& w,
                  bool unlearn);
  RowMatrixXf encode_targets(const ConstLabelRef& labels, bool may_grow, const char* where);
  void stats_push(const float* h, const float* t, double coef, double decay);
  void stats_fold_start();
  void stats_fold_step();
  void stats_fold_finish();
  void stats_fold();
  void fold_rows(std::vector<double>* g, RowMatrixXd* b, Index b_begin, Index b_end) const;
  std::vector<double> gram_folded() const;
  RowMatrixXd hty_folded() const;
  void stats_dense(RowMatrixXd* g, RowMatrixXd* b) const;
  void after_update(Index rows);
  void resolve_exact(const RowMatrixXf* remove_h, const RowMatrixXf* remove_t,
                     const VectorXd* remove_w);
  void resolve_folded(const RowMatrixXf* remove_h, const RowMatrixXf* remove_t,
                      const VectorXd* remove_w);
  void sync_beta_f32();
  void require_classifier(const char* where) const;

  ElmConfig elm_;
  OnlineConfig online_;
  Task task_ = Task::kClassification;
  std::shared_ptr<const detail::OnlineFeatures> features_;
  Index L_ = 0, Lp_ = 0;  // hidden units, and padded to a multiple of 8
  LabelVector classes_;
  double lambda_ = 0.0;
  RowMatrixXd beta_;    // L x C
  RowMatrixXf beta_f_;  // L x C, float copy for prediction
  std::unique_ptr<detail::OnlineState> state_;

  // Double statistics: G (packed like P), B, and buffered hidden rows (with
  // their coefficient and forgetting step) not yet added to them, in two
  // halves of 64: the live one (from row stats_off_) and the one being added
  // to G and B a few block rows per sample (fold_rows_ > 0, from row fold_off_).
  std::vector<double> gram_packed_;
  RowMatrixXd hty_;
  RowMatrixXf stats_h_, stats_t_;
  VectorXd stats_coef_, stats_decay_;
  Index stats_off_ = 0, stats_rows_ = 0;
  Index fold_rows_ = 0, fold_off_ = 0, fold_next_ = 0, fold_step_tiles_ = 0;
  double fold_decay_ = 1.0;

  std::int64_t n_learned_ = 0, n_unlearned_ = 0, n_resolves_ = 0, since_resolve_ = 0;
  std::int64_t resolve_period_ = 0;

  // Scratch of the row paths, sized once so that they do not allocate.
  struct Scratch {
    VectorXd q, coef;
    RowMatrixXd td, tmp;
    std::vector<Index> td_col;  // per row of td: its only nonzero column, or -1
  };
  PredictWorkspace ws_;
  VectorXd err_;
  VectorXf t_row_;
  Scratch scratch_;
  int row_threads_ = 1;
};

}  // namespace elmq
