// elmq quantize: turn a saved FP32 model into a quantized one and report its
// accuracy, size and the time it took.
//
// The command dispatches on the kind of the input file (peek_file_kind)
// before parsing any option, since each kind has its own options: ELM models
// go to quantize_elm_command below; other kinds (e.g. MLP models) get their
// own branch in run_quantize, which receives the raw arguments.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/json.h"
#include "cli/mlp_commands.h"
#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/serialize.h"
#include "elm/elm_model.h"
#include "quant/elm/quantize_elm.h"
#include "quant/formats.h"

namespace elmq {
namespace cli {

namespace {

ArgParser make_parser() {
  ArgParser p("elmq quantize", "elmq quantize MODEL [-o OUT] [options]",
              "Quantizes a saved model: the output weights (beta) to --format by round to\n"
              "nearest (rtn) or GPTQ, optionally the input weights W to --w-format (beta is\n"
              "then solved again on the quantized W), and chooses how the integer kernels\n"
              "quantize inputs and hidden activations. Prints accuracy (with data), size in\n"
              "bytes and bits per weight, and the time taken.\n\n"
              "GPTQ uses the training Gram matrix: save the model with 'elmq train\n"
              "--save-training-state', or give the training data. Re-solving beta after W\n"
              "changes needs the training data: the same --dataset (or --train-csv) and\n"
              "split options the model was trained with.");
  p.positional("MODEL", "an elmq model file (from 'elmq train -o')");
  p.section("quantization");
  p.option("format", "FORMAT",
           "output weights beta: f32, f16, bf16, int8, int8-g32, int4, int4-g32, int4-g128, int3,\n"
           "int4-g32-asym, int4-g128-asym, int2-g32-asym, int2-g64-asym, ternary, ternary-base3",
           "int8");
  p.option("method", "METHOD", "rtn (round to nearest) or gptq", "rtn");
  p.option("w-format", "FORMAT", "input weights W (same names as --format)", "f32");
  p.flag("no-resolve", "keep beta as it is when W changes (no data needed)");
  p.option("activations", "MODE",
           "hidden activations: dynamic (int8, scale per row) or int8 (static scale:\n"
           "tanh 1/127, sigmoid uint8 1/255)",
           "dynamic");
  p.option("inputs", "MODE",
           "inputs: dynamic (int8, scale per row) or uint8 (byte data such as pixels,\n"
           "exact; the scaler is folded into W)",
           "dynamic");
  p.option("lambda-scale", "F", "re-solve beta with the model's lambda times F first", "1");
  p.option("range", "METHOD", "range of each scale group: mse (search) or absmax", "mse");
  p.section("GPTQ");
  p.option("block-size", "N", "columns per lazy batch update", "128");
  p.flag("act-order", "visit hidden units by decreasing Gram diagonal (static groups)");
  p.option("damp", "F", "extra damping of the Hessian diagonal, fraction of its mean", "0");
  p.flag("no-refit", "do not refit scales by least squares after GPTQ");
  p.flag("no-rtn-fallback", "do not keep RTN's codes for rows where they are better");
  p.option("local-search", "N", "sweeps of the code-by-code search after GPTQ (0: off)", "20");
  add_data_options(p, DataUse::kTrain);
  p.section("output");
  p.option("output", "FILE", "save the quantized model here", "", 'o');
  p.option("threads", "N", "threads (0: all cores)", "0");
  p.flag("json", "print one JSON object on stdout instead of text");
  p.flag("quiet", "no warnings on stderr (errors still print)", 'q');
  p.epilog(
      "examples:\n"
      "  elmq train --dataset fashion-mnist --hidden 2048:tanh --save-training-state -o fp32.elmq\n"
      "  elmq quantize fp32.elmq --format int4-g32 --method gptq --dataset fashion-mnist -o "
      "q.elmq\n"
      "  elmq quantize fp32.elmq --w-format int8 --format int8 --activations int8 \\\n"
      "      --dataset fashion-mnist -o q8.elmq\n");
  return p;
}

// The model file among the arguments, found before any parsing: the first
// argument naming a regular file that starts with the elmq magic, skipping
// the value of -o/--output (an earlier output may exist). Empty if none.
std::string find_model_argument(const Args& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s == "--") continue;
    if (s == "-o" || s == "--output") {
      ++i;
      continue;
    }
    if (s.empty() || s[0] == '-') continue;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(s, ec)) continue;
    std::ifstream in(s, std::ios::binary);
    char magic[sizeof kFileMagic] = {};
    if (in.read(magic, sizeof magic) && std::equal(magic, magic + sizeof magic, kFileMagic)) {
      return s;
    }
  }
  return "";
}

bool has_data_options(const ParsedArgs& a) { return a.has("dataset") || a.has("train-csv"); }

QuantFormat format_option(const ParsedArgs& a, const std::string& name,
                          const std::string& fallback) {
  try {
    return parse_format(a.get(name, fallback));
  } catch (const InvalidArgument& e) {
    throw UsageError(str_cat("--", name, ": ", e.what()));
  }
}

ElmQuantConfig elm_quant_config(const ParsedArgs& a) {
  ElmQuantConfig c;
  c.beta_format = format_option(a, "format", "int8");
  c.w_format = format_option(a, "w-format", "f32");
  c.beta_method = parse_quant_method(a.get_choice("method", "rtn", {"rtn", "gptq"}));
  c.resolve_beta_after_w = !a.flag("no-resolve");
  c.hidden =
      parse_hidden_quant(a.get_choice("activations", "dynamic", {"dynamic", "int8", "static"}));
  c.input = parse_input_quant(a.get_choice("inputs", "dynamic", {"dynamic", "uint8"}));
  c.lambda_scale = a.get_double("lambda-scale", 1.0, 1e-12, 1e12);
  if (!(c.lambda_scale > 0.0)) throw UsageError("--lambda-scale must be > 0");
  const bool absmax = a.get_choice("range", "mse", {"mse", "absmax"}) == "absmax";
  const auto method = absmax ? RangeOptions::Method::kAbsMax : RangeOptions::Method::kMseSearch;
  c.beta_range.method = method;
  c.w_range.method = method;
  c.gptq.block_size = a.get_int("block-size", 128, 1, 65536);
  c.gptq.act_order = a.flag("act-order");
  c.gptq.damp = a.get_double("damp", 0.0, 0.0, 1.0);
  c.gptq.refit_scales = !a.flag("no-refit");
  c.gptq.keep_better_rtn = !a.flag("no-rtn-fallback");
  c.gptq.local_search_sweeps = static_cast<int>(a.get_int("local-search", 20, 0, 100));
  c.threads = threads_option(a);
  return c;
}

std::string human_bytes(double b) {
  if (b >= 1e6) return fixed(b / 1e6, 2) + " MB";
  if (b >= 1e3) return fixed(b / 1e3, 1) + " KB";
  return fixed(b, 0) + " B";
}

int quantize_elm_command(const Args& args, const std::string& model_path,
                         const std::string& bytes) {
  const ArgParser parser = make_parser();
  const ParsedArgs a = parser.parse(args);
  if (a.flag("help")) {
    std::cout << parser.help();
    return 0;
  }
  if (a.positionals()[0] != model_path) {
    throw UsageError(
        str_cat("expected one model file, got '", a.positionals()[0], "' and '", model_path, "'"));
  }
  const bool json = a.flag("json");
  const ElmModel model = ElmModel::from_bytes(bytes);
  const ElmQuantConfig cfg = elm_quant_config(a);
  const bool regression = model.task() == Task::kRegression;
  const ElmQuantNeeds needs = quantization_needs(model, cfg);
  if (needs.data && !has_data_options(a)) {
    throw UsageError(str_cat(needs.reason,
                             ": give the training data with --dataset NAME or "
                             "--train-csv FILE (as given to 'elmq train')",
                             needs.resolve ? ", or --no-resolve" : ""));
  }
  if (needs.data && model.task() == Task::kMultilabel) {
    throw UsageError(str_cat(model_path, " is a multilabel model: ", needs.reason,
                             ", which this command cannot do (use the C++ or Python API)"));
  }

  std::optional<LoadedData> data;
  if (has_data_options(a)) {
    data = load_data(a, DataUse::kTrain, regression);
    if (data->x_train.cols() != model.n_features()) {
      throw InvalidArgument(str_cat(data->description, " has ", data->x_train.cols(), " features, ",
                                    model_path, " expects ", model.n_features()));
    }
    if (!a.flag("quiet") && model.has_training_state() && needs.data &&
        model.training_stats().rows() != data->x_train.rows()) {
      std::cerr << "elmq quantize: warning: the model was trained on "
                << model.training_stats().rows() << " rows, " << data->description << " has "
                << data->x_train.rows() << " training rows\n";
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  QuantizedElm q = [&] {
    if (!needs.data) return quantize_elm(model, cfg);
    if (regression) return quantize_elm_targets(model, cfg, data->x_train, data->t_train);
    return quantize_elm(model, cfg, data->x_train, data->y_train);
  }();
  const double seconds = seconds_since(t0);

  std::uint64_t file_bytes = 0;
  const std::string output = a.get("output");
  if (!output.empty()) {
    const std::string image = q.to_bytes();
    write_file_bytes(output, image);
    file_bytes = image.size();
  }

  // Quality on the test split, next to the FP32 model's.
  const bool has_test = data && data->has_test && data->x_test.rows() > 0;
  double score = 0.0, fp32_score = 0.0;
  if (has_test) {
    const ElmModel fp32 = with_threads(model, cfg.threads);
    if (regression) {
      score = q.score_regression(data->x_test, data->t_test);
      fp32_score = fp32.score_regression(data->x_test, data->t_test);
    } else if (model.task() == Task::kClassification) {
      score = q.score(data->x_test, data->y_test);
      fp32_score = fp32.score(data->x_test, data->y_test);
    }
  }
  const bool scored = has_test && model.task() != Task::kMultilabel;
  const char* metric = regression ? "r2" : "accuracy";
  const ElmQuantInfo& info = q.info();
  const double ratio = static_cast<double>(q.fp32_bytes()) / static_cast<double>(q.bytes());

  if (json) {
    JsonWriter j;
    j.begin_object().field("command", "quantize").field("model", model_path);
    j.field("kind", file_kind_name(FileKind::kElm));
    j.field("task", task_name(model.task()));
    j.field("n_features", q.n_features()).field("n_hidden", q.n_hidden());
    j.field("n_outputs", q.n_outputs()).field("hidden", model.config().hidden.describe());
    j.field("training_state", model.has_training_state());
    j.field("w_format", format_name(q.input_weights().format()));
    j.field("beta_format", format_name(q.output_weights().format()));
    j.field("beta_method", quant_method_name(info.beta_method));
    j.field("inputs", input_quant_name(q.input_quant()));
    j.field("activations", hidden_quant_name(q.hidden_quant()));
    j.field("range", range_method_name(cfg.beta_range.method));
    j.field("w_exact", info.w_exact).field("w_relative_error", info.w_relative_error);
    j.field("beta_resolved", info.beta_resolved);
    j.field("lambda", info.lambda).field("lambda_scale", cfg.lambda_scale);
    j.field("ridge_objective", info.ridge_objective);
    j.field("beta_loss", info.beta_loss).field("beta_rtn_loss", info.beta_rtn_loss);
    j.field("gptq_rtn_rows", info.gptq_rtn_rows).field("gptq_damp", info.gptq_damp);
    j.field("bytes", q.bytes()).field("fp32_bytes", q.fp32_bytes());
    j.field("compression", ratio).field("bits_per_weight", q.bits_per_weight());
    j.field("w_bits_per_weight", q.input_weights().bits_per_weight());
    j.field("beta_bits_per_weight", q.output_weights().bits_per_weight());
    j.field("seconds", seconds).field("w_seconds", info.w_seconds);
    j.field("solve_seconds", info.solve_seconds).field("beta_seconds", info.beta_seconds);
    j.field("threads_used", resolve_threads(cfg.threads));
    j.key("output");
    output.empty() ? j.null() : j.value(output);
    j.field("file_bytes", file_bytes);
    j.key("data");
    data ? j.value(data->description) : j.null();
    j.key(metric);
    scored ? j.value(score) : j.null();
    j.key(std::string("fp32_") + metric);
    scored ? j.value(fp32_score) : j.null();
    j.end_object();
    std::cout << j.str() << "\n";
    return 0;
  }

  std::cout << "model:        " << model_path << " (" << task_name(model.task()) << ", "
            << model.config().hidden.describe() << ", " << model.n_features() << " features, "
            << model.n_outputs() << " outputs"
            << (model.has_training_state() ? ", training state stored" : "") << ")\n";
  std::cout << "quantized:    W " << format_name(q.input_weights().format())
            << (info.w_exact ? " (exact)"
                             : " (rtn, relative error " + fixed(info.w_relative_error, 4) + ")")
            << ", beta " << format_name(q.output_weights().format()) << " ("
            << quant_method_name(info.beta_method) << "), inputs "
            << input_quant_name(q.input_quant()) << ", activations "
            << hidden_quant_name(q.hidden_quant()) << "\n";
  std::cout << "beta:         " << (info.beta_resolved ? "re-solved" : "as trained") << ", lambda "
            << info.lambda << "\n";
  if (std::isfinite(info.beta_loss)) {
    std::cout << "objective:    +" << info.beta_loss;
    if (std::isfinite(info.beta_rtn_loss)) std::cout << " (RTN +" << info.beta_rtn_loss << ")";
    if (std::isfinite(info.ridge_objective)) {
      std::cout << " over the ridge objective " << info.ridge_objective;
    }
    if (info.beta_method == QuantMethod::kGptq) {
      std::cout << "; RTN kept for " << info.gptq_rtn_rows << " of " << q.n_outputs() << " outputs";
    }
    std::cout << "\n";
  }
  if (scored) {
    std::cout << (regression ? "R^2:          " : "accuracy:     ") << fixed(score, 4) << " (FP32 "
              << fixed(fp32_score, 4) << ", " << data->description << " test split, "
              << data->x_test.rows() << " rows)\n";
  }
  std::cout << "size:         " << human_bytes(static_cast<double>(q.bytes()))
            << " of parameters (FP32 " << human_bytes(static_cast<double>(q.fp32_bytes())) << ", "
            << fixed(ratio, 2) << "x smaller), " << fixed(q.bits_per_weight(), 3)
            << " bits per weight; W " << fixed(q.input_weights().bits_per_weight(), 3) << ", beta "
            << fixed(q.output_weights().bits_per_weight(), 3) << "\n";
  std::cout << "time:         " << format_seconds(seconds) << " (W "
            << format_seconds(info.w_seconds) << ", solve " << format_seconds(info.solve_seconds)
            << ", beta " << format_seconds(info.beta_seconds) << ")\n";
  if (!output.empty()) {
    std::cout << "saved:        " << output << " (" << file_bytes << " bytes)\n";
  }
  return 0;
}

}  // namespace

int run_quantize(const Args& args) {
  // Each kind of model has its own options, so the kind is found before any
  // option is parsed.
  const std::string path = find_model_argument(args);
  if (path.empty()) {
    // No model file among the arguments: --help, or a usage error from the ELM parser.
    const ArgParser parser = make_parser();
    const ParsedArgs a = parser.parse(args);
    if (a.flag("help")) {
      std::cout << parser.help();
      return 0;
    }
    const std::string& p = a.positionals()[0];
    const std::string bytes = read_file_bytes(p);  // IoError if unreadable
    try {
      peek_file_kind(bytes);
    } catch (const FormatError& e) {
      throw FormatError(str_cat(p, ": ", e.what()));
    }
    throw UsageError(str_cat(p, " is not an elmq model file"));
  }
  const std::string bytes = read_file_bytes(path);
  const FileKind kind = peek_file_kind(bytes);  // validates magic, size and checksum
  switch (kind) {
    case FileKind::kElm:
      return quantize_elm_command(args, path, bytes);
    case FileKind::kMlp:
      return run_quantize_mlp(args);
    case FileKind::kQuantizedElm:
    case FileKind::kQuantizedMlp:
      throw InvalidArgument(str_cat(path, " is already quantized (", file_kind_name(kind), ")"));
    default:
      throw InvalidArgument(str_cat(path, " holds a ", file_kind_name(kind),
                                    " model, which 'elmq quantize' does not support yet"));
  }
}

}  // namespace cli
}  // namespace elmq
