// The MLP branch of `elmq quantize`: an FP32 MLP file in, a quantized MLP file out.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/common.h"
#include "cli/json.h"
#include "cli/mlp_commands.h"
#include "elm/common/errors.h"
#include "elm/common/serialize.h"
#include "quant/mlp/mlp.h"
#include "quant/mlp/quantized_mlp.h"

namespace elmq {
namespace cli {

namespace {

ArgParser make_parser() {
  ArgParser p("elmq quantize",
              "elmq quantize MLP_MODEL -o OUT --format FORMAT [--method rtn|gptq|awq] "
              "(--dataset NAME | --train-csv FILE [--test-csv FILE]) [options]",
              "Quantizes an MLP saved by 'elmq train-mlp'. Weights: round to nearest (rtn),\n"
              "GPTQ with the Hessian of each layer's inputs, or AWQ per-input-channel scaling;\n"
              "activations: int8 per row at run time (dynamic) or a calibrated uint8 range per\n"
              "layer (static). Calibration rows are the first --calibration-rows training rows\n"
              "of the data options; the test split is used to report the accuracy.");
  p.positional("MODEL", "an elmq MLP file (kind mlp)");
  add_data_options(p, DataUse::kTrain);
  p.section("quantization");
  p.option("format", "FORMAT",
           "weight format: int8, int8-g32, int4-g32, int4-g128, int4-g32-asym, int4-g128-asym, "
           "int4, int3, int2-g32-asym, int2-g64-asym, ternary, ternary-base3, f16, bf16, f32",
           "int8");
  p.option("method", "METHOD", "rtn, gptq or awq", "rtn");
  p.option("range", "RULE", "how rtn/awq choose scales: absmax or mse (clipping search)", "absmax");
  p.option("activations", "SCHEME", "dynamic or static", "dynamic");
  p.option("calibration", "METHOD",
           "static activation ranges: minmax, moving-average, percentile or mse", "minmax");
  p.option("percentile", "P", "percentile for --calibration percentile", "99.99");
  p.option("calibration-rows", "N", "training rows used for calibration", "2048");
  p.option("damp", "F", "GPTQ damping, fraction of the mean Hessian diagonal", "0.01");
  p.option("local-search", "N", "sweeps of GPTQ's code-by-code search (0: off)", "20");
  p.section("execution");
  p.option("threads", "N", "threads (0: all cores)", "0");
  p.section("output");
  p.option("output", "FILE", "save the quantized model here", "", 'o');
  p.flag("json", "print one JSON object on stdout instead of text");
  p.flag("quiet", "no progress on stderr", 'q');
  p.epilog(
      "examples:\n"
      "  elmq quantize mlp.elmq --dataset fashion-mnist --format int4-g32 --method gptq -o "
      "q4.elmq\n"
      "  elmq quantize mlp.elmq --dataset fashion-mnist --activations static "
      "--calibration mse -o q8.elmq");
  return p;
}

}  // namespace

int run_quantize_mlp(const Args& args) {
  const ArgParser parser = make_parser();
  const ParsedArgs a = parser.parse(args);
  if (a.flag("help")) {
    std::cout << parser.help();
    return 0;
  }
  const bool json = a.flag("json");
  const bool quiet = a.flag("quiet") || json;
  MlpQuantConfig cfg;
  try {
    cfg.format = parse_format(a.get("format", "int8"));
  } catch (const InvalidArgument& e) {
    throw UsageError(str_cat("--format: ", e.what()));
  }
  cfg.method = parse_weight_quant_method(a.get_choice("method", "rtn", {"rtn", "gptq", "awq"}));
  const bool mse_range = a.get_choice("range", "absmax", {"absmax", "mse"}) == "mse";
  if (mse_range) {
    cfg.range.method = RangeOptions::Method::kMseSearch;
    cfg.awq.range.method = RangeOptions::Method::kMseSearch;
  }
  cfg.activations =
      parse_activation_scheme(a.get_choice("activations", "dynamic", {"dynamic", "static"}));
  cfg.calibration.method = parse_calibration_method(
      a.get_choice("calibration", "minmax", {"minmax", "moving-average", "percentile", "mse"}));
  cfg.calibration.percentile = a.get_double("percentile", 99.99, 50.0, 100.0);
  cfg.gptq.damp = a.get_double("damp", 0.01, 0.0, 1.0);
  cfg.gptq.local_search_sweeps = static_cast<int>(a.get_int("local-search", 20, 0, 100));
  cfg.threads = threads_option(a);
  const Index cal_rows = a.get_int("calibration-rows", 2048, 1, Index{1} << 30);
  try {
    cfg.validate();
  } catch (const InvalidArgument& e) {
    throw UsageError(e.what());
  }
  const std::string output = a.get("output");
  if (output.empty()) throw UsageError("--output FILE is required");

  const std::string model_path = a.positionals()[0];
  const std::string bytes = read_file_bytes(model_path);
  if (peek_file_kind(bytes) != FileKind::kMlp) {
    throw FormatError(str_cat(model_path, " is an elmq file of kind ",
                              file_kind_name(peek_file_kind(bytes)), ", not an FP32 MLP"));
  }
  Mlp model = Mlp::from_bytes(bytes);
  model.set_threads(cfg.threads);
  LoadedData data = load_data(a, DataUse::kTrain, false);
  if (data.x_train.cols() != model.n_features()) {
    throw InvalidArgument(str_cat("elmq quantize: the data has ", data.x_train.cols(),
                                  " features, the model expects ", model.n_features()));
  }
  const RowMatrixXf cal = data.x_train.topRows(std::min(cal_rows, data.x_train.rows()));
  if (!quiet) {
    std::fprintf(stderr, "quantizing %s with %lld calibration rows of %s\n", model_path.c_str(),
                 static_cast<long long>(cal.rows()), data.description.c_str());
  }
  const auto t0 = std::chrono::steady_clock::now();
  const QuantizedMlp q = quantize_mlp(model, cfg, cal);
  const double seconds = seconds_since(t0);
  const double fp_acc = data.has_test ? model.score(data.x_test, data.y_test) : 0.0;
  const double q_acc = data.has_test ? q.score(data.x_test, data.y_test) : 0.0;
  q.save(output);
  std::error_code ec;
  const std::uintmax_t file_bytes = std::filesystem::file_size(output, ec);
  const std::uint64_t fp32_bytes = 4 * static_cast<std::uint64_t>(model.params().n_weights());

  if (json) {
    JsonWriter j;
    j.begin_object().field("command", "quantize").field("model_kind", "mlp");
    j.field("input", model_path).field("output", output);
    j.field("output_bytes", static_cast<std::uint64_t>(file_bytes));
    j.field("description", q.describe());
    j.field("format", format_name(cfg.format))
        .field("method", weight_quant_method_name(cfg.method));
    j.field("activations", activation_scheme_name(cfg.activations));
    j.field("calibration", calibration_method_name(cfg.calibration.method));
    j.field("calibration_rows", cal.rows()).field("seconds", seconds);
    j.field("fp32_weight_bytes", fp32_bytes).field("weight_bytes", q.weight_bytes());
    j.field("bits_per_weight", q.bits_per_weight());
    j.key("layer_error").begin_array();
    for (double e : q.info().layer_error) j.value(e);
    j.end_array();
    if (data.has_test) j.field("fp32_test_accuracy", fp_acc).field("test_accuracy", q_acc);
    j.end_object();
    std::cout << j.str() << "\n";
    return 0;
  }
  std::cout << "model:    " << model_path << " (MLP "
            << model.config().describe(model.n_features(), model.n_outputs()) << ")\n";
  std::cout << "quantized: " << q.describe() << " in " << format_seconds(seconds) << " ("
            << cal.rows() << " calibration rows)\n";
  std::cout << "weights:  " << q.weight_bytes() << " bytes (" << fixed(q.bits_per_weight(), 3)
            << " bits/weight; FP32 " << fp32_bytes << " bytes)\n";
  if (!q.info().layer_error.empty()) {
    std::cout << "layer relative output error:";
    for (double e : q.info().layer_error) std::cout << " " << fixed(e, 5);
    std::cout << "\n";
  }
  if (data.has_test) {
    std::cout << "accuracy: test " << fixed(q_acc, 4) << " (FP32 " << fixed(fp_acc, 4) << ", "
              << fixed(100.0 * (q_acc - fp_acc), 2) << " points)\n";
  }
  std::cout << "saved:    " << output << " (" << file_bytes << " bytes)\n";
  return 0;
}

}  // namespace cli
}  // namespace elmq
