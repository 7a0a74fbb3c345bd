#include "elm/common/serialize.h"

#include <cstdio>

#include <gtest/gtest.h>

#include "elm/common/errors.h"

namespace elmq {
namespace {

std::string sample_file() {
  RecordWriter w;
  w.put_u64(tag("AAAA"), 7);
  w.put_f64(tag("BBBB"), 2.5);
  w.put_string(tag("CCCC"), "hello");
  RowMatrixXf m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  w.put_matrix(tag("MATF"), m);
  RecordWriter inner;
  inner.put_i64(tag("IIII"), -3);
  w.put_nested(tag("NEST"), inner);
  return w.finish(FileKind::kElm, 1);
}

TEST(Serialize, RoundTrip) {
  const std::string f = sample_file();
  EXPECT_EQ(peek_file_kind(f), FileKind::kElm);
  RecordReader r(f, FileKind::kElm, 1);
  EXPECT_EQ(r.get_u64(tag("AAAA")), 7u);
  EXPECT_EQ(r.get_f64(tag("BBBB")), 2.5);
  EXPECT_EQ(r.get_string(tag("CCCC")), "hello");
  const RowMatrixXf m = r.get_matrix_f(tag("MATF"));
  ASSERT_EQ(m.rows(), 2);
  ASSERT_EQ(m.cols(), 3);
  EXPECT_EQ(m(1, 2), 6.0f);
  EXPECT_EQ(r.nested(tag("NEST")).get_i64(tag("IIII")), -3);
  EXPECT_FALSE(r.has(tag("ZZZZ")));
}

TEST(Serialize, EveryTruncationIsRejected) {
  const std::string f = sample_file();
  for (std::size_t n = 0; n < f.size(); ++n) {
    EXPECT_THROW(RecordReader(f.substr(0, n), FileKind::kElm, 1), FormatError) << "length " << n;
  }
}

TEST(Serialize, EveryFlippedByteIsRejected) {
  const std::string f = sample_file();
  for (std::size_t i = 0; i < f.size(); ++i) {
    std::string g = f;
    g[i] = static_cast<char>(g[i] ^ 0x40);
    EXPECT_THROW(RecordReader(g, FileKind::kElm, 1), FormatError) << "byte " << i;
  }
}

TEST(Serialize, WrongKindVersionAndMissingRecord) {
  const std::string f = sample_file();
  EXPECT_THROW(RecordReader(f, FileKind::kMlp, 1), FormatError);
  RecordWriter w;
  const std::string v2 = w.finish(FileKind::kElm, 2);
  EXPECT_THROW(RecordReader(v2, FileKind::kElm, 1), FormatError);
  RecordReader r(f, FileKind::kElm, 1);
  EXPECT_THROW(r.get_u64(tag("ZZZZ")), FormatError);
  EXPECT_THROW(r.get_u64(tag("CCCC")), FormatError);  // wrong size for a u64
}

TEST(Serialize, MatrixSizeOverflowRejected) {
  // A matrix record claiming 2^62 x 4 elements must not allocate or overflow.
  RecordWriter w;
  std::string bad(16, '\0');
  const std::uint64_t rows = 1ULL << 62, cols = 4;
  std::memcpy(bad.data(), &rows, 8);
  std::memcpy(bad.data() + 8, &cols, 8);
  w.put_bytes(tag("MATF"), bad.data(), bad.size());
  const std::string f = w.finish(FileKind::kElm, 1);
  RecordReader r(f, FileKind::kElm, 1);
  EXPECT_THROW(r.get_matrix_f(tag("MATF")), FormatError);
}

TEST(Serialize, Files) {
  const std::string path = ::testing::TempDir() + "/elmq_serialize_test.bin";
  write_file_bytes(path, sample_file());
  EXPECT_EQ(read_file_bytes(path), sample_file());
  std::remove(path.c_str());
  EXPECT_THROW(read_file_bytes(path), IoError);
  EXPECT_THROW(write_file_bytes("/nonexistent-dir/x.bin", "abc"), IoError);
}

}  // namespace
}  // namespace elmq
