// elmq train-mlp: train the MLP baseline (quant/mlp/mlp.h) on a dataset or CSV
// file, optionally fine-tune it quantization-aware, report, save.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/common.h"
#include "cli/json.h"
#include "cli/mlp_commands.h"
#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/serialize.h"
#include "quant/mlp/mlp.h"
#include "quant/mlp/qat.h"
#include "quant/mlp/quantized_mlp.h"

namespace elmq {
namespace cli {

namespace {

ArgParser make_parser() {
  ArgParser p("elmq train-mlp",
              "elmq train-mlp (--dataset NAME | --train-csv FILE [--test-csv FILE]) [options]",
              "Trains the deep baseline, a multilayer perceptron (ReLU hidden layers, softmax\n"
              "cross-entropy, Adam or SGD with momentum, He initialization), holding out a\n"
              "stratified validation split whose best epoch is kept. Reports accuracy on the\n"
              "training rows and the test split. With -o the model is saved (an elmq file of\n"
              "kind mlp) for 'elmq quantize' and 'elmq info'. With --qat FORMAT the trained\n"
              "network is then fine-tuned through fake-quantized weights and the quantized\n"
              "model is saved with --qat-output.");
  add_data_options(p, DataUse::kTrain);
  p.section("model");
  p.option("hidden", "W1,W2,...", "hidden layer widths (ReLU); 'none' for softmax regression",
           "256,256");
  p.option("scaling", "KIND", "input scaling: minmax, standardize or none", "minmax");
  p.option("seed", "N", "seed of the initial weights, the validation split and the shuffles", "42");
  p.section("training");
  p.option("optimizer", "NAME", "adam or sgd (with momentum)", "adam");
  p.option("lr", "RATE", "learning rate", "1e-3");
  p.option("momentum", "M", "SGD momentum in [0, 1)", "0.9");
  p.flag("nesterov", "Nesterov momentum (SGD)");
  p.option("weight-decay", "L2", "L2 penalty on the weights, added to the gradient", "0");
  p.option("epochs", "N", "passes over the training rows", "10");
  p.option("batch-size", "N", "rows per gradient step", "256");
  p.option("validation-fraction", "F", "held-out fraction for the best-epoch choice, in [0, 0.9]",
           "0.1");
  p.option("patience", "N", "stop after N epochs without a better validation accuracy (0: never)",
           "0");
  p.flag("keep-last", "keep the last epoch's weights instead of the best validation epoch's");
  p.section("quantization-aware training");
  p.option("qat", "FORMAT", "fine-tune for this integer weight format (e.g. int4-g32, ternary)");
  p.option("qat-epochs", "N", "fine-tuning epochs", "3");
  p.option("qat-lr", "RATE", "fine-tuning learning rate (Adam)", "1e-4");
  p.flag("qat-lsq", "learn the quantization scales (LSQ), for 2-3 bit formats");
  p.option("qat-output", "FILE", "save the quantized model here (kind quantized-mlp)");
  p.section("execution");
  p.option("threads", "N", "threads for training and prediction (0: all cores)", "0");
  p.section("output");
  p.option("output", "FILE", "save the trained FP32 model here", "", 'o');
  p.flag("json", "print one JSON object on stdout instead of text");
  p.flag("quiet", "no progress on stderr", 'q');
  p.epilog(
      "examples:\n"
      "  elmq train-mlp --dataset fashion-mnist -o fmnist-mlp.elmq\n"
      "  elmq train-mlp --dataset digits --hidden 128,128 --epochs 30 --batch-size 64\n"
      "  elmq train-mlp --dataset fashion-mnist --qat ternary --qat-epochs 5 --qat-output t.elmq");
  return p;
}

std::vector<Index> parse_hidden(const std::string& s) {
  std::vector<Index> out;
  if (s == "none") return out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || end == nullptr || *end != '\0' || v < 1) {
      throw UsageError(str_cat("--hidden: '", item, "' is not a positive width (got '", s, "')"));
    }
    out.push_back(static_cast<Index>(v));
  }
  if (out.empty()) throw UsageError("--hidden: no widths given (use 'none' for no hidden layer)");
  return out;
}

}  // namespace

int run_train_mlp(const Args& args) {
  const ArgParser parser = make_parser();
  const ParsedArgs a = parser.parse(args);
  if (a.flag("help")) {
    std::cout << parser.help();
    return 0;
  }
  const bool json = a.flag("json");
  const bool quiet = a.flag("quiet") || json;

  // ---------------------------------------------------------------- config
  MlpConfig cfg;
  cfg.hidden = parse_hidden(a.get("hidden", "256,256"));
  cfg.scaling = parse_scaling(a.get_choice("scaling", "minmax", {"minmax", "standardize", "none"}));
  cfg.seed = static_cast<std::uint64_t>(a.get_int("seed", 42, 0, INT64_MAX));
  cfg.optimizer.kind = parse_optimizer(a.get_choice("optimizer", "adam", {"adam", "sgd"}));
  cfg.optimizer.learning_rate = a.get_double("lr", 1e-3, 1e-12, 10.0);
  cfg.optimizer.momentum = a.get_double("momentum", 0.9, 0.0, 0.999999);
  cfg.optimizer.nesterov = a.flag("nesterov");
  cfg.optimizer.weight_decay = a.get_double("weight-decay", 0.0, 0.0, 1.0);
  cfg.epochs = static_cast<int>(a.get_int("epochs", 10, 1, 100000));
  cfg.batch_size = a.get_int("batch-size", 256, 1, Index{1} << 20);
  cfg.validation_fraction = a.get_double("validation-fraction", 0.1, 0.0, 0.9);
  cfg.patience = static_cast<int>(a.get_int("patience", 0, 0, 100000));
  cfg.restore_best = !a.flag("keep-last");
  cfg.threads = threads_option(a);
  try {
    cfg.validate();
  } catch (const InvalidArgument& e) {
    throw UsageError(e.what());
  }
  const std::string output = a.get("output");
  if (a.has("output") && output.empty()) throw UsageError("--output: empty file name");
  const bool qat = a.has("qat");
  QatConfig qcfg;
  if (qat) {
    try {
      qcfg.format = parse_format(a.get("qat"));
    } catch (const InvalidArgument& e) {
      throw UsageError(str_cat("--qat: ", e.what()));
    }
    qcfg.epochs = static_cast<int>(a.get_int("qat-epochs", 3, 1, 100000));
    qcfg.optimizer.learning_rate = a.get_double("qat-lr", 1e-4, 1e-12, 10.0);
    qcfg.learn_scales = a.flag("qat-lsq");
    qcfg.batch_size = cfg.batch_size;
    qcfg.validation_fraction = cfg.validation_fraction;
    qcfg.seed = cfg.seed;
    qcfg.threads = cfg.threads;
    try {
      qcfg.validate();
    } catch (const InvalidArgument& e) {
      throw UsageError(str_cat("--qat: ", e.what()));
    }
  } else {
    for (const char* k : {"qat-epochs", "qat-lr", "qat-lsq", "qat-output"}) {
      if (a.has(k)) throw UsageError(str_cat("--", k, " needs --qat FORMAT"));
    }
  }
  const std::string qat_output = a.get("qat-output");

  // ---------------------------------------------------------------- data
  LoadedData data = load_data(a, DataUse::kTrain, false);
  if (!quiet) {
    std::fprintf(stderr, "loaded %s: %lld x %lld in %s\n", data.description.c_str(),
                 static_cast<long long>(data.x_train.rows()),
                 static_cast<long long>(data.x_train.cols()),
                 format_seconds(data.load_seconds).c_str());
  }

  // ---------------------------------------------------------------- training
  Mlp model(cfg);
  auto progress = [quiet](const char* what) -> MlpProgressFn {
    if (quiet) return {};
    return [what](const EpochReport& r) {
      std::fprintf(stderr, "%s epoch %d: train loss %.4f, val loss %.4f, val accuracy %.4f (%s)\n",
                   what, r.epoch, r.train_loss, r.val_loss, r.val_accuracy,
                   format_seconds(r.epoch_seconds).c_str());
    };
  };
  model.set_progress(progress("training"));
  const auto t0 = std::chrono::steady_clock::now();
  model.fit(data.x_train, data.y_train);
  const double train_seconds = seconds_since(t0);
  const double train_acc = model.score(data.x_train, data.y_train);
  const double test_acc = data.has_test ? model.score(data.x_test, data.y_test) : 0.0;
  std::uintmax_t file_bytes = 0;
  if (!output.empty()) {
    model.save(output);
    std::error_code ec;
    file_bytes = std::filesystem::file_size(output, ec);
  }

  QatResult qres;
  double qat_seconds = 0.0, qat_test = 0.0;
  std::uintmax_t qat_file_bytes = 0;
  if (qat) {
    const auto t1 = std::chrono::steady_clock::now();
    qres = qat_finetune(model, data.x_train, data.y_train, qcfg, progress("qat"));
    qat_seconds = seconds_since(t1);
    if (data.has_test) qat_test = qres.model.score(data.x_test, data.y_test);
    if (!qat_output.empty()) {
      qres.model.save(qat_output);
      std::error_code ec;
      qat_file_bytes = std::filesystem::file_size(qat_output, ec);
    }
  }

  // ---------------------------------------------------------------- report
  const TrainingHistory& h = model.history();
  const std::string arch = cfg.describe(model.n_features(), model.n_outputs());
  if (json) {
    JsonWriter j;
    j.begin_object().field("command", "train-mlp");
    j.key("data").begin_object();
    j.field("description", data.description).field("source", data.source);
    j.field("n_train", data.x_train.rows()).field("n_test", data.has_test ? data.x_test.rows() : 0);
    j.field("n_features", data.x_train.cols());
    j.end_object();
    j.key("model").begin_object();
    j.field("architecture", arch).field("n_parameters", model.n_parameters());
    j.field("scaling", scaling_name(cfg.scaling)).field("seed", cfg.seed);
    j.field("optimizer", optimizer_name(cfg.optimizer.kind));
    j.field("learning_rate", cfg.optimizer.learning_rate).field("batch_size", cfg.batch_size);
    j.field("epochs", cfg.epochs).field("weight_decay", cfg.optimizer.weight_decay);
    j.end_object();
    j.key("history").begin_array();
    for (const EpochReport& e : h.epochs) {
      j.begin_object().field("epoch", e.epoch).field("train_loss", e.train_loss);
      j.field("val_loss", e.val_loss).field("val_accuracy", e.val_accuracy);
      j.field("seconds", e.epoch_seconds).end_object();
    }
    j.end_array();
    j.field("best_epoch", h.best_epoch).field("stopped_early", h.stopped_early);
    j.field("train_rows", static_cast<std::int64_t>(h.train_rows));
    j.field("validation_rows", static_cast<std::int64_t>(h.val_rows));
    j.field("threads", cfg.threads).field("threads_used", resolve_threads(cfg.threads));
    j.field("train_seconds", train_seconds);
    j.field("train_accuracy", train_acc);
    j.key("test_accuracy");
    if (data.has_test) {
      j.value(test_acc);
    } else {
      j.null();
    }
    if (!output.empty()) {
      j.field("output", output).field("output_bytes", static_cast<std::uint64_t>(file_bytes));
    }
    if (qat) {
      j.key("qat").begin_object();
      j.field("format", format_name(qcfg.format)).field("lsq", qcfg.learn_scales);
      j.field("epochs", qcfg.epochs).field("seconds", qat_seconds);
      j.field("initial_val_accuracy", qres.initial_val_accuracy);
      j.field("weight_bytes", qres.model.weight_bytes());
      j.field("bits_per_weight", qres.model.bits_per_weight());
      j.key("test_accuracy");
      if (data.has_test) {
        j.value(qat_test);
      } else {
        j.null();
      }
      if (!qat_output.empty()) {
        j.field("output", qat_output);
        j.field("output_bytes", static_cast<std::uint64_t>(qat_file_bytes));
      }
      j.end_object();
    }
    j.end_object();
    std::cout << j.str() << "\n";
    return 0;
  }

  std::cout << "data:     " << data.description << "\n"
            << "          train " << data.x_train.rows() << " x " << data.x_train.cols();
  if (data.has_test) std::cout << ", test " << data.x_test.rows() << " x " << data.x_test.cols();
  std::cout << ", " << model.classes().size() << " classes; loaded in "
            << format_seconds(data.load_seconds) << "\n";
  std::cout << "model:    MLP " << arch << " (" << model.n_parameters() << " parameters), scaling "
            << scaling_name(cfg.scaling) << ", seed " << cfg.seed << "\n";
  std::cout << "training: " << optimizer_name(cfg.optimizer.kind) << " lr "
            << cfg.optimizer.learning_rate << ", batch " << cfg.batch_size << ", "
            << h.epochs.size() << " epochs" << (h.stopped_early ? " (stopped early)" : "") << " on "
            << h.train_rows << " rows, best validation epoch " << h.best_epoch << " (" << h.val_rows
            << " rows); " << format_seconds(train_seconds) << " wall clock\n";
  std::cout << "accuracy: train " << fixed(train_acc, 4);
  if (data.has_test) std::cout << ", test " << fixed(test_acc, 4);
  std::cout << "\n";
  if (!output.empty()) std::cout << "saved:    " << output << " (" << file_bytes << " bytes)\n";
  if (qat) {
    std::cout << "qat:      " << format_name(qcfg.format) << (qcfg.learn_scales ? " (LSQ)" : "")
              << ", " << qcfg.epochs << " epochs in " << format_seconds(qat_seconds) << "; "
              << qres.model.weight_bytes() << " weight bytes ("
              << fixed(qres.model.bits_per_weight(), 3) << " bits/weight)";
    if (data.has_test) std::cout << ", test accuracy " << fixed(qat_test, 4);
    std::cout << "\n";
    if (!qat_output.empty()) {
      std::cout << "saved:    " << qat_output << " (" << qat_file_bytes << " bytes)\n";
    }
  }
  return 0;
}

}  // namespace cli
}  // namespace elmq
