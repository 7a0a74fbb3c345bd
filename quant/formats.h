// The quantized weight formats of elmq and their traits table.
//
// A weight matrix is N x K (one output channel per row, K inputs). Every
// format stores each row as whole blocks (quant/blocks.h), so K is padded up
// to a multiple of the block size; the padding is counted in bytes():
//
//   bytes(N, K) = N * (ceil(K / block) * block_bytes + row_extra_bytes)
//   bits_per_weight = 8 * bytes / (N * K)
//
// Quantized values: w = scale * q for symmetric formats (q in [-qmax, qmax],
// the restricted range: +-127, +-7, +-3, +-1) and w = scale * q + min for
// asymmetric ones (q in [0, qmax]). Codes are rounded to nearest, ties to
// even. `q` is called the value code; the stored code is q + code_offset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elm/common/matrix.h"

namespace elmq {

/// Values are part of the file format: never renumber.
enum class QuantFormat : std::uint32_t {
  kF32 = 1,              ///< "f32": float32 (the reference), 32 bpw
  kF16 = 2,              ///< "f16": IEEE half, round to nearest even, 16 bpw
  kBF16 = 3,             ///< "bf16": bfloat16, round to nearest even, 16 bpw
  kInt8Channel = 4,      ///< "int8": +-127, fp32 scale per row, ~8 bpw
  kQ8_0 = 5,             ///< "int8-g32" (Q8_0): +-127, fp16 scale per 32, 8.5 bpw
  kInt4G32Sym = 6,       ///< "int4-g32": +-7, fp16 scale per 32, 4.5 bpw
  kInt4G128Sym = 7,      ///< "int4-g128": +-7, fp16 scale per 128, 4.125 bpw
  kInt4G32Asym = 8,      ///< "int4-g32-asym": 0..15, fp16 scale + min per 32, 5.0 bpw
  kInt4G128Asym = 9,     ///< "int4-g128-asym": 0..15, fp16 scale + min per 128, 4.25 bpw
  kInt4Channel = 10,     ///< "int4": +-7, fp32 scale per row (for GPTQ), ~4 bpw
  kInt2G32Asym = 11,     ///< "int2-g32-asym": 0..3, fp16 scale + min per 32, 3.0 bpw
  kInt2G64Asym = 12,     ///< "int2-g64-asym": 0..3, fp16 scale + min per 64, 2.5 bpw
  kTernaryChannel = 13,  ///< "ternary": {-1, 0, +1}, fp32 scale per row, 2 bits, ~2 bpw
  kTernaryBase3 = 14,    ///< "ternary-base3": same values, 5 trits per byte, ~1.6 bpw
  kInt3Channel = 15,     ///< "int3": +-3, fp32 scale per row (for GPTQ), ~3 bpw
};

inline constexpr int kNumQuantFormats = 15;

/// Where a format keeps its scales.
enum class ScaleKind : std::uint32_t {
  kNone = 0,         ///< float formats
  kF32PerRow = 1,    ///< one fp32 scale per output channel
  kF16PerGroup = 2,  ///< one fp16 scale (and fp16 min if asymmetric) per group, in the block
};

struct FormatTraits {
  QuantFormat format;
  const char* name;
  int code_bits;        ///< bits per stored code; 32/16 for float formats, 0 for base-3 (1.6)
  int group;            ///< weights sharing one scale; 0 = the whole row (per channel); 1 = float
  int block;            ///< weights per storage block (rows are padded to whole blocks)
  int block_bytes;      ///< bytes per block (codes, plus the fp16 scale/min of grouped formats)
  int row_extra_bytes;  ///< bytes per row outside the blocks (the fp32 per-channel scale)
  bool is_float;        ///< f32, f16, bf16: no codes or scales
  bool symmetric;       ///< w = scale * q (else w = scale * q + min)
  ScaleKind scale_kind;
  int qmin, qmax;   ///< value-code range
  int code_offset;  ///< stored code = q + code_offset (the "zero code" for symmetric formats)
};

/// The traits table entry of a format. @throws InvalidArgument for a value outside the enum.
const FormatTraits& format_traits(QuantFormat format);
/// True if `value` is a known QuantFormat (used when reading files).
bool is_known_format(std::uint32_t value);
const char* format_name(QuantFormat format);
/// Parses a name from the table ("int4-g32", ...) or an alias ("q8_0", "fp16",
/// "int8-channel", "int4-channel", "ternary-channel").
/// @throws InvalidArgument listing the valid names.
QuantFormat parse_format(const std::string& name);
/// Every format, in enum order.
std::vector<QuantFormat> all_formats();

/// Blocks per row: ceil(cols / block).
Index format_blocks_per_row(QuantFormat format, Index cols);
/// cols padded to whole blocks.
Index format_padded_cols(QuantFormat format, Index cols);
/// Scale groups per row: 1 for per-channel formats, ceil(cols / group) for grouped
/// formats, 0 for float formats.
Index format_groups_per_row(QuantFormat format, Index cols);
/// Bytes of one row, including its padding and its per-row scale.
std::uint64_t format_row_bytes(QuantFormat format, Index cols);
/// Exact storage of an N x K matrix (payload, scales, mins, padding); 0 when N or K is 0.
/// @throws InvalidArgument for negative sizes.
std::uint64_t format_bytes(QuantFormat format, Index rows, Index cols);
/// 8 * bytes / (rows * cols); 0 for an empty matrix.
double format_bits_per_weight(QuantFormat format, Index rows, Index cols);

}  // namespace elmq
