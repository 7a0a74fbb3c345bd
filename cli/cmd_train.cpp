// elmq train: fit an ELM on a dataset or CSV file, report, optionally save.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/json.h"
#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/elm_model.h"

namespace elmq {
namespace cli {

namespace {

ArgParser make_parser() {
  ArgParser p("elmq train",
              "elmq train (--dataset NAME | --train-csv FILE [--test-csv FILE]) [options]",
              "Trains an Extreme Learning Machine and reports its accuracy (R^2 for regression)\n"
              "on the training rows and, when there is one, the test split. With -o the model\n"
              "is saved as an elmq file for 'elmq eval', 'elmq predict' and 'elmq info'.");
  add_data_options(p, DataUse::kTrain);
  p.section("model");
  p.option("task", "TASK",
           "classification, or regression (the label column holds real-valued targets)",
           "classification");
  p.option("hidden", "SPEC",
           "hidden neuron groups COUNT[:ACT][,COUNT[:ACT]...], ACT one of sigmoid, tanh, relu, "
           "sin, linear, rbf",
           "1000:tanh");
  p.option("init", "SCHEME", "projection weights: normal, uniform or ternary", "normal");
  p.option("lambda", "auto|VALUE",
           "ridge penalty: chosen on a held-out part of the training rows, or a value >= 0",
           "auto");
  p.option("scaling", "KIND", "input scaling: minmax, standardize or none", scaling_name(ElmConfig{}.scaling));
  p.option("class-weight", "MODE", "none, or balanced (weights n / (classes * count))", "none");
  p.option("seed", "N", "seed of the random hidden layer", "42");
  p.section("execution");
  p.option("threads", "N", "threads for training and prediction (0: all cores)", "0");
  p.option("chunk-rows", "N", "rows per training chunk (memory ~ N * hidden * 4 bytes)",
           std::to_string(ElmConfig{}.chunk_rows));
  p.section("output");
  p.option("output", "FILE", "save the trained model here", "", 'o');
  p.flag("save-training-state", "store the Gram statistics in the file too (resumable)");
  p.flag("json", "print one JSON object on stdout instead of text");
  p.flag("verbose", "also print the lambda search curve", 'v');
  p.flag("quiet", "no progress on stderr", 'q');
  p.epilog(
      "examples:\n"
      "  elmq train --dataset fashion-mnist --hidden 2000:tanh -o fmnist.elmq\n"
      "  elmq train --dataset iris --hidden 200:tanh,50:rbf --json\n"
      "  elmq train --train-csv train.csv --label-column y --test-csv test.csv");
  return p;
}

}  // namespace

int run_train(const Args& args) {
  const ArgParser parser = make_parser();
  const ParsedArgs a = parser.parse(args);
  if (a.flag("help")) {
    std::cout << parser.help();
    return 0;
  }
  const bool json = a.flag("json");
  const bool quiet = a.flag("quiet") || json;
  const bool regression =
      a.get_choice("task", "classification", {"classification", "regression"}) == "regression";

  // ---------------------------------------------------------------- config
  ElmConfig cfg;
  try {
    cfg.hidden.groups = HiddenLayerConfig::parse_groups(a.get("hidden", "1000:tanh"));
  } catch (const InvalidArgument& e) {
    throw UsageError(str_cat("--hidden: ", e.what()));
  }
  const WeightInit init =
      parse_weight_init(a.get_choice("init", "normal", {"normal", "uniform", "ternary"}));
  for (auto& g : cfg.hidden.groups) g.init = init;
  cfg.hidden.seed = static_cast<std::uint64_t>(a.get_int("seed", 42, 0, INT64_MAX));
  const std::string lambda = a.get("lambda", "auto");
  if (lambda == "auto") {
    cfg.ridge.auto_lambda = true;
  } else {
    cfg.ridge.auto_lambda = false;
    cfg.ridge.lambda = a.get_double("lambda", 0.0, 0.0, 1e30);
  }
  cfg.scaling =
      parse_scaling(a.get_choice("scaling", scaling_name(ElmConfig{}.scaling), {"standardize", "minmax", "none"}));
  const bool balanced = a.get_choice("class-weight", "none", {"none", "balanced"}) == "balanced";
  if (balanced && regression) throw UsageError("--class-weight balanced needs classification");
  cfg.class_weight = balanced ? ClassWeight::kBalanced : ClassWeight::kNone;
  cfg.threads = threads_option(a);
  cfg.chunk_rows = a.get_int("chunk-rows", ElmConfig{}.chunk_rows, 1, Index{1} << 24);
  try {
    cfg.validate();
  } catch (const InvalidArgument& e) {
    throw UsageError(e.what());
  }
  const std::string output = a.get("output");
  if (a.has("output") && output.empty()) throw UsageError("--output: empty file name");
  if (a.flag("save-training-state") && output.empty()) {
    throw UsageError("--save-training-state needs --output FILE");
  }

  // ---------------------------------------------------------------- data
  LoadedData data = load_data(a, DataUse::kTrain, regression);
  if (!quiet) {
    std::fprintf(stderr, "loaded %s: %lld x %lld in %s\n", data.description.c_str(),
                 static_cast<long long>(data.x_train.rows()),
                 static_cast<long long>(data.x_train.cols()),
                 format_seconds(data.load_seconds).c_str());
  }

  // ---------------------------------------------------------------- training
  ElmModel model(cfg);
  model.set_progress(make_progress("training", !quiet));
  const auto t0 = std::chrono::steady_clock::now();
  if (regression) {
    model.fit_regression(data.x_train, data.t_train);
  } else {
    model.fit(data.x_train, data.y_train);
  }
  const double train_seconds = seconds_since(t0);

  const auto t1 = std::chrono::steady_clock::now();
  const double train_score = regression ? model.score_regression(data.x_train, data.t_train)
                                        : model.score(data.x_train, data.y_train);
  double test_score = 0.0;
  if (data.has_test) {
    test_score = regression ? model.score_regression(data.x_test, data.t_test)
                            : model.score(data.x_test, data.y_test);
  }
  const double score_seconds = seconds_since(t1);

  std::uintmax_t file_bytes = 0;
  if (!output.empty()) {
    model.save(output, a.flag("save-training-state"));
    std::error_code ec;
    file_bytes = std::filesystem::file_size(output, ec);
  }

  // ---------------------------------------------------------------- report
  const LambdaSearchResult& search = model.lambda_search();
  const char* metric = regression ? "r2" : "accuracy";
  if (json) {
    JsonWriter j;
    j.begin_object().field("command", "train");
    j.key("data").begin_object();
    j.field("description", data.description).field("source", data.source);
    j.field("n_train", data.x_train.rows()).field("n_test", data.has_test ? data.x_test.rows() : 0);
    j.field("n_features", data.x_train.cols());
    j.end_object();
    j.key("model").begin_object();
    j.field("task", task_name(model.task()));
    j.field("hidden", model.config().hidden.describe()).field("n_hidden", model.n_hidden());
    j.field("seed", static_cast<std::uint64_t>(model.config().hidden.seed));
    j.field("scaling", scaling_name(model.config().scaling));
    j.field("class_weight", balanced ? "balanced" : "none");
    j.field("n_outputs", model.n_outputs());
    if (!regression) {
      j.key("classes").begin_array();
      for (Index c = 0; c < model.classes().size(); ++c) j.value(model.classes()[c]);
      j.end_array();
    }
    j.end_object();
    j.field("threads", cfg.threads).field("threads_used", resolve_threads(cfg.threads));
    j.field("load_seconds", data.load_seconds).field("train_seconds", train_seconds);
    j.field("score_seconds", score_seconds);
    j.field("lambda", model.lambda()).field("lambda_auto", cfg.ridge.auto_lambda);
    if (cfg.ridge.auto_lambda) {
      j.key("lambda_search").begin_object();
      j.key("lambdas").begin_array();
      for (double l : search.lambdas) j.value(l);
      j.end_array();
      j.key("validation_mse").begin_array();
      for (double m : search.validation_mse) j.value(m);
      j.end_array();
      j.field("best", search.lambda);
      j.field("fit_rows", search.fit_rows).field("validation_rows", search.validation_rows);
      j.end_object();
    }
    j.field(std::string("train_") + metric, train_score);
    j.key(std::string("test_") + metric);
    if (data.has_test) {
      j.value(test_score);
    } else {
      j.null();
    }
    if (!output.empty()) {
      j.field("output", output).field("output_bytes", static_cast<std::uint64_t>(file_bytes));
      j.field("training_state", a.flag("save-training-state"));
    }
    j.end_object();
    std::cout << j.str() << "\n";
    return 0;
  }

  std::cout << "data:     " << data.description << "\n"
            << "          train " << data.x_train.rows() << " x " << data.x_train.cols();
  if (data.has_test) std::cout << ", test " << data.x_test.rows() << " x " << data.x_test.cols();
  if (!regression) std::cout << ", " << model.classes().size() << " classes";
  std::cout << "; loaded in " << format_seconds(data.load_seconds) << "\n";
  std::cout << "model:    " << task_name(model.task()) << ", " << model.config().hidden.describe()
            << ", scaling " << scaling_name(model.config().scaling) << ", seed "
            << model.config().hidden.seed << "\n";
  std::cout << "lambda:   " << model.lambda();
  if (cfg.ridge.auto_lambda) {
    std::cout << " (auto: " << search.lambda << " was best of " << search.lambdas.size()
              << " values on " << search.fit_rows << " fit rows, " << search.validation_rows
              << " validation rows)";
  } else {
    std::cout << " (fixed)";
  }
  std::cout << "\n";
  if (a.flag("verbose") && cfg.ridge.auto_lambda) {
    std::cout << "          lambda         validation MSE\n";
    for (std::size_t i = 0; i < search.lambdas.size(); ++i) {
      char line[128];
      const double mse = search.validation_mse[i];
      char mse_text[32];
      if (std::isfinite(mse)) {
        std::snprintf(mse_text, sizeof mse_text, "%.6g", mse);
      } else {
        std::snprintf(mse_text, sizeof mse_text, "(solve failed)");
      }
      std::snprintf(line, sizeof line, "          %-14.4e %-14s%s", search.lambdas[i], mse_text,
                    search.lambdas[i] == search.lambda ? " <- best" : "");
      std::string l = line;
      while (!l.empty() && l.back() == ' ') l.pop_back();
      std::cout << l << "\n";
    }
  }
  std::cout << "training: " << format_seconds(train_seconds) << " (wall clock, "
            << (cfg.threads == 0
                    ? std::string("all cores")
                    : std::to_string(cfg.threads) + (cfg.threads == 1 ? " thread" : " threads"))
            << ")\n";
  std::cout << (regression ? "R^2:      train " : "accuracy: train ") << fixed(train_score, 4);
  if (data.has_test) std::cout << ", test " << fixed(test_score, 4);
  std::cout << "\n";
  if (!output.empty()) {
    std::cout << "saved:    " << output << " (" << file_bytes << " bytes"
              << (a.flag("save-training-state") ? ", with training state" : "") << ")\n";
  }
  return 0;
}

}  // namespace cli
}  // namespace elmq
