// Building quantized ELMs (quant/elm/quantized_elm.h) from FP32 ones, or
// training them quantization-aware from data.
//
//   ElmConfig cfg;                                 // e.g. 2048 tanh neurons
//   ElmModel model(cfg);
//   model.fit(x, y);                               // keeps its Gram statistics
//   ElmQuantConfig q;
//   q.beta_format = QuantFormat::kInt4G32Sym;
//   q.beta_method = QuantMethod::kGptq;            // Hessian G + lambda I
//   QuantizedElm qm = quantize_elm(model, q);
//
//   q.w_format = QuantFormat::kTernaryChannel;     // W on a grid: beta is re-solved on
//   QuantizedElm qw = quantize_elm(model, q, x, y);  // the quantized layer (needs the data)
//
//   QuantizedElm qa = fit_quantized_elm(cfg, q, x, y);  // W quantized before the only solve
//
// The steps, in order:
//  1. W (L x d) is quantized to w_format by round to nearest with w_range
//     (with InputQuant::kUint8 after folding the scaler into W and b). A W
//     drawn on a grid (WeightInit::kTernary: {-v, 0, +v} per neuron) comes out
//     exactly with the ternary formats (their range search finds v).
//  2. If W changed and resolve_beta_after_w is set, beta is solved again on
//     the hidden layer H computed with the dequantized W (float activations,
//     the same operations as ElmModel::fit, chunked, with the model's lambda
//     times lambda_scale), so the stored model is exactly the solved one. This
//     needs the training data.
//  3. beta^T (C x L) is quantized to beta_format: RTN with beta_range, or GPTQ
//     with the Hessian G + lambda I of the statistics beta was solved from
//     (the model's training statistics, ElmModel::save(path, true), or those
//     of step 2, or statistics accumulated from the data given).
//
// The lambda trade-off: a larger lambda gives a smaller, smoother beta that
// quantizes with less error but fits the data less closely; lambda_scale
// re-solves beta with lambda * lambda_scale before quantizing (needs training
// statistics or data).
#pragma once

#include <string>

#include "elm/common/matrix.h"
#include "elm/elm_model.h"
#include "quant/elm/gptq.h"
#include "quant/elm/quantized_elm.h"
#include "quant/formats.h"
#include "quant/range.h"

namespace elmq {

struct ElmQuantConfig {
  /// Output weights (stored as beta^T, C x L, groups run along the hidden units).
  QuantFormat beta_format = QuantFormat::kInt8Channel;
  QuantMethod beta_method = QuantMethod::kRtn;
  /// Range choice of RTN (and GPTQ's baseline, see gptq.range, which is
  /// overwritten by this field so both methods use the same ranges).
  RangeOptions beta_range = mse_search();
  /// GPTQ settings (block size, act-order, damping, RTN safeguard).
  GptqOptions gptq;
  /// Input weights W (L x d). kF32 keeps them as they are.
  QuantFormat w_format = QuantFormat::kF32;
  RangeOptions w_range = mse_search();
  /// Re-solve beta on the quantized W (when W changed; needs the training data).
  bool resolve_beta_after_w = true;
  /// beta is (re-)solved with lambda * lambda_scale (1: keep the model's
  /// beta). In (0, 1e12]; != 1 needs training statistics or data.
  double lambda_scale = 1.0;
  InputQuant input = InputQuant::kDynamic;
  HiddenQuant hidden = HiddenQuant::kDynamic;
  /// Threads for quantization and for the returned model's batch prediction (0 = all).
  int threads = 0;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;

  static RangeOptions mse_search() {
    RangeOptions r;
    r.method = RangeOptions::Method::kMseSearch;
    return r;
  }
};

/// What quantize_elm(model, config) needs, found without doing the work
/// (only W is quantized, to see whether it changes).
struct ElmQuantNeeds {
  bool w_exact = true;      ///< W comes out exactly: beta need not be re-solved
  bool resolve = false;     ///< beta will be solved again on the quantized W
  bool statistics = false;  ///< G = H^T H is needed (GPTQ, lambda_scale != 1)
  bool data = false;        ///< the training data is needed (the no-data overload would throw)
  std::string reason;       ///< why the data is needed; empty if it is not
};

/// @throws InvalidArgument for an unfitted model or a bad config.
ElmQuantNeeds quantization_needs(const ElmModel& model, const ElmQuantConfig& config);

/// Quantizes a fitted model without data. GPTQ and lambda_scale != 1 need the
/// model's training statistics; a W that changes is kept as quantized with
/// beta unchanged (resolve_beta_after_w needs data: use the overload below).
/// @throws InvalidArgument for an unfitted model, a bad config, or when the
///         requested steps need statistics or data that are not available.
/// @throws NumericalError if a solve or the GPTQ factorization fails.
QuantizedElm quantize_elm(const ElmModel& model, const ElmQuantConfig& config);

/// As above, with the model's training data (classification: labels), used to
/// re-solve beta on the quantized W and, if the model kept no statistics, to
/// compute the Gram matrix for GPTQ. x: n x d; labels: n values among the
/// model's classes; sample_weight: empty or n values >= 0 (as given to fit;
/// with ClassWeight::kBalanced the class weights are applied as in fit).
QuantizedElm quantize_elm(const ElmModel& model, const ElmQuantConfig& config,
                          const ConstMatrixRef& x, const ConstLabelRef& labels,
                          const ConstVectorRef& sample_weight = VectorXf());

/// As above for regression and multilabel models: targets n x C as given to
/// fit_regression / fit_multilabel.
QuantizedElm quantize_elm_targets(const ElmModel& model, const ElmQuantConfig& config,
                                  const ConstMatrixRef& x, const ConstMatrixRef& targets,
                                  const ConstVectorRef& sample_weight = VectorXf());

/// Quantization-aware training of a classifier: fits the scaler, draws the
/// hidden layer exactly as ElmModel::fit does, quantizes W, then solves beta
/// once on the quantized layer (lambda chosen as ElmModel::fit chooses it,
/// times lambda_scale) and quantizes beta. When W is exact (ternary init with
/// a ternary format), beta equals ElmModel(elm).fit(x, labels).beta() bit for bit.
/// Training runs on config.threads threads (elm.threads is not used).
/// @throws as ElmModel::fit and quantize_elm.
QuantizedElm fit_quantized_elm(const ElmConfig& elm, const ElmQuantConfig& config,
                               const ConstMatrixRef& x, const ConstLabelRef& labels,
                               const ConstVectorRef& sample_weight = VectorXf());

}  // namespace elmq
