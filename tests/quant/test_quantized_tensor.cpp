#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>

#include "elm/common/errors.h"
#include "elm/common/serialize.h"
#include "quant/half.h"
#include "quant/quantized_tensor.h"
#include "quant_test_util.h"

namespace elmq {
namespace {

class EveryFormat : public ::testing::TestWithParam<QuantFormat> {};

INSTANTIATE_TEST_SUITE_P(Quant, EveryFormat, ::testing::ValuesIn(all_formats()),
                         [](const auto& info) { return test::format_param_name(info.param); });

// Relative RMS error of quantize -> dequantize on N(0, 1) weights, 64 x 789:
// each format's budget, about 1.2x the value measured with this seed.
double rms_budget(QuantFormat f) {
  switch (f) {
    case QuantFormat::kF32:
      return 0.0;
    case QuantFormat::kF16:
      return 3e-4;
    case QuantFormat::kBF16:
      return 3e-3;
    case QuantFormat::kInt8Channel:
      return 0.012;
    case QuantFormat::kQ8_0:
      return 0.008;
    case QuantFormat::kInt4G32Sym:
      return 0.13;
    case QuantFormat::kInt4G128Sym:
      return 0.16;
    case QuantFormat::kInt4G32Asym:
      return 0.10;
    case QuantFormat::kInt4G128Asym:
      return 0.12;
    case QuantFormat::kInt4Channel:
      return 0.20;
    case QuantFormat::kInt3Channel:
      return 0.40;
    case QuantFormat::kInt2G32Asym:
      return 0.48;
    case QuantFormat::kInt2G64Asym:
      return 0.54;
    case QuantFormat::kTernaryChannel:
      return 0.62;
    case QuantFormat::kTernaryBase3:
      return 0.62;
  }
  return 0.0;
}

TEST_P(EveryFormat, RoundTripErrorWithinBudget) {
  const QuantFormat f = GetParam();
  const FormatTraits& t = format_traits(f);
  const RowMatrixXf w = test::normal_matrix(64, 789, 21);
  const QuantizedTensor q = QuantizedTensor::quantize(w, f);
  ASSERT_EQ(q.rows(), 64);
  ASSERT_EQ(q.cols(), 789);
  const RowMatrixXf d = q.dequantize();
  const double rel = (d - w).norm() / w.norm();
  std::printf("  %-15s rel rms error %.5f (budget %.3f)\n", t.name, rel, rms_budget(f));
  EXPECT_LE(rel, rms_budget(f));
  if (t.is_float) {
    for (Index i = 0; i < w.size(); ++i) {
      const float a = w.data()[i], b = d.data()[i];
      double budget = 0.0;  // f32: exact
      if (f == QuantFormat::kF16) budget = std::ldexp(std::fabs(a), -11) + 3e-8;
      if (f == QuantFormat::kBF16) budget = std::ldexp(std::fabs(a), -8);
      ASSERT_LE(std::fabs(a - b), budget) << t.name << " " << a;
    }
    return;
  }
  // Element-wise budget: half a step of the group's scale (abs-max / min-max
  // ranges never clip), or for ternary the distance to the nearest level.
  const RowMatrixXf s = q.scales(), m = q.mins();
  const Index group = t.group == 0 ? w.cols() : t.group;
  for (Index r = 0; r < w.rows(); ++r) {
    for (Index k = 0; k < w.cols(); ++k) {
      const float sc = s(r, k / group);
      const double err = std::fabs(static_cast<double>(d(r, k)) - w(r, k));
      double budget;
      if (t.qmax == 1) {
        budget = std::min({std::fabs(w(r, k)), std::fabs(w(r, k) - sc), std::fabs(w(r, k) + sc)});
      } else {
        budget = 0.5 * sc;
      }
      ASSERT_LE(err, budget * (1 + 1e-5) + 1e-6) << t.name << " at " << r << "," << k;
    }
  }
  // codes / scales / mins describe dequantize() exactly.
  const CodeMatrix c = q.codes();
  for (Index r = 0; r < w.rows(); ++r) {
    for (Index k = 0; k < w.cols(); ++k) {
      ASSERT_GE(c(r, k), t.qmin);
      ASSERT_LE(c(r, k), t.qmax);
      const float expect = dequantize_value(t, c(r, k), s(r, k / group), m(r, k / group));
      ASSERT_EQ(d(r, k), expect);
    }
  }
}

TEST_P(EveryFormat, CodesAreRoundToNearestOfTheStoredScale) {
  const QuantFormat f = GetParam();
  const FormatTraits& t = format_traits(f);
  if (t.is_float) GTEST_SKIP();
  const RowMatrixXf w = test::normal_matrix(5, 333, 22);
  const QuantizedTensor q = QuantizedTensor::quantize(w, f);
  const CodeMatrix c = q.codes();
  const RowMatrixXf s = q.scales(), m = q.mins();
  const Index group = t.group == 0 ? w.cols() : t.group;
  for (Index r = 0; r < w.rows(); ++r) {
    for (Index k = 0; k < w.cols(); ++k) {
      ASSERT_EQ(c(r, k), quantize_value(t, w(r, k), s(r, k / group), m(r, k / group)));
    }
  }
}

TEST_P(EveryFormat, MseSearchIsNoWorseThanAbsMax) {
  const QuantFormat f = GetParam();
  if (format_traits(f).is_float) GTEST_SKIP();
  RowMatrixXf w = test::normal_matrix(8, 300, 23);
  w(3, 17) = 9.0f;  // an outlier
  RangeOptions mse;
  mse.method = RangeOptions::Method::kMseSearch;
  mse.importance = VectorXf::Ones(300);
  mse.importance.head(50).setConstant(3.0f);
  const RowMatrixXf d_abs = QuantizedTensor::quantize(w, f).dequantize();
  const RowMatrixXf d_mse = QuantizedTensor::quantize(w, f, mse).dequantize();
  for (Index r = 0; r < w.rows(); ++r) {
    const double e_abs =
        ((d_abs.row(r) - w.row(r)).array().square() * mse.importance.transpose().array()).sum();
    const double e_mse =
        ((d_mse.row(r) - w.row(r)).array().square() * mse.importance.transpose().array()).sum();
    EXPECT_LE(e_mse, e_abs * (1 + 1e-4)) << format_name(f) << " row " << r;
  }
}

TEST_P(EveryFormat, FromCodesRebuildsTheSameTensor) {
  const QuantFormat f = GetParam();
  const FormatTraits& t = format_traits(f);
  const RowMatrixXf w = test::normal_matrix(7, 301, 24);
  const QuantizedTensor q = QuantizedTensor::quantize(w, f);
  if (t.is_float) {
    EXPECT_THROW(QuantizedTensor::from_codes(f, CodeMatrix(1, 1), RowMatrixXf(1, 0), RowMatrixXf()),
                 InvalidArgument);
    return;
  }
  const RowMatrixXf mins = t.symmetric ? RowMatrixXf() : q.mins();
  const QuantizedTensor r = QuantizedTensor::from_codes(f, q.codes(), q.scales(), mins);
  ASSERT_EQ(r.bytes(), q.bytes());
  EXPECT_EQ(std::memcmp(r.block_data(), q.block_data(), q.row_block_bytes() * q.rows()), 0);
  EXPECT_EQ(r.row_scales(), q.row_scales());
  EXPECT_EQ(r.dequantize(), q.dequantize());
}

TEST_P(EveryFormat, FromCodesRejectsBadInput) {
  const QuantFormat f = GetParam();
  const FormatTraits& t = format_traits(f);
  if (t.is_float) GTEST_SKIP();
  const Index k = 70, g = format_groups_per_row(f, k);
  CodeMatrix c = CodeMatrix::Zero(2, k);
  RowMatrixXf s = RowMatrixXf::Ones(2, g);
  const RowMatrixXf m = t.symmetric ? RowMatrixXf() : RowMatrixXf::Zero(2, g);
  EXPECT_NO_THROW(QuantizedTensor::from_codes(f, c, s, m));
  c(1, 3) = static_cast<std::int8_t>(t.qmax + 1);
  EXPECT_THROW(QuantizedTensor::from_codes(f, c, s, m), InvalidArgument);
  c(1, 3) = static_cast<std::int8_t>(t.qmin - 1);
  EXPECT_THROW(QuantizedTensor::from_codes(f, c, s, m), InvalidArgument);
  c(1, 3) = 0;
  s(0, 0) = -1.0f;
  EXPECT_THROW(QuantizedTensor::from_codes(f, c, s, m), InvalidArgument);
  s(0, 0) = std::numeric_limits<float>::infinity();
  EXPECT_THROW(QuantizedTensor::from_codes(f, c, s, m), InvalidArgument);
  s(0, 0) = 1.0f;
  EXPECT_THROW(QuantizedTensor::from_codes(f, c, RowMatrixXf::Ones(2, g + 1), m), InvalidArgument);
  if (t.symmetric) {
    EXPECT_THROW(QuantizedTensor::from_codes(f, c, s, RowMatrixXf::Zero(2, g)), InvalidArgument);
  } else {
    EXPECT_THROW(QuantizedTensor::from_codes(f, c, s, RowMatrixXf()), InvalidArgument);
  }
}

TEST_P(EveryFormat, SaveLoadRoundTrip) {
  const QuantFormat f = GetParam();
  const RowMatrixXf w = test::normal_matrix(9, 203, 25);
  const QuantizedTensor q = QuantizedTensor::quantize(w, f);
  RecordWriter wr;
  q.save(wr);
  const std::string file = wr.finish(FileKind::kQuantizedElm, 1);
  const RecordReader rd(file, FileKind::kQuantizedElm, 1);
  const QuantizedTensor r = QuantizedTensor::load(rd);
  EXPECT_EQ(r.format(), f);
  EXPECT_EQ(r.rows(), 9);
  EXPECT_EQ(r.cols(), 203);
  EXPECT_EQ(r.bytes(), q.bytes());
  EXPECT_EQ(r.dequantize(), q.dequantize());
  EXPECT_EQ(std::memcmp(r.block_data(), q.block_data(), q.row_block_bytes() * q.rows()), 0);
}

TEST_P(EveryFormat, EmptyShapes) {
  const QuantFormat f = GetParam();
  for (auto shape : {std::pair<Index, Index>{0, 5}, {5, 0}, {0, 0}}) {
    const QuantizedTensor q = QuantizedTensor::quantize(RowMatrixXf(shape.first, shape.second), f);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_EQ(q.dequantize().rows(), shape.first);
    EXPECT_EQ(q.dequantize().cols(), shape.second);
    RecordWriter wr;
    q.save(wr);
    const std::string file = wr.finish(FileKind::kQuantizedElm, 1);
    const QuantizedTensor r = QuantizedTensor::load(RecordReader(file, FileKind::kQuantizedElm, 1));
    EXPECT_EQ(r.rows(), shape.first);
    EXPECT_EQ(r.cols(), shape.second);
  }
}

TEST_P(EveryFormat, ResultDoesNotDependOnThreads) {
  const QuantFormat f = GetParam();
  const RowMatrixXf w = test::normal_matrix(40, 100, 26);
  RangeOptions mse;
  mse.method = RangeOptions::Method::kMseSearch;
  const QuantizedTensor a = QuantizedTensor::quantize(w, f, mse, 1);
  const QuantizedTensor b = QuantizedTensor::quantize(w, f, mse, 3);
  EXPECT_EQ(std::memcmp(a.block_data(), b.block_data(), a.row_block_bytes() * a.rows()), 0);
  EXPECT_EQ(a.row_scales(), b.row_scales());
}

TEST(QuantizedTensor, RejectsNonFiniteWeightsAndOverflow) {
  RowMatrixXf w = test::normal_matrix(3, 40, 27);
  w(1, 2) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(QuantizedTensor::quantize(w, QuantFormat::kInt8Channel), InvalidArgument);
  w(1, 2) = 1e6f;
  EXPECT_THROW(QuantizedTensor::quantize(w, QuantFormat::kF16), InvalidArgument);
  EXPECT_THROW(QuantizedTensor::quantize(w, QuantFormat::kInt4G32Sym), InvalidArgument);
  EXPECT_NO_THROW(QuantizedTensor::quantize(w, QuantFormat::kInt4Channel));
  EXPECT_NO_THROW(QuantizedTensor::quantize(w, QuantFormat::kBF16));
  RangeOptions bad;
  bad.importance = VectorXf::Ones(39);
  EXPECT_THROW(QuantizedTensor::quantize(w, QuantFormat::kInt8Channel, bad), InvalidArgument);
  EXPECT_THROW(QuantizedTensor::quantize(w, QuantFormat::kInt8Channel, RangeOptions(), -1),
               InvalidArgument);
  EXPECT_THROW(QuantizedTensor::quantize(w, static_cast<QuantFormat>(0)), InvalidArgument);
}

// ---------------------------------------------------------------- corrupt files

// Writes the records of a tensor with one record replaced (or dropped).
std::string rewrite(const QuantizedTensor& q, std::uint32_t replace_tag, const std::string& bytes,
                    bool drop = false) {
  RecordWriter src;
  q.save(src);
  const std::string file = src.finish(FileKind::kQuantizedElm, 1);
  const RecordReader rd(file, FileKind::kQuantizedElm, 1);
  RecordWriter out;
  for (std::uint32_t t :
       {tag("QVER"), tag("QFMT"), tag("QROW"), tag("QCOL"), tag("QDAT"), tag("QSCL")}) {
    if (!rd.has(t)) continue;
    if (t == replace_tag) {
      if (!drop) out.put_bytes(t, bytes.data(), bytes.size());
    } else {
      const std::string_view v = rd.get_bytes(t);
      out.put_bytes(t, v.data(), v.size());
    }
  }
  if (!drop && !rd.has(replace_tag)) out.put_bytes(replace_tag, bytes.data(), bytes.size());
  return out.finish(FileKind::kQuantizedElm, 1);
}

std::string u64_bytes(std::uint64_t v) { return std::string(reinterpret_cast<char*>(&v), 8); }

void expect_format_error(const std::string& file, const std::string& needle) {
  try {
    QuantizedTensor::load(RecordReader(file, FileKind::kQuantizedElm, 1));
    FAIL() << "expected FormatError containing '" << needle << "'";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::string data_of(const QuantizedTensor& q) {
  return std::string(reinterpret_cast<const char*>(q.block_data()), q.row_block_bytes() * q.rows());
}

TEST(QuantizedTensorFile, RejectsCorruptRecords) {
  const RowMatrixXf w = test::normal_matrix(4, 50, 28);
  const QuantizedTensor q8 = QuantizedTensor::quantize(w, QuantFormat::kInt8Channel);
  expect_format_error(rewrite(q8, tag("QVER"), u64_bytes(2)), "version");
  expect_format_error(rewrite(q8, tag("QFMT"), u64_bytes(0)), "unknown quantized format");
  expect_format_error(rewrite(q8, tag("QFMT"), u64_bytes(99)), "unknown quantized format");
  expect_format_error(rewrite(q8, tag("QROW"), u64_bytes(5)), "QDAT");
  expect_format_error(rewrite(q8, tag("QCOL"), u64_bytes(1ULL << 50)), "plausible");
  expect_format_error(rewrite(q8, tag("QDAT"), data_of(q8).substr(1)), "QDAT");
  expect_format_error(rewrite(q8, tag("QSCL"), "", true), "missing");
  expect_format_error(rewrite(q8, tag("QSCL"), std::string(12, '\0')), "QSCL");
  const float neg[4] = {1, -1, 1, 1};
  expect_format_error(rewrite(q8, tag("QSCL"), std::string(reinterpret_cast<const char*>(neg), 16)),
                      "scale of row 1");
  // int8 code -128 is outside the restricted range.
  std::string d = data_of(q8);
  d[5] = static_cast<char>(0x80);
  expect_format_error(rewrite(q8, tag("QDAT"), d), "outside");
  // Padding columns must hold the zero code.
  d = data_of(q8);
  d[60] = 3;  // row 0, column 60 >= 50
  expect_format_error(rewrite(q8, tag("QDAT"), d), "padding");
  // A grouped format's fp16 scale must be finite and >= 0.
  const QuantizedTensor q4 = QuantizedTensor::quantize(w, QuantFormat::kInt4G32Sym);
  d = data_of(q4);
  d[0] = 0x00;
  d[1] = static_cast<char>(0x7E);  // NaN
  expect_format_error(rewrite(q4, tag("QDAT"), d), "scale of row 0 group 0");
  d = data_of(q4);
  d[1] = static_cast<char>(d[1] | 0x80);  // negative
  expect_format_error(rewrite(q4, tag("QDAT"), d), "scale of row 0 group 0");
  // int4 symmetric code 0 would mean -8.
  d = data_of(q4);
  d[2] = static_cast<char>((d[2] & 0xF0) | 0x0);
  expect_format_error(rewrite(q4, tag("QDAT"), d), "outside");
  expect_format_error(rewrite(q4, tag("QSCL"), std::string(16, '\0')), "QSCL present");
  // Ternary 2-bit code 3 is not a ternary value.
  const QuantizedTensor qt = QuantizedTensor::quantize(w, QuantFormat::kTernaryChannel);
  d = data_of(qt);
  d[0] = static_cast<char>(d[0] | 0x03);
  expect_format_error(rewrite(qt, tag("QDAT"), d), "outside");
  // Base-3 bytes must be valid encodings (e.g. 1 is not ceil(v * 256 / 243)).
  const QuantizedTensor q3 = QuantizedTensor::quantize(w, QuantFormat::kTernaryBase3);
  d = data_of(q3);
  d[0] = 1;
  expect_format_error(rewrite(q3, tag("QDAT"), d), "base-3");
  // f16 weights must be finite.
  const QuantizedTensor qh = QuantizedTensor::quantize(w, QuantFormat::kF16);
  d = data_of(qh);
  d[1] = static_cast<char>(0x7C);
  d[0] = 0;
  expect_format_error(rewrite(qh, tag("QDAT"), d), "not finite");
  // And the untouched files load.
  EXPECT_NO_THROW(QuantizedTensor::load(
      RecordReader(rewrite(q8, tag("QVER"), u64_bytes(1)), FileKind::kQuantizedElm, 1)));
}

}  // namespace
}  // namespace elmq
