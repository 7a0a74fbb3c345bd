#include "quant/mlp/mlp.h"

#include <cassert>
#include <cmath>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/rng.h"
#include "elm/common/serialize.h"
#include "elm/data/datasets.h"
#include "quant/mlp/detail/backprop.h"
#include "quant/mlp/detail/mlp_io.h"
#include "quant/mlp/detail/train_loop.h"

namespace elmq {

namespace {
constexpr std::uint32_t kMlpFileVersion = 1;
constexpr int kMaxHiddenLayers = 64;
constexpr Index kMaxWidth = Index{1} << 20;
}  // namespace

void MlpConfig::validate() const {
  ELMQ_CHECK_ARG(hidden.size() <= static_cast<std::size_t>(kMaxHiddenLayers),
                 "MlpConfig: hidden must have at most ", kMaxHiddenLayers, " layers, got ",
                 hidden.size());
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    ELMQ_CHECK_ARG(hidden[i] >= 1 && hidden[i] <= kMaxWidth, "MlpConfig: hidden[", i,
                   "] must be in [1, ", kMaxWidth, "], got ", hidden[i]);
  }
  ELMQ_CHECK_ARG(scaling == ScalingKind::kNone || scaling == ScalingKind::kStandardize ||
                     scaling == ScalingKind::kMinMax,
                 "MlpConfig: scaling must be none, standardize or minmax, got ",
                 static_cast<std::uint32_t>(scaling));
  optimizer.validate();
  ELMQ_CHECK_ARG(epochs >= 1 && epochs <= 100000, "MlpConfig: epochs must be in [1, 100000], got ",
                 epochs);
  ELMQ_CHECK_ARG(batch_size >= 1 && batch_size <= (Index{1} << 20),
                 "MlpConfig: batch_size must be in [1, 1048576], got ", batch_size);
  ELMQ_CHECK_ARG(validation_fraction >= 0.0 && validation_fraction <= 0.9,
                 "MlpConfig: validation_fraction must be in [0, 0.9], got ", validation_fraction);
  ELMQ_CHECK_ARG(patience >= 0 && patience <= 100000,
                 "MlpConfig: patience must be in [0, 100000], got ", patience);
  ELMQ_CHECK_ARG(threads >= 0, "MlpConfig: threads must be >= 0 (0 = all cores), got ", threads);
}

std::string MlpConfig::describe(Index n_inputs, Index n_outputs) const {
  std::string s = std::to_string(n_inputs);
  for (Index h : hidden) s += "-" + std::to_string(h);
  return s + "-" + std::to_string(n_outputs);
}

Mlp::Mlp(MlpConfig config) : config_(std::move(config)) { config_.validate(); }

Index Mlp::n_parameters() const {
  Index n = 0;
  for (int l = 0; l < params_.n_layers(); ++l) {
    n += params_.weights[l].size() + params_.biases[l].size();
  }
  return n;
}

void Mlp::set_threads(int threads) {
  ELMQ_CHECK_ARG(threads >= 0, "Mlp::set_threads: threads must be >= 0 (0 = all cores), got ",
                 threads);
  config_.threads = threads;
}

Mlp& Mlp::fit(const ConstMatrixRef& x, const ConstLabelRef& labels) {
  return fit_internal(x, labels, nullptr, nullptr);
}

Mlp& Mlp::fit(const ConstMatrixRef& x, const ConstLabelRef& labels, const ConstMatrixRef& x_val,
              const ConstLabelRef& labels_val) {
  return fit_internal(x, labels, &x_val, &labels_val);
}

Mlp& Mlp::fit_internal(const ConstMatrixRef& x, const ConstLabelRef& labels,
                       const ConstMatrixRef* x_val, const ConstLabelRef* labels_val) {
  const char* where = "Mlp::fit";
  ELMQ_CHECK_ARG(x.rows() >= 2 && x.cols() >= 1, where, ": X is ", x.rows(), " x ", x.cols(),
                 ", needs at least 2 rows and 1 column");
  ELMQ_CHECK_ARG(labels.size() == x.rows(), where, ": labels has ", labels.size(),
                 " entries, X has ", x.rows(), " rows");
  check_finite(x, where, "X");
  LabelVector classes = detail::distinct_labels(labels, where);
  const std::vector<std::int32_t> y = detail::encode_labels(classes, labels, where);

  detail::TrainData data;
  data.x = &x;
  data.y = &y;
  std::vector<std::int32_t> y_val;
  if (x_val) {
    ELMQ_CHECK_ARG(x_val->cols() == x.cols() || x_val->rows() == 0, where, ": X_val has ",
                   x_val->cols(), " columns, X has ", x.cols());
    ELMQ_CHECK_ARG(labels_val->size() == x_val->rows(), where, ": labels_val has ",
                   labels_val->size(), " entries, X_val has ", x_val->rows(), " rows");
    check_finite(*x_val, where, "X_val");
    y_val = detail::encode_labels(classes, *labels_val, "Mlp::fit (validation labels)");
    data.train_rows.resize(static_cast<std::size_t>(x.rows()));
    for (Index i = 0; i < x.rows(); ++i) data.train_rows[static_cast<std::size_t>(i)] = i;
    if (x_val->rows() > 0) {
      data.val_x = x_val;
      data.val_y = &y_val;
    }
  } else if (config_.validation_fraction > 0.0) {
    SplitIndices split = stratified_split(labels, config_.validation_fraction, config_.seed);
    data.train_rows = std::move(split.train);
    data.val_rows = std::move(split.test);
  } else {
    data.train_rows.resize(static_cast<std::size_t>(x.rows()));
    for (Index i = 0; i < x.rows(); ++i) data.train_rows[static_cast<std::size_t>(i)] = i;
  }
  ELMQ_CHECK_ARG(!data.train_rows.empty(), where, ": no training rows are left after the split");

  // The scaler sees the training rows only.
  Scaler scaler(config_.scaling);
  if (data.train_rows.size() == static_cast<std::size_t>(x.rows())) {
    scaler.fit(x);
  } else {
    RowMatrixXf xt(static_cast<Index>(data.train_rows.size()), x.cols());
    for (std::size_t i = 0; i < data.train_rows.size(); ++i) {
      xt.row(static_cast<Index>(i)) = x.row(data.train_rows[i]);
    }
    scaler.fit(xt);
  }
  data.scaler = &scaler;

  // He-normal weights, one Rng stream per layer.
  std::vector<Index> sizes;
  sizes.push_back(x.cols());
  for (Index h : config_.hidden) sizes.push_back(h);
  sizes.push_back(classes.size());
  MlpParams params = MlpParams::zeros(sizes);
  for (int l = 0; l < params.n_layers(); ++l) {
    Rng rng(config_.seed, static_cast<std::uint64_t>(l) + 1);
    const double sd = std::sqrt(2.0 / static_cast<double>(sizes[l]));
    RowMatrixXf& w = params.weights[l];
    for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>(rng.normal() * sd);
  }

  detail::TrainSettings settings;
  settings.epochs = config_.epochs;
  settings.batch_size = config_.batch_size;
  settings.optimizer = config_.optimizer;
  settings.patience = config_.patience;
  settings.restore_best = config_.restore_best;
  settings.seed = config_.seed;
  settings.threads = resolve_threads(config_.threads);
  settings.progress = progress_;
  TrainingHistory history = detail::train_loop(params, data, settings, detail::TrainHooks{});
  for (int l = 0; l < params.n_layers(); ++l) {
    if (!params.weights[l].allFinite() || !params.biases[l].allFinite()) {
      throw NumericalError(str_cat(where, ": training diverged (non-finite weights in layer ", l,
                                   "); lower optimizer.learning_rate (now ",
                                   config_.optimizer.learning_rate, ")"));
    }
  }

  scaler_ = std::move(scaler);
  params_ = std::move(params);
  classes_ = std::move(classes);
  history_ = std::move(history);
  return *this;
}

// ---------------------------------------------------------------- prediction

void Mlp::check_input(const ConstMatrixRef& x, const char* where) const {
  ELMQ_CHECK_ARG(fitted(), where, ": the model is not fitted");
  check_shape(x, n_features(), where, "X", false);
  check_finite(x, where, "X");
}

RowMatrixXf Mlp::decision_function(const ConstMatrixRef& x) const {
  check_input(x, "Mlp::decision_function");
  RowMatrixXf xs = scaler_.transform(x);
  RowMatrixXf out(x.rows(), n_outputs());
  detail::mlp_forward(xs, params_, out, resolve_threads(config_.threads));
  check_finite_result(out, 0, "Mlp::decision_function", "logits");
  return out;
}

LabelVector Mlp::predict(const ConstMatrixRef& x) const {
  const RowMatrixXf z = decision_function(x);
  LabelVector out(z.rows());
  for (Index i = 0; i < z.rows(); ++i) {
    Index arg;
    z.row(i).maxCoeff(&arg);
    out[i] = classes_[arg];
  }
  return out;
}

RowMatrixXf Mlp::predict_proba(const ConstMatrixRef& x) const {
  RowMatrixXf z = decision_function(x);
  for (Index i = 0; i < z.rows(); ++i) {
    const float m = z.row(i).maxCoeff();
    z.row(i) = (z.row(i).array() - m).exp();
    z.row(i) /= z.row(i).sum();
  }
  return z;
}

double Mlp::score(const ConstMatrixRef& x, const ConstLabelRef& labels) const {
  ELMQ_CHECK_ARG(labels.size() == x.rows(), "Mlp::score: labels has ", labels.size(),
                 " entries, X has ", x.rows(), " rows");
  ELMQ_CHECK_ARG(x.rows() >= 1, "Mlp::score: X has no rows");
  const LabelVector pred = predict(x);
  Index ok = 0;
  for (Index i = 0; i < pred.size(); ++i) ok += pred[i] == labels[i] ? 1 : 0;
  return static_cast<double>(ok) / static_cast<double>(pred.size());
}

double Mlp::loss(const ConstMatrixRef& x, const ConstLabelRef& labels) const {
  ELMQ_CHECK_ARG(labels.size() == x.rows() && x.rows() >= 1, "Mlp::loss: labels has ",
                 labels.size(), " entries, X has ", x.rows(), " rows (need >= 1)");
  const RowMatrixXf z = decision_function(x);
  const std::vector<std::int32_t> y = detail::encode_labels(classes_, labels, "Mlp::loss");
  double sum = 0.0;
  for (Index i = 0; i < z.rows(); ++i) {
    sum += detail::softmax_xent_row(z.row(i).data(), z.cols(), y[static_cast<std::size_t>(i)], 1.0f,
                                    nullptr);
  }
  return sum / static_cast<double>(z.rows());
}

MlpParams Mlp::gradients(const ConstMatrixRef& x, const ConstLabelRef& labels) const {
  check_input(x, "Mlp::gradients");
  ELMQ_CHECK_ARG(labels.size() == x.rows() && x.rows() >= 1, "Mlp::gradients: labels has ",
                 labels.size(), " entries, X has ", x.rows(), " rows (need >= 1)");
  const std::vector<std::int32_t> y = detail::encode_labels(classes_, labels, "Mlp::gradients");
  const RowMatrixXf xs = scaler_.transform(x);
  detail::Backprop bp(params_.sizes(), x.rows());
  MlpParams g = MlpParams::zeros(params_.sizes());
  bp.forward_backward(xs, y.data(), params_, g, resolve_threads(config_.threads));
  return g;
}

void Mlp::decision_row(const float* x, float* out, MlpWorkspace& ws) const {
  ELMQ_CHECK_ARG(fitted(), "Mlp::decision_row: the model is not fitted");
  const int layers = params_.n_layers();
  if (ws.act.size() != static_cast<std::size_t>(layers) || ws.scaled.size() != n_features()) {
    ws.act.resize(static_cast<std::size_t>(layers));
    for (int l = 0; l < layers; ++l) ws.act[l].resize(params_.weights[l].rows());
    ws.scaled.resize(n_features());
  }
  scaler_.transform_row(x, ws.scaled.data());
  for (int l = 0; l < layers; ++l) {
    const VectorXf& in = l == 0 ? ws.scaled : ws.act[l - 1];
    VectorXf& a = ws.act[l];
    a.noalias() = params_.weights[l] * in;
    a += params_.biases[l];
    if (l + 1 < layers) a = a.cwiseMax(0.0f);
  }
  Eigen::Map<VectorXf>(out, n_outputs()) = ws.act.back();
  check_finite_result(out, n_outputs(), "Mlp::decision_row", "logits");
}

// ---------------------------------------------------------------- files

namespace {
constexpr std::uint32_t kTagSizes = tag("SIZE");
constexpr std::uint32_t kTagScaler = tag("SCLR");
constexpr std::uint32_t kTagClasses = tag("CLSS");
constexpr std::uint32_t kTagConfig = tag("CONF");
constexpr std::uint32_t kTagOptimizer = tag("OPTM");
constexpr std::uint32_t kTagHistory = tag("HIST");
constexpr std::uint32_t kTagHistoryInfo = tag("HINF");
constexpr int kHistoryFields = 6;
}  // namespace

std::string Mlp::to_bytes() const {
  ELMQ_CHECK_ARG(fitted(), "Mlp::save: the model is not fitted");
  RecordWriter w;
  const std::vector<Index> sizes = params_.sizes();
  w.put_i64_array(kTagSizes, sizes.data(), sizes.size());
  RecordWriter sw;
  scaler_.save(sw);
  w.put_nested(kTagScaler, sw);
  w.put_i64_array(kTagClasses, classes_.data(), static_cast<std::size_t>(classes_.size()));
  for (int l = 0; l < params_.n_layers(); ++l) {
    w.put_matrix(detail::layer_tag('W', l), params_.weights[l]);
    w.put_f32_array(detail::layer_tag('B', l), params_.biases[l].data(),
                    static_cast<std::size_t>(params_.biases[l].size()));
  }
  const std::int64_t conf[] = {static_cast<std::int64_t>(config_.scaling),
                               config_.epochs,
                               config_.batch_size,
                               config_.patience,
                               config_.restore_best ? 1 : 0,
                               static_cast<std::int64_t>(config_.seed),
                               config_.threads};
  w.put_i64_array(kTagConfig, conf, 7);
  const OptimizerConfig& o = config_.optimizer;
  const double optm[] = {static_cast<double>(o.kind),
                         o.learning_rate,
                         o.beta1,
                         o.beta2,
                         o.epsilon,
                         o.momentum,
                         o.nesterov ? 1.0 : 0.0,
                         o.weight_decay,
                         config_.validation_fraction};
  w.put_f64_array(kTagOptimizer, optm, 9);
  std::vector<double> hist;
  for (const EpochReport& e : history_.epochs) {
    const double row[kHistoryFields] = {static_cast<double>(e.epoch),
                                        e.train_loss,
                                        e.val_loss,
                                        e.val_accuracy,
                                        e.epoch_seconds,
                                        e.elapsed_seconds};
    hist.insert(hist.end(), row, row + kHistoryFields);
  }
  w.put_f64_array(kTagHistory, hist.data(), hist.size());
  const double info[] = {static_cast<double>(history_.best_epoch),
                         history_.stopped_early ? 1.0 : 0.0, history_.seconds,
                         static_cast<double>(history_.train_rows),
                         static_cast<double>(history_.val_rows)};
  w.put_f64_array(kTagHistoryInfo, info, 5);
  return w.finish(FileKind::kMlp, kMlpFileVersion);
}

Mlp Mlp::from_bytes(std::string_view bytes) {
  RecordReader r(bytes, FileKind::kMlp, kMlpFileVersion);
  const std::vector<std::int64_t> sizes = r.get_i64_array(kTagSizes);
  if (sizes.size() < 2 || sizes.size() > static_cast<std::size_t>(kMaxHiddenLayers) + 2) {
    r.fail(
        str_cat("the network has ", sizes.size(), " widths, expected 2 to ", kMaxHiddenLayers + 2));
  }
  for (std::int64_t s : sizes) {
    if (s < 1 || s > kMaxWidth) r.fail(str_cat("a layer width is out of range: ", s));
  }
  const auto conf = r.get_i64_array(kTagConfig);
  const auto optm = r.get_f64_array(kTagOptimizer);
  if (conf.size() != 7 || optm.size() != 9) r.fail("config records are malformed");
  MlpConfig config;
  config.hidden.assign(sizes.begin() + 1, sizes.end() - 1);
  if (conf[0] < 0 || conf[0] > 2 || !(optm[0] >= 0 && optm[0] <= 1)) {  // NaN fails too
    r.fail("config values are out of range");
  }
  auto as_int = [&](std::int64_t v, const char* what) {
    if (v < -(std::int64_t{1} << 30) || v > (std::int64_t{1} << 30)) {
      r.fail(str_cat("stored ", what, " is out of range: ", v));
    }
    return static_cast<int>(v);
  };
  config.scaling = static_cast<ScalingKind>(conf[0]);
  config.epochs = as_int(conf[1], "epochs");
  config.batch_size = conf[2];
  config.patience = as_int(conf[3], "patience");
  config.restore_best = conf[4] != 0;
  config.seed = static_cast<std::uint64_t>(conf[5]);
  config.threads = as_int(conf[6], "threads");
  config.optimizer.kind = static_cast<OptimizerKind>(static_cast<std::uint32_t>(optm[0]));
  config.optimizer.learning_rate = optm[1];
  config.optimizer.beta1 = optm[2];
  config.optimizer.beta2 = optm[3];
  config.optimizer.epsilon = optm[4];
  config.optimizer.momentum = optm[5];
  config.optimizer.nesterov = optm[6] != 0.0;
  config.optimizer.weight_decay = optm[7];
  config.validation_fraction = optm[8];
  try {
    config.validate();
  } catch (const InvalidArgument& e) {
    r.fail(str_cat("stored config is invalid: ", e.what()));
  }

  Scaler scaler = Scaler::load(r.nested(kTagScaler));
  const auto cls = r.get_i64_array(kTagClasses);
  LabelVector classes = Eigen::Map<const LabelVector>(cls.data(), static_cast<Index>(cls.size()));
  MlpParams params;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const int li = static_cast<int>(l);
    RowMatrixXf w = r.get_matrix_f(detail::layer_tag('W', li));
    const auto b = r.get_f32_array(detail::layer_tag('B', li));
    if (w.rows() != sizes[l + 1] || w.cols() != sizes[l] ||
        b.size() != static_cast<std::size_t>(sizes[l + 1])) {
      r.fail(str_cat("layer ", l, " is ", w.rows(), " x ", w.cols(), " with ", b.size(),
                     " biases, expected ", sizes[l + 1], " x ", sizes[l]));
    }
    params.weights.push_back(std::move(w));
    params.biases.push_back(Eigen::Map<const VectorXf>(b.data(), static_cast<Index>(b.size())));
  }

  Mlp m = [&] {
    try {
      return from_parts(config, std::move(scaler), std::move(params), std::move(classes));
    } catch (const InvalidArgument& e) {
      r.fail(str_cat("model is inconsistent: ", e.what()));
    }
  }();
  const auto hist = r.get_f64_array(kTagHistory);
  const auto info = r.get_f64_array(kTagHistoryInfo);
  if (hist.size() % kHistoryFields != 0 || info.size() != 5)
    r.fail("history records are malformed");
  // Counts are stored as doubles: whole numbers in range, or the file is
  // corrupt (converting anything else to an integer is undefined behaviour).
  auto count = [&r](double v, double max, const char* what) {
    if (!(v >= 0.0 && v <= max && v == std::floor(v))) {
      r.fail(str_cat("training history: ", what, " ", v, " is not a count"));
    }
    return v;
  };
  constexpr double kMaxInt = 2147483647.0, kMaxRows = 9007199254740992.0;  // 2^31 - 1, 2^53
  for (std::size_t i = 0; i < hist.size(); i += kHistoryFields) {
    EpochReport e;
    e.epoch = static_cast<int>(count(hist[i], kMaxInt, "epoch"));
    e.train_loss = hist[i + 1];
    e.val_loss = hist[i + 2];
    e.val_accuracy = hist[i + 3];
    e.epoch_seconds = hist[i + 4];
    e.elapsed_seconds = hist[i + 5];
    m.history_.epochs.push_back(e);
  }
  m.history_.best_epoch = static_cast<int>(count(info[0], kMaxInt, "best epoch"));
  m.history_.stopped_early = info[1] != 0.0;
  m.history_.seconds = info[2];
  m.history_.train_rows = static_cast<long long>(count(info[3], kMaxRows, "training rows"));
  m.history_.val_rows = static_cast<long long>(count(info[4], kMaxRows, "validation rows"));
  return m;
}

void Mlp::save(const std::string& path) const { write_file_bytes(path, to_bytes()); }

Mlp Mlp::load(const std::string& path) { return from_bytes(read_file_bytes(path)); }

Mlp Mlp::from_parts(MlpConfig config, Scaler scaler, MlpParams params, LabelVector classes) {
  const char* where = "Mlp::from_parts";
  ELMQ_CHECK_ARG(params.n_layers() >= 1 && params.biases.size() == params.weights.size(), where,
                 ": need at least one layer with one bias vector each, got ", params.n_layers(),
                 " weight matrices and ", params.biases.size(), " bias vectors");
  for (int l = 0; l < params.n_layers(); ++l) {
    const RowMatrixXf& w = params.weights[l];
    ELMQ_CHECK_ARG(w.rows() >= 1 && w.cols() >= 1 && params.biases[l].size() == w.rows(), where,
                   ": layer ", l, " is ", w.rows(), " x ", w.cols(), " with ",
                   params.biases[l].size(), " biases");
    ELMQ_CHECK_ARG(l == 0 || w.cols() == params.weights[l - 1].rows(), where, ": layer ", l,
                   " has ", w.cols(), " inputs, layer ", l - 1, " has ",
                   params.weights[l - 1].rows(), " outputs");
    ELMQ_CHECK_ARG(w.allFinite() && params.biases[l].allFinite(), where, ": layer ", l,
                   " has non-finite values");
  }
  ELMQ_CHECK_ARG(scaler.fitted() && scaler.n_features() == params.weights[0].cols(), where,
                 ": scaler has ", scaler.n_features(), " features, the first layer expects ",
                 params.weights[0].cols());
  ELMQ_CHECK_ARG(classes.size() == params.weights.back().rows() && classes.size() >= 2, where, ": ",
                 classes.size(), " classes for ", params.weights.back().rows(),
                 " outputs (need >= 2)");
  for (Index i = 1; i < classes.size(); ++i) {
    ELMQ_CHECK_ARG(classes[i - 1] < classes[i], where, ": classes must be sorted and distinct");
  }
  config.hidden.clear();
  for (int l = 0; l + 1 < params.n_layers(); ++l) config.hidden.push_back(params.weights[l].rows());
  config.scaling = scaler.kind();
  Mlp m(std::move(config));
  m.scaler_ = std::move(scaler);
  m.params_ = std::move(params);
  m.classes_ = std::move(classes);
  return m;
}

}  // namespace elmq
