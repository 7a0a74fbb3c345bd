#include "elm/data/idx_reader.h"

#include <algorithm>
#include <cstring>

#include "elm/common/errors.h"
#include "elm/data/detail/file_bytes.h"

namespace elmq {

namespace {

const char* idx_type_name(unsigned code) {
  switch (code) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return nullptr;
  }
}

std::string hex_byte(unsigned v) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string s = "0x";
  s += kDigits[(v >> 4) & 0xF];
  s += kDigits[v & 0xF];
  return s;
}

// The element count, or kMaxIdxElements + 1 when the dimensions declare more
// than kMaxIdxElements elements, counting a zero dimension as 1: {0, 2^31,
// 2^31} holds no element, but its rows of 2^62 would overflow a column count.
std::uint64_t element_count(const IdxData& idx) {
  std::uint64_t n = 1, capped = 1;
  for (std::uint32_t d : idx.dims) {
    n *= d;
    capped *= d == 0 ? 1 : d;
    if (capped > kMaxIdxElements) return kMaxIdxElements + 1;
  }
  return n;
}

void check_consistent(const IdxData& idx, const char* where) {
  ELMQ_CHECK_ARG(!idx.dims.empty(), where, ": IdxData has no dimensions");
  const std::uint64_t n = element_count(idx);
  ELMQ_CHECK_ARG(n == idx.bytes.size(), where, ": IdxData dims give ", n, " elements but it holds ",
                 idx.bytes.size(), " bytes");
}

}  // namespace

IdxData parse_idx(const std::string& bytes, const std::string& name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::string ctx = "read_idx: '" + name + "'";
  if (bytes.size() < 4) {
    throw FormatError(str_cat(ctx, ": ", bytes.size(), " bytes, too short for an IDX header"));
  }
  if (p[0] != 0 || p[1] != 0) {
    throw FormatError(str_cat(ctx, ": bad magic (first bytes ", hex_byte(p[0]), " ", hex_byte(p[1]),
                              ", expected 0x00 0x00): not an IDX file"));
  }
  const unsigned type = p[2];
  if (type != 0x08) {
    const char* tn = idx_type_name(type);
    if (tn != nullptr) {
      throw FormatError(str_cat(ctx, ": type code ", hex_byte(type), " (", tn,
                                ") is not supported; only 0x08 (unsigned byte)"));
    }
    throw FormatError(str_cat(ctx, ": unknown type code ", hex_byte(type),
                              "; only 0x08 (unsigned byte) is supported"));
  }
  const unsigned ndims = p[3];
  if (ndims < 1 || ndims > 4) {
    throw FormatError(str_cat(ctx, ": ", ndims, " dimensions; supported: 1 to 4"));
  }
  const std::size_t header = 4 + 4 * std::size_t{ndims};
  if (bytes.size() < header) {
    throw FormatError(
        str_cat(ctx, ": truncated header (", bytes.size(), " bytes, expected ", header, ")"));
  }
  IdxData out;
  for (unsigned i = 0; i < ndims; ++i) {
    const unsigned char* q = p + 4 + 4 * i;
    out.dims.push_back((std::uint32_t{q[0]} << 24) | (std::uint32_t{q[1]} << 16) |
                       (std::uint32_t{q[2]} << 8) | std::uint32_t{q[3]});
  }
  const std::uint64_t n = element_count(out);
  if (n > kMaxIdxElements) {
    std::string shape;
    for (std::uint32_t d : out.dims) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
    throw FormatError(str_cat(ctx, ": dimensions ", shape, " declare more than ", kMaxIdxElements,
                              " elements (a zero dimension counted as 1)"));
  }
  const std::uint64_t present = bytes.size() - header;
  if (present < n) {
    throw FormatError(str_cat(ctx, ": truncated: expected ", n, " data bytes, found ", present));
  }
  if (present > n) {
    throw FormatError(str_cat(ctx, ": expected ", n, " data bytes, found ", present, " (",
                              present - n, " trailing bytes)"));
  }
  out.bytes.resize(static_cast<std::size_t>(n));
  if (n > 0) std::memcpy(out.bytes.data(), p + header, static_cast<std::size_t>(n));
  return out;
}

IdxData read_idx(const std::string& path) {
  // Cap the decompressed size: a header plus 2^32 bytes is the largest valid file.
  return parse_idx(detail::read_data_file(path, "read_idx", kMaxIdxElements + 4 + 16), path);
}

RowMatrixXf idx_images(const IdxData& idx, Index max_rows) {
  check_consistent(idx, "idx_images");
  ELMQ_CHECK_ARG(max_rows >= -1, "idx_images: max_rows must be -1 (all) or >= 0, got ", max_rows);
  const Index n = idx.dims[0];
  Index cols = 1;
  for (std::size_t i = 1; i < idx.dims.size(); ++i) cols *= idx.dims[i];
  const Index rows = max_rows < 0 ? n : std::min<Index>(n, max_rows);
  RowMatrixXf x(rows, cols);
  const std::uint8_t* src = idx.bytes.data();
  float* dst = x.data();
  const Index total = rows * cols;
  for (Index i = 0; i < total; ++i) dst[i] = static_cast<float>(src[i]);
  return x;
}

LabelVector idx_labels(const IdxData& idx, Index max_rows) {
  check_consistent(idx, "idx_labels");
  ELMQ_CHECK_ARG(idx.dims.size() == 1, "idx_labels: a label file has 1 dimension, got ",
                 idx.dims.size());
  ELMQ_CHECK_ARG(max_rows >= -1, "idx_labels: max_rows must be -1 (all) or >= 0, got ", max_rows);
  const Index n = idx.dims[0];
  const Index rows = max_rows < 0 ? n : std::min<Index>(n, max_rows);
  LabelVector y(rows);
  for (Index i = 0; i < rows; ++i) y[i] = idx.bytes[static_cast<std::size_t>(i)];
  return y;
}

}  // namespace elmq
