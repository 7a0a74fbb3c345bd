// QuantizedElm: an Extreme Learning Machine whose weights are stored in the
// formats of quant/formats.h and whose prediction runs on the integer kernels
// of quant/gemm.h end to end:
//
//   x (n x d) --scaler--> x' --qgemm(W, b)--> Z (n x L) --g--> H --qgemm(beta^T)--> out (n x C)
//
//   W       L x d input weights, one hidden neuron per row, any QuantFormat;
//   b       L float biases (RBF neurons: 0), rbf_gamma L floats (RBF only);
//   beta^T  C x L output weights, one output channel per row, any QuantFormat.
//
// Build one with quantize_elm / fit_quantized_elm (quant/elm/quantize_elm.h).
//
// What the kernels quantize besides the weights (integer formats only; f32
// and f16 multiply float activations, bf16 rounds them to bf16, see
// quant/gemm.h):
//  - inputs x' (InputQuant): kDynamic quantizes each scaled row to int8 with
//    its own scale max|x'| / 127. kUint8 is for byte data (pixels): the scaler
//    is folded into W and b (W' = W diag(s), b' = b - W' o for x' = (x - o) s),
//    and the raw inputs enter the kernel as uint8 codes with scale 1, exactly
//    when they are integers in [0, 255] (other values are rounded and clamped).
//  - hidden activations H (HiddenQuant): kDynamic: int8 per row, scale
//    max|h| / 127. kStatic: a fixed scale from the activation's range: all
//    neurons in [0, 1] (sigmoid, rbf) -> uint8 codes with scale 1/255; all in
//    [-1, 1] (tanh, sin, and sigmoid/rbf mixed with them) -> int8 with 1/127.
//    Unbounded activations (relu, linear) cannot use kStatic.
//
// Data layout: row-major float32, one sample per row (elm/common/matrix.h).
// Results do not depend on the thread count (each row is computed by the same
// operations whatever the batch).
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "elm/common/matrix.h"
#include "elm/elm_model.h"
#include "elm/hidden_layer.h"
#include "elm/scaler.h"
#include "quant/gemm.h"
#include "quant/quantized_tensor.h"

namespace elmq {

/// How the output weights were quantized. Values are part of the file format.
enum class QuantMethod : std::uint32_t {
  kRtn = 0,   ///< round to nearest, range per QuantizedTensor::quantize
  kGptq = 1,  ///< GPTQ with the training Hessian G + lambda I (quant/elm/gptq.h)
};
const char* quant_method_name(QuantMethod m);
/// Parses "rtn", "gptq". @throws InvalidArgument.
QuantMethod parse_quant_method(const std::string& name);

/// How inputs enter the first product (see the top of this file). File format values.
enum class InputQuant : std::uint32_t { kDynamic = 0, kUint8 = 1 };
/// How hidden activations enter the second product. File format values.
enum class HiddenQuant : std::uint32_t { kDynamic = 0, kStatic = 1 };
const char* input_quant_name(InputQuant q);
const char* hidden_quant_name(HiddenQuant q);
/// Parses "dynamic", "uint8". @throws InvalidArgument.
InputQuant parse_input_quant(const std::string& name);
/// Parses "dynamic", "static" (alias "int8"). @throws InvalidArgument.
HiddenQuant parse_hidden_quant(const std::string& name);

/// What quantization did; stored in the file and shown by `elmq info`.
struct ElmQuantInfo {
  QuantMethod beta_method = QuantMethod::kRtn;
  /// The quantized W equals the model's W exactly (e.g. ternary init + ternary format).
  bool w_exact = true;
  /// beta was solved again on the hidden layer with the quantized W.
  bool beta_resolved = false;
  /// The ridge penalty beta was solved with (and of the GPTQ Hessian G + lambda I).
  double lambda = 0.0;
  /// ||W - W_hat||_F / ||W||_F (0 for an exact W).
  double w_relative_error = 0.0;
  /// sum over outputs of Delta^T (G + lambda I) Delta: the increase of the ridge
  /// objective (training sum of squared errors + penalty) caused by quantizing
  /// beta; NaN when no training statistics were available.
  double beta_loss = std::numeric_limits<double>::quiet_NaN();
  /// The same for round-to-nearest (GPTQ only, else NaN).
  double beta_rtn_loss = std::numeric_limits<double>::quiet_NaN();
  /// Ridge objective of the unquantized beta (NaN when unknown), the scale for the two above.
  double ridge_objective = std::numeric_limits<double>::quiet_NaN();
  /// GPTQ: output channels where round-to-nearest was kept (lower loss).
  std::int64_t gptq_rtn_rows = 0;
  /// GPTQ: absolute damping added to the Hessian diagonal.
  double gptq_damp = 0.0;
  /// Wall times of the steps in seconds: quantizing W, (re-)solving beta
  /// (including the pass over the data), quantizing beta. Not stored in files
  /// (0 after loading).
  double w_seconds = 0.0, solve_seconds = 0.0, beta_seconds = 0.0;
};

class QuantizedElm {
 public:
  /// An empty (unfitted) model.
  QuantizedElm() = default;

  /// Assembles a model. w: L x d (neurons x inputs); bias, rbf_gamma: L;
  /// beta_t: C x L; hidden: the neuron groups (activations), L neurons in all;
  /// scaler fitted on d features (with InputQuant::kUint8, the scaler that was
  /// folded into w and bias, kept for reference). classes as in ElmModel
  /// (sorted, distinct, C of them for classification; empty otherwise).
  /// @throws InvalidArgument if shapes or modes disagree (e.g. kStatic with relu,
  /// kUint8 with RBF neurons, non-finite bias).
  static QuantizedElm from_parts(Task task, Scaler scaler, HiddenLayerConfig hidden,
                                 QuantizedTensor w, VectorXf bias, VectorXf rbf_gamma,
                                 QuantizedTensor beta_t, LabelVector classes, InputQuant input,
                                 HiddenQuant hidden_quant, float proba_temperature,
                                 ElmQuantInfo info);

  // ---------------------------------------------------------------- prediction
  /// Raw outputs: n x C, by the integer kernels. x: n x d, finite.
  /// @throws InvalidArgument if unfitted, x has the wrong width or non-finite values;
  ///         NumericalError if a result is not finite (check_finite_result).
  RowMatrixXf decision_function(const ConstMatrixRef& x) const;
  /// Into a caller buffer (n x C).
  void decision_function(const ConstMatrixRef& x, MatrixRef out) const;
  /// The same model with float activations: x' dequantize(W)^T + b, g, then
  /// H dequantize(beta^T)^T (qgemm_dequantized). The reference the kernels
  /// approximate: they differ only by the quantization of inputs and activations.
  RowMatrixXf decision_function_reference(const ConstMatrixRef& x) const;
  /// Hidden activations H (n x L) as the kernels compute them (before their
  /// quantization for the second product).
  RowMatrixXf hidden_activations(const ConstMatrixRef& x) const;
  /// Class labels (classification only).
  LabelVector predict(const ConstMatrixRef& x) const;
  /// softmax(decision / proba_temperature) (classification only).
  RowMatrixXf predict_proba(const ConstMatrixRef& x) const;
  /// decision > 0.5 as 0/1 (multilabel only).
  RowMatrixXf predict_multilabel(const ConstMatrixRef& x) const;
  /// == decision_function (regression only).
  RowMatrixXf predict_regression(const ConstMatrixRef& x) const;
  /// Accuracy (classification; multilabel: exact-match ratio).
  double score(const ConstMatrixRef& x, const ConstLabelRef& labels) const;
  /// Mean R^2 over outputs (regression).
  double score_regression(const ConstMatrixRef& x, const ConstMatrixRef& y) const;

  /// One sample: out[C]. Runs on the calling thread (unless set_row_threads
  /// asked for more) and allocates nothing there once `ws` and the kernel
  /// scratch of the threads involved have been used once. x must hold
  /// n_features() finite values.
  /// @throws InvalidArgument if unfitted or x is not finite; NumericalError if
  ///         a result is not finite.
  void decision_row(const float* x, float* out, PredictWorkspace& ws) const;
  /// One sample's label (classification); scores receives the C decisions.
  std::int64_t predict_row(const float* x, PredictWorkspace& ws, float* scores) const;

  /// Threads for batch prediction (0 = all cores; not stored in files). @throws if < 0.
  void set_threads(int threads);
  int threads() const { return threads_; }
  /// Threads for one-row prediction (decision_row, predict_row), as
  /// ElmModel::set_row_threads: 1 (the default) keeps the row on the calling
  /// thread; n > 1 splits W's product (the hidden neurons) over up to n
  /// threads of the pool (0 = all cores) when W has at least 2^18 weights.
  /// Results are bit-identical for any n (each output is computed by the same
  /// kernel code whatever the split). Every call wakes the pool: keep 1 when
  /// rows are already predicted on several threads. Not stored in files.
  /// @throws InvalidArgument if negative.
  void set_row_threads(int threads);
  int row_threads() const { return row_threads_; }

  // ---------------------------------------------------------------- state
  bool fitted() const { return !beta_t_.empty(); }
  Task task() const { return task_; }
  Index n_features() const { return w_.cols(); }
  Index n_hidden() const { return w_.rows(); }
  Index n_outputs() const { return beta_t_.rows(); }
  const LabelVector& classes() const { return classes_; }
  const Scaler& scaler() const { return scaler_; }
  const HiddenLayerConfig& hidden_config() const { return hidden_; }
  /// L x d input weights as stored (with kUint8: the scaler folded in).
  const QuantizedTensor& input_weights() const { return w_; }
  const VectorXf& bias() const { return bias_; }
  const VectorXf& rbf_gamma() const { return rbf_gamma_; }
  /// C x L output weights (beta transposed) as stored.
  const QuantizedTensor& output_weights() const { return beta_t_; }
  InputQuant input_quant() const { return input_; }
  HiddenQuant hidden_quant() const { return hidden_quant_; }
  float proba_temperature() const { return proba_temperature_; }
  const ElmQuantInfo& info() const { return info_; }
  /// The activation quantization the second product uses.
  const ActivationQuant& hidden_activation_quant() const { return hidden_act_; }

  /// Parameter storage in bytes: W and beta^T in their formats (padding and
  /// scales included), biases (4 L), RBF gammas (4 L, only with RBF neurons)
  /// and the scaler (8 d). Classes and metadata are not counted.
  std::uint64_t bytes() const;
  /// The same model with every parameter in float32 (for ratios).
  std::uint64_t fp32_bytes() const;
  /// Parameters counted by bytes(): L d + C L + L (+ L for RBF) + 2 d.
  std::int64_t n_parameters() const;
  /// 8 * bytes() / n_parameters().
  double bits_per_weight() const;

  // ---------------------------------------------------------------- files
  /// FileKind::kQuantizedElm image. @throws InvalidArgument if unfitted.
  std::string to_bytes() const;
  /// @throws FormatError on a corrupt, truncated or inconsistent image.
  static QuantizedElm from_bytes(std::string_view bytes);
  /// @throws IoError if the file cannot be written.
  void save(const std::string& path) const;
  /// @throws IoError if unreadable, FormatError if invalid.
  static QuantizedElm load(const std::string& path);

 private:
  void check_input(const ConstMatrixRef& x, const char* where) const;
  void require_task(Task t, const char* where) const;
  /// Scaled (or raw, for kUint8) rows -> activations, in place on z (rows x L).
  void activate(MatrixRef z, const ConstVectorRef& x_sq) const;
  void forward_block(const ConstMatrixRef& x, MatrixRef out, bool reference) const;
  void prepare();

  Task task_ = Task::kClassification;
  Scaler scaler_;
  HiddenLayerConfig hidden_;
  QuantizedTensor w_;
  VectorXf bias_, rbf_gamma_;
  VectorXf centre_sq_norms_;  // RBF: squared norms of the dequantized centres
  QuantizedTensor beta_t_;
  LabelVector classes_;
  InputQuant input_ = InputQuant::kDynamic;
  HiddenQuant hidden_quant_ = HiddenQuant::kDynamic;
  float proba_temperature_ = 0.1f;
  ElmQuantInfo info_;
  int threads_ = 0;
  int row_threads_ = 1;
  // Derived by prepare().
  QGemmOptions input_opt_, hidden_opt_;
  ActivationQuant hidden_act_;
  bool has_rbf_ = false;
};

}  // namespace elmq
