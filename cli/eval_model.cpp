#include "cli/eval_model.h"

#include <type_traits>
#include <utility>
#include <vector>

#include "cli/common.h"
#include "elm/common/errors.h"
#include "quant/elm/quantized_elm.h"
#include "quant/formats.h"
#include "quant/mlp/mlp.h"
#include "quant/mlp/quantized_mlp.h"

namespace elmq {
namespace cli {

namespace {

// The four kinds share predict/score/decision_row by name but not by base
// class (the library has no virtual model interface on purpose: the real-time
// paths stay non-virtual); this adapter is the only place that needs one.
template <class Model, class Workspace>
class Adapter final : public EvalModel {
 public:
  Adapter(Model model, FileKind kind, std::string description)
      : model_(std::move(model)), kind_(kind), description_(std::move(description)) {}
  FileKind kind() const override { return kind_; }
  Task task() const override {
    if constexpr (has_task) {
      return model_.task();
    } else {
      return Task::kClassification;
    }
  }
  std::string description() const override { return description_; }
  Index n_features() const override { return model_.n_features(); }
  Index n_outputs() const override { return model_.n_outputs(); }
  double score(const ConstMatrixRef& x, const ConstLabelRef& labels) const override {
    return model_.score(x, labels);
  }
  double score_regression(const ConstMatrixRef& x, const ConstMatrixRef& y) const override {
    if constexpr (has_task) {
      return model_.score_regression(x, y);
    } else {
      (void)x;
      (void)y;
      throw InvalidArgument("this model is a classifier; it has no regression score");
    }
  }
  void predict_batch(const ConstMatrixRef& x) const override {
    if constexpr (has_task) {
      if (model_.task() == Task::kRegression) {
        const RowMatrixXf out = model_.predict_regression(x);
        (void)out;
        return;
      }
    }
    const LabelVector out = model_.predict(x);
    (void)out;
  }
  const LabelVector& classes() const override { return model_.classes(); }
  LabelVector predict(const ConstMatrixRef& x) const override { return model_.predict(x); }
  RowMatrixXf predict_proba(const ConstMatrixRef& x) const override {
    return model_.predict_proba(x);
  }
  RowMatrixXf predict_outputs(const ConstMatrixRef& x) const override {
    if constexpr (has_task) {
      if (model_.task() == Task::kMultilabel) return model_.predict_multilabel(x);
      return model_.predict_regression(x);
    } else {
      (void)x;
      throw InvalidArgument("this model is a classifier; it has no real-valued outputs");
    }
  }
  void decision_row(const float* x, float* out) override { model_.decision_row(x, out, ws_); }

 private:
  static constexpr bool has_task =
      std::is_same_v<Model, ElmModel> || std::is_same_v<Model, QuantizedElm>;
  Model model_;
  Workspace ws_;
  FileKind kind_;
  std::string description_;
};

template <class Model>
void check_task(const Model& m, const std::string& path, bool allow_multilabel) {
  if (m.task() == Task::kMultilabel && !allow_multilabel) {
    throw InvalidArgument(
        str_cat(path, " is a multilabel model; eval supports classification and regression"));
  }
}

}  // namespace

std::unique_ptr<EvalModel> load_eval_model(const std::string& path, int threads,
                                           bool allow_multilabel) {
  const std::string bytes = read_file_bytes(path);
  const FileKind kind = peek_file_kind(bytes);  // validates magic, size and checksum
  switch (kind) {
    case FileKind::kElm: {
      ElmModel m = ElmModel::from_bytes(bytes);
      check_task(m, path, allow_multilabel);
      m.set_threads(threads);
      std::string d = str_cat(task_name(m.task()), ", ", m.config().hidden.describe());
      return std::make_unique<Adapter<ElmModel, PredictWorkspace>>(std::move(m), kind,
                                                                   std::move(d));
    }
    case FileKind::kQuantizedElm: {
      QuantizedElm m = QuantizedElm::from_bytes(bytes);
      check_task(m, path, allow_multilabel);
      m.set_threads(threads);
      std::string d = str_cat(task_name(m.task()), ", ", m.hidden_config().describe(), ", W ",
                              format_name(m.input_weights().format()), ", beta ",
                              format_name(m.output_weights().format()));
      return std::make_unique<Adapter<QuantizedElm, PredictWorkspace>>(std::move(m), kind,
                                                                       std::move(d));
    }
    case FileKind::kMlp: {
      Mlp m = Mlp::from_bytes(bytes);
      m.set_threads(threads);
      std::string d = "classification, MLP ";
      const std::vector<Index> sizes = m.sizes();
      for (std::size_t i = 0; i < sizes.size(); ++i) d += str_cat(i ? "-" : "", sizes[i]);
      return std::make_unique<Adapter<Mlp, MlpWorkspace>>(std::move(m), kind, std::move(d));
    }
    case FileKind::kQuantizedMlp: {
      QuantizedMlp m = QuantizedMlp::from_bytes(bytes);
      m.set_threads(threads);
      std::string d = str_cat("classification, quantized MLP, ", m.n_layers(), " layers");
      return std::make_unique<Adapter<QuantizedMlp, QuantizedMlpWorkspace>>(std::move(m), kind,
                                                                            std::move(d));
    }
    default:
      throw InvalidArgument(str_cat(path, " holds a ", file_kind_name(kind),
                                    " file, which does not predict; only ELM and MLP models "
                                    "(FP32 or quantized) do"));
  }
}

}  // namespace cli
}  // namespace elmq
