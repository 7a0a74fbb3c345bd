#include "quant/elm/quantize_elm.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <vector>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/ridge_solver.h"

namespace elmq {

void ElmQuantConfig::validate() const {
  ELMQ_CHECK_ARG(is_known_format(static_cast<std::uint32_t>(beta_format)),
                 "ElmQuantConfig.beta_format is not a known format (",
                 static_cast<std::uint32_t>(beta_format), ")");
  ELMQ_CHECK_ARG(is_known_format(static_cast<std::uint32_t>(w_format)),
                 "ElmQuantConfig.w_format is not a known format (",
                 static_cast<std::uint32_t>(w_format), ")");
  ELMQ_CHECK_ARG(beta_method == QuantMethod::kRtn || beta_method == QuantMethod::kGptq,
                 "ElmQuantConfig.beta_method must be kRtn (0) or kGptq (1), got ",
                 static_cast<std::uint32_t>(beta_method));
  ELMQ_CHECK_ARG(input == InputQuant::kDynamic || input == InputQuant::kUint8,
                 "ElmQuantConfig.input must be kDynamic (0) or kUint8 (1), got ",
                 static_cast<std::uint32_t>(input));
  ELMQ_CHECK_ARG(hidden == HiddenQuant::kDynamic || hidden == HiddenQuant::kStatic,
                 "ElmQuantConfig.hidden must be kDynamic (0) or kStatic (1), got ",
                 static_cast<std::uint32_t>(hidden));
  ELMQ_CHECK_ARG(std::isfinite(lambda_scale) && lambda_scale > 0.0 && lambda_scale <= 1e12,
                 "ElmQuantConfig.lambda_scale must be in (0, 1e12], got ", lambda_scale);
  ELMQ_CHECK_ARG(threads >= 0, "ElmQuantConfig.threads must be >= 0 (0 = all cores), got ",
                 threads);
  try {
    beta_range.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(str_cat("ElmQuantConfig.beta_range: ", e.what()));
  }
  try {
    w_range.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(str_cat("ElmQuantConfig.w_range: ", e.what()));
  }
  try {
    gptq.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(str_cat("ElmQuantConfig.gptq: ", e.what()));
  }
}

namespace {

constexpr Index kRbfCentreRows = 8192;  // as ElmModel: rows offered as RBF centres

// Training data as ElmModel sees it after encoding: targets and row weights.
struct TrainData {
  ConstMatrixRef x;
  RowMatrixXf t;
  VectorXf w;
};

struct Solved {
  RowMatrixXf beta;  // L x C
  double lambda = 0.0;
  GramAccumulator stats;  // every row (fit + held-out part)
};

// ElmModel::accumulate_targets + solve_internal on a given layer: the same
// chunks, the same held-out split and the same lambda rule, so that a layer
// equal to ElmModel's gives its beta bit for bit. lambda < 0: choose it as
// the config says; else use it. `scaler` null: x enters the layer unscaled.
Solved solve_on_layer(const ElmConfig& cfg, const Scaler* scaler, const HiddenLayer& layer,
                      const TrainData& data, double lambda, double lambda_scale, bool solve) {
  const int threads = resolve_threads(cfg.threads);
  const bool split = lambda < 0.0 && cfg.ridge.auto_lambda;
  const Index L = layer.n_neurons(), c = data.t.cols();
  GramAccumulator fit(L, c), val;
  if (split) val = GramAccumulator(L, c);
  std::int64_t rows_seen = 0;
  accumulate_hidden_stats(cfg, scaler, layer, data.x, data.t, data.w, rows_seen, threads, fit,
                          split ? &val : nullptr);
  Solved s;
  s.stats = fit;
  if (split) s.stats.merge(val);
  if (lambda >= 0.0) {
    s.lambda = lambda;
  } else if (!cfg.ridge.auto_lambda) {
    s.lambda = cfg.ridge.lambda;
  } else if (fit.rows() > 0 && val.rows() > 0 && fit.weight_sum() > 0) {
    const LambdaSearchResult search = search_lambda(fit, val, cfg.ridge, threads);
    s.lambda = search.lambda * (s.stats.weight_sum() / fit.weight_sum());
  } else {
    s.lambda = 1e-3 * std::max(s.stats.gram().trace() / static_cast<double>(L), 1e-12);
  }
  s.lambda *= lambda_scale;
  if (solve) s.beta = solve_ridge(s.stats.gram(), s.stats.hty(), s.lambda).cast<float>();
  return s;
}

// Class targets exactly as ElmModel::fit encodes them (one-hot, balanced weights).
TrainData classification_data(const ConstMatrixRef& x, const ConstLabelRef& labels,
                              const ConstVectorRef& sample_weight, const LabelVector& classes,
                              ClassWeight class_weight, const char* where) {
  ELMQ_CHECK_ARG(labels.size() == x.rows(), where, ": X has ", x.rows(), " rows but y has ",
                 labels.size());
  RowMatrixXf t = RowMatrixXf::Zero(labels.size(), classes.size());
  for (Index i = 0; i < labels.size(); ++i) {
    const auto* it = std::lower_bound(classes.data(), classes.data() + classes.size(), labels[i]);
    ELMQ_CHECK_ARG(it != classes.data() + classes.size() && *it == labels[i], where, ": label ",
                   labels[i], " at row ", i, " is not one of the model's ", classes.size(),
                   " classes");
    t(i, it - classes.data()) = 1.0f;
  }
  VectorXf w = sample_weight;
  if (class_weight == ClassWeight::kBalanced) {
    const VectorXf counts = t.colwise().sum().transpose();
    if (w.size() == 0) w = VectorXf::Ones(x.rows());
    for (Index i = 0; i < x.rows(); ++i) {
      Index c;
      t.row(i).maxCoeff(&c);
      w[i] *= static_cast<float>(x.rows()) / (static_cast<float>(classes.size()) * counts[c]);
    }
  }
  return TrainData{x, std::move(t), std::move(w)};
}

void check_data(const ConstMatrixRef& x, Index rows, const ConstVectorRef& w, Index n_features,
                const char* where) {
  ELMQ_CHECK_ARG(x.rows() >= 1 && x.cols() == n_features, where, ": X is ", x.rows(), " x ",
                 x.cols(), ", expected at least one row and ", n_features, " columns");
  ELMQ_CHECK_ARG(rows == x.rows(), where, ": X has ", x.rows(), " rows but y has ", rows);
  ELMQ_CHECK_ARG(w.size() == 0 || w.size() == x.rows(), where, ": sample_weight has ", w.size(),
                 " entries, expected ", x.rows());
  ELMQ_CHECK_ARG(w.size() == 0 || (w.allFinite() && (w.array() >= 0.0f).all()), where,
                 ": sample_weight must be finite and >= 0");
  check_finite(x, where, "X");
}

// What the quantizer starts from: an FP32 model's parts, or (beta empty) a
// freshly drawn layer whose beta is still to be solved.
struct Source {
  ElmConfig config;
  Task task = Task::kClassification;
  const Scaler* scaler = nullptr;
  const HiddenLayer* layer = nullptr;
  RowMatrixXf beta;  // L x C; empty: solve (lambda per config)
  LabelVector classes;
  double lambda = 0.0;
  std::optional<GramAccumulator> stats;  // the statistics beta was solved from
};

// Step 1: W (L x d) in cfg.w_format, with the scaler folded in for uint8
// inputs: x' W^T = (x - o) diag(s) W^T = x (W diag(s))^T - o.(W diag(s)).
struct QuantizedW {
  RowMatrixXf w;      // the weights that were quantized (folded for uint8)
  VectorXf bias;      // the biases that go with them
  QuantizedTensor q;  // w quantized
  RowMatrixXf w_hat;  // q dequantized
  bool exact = true;
  double relative_error = 0.0;
};

QuantizedW quantize_w(const Scaler& scaler, const HiddenLayer& layer, const ElmQuantConfig& cfg,
                      const char* where) {
  ELMQ_CHECK_ARG(cfg.input != InputQuant::kUint8 || !layer.config().has_rbf(), where,
                 ": uint8 inputs fold the scaler into W, which RBF neurons do not allow");
  QuantizedW r;
  r.w = layer.weights();
  r.bias = layer.bias();
  if (cfg.input == InputQuant::kUint8) {
    r.w = r.w * scaler.scale().asDiagonal();
    const VectorXd shift = r.w.cast<double>() * scaler.offset().cast<double>();
    r.bias = (r.bias.cast<double>() - shift).cast<float>();
  }
  r.q = QuantizedTensor::quantize(r.w, cfg.w_format, cfg.w_range, resolve_threads(cfg.threads));
  r.w_hat = r.q.dequantize();
  r.exact = r.w_hat == r.w;
  const double norm = r.w.cast<double>().norm();
  r.relative_error =
      norm > 0.0 ? (r.w - r.w_hat).cast<double>().norm() / norm : (r.exact ? 0.0 : 1.0);
  return r;
}

// The decisions of quantize_source, shared with quantization_needs.
ElmQuantNeeds needs_of(bool w_exact, bool has_beta, bool has_stats, const ElmQuantConfig& cfg) {
  ElmQuantNeeds n;
  n.w_exact = w_exact;
  n.resolve = !has_beta || (!w_exact && cfg.resolve_beta_after_w);
  n.statistics = cfg.beta_method == QuantMethod::kGptq || cfg.lambda_scale != 1.0;
  if (!has_beta) {
    n.data = true;
    n.reason = "beta is solved from the data";
  } else if (n.resolve) {
    n.data = true;
    n.reason = str_cat("W changes when quantized to ", format_name(cfg.w_format),
                       " and beta is re-solved on it (resolve_beta_after_w)");
  } else if (n.statistics && !has_stats) {
    n.data = true;
    n.reason = str_cat(cfg.beta_method == QuantMethod::kGptq ? "GPTQ" : "lambda_scale != 1",
                       " needs the training statistics G = H^T H and the model was saved "
                       "without them");
  }
  return n;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

QuantizedElm quantize_source(Source src, const ElmQuantConfig& cfg, const TrainData* data,
                             const char* where) {
  cfg.validate();
  const int threads = resolve_threads(cfg.threads);
  src.config.threads = cfg.threads;
  const HiddenLayer& layer = *src.layer;

  auto t0 = std::chrono::steady_clock::now();
  QuantizedW qw = quantize_w(*src.scaler, layer, cfg, where);
  ElmQuantInfo info;
  info.beta_method = cfg.beta_method;
  info.w_exact = qw.exact;
  info.w_relative_error = qw.relative_error;
  info.w_seconds = seconds_since(t0);
  const Scaler* layer_scaler = cfg.input == InputQuant::kUint8 ? nullptr : src.scaler;
  const ElmQuantNeeds needs = needs_of(qw.exact, src.beta.size() > 0, src.stats.has_value(), cfg);
  ELMQ_CHECK_ARG(!needs.data || data != nullptr, where, ": ", needs.reason,
                 ", which needs the training data (pass X and y)",
                 needs.resolve && src.beta.size() > 0 ? ", or set resolve_beta_after_w = false"
                 : needs.resolve                      ? ""
                                                      : ", or save the model with its training "
                                                        "state (ElmModel::save(path, true))");

  // 2. beta and the statistics it was solved from.
  t0 = std::chrono::steady_clock::now();
  RowMatrixXf beta = src.beta;
  double lambda = src.lambda * cfg.lambda_scale;
  std::optional<GramAccumulator> stats;
  auto quantized_layer = [&] {
    return HiddenLayer::from_parameters(layer.config(), qw.w_hat, qw.bias, layer.rbf_gamma());
  };
  if (needs.resolve) {
    // lambda: the model's (times lambda_scale), or chosen as ElmModel::fit would.
    const bool fresh = src.beta.size() == 0;
    Solved s = solve_on_layer(src.config, layer_scaler, quantized_layer(), *data,
                              fresh ? -1.0 : lambda, fresh ? cfg.lambda_scale : 1.0, true);
    beta = std::move(s.beta);
    lambda = s.lambda;
    stats = std::move(s.stats);
    info.beta_resolved = !fresh;
  } else {
    if (src.stats && (qw.exact || data == nullptr)) {
      stats = std::move(src.stats);  // (also just to report the losses)
    } else if (needs.statistics) {
      // Statistics of the layer as the quantized model computes it.
      stats = solve_on_layer(src.config, layer_scaler, quantized_layer(), *data, lambda, 1.0, false)
                  .stats;
    }
    if (cfg.lambda_scale != 1.0) {
      beta = solve_ridge(stats->gram(), stats->hty(), lambda).cast<float>();
      info.beta_resolved = true;
    }
  }
  info.lambda = lambda;
  info.solve_seconds = seconds_since(t0);

  // 3. beta^T (C x L).
  t0 = std::chrono::steady_clock::now();
  const RowMatrixXf beta_t = beta.transpose();
  QuantizedTensor bq;
  RowMatrixXd hessian;
  if (stats) {
    hessian = stats->gram();
    hessian.diagonal().array() += lambda;
    const RowMatrixXd beta_d = beta.cast<double>();
    info.ridge_objective = squared_error_from_stats(*stats, beta_d) + lambda * beta_d.squaredNorm();
  }
  if (cfg.beta_method == QuantMethod::kGptq) {
    GptqOptions go = cfg.gptq;
    go.range = cfg.beta_range;
    go.threads = cfg.threads;
    GptqResult r = gptq_quantize(beta_t, hessian, cfg.beta_format, go);
    bq = std::move(r.tensor);
    info.beta_loss = r.total_loss();
    info.beta_rtn_loss = r.rtn_loss.sum();
    info.gptq_rtn_rows = r.rtn_rows;
    info.gptq_damp = r.damp;
  } else {
    bq = QuantizedTensor::quantize(beta_t, cfg.beta_format, cfg.beta_range, threads);
    if (stats) info.beta_loss = quadratic_loss(beta_t, bq.dequantize(), hessian).sum();
  }
  info.beta_seconds = seconds_since(t0);
  QuantizedElm m = QuantizedElm::from_parts(
      src.task, *src.scaler, layer.config(), std::move(qw.q), std::move(qw.bias), layer.rbf_gamma(),
      std::move(bq), src.classes, cfg.input, cfg.hidden, src.config.proba_temperature, info);
  m.set_threads(cfg.threads);
  return m;
}

Source source_of(const ElmModel& model, const char* where) {
  ELMQ_CHECK_ARG(model.fitted(), where, ": the model is not fitted");
  Source src;
  src.config = model.config();
  src.task = model.task();
  src.scaler = &model.scaler();
  src.layer = &model.hidden();
  src.beta = model.beta();
  src.classes = model.classes();
  src.lambda = model.lambda();
  if (model.has_training_state()) src.stats = model.training_stats();
  return src;
}

}  // namespace

ElmQuantNeeds quantization_needs(const ElmModel& model, const ElmQuantConfig& config) {
  const char* where = "quantization_needs";
  config.validate();
  ELMQ_CHECK_ARG(model.fitted(), where, ": the model is not fitted");
  const QuantizedW qw = quantize_w(model.scaler(), model.hidden(), config, where);
  return needs_of(qw.exact, true, model.has_training_state(), config);
}

QuantizedElm quantize_elm(const ElmModel& model, const ElmQuantConfig& config) {
  return quantize_source(source_of(model, "quantize_elm"), config, nullptr, "quantize_elm");
}

QuantizedElm quantize_elm(const ElmModel& model, const ElmQuantConfig& config,
                          const ConstMatrixRef& x, const ConstLabelRef& labels,
                          const ConstVectorRef& sample_weight) {
  const char* where = "quantize_elm";
  Source src = source_of(model, where);
  ELMQ_CHECK_ARG(model.task() == Task::kClassification, where, ": labels given for a ",
                 task_name(model.task()), " model (use quantize_elm_targets)");
  check_data(x, labels.size(), sample_weight, model.n_features(), where);
  const TrainData data = classification_data(x, labels, sample_weight, model.classes(),
                                             model.config().class_weight, where);
  return quantize_source(std::move(src), config, &data, where);
}

QuantizedElm quantize_elm_targets(const ElmModel& model, const ElmQuantConfig& config,
                                  const ConstMatrixRef& x, const ConstMatrixRef& targets,
                                  const ConstVectorRef& sample_weight) {
  const char* where = "quantize_elm_targets";
  Source src = source_of(model, where);
  ELMQ_CHECK_ARG(model.task() != Task::kClassification, where,
                 ": the model is a classifier (pass labels to quantize_elm)");
  check_data(x, targets.rows(), sample_weight, model.n_features(), where);
  ELMQ_CHECK_ARG(targets.cols() == model.n_outputs(), where, ": targets have ", targets.cols(),
                 " columns, the model has ", model.n_outputs(), " outputs");
  check_finite(targets, where, "targets");
  const TrainData data{x, targets, sample_weight};
  return quantize_source(std::move(src), config, &data, where);
}

QuantizedElm fit_quantized_elm(const ElmConfig& elm, const ElmQuantConfig& config,
                               const ConstMatrixRef& x, const ConstLabelRef& labels,
                               const ConstVectorRef& sample_weight) {
  const char* where = "fit_quantized_elm";
  elm.validate();
  config.validate();
  ELMQ_CHECK_ARG(x.rows() >= 1 && x.cols() >= 1, where, ": X is ", x.rows(), " x ", x.cols(),
                 ", needs at least one row and one column");
  check_data(x, labels.size(), sample_weight, x.cols(), where);
  std::vector<std::int64_t> u(labels.data(), labels.data() + labels.size());
  std::sort(u.begin(), u.end());
  u.erase(std::unique(u.begin(), u.end()), u.end());
  ELMQ_CHECK_ARG(u.size() >= 2 && u.size() <= 100000, where, ": y holds ", u.size(),
                 " distinct classes, expected 2..100000");
  const LabelVector classes = Eigen::Map<const LabelVector>(u.data(), static_cast<Index>(u.size()));
  // The scaler and the layer exactly as ElmModel::fit draws them.
  Scaler scaler(elm.scaling);
  scaler.fit(x);
  RowMatrixXf centres;
  if (elm.hidden.has_rbf()) {
    centres = scaler.transform(x.topRows(std::min(x.rows(), kRbfCentreRows)));
  }
  const HiddenLayer layer = HiddenLayer::create(elm.hidden, x.cols(), centres, scaler.scaled_rms());
  const TrainData data =
      classification_data(x, labels, sample_weight, classes, elm.class_weight, where);
  Source src;
  src.config = elm;
  src.task = Task::kClassification;
  src.scaler = &scaler;
  src.layer = &layer;
  src.classes = classes;
  return quantize_source(std::move(src), config, &data, where);
}

}  // namespace elmq
