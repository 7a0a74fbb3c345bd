// Private (quant/detail): scalar access to the stored codes of a quantized
// row, following the packing rules of quant/blocks.h. This is the
// specification the SIMD decoders are tested against. Not for SIMD files.
#pragma once

#include <cstdint>
#include <cstring>

#include "quant/formats.h"
#include "quant/half.h"

namespace elmq {
namespace detail {

/// Physical layout of one quantized format's row.
struct Layout {
  int bits = 0;          ///< 8, 4, 3, 2, or 0 for base-3 trits
  int chunk = 0;         ///< codes per block (= group for grouped formats)
  int chunk_bytes = 0;   ///< bytes of codes per block
  int header_bytes = 0;  ///< fp16 d (2) or d and m (4) before the codes; 0 for per-channel
  int block_bytes = 0;
};

inline Layout layout_of(QuantFormat f) {
  const FormatTraits& t = format_traits(f);
  Layout l;
  l.bits = t.code_bits;
  l.chunk = t.block;
  l.block_bytes = t.block_bytes;
  l.header_bytes = t.scale_kind == ScaleKind::kF16PerGroup ? (t.symmetric ? 2 : 4) : 0;
  l.chunk_bytes = t.block_bytes - l.header_bytes;
  return l;
}

inline constexpr std::uint8_t kPow3[5] = {1, 3, 9, 27, 81};

/// Trit n (0..4) of a base-3 byte.
inline int base3_digit(std::uint8_t byte, int n) {
  const std::uint8_t q = static_cast<std::uint8_t>(byte * kPow3[n]);
  return (q * 3) >> 8;
}

/// The byte holding trits t[0..4] (t0 most significant).
inline std::uint8_t base3_encode(const int t[5]) {
  const int v = (((t[0] * 3 + t[1]) * 3 + t[2]) * 3 + t[3]) * 3 + t[4];
  return static_cast<std::uint8_t>((v * 256 + 242) / 243);
}

/// Stored code of column k of a row (int8 formats: the signed value).
inline int get_code(const Layout& l, const std::uint8_t* row, std::int64_t k) {
  const std::int64_t blk = k / l.chunk;
  const int r = static_cast<int>(k % l.chunk);
  const std::uint8_t* p = row + blk * l.block_bytes + l.header_bytes;
  switch (l.bits) {
    case 8:
      return static_cast<std::int8_t>(p[r]);
    case 4: {
      const int half = l.chunk / 2;
      return (p[r % half] >> (4 * (r / half))) & 0xF;
    }
    case 3:  // 32 codes: two low bits as a 2-bit chunk, high bits after them
      return ((p[r % 8] >> (2 * (r / 8))) & 0x3) | (((p[8 + r / 8] >> (r % 8)) & 0x1) << 2);
    case 2: {
      const int quarter = l.chunk / 4;
      return (p[r % quarter] >> (2 * (r / quarter))) & 0x3;
    }
    default:
      return base3_digit(p[r % 32], r / 32);
  }
}

/// Sets the stored code of column k (code in the format's stored range).
inline void set_code(const Layout& l, std::uint8_t* row, std::int64_t k, int code) {
  const std::int64_t blk = k / l.chunk;
  const int r = static_cast<int>(k % l.chunk);
  std::uint8_t* p = row + blk * l.block_bytes + l.header_bytes;
  switch (l.bits) {
    case 8:
      p[r] = static_cast<std::uint8_t>(static_cast<std::int8_t>(code));
      break;
    case 4: {
      const int half = l.chunk / 2, sh = 4 * (r / half);
      p[r % half] = static_cast<std::uint8_t>((p[r % half] & ~(0xF << sh)) | ((code & 0xF) << sh));
      break;
    }
    case 3: {
      const int sh = 2 * (r / 8), hb = r % 8;
      p[r % 8] = static_cast<std::uint8_t>((p[r % 8] & ~(0x3 << sh)) | ((code & 0x3) << sh));
      p[8 + r / 8] =
          static_cast<std::uint8_t>((p[8 + r / 8] & ~(0x1 << hb)) | (((code >> 2) & 0x1) << hb));
      break;
    }
    case 2: {
      const int quarter = l.chunk / 4, sh = 2 * (r / quarter);
      p[r % quarter] =
          static_cast<std::uint8_t>((p[r % quarter] & ~(0x3 << sh)) | ((code & 0x3) << sh));
      break;
    }
    default: {
      int t[5];
      for (int n = 0; n < 5; ++n) t[n] = base3_digit(p[r % 32], n);
      t[r / 32] = code;
      p[r % 32] = base3_encode(t);
      break;
    }
  }
}

inline float load_half(const std::uint8_t* p) {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

inline void store_half(std::uint8_t* p, std::uint16_t h) { std::memcpy(p, &h, 2); }

}  // namespace detail
}  // namespace elmq
