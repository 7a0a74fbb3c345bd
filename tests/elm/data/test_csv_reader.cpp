#include <gtest/gtest.h>

#include "elm/common/errors.h"
#include "elm/data/csv_reader.h"
#include "tests/elm/data/test_util.h"

namespace elmq {
namespace {

using testing_util::gzip;
using testing_util::TempDir;
using testing_util::write_bytes;

CsvData parse(const std::string& text, CsvOptions opt = {}) {
  return parse_csv(text, "data.csv", opt);
}

TEST(CsvReader, NamedHeaderLabelLast) {
  const CsvData d = parse("a,b,y\n1,2.5,0\n-3,4e-1,1\n");
  ASSERT_EQ(d.x.rows(), 2);
  ASSERT_EQ(d.x.cols(), 2);
  EXPECT_EQ(d.x(0, 0), 1.0f);
  EXPECT_EQ(d.x(0, 1), 2.5f);
  EXPECT_EQ(d.x(1, 0), -3.0f);
  EXPECT_EQ(d.x(1, 1), 0.4f);
  ASSERT_EQ(d.y_raw.rows(), 2);
  ASSERT_EQ(d.y_raw.cols(), 1);
  EXPECT_EQ(d.y_raw(1, 0), 1.0f);
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.label_name, "y");
}

TEST(CsvReader, LabelByNameAndByIndex) {
  const std::string text = "y,a,b\n7,1,2\n8,3,4\n";
  CsvOptions by_name;
  by_name.label_column = "y";
  const CsvData d = parse(text, by_name);
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.y_raw(0, 0), 7.0f);
  EXPECT_EQ(d.x(1, 1), 4.0f);

  CsvOptions by_index;
  by_index.label_index = 0;
  const CsvData e = parse(text, by_index);
  EXPECT_EQ(e.x, d.x);
  EXPECT_EQ(e.y_raw, d.y_raw);

  CsvOptions middle;
  middle.header = CsvOptions::Header::kNone;
  middle.label_index = 1;
  const CsvData m = parse("1,9,2\n3,8,4\n", middle);
  EXPECT_EQ(m.y_raw(1, 0), 8.0f);
  EXPECT_EQ(m.x(1, 1), 4.0f);
  EXPECT_TRUE(m.feature_names.empty());
}

TEST(CsvReader, NoLabels) {
  CsvOptions opt;
  opt.has_labels = false;
  opt.header = CsvOptions::Header::kNone;
  const CsvData d = parse("1,2,3\n4,5,6\n", opt);
  EXPECT_EQ(d.x.cols(), 3);
  EXPECT_EQ(d.y_raw.size(), 0);
}

TEST(CsvReader, SkipFirstLineAndMaxRows) {
  CsvOptions opt;
  opt.header = CsvOptions::Header::kSkipFirstLine;
  opt.max_rows = 2;
  const CsvData d = parse("3,2,cat,dog\n1,2,0\n3,4,1\n5,6,0\n", opt);
  EXPECT_EQ(d.x.rows(), 2);
  EXPECT_EQ(d.x(1, 0), 3.0f);
  EXPECT_TRUE(d.feature_names.empty());
}

TEST(CsvReader, LayoutTolerance) {
  // BOM, CRLF, blanks around cells, quoted cells, a blank line, no final newline, '+' sign.
  const CsvData d = parse("\xEF\xBB\xBF\"a,1\", b ,y\r\n 1 ,\"2\",0\r\n\r\n+3, 4 ,1");
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a,1", "b"}));
  ASSERT_EQ(d.x.rows(), 2);
  EXPECT_EQ(d.x(0, 1), 2.0f);
  EXPECT_EQ(d.x(1, 0), 3.0f);
  EXPECT_EQ(d.x(1, 1), 4.0f);
  CsvOptions tab;
  tab.delimiter = '\t';
  const CsvData t = parse("a\tb\ty\n1\t2\t3\n", tab);
  EXPECT_EQ(t.x(0, 1), 2.0f);
  CsvOptions semi;
  semi.delimiter = ';';
  semi.header = CsvOptions::Header::kNone;
  EXPECT_EQ(parse("1;2;3\n", semi).x.cols(), 2);
}

TEST(CsvReader, UnderflowIsZeroOverflowIsAnError) {
  CsvOptions opt;
  opt.header = CsvOptions::Header::kNone;
  const CsvData d = parse("1e-400,0.5\n", opt);
  EXPECT_EQ(d.x(0, 0), 0.0f);
  ELMQ_EXPECT_THROW_MSG(parse("1e39,0\n", opt), FormatError, "line 1, column 1", "float32 range");
  ELMQ_EXPECT_THROW_MSG(parse("1e400,0\n", opt), FormatError, "'1e400'", "float32 range");
}

TEST(CsvReader, BadCellNamesLineAndColumn) {
  std::string text = "a,b,c,y\n";
  for (int i = 0; i < 15; ++i) text += "1,2,3,0\n";
  text += "1,2,abc,0\n";  // line 17
  ELMQ_EXPECT_THROW_MSG(parse(text), FormatError,
                        "read_csv: data.csv line 17, column 3: 'abc' is not a number");
  ELMQ_EXPECT_THROW_MSG(parse("a,y\n1x,0\n"), FormatError, "line 2, column 1", "'1x'");
  ELMQ_EXPECT_THROW_MSG(parse("a,y\n1,\n"), FormatError, "line 2, column 2", "empty cell");
  ELMQ_EXPECT_THROW_MSG(parse("a,y\n1,setosa\n"), FormatError, "line 2, column 2", "'setosa'");
  ELMQ_EXPECT_THROW_MSG(parse("a,y\n0x10,1\n"), FormatError, "'0x10' is not a number");
}

TEST(CsvReader, NanAndInfAreRejected) {
  for (const char* bad : {"nan", "NaN", "inf", "-Infinity"}) {
    ELMQ_EXPECT_THROW_MSG(parse(std::string("a,y\n1,0\n") + bad + ",1\n"), FormatError,
                          "line 3, column 1", bad, "not a finite number");
  }
}

TEST(CsvReader, WrongFieldCount) {
  ELMQ_EXPECT_THROW_MSG(parse("a,b,y\n1,2,0\n1,2\n"), FormatError, "data.csv line 3",
                        "2 fields, expected 3", "line 1");
  CsvOptions opt;
  opt.header = CsvOptions::Header::kNone;
  ELMQ_EXPECT_THROW_MSG(parse("1,2,0\n\n1,2,3,4\n", opt), FormatError, "line 3",
                        "4 fields, expected 3");
}

TEST(CsvReader, EmptyOrHeaderOnly) {
  ELMQ_EXPECT_THROW_MSG(parse(""), FormatError, "data.csv", "empty");
  ELMQ_EXPECT_THROW_MSG(parse("\xEF\xBB\xBF"), FormatError, "empty");
  ELMQ_EXPECT_THROW_MSG(parse("a,b,y\n"), FormatError, "no data rows");
  ELMQ_EXPECT_THROW_MSG(parse("\n\n  \n"), FormatError, "no data rows");
}

TEST(CsvReader, LabelColumnProblems) {
  CsvOptions opt;
  opt.label_column = "target";
  ELMQ_EXPECT_THROW_MSG(parse("a,b,y\n1,2,3\n", opt), FormatError, "no column named 'target'",
                        "a, b, y");
  CsvOptions idx;
  idx.label_index = 3;
  ELMQ_EXPECT_THROW_MSG(parse("a,b,y\n1,2,3\n", idx), FormatError, "label_index 3", "3 columns");
  ELMQ_EXPECT_THROW_MSG(parse("y\n1\n"), FormatError, "no features");
}

TEST(CsvReader, QuoteErrors) {
  ELMQ_EXPECT_THROW_MSG(parse("a,y\n\"1,0\n"), FormatError, "line 2, column 1",
                        "unterminated quote");
  ELMQ_EXPECT_THROW_MSG(parse("a,y\n\"1\"x,0\n"), FormatError, "after a closing quote");
}

TEST(CsvReader, OptionsValidate) {
  CsvOptions o;
  EXPECT_NO_THROW(o.validate());
  o.label_index = -2;
  ELMQ_EXPECT_THROW_MSG(o.validate(), InvalidArgument, "label_index", "-2");
  o = CsvOptions{};
  o.max_rows = 0;
  ELMQ_EXPECT_THROW_MSG(o.validate(), InvalidArgument, "max_rows", "0");
  o = CsvOptions{};
  o.delimiter = '"';
  ELMQ_EXPECT_THROW_MSG(o.validate(), InvalidArgument, "delimiter");
  o = CsvOptions{};
  o.header = CsvOptions::Header::kNone;
  o.label_column = "y";
  ELMQ_EXPECT_THROW_MSG(o.validate(), InvalidArgument, "label_column", "kNames");
  // read_csv validates before touching the file.
  EXPECT_THROW(read_csv("/nonexistent.csv", o), InvalidArgument);
}

TEST(CsvReader, FilesPlainAndGzipped) {
  TempDir dir;
  const std::string text = "a,b,y\n1,2,0\n3,4,1\n";
  write_bytes(dir.file("d.csv"), text);
  write_bytes(dir.file("d.csv.gz"), gzip(text));
  const CsvData p = read_csv(dir.file("d.csv"));
  const CsvData g = read_csv(dir.file("d.csv.gz"));
  EXPECT_EQ(p.x, g.x);
  EXPECT_EQ(p.y_raw, g.y_raw);
  // The path is named in errors.
  write_bytes(dir.file("bad.csv"), "a,y\n1,zz\n");
  ELMQ_EXPECT_THROW_MSG(read_csv(dir.file("bad.csv")), FormatError,
                        dir.file("bad.csv") + " line 2, column 2: 'zz'");
  write_bytes(dir.file("empty.csv"), "");
  ELMQ_EXPECT_THROW_MSG(read_csv(dir.file("empty.csv")), FormatError, "empty");
  ELMQ_EXPECT_THROW_MSG(read_csv(dir.file("missing.csv")), IoError, "missing.csv", "no such file");
}

TEST(CsvReader, LabelsFromColumn) {
  RowMatrixXf y(4, 1);
  y << 0, 2, -5, 16777216;
  const LabelVector l = labels_from_column(y, "f.csv");
  EXPECT_EQ(l[0], 0);
  EXPECT_EQ(l[1], 2);
  EXPECT_EQ(l[2], -5);
  EXPECT_EQ(l[3], 16777216);
  y(1, 0) = 1.5f;
  ELMQ_EXPECT_THROW_MSG(labels_from_column(y, "f.csv"), InvalidArgument, "f.csv", "row 1", "1.5",
                        "not an integer");
  y(1, 0) = 1;
  y(3, 0) = 3.0e7f;
  ELMQ_EXPECT_THROW_MSG(labels_from_column(y, "f.csv"), InvalidArgument, "row 3", "2^24");
  ELMQ_EXPECT_THROW_MSG(labels_from_column(RowMatrixXf(2, 2), "f.csv"), InvalidArgument,
                        "one column");
}

TEST(CsvReader, WriteReadRoundTrip) {
  TempDir dir;
  RowMatrixXf x(3, 3);
  x << 0.1f, -2.0f, 3.14159274f, 1e-30f, 65504.0f, 1.0f / 3.0f, 0.0f, -0.0f, 7.0f;
  write_csv(dir.file("o.csv"), x, {"p,q", "r\"s", "t"});
  CsvOptions opt;
  opt.has_labels = false;
  const CsvData d = read_csv(dir.file("o.csv"), opt);
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"p,q", "r\"s", "t"}));
  EXPECT_EQ(d.x, x);  // bit-exact: shortest round-trip formatting
  ELMQ_EXPECT_THROW_MSG(write_csv(dir.file("o.csv"), x, {"a"}), InvalidArgument, "names", "1",
                        "3 columns");
  x(1, 1) = std::numeric_limits<float>::quiet_NaN();
  ELMQ_EXPECT_THROW_MSG(write_csv(dir.file("n.csv"), x), InvalidArgument, "non-finite",
                        "row 1, column 1");
}

}  // namespace
}  // namespace elmq
