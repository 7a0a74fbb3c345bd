#include "quant/elm/quantized_elm.h"

#include <algorithm>
#include <cmath>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/serialize.h"

namespace elmq {

namespace {
constexpr std::uint32_t kQuantizedElmFileVersion = 1;
constexpr Index kPredictRows = 256;  // rows per prediction task, as ElmModel
constexpr std::size_t kGroupFields = 7;

bool bounded_unit(Activation a) {  // values in [0, 1]
  return a == Activation::kSigmoid || a == Activation::kRbf;
}
bool bounded_symmetric(Activation a) {  // values in [-1, 1]
  return bounded_unit(a) || a == Activation::kTanh || a == Activation::kSin;
}
}  // namespace

const char* quant_method_name(QuantMethod m) {
  switch (m) {
    case QuantMethod::kRtn:
      return "rtn";
    case QuantMethod::kGptq:
      return "gptq";
  }
  return "unknown";
}

QuantMethod parse_quant_method(const std::string& name) {
  if (name == "rtn") return QuantMethod::kRtn;
  if (name == "gptq") return QuantMethod::kGptq;
  throw InvalidArgument(str_cat("unknown quantization method '", name, "' (known: rtn, gptq)"));
}

const char* input_quant_name(InputQuant q) {
  switch (q) {
    case InputQuant::kDynamic:
      return "dynamic";
    case InputQuant::kUint8:
      return "uint8";
  }
  return "unknown";
}

const char* hidden_quant_name(HiddenQuant q) {
  switch (q) {
    case HiddenQuant::kDynamic:
      return "dynamic";
    case HiddenQuant::kStatic:
      return "static";
  }
  return "unknown";
}

InputQuant parse_input_quant(const std::string& name) {
  if (name == "dynamic") return InputQuant::kDynamic;
  if (name == "uint8") return InputQuant::kUint8;
  throw InvalidArgument(str_cat("unknown input quantization '", name, "' (known: dynamic, uint8)"));
}

HiddenQuant parse_hidden_quant(const std::string& name) {
  if (name == "dynamic") return HiddenQuant::kDynamic;
  if (name == "static" || name == "int8") return HiddenQuant::kStatic;
  throw InvalidArgument(
      str_cat("unknown activation quantization '", name, "' (known: dynamic, static (int8))"));
}

// ---------------------------------------------------------------- assembly

QuantizedElm QuantizedElm::from_parts(Task task, Scaler scaler, HiddenLayerConfig hidden,
                                      QuantizedTensor w, VectorXf bias, VectorXf rbf_gamma,
                                      QuantizedTensor beta_t, LabelVector classes, InputQuant input,
                                      HiddenQuant hidden_quant, float proba_temperature,
                                      ElmQuantInfo info) {
  const char* where = "QuantizedElm::from_parts";
  ELMQ_CHECK_ARG(static_cast<std::uint32_t>(task) <= 2, where, ": unknown task ",
                 static_cast<std::uint32_t>(task));
  hidden.validate();
  const Index L = hidden.n_neurons();
  ELMQ_CHECK_ARG(w.rows() == L && w.cols() >= 1, where, ": W is ", w.rows(), " x ", w.cols(),
                 ", the hidden layer has ", L, " neurons");
  ELMQ_CHECK_ARG(scaler.fitted() && scaler.n_features() == w.cols(), where, ": the scaler has ",
                 scaler.n_features(), " features, W has ", w.cols(), " columns");
  ELMQ_CHECK_ARG(bias.size() == L && bias.allFinite(), where, ": bias has ", bias.size(),
                 " entries (finite values expected), the layer has ", L, " neurons");
  ELMQ_CHECK_ARG(rbf_gamma.size() == L && rbf_gamma.allFinite() && (rbf_gamma.array() >= 0).all(),
                 where, ": rbf_gamma has ", rbf_gamma.size(), " entries, expected ", L,
                 " finite values >= 0");
  ELMQ_CHECK_ARG(beta_t.cols() == L && beta_t.rows() >= 1, where, ": beta^T is ", beta_t.rows(),
                 " x ", beta_t.cols(), ", expected C x ", L);
  if (task == Task::kClassification) {
    ELMQ_CHECK_ARG(classes.size() == beta_t.rows() && classes.size() >= 2, where, ": ",
                   classes.size(), " classes for ", beta_t.rows(), " outputs");
    for (Index i = 1; i < classes.size(); ++i) {
      ELMQ_CHECK_ARG(classes[i] > classes[i - 1], where, ": classes must be sorted and distinct");
    }
  } else {
    ELMQ_CHECK_ARG(classes.size() == 0, where, ": classes given for a ", task_name(task), " model");
  }
  ELMQ_CHECK_ARG(input == InputQuant::kDynamic || input == InputQuant::kUint8, where,
                 ": unknown input quantization ", static_cast<std::uint32_t>(input));
  ELMQ_CHECK_ARG(hidden_quant == HiddenQuant::kDynamic || hidden_quant == HiddenQuant::kStatic,
                 where, ": unknown activation quantization ",
                 static_cast<std::uint32_t>(hidden_quant));
  ELMQ_CHECK_ARG(input != InputQuant::kUint8 || !hidden.has_rbf(), where,
                 ": uint8 inputs need the scaler folded into W, which RBF neurons do not allow");
  if (hidden_quant == HiddenQuant::kStatic) {
    for (const NeuronGroup& g : hidden.groups) {
      ELMQ_CHECK_ARG(bounded_symmetric(g.activation), where,
                     ": static activation quantization "
                     "needs bounded activations (sigmoid, tanh, sin, rbf), the layer has ",
                     activation_name(g.activation));
    }
  }
  ELMQ_CHECK_ARG(std::isfinite(proba_temperature) && proba_temperature > 0.0f, where,
                 ": proba_temperature must be > 0, got ", proba_temperature);
  ELMQ_CHECK_ARG(std::isfinite(info.lambda) && info.lambda >= 0.0, where,
                 ": info.lambda must be >= 0, got ", info.lambda);
  QuantizedElm m;
  m.task_ = task;
  m.scaler_ = std::move(scaler);
  m.hidden_ = std::move(hidden);
  m.w_ = std::move(w);
  m.bias_ = std::move(bias);
  m.rbf_gamma_ = std::move(rbf_gamma);
  m.beta_t_ = std::move(beta_t);
  m.classes_ = std::move(classes);
  m.input_ = input;
  m.hidden_quant_ = hidden_quant;
  m.proba_temperature_ = proba_temperature;
  m.info_ = info;
  m.prepare();
  return m;
}

void QuantizedElm::prepare() {
  has_rbf_ = hidden_.has_rbf();
  if (has_rbf_) {
    // Same expression as HiddenLayer::from_parameters on the dequantized centres.
    const RowMatrixXf wf = w_.dequantize();
    centre_sq_norms_ = wf.rowwise().squaredNorm();
  } else {
    centre_sq_norms_.resize(0);
  }
  input_opt_ = QGemmOptions();
  input_opt_.threads = 1;
  if (input_ == InputQuant::kUint8) {
    // u = clamp(nearbyint(x) + 0, 0, 255): exact for byte-valued inputs.
    input_opt_.activations.mode = ActivationQuant::Mode::kStaticAsymmetric;
    input_opt_.activations.scale = 1.0f;
    input_opt_.activations.zero_point = 0;
  }
  hidden_opt_ = QGemmOptions();
  hidden_opt_.threads = 1;
  hidden_act_ = ActivationQuant();
  if (hidden_quant_ == HiddenQuant::kStatic) {
    const bool unit = std::all_of(hidden_.groups.begin(), hidden_.groups.end(),
                                  [](const NeuronGroup& g) { return bounded_unit(g.activation); });
    hidden_act_ = ActivationQuant::calibrated(unit ? 0.0f : -1.0f, 1.0f, /*asymmetric=*/unit);
  }
  hidden_opt_.activations = hidden_act_;
}

void QuantizedElm::set_threads(int threads) {
  ELMQ_CHECK_ARG(threads >= 0, "QuantizedElm::set_threads: threads must be >= 0, got ", threads);
  threads_ = threads;
}

void QuantizedElm::set_row_threads(int threads) {
  ELMQ_CHECK_ARG(threads >= 0,
                 "QuantizedElm::set_row_threads: threads must be >= 0 (0 = all cores), got ",
                 threads);
  row_threads_ = threads;
}

// ---------------------------------------------------------------- prediction

void QuantizedElm::check_input(const ConstMatrixRef& x, const char* where) const {
  ELMQ_CHECK_ARG(fitted(), where, ": the model is not fitted");
  ELMQ_CHECK_ARG(x.cols() == n_features(), where, ": X has ", x.cols(), " columns, model expects ",
                 n_features());
  check_finite(x, where, "X");
}

void QuantizedElm::require_task(Task t, const char* where) const {
  ELMQ_CHECK_ARG(task_ == t, where, ": the model was trained for ", task_name(task_), ", not ",
                 task_name(t));
}

void QuantizedElm::activate(MatrixRef z, const ConstVectorRef& x_sq) const {
  // The expressions of HiddenLayer::activate, so that float weights give the
  // same activations as the FP32 model.
  Index first = 0;
  for (const NeuronGroup& g : hidden_.groups) {
    auto block = z.middleCols(first, g.count);
    auto a = block.array();
    switch (g.activation) {
      case Activation::kSigmoid:
        a = 0.5f + 0.5f * (0.5f * a).tanh();
        break;
      case Activation::kTanh:
        a = a.tanh();
        break;
      case Activation::kRelu:
        a = a.max(0.0f);
        break;
      case Activation::kSin:
        a = a.sin();
        break;
      case Activation::kLinear:
        break;
      case Activation::kRbf: {
        const auto gamma = rbf_gamma_.segment(first, g.count).transpose().array();
        const auto csq = centre_sq_norms_.segment(first, g.count).transpose().array();
        for (Index i = 0; i < block.rows(); ++i) {
          auto row = block.row(i).array();
          row = (-(gamma * ((x_sq[i] - 2.0f * row + csq).max(0.0f)))).exp();
        }
        break;
      }
    }
    first += g.count;
  }
}

void QuantizedElm::forward_block(const ConstMatrixRef& x, MatrixRef out, bool reference) const {
  const Index m = x.rows(), L = n_hidden();
  RowMatrixXf xs;
  if (input_ == InputQuant::kDynamic) {
    xs.resize(m, x.cols());
    scaler_.transform(x, xs);
  }
  const ConstMatrixRef xin = input_ == InputQuant::kDynamic ? ConstMatrixRef(xs) : x;
  RowMatrixXf z(m, L);
  VectorXf x_sq;
  if (has_rbf_) x_sq = xin.rowwise().squaredNorm();
  if (reference) {
    qgemm_dequantized(xin, w_, bias_.data(), z, 1);
    activate(z, x_sq);
    qgemm_dequantized(z, beta_t_, nullptr, out, 1);
  } else {
    qgemm(xin, w_, bias_.data(), z, input_opt_);
    activate(z, x_sq);
    qgemm(z, beta_t_, nullptr, out, hidden_opt_);
  }
}

void QuantizedElm::decision_function(const ConstMatrixRef& x, MatrixRef out) const {
  check_input(x, "QuantizedElm::decision_function");
  ELMQ_CHECK_ARG(out.rows() == x.rows() && out.cols() == n_outputs(),
                 "QuantizedElm::decision_function: output is ", out.rows(), " x ", out.cols(),
                 ", expected ", x.rows(), " x ", n_outputs());
  parallel_for_range(x.rows(), kPredictRows, resolve_threads(threads_), [&](Index b, Index e) {
    forward_block(x.middleRows(b, e - b), out.middleRows(b, e - b), false);
    check_finite_result(out.middleRows(b, e - b), b, "QuantizedElm::decision_function",
                        "decisions");
  });
}

RowMatrixXf QuantizedElm::decision_function(const ConstMatrixRef& x) const {
  RowMatrixXf out(x.rows(), fitted() ? n_outputs() : 0);
  decision_function(x, out);
  return out;
}

RowMatrixXf QuantizedElm::decision_function_reference(const ConstMatrixRef& x) const {
  check_input(x, "QuantizedElm::decision_function_reference");
  RowMatrixXf out(x.rows(), n_outputs());
  // Dequantizing per block would repeat it for every block: one block per thread instead.
  const int threads = resolve_threads(threads_);
  const Index grain = std::max<Index>(kPredictRows, (x.rows() + threads - 1) / threads);
  parallel_for_range(x.rows(), grain, threads, [&](Index b, Index e) {
    forward_block(x.middleRows(b, e - b), out.middleRows(b, e - b), true);
    check_finite_result(out.middleRows(b, e - b), b, "QuantizedElm::decision_function_reference",
                        "decisions");
  });
  return out;
}

RowMatrixXf QuantizedElm::hidden_activations(const ConstMatrixRef& x) const {
  check_input(x, "QuantizedElm::hidden_activations");
  RowMatrixXf h(x.rows(), n_hidden());
  parallel_for_range(x.rows(), kPredictRows, resolve_threads(threads_), [&](Index b, Index e) {
    const Index m = e - b;
    RowMatrixXf xs;
    if (input_ == InputQuant::kDynamic) xs = scaler_.transform(x.middleRows(b, m));
    const ConstMatrixRef xin =
        input_ == InputQuant::kDynamic ? ConstMatrixRef(xs) : ConstMatrixRef(x.middleRows(b, m));
    auto hb = h.middleRows(b, m);
    qgemm(xin, w_, bias_.data(), hb, input_opt_);
    VectorXf x_sq;
    if (has_rbf_) x_sq = xin.rowwise().squaredNorm();
    activate(hb, x_sq);
  });
  return h;
}

LabelVector QuantizedElm::predict(const ConstMatrixRef& x) const {
  require_task(Task::kClassification, "QuantizedElm::predict");
  const RowMatrixXf d = decision_function(x);
  LabelVector labels(d.rows());
  for (Index i = 0; i < d.rows(); ++i) {
    Index c;
    d.row(i).maxCoeff(&c);
    labels[i] = classes_[c];
  }
  return labels;
}

RowMatrixXf QuantizedElm::predict_proba(const ConstMatrixRef& x) const {
  require_task(Task::kClassification, "QuantizedElm::predict_proba");
  RowMatrixXf p = decision_function(x);
  const float inv_t = 1.0f / proba_temperature_;
  for (Index i = 0; i < p.rows(); ++i) {
    auto row = p.row(i).array();
    const float m = row.maxCoeff();
    row = ((row - m) * inv_t).exp();
    row /= row.sum();
  }
  return p;
}

RowMatrixXf QuantizedElm::predict_multilabel(const ConstMatrixRef& x) const {
  require_task(Task::kMultilabel, "QuantizedElm::predict_multilabel");
  return (decision_function(x).array() > 0.5f).cast<float>();
}

RowMatrixXf QuantizedElm::predict_regression(const ConstMatrixRef& x) const {
  require_task(Task::kRegression, "QuantizedElm::predict_regression");
  return decision_function(x);
}

double QuantizedElm::score(const ConstMatrixRef& x, const ConstLabelRef& labels) const {
  ELMQ_CHECK_ARG(labels.size() == x.rows(), "QuantizedElm::score: X has ", x.rows(),
                 " rows but y has ", labels.size());
  ELMQ_CHECK_ARG(x.rows() >= 1, "QuantizedElm::score: X is empty");
  const LabelVector p = predict(x);
  return static_cast<double>((p.array() == labels.array()).count()) / static_cast<double>(x.rows());
}

double QuantizedElm::score_regression(const ConstMatrixRef& x, const ConstMatrixRef& y) const {
  ELMQ_CHECK_ARG(y.rows() == x.rows() && y.cols() == n_outputs(),
                 "QuantizedElm::score_regression: y is ", y.rows(), " x ", y.cols(), ", expected ",
                 x.rows(), " x ", n_outputs());
  ELMQ_CHECK_ARG(x.rows() >= 1, "QuantizedElm::score_regression: X is empty");
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

void QuantizedElm::decision_row(const float* x, float* out, PredictWorkspace& ws) const {
  ELMQ_CHECK_ARG(fitted(), "QuantizedElm::decision_row: the model is not fitted");
  const Index d = n_features(), L = n_hidden();
  const float* xin = x;
  if (input_ == InputQuant::kDynamic) {
    if (ws.scaled.size() != d) ws.scaled.resize(d);
    scaler_.transform_row(x, ws.scaled.data());
    xin = ws.scaled.data();
  }
  if (ws.hidden.size() != L) ws.hidden.resize(L);
  const Eigen::Map<const RowMatrixXf> x_row(xin, 1, d);
  Eigen::Map<RowMatrixXf> h_row(ws.hidden.data(), 1, L);
  QGemmOptions opt = input_opt_;  // one thread unless the row is split
  if (row_threads_ != 1 && L * d >= kMinRowSplitWork) opt.threads = row_threads_;
  qgemm(x_row, w_, bias_.data(), h_row, opt);  // checks that x is finite
  float x_sq = 0.0f;
  if (has_rbf_) x_sq = x_row.squaredNorm();
  activate(h_row, Eigen::Map<const VectorXf>(&x_sq, 1));
  Eigen::Map<RowMatrixXf> out_row(out, 1, n_outputs());
  qgemm(h_row, beta_t_, nullptr, out_row, hidden_opt_);
  check_finite_result(out_row, 0, "QuantizedElm::decision_row", "decisions");
}

std::int64_t QuantizedElm::predict_row(const float* x, PredictWorkspace& ws, float* scores) const {
  require_task(Task::kClassification, "QuantizedElm::predict_row");
  decision_row(x, scores, ws);
  Index best = 0;
  for (Index c = 1; c < n_outputs(); ++c) {
    if (scores[c] > scores[best]) best = c;
  }
  return classes_[best];
}

// ---------------------------------------------------------------- size

std::uint64_t QuantizedElm::bytes() const {
  if (!fitted()) return 0;
  const auto L = static_cast<std::uint64_t>(n_hidden());
  const auto d = static_cast<std::uint64_t>(n_features());
  return w_.bytes() + beta_t_.bytes() + 4 * L + (has_rbf_ ? 4 * L : 0) + 8 * d;
}

std::int64_t QuantizedElm::n_parameters() const {
  if (!fitted()) return 0;
  const Index L = n_hidden(), d = n_features(), c = n_outputs();
  return L * d + c * L + L + (has_rbf_ ? L : 0) + 2 * d;
}

std::uint64_t QuantizedElm::fp32_bytes() const {
  return 4 * static_cast<std::uint64_t>(n_parameters());
}

double QuantizedElm::bits_per_weight() const {
  const std::int64_t n = n_parameters();
  return n > 0 ? 8.0 * static_cast<double>(bytes()) / static_cast<double>(n) : 0.0;
}

// ---------------------------------------------------------------- files

namespace {
constexpr std::uint32_t kTagTask = tag("TASK");
constexpr std::uint32_t kTagScaler = tag("SCLR");
constexpr std::uint32_t kTagSeed = tag("SEED");
constexpr std::uint32_t kTagGroups = tag("GRPS");
constexpr std::uint32_t kTagW = tag("WQNT");
constexpr std::uint32_t kTagBias = tag("BIAS");
constexpr std::uint32_t kTagGamma = tag("GAMA");
constexpr std::uint32_t kTagBeta = tag("BQNT");
constexpr std::uint32_t kTagClasses = tag("CLSS");
constexpr std::uint32_t kTagInput = tag("INPQ");
constexpr std::uint32_t kTagHidden = tag("HIDQ");
constexpr std::uint32_t kTagTemperature = tag("TEMP");
constexpr std::uint32_t kTagMethod = tag("QMTH");
constexpr std::uint32_t kTagInfo = tag("INFO");
constexpr std::uint32_t kTagBytes = tag("BYTE");
constexpr std::size_t kInfoFields = 9;
}  // namespace

std::string QuantizedElm::to_bytes() const {
  ELMQ_CHECK_ARG(fitted(), "QuantizedElm::save: the model is not fitted");
  RecordWriter w;
  w.put_u64(kTagTask, static_cast<std::uint64_t>(task_));
  RecordWriter sw;
  scaler_.save(sw);
  w.put_nested(kTagScaler, sw);
  w.put_u64(kTagSeed, hidden_.seed);
  std::vector<double> groups;
  for (const auto& g : hidden_.groups) {
    groups.insert(groups.end(), {static_cast<double>(g.count), static_cast<double>(g.activation),
                                 static_cast<double>(g.init), g.weight_scale, g.bias_scale,
                                 g.ternary_density, g.rbf_width});
  }
  w.put_f64_array(kTagGroups, groups.data(), groups.size());
  RecordWriter ww;
  w_.save(ww);
  w.put_nested(kTagW, ww);
  w.put_f32_array(kTagBias, bias_.data(), static_cast<std::size_t>(bias_.size()));
  w.put_f32_array(kTagGamma, rbf_gamma_.data(), static_cast<std::size_t>(rbf_gamma_.size()));
  RecordWriter bw;
  beta_t_.save(bw);
  w.put_nested(kTagBeta, bw);
  w.put_i64_array(kTagClasses, classes_.data(), static_cast<std::size_t>(classes_.size()));
  w.put_u64(kTagInput, static_cast<std::uint64_t>(input_));
  w.put_u64(kTagHidden, static_cast<std::uint64_t>(hidden_quant_));
  w.put_f64(kTagTemperature, proba_temperature_);
  w.put_u64(kTagMethod, static_cast<std::uint64_t>(info_.beta_method));
  const double info[kInfoFields] = {info_.w_exact ? 1.0 : 0.0,
                                    info_.beta_resolved ? 1.0 : 0.0,
                                    info_.lambda,
                                    info_.w_relative_error,
                                    info_.beta_loss,
                                    info_.beta_rtn_loss,
                                    info_.ridge_objective,
                                    static_cast<double>(info_.gptq_rtn_rows),
                                    info_.gptq_damp};
  w.put_f64_array(kTagInfo, info, kInfoFields);
  w.put_u64(kTagBytes, bytes());
  return w.finish(FileKind::kQuantizedElm, kQuantizedElmFileVersion);
}

QuantizedElm QuantizedElm::from_bytes(std::string_view bytes) {
  RecordReader r(bytes, FileKind::kQuantizedElm, kQuantizedElmFileVersion);
  const std::uint64_t task = r.get_u64(kTagTask);
  if (task > 2) r.fail(str_cat("unknown task ", task));
  Scaler scaler = Scaler::load(r.nested(kTagScaler));
  HiddenLayerConfig hidden;
  hidden.seed = r.get_u64(kTagSeed);
  const std::vector<double> groups = r.get_f64_array(kTagGroups);
  if (groups.empty() || groups.size() % kGroupFields != 0) r.fail("neuron groups are malformed");
  hidden.groups.clear();
  for (std::size_t i = 0; i < groups.size(); i += kGroupFields) {
    const double count = groups[i], act = groups[i + 1], init = groups[i + 2];
    if (!(count >= 1 && count <= 1e6 && act >= 0 && act <= 5 && init >= 0 && init <= 2) ||
        count != std::floor(count) || act != std::floor(act) || init != std::floor(init)) {
      r.fail("a neuron group has an invalid count, activation or init");
    }
    NeuronGroup g;
    g.count = static_cast<Index>(count);
    g.activation = static_cast<Activation>(static_cast<std::uint32_t>(act));
    g.init = static_cast<WeightInit>(static_cast<std::uint32_t>(init));
    g.weight_scale = static_cast<float>(groups[i + 3]);
    g.bias_scale = static_cast<float>(groups[i + 4]);
    g.ternary_density = static_cast<float>(groups[i + 5]);
    g.rbf_width = static_cast<float>(groups[i + 6]);
    hidden.groups.push_back(g);
  }
  try {
    hidden.validate();
  } catch (const InvalidArgument& e) {
    r.fail(str_cat("neuron groups are invalid: ", e.what()));
  }
  QuantizedTensor w = QuantizedTensor::load(r.nested(kTagW));
  const std::vector<float> bias = r.get_f32_array(kTagBias);
  const std::vector<float> gamma = r.get_f32_array(kTagGamma);
  QuantizedTensor beta = QuantizedTensor::load(r.nested(kTagBeta));
  const std::vector<std::int64_t> classes = r.get_i64_array(kTagClasses);
  const std::uint64_t input = r.get_u64(kTagInput), hidden_q = r.get_u64(kTagHidden);
  if (input > 1) r.fail(str_cat("unknown input quantization ", input));
  if (hidden_q > 1) r.fail(str_cat("unknown activation quantization ", hidden_q));
  const double temperature = r.get_f64(kTagTemperature);
  const std::uint64_t method = r.get_u64(kTagMethod);
  if (method > 1) r.fail(str_cat("unknown quantization method ", method));
  const std::vector<double> info_v = r.get_f64_array(kTagInfo);
  if (info_v.size() != kInfoFields) {
    r.fail(str_cat("INFO holds ", info_v.size(), " values, expected ", kInfoFields));
  }
  ElmQuantInfo info;
  info.beta_method = static_cast<QuantMethod>(method);
  info.w_exact = info_v[0] != 0.0;
  info.beta_resolved = info_v[1] != 0.0;
  info.lambda = info_v[2];
  info.w_relative_error = info_v[3];
  info.beta_loss = info_v[4];
  info.beta_rtn_loss = info_v[5];
  info.ridge_objective = info_v[6];
  if (!(info_v[7] >= 0.0 && info_v[7] <= 1e12)) r.fail("INFO holds an invalid row count");
  info.gptq_rtn_rows = static_cast<std::int64_t>(info_v[7]);
  info.gptq_damp = info_v[8];
  if (!(std::isfinite(temperature) && temperature > 0.0 && temperature < 1e30)) {
    r.fail(str_cat("probability temperature ", temperature, " is not > 0"));
  }
  QuantizedElm m = [&] {
    try {
      return from_parts(
          static_cast<Task>(task), std::move(scaler), std::move(hidden), std::move(w),
          Eigen::Map<const VectorXf>(bias.data(), static_cast<Index>(bias.size())),
          Eigen::Map<const VectorXf>(gamma.data(), static_cast<Index>(gamma.size())),
          std::move(beta),
          Eigen::Map<const LabelVector>(classes.data(), static_cast<Index>(classes.size())),
          static_cast<InputQuant>(input), static_cast<HiddenQuant>(hidden_q),
          static_cast<float>(temperature), info);
    } catch (const InvalidArgument& e) {
      r.fail(str_cat("model is inconsistent: ", e.what()));
    }
  }();
  const std::uint64_t stored_bytes = r.get_u64(kTagBytes);
  if (stored_bytes != m.bytes()) {
    r.fail(str_cat("BYTE records ", stored_bytes, " bytes of parameters, the model holds ",
                   m.bytes()));
  }
  return m;
}

void QuantizedElm::save(const std::string& path) const { write_file_bytes(path, to_bytes()); }

QuantizedElm QuantizedElm::load(const std::string& path) {
  return from_bytes(read_file_bytes(path));
}

}  // namespace elmq
