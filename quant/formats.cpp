#include "quant/formats.h"

#include "elm/common/errors.h"
#include "quant/blocks.h"
#include "quant/detail/kernels.h"

namespace elmq {

namespace {

using S = ScaleKind;

// name, code bits, group, block, block bytes, row extra, float, symmetric, scales, qmin, qmax,
// offset
constexpr FormatTraits kTraits[kNumQuantFormats] = {
    {QuantFormat::kF32, "f32", 32, 1, 1, 4, 0, true, true, S::kNone, 0, 0, 0},
    {QuantFormat::kF16, "f16", 16, 1, 1, 2, 0, true, true, S::kNone, 0, 0, 0},
    {QuantFormat::kBF16, "bf16", 16, 1, 1, 2, 0, true, true, S::kNone, 0, 0, 0},
    {QuantFormat::kInt8Channel, "int8", 8, 0, 32, sizeof(BlockI8x32), 4, false, true, S::kF32PerRow,
     -127, 127, 0},
    {QuantFormat::kQ8_0, "int8-g32", 8, 32, 32, sizeof(BlockQ8G32), 0, false, true, S::kF16PerGroup,
     -127, 127, 0},
    {QuantFormat::kInt4G32Sym, "int4-g32", 4, 32, 32, sizeof(BlockQ4G32), 0, false, true,
     S::kF16PerGroup, -7, 7, 8},
    {QuantFormat::kInt4G128Sym, "int4-g128", 4, 128, 128, sizeof(BlockQ4G128), 0, false, true,
     S::kF16PerGroup, -7, 7, 8},
    {QuantFormat::kInt4G32Asym, "int4-g32-asym", 4, 32, 32, sizeof(BlockQ4G32Asym), 0, false, false,
     S::kF16PerGroup, 0, 15, 0},
    {QuantFormat::kInt4G128Asym, "int4-g128-asym", 4, 128, 128, sizeof(BlockQ4G128Asym), 0, false,
     false, S::kF16PerGroup, 0, 15, 0},
    {QuantFormat::kInt4Channel, "int4", 4, 0, 32, sizeof(BlockI4x32), 4, false, true, S::kF32PerRow,
     -7, 7, 8},
    {QuantFormat::kInt2G32Asym, "int2-g32-asym", 2, 32, 32, sizeof(BlockQ2G32Asym), 0, false, false,
     S::kF16PerGroup, 0, 3, 0},
    {QuantFormat::kInt2G64Asym, "int2-g64-asym", 2, 64, 64, sizeof(BlockQ2G64Asym), 0, false, false,
     S::kF16PerGroup, 0, 3, 0},
    {QuantFormat::kTernaryChannel, "ternary", 2, 0, 32, sizeof(BlockT2x32), 4, false, true,
     S::kF32PerRow, -1, 1, 1},
    {QuantFormat::kTernaryBase3, "ternary-base3", 0, 0, 160, sizeof(BlockT3x160), 4, false, true,
     S::kF32PerRow, -1, 1, 1},
    {QuantFormat::kInt3Channel, "int3", 3, 0, 32, sizeof(BlockI3x32), 4, false, true, S::kF32PerRow,
     -3, 3, 4},
};

// The SIMD kernels identify formats by these plain constants.
static_assert(detail::kFmtF32 == static_cast<int>(QuantFormat::kF32), "format id");
static_assert(detail::kFmtF16 == static_cast<int>(QuantFormat::kF16), "format id");
static_assert(detail::kFmtBF16 == static_cast<int>(QuantFormat::kBF16), "format id");
static_assert(detail::kFmtInt8Channel == static_cast<int>(QuantFormat::kInt8Channel), "format id");
static_assert(detail::kFmtQ8_0 == static_cast<int>(QuantFormat::kQ8_0), "format id");
static_assert(detail::kFmtInt4G32Sym == static_cast<int>(QuantFormat::kInt4G32Sym), "format id");
static_assert(detail::kFmtInt4G128Sym == static_cast<int>(QuantFormat::kInt4G128Sym), "format id");
static_assert(detail::kFmtInt4G32Asym == static_cast<int>(QuantFormat::kInt4G32Asym), "format id");
static_assert(detail::kFmtInt4G128Asym == static_cast<int>(QuantFormat::kInt4G128Asym),
              "format id");
static_assert(detail::kFmtInt4Channel == static_cast<int>(QuantFormat::kInt4Channel), "format id");
static_assert(detail::kFmtInt2G32Asym == static_cast<int>(QuantFormat::kInt2G32Asym), "format id");
static_assert(detail::kFmtInt2G64Asym == static_cast<int>(QuantFormat::kInt2G64Asym), "format id");
static_assert(detail::kFmtTernaryChannel == static_cast<int>(QuantFormat::kTernaryChannel),
              "format id");
static_assert(detail::kFmtTernaryBase3 == static_cast<int>(QuantFormat::kTernaryBase3),
              "format id");
static_assert(detail::kFmtInt3Channel == static_cast<int>(QuantFormat::kInt3Channel), "format id");

struct Alias {
  const char* name;
  QuantFormat format;
};
constexpr Alias kAliases[] = {
    {"fp32", QuantFormat::kF32},
    {"float32", QuantFormat::kF32},
    {"fp16", QuantFormat::kF16},
    {"float16", QuantFormat::kF16},
    {"half", QuantFormat::kF16},
    {"bfloat16", QuantFormat::kBF16},
    {"int8-channel", QuantFormat::kInt8Channel},
    {"q8_0", QuantFormat::kQ8_0},
    {"int4-channel", QuantFormat::kInt4Channel},
    {"int3-channel", QuantFormat::kInt3Channel},
    {"ternary-channel", QuantFormat::kTernaryChannel},
};

}  // namespace

bool is_known_format(std::uint32_t value) { return value >= 1 && value <= kNumQuantFormats; }

const FormatTraits& format_traits(QuantFormat format) {
  const auto v = static_cast<std::uint32_t>(format);
  ELMQ_CHECK_ARG(is_known_format(v), "format_traits: unknown QuantFormat value ", v);
  const FormatTraits& t = kTraits[v - 1];
  return t;
}

const char* format_name(QuantFormat format) { return format_traits(format).name; }

QuantFormat parse_format(const std::string& name) {
  for (const FormatTraits& t : kTraits) {
    if (name == t.name) return t.format;
  }
  for (const Alias& a : kAliases) {
    if (name == a.name) return a.format;
  }
  std::string valid;
  for (const FormatTraits& t : kTraits) {
    if (!valid.empty()) valid += ", ";
    valid += t.name;
  }
  throw InvalidArgument(str_cat("parse_format: unknown format '", name, "' (valid: ", valid, ")"));
}

std::vector<QuantFormat> all_formats() {
  std::vector<QuantFormat> out;
  for (const FormatTraits& t : kTraits) out.push_back(t.format);
  return out;
}

Index format_blocks_per_row(QuantFormat format, Index cols) {
  ELMQ_CHECK_ARG(cols >= 0, "format_blocks_per_row: cols must be >= 0, got ", cols);
  const Index b = format_traits(format).block;
  return (cols + b - 1) / b;
}

Index format_padded_cols(QuantFormat format, Index cols) {
  return format_blocks_per_row(format, cols) * format_traits(format).block;
}

Index format_groups_per_row(QuantFormat format, Index cols) {
  ELMQ_CHECK_ARG(cols >= 0, "format_groups_per_row: cols must be >= 0, got ", cols);
  const FormatTraits& t = format_traits(format);
  if (t.is_float) return 0;
  if (t.group == 0) return 1;
  return (cols + t.group - 1) / t.group;
}

std::uint64_t format_row_bytes(QuantFormat format, Index cols) {
  const FormatTraits& t = format_traits(format);
  return static_cast<std::uint64_t>(format_blocks_per_row(format, cols)) *
             static_cast<std::uint64_t>(t.block_bytes) +
         static_cast<std::uint64_t>(t.row_extra_bytes);
}

std::uint64_t format_bytes(QuantFormat format, Index rows, Index cols) {
  ELMQ_CHECK_ARG(rows >= 0 && cols >= 0, "format_bytes: sizes must be >= 0, got ", rows, " x ",
                 cols);
  if (rows == 0 || cols == 0) return 0;
  return static_cast<std::uint64_t>(rows) * format_row_bytes(format, cols);
}

double format_bits_per_weight(QuantFormat format, Index rows, Index cols) {
  const std::uint64_t b = format_bytes(format, rows, cols);
  if (b == 0) return 0.0;
  return 8.0 * static_cast<double>(b) / (static_cast<double>(rows) * static_cast<double>(cols));
}

}  // namespace elmq
