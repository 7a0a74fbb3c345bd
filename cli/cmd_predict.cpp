// elmq predict: labels (or probabilities, or regression outputs) for the rows of a CSV file.
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/eval_model.h"
#include "cli/json.h"
#include "elm/common/errors.h"

namespace elmq {
namespace cli {

namespace {

ArgParser make_parser() {
  ArgParser p("elmq predict", "elmq predict MODEL --csv FILE [-o OUT.csv] [--proba] [options]",
              "Predicts every row of a CSV file of features. The output is CSV: a column\n"
              "'label' (classification; with --proba also 'proba_<class>' columns), or\n"
              "'y0', 'y1', ... (regression, multilabel 0/1). Every input column is a\n"
              "feature unless --label-column / --label-index names one to drop. Any\n"
              "predicting model file: FP32 or quantized ELM, FP32 or quantized MLP.");
  p.positional("MODEL", "an elmq model file (from 'elmq train', 'quantize' or 'train-mlp')");
  add_data_options(p, DataUse::kPredict);
  p.section("output");
  p.option("output", "FILE", "write the predictions here ('-': stdout)", "-", 'o');
  p.flag("proba", "add class probabilities (classification models)");
  p.option("threads", "N", "threads for prediction (0: all cores)", "0");
  p.flag("json", "print one JSON object on stdout (with the predictions unless -o is given)");
  return p;
}

}  // namespace

int run_predict(const Args& args) {
  const ArgParser parser = make_parser();
  const ParsedArgs a = parser.parse(args);
  if (a.flag("help")) {
    std::cout << parser.help();
    return 0;
  }
  const bool json = a.flag("json");
  const std::string output = a.get("output", "-");
  if (output.empty()) throw UsageError("--output: empty file name");
  const std::string model_path = a.positionals()[0];
  const std::unique_ptr<EvalModel> loaded =
      load_eval_model(model_path, threads_option(a), /*allow_multilabel=*/true);
  const EvalModel& model = *loaded;
  const bool proba = a.flag("proba");
  if (proba && model.task() != Task::kClassification) {
    throw UsageError(str_cat("--proba needs a classification model; ", model_path, " is ",
                             task_name(model.task())));
  }
  LoadedData data = load_data(a, DataUse::kPredict, false);
  const RowMatrixXf& x = data.x_test;
  if (x.cols() != model.n_features()) {
    throw InvalidArgument(str_cat(data.source, " has ", x.cols(), " feature columns, ", model_path,
                                  " expects ", model.n_features(),
                                  x.cols() == model.n_features() + 1
                                      ? " (drop the label column with --label-column or "
                                        "--label-index)"
                                      : ""));
  }

  LabelVector labels;
  RowMatrixXf probabilities, outputs;
  if (model.task() == Task::kClassification) {
    labels = model.predict(x);
    if (proba) probabilities = model.predict_proba(x);
  } else {
    outputs = model.predict_outputs(x);
  }

  if (json && output == "-") {
    JsonWriter j;
    j.begin_object().field("command", "predict").field("model", model_path);
    j.field("task", task_name(model.task())).field("rows", x.rows());
    if (model.task() == Task::kClassification) {
      j.key("classes").begin_array();
      for (Index c = 0; c < model.classes().size(); ++c) j.value(model.classes()[c]);
      j.end_array();
      j.key("labels").begin_array();
      for (Index i = 0; i < labels.size(); ++i) j.value(labels[i]);
      j.end_array();
      if (proba) {
        j.key("proba").begin_array();
        for (Index i = 0; i < probabilities.rows(); ++i) {
          j.begin_array();
          for (Index c = 0; c < probabilities.cols(); ++c) {
            j.value(static_cast<double>(probabilities(i, c)));
          }
          j.end_array();
        }
        j.end_array();
      }
    } else {
      j.key("outputs").begin_array();
      for (Index i = 0; i < outputs.rows(); ++i) {
        j.begin_array();
        for (Index c = 0; c < outputs.cols(); ++c) j.value(static_cast<double>(outputs(i, c)));
        j.end_array();
      }
      j.end_array();
    }
    j.end_object();
    std::cout << j.str() << "\n";
    return 0;
  }
  write_predictions(output, labels, probabilities, model.classes(), outputs);
  if (json) {
    JsonWriter j;
    j.begin_object().field("command", "predict").field("model", model_path);
    j.field("task", task_name(model.task())).field("rows", x.rows()).field("output", output);
    j.end_object();
    std::cout << j.str() << "\n";
  }
  return 0;
}

}  // namespace cli
}  // namespace elmq
