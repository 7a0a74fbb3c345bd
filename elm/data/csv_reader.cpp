#include "elm/data/csv_reader.h"

#include <charconv>
#include <cmath>
#include <deque>
#include <limits>
#include <string_view>

#include "elm/common/errors.h"
#include "elm/common/serialize.h"
#include "elm/data/detail/file_bytes.h"

namespace elmq {

namespace {

const char* header_name(CsvOptions::Header h) {
  switch (h) {
    case CsvOptions::Header::kNone:
      return "none";
    case CsvOptions::Header::kNames:
      return "names";
    case CsvOptions::Header::kSkipFirstLine:
      return "skip-first-line";
  }
  return "?";
}

// Shortens a cell for an error message.
std::string quote_cell(std::string_view s) {
  constexpr std::size_t kMax = 40;
  if (s.size() <= kMax) return "'" + std::string(s) + "'";
  return "'" + std::string(s.substr(0, kMax)) + "...'";
}

bool is_blank_char(char c, char delimiter) { return (c == ' ' || c == '\t') && c != delimiter; }

std::string_view trim(std::string_view s, char delimiter) {
  while (!s.empty() && is_blank_char(s.front(), delimiter)) s.remove_prefix(1);
  while (!s.empty() && is_blank_char(s.back(), delimiter)) s.remove_suffix(1);
  return s;
}

class LineSplitter {
 public:
  LineSplitter(char delimiter, const std::string& ctx) : delim_(delimiter), ctx_(ctx) {}

  // Splits one line (without its line end) into fields; quoted fields lose
  // their quotes and "" becomes ". Views stay valid until the next call.
  const std::vector<std::string_view>& split(std::string_view line, std::int64_t line_no) {
    fields_.clear();
    scratch_.clear();
    std::size_t i = 0;
    for (;;) {
      // Skip leading blanks to see whether the field is quoted.
      std::size_t j = i;
      while (j < line.size() && is_blank_char(line[j], delim_)) ++j;
      if (j < line.size() && line[j] == '"') {
        std::string unq;
        bool closed = false;
        std::size_t k = j + 1;
        for (; k < line.size(); ++k) {
          if (line[k] == '"') {
            if (k + 1 < line.size() && line[k + 1] == '"') {
              unq += '"';
              ++k;
            } else {
              closed = true;
              ++k;
              break;
            }
          } else {
            unq += line[k];
          }
        }
        if (!closed) {
          throw FormatError(str_cat(ctx_, " line ", line_no, ", column ", fields_.size() + 1,
                                    ": unterminated quote (quoted cells may not span lines)"));
        }
        while (k < line.size() && is_blank_char(line[k], delim_)) ++k;
        if (k < line.size() && line[k] != delim_) {
          throw FormatError(str_cat(ctx_, " line ", line_no, ", column ", fields_.size() + 1,
                                    ": unexpected text after a closing quote"));
        }
        scratch_.push_back(std::move(unq));
        fields_.emplace_back(scratch_.back());
        if (k >= line.size()) break;
        i = k + 1;
      } else {
        const std::size_t end = line.find(delim_, i);
        const std::string_view f =
            line.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
        fields_.push_back(trim(f, delim_));
        if (end == std::string_view::npos) break;
        i = end + 1;
      }
    }
    return fields_;
  }

 private:
  char delim_;
  const std::string& ctx_;
  std::vector<std::string_view> fields_;
  std::deque<std::string> scratch_;  // deque: push_back keeps earlier strings in place
};

// Distinguishes underflow (→ 0) from overflow when from_chars reports out of range.
bool looks_like_underflow(std::string_view s) {
  const std::size_t e = s.find_first_of("eE");
  if (e != std::string_view::npos) {
    return e + 1 < s.size() && s[e + 1] == '-';
  }
  for (char c : s) {
    if (c >= '1' && c <= '9') return false;
    if (c == '.') return true;
  }
  return true;
}

// Parses a finite float; returns an empty string on success, else the reason.
std::string parse_number(std::string_view cell, float* out) {
  if (cell.empty()) return "empty cell (missing values are not supported)";
  std::string_view s = cell;
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  double v = 0.0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  if (res.ec == std::errc::invalid_argument || res.ptr != s.data() + s.size()) {
    return quote_cell(cell) + " is not a number";
  }
  if (res.ec == std::errc::result_out_of_range) {
    if (!looks_like_underflow(s)) return quote_cell(cell) + " is out of the float32 range";
    v = 0.0;
  }
  if (!std::isfinite(v)) return quote_cell(cell) + " is not a finite number";
  if (std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max())) {
    return quote_cell(cell) + " is out of the float32 range";
  }
  *out = static_cast<float>(v);
  return {};
}

}  // namespace

std::string csv_quote(const std::string& field, char delimiter) {
  const bool needs = field.find_first_of(std::string("\"\r\n") + delimiter) != std::string::npos ||
                     (!field.empty() && (is_blank_char(field.front(), delimiter) ||
                                         is_blank_char(field.back(), delimiter)));
  if (!needs) return field;
  std::string q = "\"";
  for (char c : field) {
    if (c == '"') q += '"';
    q += c;
  }
  q += '"';
  return q;
}

void CsvOptions::validate() const {
  ELMQ_CHECK_ARG(delimiter != '"' && delimiter != '\n' && delimiter != '\r' && delimiter != '\0',
                 "CsvOptions: delimiter must be a single byte other than '\"', CR, LF and NUL");
  ELMQ_CHECK_ARG(
      header == Header::kNone || header == Header::kNames || header == Header::kSkipFirstLine,
      "CsvOptions: header has an invalid value ", static_cast<int>(header));
  ELMQ_CHECK_ARG(label_index >= -1,
                 "CsvOptions: label_index must be -1 (last column) or >= 0, got ", label_index);
  ELMQ_CHECK_ARG(max_rows == -1 || max_rows >= 1,
                 "CsvOptions: max_rows must be -1 (all) or >= 1, got ", max_rows);
  ELMQ_CHECK_ARG(
      label_column.empty() || header == Header::kNames, "CsvOptions: label_column '", label_column,
      "' needs header = kNames (a line of column names), got header = ", header_name(header));
}

CsvData parse_csv(const std::string& text, const std::string& name, const CsvOptions& options) {
  options.validate();
  const std::string ctx = "read_csv: " + name;
  std::string_view rest(text);
  if (rest.size() >= 3 && rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // UTF-8 BOM
  if (rest.empty()) throw FormatError(ctx + ": the file is empty");

  LineSplitter splitter(options.delimiter, ctx);
  CsvData out;
  std::vector<std::string> names;
  std::vector<float> xs, ys;
  std::int64_t line_no = 0;
  std::int64_t rows = 0;
  std::size_t n_fields = 0;  // 0 until known
  std::int64_t fields_line = 0;
  std::size_t label_col = 0;
  bool first_line = true;
  bool label_known = false;

  // Fixes the column count and resolves the label column once it is known.
  auto set_columns = [&](std::size_t count, std::int64_t at_line) {
    n_fields = count;
    fields_line = at_line;
    if (!options.has_labels) return;
    if (!options.label_column.empty()) {
      bool found = false;
      for (std::size_t c = 0; c < names.size(); ++c) {
        if (names[c] == options.label_column) {
          label_col = c;
          found = true;
          break;
        }
      }
      if (!found) {
        std::string list;
        for (std::size_t c = 0; c < names.size() && c < 20; ++c) {
          list += (c ? ", " : "") + names[c];
        }
        if (names.size() > 20) list += ", ...";
        throw FormatError(
            str_cat(ctx, ": no column named '", options.label_column, "' (columns: ", list, ")"));
      }
    } else if (options.label_index < 0) {
      label_col = count - 1;
    } else {
      if (static_cast<std::size_t>(options.label_index) >= count) {
        throw FormatError(str_cat(ctx, ": label_index ", options.label_index, " is outside the ",
                                  count, " columns"));
      }
      label_col = static_cast<std::size_t>(options.label_index);
    }
    if (count < 2) {
      throw FormatError(str_cat(ctx, ": only 1 column, the label column; no features"));
    }
    label_known = true;
  };

  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line, options.delimiter).empty()) continue;

    if (first_line) {
      first_line = false;
      if (options.header == CsvOptions::Header::kSkipFirstLine) continue;
      if (options.header == CsvOptions::Header::kNames) {
        const auto& f = splitter.split(line, line_no);
        names.assign(f.begin(), f.end());
        set_columns(names.size(), line_no);
        continue;
      }
    }

    const auto& fields = splitter.split(line, line_no);
    if (n_fields == 0) set_columns(fields.size(), line_no);
    if (fields.size() != n_fields) {
      throw FormatError(str_cat(ctx, " line ", line_no, ": ", fields.size(), " fields, expected ",
                                n_fields, " (as on line ", fields_line, ")"));
    }
    for (std::size_t c = 0; c < n_fields; ++c) {
      float v = 0.0f;
      const std::string why = parse_number(fields[c], &v);
      if (!why.empty()) {
        throw FormatError(str_cat(ctx, " line ", line_no, ", column ", c + 1, ": ", why));
      }
      if (label_known && c == label_col) {
        ys.push_back(v);
      } else {
        xs.push_back(v);
      }
    }
    ++rows;
    if (options.max_rows > 0 && rows >= options.max_rows) break;
  }

  if (rows == 0) {
    throw FormatError(
        str_cat(ctx, ": no data rows", line_no > 0 ? " (only a header line or blank lines)" : ""));
  }
  const Index d = static_cast<Index>(n_fields) - (label_known ? 1 : 0);
  out.x = Eigen::Map<const RowMatrixXf>(xs.data(), rows, d);
  if (label_known) {
    out.y_raw = Eigen::Map<const RowMatrixXf>(ys.data(), rows, 1);
    if (!names.empty()) out.label_name = names[label_col];
  }
  if (!names.empty()) {
    for (std::size_t c = 0; c < names.size(); ++c) {
      if (!(label_known && c == label_col)) out.feature_names.push_back(names[c]);
    }
  }
  return out;
}

CsvData read_csv(const std::string& path, const CsvOptions& options) {
  options.validate();
  return parse_csv(detail::read_data_file(path, "read_csv"), path, options);
}

LabelVector labels_from_column(const RowMatrixXf& y_raw, const char* where) {
  ELMQ_CHECK_ARG(y_raw.cols() == 1, where, ": labels must be one column, got ", y_raw.rows(), " x ",
                 y_raw.cols());
  constexpr float kMaxExact = 16777216.0f;  // 2^24: every integer up to here is exact in float32
  LabelVector y(y_raw.rows());
  for (Index i = 0; i < y_raw.rows(); ++i) {
    const float v = y_raw(i, 0);
    ELMQ_CHECK_ARG(std::isfinite(v) && v == std::nearbyint(v), where, ": label of row ", i, " is ",
                   v, ", not an integer");
    ELMQ_CHECK_ARG(std::fabs(v) <= kMaxExact, where, ": label of row ", i, " is ", v,
                   ", larger in magnitude than 2^24 (not exact in float32)");
    y[i] = static_cast<std::int64_t>(v);
  }
  return y;
}

void write_csv(const std::string& path, const ConstMatrixRef& x,
               const std::vector<std::string>& names, char delimiter) {
  ELMQ_CHECK_ARG(names.empty() || static_cast<Index>(names.size()) == x.cols(),
                 "write_csv: names has ", names.size(), " entries, x has ", x.cols(), " columns");
  ELMQ_CHECK_ARG(delimiter != '"' && delimiter != '\n' && delimiter != '\r' && delimiter != '\0',
                 "write_csv: delimiter must be a single byte other than '\"', CR, LF and NUL");
  check_finite(x, "write_csv", "x");
  std::string s;
  s.reserve(static_cast<std::size_t>(x.size()) * 8 + 64);
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (c) s += delimiter;
    s += csv_quote(names[c], delimiter);
  }
  if (!names.empty()) s += '\n';
  char buf[64];
  for (Index i = 0; i < x.rows(); ++i) {
    for (Index j = 0; j < x.cols(); ++j) {
      if (j) s += delimiter;
      const auto res = std::to_chars(buf, buf + sizeof buf, x(i, j));
      s.append(buf, res.ptr);
    }
    s += '\n';
  }
  write_file_bytes(path, s);
}

}  // namespace elmq
