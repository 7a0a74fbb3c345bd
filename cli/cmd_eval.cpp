// elmq eval: accuracy (or R^2), batch throughput and single-row latency of a saved model.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/eval_model.h"
#include "cli/json.h"
#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/serialize.h"
#include "quant/cpu_features.h"

namespace elmq {
namespace cli {

namespace {

ArgParser make_parser() {
  ArgParser p("elmq eval",
              "elmq eval MODEL (--dataset NAME [--split test|train] | --csv FILE) "
              "[options]",
              "Evaluates a saved model: accuracy (R^2 for regression), batch prediction\n"
              "throughput in rows per second, and the latency of one-row prediction\n"
              "(the model's decision_row) as p50/p99 over up to --latency-rows rows.");
  p.positional("MODEL",
               "an elmq model file: an ELM or MLP, FP32 or quantized ('elmq train', "
               "'elmq train-mlp', 'elmq quantize')");
  add_data_options(p, DataUse::kEval);
  p.section("measurement");
  p.option("threads", "N", "threads for batch prediction (0: all cores)", "0");
  p.option("latency-rows", "N", "rows timed one by one for the latency percentiles (0: skip)",
           "2000");
  p.option("min-time", "SECONDS", "repeat the batch prediction for at least this long", "0.2");
  p.section("output");
  p.flag("json", "print one JSON object on stdout instead of text");
  return p;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

int run_eval(const Args& args) {
  const ArgParser parser = make_parser();
  const ParsedArgs a = parser.parse(args);
  if (a.flag("help")) {
    std::cout << parser.help();
    return 0;
  }
  const bool json = a.flag("json");
  const int threads = threads_option(a);
  const Index latency_rows = a.get_int("latency-rows", 2000, 0, Index{1} << 30);
  const double min_time = a.get_double("min-time", 0.2, 0.0, 3600.0);

  const std::string model_path = a.positionals()[0];
  const std::unique_ptr<EvalModel> model = load_eval_model(model_path, threads);
  const bool regression = model->task() == Task::kRegression;
  LoadedData data = load_data(a, DataUse::kEval, regression);
  const RowMatrixXf& x = data.x_test;
  if (x.cols() != model->n_features()) {
    throw InvalidArgument(str_cat(data.description, " has ", x.cols(), " features, ", model_path,
                                  " expects ", model->n_features()));
  }
  if (regression && data.t_test.cols() != model->n_outputs()) {
    throw InvalidArgument(str_cat(data.description, " has ", data.t_test.cols(),
                                  " target column(s), ", model_path, " predicts ",
                                  model->n_outputs()));
  }

  // Quality.
  const double score =
      regression ? model->score_regression(x, data.t_test) : model->score(x, data.y_test);

  // Batch throughput: whole-set prediction, repeated until min_time has passed.
  std::int64_t reps = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double batch_seconds = 0.0;
  do {
    model->predict_batch(x);
    ++reps;
    batch_seconds = seconds_since(t0);
  } while (batch_seconds < min_time && reps < 100000);
  const double rows_per_second = static_cast<double>(reps * x.rows()) / batch_seconds;

  // Single-row latency with a reused workspace (the real-time path).
  const Index n_lat = std::min<Index>(latency_rows, x.rows());
  std::vector<double> lat_us;
  lat_us.reserve(static_cast<std::size_t>(n_lat));
  if (n_lat > 0) {
    std::vector<float> out(static_cast<std::size_t>(model->n_outputs()));
    model->decision_row(x.row(0).data(), out.data());  // warm-up: sizes the workspace
    for (Index i = 0; i < n_lat; ++i) {
      const auto s = std::chrono::steady_clock::now();
      model->decision_row(x.row(i).data(), out.data());
      lat_us.push_back(seconds_since(s) * 1e6);
    }
  }
  const double p50 = n_lat > 0 ? percentile(lat_us, 0.50) : 0.0;
  const double p99 = n_lat > 0 ? percentile(lat_us, 0.99) : 0.0;

  const char* metric = regression ? "r2" : "accuracy";
  if (json) {
    JsonWriter j;
    j.begin_object().field("command", "eval").field("model", model_path);
    j.field("kind", file_kind_name(model->kind())).field("task", task_name(model->task()));
    j.field("data", data.description).field("rows", x.rows()).field("n_features", x.cols());
    j.field(metric, score);
    j.field("threads", threads).field("threads_used", resolve_threads(threads));
    j.field("kernel_path", kernel_path_name(active_kernel_path()));
    j.field("kernel_dispatch", kernel_dispatch_report());
    j.field("batch_repeats", reps).field("batch_seconds", batch_seconds);
    j.field("rows_per_second", rows_per_second);
    j.field("latency_rows", n_lat);
    j.key("latency_p50_us");
    n_lat > 0 ? j.value(p50) : j.null();
    j.key("latency_p99_us");
    n_lat > 0 ? j.value(p99) : j.null();
    j.end_object();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::cout << "model:      " << model_path << " (" << model->description() << ")\n";
  std::cout << "data:       " << data.description << ", " << x.rows() << " x " << x.cols() << "\n";
  std::cout << (regression ? "R^2:        " : "accuracy:   ") << fixed(score, 4) << "\n";
  std::cout << "throughput: " << fixed(rows_per_second, 0) << " rows/s (batch of " << x.rows()
            << " rows x " << reps << ", "
            << (threads == 0 ? std::string("all cores")
                             : std::to_string(threads) + (threads == 1 ? " thread" : " threads"))
            << ")\n";
  std::cout << "kernels:    " << kernel_dispatch_report() << "\n";
  if (n_lat > 0) {
    std::cout << "latency:    p50 " << fixed(p50, 2) << " us, p99 " << fixed(p99, 2)
              << " us (one row at a time, " << n_lat << " rows)\n";
  }
  return 0;
}

}  // namespace cli
}  // namespace elmq
