// Reader of numeric CSV files (plain or gzip-compressed), and labels from a column.
//
// Every cell must be a finite decimal number ("1", "-2.5", "3e-4"; surrounding
// blanks and double quotes are allowed). Blank lines are skipped, "\n" and
// "\r\n" line ends both work. Missing values, NaN/Inf and text labels are
// rejected with the file, line and column of the bad cell:
//   read_csv: data.csv line 17, column 3: 'abc' is not a number
// Quoted cells may not contain line breaks.
//
//   elmq::CsvOptions opt;             // header line of names, label in the last column
//   elmq::CsvData d = elmq::read_csv("train.csv", opt);
//   elmq::LabelVector y = elmq::labels_from_column(d.y_raw, "train.csv");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elm/common/matrix.h"

namespace elmq {

struct CsvOptions {
  /// Field separator: any single byte except '"', '\r', '\n' and '\0'.
  char delimiter = ',';
  enum class Header {
    kNone,           ///< every line is data
    kNames,          ///< the first line holds column names
    kSkipFirstLine,  ///< the first line is ignored (e.g. scikit-learn's "150,4,setosa,...")
  };
  Header header = Header::kNames;
  /// Name of the label column (needs Header::kNames); empty: use label_index.
  std::string label_column;
  /// 0-based index of the label column, or -1 for the last column; used when
  /// label_column is empty and has_labels is true.
  int label_index = -1;
  /// False: every column is a feature and y_raw stays empty.
  bool has_labels = true;
  /// Read at most this many data rows (-1: all; otherwise >= 1).
  std::int64_t max_rows = -1;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

struct CsvData {
  /// Features: n x d (all columns but the label column).
  RowMatrixXf x;
  /// The label column as float, n x 1; 0 x 0 when has_labels is false.
  RowMatrixXf y_raw;
  /// Names of the d feature columns (Header::kNames only; empty otherwise).
  std::vector<std::string> feature_names;
  /// Name of the label column (Header::kNames with labels only).
  std::string label_name;
};

/// Reads a CSV file (gzip-compressed files are detected by their magic bytes).
/// @throws InvalidArgument if `options` is invalid.
/// @throws IoError if the file cannot be read.
/// @throws FormatError naming the file, line and column for: a cell that is not
///         a finite number, a line with the wrong number of fields, an empty
///         file or one without data rows, an unknown label column name, a
///         label index outside the columns, a file with only the label column.
CsvData read_csv(const std::string& path, const CsvOptions& options = {});

/// Parses CSV text already in memory; `name` stands for the file in messages.
CsvData parse_csv(const std::string& text, const std::string& name, const CsvOptions& options = {});

/// Converts a label column (n x 1, e.g. CsvData::y_raw) to integer labels.
/// `where` prefixes messages (e.g. the file name).
/// @throws InvalidArgument if y_raw is not one column, or a value is not an
///         integer or has magnitude above 2^24 (not exact in float32); the
///         message gives the row (0-based data row) and value.
LabelVector labels_from_column(const RowMatrixXf& y_raw, const char* where);

/// Quotes a text field for CSV if it contains the delimiter, a quote, a line
/// break or leading/trailing blanks (quotes are doubled); else returns it unchanged.
std::string csv_quote(const std::string& field, char delimiter = ',');

/// Writes rows of numbers as CSV with an optional header line; `names` may be
/// empty (no header) or have x.cols() entries. Values are written with the
/// shortest decimal form that reads back to the same float.
/// Names are quoted as needed (csv_quote). The file is replaced atomically.
/// @throws InvalidArgument if names has the wrong size, x has a non-finite
///         value or the delimiter is invalid; IoError if the file
///         cannot be written.
void write_csv(const std::string& path, const ConstMatrixRef& x,
               const std::vector<std::string>& names = {}, char delimiter = ',');

}  // namespace elmq
