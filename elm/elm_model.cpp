#include "elm/elm_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"

namespace elmq {

namespace {
constexpr std::uint32_t kElmFileVersion = 1;
constexpr Index kPredictRows = 256;     // rows per prediction task
constexpr Index kRbfCentreRows = 8192;  // rows offered as RBF centres
}  // namespace

const char* task_name(Task t) {
  switch (t) {
    case Task::kClassification: return "classification";
    case Task::kMultilabel: return "multilabel";
    case Task::kRegression: return "regression";
  }
  return "unknown";
}

void ElmConfig::validate() const {
  hidden.validate();
  ELMQ_CHECK_ARG(static_cast<std::uint32_t>(scaling) <= 2, "ElmConfig.scaling is not a known kind (",
                 static_cast<int>(scaling), ")");
  ridge.validate();
  ELMQ_CHECK_ARG(static_cast<std::uint32_t>(class_weight) <= 1,
                 "ElmConfig.class_weight is not a known mode (", static_cast<int>(class_weight), ")");
  ELMQ_CHECK_ARG(chunk_rows >= 1 && chunk_rows <= (Index{1} << 24),
                 "ElmConfig.chunk_rows must be in [1, 2^24], got ", chunk_rows);
  ELMQ_CHECK_ARG(threads >= 0, "ElmConfig.threads must be >= 0 (0 = all cores), got ", threads);
  ELMQ_CHECK_ARG(std::isfinite(proba_temperature) && proba_temperature > 0.0f,
                 "ElmConfig.proba_temperature must be > 0, got ", proba_temperature);
}

ElmModel::ElmModel(ElmConfig config) : config_(std::move(config)) { config_.validate(); }

// ---------------------------------------------------------------- training helpers

void ElmModel::reset_for_task(Task task, Index n_features, Index n_outputs) {
  task_ = task;
  beta_.resize(0, 0);
  lambda_ = 0.0;
  search_ = {};
  rows_seen_ = 0;
  const Index L = hidden_.n_neurons();
  fit_stats_ = GramAccumulator(L, n_outputs);
  val_stats_ = config_.ridge.auto_lambda ? GramAccumulator(L, n_outputs) : GramAccumulator();
}

void ElmModel::ensure_layer(const ConstMatrixRef& x) {
  // RBF centres come from the first rows; the weight normalisation from the
  // scaler's moments (so it does not depend on how the data is chunked).
  RowMatrixXf centres;
  if (config_.hidden.has_rbf()) {
    centres = scaler_.transform(x.topRows(std::min(x.rows(), kRbfCentreRows)));
  }
  hidden_ = HiddenLayer::create(config_.hidden, x.cols(), centres, scaler_.scaled_rms());
}

void accumulate_hidden_stats(const ElmConfig& config, const Scaler* scaler,
                             const HiddenLayer& layer, const ConstMatrixRef& x,
                             const ConstMatrixRef& t, const ConstVectorRef& w,
                             std::int64_t& rows_seen, int threads, GramAccumulator& fit,
                             GramAccumulator* val, const ProgressFn& progress) {
  const bool weighted = w.size() > 0;
  const Index n = x.rows(), L = layer.n_neurons();
  RowMatrixXf xs, h;
  GramScratch scratch;  // the Gram's slice buffers, reused by every chunk
  for (Index begin = 0; begin < n; begin += config.chunk_rows) {
    const Index m = std::min(config.chunk_rows, n - begin);
    if (scaler != nullptr) {
      xs.resize(m, x.cols());
      scaler->transform(x.middleRows(begin, m), xs);
    } else {
      xs = x.middleRows(begin, m);
    }
    h.resize(m, L);
    layer.transform(xs, h, threads);
    const auto tc = t.middleRows(begin, m);
    if (val == nullptr) {
      fit.add(h, tc, weighted ? ConstVectorRef(w.segment(begin, m)) : ConstVectorRef(VectorXf()),
              threads, &scratch);
    } else {
      std::vector<Index> fit_rows, val_rows;
      for (Index i = 0; i < m; ++i) {
        (is_validation_row(config.ridge.split_seed, rows_seen + i,
                           config.ridge.validation_fraction)
             ? val_rows
             : fit_rows)
            .push_back(i);
      }
      auto gather_add = [&](const std::vector<Index>& rows, GramAccumulator& acc) {
        if (rows.empty()) return;
        const auto k = static_cast<Index>(rows.size());
        RowMatrixXf hs(k, L), ts(k, t.cols());
        VectorXf ws(weighted ? k : 0);
        for (Index r = 0; r < k; ++r) {
          hs.row(r) = h.row(rows[r]);
          ts.row(r) = tc.row(rows[r]);
          if (weighted) ws[r] = w[begin + rows[r]];
        }
        acc.add(hs, ts, ws, threads, &scratch);
      };
      gather_add(fit_rows, fit);
      gather_add(val_rows, *val);
    }
    rows_seen += m;
    if (progress) progress(begin + m, n);
  }
}

void ElmModel::accumulate_targets(const ConstMatrixRef& x, const ConstMatrixRef& t,
                                  const ConstVectorRef& w) {
  accumulate_hidden_stats(config_, &scaler_, hidden_, x, t, w, rows_seen_,
                          resolve_threads(config_.threads), fit_stats_,
                          config_.ridge.auto_lambda ? &val_stats_ : nullptr, progress_);
}

void ElmModel::solve_internal() {
  const bool split = config_.ridge.auto_lambda && val_stats_.n_hidden() > 0;
  GramAccumulator total = fit_stats_;
  if (split) total.merge(val_stats_);
  ELMQ_CHECK_ARG(total.rows() > 0, "ElmModel::solve: no training rows were accumulated");
  const int threads = resolve_threads(config_.threads);
  if (!config_.ridge.auto_lambda) {
    lambda_ = config_.ridge.lambda;
    search_ = {};
  } else if (fit_stats_.rows() > 0 && val_stats_.rows() > 0 && fit_stats_.weight_sum() > 0) {
    search_ = search_lambda(fit_stats_, val_stats_, config_.ridge, threads);
    // lambda was chosen for the fit part; G grows with the data, so scale it
    // to keep the same relative strength on all rows.
    lambda_ = search_.lambda * (total.weight_sum() / fit_stats_.weight_sum());
  } else {
    // Documented fallback: too few rows to hold any out.
    search_ = {};
    lambda_ = 1e-3 * std::max(total.gram().trace() / static_cast<double>(total.n_hidden()), 1e-12);
  }
  beta_ = solve_ridge(total.gram(), total.hty(), lambda_).cast<float>();
}

RowMatrixXf ElmModel::encode_labels(const ConstLabelRef& labels, const char* where) const {
  RowMatrixXf t = RowMatrixXf::Zero(labels.size(), classes_.size());
  for (Index i = 0; i < labels.size(); ++i) {
    const auto* it = std::lower_bound(classes_.data(), classes_.data() + classes_.size(), labels[i]);
    if (it == classes_.data() + classes_.size() || *it != labels[i]) {
      throw InvalidArgument(str_cat(where, ": label ", labels[i], " at row ", i,
                                    " is not one of the model's ", classes_.size(), " classes"));
    }
    t(i, it - classes_.data()) = 1.0f;
  }
  return t;
}

namespace {
LabelVector sorted_unique(const ConstLabelRef& v) {
  std::vector<std::int64_t> u(v.data(), v.data() + v.size());
  std::sort(u.begin(), u.end());
  u.erase(std::unique(u.begin(), u.end()), u.end());
  return Eigen::Map<LabelVector>(u.data(), static_cast<Index>(u.size()));
}

void check_fit_input(const ConstMatrixRef& x, Index targets_rows, const ConstVectorRef& w,
                     const char* where) {
  ELMQ_CHECK_ARG(x.rows() >= 1 && x.cols() >= 1, where, ": X is ", x.rows(), " x ", x.cols(),
                 ", needs at least one row and one column");
  ELMQ_CHECK_ARG(targets_rows == x.rows(), where, ": X has ", x.rows(), " rows but y has ",
                 targets_rows);
  ELMQ_CHECK_ARG(w.size() == 0 || w.size() == x.rows(), where, ": sample_weight has ", w.size(),
                 " entries, expected ", x.rows());
  ELMQ_CHECK_ARG(w.size() == 0 || (w.allFinite() && (w.array() >= 0.0f).all()), where,
                 ": sample_weight must be finite and >= 0");
  check_finite(x, where, "X");
}
}  // namespace

// ---------------------------------------------------------------- fit

ElmModel& ElmModel::fit(const ConstMatrixRef& x, const ConstLabelRef& labels,
                        const ConstVectorRef& sample_weight) {
  return fit_classification(nullptr, x, labels, sample_weight);
}

ElmModel& ElmModel::fit_with_layer(HiddenLayer layer, const ConstMatrixRef& x,
                                   const ConstLabelRef& labels, const ConstVectorRef& sample_weight) {
  ELMQ_CHECK_ARG(!layer.empty(), "ElmModel::fit_with_layer: the layer is empty");
  ELMQ_CHECK_ARG(layer.n_inputs() == x.cols(), "ElmModel::fit_with_layer: the layer expects ",
                 layer.n_inputs(), " inputs, X has ", x.cols(), " columns");
  return fit_classification(&layer, x, labels, sample_weight);
}

void ElmModel::set_threads(int threads) {
  ELMQ_CHECK_ARG(threads >= 0, "ElmModel::set_threads: threads must be >= 0 (0 = all cores), got ",
                 threads);
  config_.threads = threads;
}

void ElmModel::set_row_threads(int threads) {
  ELMQ_CHECK_ARG(threads >= 0,
                 "ElmModel::set_row_threads: threads must be >= 0 (0 = all cores), got ", threads);
  row_threads_ = threads;
}

ElmModel& ElmModel::fit_classification(const HiddenLayer* layer, const ConstMatrixRef& x,
                                       const ConstLabelRef& labels,
                                       const ConstVectorRef& sample_weight) {
  check_fit_input(x, labels.size(), sample_weight, "ElmModel::fit");
  LabelVector classes = sorted_unique(labels);
  ELMQ_CHECK_ARG(classes.size() >= 2, "ElmModel::fit: y holds ", classes.size(),
                 " distinct class(es), at least 2 are needed");
  ELMQ_CHECK_ARG(classes.size() <= 100000, "ElmModel::fit: y holds ", classes.size(),
                 " distinct classes, the limit is 100000");
  classes_ = std::move(classes);
  const RowMatrixXf t = encode_labels(labels, "ElmModel::fit");
  VectorXf w = sample_weight;
  if (config_.class_weight == ClassWeight::kBalanced) {
    const VectorXf counts = t.colwise().sum().transpose();
    if (w.size() == 0) w = VectorXf::Ones(x.rows());
    for (Index i = 0; i < x.rows(); ++i) {
      Index c;
      t.row(i).maxCoeff(&c);
      w[i] *= static_cast<float>(x.rows()) / (static_cast<float>(classes_.size()) * counts[c]);
    }
  }
  scaler_ = Scaler(config_.scaling);
  scaler_.fit(x);
  scaler_fixed_ = false;
  if (layer != nullptr) {
    hidden_ = *layer;
    config_.hidden = hidden_.config();
  } else {
    ensure_layer(x);
  }
  reset_for_task(Task::kClassification, x.cols(), classes_.size());
  accumulate_targets(x, t, w);
  solve_internal();
  return *this;
}

ElmModel& ElmModel::fit_regression(const ConstMatrixRef& x, const ConstMatrixRef& y,
                                   const ConstVectorRef& sample_weight) {
  check_fit_input(x, y.rows(), sample_weight, "ElmModel::fit_regression");
  ELMQ_CHECK_ARG(y.cols() >= 1 && y.cols() <= 100000, "ElmModel::fit_regression: y has ", y.cols(),
                 " columns, expected 1..100000");
  check_finite(y, "ElmModel::fit_regression", "y");
  classes_.resize(0);
  scaler_ = Scaler(config_.scaling);
  scaler_.fit(x);
  scaler_fixed_ = false;
  ensure_layer(x);
  reset_for_task(Task::kRegression, x.cols(), y.cols());
  accumulate_targets(x, y, sample_weight);
  solve_internal();
  return *this;
}

ElmModel& ElmModel::fit_multilabel(const ConstMatrixRef& x, const ConstMatrixRef& y,
                                   const ConstVectorRef& sample_weight) {
  check_fit_input(x, y.rows(), sample_weight, "ElmModel::fit_multilabel");
  ELMQ_CHECK_ARG(y.cols() >= 1 && y.cols() <= 100000, "ElmModel::fit_multilabel: y has ", y.cols(),
                 " columns, expected 1..100000");
  ELMQ_CHECK_ARG((y.array() == 0.0f || y.array() == 1.0f).all(),
                 "ElmModel::fit_multilabel: y must hold only 0 and 1");
  classes_.resize(0);
  scaler_ = Scaler(config_.scaling);
  scaler_.fit(x);
  scaler_fixed_ = false;
  ensure_layer(x);
  reset_for_task(Task::kMultilabel, x.cols(), y.cols());
  accumulate_targets(x, y, sample_weight);
  solve_internal();
  return *this;
}

// ---------------------------------------------------------------- incremental

ElmModel& ElmModel::fit_scaler(const ConstMatrixRef& x) {
  ELMQ_CHECK_ARG(!has_training_state() || fit_stats_.rows() + val_stats_.rows() == 0,
                 "ElmModel::fit_scaler: statistics were already accumulated; the scaler must be "
                 "fixed before the first partial_fit");
  scaler_ = Scaler(config_.scaling);
  scaler_.fit(x);
  scaler_fixed_ = true;
  return *this;
}

ElmModel& ElmModel::accumulate(const ConstMatrixRef& x, const ConstLabelRef& labels,
                               const ConstLabelRef& classes, const ConstVectorRef& sample_weight) {
  const char* where = "ElmModel::partial_fit";
  check_fit_input(x, labels.size(), sample_weight, where);
  const bool first = !has_training_state() || task_ != Task::kClassification;
  if (first) {
    ELMQ_CHECK_ARG(classes.size() >= 2, where,
                   ": the first call needs `classes` with at least 2 distinct labels, got ",
                   classes.size());
    LabelVector unique = sorted_unique(classes);
    ELMQ_CHECK_ARG(unique.size() == classes.size(), where, ": `classes` holds duplicates");
    classes_ = std::move(unique);
    if (!scaler_fixed_ || scaler_.n_features() != x.cols()) {
      scaler_ = Scaler(config_.scaling);
      scaler_.fit(x);
    }
    ensure_layer(x);
    reset_for_task(Task::kClassification, x.cols(), classes_.size());
  } else {
    ELMQ_CHECK_ARG(x.cols() == n_features(), where, ": X has ", x.cols(),
                   " columns, model expects ", n_features());
    if (classes.size() > 0) {
      ELMQ_CHECK_ARG(sorted_unique(classes) == classes_, where,
                     ": `classes` differs from the classes given on the first call");
    }
  }
  const RowMatrixXf t = encode_labels(labels, where);
  accumulate_targets(x, t, sample_weight);
  return *this;
}

ElmModel& ElmModel::partial_fit(const ConstMatrixRef& x, const ConstLabelRef& labels,
                                const ConstLabelRef& classes, const ConstVectorRef& sample_weight) {
  accumulate(x, labels, classes, sample_weight);
  solve_internal();
  return *this;
}

ElmModel& ElmModel::partial_fit_regression(const ConstMatrixRef& x, const ConstMatrixRef& y,
                                           const ConstVectorRef& sample_weight) {
  const char* where = "ElmModel::partial_fit_regression";
  check_fit_input(x, y.rows(), sample_weight, where);
  check_finite(y, where, "y");
  if (!has_training_state() || task_ != Task::kRegression) {
    ELMQ_CHECK_ARG(y.cols() >= 1 && y.cols() <= 100000, where, ": y has ", y.cols(),
                   " columns, expected 1..100000");
    if (!scaler_fixed_ || scaler_.n_features() != x.cols()) {
      scaler_ = Scaler(config_.scaling);
      scaler_.fit(x);
    }
    classes_.resize(0);
    ensure_layer(x);
    reset_for_task(Task::kRegression, x.cols(), y.cols());
  } else {
    ELMQ_CHECK_ARG(x.cols() == n_features(), where, ": X has ", x.cols(),
                   " columns, model expects ", n_features());
    ELMQ_CHECK_ARG(y.cols() == fit_stats_.n_outputs(), where, ": y has ", y.cols(),
                   " columns, model expects ", fit_stats_.n_outputs());
  }
  accumulate_targets(x, y, sample_weight);
  solve_internal();
  return *this;
}

ElmModel& ElmModel::solve() {
  ELMQ_CHECK_ARG(has_training_state(), "ElmModel::solve: no training statistics (nothing was "
                                       "accumulated, or they were dropped)");
  solve_internal();
  return *this;
}

ElmModel& ElmModel::resolve_with_lambda(double lambda) {
  ELMQ_CHECK_ARG(has_training_state(), "ElmModel::resolve_with_lambda: no training statistics");
  ELMQ_CHECK_ARG(std::isfinite(lambda) && lambda >= 0.0,
                 "ElmModel::resolve_with_lambda: lambda must be >= 0, got ", lambda);
  const GramAccumulator total = training_stats();
  beta_ = solve_ridge(total.gram(), total.hty(), lambda).cast<float>();
  lambda_ = lambda;
  return *this;
}

GramAccumulator ElmModel::training_stats() const {
  GramAccumulator total = fit_stats_;
  if (val_stats_.n_hidden() > 0) total.merge(val_stats_);
  return total;
}

void ElmModel::drop_training_state() {
  fit_stats_ = GramAccumulator();
  val_stats_ = GramAccumulator();
}

// ---------------------------------------------------------------- prediction

void ElmModel::check_predict_input(const ConstMatrixRef& x, const char* where) const {
  ELMQ_CHECK_ARG(fitted(), where, ": the model is not fitted");
  ELMQ_CHECK_ARG(x.cols() == n_features(), where, ": X has ", x.cols(), " columns, model expects ",
                 n_features());
  check_finite(x, where, "X");
}

void ElmModel::require_task(Task t, const char* where) const {
  ELMQ_CHECK_ARG(task_ == t, where, ": the model was trained for ", task_name(task_),
                 ", not ", task_name(t));
}

void ElmModel::decision_function(const ConstMatrixRef& x, MatrixRef out) const {
  check_predict_input(x, "ElmModel::decision_function");
  ELMQ_CHECK_ARG(out.rows() == x.rows() && out.cols() == n_outputs(),
                 "ElmModel::decision_function: output is ", out.rows(), " x ", out.cols(),
                 ", expected ", x.rows(), " x ", n_outputs());
  const int threads = resolve_threads(config_.threads);
  // One task = scale, project, activate and multiply a block of rows, so the
  // whole pipeline stays in cache and the threads never synchronise.
  parallel_for_range(x.rows(), kPredictRows, threads, [&](Index begin, Index end) {
    const Index m = end - begin;
    RowMatrixXf xs(m, x.cols());
    scaler_.transform(x.middleRows(begin, m), xs);
    RowMatrixXf h(m, n_hidden());
    hidden_.transform(xs, h, 1);
    out.middleRows(begin, m).noalias() = h * beta_;
    check_finite_result(out.middleRows(begin, m), begin, "ElmModel::decision_function",
                        "decisions");
  });
}

RowMatrixXf ElmModel::decision_function(const ConstMatrixRef& x) const {
  RowMatrixXf out(x.rows(), fitted() ? n_outputs() : 0);
  decision_function(x, out);
  return out;
}

LabelVector ElmModel::predict(const ConstMatrixRef& x) const {
  require_task(Task::kClassification, "ElmModel::predict");
  const RowMatrixXf d = decision_function(x);
  LabelVector labels(d.rows());
  for (Index i = 0; i < d.rows(); ++i) {
    Index c;
    d.row(i).maxCoeff(&c);
    labels[i] = classes_[c];
  }
  return labels;
}

RowMatrixXf ElmModel::predict_proba(const ConstMatrixRef& x) const {
  require_task(Task::kClassification, "ElmModel::predict_proba");
  RowMatrixXf p = decision_function(x);
  const float inv_t = 1.0f / config_.proba_temperature;
  for (Index i = 0; i < p.rows(); ++i) {
    auto row = p.row(i).array();
    const float m = row.maxCoeff();
    row = ((row - m) * inv_t).exp();
    row /= row.sum();
  }
  return p;
}

RowMatrixXf ElmModel::predict_multilabel(const ConstMatrixRef& x) const {
  require_task(Task::kMultilabel, "ElmModel::predict_multilabel");
  return (decision_function(x).array() > 0.5f).cast<float>();
}

RowMatrixXf ElmModel::predict_regression(const ConstMatrixRef& x) const {
  require_task(Task::kRegression, "ElmModel::predict_regression");
  return decision_function(x);
}

void ElmModel::decision_row(const float* x, float* out, PredictWorkspace& ws) const {
  ELMQ_CHECK_ARG(fitted(), "ElmModel::decision_row: the model is not fitted");
  const Index d = n_features(), L = n_hidden();
  if (ws.scaled.size() != d) ws.scaled.resize(d);
  if (ws.hidden.size() != L) ws.hidden.resize(L);
  scaler_.transform_row(x, ws.scaled.data());
  // Each neuron's sum does not depend on the split (HiddenLayer::project_row):
  // any number of threads gives the bits of one. Splits fall on multiples of
  // 64 neurons (whole cache lines of the output).
  constexpr Index kBlock = 64;
  const int threads = row_threads_ == 1 ? 1 : resolve_threads(row_threads_);
  const Index blocks = (L + kBlock - 1) / kBlock;
  if (threads <= 1 || blocks < 2 || L * d < kMinRowSplitWork) {
    hidden_.project_row(ws.scaled.data(), ws.hidden.data(), 0, L);
  } else {
    const Index parts = std::min<Index>(threads, blocks);
    parallel_for_range(L, kBlock * ((blocks + parts - 1) / parts), static_cast<int>(parts),
                       [&](Index r0, Index r1) {
                         hidden_.project_row(ws.scaled.data(), ws.hidden.data() + r0, r0, r1);
                       });
  }
  float x_sq = 0.0f;
  if (config_.hidden.has_rbf()) x_sq = ws.scaled.squaredNorm();
  Eigen::Map<RowMatrixXf> h_row(ws.hidden.data(), 1, L);
  hidden_.activate(h_row, Eigen::Map<const VectorXf>(&x_sq, 1));
  Eigen::Map<VectorXf>(out, n_outputs()).noalias() = beta_.transpose() * ws.hidden;
  check_finite_result(out, n_outputs(), "ElmModel::decision_row", "decisions");
}

std::int64_t ElmModel::predict_row(const float* x, PredictWorkspace& ws, float* scores) const {
  require_task(Task::kClassification, "ElmModel::predict_row");
  decision_row(x, scores, ws);
  Index best = 0;
  for (Index c = 1; c < n_outputs(); ++c)
    if (scores[c] > scores[best]) best = c;
  return classes_[best];
}

double ElmModel::score(const ConstMatrixRef& x, const ConstLabelRef& labels) const {
  ELMQ_CHECK_ARG(labels.size() == x.rows(), "ElmModel::score: X has ", x.rows(),
                 " rows but y has ", labels.size());
  ELMQ_CHECK_ARG(x.rows() >= 1, "ElmModel::score: X is empty");
  const LabelVector p = predict(x);
  return static_cast<double>((p.array() == labels.array()).count()) / static_cast<double>(x.rows());
}

double ElmModel::score_regression(const ConstMatrixRef& x, const ConstMatrixRef& y) const {
  ELMQ_CHECK_ARG(y.rows() == x.rows() && y.cols() == n_outputs(), "ElmModel::score_regression: y is ",
                 y.rows(), " x ", y.cols(), ", expected ", x.rows(), " x ", n_outputs());
  ELMQ_CHECK_ARG(x.rows() >= 1, "ElmModel::score_regression: X is empty");
  const RowMatrixXf p = predict_regression(x);
  double r2 = 0.0;
  for (Index c = 0; c < y.cols(); ++c) {
    const Eigen::VectorXd yc = y.col(c).cast<double>();
    const double ss_res = (yc - p.col(c).cast<double>()).squaredNorm();
    const double ss_tot = (yc.array() - yc.mean()).square().sum();
    r2 += ss_tot > 0.0 ? 1.0 - ss_res / ss_tot : (ss_res == 0.0 ? 1.0 : 0.0);
  }
  return r2 / static_cast<double>(y.cols());
}

RowMatrixXf ElmModel::hidden_activations(const ConstMatrixRef& x) const {
  check_predict_input(x, "ElmModel::hidden_activations");
  return hidden_.transform(scaler_.transform(x), resolve_threads(config_.threads));
}

// ---------------------------------------------------------------- files

namespace {
constexpr std::uint32_t kTagTask = tag("TASK");
constexpr std::uint32_t kTagScaler = tag("SCLR");
constexpr std::uint32_t kTagHidden = tag("HIDN");
constexpr std::uint32_t kTagBeta = tag("BETA");
constexpr std::uint32_t kTagClasses = tag("CLSS");
constexpr std::uint32_t kTagLambda = tag("LMBD");
constexpr std::uint32_t kTagRidge = tag("RIDG");
constexpr std::uint32_t kTagGrid = tag("GRID");
constexpr std::uint32_t kTagSearchL = tag("SRCL");
constexpr std::uint32_t kTagSearchM = tag("SRCM");
constexpr std::uint32_t kTagSearchN = tag("SRCN");
constexpr std::uint32_t kTagMisc = tag("MISC");
constexpr std::uint32_t kTagRowsSeen = tag("NROW");
constexpr std::uint32_t kTagFitStats = tag("STFT");
constexpr std::uint32_t kTagValStats = tag("STVL");
// The split seed exactly (RIDG holds it as a double too, rounded above 2^53,
// for files read by versions before this record).
constexpr std::uint32_t kTagSplitSeed = tag("SSED");
}  // namespace

std::string ElmModel::to_bytes(bool include_training_state) const {
  ELMQ_CHECK_ARG(fitted(), "ElmModel::save: the model is not fitted");
  RecordWriter w;
  w.put_u64(kTagTask, static_cast<std::uint64_t>(task_));
  RecordWriter sw;
  scaler_.save(sw);
  w.put_nested(kTagScaler, sw);
  RecordWriter hw;
  hidden_.save(hw);
  w.put_nested(kTagHidden, hw);
  w.put_matrix(kTagBeta, beta_);
  w.put_i64_array(kTagClasses, classes_.data(), static_cast<std::size_t>(classes_.size()));
  w.put_f64(kTagLambda, lambda_);
  const double ridge[] = {config_.ridge.auto_lambda ? 1.0 : 0.0, config_.ridge.lambda,
                          config_.ridge.validation_fraction,
                          static_cast<double>(config_.ridge.split_seed)};
  w.put_f64_array(kTagRidge, ridge, 4);
  w.put_u64(kTagSplitSeed, config_.ridge.split_seed);
  w.put_f64_array(kTagGrid, config_.ridge.relative_grid.data(), config_.ridge.relative_grid.size());
  w.put_f64_array(kTagSearchL, search_.lambdas.data(), search_.lambdas.size());
  w.put_f64_array(kTagSearchM, search_.validation_mse.data(), search_.validation_mse.size());
  const std::int64_t search_rows[] = {search_.fit_rows, search_.validation_rows};
  w.put_i64_array(kTagSearchN, search_rows, 2);
  const double misc[] = {static_cast<double>(config_.scaling),
                         static_cast<double>(config_.class_weight),
                         static_cast<double>(config_.chunk_rows), config_.proba_temperature};
  w.put_f64_array(kTagMisc, misc, 4);
  w.put_i64(kTagRowsSeen, rows_seen_);
  if (include_training_state && has_training_state()) {
    RecordWriter fw;
    fit_stats_.save(fw);
    w.put_nested(kTagFitStats, fw);
    if (val_stats_.n_hidden() > 0) {
      RecordWriter vw;
      val_stats_.save(vw);
      w.put_nested(kTagValStats, vw);
    }
  }
  return w.finish(FileKind::kElm, kElmFileVersion);
}

ElmModel ElmModel::from_bytes(std::string_view bytes) {
  RecordReader r(bytes, FileKind::kElm, kElmFileVersion);
  const std::uint64_t task = r.get_u64(kTagTask);
  if (task > 2) r.fail(str_cat("unknown task ", task));

  ElmConfig config;
  const auto ridge = r.get_f64_array(kTagRidge);
  const auto misc = r.get_f64_array(kTagMisc);
  if (ridge.size() != 4 || misc.size() != 4) r.fail("config records are malformed");
  config.ridge.auto_lambda = ridge[0] != 0.0;
  config.ridge.lambda = ridge[1];
  config.ridge.validation_fraction = ridge[2];
  if (r.has(kTagSplitSeed)) {
    config.ridge.split_seed = r.get_u64(kTagSplitSeed);
  } else if (ridge[3] >= 0.0 && ridge[3] < 18446744073709551616.0) {  // [0, 2^64)
    config.ridge.split_seed = static_cast<std::uint64_t>(ridge[3]);
  } else {
    r.fail(str_cat("the split seed ", ridge[3], " is out of range"));
  }
  config.ridge.relative_grid = r.get_f64_array(kTagGrid);
  if (!(misc[0] >= 0 && misc[0] <= 2 && misc[1] >= 0 && misc[1] <= 1 && misc[2] >= 1 &&
        misc[2] <= static_cast<double>(Index{1} << 24))) {
    r.fail("config values are out of range");
  }
  config.scaling = static_cast<ScalingKind>(static_cast<std::uint32_t>(misc[0]));
  config.class_weight = static_cast<ClassWeight>(static_cast<std::uint32_t>(misc[1]));
  config.chunk_rows = static_cast<Index>(misc[2]);
  config.proba_temperature = static_cast<float>(misc[3]);

  Scaler scaler = Scaler::load(r.nested(kTagScaler));
  HiddenLayer hidden = HiddenLayer::load(r.nested(kTagHidden));
  config.hidden = hidden.config();
  try {
    config.validate();
  } catch (const InvalidArgument& e) {
    r.fail(str_cat("stored config is invalid: ", e.what()));
  }
  RowMatrixXf beta = r.get_matrix_f(kTagBeta);
  const auto classes = r.get_i64_array(kTagClasses);
  LabelVector cls = Eigen::Map<const LabelVector>(classes.data(), static_cast<Index>(classes.size()));
  const double lambda = r.get_f64(kTagLambda);

  ElmModel m = [&] {
    try {
      return from_parts(config, static_cast<Task>(task), std::move(scaler), std::move(hidden),
                        std::move(beta), std::move(cls), lambda);
    } catch (const InvalidArgument& e) {
      r.fail(str_cat("model is inconsistent: ", e.what()));
    }
  }();
  m.search_.lambdas = r.get_f64_array(kTagSearchL);
  m.search_.validation_mse = r.get_f64_array(kTagSearchM);
  const auto search_rows = r.get_i64_array(kTagSearchN);
  if (search_rows.size() != 2 || m.search_.lambdas.size() != m.search_.validation_mse.size()) {
    r.fail("lambda search records are malformed");
  }
  m.search_.fit_rows = search_rows[0];
  m.search_.validation_rows = search_rows[1];
  m.search_.lambda = m.search_.lambdas.empty() ? 0.0 : lambda;
  m.rows_seen_ = r.get_i64(kTagRowsSeen);
  if (r.has(kTagFitStats)) {
    m.fit_stats_ = GramAccumulator::load(r.nested(kTagFitStats));
    if (m.fit_stats_.n_hidden() != m.n_hidden() || m.fit_stats_.n_outputs() != m.n_outputs()) {
      r.fail("training statistics do not match the model's shape");
    }
    if (r.has(kTagValStats)) {
      m.val_stats_ = GramAccumulator::load(r.nested(kTagValStats));
      if (m.val_stats_.n_hidden() != m.n_hidden() || m.val_stats_.n_outputs() != m.n_outputs()) {
        r.fail("held-out statistics do not match the model's shape");
      }
    } else if (m.config_.ridge.auto_lambda) {
      m.val_stats_ = GramAccumulator(m.n_hidden(), m.n_outputs());
    }
  }
  return m;
}

void ElmModel::save(const std::string& path, bool include_training_state) const {
  write_file_bytes(path, to_bytes(include_training_state));
}

ElmModel ElmModel::load(const std::string& path) {
  return from_bytes(read_file_bytes(path));
}

ElmModel ElmModel::from_parts(ElmConfig config, Task task, Scaler scaler, HiddenLayer hidden,
                              RowMatrixXf beta, LabelVector classes, double lambda) {
  config.hidden = hidden.config();
  ElmModel m(std::move(config));
  ELMQ_CHECK_ARG(static_cast<std::uint32_t>(task) <= 2, "ElmModel::from_parts: unknown task");
  ELMQ_CHECK_ARG(!hidden.empty(), "ElmModel::from_parts: the hidden layer is empty");
  ELMQ_CHECK_ARG(scaler.fitted() && scaler.n_features() == hidden.n_inputs(),
                 "ElmModel::from_parts: scaler has ", scaler.n_features(),
                 " features, the hidden layer expects ", hidden.n_inputs());
  ELMQ_CHECK_ARG(beta.rows() == hidden.n_neurons() && beta.cols() >= 1,
                 "ElmModel::from_parts: beta is ", beta.rows(), " x ", beta.cols(), ", expected ",
                 hidden.n_neurons(), " x C");
  check_finite(beta, "ElmModel::from_parts", "beta");
  if (task == Task::kClassification) {
    ELMQ_CHECK_ARG(classes.size() == beta.cols() && classes.size() >= 2,
                   "ElmModel::from_parts: ", classes.size(), " classes for ", beta.cols(),
                   " outputs");
    for (Index i = 1; i < classes.size(); ++i) {
      ELMQ_CHECK_ARG(classes[i] > classes[i - 1],
                     "ElmModel::from_parts: classes must be sorted and distinct");
    }
  } else {
    ELMQ_CHECK_ARG(classes.size() == 0, "ElmModel::from_parts: classes given for a ",
                   task_name(task), " model");
  }
  ELMQ_CHECK_ARG(std::isfinite(lambda) && lambda >= 0.0, "ElmModel::from_parts: lambda must be >= 0");
  m.task_ = task;
  m.scaler_ = std::move(scaler);
  m.hidden_ = std::move(hidden);
  m.beta_ = std::move(beta);
  m.classes_ = std::move(classes);
  m.lambda_ = lambda;
  return m;
}

}  // namespace elmq
