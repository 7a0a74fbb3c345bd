// Quantized forms of the MLP baseline (mlp.h), run on quant/'s kernels.
//
//   elmq::MlpQuantConfig q;
//   q.format = elmq::QuantFormat::kInt4G32Sym;
//   q.method = elmq::WeightQuantMethod::kGptq;       // Hessians X^T X of each layer's inputs
//   elmq::QuantizedMlp qm = elmq::quantize_mlp(mlp, q, x_calibration);
//   double acc = qm.score(x_test, y_test);
//   qm.save("mlp-int4.elmq");                        // FileKind::kQuantizedMlp
//
// Every layer is y = qgemm(a, W_l, b_l) (quant/gemm.h) followed by ReLU (not
// after the last layer). Integer weight formats quantize the layer's input
// activations to int8 inside qgemm: per row at run time (dynamic), or with a
// fixed per-tensor scale and zero point calibrated on calibration data
// (static: asymmetric uint8, the full 8 bits for ReLU outputs). f32 and f16
// keep float activations; bf16 rounds them to bf16 (quant/gemm.h).
//
// Weight quantizers:
//  - kRtn: round to nearest with `range` (quant/range.h);
//  - kGptq: layer by layer, in order, with the Hessian X^T X / n of the
//    layer's inputs as produced by the already quantized layers before it
//    (float activations), by gptq_quantize of quant/elm/gptq.h (lazy blocks,
//    damping as a fraction of the mean diagonal);
//  - kAwq: per-input-channel scales searched on the FP32 activations
//    (quant/mlp/awq.h), folded into the previous layer's rows and bias (ReLU
//    is positively homogeneous) or, for the first layer, into the input
//    scaling; then round to nearest with awq.range.
//  - kQat is produced by qat_finetune (quant/mlp/qat.h).
// Static activation ranges are calibrated last, on the inputs each layer sees
// in the quantized network (quantized weights, float activations).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "elm/common/matrix.h"
#include "quant/elm/gptq.h"
#include "quant/formats.h"
#include "quant/gemm.h"
#include "quant/mlp/awq.h"
#include "quant/mlp/calibration.h"
#include "quant/mlp/mlp.h"
#include "quant/quantized_tensor.h"
#include "quant/range.h"

namespace elmq {

/// Values are stored in files: never renumber.
enum class WeightQuantMethod : std::uint32_t {
  kRtn = 0,
  kGptq = 1,
  kAwq = 2,
  kQat = 3,  ///< quantization-aware training (qat.h); not a quantize_mlp method
};
const char* weight_quant_method_name(WeightQuantMethod m);
/// Parses "rtn", "gptq", "awq"; @throws InvalidArgument.
WeightQuantMethod parse_weight_quant_method(const std::string& name);

/// Values are stored in files: never renumber.
enum class ActivationScheme : std::uint32_t {
  kDynamic = 0,  ///< int8 per row, scale from the row's max |x| (ActivationQuant::kDynamic)
  kStatic = 1,   ///< calibrated per-tensor uint8 range (ActivationQuant::kStaticAsymmetric)
};
const char* activation_scheme_name(ActivationScheme s);
/// Parses "dynamic", "static"; @throws InvalidArgument.
ActivationScheme parse_activation_scheme(const std::string& name);

struct MlpQuantConfig {
  /// Weight format of every layer (unless layer_formats is set).
  QuantFormat format = QuantFormat::kInt8Channel;
  /// Empty, or one format per layer (overrides `format`).
  std::vector<QuantFormat> layer_formats;
  WeightQuantMethod method = WeightQuantMethod::kRtn;
  /// kRtn: how scales (and mins) are chosen.
  RangeOptions range;
  /// kGptq: options of gptq_quantize; `damp` 0.01 here (1% of the mean diagonal).
  GptqOptions gptq = [] {
    GptqOptions g;
    g.damp = 0.01;
    return g;
  }();
  /// kAwq: scale search and rounding.
  AwqConfig awq;
  ActivationScheme activations = ActivationScheme::kDynamic;
  /// kStatic: how activation ranges are chosen.
  CalibrationConfig calibration;
  /// Threads for quantization (0 = all cores); results do not depend on it.
  int threads = 0;

  /// @throws InvalidArgument naming the bad field and its allowed range
  /// (e.g. GPTQ or AWQ with a float format, kQat as a method).
  void validate() const;
  /// True if quantize_mlp needs calibration rows (GPTQ, AWQ, static activations).
  bool needs_calibration() const;
};

struct QuantizedMlpLayer {
  QuantizedTensor weights;      ///< N x K
  VectorXf bias;                ///< N
  ActivationQuant input_quant;  ///< how qgemm quantizes this layer's inputs (integer formats)
};

/// How a quantized MLP was made (kept in its file; informational).
struct MlpQuantInfo {
  WeightQuantMethod method = WeightQuantMethod::kRtn;
  ActivationScheme activations = ActivationScheme::kDynamic;
  CalibrationMethod calibration = CalibrationMethod::kMinMax;  ///< meaningful for kStatic
  Index calibration_rows = 0;
  /// Per layer: sum_rows (w - w_hat)^T H (w - w_hat) / sum_rows w^T H w, with
  /// H = X^T X / n of the layer's FP32 inputs on the calibration rows (the
  /// relative output error of the layer alone); empty without calibration rows.
  std::vector<double> layer_error;
  /// AWQ: the chosen alpha per layer; empty otherwise.
  std::vector<double> awq_alpha;
  double seconds = 0.0;  ///< wall clock of the quantization (QAT: of the fine-tuning)
};

/// Caller-owned scratch for single-row prediction (no allocation after first use).
struct QuantizedMlpWorkspace {
  std::vector<RowMatrixXf> act;  // 1 x n_{l+1}
  RowMatrixXf scaled;            // 1 x n_0
};

class QuantizedMlp {
 public:
  QuantizedMlp() = default;

  /// Assembles a model: inputs are transformed as (x - input_offset) * input_scale,
  /// then the layers run in order. @throws InvalidArgument if shapes disagree,
  /// values are not finite, an ActivationQuant is invalid or classes are not sorted and distinct.
  static QuantizedMlp from_parts(VectorXf input_offset, VectorXf input_scale,
                                 std::vector<QuantizedMlpLayer> layers, LabelVector classes,
                                 MlpQuantInfo info = MlpQuantInfo(), int threads = 0);

  // ---------------------------------------------------------------- prediction
  /// Logits, n x C, through the quantized kernels.
  /// @throws InvalidArgument if empty, x has the wrong width or non-finite values;
  ///         NumericalError if a logit is not finite (check_finite_result).
  RowMatrixXf decision_function(const ConstMatrixRef& x) const;
  /// The same network with float activations and the dequantized weights
  /// (the reference the kernels approximate: only activation rounding differs).
  RowMatrixXf decision_function_reference(const ConstMatrixRef& x) const;
  LabelVector predict(const ConstMatrixRef& x) const;
  RowMatrixXf predict_proba(const ConstMatrixRef& x) const;
  /// Accuracy on (x, labels).
  double score(const ConstMatrixRef& x, const ConstLabelRef& labels) const;
  /// One sample's logits into out[C], single-threaded, no allocation once
  /// `ws` has been used (x: n_features() finite values, checked by qgemm;
  /// non-finite logits throw NumericalError).
  void decision_row(const float* x, float* out, QuantizedMlpWorkspace& ws) const;

  // ---------------------------------------------------------------- state
  bool empty() const { return layers_.empty(); }
  Index n_features() const { return input_offset_.size(); }
  Index n_outputs() const { return empty() ? 0 : layers_.back().weights.rows(); }
  int n_layers() const { return static_cast<int>(layers_.size()); }
  const std::vector<QuantizedMlpLayer>& layers() const { return layers_; }
  const VectorXf& input_offset() const { return input_offset_; }
  const VectorXf& input_scale() const { return input_scale_; }
  const LabelVector& classes() const { return classes_; }
  const MlpQuantInfo& info() const { return info_; }
  int threads() const { return threads_; }
  /// Threads for batch prediction (0 = all cores). @throws InvalidArgument if negative.
  void set_threads(int threads);

  /// Total number of weights (biases not counted).
  Index n_weights() const;
  /// Exact storage of the quantized weight matrices (QuantizedTensor::bytes()).
  std::uint64_t weight_bytes() const;
  /// weight_bytes() plus the fp32 biases and the fp32 input offsets and scales.
  std::uint64_t bytes() const;
  /// 8 * weight_bytes() / n_weights().
  double bits_per_weight() const;
  /// E.g. "int4-g32 gptq, dynamic int8 activations".
  std::string describe() const;

  // ---------------------------------------------------------------- files
  /// FileKind::kQuantizedMlp image. @throws InvalidArgument if empty.
  std::string to_bytes() const;
  /// @throws FormatError on a corrupt, truncated or inconsistent image.
  static QuantizedMlp from_bytes(std::string_view bytes);
  void save(const std::string& path) const;
  /// @throws IoError if unreadable, FormatError if invalid.
  static QuantizedMlp load(const std::string& path);

 private:
  void check_input(const ConstMatrixRef& x, const char* where) const;
  int threads_for(Index rows) const;
  void forward_rows(const ConstMatrixRef& x, MatrixRef out, bool reference,
                    const std::vector<RowMatrixXf>* dequantized) const;

  VectorXf input_offset_, input_scale_;
  std::vector<QuantizedMlpLayer> layers_;
  LabelVector classes_;
  MlpQuantInfo info_;
  int threads_ = 0;
};

/// Quantizes a fitted MLP. calibration_x: raw (unscaled) rows like the
/// training data, required when config.needs_calibration() (a few thousand
/// training rows are typical), otherwise used only for info().layer_error.
/// @throws InvalidArgument on an unfitted model, bad config or calibration rows
///         of the wrong width; NumericalError if GPTQ cannot factorize a Hessian.
QuantizedMlp quantize_mlp(const Mlp& model, const MlpQuantConfig& config,
                          const ConstMatrixRef& calibration_x = RowMatrixXf());

}  // namespace elmq
