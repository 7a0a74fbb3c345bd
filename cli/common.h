// Helpers shared by the elmq subcommands: data loading options, timing,
// progress on stderr, result printing and prediction files.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.h"
#include "elm/common/matrix.h"
#include "elm/elm_model.h"

namespace elmq {
namespace cli {

/// Which options a command takes for its data.
enum class DataUse {
  kTrain,    ///< --dataset | --train-csv [--test-csv]
  kEval,     ///< --dataset [--split] | --csv (labelled)
  kPredict,  ///< --csv (features; an optional label column is dropped)
};

/// Adds the data options of `use` to a parser.
void add_data_options(ArgParser& p, DataUse use);

/// Data as a command needs it. For classification `y_*` hold labels; for
/// regression `t_*` hold targets (n x 1) and `y_*` are empty.
struct LoadedData {
  std::string description;  ///< e.g. "iris (test_fraction 0.25, split seed 0)"
  std::string source;       ///< file(s) read
  RowMatrixXf x_train, x_test;
  LabelVector y_train, y_test;
  RowMatrixXf t_train, t_test;
  std::vector<std::string> class_names;  ///< registry datasets only
  bool has_test = false;
  double load_seconds = 0.0;
};

/// Loads what the options of `use` describe. For kEval and kPredict the rows
/// to use are in x_test / y_test / t_test (the dataset's test split by
/// default, or --split train). `regression` keeps the label column as real
/// targets instead of integer labels.
/// @throws UsageError for contradictory or missing options; elmq errors from the readers.
LoadedData load_data(const ParsedArgs& a, DataUse use, bool regression);

/// Wall-clock seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

/// A progress callback that draws "<what>: 45% (27000/60000 rows)" on stderr
/// (in place on a terminal, every 25% otherwise); an empty function when !enabled.
ProgressFn make_progress(const std::string& what, bool enabled);

/// Maps a user's thread count to the model config (0 = all cores).
int threads_option(const ParsedArgs& a);

/// A copy of `model` whose batch prediction uses `threads` threads.
ElmModel with_threads(const ElmModel& model, int threads);

/// Writes predictions as CSV to `path` ("-" = stdout): a header line, then one
/// row per sample. Classification: "label" (and "proba_<class>" columns when
/// proba is non-empty); regression: "y0", "y1", ...
/// @throws IoError if the file cannot be written.
void write_predictions(const std::string& path, const LabelVector& labels, const RowMatrixXf& proba,
                       const LabelVector& classes, const RowMatrixXf& regression);

/// "12.3 ms", "4.56 s" etc.
std::string format_seconds(double s);
/// Fixed notation with `digits` decimals.
std::string fixed(double v, int digits);

}  // namespace cli
}  // namespace elmq
