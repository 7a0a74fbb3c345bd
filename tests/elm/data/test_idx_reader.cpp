#include <gtest/gtest.h>

#include "elm/common/errors.h"
#include "elm/data/idx_reader.h"
#include "tests/elm/data/test_util.h"

namespace elmq {
namespace {

using testing_util::gzip;
using testing_util::make_idx;
using testing_util::TempDir;
using testing_util::write_bytes;

std::vector<std::uint8_t> iota_bytes(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 37 + 5) % 256);
  return v;
}

TEST(IdxReader, ReadsRawImagesRowMajor) {
  TempDir dir;
  const auto values = iota_bytes(3 * 2 * 4);
  write_bytes(dir.file("img.idx"), make_idx({3, 2, 4}, values));
  const IdxData d = read_idx(dir.file("img.idx"));
  EXPECT_EQ(d.dims, (std::vector<std::uint32_t>{3, 2, 4}));
  EXPECT_EQ(d.bytes, values);

  const RowMatrixXf x = idx_images(d);
  ASSERT_EQ(x.rows(), 3);
  ASSERT_EQ(x.cols(), 8);
  // Row i, pixel (r, c) is column r * 4 + c, at flat position i * 8 + r * 4 + c.
  for (Index i = 0; i < 3; ++i) {
    for (Index j = 0; j < 8; ++j) EXPECT_EQ(x(i, j), static_cast<float>(values[i * 8 + j]));
  }
  const RowMatrixXf first = idx_images(d, 2);
  EXPECT_EQ(first.rows(), 2);
  EXPECT_EQ(first, x.topRows(2));
  EXPECT_EQ(idx_images(d, 100).rows(), 3);
}

TEST(IdxReader, GzipIsDetectedByMagicNotName) {
  TempDir dir;
  const auto values = iota_bytes(5 * 3);
  const std::string raw = make_idx({5, 3}, values);
  write_bytes(dir.file("a.gz"), gzip(raw));
  write_bytes(dir.file("b.idx"), gzip(raw));  // compressed without the .gz suffix
  write_bytes(dir.file("c.gz"), raw);         // plain despite the suffix
  for (const char* f : {"a.gz", "b.idx", "c.gz"}) {
    const IdxData d = read_idx(dir.file(f));
    EXPECT_EQ(d.dims, (std::vector<std::uint32_t>{5, 3})) << f;
    EXPECT_EQ(d.bytes, values) << f;
  }
  // Concatenated gzip members read as one stream.
  const std::string half = make_idx({5, 3}, values);
  write_bytes(dir.file("multi.gz"), gzip(half.substr(0, 7)) + gzip(half.substr(7)));
  EXPECT_EQ(read_idx(dir.file("multi.gz")).bytes, values);
}

TEST(IdxReader, Labels) {
  TempDir dir;
  write_bytes(dir.file("lab"), make_idx({4}, {3, 0, 9, 255}));
  const LabelVector y = idx_labels(read_idx(dir.file("lab")));
  ASSERT_EQ(y.size(), 4);
  EXPECT_EQ(y[0], 3);
  EXPECT_EQ(y[1], 0);
  EXPECT_EQ(y[2], 9);
  EXPECT_EQ(y[3], 255);
  EXPECT_EQ(idx_labels(read_idx(dir.file("lab")), 1).size(), 1);
  // A 1-D file is also n x 1 images.
  EXPECT_EQ(idx_images(read_idx(dir.file("lab"))).cols(), 1);
}

TEST(IdxReader, LabelsMustBeOneDimensional) {
  IdxData d;
  d.dims = {2, 2};
  d.bytes = {1, 2, 3, 4};
  ELMQ_EXPECT_THROW_MSG(idx_labels(d), InvalidArgument, "idx_labels", "1 dimension", "2");
}

TEST(IdxReader, InconsistentIdxDataIsRejected) {
  IdxData d;
  d.dims = {2, 3};
  d.bytes = {1, 2, 3};
  ELMQ_EXPECT_THROW_MSG(idx_images(d), InvalidArgument, "idx_images", "6", "3");
  ELMQ_EXPECT_THROW_MSG(idx_images(IdxData{}), InvalidArgument, "no dimensions");
  d.bytes.resize(6);
  ELMQ_EXPECT_THROW_MSG(idx_images(d, -2), InvalidArgument, "max_rows", "-2");
}

TEST(IdxReader, TruncatedDataNamesExpectedAndActual) {
  TempDir dir;
  std::string raw = make_idx({10, 4}, iota_bytes(40));
  raw.resize(raw.size() - 3);
  write_bytes(dir.file("t.idx"), raw);
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("t.idx")), FormatError, "t.idx", "truncated", "40", "37");
  write_bytes(dir.file("t.gz"), gzip(raw));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("t.gz")), FormatError, "truncated", "40", "37");
}

TEST(IdxReader, TruncatedHeader) {
  TempDir dir;
  write_bytes(dir.file("h"), make_idx({10, 4}, {}).substr(0, 9));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("h")), FormatError, "truncated header", "9", "12");
  write_bytes(dir.file("tiny"), std::string("\0\0", 2));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("tiny")), FormatError, "too short");
}

TEST(IdxReader, TrailingBytesAreRejected) {
  TempDir dir;
  write_bytes(dir.file("x"), make_idx({2, 2}, {1, 2, 3, 4}) + "zz");
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("x")), FormatError, "2 trailing bytes");
}

TEST(IdxReader, BadMagic) {
  TempDir dir;
  std::string raw = make_idx({2}, {1, 2});
  raw[0] = 'P';
  write_bytes(dir.file("m"), raw);
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("m")), FormatError, "bad magic", "0x50",
                        "not an IDX file");
}

TEST(IdxReader, UnsupportedTypeCodeIsNamed) {
  TempDir dir;
  write_bytes(dir.file("f32"), make_idx({1}, {0, 0, 0, 0}, 0x0D));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("f32")), FormatError, "0x0D", "float32", "only 0x08");
  write_bytes(dir.file("weird"), make_idx({1}, {0}, 0x42));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("weird")), FormatError, "unknown type code 0x42");
}

TEST(IdxReader, DimensionCountOutOfRange) {
  TempDir dir;
  write_bytes(dir.file("d0"), make_idx({}, {}));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("d0")), FormatError, "0 dimensions", "1 to 4");
  write_bytes(dir.file("d5"), make_idx({1, 1, 1, 1, 1}, {7}));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("d5")), FormatError, "5 dimensions");
}

TEST(IdxReader, AbsurdSizeIsRejectedBeforeAllocating) {
  TempDir dir;
  // 65536 x 65536 x 2 = 2^33 elements; the file holds only the header.
  write_bytes(dir.file("huge"), make_idx({65536, 65536, 2}, {}));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("huge")), FormatError, "65536 x 65536 x 2",
                        "more than 4294967296");
  // Exactly 2^32 elements passes the size check and fails as truncated.
  write_bytes(dir.file("cap"), make_idx({65536, 65536}, {}));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("cap")), FormatError, "truncated", "expected 4294967296");
}

TEST(IdxReader, ZeroRowsWithHugeRowsAreRejected) {
  // No element at all, but rows of 2^62 elements: their column count would
  // overflow (found by the data fuzzer: signed overflow in idx_images).
  TempDir dir;
  write_bytes(dir.file("zero"), make_idx({0, 1u << 31, 1u << 31}, {}));
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("zero")), FormatError, "0 x 2147483648 x 2147483648",
                        "more than 4294967296");
  IdxData d;
  d.dims = {0, 1u << 31, 1u << 31};
  ELMQ_EXPECT_THROW_MSG(idx_images(d), InvalidArgument, "idx_images");
  d.dims = {0, 28, 28};  // an empty but sane file is fine
  EXPECT_EQ(idx_images(d).rows(), 0);
  EXPECT_EQ(idx_images(d).cols(), 784);
}

TEST(IdxReader, MissingFileAndDirectory) {
  TempDir dir;
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("nope")), IoError, "read_idx", "nope", "no such file");
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.path().string()), IoError, "is a directory");
}

TEST(IdxReader, CorruptGzip) {
  TempDir dir;
  std::string gz = gzip(make_idx({50}, iota_bytes(50)));
  std::string cut = gz.substr(0, gz.size() / 2);
  write_bytes(dir.file("cut.gz"), cut);
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("cut.gz")), FormatError, "cut.gz", "truncated");
  std::string bad = gz;
  bad[12] = static_cast<char>(bad[12] ^ 0xFF);
  bad[13] = static_cast<char>(bad[13] ^ 0xFF);
  write_bytes(dir.file("bad.gz"), bad);
  EXPECT_THROW(read_idx(dir.file("bad.gz")), FormatError);
  write_bytes(dir.file("junk.gz"), gz + "junk");
  ELMQ_EXPECT_THROW_MSG(read_idx(dir.file("junk.gz")), FormatError, "4 bytes of trailing garbage");
}

}  // namespace
}  // namespace elmq
