#include "quant/mlp/quantized_mlp.h"

#include <chrono>
#include <cmath>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/serialize.h"
#include "quant/mlp/detail/backprop.h"
#include "quant/mlp/detail/mlp_io.h"

namespace elmq {

namespace {
constexpr std::uint32_t kQuantizedMlpFileVersion = 1;
constexpr int kMaxLayers = 65;
// Rows per prediction task (as the FP32 model's mlp_forward).
constexpr Index kPredictRows = 64;
}  // namespace

const char* weight_quant_method_name(WeightQuantMethod m) {
  switch (m) {
    case WeightQuantMethod::kRtn:
      return "rtn";
    case WeightQuantMethod::kGptq:
      return "gptq";
    case WeightQuantMethod::kAwq:
      return "awq";
    case WeightQuantMethod::kQat:
      return "qat";
  }
  return "unknown";
}

WeightQuantMethod parse_weight_quant_method(const std::string& name) {
  if (name == "rtn") return WeightQuantMethod::kRtn;
  if (name == "gptq") return WeightQuantMethod::kGptq;
  if (name == "awq") return WeightQuantMethod::kAwq;
  throw InvalidArgument(str_cat("parse_weight_quant_method: unknown method '", name,
                                "' (known: rtn, gptq, awq; QAT is a training command)"));
}

const char* activation_scheme_name(ActivationScheme s) {
  switch (s) {
    case ActivationScheme::kDynamic:
      return "dynamic";
    case ActivationScheme::kStatic:
      return "static";
  }
  return "unknown";
}

ActivationScheme parse_activation_scheme(const std::string& name) {
  if (name == "dynamic") return ActivationScheme::kDynamic;
  if (name == "static") return ActivationScheme::kStatic;
  throw InvalidArgument(
      str_cat("parse_activation_scheme: unknown scheme '", name, "' (known: dynamic, static)"));
}

void MlpQuantConfig::validate() const {
  ELMQ_CHECK_ARG(is_known_format(static_cast<std::uint32_t>(format)),
                 "MlpQuantConfig: format has the unknown value ",
                 static_cast<std::uint32_t>(format));
  for (std::size_t i = 0; i < layer_formats.size(); ++i) {
    ELMQ_CHECK_ARG(is_known_format(static_cast<std::uint32_t>(layer_formats[i])),
                   "MlpQuantConfig: layer_formats[", i, "] has the unknown value ",
                   static_cast<std::uint32_t>(layer_formats[i]));
  }
  ELMQ_CHECK_ARG(method == WeightQuantMethod::kRtn || method == WeightQuantMethod::kGptq ||
                     method == WeightQuantMethod::kAwq,
                 "MlpQuantConfig: method must be rtn, gptq or awq (QAT is qat_finetune), got ",
                 weight_quant_method_name(method));
  if (method != WeightQuantMethod::kRtn) {
    std::vector<QuantFormat> all = layer_formats;
    if (all.empty()) all.push_back(format);
    for (QuantFormat f : all) {
      ELMQ_CHECK_ARG(!format_traits(f).is_float, "MlpQuantConfig: method ",
                     weight_quant_method_name(method), " needs integer formats, got ",
                     format_name(f));
    }
  }
  try {
    range.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(str_cat("MlpQuantConfig: range: ", e.what()));
  }
  ELMQ_CHECK_ARG(range.importance.size() == 0,
                 "MlpQuantConfig: range.importance must be empty (layers differ in width)");
  try {
    gptq.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(str_cat("MlpQuantConfig: gptq: ", e.what()));
  }
  awq.validate();
  ELMQ_CHECK_ARG(awq.range.importance.size() == 0,
                 "MlpQuantConfig: awq.range.importance must be empty");
  ELMQ_CHECK_ARG(
      activations == ActivationScheme::kDynamic || activations == ActivationScheme::kStatic,
      "MlpQuantConfig: activations must be dynamic or static, got ",
      static_cast<std::uint32_t>(activations));
  calibration.validate();
  ELMQ_CHECK_ARG(threads >= 0, "MlpQuantConfig: threads must be >= 0 (0 = all cores), got ",
                 threads);
}

bool MlpQuantConfig::needs_calibration() const {
  return method != WeightQuantMethod::kRtn || activations == ActivationScheme::kStatic;
}

// ---------------------------------------------------------------- the model

QuantizedMlp QuantizedMlp::from_parts(VectorXf input_offset, VectorXf input_scale,
                                      std::vector<QuantizedMlpLayer> layers, LabelVector classes,
                                      MlpQuantInfo info, int threads) {
  const char* where = "QuantizedMlp::from_parts";
  ELMQ_CHECK_ARG(!layers.empty() && layers.size() <= static_cast<std::size_t>(kMaxLayers), where,
                 ": need 1 to ", kMaxLayers, " layers, got ", layers.size());
  ELMQ_CHECK_ARG(input_offset.size() >= 1 && input_scale.size() == input_offset.size(), where,
                 ": input_offset has ", input_offset.size(), " entries, input_scale has ",
                 input_scale.size());
  ELMQ_CHECK_ARG(input_offset.allFinite() && input_scale.allFinite(), where,
                 ": input_offset and input_scale must be finite");
  Index prev = input_offset.size();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const QuantizedMlpLayer& q = layers[l];
    ELMQ_CHECK_ARG(q.weights.rows() >= 1 && q.weights.cols() == prev, where, ": layer ", l,
                   " weights are ", q.weights.rows(), " x ", q.weights.cols(), ", expected ? x ",
                   prev);
    ELMQ_CHECK_ARG(q.bias.size() == q.weights.rows() && q.bias.allFinite(), where, ": layer ", l,
                   " has ", q.bias.size(), " biases for ", q.weights.rows(),
                   " outputs (must be finite)");
    try {
      q.input_quant.validate();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(str_cat(where, ": layer ", l, " input_quant: ", e.what()));
    }
    prev = q.weights.rows();
  }
  ELMQ_CHECK_ARG(classes.size() == prev && classes.size() >= 2, where, ": ", classes.size(),
                 " classes for ", prev, " outputs (need >= 2)");
  for (Index i = 1; i < classes.size(); ++i) {
    ELMQ_CHECK_ARG(classes[i - 1] < classes[i], where, ": classes must be sorted and distinct");
  }
  ELMQ_CHECK_ARG(threads >= 0, where, ": threads must be >= 0, got ", threads);
  QuantizedMlp m;
  m.input_offset_ = std::move(input_offset);
  m.input_scale_ = std::move(input_scale);
  m.layers_ = std::move(layers);
  m.classes_ = std::move(classes);
  m.info_ = std::move(info);
  m.threads_ = threads;
  return m;
}

void QuantizedMlp::set_threads(int threads) {
  ELMQ_CHECK_ARG(threads >= 0, "QuantizedMlp::set_threads: threads must be >= 0, got ", threads);
  threads_ = threads;
}

Index QuantizedMlp::n_weights() const {
  Index n = 0;
  for (const auto& l : layers_) n += l.weights.rows() * l.weights.cols();
  return n;
}

std::uint64_t QuantizedMlp::weight_bytes() const {
  std::uint64_t b = 0;
  for (const auto& l : layers_) b += l.weights.bytes();
  return b;
}

std::uint64_t QuantizedMlp::bytes() const {
  std::uint64_t b = weight_bytes() + 8 * static_cast<std::uint64_t>(input_offset_.size());
  for (const auto& l : layers_) b += 4 * static_cast<std::uint64_t>(l.bias.size());
  return b;
}

double QuantizedMlp::bits_per_weight() const {
  const Index n = n_weights();
  return n > 0 ? 8.0 * static_cast<double>(weight_bytes()) / static_cast<double>(n) : 0.0;
}

std::string QuantizedMlp::describe() const {
  if (empty()) return "empty";
  std::string fmt;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const std::string f = format_name(layers_[l].weights.format());
    if (l == 0) {
      fmt = f;
    } else if (fmt.find(f) == std::string::npos) {
      fmt += "/" + f;
    }
  }
  bool all_float = true;
  for (const auto& l : layers_) all_float = all_float && l.weights.traits().is_float;
  std::string s = fmt + " " + weight_quant_method_name(info_.method);
  if (all_float) return s + ", float activations";
  if (info_.activations == ActivationScheme::kStatic) {
    return s + ", static uint8 activations (" + calibration_method_name(info_.calibration) + ")";
  }
  return s + ", dynamic int8 activations";
}

void QuantizedMlp::check_input(const ConstMatrixRef& x, const char* where) const {
  ELMQ_CHECK_ARG(!empty(), where, ": the model is empty");
  check_shape(x, n_features(), where, "X", false);
  check_finite(x, where, "X");
}

void QuantizedMlp::forward_rows(const ConstMatrixRef& x, MatrixRef out, bool reference,
                                const std::vector<RowMatrixXf>* dequantized) const {
  const Index n = x.rows();
  RowMatrixXf a = (x.rowwise() - input_offset_.transpose()).array().rowwise() *
                  input_scale_.transpose().array();
  RowMatrixXf z;
  QGemmOptions opt;
  opt.threads = 1;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const QuantizedMlpLayer& q = layers_[l];
    z.resize(n, q.weights.rows());
    if (reference) {
      z.noalias() = a * (*dequantized)[l].transpose();
      z.rowwise() += q.bias.transpose();
    } else {
      opt.activations = q.input_quant;
      qgemm(a, q.weights, q.bias.data(), z, opt);
    }
    if (l + 1 < layers_.size()) z = z.cwiseMax(0.0f);
    a.swap(z);
  }
  out = a;
}

int QuantizedMlp::threads_for(Index rows) const {
  std::vector<Index> sizes = {n_features()};
  for (const auto& l : layers_) sizes.push_back(l.weights.rows());
  return detail::threads_for_rows(rows, sizes, resolve_threads(threads_));
}

RowMatrixXf QuantizedMlp::decision_function(const ConstMatrixRef& x) const {
  check_input(x, "QuantizedMlp::decision_function");
  RowMatrixXf out(x.rows(), n_outputs());
  parallel_for_range(x.rows(), kPredictRows, threads_for(x.rows()), [&](Index b, Index e) {
    forward_rows(x.middleRows(b, e - b), out.middleRows(b, e - b), false, nullptr);
    check_finite_result(out.middleRows(b, e - b), b, "QuantizedMlp::decision_function", "logits");
  });
  return out;
}

RowMatrixXf QuantizedMlp::decision_function_reference(const ConstMatrixRef& x) const {
  check_input(x, "QuantizedMlp::decision_function_reference");
  std::vector<RowMatrixXf> deq;
  for (const auto& l : layers_) deq.push_back(l.weights.dequantize());
  RowMatrixXf out(x.rows(), n_outputs());
  parallel_for_range(x.rows(), kPredictRows, threads_for(x.rows()), [&](Index b, Index e) {
    forward_rows(x.middleRows(b, e - b), out.middleRows(b, e - b), true, &deq);
    check_finite_result(out.middleRows(b, e - b), b, "QuantizedMlp::decision_function_reference",
                        "logits");
  });
  return out;
}

LabelVector QuantizedMlp::predict(const ConstMatrixRef& x) const {
  const RowMatrixXf z = decision_function(x);
  LabelVector out(z.rows());
  for (Index i = 0; i < z.rows(); ++i) {
    Index arg;
    z.row(i).maxCoeff(&arg);
    out[i] = classes_[arg];
  }
  return out;
}

RowMatrixXf QuantizedMlp::predict_proba(const ConstMatrixRef& x) const {
  RowMatrixXf z = decision_function(x);
  for (Index i = 0; i < z.rows(); ++i) {
    const float m = z.row(i).maxCoeff();
    z.row(i) = (z.row(i).array() - m).exp();
    z.row(i) /= z.row(i).sum();
  }
  return z;
}

double QuantizedMlp::score(const ConstMatrixRef& x, const ConstLabelRef& labels) const {
  ELMQ_CHECK_ARG(labels.size() == x.rows() && x.rows() >= 1, "QuantizedMlp::score: labels has ",
                 labels.size(), " entries, X has ", x.rows(), " rows (need >= 1)");
  const LabelVector pred = predict(x);
  Index ok = 0;
  for (Index i = 0; i < pred.size(); ++i) ok += pred[i] == labels[i] ? 1 : 0;
  return static_cast<double>(ok) / static_cast<double>(pred.size());
}

void QuantizedMlp::decision_row(const float* x, float* out, QuantizedMlpWorkspace& ws) const {
  ELMQ_CHECK_ARG(!empty(), "QuantizedMlp::decision_row: the model is empty");
  const std::size_t nl = layers_.size();
  if (ws.act.size() != nl || ws.scaled.cols() != n_features()) {
    ws.act.resize(nl);
    for (std::size_t l = 0; l < nl; ++l) ws.act[l].resize(1, layers_[l].weights.rows());
    ws.scaled.resize(1, n_features());
  }
  const Index d = n_features();
  for (Index j = 0; j < d; ++j) ws.scaled(0, j) = (x[j] - input_offset_[j]) * input_scale_[j];
  QGemmOptions opt;
  opt.threads = 1;
  for (std::size_t l = 0; l < nl; ++l) {
    const QuantizedMlpLayer& q = layers_[l];
    opt.activations = q.input_quant;
    const RowMatrixXf& in = l == 0 ? ws.scaled : ws.act[l - 1];
    qgemm(in, q.weights, q.bias.data(), ws.act[l], opt);
    if (l + 1 < nl) ws.act[l] = ws.act[l].cwiseMax(0.0f);
  }
  Eigen::Map<RowMatrixXf>(out, 1, n_outputs()) = ws.act.back();
  check_finite_result(out, n_outputs(), "QuantizedMlp::decision_row", "logits");
}

// ---------------------------------------------------------------- files

namespace {
constexpr std::uint32_t kTagLayers = tag("NLAY");
constexpr std::uint32_t kTagOffset = tag("INOF");
constexpr std::uint32_t kTagScale = tag("INSC");
constexpr std::uint32_t kTagClasses = tag("CLSS");
constexpr std::uint32_t kTagInfo = tag("QINF");
constexpr std::uint32_t kTagLayerError = tag("LERR");
constexpr std::uint32_t kTagAwqAlpha = tag("AWQA");
constexpr std::uint32_t kTagThreads = tag("THRD");
}  // namespace

std::string QuantizedMlp::to_bytes() const {
  ELMQ_CHECK_ARG(!empty(), "QuantizedMlp::save: the model is empty");
  RecordWriter w;
  w.put_u64(kTagLayers, layers_.size());
  w.put_f32_array(kTagOffset, input_offset_.data(), static_cast<std::size_t>(input_offset_.size()));
  w.put_f32_array(kTagScale, input_scale_.data(), static_cast<std::size_t>(input_scale_.size()));
  w.put_i64_array(kTagClasses, classes_.data(), static_cast<std::size_t>(classes_.size()));
  const double info[] = {static_cast<double>(info_.method), static_cast<double>(info_.activations),
                         static_cast<double>(info_.calibration),
                         static_cast<double>(info_.calibration_rows), info_.seconds};
  w.put_f64_array(kTagInfo, info, 5);
  w.put_f64_array(kTagLayerError, info_.layer_error.data(), info_.layer_error.size());
  w.put_f64_array(kTagAwqAlpha, info_.awq_alpha.data(), info_.awq_alpha.size());
  w.put_i64(kTagThreads, threads_);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const int li = static_cast<int>(l);
    RecordWriter tw;
    layers_[l].weights.save(tw);
    w.put_nested(detail::layer_tag('Q', li), tw);
    w.put_f32_array(detail::layer_tag('B', li), layers_[l].bias.data(),
                    static_cast<std::size_t>(layers_[l].bias.size()));
    const ActivationQuant& a = layers_[l].input_quant;
    const double act[] = {static_cast<double>(a.mode), static_cast<double>(a.scale),
                          static_cast<double>(a.zero_point)};
    w.put_f64_array(detail::layer_tag('A', li), act, 3);
  }
  return w.finish(FileKind::kQuantizedMlp, kQuantizedMlpFileVersion);
}

QuantizedMlp QuantizedMlp::from_bytes(std::string_view bytes) {
  RecordReader r(bytes, FileKind::kQuantizedMlp, kQuantizedMlpFileVersion);
  const std::uint64_t n_layers = r.get_u64(kTagLayers);
  if (n_layers < 1 || n_layers > static_cast<std::uint64_t>(kMaxLayers)) {
    r.fail(str_cat("the model has ", n_layers, " layers, expected 1 to ", kMaxLayers));
  }
  const auto off = r.get_f32_array(kTagOffset);
  const auto sc = r.get_f32_array(kTagScale);
  const auto cls = r.get_i64_array(kTagClasses);
  const auto info = r.get_f64_array(kTagInfo);
  if (info.size() != 5) r.fail("the quantization info record is malformed");
  MlpQuantInfo qi;
  if (!(info[0] >= 0 && info[0] <= 3 && info[1] >= 0 && info[1] <= 1 && info[2] >= 0 &&
        info[2] <= 3 && info[3] >= 0 && info[3] < 9.0e15)) {
    r.fail("the quantization info values are out of range");
  }
  qi.method = static_cast<WeightQuantMethod>(static_cast<std::uint32_t>(info[0]));
  qi.activations = static_cast<ActivationScheme>(static_cast<std::uint32_t>(info[1]));
  qi.calibration = static_cast<CalibrationMethod>(static_cast<std::uint32_t>(info[2]));
  qi.calibration_rows = static_cast<Index>(info[3]);
  qi.seconds = info[4];
  qi.layer_error = r.get_f64_array(kTagLayerError);
  qi.awq_alpha = r.get_f64_array(kTagAwqAlpha);
  const std::int64_t threads = r.get_i64(kTagThreads);
  if (threads < 0 || threads > 4096)
    r.fail(str_cat("stored thread count is out of range: ", threads));

  std::vector<QuantizedMlpLayer> layers;
  for (std::uint64_t l = 0; l < n_layers; ++l) {
    const int li = static_cast<int>(l);
    QuantizedMlpLayer q;
    q.weights = QuantizedTensor::load(r.nested(detail::layer_tag('Q', li)));
    const auto b = r.get_f32_array(detail::layer_tag('B', li));
    q.bias = Eigen::Map<const VectorXf>(b.data(), static_cast<Index>(b.size()));
    const auto act = r.get_f64_array(detail::layer_tag('A', li));
    if (act.size() != 3 || !(act[0] >= 0 && act[0] <= 2) || !std::isfinite(act[1]) ||
        !(act[2] >= -1e9 && act[2] <= 1e9)) {
      r.fail(str_cat("layer ", l, " activation quantization record is malformed"));
    }
    q.input_quant.mode = static_cast<ActivationQuant::Mode>(static_cast<std::uint32_t>(act[0]));
    q.input_quant.scale = static_cast<float>(act[1]);
    q.input_quant.zero_point = static_cast<int>(act[2]);
    layers.push_back(std::move(q));
  }
  try {
    return from_parts(Eigen::Map<const VectorXf>(off.data(), static_cast<Index>(off.size())),
                      Eigen::Map<const VectorXf>(sc.data(), static_cast<Index>(sc.size())),
                      std::move(layers),
                      Eigen::Map<const LabelVector>(cls.data(), static_cast<Index>(cls.size())),
                      std::move(qi), static_cast<int>(threads));
  } catch (const FormatError&) {
    throw;
  } catch (const InvalidArgument& e) {
    r.fail(str_cat("model is inconsistent: ", e.what()));
  }
}

void QuantizedMlp::save(const std::string& path) const { write_file_bytes(path, to_bytes()); }

QuantizedMlp QuantizedMlp::load(const std::string& path) {
  return from_bytes(read_file_bytes(path));
}

// ---------------------------------------------------------------- quantization

namespace {

// relu(a W^T + b) (no ReLU for the last layer), float.
RowMatrixXf layer_forward(const RowMatrixXf& a, const RowMatrixXf& w, const VectorXf& b, bool relu,
                          int threads) {
  RowMatrixXf z(a.rows(), w.rows());
  parallel_for_range(a.rows(), 256, threads, [&](Index r0, Index r1) {
    auto zb = z.middleRows(r0, r1 - r0);
    zb.noalias() = a.middleRows(r0, r1 - r0) * w.transpose();
    zb.rowwise() += b.transpose();
    if (relu) zb = zb.cwiseMax(0.0f);
  });
  return z;
}

RowMatrixXf scale_inputs(const ConstMatrixRef& x, const VectorXf& offset, const VectorXf& scale) {
  return (x.rowwise() - offset.transpose()).array().rowwise() * scale.transpose().array();
}

}  // namespace

QuantizedMlp quantize_mlp(const Mlp& model, const MlpQuantConfig& config,
                          const ConstMatrixRef& calibration_x) {
  const char* where = "quantize_mlp";
  const auto t0 = std::chrono::steady_clock::now();
  config.validate();
  ELMQ_CHECK_ARG(model.fitted(), where, ": the model is not fitted");
  const int nl = model.n_layers();
  ELMQ_CHECK_ARG(
      config.layer_formats.empty() || config.layer_formats.size() == static_cast<std::size_t>(nl),
      where, ": layer_formats has ", config.layer_formats.size(), " entries, the model has ", nl,
      " layers");
  std::vector<QuantFormat> formats =
      config.layer_formats.empty()
          ? std::vector<QuantFormat>(static_cast<std::size_t>(nl), config.format)
          : config.layer_formats;
  const bool have_cal = calibration_x.rows() > 0;
  ELMQ_CHECK_ARG(have_cal || !config.needs_calibration(), where, ": method ",
                 weight_quant_method_name(config.method), " with ",
                 activation_scheme_name(config.activations),
                 " activations needs calibration rows (got none)");
  if (have_cal) {
    check_shape(calibration_x, model.n_features(), where, "calibration X", true);
    check_finite(calibration_x, where, "calibration X");
  }
  const int threads = resolve_threads(config.threads);

  MlpParams p = model.params();
  VectorXf offset = model.scaler().offset();
  VectorXf scale = model.scaler().scale();

  // FP32 inputs of every layer on the calibration rows, and their Hessians.
  std::vector<RowMatrixXf> fp_in;
  std::vector<RowMatrixXd> fp_hess;
  if (have_cal) {
    fp_in.push_back(scale_inputs(calibration_x, offset, scale));
    for (int l = 0; l + 1 < nl; ++l) {
      fp_in.push_back(layer_forward(fp_in.back(), p.weights[l], p.biases[l], true, threads));
    }
    for (int l = 0; l < nl; ++l) fp_hess.push_back(input_hessian(fp_in[l], threads));
  }

  MlpQuantInfo info;
  info.method = config.method;
  info.activations = config.activations;
  info.calibration = config.calibration.method;
  info.calibration_rows = calibration_x.rows();

  std::vector<QuantizedTensor> tensors(static_cast<std::size_t>(nl));
  // AWQ's input scale of each layer (1 otherwise): W_l(current) = diag(1/s_{l+1}) W_l diag(s_l).
  std::vector<VectorXf> in_scale(static_cast<std::size_t>(nl) + 1);
  for (int l = 0; l < nl; ++l) in_scale[l] = VectorXf::Ones(p.weights[l].cols());
  in_scale[nl] = VectorXf::Ones(p.weights[nl - 1].rows());

  switch (config.method) {
    case WeightQuantMethod::kRtn:
      for (int l = 0; l < nl; ++l) {
        tensors[l] = QuantizedTensor::quantize(p.weights[l], formats[l], config.range, threads);
      }
      break;
    case WeightQuantMethod::kAwq: {
      AwqConfig awq = config.awq;
      awq.threads = config.threads;
      for (int l = 0; l < nl; ++l) {
        const VectorXf mean_abs = fp_in[l].cwiseAbs().colwise().mean().transpose();
        // The search sees the original W_l and FP32 inputs: W_l's rows receive
        // 1/s_{l+1} only later, which scales whole rows (and so their groups)
        // and leaves the relative rounding error unchanged.
        const AwqSearchResult res =
            awq_search_scales(p.weights[l], mean_abs, fp_hess[l], formats[l], awq);
        const VectorXf& s = res.scales;
        info.awq_alpha.push_back(res.alpha);
        in_scale[l] = s;
        p.weights[l] = p.weights[l] * s.asDiagonal();
        const VectorXf inv = s.cwiseInverse();
        if (l == 0) {
          scale = scale.cwiseProduct(inv);
        } else {
          p.weights[l - 1] = inv.asDiagonal() * p.weights[l - 1];
          p.biases[l - 1] = p.biases[l - 1].cwiseProduct(inv);
        }
      }
      for (int l = 0; l < nl; ++l) {
        tensors[l] = QuantizedTensor::quantize(p.weights[l], formats[l], awq.range, threads);
      }
      break;
    }
    case WeightQuantMethod::kGptq: {
      GptqOptions g = config.gptq;
      g.threads = config.threads;
      RowMatrixXf a = fp_in[0];
      for (int l = 0; l < nl; ++l) {
        const RowMatrixXd h = l == 0 ? fp_hess[0] : input_hessian(a, threads);
        GptqResult res = gptq_quantize(p.weights[l], h, formats[l], g);
        tensors[l] = std::move(res.tensor);
        if (l + 1 < nl) {
          a = layer_forward(a, tensors[l].dequantize(), p.biases[l], true, threads);
        }
      }
      break;
    }
    case WeightQuantMethod::kQat:
      break;  // rejected by validate()
  }

  // Relative output error of each layer in the original coordinates.
  if (have_cal) {
    const MlpParams& orig = model.params();
    for (int l = 0; l < nl; ++l) {
      const RowMatrixXf w_hat = in_scale[l + 1].asDiagonal() * tensors[l].dequantize() *
                                in_scale[l].cwiseInverse().asDiagonal();
      const double err = quadratic_loss(orig.weights[l], w_hat, fp_hess[l]).sum();
      const RowMatrixXf zero = RowMatrixXf::Zero(orig.weights[l].rows(), orig.weights[l].cols());
      const double ref = quadratic_loss(orig.weights[l], zero, fp_hess[l]).sum();
      info.layer_error.push_back(ref > 0.0 ? err / ref : err);
    }
  }

  std::vector<QuantizedMlpLayer> layers(static_cast<std::size_t>(nl));
  for (int l = 0; l < nl; ++l) {
    layers[l].weights = std::move(tensors[l]);
    layers[l].bias = p.biases[l];
  }
  if (config.activations == ActivationScheme::kStatic) {
    // Ranges of the inputs each layer sees in the quantized network.
    RowMatrixXf a = scale_inputs(calibration_x, offset, scale);
    for (int l = 0; l < nl; ++l) {
      const ActivationRange r = calibrate_range(a, config.calibration);
      layers[l].input_quant = ActivationQuant::calibrated(r.lo, r.hi, true);
      if (l + 1 < nl) {
        a = layer_forward(a, layers[l].weights.dequantize(), layers[l].bias, true, threads);
      }
    }
  }
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return QuantizedMlp::from_parts(std::move(offset), std::move(scale), std::move(layers),
                                  model.classes(), std::move(info), model.config().threads);
}

}  // namespace elmq
