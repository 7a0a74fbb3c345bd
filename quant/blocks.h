// The storage blocks of elmq's quantized formats: plain structs, no padding,
// sizes checked at compile time (the file format depends on them).
//
// A quantized row (one output channel) is a sequence of blocks; the last one
// is padded with the format's zero code (its value is 0 for symmetric
// formats; padding is never read back as data). Grouped formats keep their
// fp16 scale (and min) in the block; per-channel formats keep one fp32 scale
// per row outside the blocks (QuantizedTensor::row_scales()).
//
// Packing of sub-byte codes. A "chunk" of C codes of b bits occupies C*b/8
// bytes; byte j holds codes j + i*(C*b/8), i = 0 .. 8/b - 1, in bits
// [b*i, b*i + b). So for 4-bit codes byte j holds code j (low nibble) and code
// j + C/2 (high nibble), for 2-bit codes byte j holds codes j, j + C/4, j + C/2,
// j + 3C/4. This lets an AVX2 kernel turn a load into codes in order with a
// shift and a mask. Base-3 chunks hold 160 trits in 32 bytes: byte j holds
// trits j, j+32, j+64, j+96, j+128 as a base-3 number v = t0*81 + t1*27 +
// t2*9 + t3*3 + t4 (t0 = trit j), stored as ceil(v * 256 / 243) so that trit
// n is ((uint8)(byte * 3^n) * 3) >> 8 (the TQ1_0 encoding of ggml).
//
// This header is also included by the SIMD translation units: it must hold
// declarations only (no inline functions, no Eigen).
#pragma once

#include <cstdint>

namespace elmq {

/// Codes stored as value + offset so that sub-byte codes are unsigned.
/// int8 formats store the value itself (two's complement, in [-127, 127]).

/// INT8, groups of 32, fp16 scale (ggml's Q8_0): w = d * q, q in [-127, 127]. 8.5 bpw.
struct BlockQ8G32 {
  std::uint16_t d;  ///< fp16 scale
  std::int8_t qs[32];
};
static_assert(sizeof(BlockQ8G32) == 34, "BlockQ8G32 must be 34 bytes");

/// INT4 symmetric, groups of 32: w = d * (code - 8), code in [1, 15]. 4.5 bpw.
struct BlockQ4G32 {
  std::uint16_t d;
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockQ4G32) == 18, "BlockQ4G32 must be 18 bytes");

/// INT4 asymmetric, groups of 32: w = d * code + m, code in [0, 15]. 5.0 bpw.
struct BlockQ4G32Asym {
  std::uint16_t d;
  std::uint16_t m;  ///< fp16 min
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockQ4G32Asym) == 20, "BlockQ4G32Asym must be 20 bytes");

/// INT4 symmetric, groups of 128. 4.125 bpw.
struct BlockQ4G128 {
  std::uint16_t d;
  std::uint8_t qs[64];
};
static_assert(sizeof(BlockQ4G128) == 66, "BlockQ4G128 must be 66 bytes");

/// INT4 asymmetric, groups of 128. 4.25 bpw.
struct BlockQ4G128Asym {
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qs[64];
};
static_assert(sizeof(BlockQ4G128Asym) == 68, "BlockQ4G128Asym must be 68 bytes");

/// INT2 asymmetric, groups of 32: w = d * code + m, code in [0, 3]. 3.0 bpw.
struct BlockQ2G32Asym {
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qs[8];
};
static_assert(sizeof(BlockQ2G32Asym) == 12, "BlockQ2G32Asym must be 12 bytes");

/// INT2 asymmetric, groups of 64. 2.5 bpw.
struct BlockQ2G64Asym {
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockQ2G64Asym) == 20, "BlockQ2G64Asym must be 20 bytes");

/// Per-channel INT8 chunk: 32 codes in [-127, 127] (row scale is fp32, outside).
struct BlockI8x32 {
  std::int8_t qs[32];
};
static_assert(sizeof(BlockI8x32) == 32, "BlockI8x32 must be 32 bytes");

/// Per-channel INT4 chunk: 32 codes, code = q + 8 in [1, 15].
struct BlockI4x32 {
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockI4x32) == 16, "BlockI4x32 must be 16 bytes");

/// Per-channel INT3 chunk: 32 codes, code = q + 4 in [1, 7], split in bit
/// planes (ggml's Q3_K does the same): the low two bits of code i are packed
/// in qs like a 2-bit chunk (byte j: codes j, j + 8, j + 16, j + 24), its high
/// bit is bit i % 8 of qh[i / 8]. 3 bpw plus the row scale.
struct BlockI3x32 {
  std::uint8_t qs[8];
  std::uint8_t qh[4];
};
static_assert(sizeof(BlockI3x32) == 12, "BlockI3x32 must be 12 bytes");

/// Per-channel ternary chunk, 2 bits per code: code = t + 1 in [0, 2].
struct BlockT2x32 {
  std::uint8_t qs[8];
};
static_assert(sizeof(BlockT2x32) == 8, "BlockT2x32 must be 8 bytes");

/// Per-channel ternary chunk, base-3: 160 trits (code = t + 1) in 32 bytes.
struct BlockT3x160 {
  std::uint8_t qs[32];
};
static_assert(sizeof(BlockT3x160) == 32, "BlockT3x160 must be 32 bytes");

}  // namespace elmq
