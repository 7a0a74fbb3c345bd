// A model file of any predicting kind, behind the one interface that `elmq
// eval` measures and `elmq predict` uses: FP32 ELM, quantized ELM, MLP and
// quantized MLP. Each kind keeps its own single-row workspace, so
// decision_row is the kind's real-time path.
#pragma once

#include <memory>
#include <string>

#include "elm/common/matrix.h"
#include "elm/common/serialize.h"
#include "elm/elm_model.h"

namespace elmq {
namespace cli {

class EvalModel {
 public:
  virtual ~EvalModel() = default;
  virtual FileKind kind() const = 0;
  /// Classification, regression, or (ELMs loaded with allow_multilabel) multilabel.
  virtual Task task() const = 0;
  /// One line for the text output, e.g. "classification, 2000:tanh, int8 W / int4-g32 beta".
  virtual std::string description() const = 0;
  virtual Index n_features() const = 0;
  virtual Index n_outputs() const = 0;
  /// Class labels (classification and multilabel; empty for regression).
  virtual const LabelVector& classes() const = 0;
  /// Labels (classification). @throws InvalidArgument for other tasks or a wrong width.
  virtual LabelVector predict(const ConstMatrixRef& x) const = 0;
  /// n x classes probabilities (classification).
  virtual RowMatrixXf predict_proba(const ConstMatrixRef& x) const = 0;
  /// n x n_outputs() outputs: real values (regression) or 0/1 (multilabel).
  /// @throws InvalidArgument for a classifier.
  virtual RowMatrixXf predict_outputs(const ConstMatrixRef& x) const = 0;
  /// Accuracy (classification) or mean R^2 (regression; y is n x n_outputs()).
  virtual double score(const ConstMatrixRef& x, const ConstLabelRef& labels) const = 0;
  virtual double score_regression(const ConstMatrixRef& x, const ConstMatrixRef& y) const = 0;
  /// Batch prediction whose result is discarded (labels, or outputs for regression):
  /// what the throughput measurement repeats.
  virtual void predict_batch(const ConstMatrixRef& x) const = 0;
  /// One row's decisions into out[n_outputs()] with the kind's reused workspace.
  virtual void decision_row(const float* x, float* out) = 0;
};

/// Loads `path` (any kind above) with `threads` for batch prediction (0 = all cores).
/// @throws FormatError / IoError for unreadable files, InvalidArgument for a kind
///         that does not predict (online ELM state) or, unless allow_multilabel,
///         a multilabel model (eval has no score for it).
std::unique_ptr<EvalModel> load_eval_model(const std::string& path, int threads,
                                           bool allow_multilabel = false);

}  // namespace cli
}  // namespace elmq
