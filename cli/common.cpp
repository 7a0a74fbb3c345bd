#include "cli/common.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/serialize.h"
#include "elm/data/csv_reader.h"
#include "elm/data/datasets.h"

namespace elmq {
namespace cli {

namespace {

std::string dataset_list() {
  std::string s;
  for (const auto& n : dataset_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

void add_csv_options(ArgParser& p, DataUse use) {
  p.section("CSV files");
  p.option("header", "KIND",
           "first line of the CSV: names (column names), none (data), skip (ignored)", "names");
  p.option("delimiter", "CHAR", "field separator (one character, or 'tab')", ",");
  if (use == DataUse::kPredict) {
    p.option("label-column", "NAME", "drop this column (a label column) before predicting");
    p.option("label-index", "I", "drop the column with this 0-based index (-1: the last)");
    p.flag("no-labels", "every column is a feature (the default)");
  } else {
    p.option("label-column", "NAME", "name of the label column (needs --header names)");
    p.option("label-index", "I", "0-based index of the label column, -1 for the last", "-1");
  }
}

CsvOptions csv_options(const ParsedArgs& a, DataUse use) {
  CsvOptions o;
  const std::string header = a.get_choice("header", "names", {"names", "none", "skip"});
  o.header = header == "names"  ? CsvOptions::Header::kNames
             : header == "none" ? CsvOptions::Header::kNone
                                : CsvOptions::Header::kSkipFirstLine;
  if (a.has("delimiter")) {
    const std::string d = a.get("delimiter");
    if (d == "tab" || d == "\\t") {
      o.delimiter = '\t';
    } else if (d.size() == 1 && d[0] != '"' && d[0] != '\n' && d[0] != '\r') {
      o.delimiter = d[0];
    } else {
      throw UsageError(str_cat("--delimiter: '", d, "' is not a single character (or 'tab')"));
    }
  }
  if (a.has("label-column") && a.has("label-index")) {
    throw UsageError("--label-column and --label-index are exclusive");
  }
  if (a.has("label-column")) {
    if (o.header != CsvOptions::Header::kNames) {
      throw UsageError("--label-column needs --header names (a line of column names)");
    }
    o.label_column = a.get("label-column");
  }
  o.label_index = static_cast<int>(a.get_int("label-index", -1, -1, 1 << 24));
  if (use == DataUse::kPredict) {
    const bool drop = a.has("label-column") || a.has("label-index");
    if (drop && a.flag("no-labels")) {
      throw UsageError("--no-labels contradicts --label-column / --label-index");
    }
    o.has_labels = drop;
  }
  return o;
}

LabelVector labels_of(const CsvData& d, const std::string& path) {
  return labels_from_column(d.y_raw, (path + " (label column)").c_str());
}

constexpr std::int64_t kMaxRowsOption = std::int64_t{1} << 40;

}  // namespace

void add_data_options(ArgParser& p, DataUse use) {
  p.section("data");
  const std::string names = "a registered dataset: " + dataset_list();
  switch (use) {
    case DataUse::kTrain:
      p.option("dataset", "NAME", names);
      p.option("train-csv", "FILE", "training data as CSV (plain or .gz)");
      p.option("test-csv", "FILE", "test data as CSV, same columns as --train-csv");
      p.option("test-fraction", "F",
               "held-out fraction per class for split datasets, or to split --train-csv when "
               "no --test-csv is given",
               "0.25 for datasets, no split for CSV");
      p.option("split-seed", "N", "seed of the train/test split", "0");
      p.option("data-dir", "DIR", "directory holding the dataset's files (skips the search)");
      p.option("max-train-rows", "N", "use only the first N training rows");
      p.option("max-test-rows", "N", "use only the first N test rows");
      break;
    case DataUse::kEval:
      p.option("dataset", "NAME", names);
      p.option("split", "WHICH", "part of the dataset to evaluate: test or train", "test");
      p.option("test-fraction", "F", "as given to 'elmq train'", "0.25");
      p.option("split-seed", "N", "as given to 'elmq train'", "0");
      p.option("data-dir", "DIR", "directory holding the dataset's files (skips the search)");
      p.option("csv", "FILE", "labelled data as CSV (plain or .gz)");
      p.option("max-rows", "N", "use only the first N rows");
      break;
    case DataUse::kPredict:
      p.option("csv", "FILE", "rows to predict, as CSV (plain or .gz)");
      p.option("max-rows", "N", "use only the first N rows");
      break;
  }
  add_csv_options(p, use);
}

LoadedData load_data(const ParsedArgs& a, DataUse use, bool regression) {
  const auto start = std::chrono::steady_clock::now();
  LoadedData out;
  const bool has_dataset = a.has("dataset");
  const std::string csv_key = use == DataUse::kTrain ? "train-csv" : "csv";
  const bool has_csv = a.has(csv_key);
  if (use == DataUse::kPredict) {
    if (!has_csv) throw UsageError("--csv FILE is required");
  } else if (has_dataset == has_csv) {
    throw UsageError(str_cat("give either --dataset NAME or --", csv_key, " FILE",
                             has_dataset ? ", not both" : ""));
  }
  if (use == DataUse::kTrain && a.has("test-csv") && !has_csv) {
    throw UsageError("--test-csv goes with --train-csv; a --dataset has its own test split");
  }
  if (has_dataset) {
    if (regression) {
      throw UsageError(
          "the registered datasets are classification sets; regression needs CSV data");
    }
    for (const char* k : {"header", "delimiter", "label-column", "label-index"}) {
      if (a.has(k)) throw UsageError(str_cat("--", k, " applies to CSV files, not --dataset"));
    }
    DatasetOptions o;
    o.data_dir = a.get("data-dir");
    o.test_fraction = a.get_double("test-fraction", 0.25, 0.0, 0.9);
    o.seed = static_cast<std::uint64_t>(a.get_int("split-seed", 0, 0, INT64_MAX));
    bool eval_train = false;
    if (use == DataUse::kTrain) {
      o.max_train_rows = a.get_int("max-train-rows", -1, 1, kMaxRowsOption);
      o.max_test_rows = a.get_int("max-test-rows", -1, 1, kMaxRowsOption);
    } else {
      eval_train = a.get_choice("split", "test", {"test", "train"}) == "train";
      (eval_train ? o.max_train_rows : o.max_test_rows) =
          a.get_int("max-rows", -1, 1, kMaxRowsOption);
    }
    const std::string name = a.get("dataset");
    const auto names = dataset_names();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      throw UsageError(
          str_cat("--dataset: unknown dataset '", name, "' (known: ", dataset_list(), ")"));
    }
    DatasetSplit s = load_dataset(name, o);
    out.source = s.source;
    out.class_names = std::move(s.class_names);
    out.description = name == "fashion-mnist" ? name
                                              : str_cat(name, " (test fraction ", o.test_fraction,
                                                        ", split seed ", o.seed, ")");
    if (use == DataUse::kTrain) {
      out.x_train = std::move(s.x_train);
      out.y_train = std::move(s.y_train);
      out.has_test = s.x_test.rows() > 0;
      out.x_test = std::move(s.x_test);
      out.y_test = std::move(s.y_test);
    } else {
      out.description += eval_train ? ", train split" : ", test split";
      out.x_test = std::move(eval_train ? s.x_train : s.x_test);
      out.y_test = std::move(eval_train ? s.y_train : s.y_test);
      out.has_test = true;
      if (out.x_test.rows() == 0) {
        throw UsageError(str_cat("the ", eval_train ? "train" : "test", " split of '", name,
                                 "' is empty (--test-fraction ", o.test_fraction, ")"));
      }
    }
    out.load_seconds = seconds_since(start);
    return out;
  }

  if (a.has("data-dir")) throw UsageError("--data-dir applies to --dataset, not to CSV files");
  if (use != DataUse::kTrain) {
    if (a.has("split")) throw UsageError("--split applies to --dataset, not to --csv");
    CsvOptions o = csv_options(a, use);
    o.max_rows = a.get_int("max-rows", -1, 1, kMaxRowsOption);
    const std::string path = a.get("csv");
    CsvData d = read_csv(path, o);
    out.source = path;
    out.description = path;
    out.x_test = std::move(d.x);
    if (use == DataUse::kEval) {
      if (regression) {
        out.t_test = std::move(d.y_raw);
      } else {
        out.y_test = labels_of(d, path);
      }
    }
    out.has_test = true;
    out.load_seconds = seconds_since(start);
    return out;
  }

  // Training from CSV files.
  CsvOptions o = csv_options(a, use);
  const std::string train_path = a.get("train-csv");
  o.max_rows = a.get_int("max-train-rows", -1, 1, kMaxRowsOption);
  CsvData tr = read_csv(train_path, o);
  out.source = train_path;
  out.description = train_path;
  out.x_train = std::move(tr.x);
  if (regression) {
    out.t_train = std::move(tr.y_raw);
  } else {
    out.y_train = labels_of(tr, train_path);
  }
  if (a.has("test-csv")) {
    if (a.has("test-fraction")) {
      throw UsageError("--test-fraction splits --train-csv; it cannot be used with --test-csv");
    }
    const std::string test_path = a.get("test-csv");
    o.max_rows = a.get_int("max-test-rows", -1, 1, kMaxRowsOption);
    CsvData te = read_csv(test_path, o);
    if (te.x.cols() != out.x_train.cols()) {
      throw FormatError(str_cat("--test-csv ", test_path, " has ", te.x.cols(),
                                " feature columns, --train-csv ", train_path, " has ",
                                out.x_train.cols()));
    }
    out.source += "; " + test_path;
    out.description += " + " + test_path;
    out.x_test = std::move(te.x);
    if (regression) {
      out.t_test = std::move(te.y_raw);
    } else {
      out.y_test = labels_of(te, test_path);
    }
    out.has_test = true;
  } else if (a.has("test-fraction")) {
    const double f = a.get_double("test-fraction", 0.25, 0.0, 0.9);
    const auto seed = static_cast<std::uint64_t>(a.get_int("split-seed", 0, 0, INT64_MAX));
    // Regression rows all count as one class: a plain seeded shuffle split.
    const LabelVector strata =
        regression ? LabelVector(LabelVector::Zero(out.x_train.rows())) : out.y_train;
    const SplitIndices split = stratified_split(strata, f, seed);
    auto take = [](const RowMatrixXf& m, const std::vector<Index>& idx, Index max_rows) {
      const Index n = max_rows < 0 ? static_cast<Index>(idx.size())
                                   : std::min<Index>(max_rows, static_cast<Index>(idx.size()));
      RowMatrixXf r(n, m.cols());
      for (Index i = 0; i < n; ++i) r.row(i) = m.row(idx[static_cast<std::size_t>(i)]);
      return r;
    };
    auto take_labels = [](const LabelVector& y, const std::vector<Index>& idx, Index n) {
      LabelVector r(n);
      for (Index i = 0; i < n; ++i) r[i] = y[idx[static_cast<std::size_t>(i)]];
      return r;
    };
    const Index max_test = a.get_int("max-test-rows", -1, 1, kMaxRowsOption);
    RowMatrixXf x_tr = take(out.x_train, split.train, -1);
    RowMatrixXf x_te = take(out.x_train, split.test, max_test);
    if (regression) {
      RowMatrixXf t_tr = take(out.t_train, split.train, -1);
      out.t_test = take(out.t_train, split.test, max_test);
      out.t_train = std::move(t_tr);
    } else {
      LabelVector y_tr = take_labels(out.y_train, split.train, x_tr.rows());
      out.y_test = take_labels(out.y_train, split.test, x_te.rows());
      out.y_train = std::move(y_tr);
    }
    out.x_train = std::move(x_tr);
    out.x_test = std::move(x_te);
    out.has_test = out.x_test.rows() > 0;
    out.description += str_cat(" (test fraction ", f, ", split seed ", seed, ")");
  } else {
    if (a.has("max-test-rows")) {
      throw UsageError("--max-test-rows needs a test set (--test-csv or --test-fraction)");
    }
    if (a.has("split-seed")) throw UsageError("--split-seed needs --test-fraction");
  }
  out.load_seconds = seconds_since(start);
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

ProgressFn make_progress(const std::string& what, bool enabled) {
  if (!enabled) return {};
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  // Shared state lives in the closure; ElmModel calls it from the training thread only.
  auto last = std::make_shared<int>(-1);
  return [what, tty, last](std::int64_t done, std::int64_t total) {
    if (total <= 0) return;
    const int pct = static_cast<int>(100 * done / total);
    const int step = tty ? 1 : 25;
    if (pct / step == *last / step && done != total) return;
    if (pct == *last) return;
    *last = pct;
    std::fprintf(stderr, "%s%s: %3d%% (%lld/%lld rows)%s", tty ? "\r" : "", what.c_str(), pct,
                 static_cast<long long>(done), static_cast<long long>(total),
                 tty && done != total ? "" : "\n");
    std::fflush(stderr);
  };
}

int threads_option(const ParsedArgs& a) {
  return static_cast<int>(a.get_int("threads", 0, 0, 4096));
}

ElmModel with_threads(const ElmModel& model, int threads) {
  ElmModel copy = model;
  copy.set_threads(threads);
  return copy;
}

void write_predictions(const std::string& path, const LabelVector& labels, const RowMatrixXf& proba,
                       const LabelVector& classes, const RowMatrixXf& regression) {
  std::string s;
  char buf[64];
  auto put_float = [&](float v) {
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    s.append(buf, res.ptr);
  };
  if (regression.size() > 0) {
    for (Index j = 0; j < regression.cols(); ++j) s += (j ? ",y" : "y") + std::to_string(j);
    s += '\n';
    for (Index i = 0; i < regression.rows(); ++i) {
      for (Index j = 0; j < regression.cols(); ++j) {
        if (j) s += ',';
        put_float(regression(i, j));
      }
      s += '\n';
    }
  } else {
    s += "label";
    if (proba.size() > 0) {
      for (Index c = 0; c < classes.size(); ++c) s += ",proba_" + std::to_string(classes[c]);
    }
    s += '\n';
    for (Index i = 0; i < labels.size(); ++i) {
      s += std::to_string(labels[i]);
      if (proba.size() > 0) {
        for (Index c = 0; c < proba.cols(); ++c) {
          s += ',';
          put_float(proba(i, c));
        }
      }
      s += '\n';
    }
  }
  if (path == "-") {
    if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size() || std::fflush(stdout) != 0) {
      throw IoError("cannot write the predictions to standard output");
    }
    return;
  }
  write_file_bytes(path, s);
}

std::string format_seconds(double s) {
  if (s < 1e-3) return fixed(s * 1e6, 1) + " us";
  if (s < 1.0) return fixed(s * 1e3, 1) + " ms";
  return fixed(s, 2) + " s";
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace cli
}  // namespace elmq
