// Reader of the IDX format of MNIST and Fashion-MNIST.
//
// An IDX file is: two zero bytes, a type code (byte 2), the number of
// dimensions (byte 3), one big-endian u32 per dimension, then the values in
// row-major order. elmq reads type 0x08 (unsigned byte), the type of every
// MNIST-family image and label file. Files may be gzip-compressed (detected by
// the 1f 8b magic, not by the file name).
//
//   elmq::IdxData img = elmq::read_idx("train-images-idx3-ubyte.gz");   // dims {60000, 28, 28}
//   elmq::RowMatrixXf x = elmq::idx_images(img);                        // 60000 x 784, 0..255
//   elmq::LabelVector y = elmq::idx_labels(elmq::read_idx("train-labels-idx1-ubyte.gz"));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elm/common/matrix.h"

namespace elmq {

/// The raw contents of an IDX file of unsigned bytes.
struct IdxData {
  /// Dimensions, outermost first (e.g. {n_images, rows, cols}); 1 to 4 entries.
  std::vector<std::uint32_t> dims;
  /// The product of `dims` values, row-major.
  std::vector<std::uint8_t> bytes;
};

/// Largest number of elements an IDX file may declare (2^32).
inline constexpr std::uint64_t kMaxIdxElements = std::uint64_t{1} << 32;

/// Reads an IDX file (raw or gzip-compressed).
/// @throws IoError if the file cannot be read.
/// @throws FormatError if it is not IDX (bad magic), has a type code other
///         than 0x08 (the message names the code and its type), has 0 or more
///         than 4 dimensions, declares more than kMaxIdxElements elements (a zero
///         dimension counted as 1, so that a row size cannot overflow), is
///         truncated or has trailing bytes (the message gives the expected
///         and actual sizes), or its gzip data is corrupt.
IdxData read_idx(const std::string& path);

/// Parses an in-memory (already decompressed) IDX image; `name` is used in
/// messages. Same checks as `read_idx`.
IdxData parse_idx(const std::string& bytes, const std::string& name);

/// Images as a float matrix: dims[0] rows, the remaining dimensions flattened
/// into columns (row-major, so pixel (r, c) of a 28x28 image is column r*28+c),
/// values 0..255 unscaled. `max_rows` >= 0 keeps only the first max_rows rows
/// (-1: all).
/// @throws InvalidArgument if `idx` has no dimensions, its byte count does
///         not match its dims, or max_rows < -1.
RowMatrixXf idx_images(const IdxData& idx, Index max_rows = -1);

/// Labels from a 1-dimensional IDX file (values 0..255). `max_rows` as above.
/// @throws InvalidArgument if `idx` is not 1-dimensional or is inconsistent.
LabelVector idx_labels(const IdxData& idx, Index max_rows = -1);

}  // namespace elmq
