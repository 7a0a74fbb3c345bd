// AVX2 + FMA + F16C kernels. Compiled with per-file flags (-mavx2 -mfma
// -mf16c) and called only after a CPUID check (quant/cpu_features.cpp).
//
// Everything here lives in an anonymous namespace and uses only intrinsics
// and plain C: no Eigen, no std:: inline functions, so no AVX2-compiled copy
// of a shared inline function can be picked by the linker for other files.
//
// Integer dot products are exact and equal the reference kernels':
//  - int8 codes (|w| <= 127) times activations in [-128, 127] use the sign
//    trick maddubs(|a|, sign(w, a)): each 16-bit pair sum is at most
//    2 * 128 * 127 = 32512 < 32767, so vpmaddubsw never saturates;
//  - unsigned sub-byte codes c <= 15 use maddubs(c, a) directly (pair sums
//    <= 2 * 15 * 128 = 3840), and several of them are summed in 16 bits only
//    as far as the bound allows (kFlush);
//  - int32 lanes are folded into int64 before they could overflow (kSuper).
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "quant/detail/kernels.h"

namespace elmq {
namespace detail {

namespace {

using i64 = std::int64_t;

inline i64 imin(i64 a, i64 b) { return a < b ? a : b; }

inline float hsum_ps(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline float hmax_ps(__m256 v) {
  __m128 lo = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_max_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_max_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// Exact int64 sum of eight int32 lanes.
inline i64 hsum_epi32_i64(__m256i v) {
  const __m256i s = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
  const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
}

// Single-row (memory-bound) tiles prefetch the next tile's weights, which
// follow the current rows in memory, at the pace they consume the current ones:
// rows are short (a few KB), too short for the hardware stream prefetchers.
#ifndef ELMQ_TUNE_NO_PREFETCH
constexpr bool kPrefetchNextTile = true;
#else
constexpr bool kPrefetchNextTile = false;
#endif

// The size is a template argument: GCC 12 dropped a run-time-sized prefetch
// loop altogether in split_tile, where the size came from a lambda's argument.
template <i64 kBytes>
inline void prefetch_span(const std::uint8_t* p) {
#pragma GCC unroll 64
  for (i64 off = 0; off < kBytes; off += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
  }
}

inline float half_at(const std::uint8_t* p) {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline float round_nearest(float v) {
  return _mm_cvtss_f32(
      _mm_round_ss(_mm_setzero_ps(), _mm_set_ss(v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

inline float clampf(float t, float lo, float hi) {
  t = t < lo ? lo : t;
  return hi < t ? hi : t;
}

// ---------------------------------------------------------------- activations

void quantize_acts_avx2(const float* x, i64 x_stride, i64 rows, i64 k, i64 kp, i64 group,
                        const ActQuantParams& params, std::int8_t* q, i64 q_stride, float* scale,
                        float* gsum, i64 gsum_stride, i64* rsum) {
  const bool asym = params.mode == kActStaticAsymmetric;
  const int shift = asym ? params.zero_point - 128 : 0;
  const float lo = asym ? static_cast<float>(-params.zero_point) : -127.0f;
  const float hi = asym ? static_cast<float>(255 - params.zero_point) : 127.0f;
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256i vshift = _mm256_set1_epi32(shift);
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (i64 r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    std::int8_t* qr = q + r * q_stride;
    float inv = params.inv, sc = params.scale;
    if (params.mode == kActDynamic) {
      __m256 vmax = _mm256_setzero_ps();
      i64 j = 0;
      for (; j + 8 <= k; j += 8)
        vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(xr + j), absmask));
      float amax = hmax_ps(vmax);
      for (; j < k; ++j) {
        const float a = xr[j] < 0.0f ? -xr[j] : xr[j];
        amax = amax < a ? a : amax;
      }
      if (amax < kTinyActivation) {
        inv = 0.0f;
        sc = 0.0f;
      } else {
        inv = 127.0f / amax;
        sc = amax / 127.0f;
      }
    }
    const __m256 vinv = _mm256_set1_ps(inv);
    auto quant8 = [&](const float* p) {
      __m256 t = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(p), vinv),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      t = _mm256_min_ps(_mm256_max_ps(t, vlo), vhi);
      return _mm256_add_epi32(_mm256_cvtps_epi32(t), vshift);
    };
    i64 j = 0;
    for (; j + 32 <= k; j += 32) {
      const __m256i a = _mm256_packs_epi32(quant8(xr + j), quant8(xr + j + 8));
      const __m256i b = _mm256_packs_epi32(quant8(xr + j + 16), quant8(xr + j + 24));
      const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), perm);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qr + j), p);
    }
    for (; j < k; ++j) {
      const float t = clampf(round_nearest(xr[j] * inv), lo, hi);
      qr[j] = static_cast<std::int8_t>(static_cast<int>(t) + shift);
    }
    for (j = k; j < kp; ++j) qr[j] = static_cast<std::int8_t>(shift);
    scale[r] = sc;
    if (gsum) {
      for (i64 g = 0; g < kp / group; ++g) {
        std::int32_t s = 0;
        for (i64 i = g * group; i < (g + 1) * group; ++i) s += qr[i];
        gsum[r * gsum_stride + g] = static_cast<float>(s);
      }
    }
    if (rsum) {
      i64 s = 0;
      for (i64 i = 0; i < kp; ++i) s += qr[i];
      rsum[r] = s;
    }
  }
}

// ---------------------------------------------------------------- code decoders
// decode(p, v) returns codes [32 v, 32 v + 32) of the chunk at p, one per byte
// (Dec3x160: State::next(v), for v in order).

struct Dec8 {  // 32 int8 codes
  static constexpr int kChunk = 32, kNV = 1, kBytes = 32;
  static __m256i decode(const std::uint8_t* p, int) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
};

struct Dec4x32 {  // byte j: codes j (low nibble), j + 16 (high nibble)
  static constexpr int kChunk = 32, kNV = 1, kBytes = 16;
  static __m256i decode(const std::uint8_t* p, int) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m256i w = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(w, _mm256_set1_epi8(0x0F));
  }
};

struct Dec4x128 {  // byte j: codes j, j + 64
  static constexpr int kChunk = 128, kNV = 4, kBytes = 64;
  static __m256i decode(const std::uint8_t* p, int v) {
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * (v & 1)));
    if (v >> 1) b = _mm256_srli_epi16(b, 4);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
  }
};

struct Dec2x32 {  // byte j: codes j, j + 8, j + 16, j + 24
  static constexpr int kChunk = 32, kNV = 1, kBytes = 8;
  static __m256i decode(const std::uint8_t* p, int) {
    long long t;
    std::memcpy(&t, p, 8);
    const __m256i b = _mm256_srlv_epi64(_mm256_set1_epi64x(t), _mm256_set_epi64x(6, 4, 2, 0));
    return _mm256_and_si256(b, _mm256_set1_epi8(0x03));
  }
};

struct Dec3x32 {  // low bits as Dec2x32, then bit i % 8 of byte 8 + i / 8 = bit 2 of code i
  static constexpr int kChunk = 32, kNV = 1, kBytes = 12;
  static __m256i decode(const std::uint8_t* p, int) {
    long long t;
    std::int32_t h;
    std::memcpy(&t, p, 8);
    std::memcpy(&h, p + 8, 4);
    const __m256i lo = _mm256_and_si256(
        _mm256_srlv_epi64(_mm256_set1_epi64x(t), _mm256_set_epi64x(6, 4, 2, 0)),
        _mm256_set1_epi8(0x03));
    // Byte i gets high-bit byte i / 8 (each 128-bit lane holds all four), then its bit i % 8.
    const __m256i sel = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                         2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    const __m256i hb = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(h), sel), bit);
    return _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(hb, bit), _mm256_set1_epi8(4)));
  }
};

struct Dec2x64 {  // byte j: codes j, j + 16, j + 32, j + 48
  static constexpr int kChunk = 64, kNV = 2, kBytes = 16;
  static __m256i decode(const std::uint8_t* p, int v) {
    const __m256i b =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i sh = v == 0 ? _mm256_set_epi64x(2, 2, 0, 0) : _mm256_set_epi64x(6, 6, 4, 4);
    return _mm256_and_si256(_mm256_srlv_epi64(b, sh), _mm256_set1_epi8(0x03));
  }
};

// Trit n of a chunk byte b is ((uint8)(b * 3^n) * 3) >> 8: the top trit of
// b * 3^n mod 256. Decoded in the order n = 0 .. 4, keeping t = b * 3^n - 128
// (b ^ 0x80, then t <- 3 t: the offset carries over, as 3 * 128 = 128 mod 256),
// so the next power is two byte adds and the top trit two signed compares:
// about 6 instructions per vector where 16-bit multiplies of the even and odd
// bytes and unsigned compares took 11 (a stateless decode(p, v) that redoes
// the powers was not faster).
struct Dec3x160 {  // byte j: trits j, j + 32, ..., j + 128 (see quant/blocks.h)
  static constexpr int kChunk = 160, kNV = 5, kBytes = 32;
  struct State {
    __m256i t;
    void start(const std::uint8_t* p) {
      t = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
                           _mm256_set1_epi8(static_cast<char>(0x80)));
    }
    // Call with v = 0, 1, ..., kNV - 1 in turn.
    __m256i next(int v) {
      if (v > 0) t = _mm256_add_epi8(_mm256_add_epi8(t, t), t);
      // b * 3^v >= 86 and >= 171 (unsigned) are t > -43 and t > 42 (signed).
      const __m256i ge86 = _mm256_cmpgt_epi8(t, _mm256_set1_epi8(-43));
      const __m256i ge171 = _mm256_cmpgt_epi8(t, _mm256_set1_epi8(42));
      return _mm256_sub_epi8(_mm256_setzero_si256(), _mm256_add_epi8(ge86, ge171));
    }
  };
};

// ---------------------------------------------------------------- format policies
// kHeader: bytes of fp16 d (and m) before the codes of a grouped block.
// kOffset: code of the value 0 (symmetric). kFlush: chunks whose unsigned
// maddubs results may be summed in int16 (bound 32767 / (2 * cmax * 128) vectors).
// kR x kC: register tile for batches; kC1: tile width for single rows.

template <class D, bool Signed, bool Grouped, bool Asym, int Offset, int Flush, int R, int C,
          int C1>
struct Fmt {
  using Dec = D;
  static constexpr bool kSigned = Signed, kGrouped = Grouped, kAsym = Asym;
  static constexpr int kOffset = Offset, kFlush = Flush;
  static constexpr int kHeader = Grouped ? (Asym ? 4 : 2) : 0;
  static constexpr int kR = R, kC = C, kC1 = C1;
};

using FmtInt8Channel = Fmt<Dec8, true, false, false, 0, 1, 2, 4, 4>;
using FmtQ8G32 = Fmt<Dec8, true, true, false, 0, 1, 2, 4, 4>;
using FmtInt4G32 = Fmt<Dec4x32, false, true, false, 8, 1, 3, 2, 4>;
using FmtInt4G128 = Fmt<Dec4x128, false, true, false, 8, 1, 2, 4, 4>;
using FmtInt4G32Asym = Fmt<Dec4x32, false, true, true, 0, 1, 3, 2, 4>;
using FmtInt4G128Asym = Fmt<Dec4x128, false, true, true, 0, 1, 2, 4, 4>;
using FmtInt4Channel = Fmt<Dec4x32, false, false, false, 8, 8, 3, 2, 4>;
using FmtInt2G32Asym = Fmt<Dec2x32, false, true, true, 0, 1, 3, 2, 4>;
using FmtInt2G64Asym = Fmt<Dec2x64, false, true, true, 0, 1, 2, 4, 4>;
using FmtInt3Channel = Fmt<Dec3x32, false, false, false, 4, 16, 3, 2, 4>;
using FmtTernary = Fmt<Dec2x32, false, false, false, 1, 32, 3, 2, 4>;
using FmtTernaryBase3 = Fmt<Dec3x160, false, false, false, 1, 12, 3, 2, 4>;

// ---------------------------------------------------------------- per-channel tile
// y[m][n] from the exact integer dot of activation row m and weight row n
// (the reference kernels' epilogue).
template <class F>
inline void channel_out(const QActs& a, const QWeights& w, i64 m, i64 n, i64 dot, const QOut& out) {
  const i64 o = F::kOffset, za = a.zero, kp = w.padded_cols;
  const i64 e = dot - o * a.rsum[m] - za * w.code_sum[n] + o * za * kp;
  const float bias = out.bias ? out.bias[n] : 0.0f;
  out.y[m * out.y_stride + n] = static_cast<float>(e) * (a.scale[m] * w.row_scale[n]) + bias;
}

// channel_tile's steps for unsigned codes: 32 activation codes of each of R
// rows at byte `off`, and s16[r][c] += the pair sums of codes wv times av[r].
template <int R>
[[gnu::always_inline]] inline void load_rows(const std::int8_t* const (&ar)[R], i64 off,
                                             __m256i (&av)[R]) {
  for (int r = 0; r < R; ++r)
    av[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar[r] + off));
}
template <int R, int C>
[[gnu::always_inline]] inline void add_unsigned_products(__m256i wv, const __m256i (&av)[R],
                                                         int c, __m256i (&s16)[R][C]) {
  for (int r = 0; r < R; ++r)
    s16[r][c] = _mm256_add_epi16(s16[r][c], _mm256_maddubs_epi16(wv, av[r]));
}

template <class F, int R, int C>
void channel_tile(const QActs& a, const QWeights& w, i64 m, i64 n, const QOut& out) {
  using D = typename F::Dec;
  const i64 chunks = w.blocks_per_row;
  const std::uint8_t* wr[C];
  const std::int8_t* ar[R];
  for (int c = 0; c < C; ++c) wr[c] = w.data + (n + c) * w.row_stride;
  for (int r = 0; r < R; ++r) ar[r] = a.q + (m + r) * a.q_stride;
  const __m256i ones = _mm256_set1_epi16(1);
  // The next tile's rows start C rows further (the last tile re-reads itself).
  [[maybe_unused]] const std::uint8_t* next = w.data + imin(n + C, w.rows - C) * w.row_stride;
  i64 dot[R][C] = {};
  // int32 lanes gain < 2^16 per chunk (signed) or per flush (unsigned).
  constexpr i64 kSuper = 16384 * static_cast<i64>(F::kFlush);
  for (i64 c0 = 0; c0 < chunks; c0 += kSuper) {
    const i64 c1 = imin(chunks, c0 + kSuper);
    __m256i acc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_si256();
    if constexpr (F::kSigned) {
      for (i64 ch = c0; ch < c1; ++ch) {
        if constexpr (R == 1 && kPrefetchNextTile)
          prefetch_span<C * D::kBytes>(next + ch * C * D::kBytes);
        __m256i av[R], aa[R];
        for (int r = 0; r < R; ++r) {
          av[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar[r] + ch * 32));
          aa[r] = _mm256_abs_epi8(av[r]);
        }
        for (int c = 0; c < C; ++c) {
          const __m256i wv = D::decode(wr[c] + ch * D::kBytes, 0);
          for (int r = 0; r < R; ++r) {
            const __m256i p = _mm256_maddubs_epi16(aa[r], _mm256_sign_epi8(wv, av[r]));
            acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(p, ones));
          }
        }
      }
    } else {
      for (i64 ch = c0; ch < c1; ch += F::kFlush) {
        const i64 ce = imin(c1, ch + F::kFlush);
        __m256i s16[R][C];
        for (int r = 0; r < R; ++r)
          for (int c = 0; c < C; ++c) s16[r][c] = _mm256_setzero_si256();
        for (i64 x = ch; x < ce; ++x) {
          if constexpr (R == 1 && kPrefetchNextTile)
            prefetch_span<C * D::kBytes>(next + x * C * D::kBytes);
          // Base-3 trits are decoded in order from a state per weight row, so
          // that decoder has its own loop over v. (One loop for every decoder
          // changed GCC's code for the others: INT4 per channel kept its
          // int16 sums on the stack, 375 -> 530 us.)
          if constexpr (std::is_same_v<D, Dec3x160>) {
            typename D::State st[C];
            for (int c = 0; c < C; ++c) st[c].start(wr[c] + x * D::kBytes);
            for (int v = 0; v < D::kNV; ++v) {
              __m256i av[R];
              load_rows<R>(ar, x * D::kChunk + 32 * v, av);
              for (int c = 0; c < C; ++c) add_unsigned_products<R, C>(st[c].next(v), av, c, s16);
            }
          } else {
            for (int v = 0; v < D::kNV; ++v) {
              __m256i av[R];
              load_rows<R>(ar, x * D::kChunk + 32 * v, av);
              for (int c = 0; c < C; ++c) {
                add_unsigned_products<R, C>(D::decode(wr[c] + x * D::kBytes, v), av, c, s16);
              }
            }
          }
        }
        for (int r = 0; r < R; ++r)
          for (int c = 0; c < C; ++c)
            acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(s16[r][c], ones));
      }
    }
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) dot[r][c] += hsum_epi32_i64(acc[r][c]);
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) channel_out<F>(a, w, m + r, n + c, dot[r][c], out);
}

// ---------------------------------------------------------------- ternary single rows
// Four chunks of a ternary row are one 32-byte load, whose byte 8i + j holds
// codes j, j + 8, j + 16, j + 24 of chunk i in bits 0-1, 2-3, 4-5, 6-7.
// Rather than decode each chunk into code order (a variable shift per chunk,
// the bound of channel_tile here), the load is split by bit pairs: V & 3,
// V & 12 (the codes times 4), (V >> 4) & 3 and (V >> 4) & 12, each against the
// activations of that quarter of the four chunks, which ternary_quarters
// gathers once per row. Exact: the times-4 sums are kept apart and divided by 4
// (an exact shift) at each flush. About 28 % less time than channel_tile at
// 1 x 4096 x 4096, one thread (bench/quant).

// Quads per int16 flush: each s4 < 8 * (2 * 12 * 128) < 2^15, then
// s1 + s4a / 4 + s4b / 4 < 8 * 4 * (2 * 3 * 128) < 2^15.
constexpr i64 kQuadFlush = 8;
// Weight rows per ternary_row call: two share the activation loads and the
// per-row epilogue (1 x 4096 x 4096, one thread: 295 -> 260 us with the
// flush of 8 quads; three or four rows were slower, 283 and 298 us).
constexpr int kTernaryRowCols = 2;

// out[128 t + 32 k + 8 i + j] = q[128 t + 32 i + 8 k + j]: quarter k of chunk i
// of quad t (a transpose of 8-byte pieces), for quads t < quads.
void ternary_quarters(const std::int8_t* q, i64 quads, std::int8_t* out) {
  for (i64 t = 0; t < quads; ++t)
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 4; ++i)
        std::memcpy(out + 128 * t + 32 * k + 8 * i, q + 128 * t + 32 * i + 8 * k, 8);
}

// Inlined into the loop over weight rows (a call per pair of rows cost 6 %).
template <int C>
[[gnu::always_inline]] inline void ternary_row(const QActs& a, const std::int8_t* quarters,
                                               const QWeights& w, i64 m, i64 n, const QOut& out) {
  const i64 chunks = w.blocks_per_row, quads = chunks / 4;
  const std::uint8_t* wr[C];
  for (int c = 0; c < C; ++c) wr[c] = w.data + (n + c) * w.row_stride;
  const std::int8_t* ar = a.q + m * a.q_stride;
  const __m256i ones = _mm256_set1_epi16(1), m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12);
  i64 dot[C] = {};
  __m256i acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_si256();
  // int32 lanes gain < 2^16 per flush (two int16 lanes): fold into int64
  // every 16384 flushes.
  i64 flushes = 0;
  auto flush = [&](const __m256i (&s16)[C]) {
    for (int c = 0; c < C; ++c) acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(s16[c], ones));
    if (++flushes % 16384 == 0) {
      for (int c = 0; c < C; ++c) {
        dot[c] += hsum_epi32_i64(acc[c]);
        acc[c] = _mm256_setzero_si256();
      }
    }
  };
  // Per row s1 and two s4 (for the low and high nibbles), bounded at kQuadFlush.
  auto quad = [&](i64 u, __m256i(&s1)[C], __m256i(&s4a)[C], __m256i(&s4b)[C]) {
    const std::int8_t* aq = quarters + 128 * u;
    const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq));
    const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq + 32));
    const __m256i a2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq + 64));
    const __m256i a3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq + 96));
    for (int c = 0; c < C; ++c) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr[c] + 32 * u));
      const __m256i h = _mm256_srli_epi16(v, 4);
      s1[c] = _mm256_add_epi16(s1[c], _mm256_maddubs_epi16(_mm256_and_si256(v, m3), a0));
      s4a[c] = _mm256_add_epi16(s4a[c], _mm256_maddubs_epi16(_mm256_and_si256(v, m12), a1));
      s1[c] = _mm256_add_epi16(s1[c], _mm256_maddubs_epi16(_mm256_and_si256(h, m3), a2));
      s4b[c] = _mm256_add_epi16(s4b[c], _mm256_maddubs_epi16(_mm256_and_si256(h, m12), a3));
    }
  };
  auto group = [&](i64 t, i64 te) {
    __m256i s1[C], s4a[C], s4b[C];
    for (int c = 0; c < C; ++c) s1[c] = s4a[c] = s4b[c] = _mm256_setzero_si256();
    for (i64 u = t; u < te; ++u) quad(u, s1, s4a, s4b);
    // Each lane of s4 is 4 times an exact sum: the shift divides exactly.
    for (int c = 0; c < C; ++c) {
      s1[c] = _mm256_add_epi16(s1[c], _mm256_add_epi16(_mm256_srai_epi16(s4a[c], 2),
                                                       _mm256_srai_epi16(s4b[c], 2)));
    }
    flush(s1);
  };
  for (i64 t = 0; t < quads; t += kQuadFlush) group(t, imin(quads, t + kQuadFlush));
  // The last chunks (fewer than four) as channel_tile decodes them.
  if (4 * quads < chunks) {
    __m256i s1[C];
    for (int c = 0; c < C; ++c) s1[c] = _mm256_setzero_si256();
    for (i64 x = 4 * quads; x < chunks; ++x) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar + 32 * x));
      for (int c = 0; c < C; ++c) {
        s1[c] = _mm256_add_epi16(s1[c],
                                 _mm256_maddubs_epi16(Dec2x32::decode(wr[c] + 8 * x, 0), av));
      }
    }
    flush(s1);
  }
  for (int c = 0; c < C; ++c)
    channel_out<FmtTernary>(a, w, m, n + c, dot[c] + hsum_epi32_i64(acc[c]), out);
}

// ---------------------------------------------------------------- grouped tiles
// The scales (and mins) of C weight rows are converted to float once into
// ds / ms (row c at c * blocks), then reused by every tile of activation rows.

// Lanes [0, count) of eight set (count <= 8): a masked tail of 8 groups or floats.
inline __m256i first_lanes(i64 count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Single-row paths: cacc[c] += A_g * f[c][g] for the `count` groups of a
// chunk of 8 (A_g: activation code sums at gs; f: a per-group factor of each
// weight row, buffered as the chunk's groups were read), in grouped_tile's order.
// (Measured: building f in registers instead, as headers_tail does, was slower
// for these formats' long groups: 1 x 784 x 2000 INT4-g128 56 -> 64 us.)
template <int C>
inline void add_group_terms(const float* gs, i64 count, const float (&f)[C][8],
                            __m256 (&cacc)[C]) {
  const __m256i mask = first_lanes(count);
  const __m256 av = _mm256_maskload_ps(gs, mask);
  for (int c = 0; c < C; ++c)
    cacc[c] = _mm256_fmadd_ps(av, _mm256_maskload_ps(f[c], mask), cacc[c]);
}

// Single-row paths: dot[c] = the int32 lanes of group g's integer dot product
// of activation row ar and weight row wr[c] (blocks of kHeader + kBytes bytes),
// as grouped_tile forms them.
template <class F, int C>
inline void group_dots(const std::int8_t* ar, const std::uint8_t* const (&wr)[C], i64 g,
                       __m256i (&dot)[C]) {
  using D = typename F::Dec;
  constexpr i64 kBlock = F::kHeader + D::kBytes;
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (D::kNV == 1) {
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar + g * D::kChunk));
    __m256i aa = av;
    if constexpr (F::kSigned) aa = _mm256_abs_epi8(av);
    for (int c = 0; c < C; ++c) {
      const __m256i wv = D::decode(wr[c] + g * kBlock + F::kHeader, 0);
      const __m256i p = F::kSigned ? _mm256_maddubs_epi16(aa, _mm256_sign_epi8(wv, av))
                                   : _mm256_maddubs_epi16(wv, av);
      dot[c] = _mm256_madd_epi16(p, ones);
    }
  } else {
    static_assert(!F::kSigned, "multi-vector groups hold unsigned codes");
    __m256i s16[C];
    for (int c = 0; c < C; ++c) s16[c] = _mm256_setzero_si256();
    for (int v = 0; v < D::kNV; ++v) {
      const __m256i av =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar + g * D::kChunk + 32 * v));
      for (int c = 0; c < C; ++c) {
        const __m256i wv = D::decode(wr[c] + g * kBlock + F::kHeader, v);
        s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(wv, av));
      }
    }
    for (int c = 0; c < C; ++c) dot[c] = _mm256_madd_epi16(s16[c], ones);
  }
}

inline std::uint16_t u16_at(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Symmetric grouped formats with a code offset o (INT4 in groups of 32 and
// 128) take the offset out after the main loop, as the min term of asymmetric
// formats with m_g = -o d_g: sum_g d_g sum (c - o) a = sum_g d_g sum c a -
// o sum_g d_g A_g (A_g: the group's activation code sum, a.gsum), the last sum
// formed from the scales themselves and scaled by -o at the end (exactly: o
// is a power of two). That saves a vpmaddubsw per code vector and row and a
// subtraction per group and pair (interleaved runs, one thread): INT4-g32
// 1 x 4096 x 4096 9 %, 32 and 256 rows 8-17 % less time; INT4-g128 0-7 %.
template <class F>
constexpr bool kOffsetAfter = F::kGrouped && !F::kAsym && F::kOffset != 0;

template <class F, int C>
void grouped_prepare(const QWeights& w, i64 n, float* ds, float* ms) {
  constexpr i64 kBlock = F::kHeader + F::Dec::kBytes;
  const i64 blocks = w.blocks_per_row;
  for (int c = 0; c < C; ++c) {
    const std::uint8_t* row = w.data + (n + c) * w.row_stride;
    float* d = ds + c * blocks;
    float* mn = ms + c * blocks;
    i64 g = 0;
    if constexpr (!F::kAsym) {
      // Eight scales at a time: collect the fp16 words, one vcvtph2ps. (For
      // asymmetric blocks neither this nor a gather beat the scalar loop.)
      for (; g + 8 <= blocks; g += 8) {
        const std::uint8_t* p = row + g * kBlock;
        const __m128i h = _mm_setr_epi16(
            static_cast<short>(u16_at(p)), static_cast<short>(u16_at(p + kBlock)),
            static_cast<short>(u16_at(p + 2 * kBlock)), static_cast<short>(u16_at(p + 3 * kBlock)),
            static_cast<short>(u16_at(p + 4 * kBlock)), static_cast<short>(u16_at(p + 5 * kBlock)),
            static_cast<short>(u16_at(p + 6 * kBlock)), static_cast<short>(u16_at(p + 7 * kBlock)));
        _mm256_storeu_ps(d + g, _mm256_cvtph_ps(h));
      }
    }
    for (; g < blocks; ++g) {
      d[g] = half_at(row + g * kBlock);
      if constexpr (F::kAsym) mn[g] = half_at(row + g * kBlock + 2);
    }
  }
}

template <class F, int R, int C>
void grouped_tile(const QActs& a, const QWeights& w, i64 m, i64 n, const float* ds, const float* ms,
                  const QOut& out) {
  using D = typename F::Dec;
  constexpr i64 kBlock = F::kHeader + D::kBytes;
  const i64 blocks = w.blocks_per_row;
  const std::uint8_t* wr[C];
  const std::int8_t* ar[R];
  for (int c = 0; c < C; ++c) wr[c] = w.data + (n + c) * w.row_stride + F::kHeader;
  for (int r = 0; r < R; ++r) ar[r] = a.q + (m + r) * a.q_stride;
  const __m256i ones = _mm256_set1_epi16(1);
  static_assert(F::kAsym || F::kOffset == 0 || kOffsetAfter<F>, "offsets leave the loop");
  constexpr bool kMinTerm = F::kAsym || kOffsetAfter<F>;
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  [[maybe_unused]] const std::uint8_t* next = w.data + imin(n + C, w.rows - C) * w.row_stride;
  for (i64 g = 0; g < blocks; ++g) {
    if constexpr (R == 1 && kPrefetchNextTile) prefetch_span<C * kBlock>(next + g * C * kBlock);
    // Each product is folded into its accumulator right away (fewer live registers).
    if constexpr (D::kNV == 1) {
      __m256i av[R], aa[R];
      for (int r = 0; r < R; ++r) {
        av[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar[r] + g * D::kChunk));
        if constexpr (F::kSigned) aa[r] = _mm256_abs_epi8(av[r]);
      }
      for (int c = 0; c < C; ++c) {
        const __m256i wv = D::decode(wr[c] + g * kBlock, 0);
        const __m256 dv = _mm256_broadcast_ss(ds + c * blocks + g);
        for (int r = 0; r < R; ++r) {
          __m256i p;
          if constexpr (F::kSigned) {
            p = _mm256_maddubs_epi16(aa[r], _mm256_sign_epi8(wv, av[r]));
          } else {
            p = _mm256_maddubs_epi16(wv, av[r]);
          }
          acc[r][c] =
              _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones)), dv, acc[r][c]);
        }
      }
    } else {
      __m256i s16[R][C];
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) s16[r][c] = _mm256_setzero_si256();
      for (int v = 0; v < D::kNV; ++v) {
        __m256i av[R];
        for (int r = 0; r < R; ++r) {
          av[r] =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar[r] + g * D::kChunk + 32 * v));
        }
        for (int c = 0; c < C; ++c) {
          const __m256i wv = D::decode(wr[c] + g * kBlock, v);
          for (int r = 0; r < R; ++r) {
            s16[r][c] = _mm256_add_epi16(s16[r][c], _mm256_maddubs_epi16(wv, av[r]));
          }
        }
      }
      for (int c = 0; c < C; ++c) {
        const __m256 dv = _mm256_broadcast_ss(ds + c * blocks + g);
        for (int r = 0; r < R; ++r) {
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s16[r][c], ones)), dv,
                                      acc[r][c]);
        }
      }
    }
  }
  // Reduce the accumulators first: a call inside this loop would make GCC keep
  // acc[][] in memory throughout the main loop.
  float hs[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) hs[r][c] = hsum_ps(acc[r][c]);
  if constexpr (kMinTerm) {
    // The min term sum_g m_g A_g, 8 groups at a time for all pairs of the tile
    // (kOffsetAfter: sum_g d_g A_g, times -o below).
    const float* mins = kOffsetAfter<F> ? ds : ms;
    __m256 cacc[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) cacc[r][c] = _mm256_setzero_ps();
    const float* gs[R];
    for (int r = 0; r < R; ++r) gs[r] = a.gsum + (m + r) * a.gsum_stride;
    for (i64 g = 0; g < blocks; g += 8) {
      const __m256i mask = first_lanes(imin(8, blocks - g));
      __m256 av[R];
      for (int r = 0; r < R; ++r) av[r] = _mm256_maskload_ps(gs[r] + g, mask);
      for (int c = 0; c < C; ++c) {
        const __m256 mv = _mm256_maskload_ps(mins + c * blocks + g, mask);
        for (int r = 0; r < R; ++r) cacc[r][c] = _mm256_fmadd_ps(av[r], mv, cacc[r][c]);
      }
    }
    constexpr float kMinScale = kOffsetAfter<F> ? -static_cast<float>(F::kOffset) : 1.0f;
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) hs[r][c] += kMinScale * hsum_ps(cacc[r][c]);
  }
  const float za = static_cast<float>(a.zero);
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const float v = hs[r][c];
      const float bias = out.bias ? out.bias[n + c] : 0.0f;
      out.y[(m + r) * out.y_stride + n + c] = a.scale[m + r] * (v + za * w.row_corr[n + c]) + bias;
    }
  }
}

// ---------------------------------------------------------------- split group tiles
// Formats with small groups of unsigned codes (asymmetric INT2 in groups of 32
// and 64, INT4 in groups of 32, asymmetric or with the offset 8): a code
// vector holds 2 or 4 groups of one weight row, split by bit fields as
// ternary_row splits its chunks, against activation rows regrouped once per
// call to the same order (GroupSplit<F>::regroup). Each chunk of 8 groups
// gives the 8 exact group dots D in one vector (GroupSplit<F>::dots8, which
// also takes the last, partial chunk), and
//   y = s_a (sum_g d_g D_g + sum_g m_g A_g + z_a corr) + bias
// (A_g: the group's activation code sum; m_g = -o d_g for a code offset o,
// taken out at the end as kOffsetAfter does) takes one FMA per chunk for each
// sum, where grouped_tile scales 8 partial lanes of each group. The float
// operations are the same in every tile, single rows included: per chunk
// (lane j = group g0 + j; lanes past the last group hold 0) acc += float(D) * d
// and cacc += A * m (A * d for offsets), then hsum(acc) + k hsum(cacc) (k = 1,
// or -o for offsets). Exactness: a vector's int16 sums add two vpmaddubsw
// results, each pair at most 2 * 15 * 128 = 3840 (4-bit codes) or 2 * 12 * 128
// = 3072 (2-bit codes taken as 4 times the code), so below 2^15; INT4-g32 then
// adds four vectors' lanes in int16 (PairSplit::kInt16Tree), below 4 * 7680.
// Interleaved runs against grouped_tile and grouped_row_asym (min of 3, one
// thread, Zen 3; with the prefetch restored): 1 x 4096 x 4096 INT2-g32 860 -> 664 us,
// INT2-g64 635 -> 505, INT4-g32 asymmetric 953 -> 785, symmetric 721 -> 615;
// 1 x 784 x 2000 94 -> 79, 72 -> 70, 100 -> 87, 79 -> 72 us; 256 x 4096 x 4096
// 15-33 % less time. With the later changes (headers8's single permutation,
// groups in order, INT4's int16 tree), 1 x 4096 x 4096: 546, 426, 590, 501 us.

inline std::int32_t i32_at(const std::uint8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline __m256i load8x32(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// (d0 m0 .. d7 m7 as fp16 pairs) -> d0..d7, m0..m7 as floats.
inline void split_headers(__m256i h, __m256& d, __m256& m) {
  // Per 128-bit lane the four d words, then the four m words; then d0..d7 | m0..m7.
  const __m256i split = _mm256_shuffle_epi8(
      h, _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,  //
                          0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15));
  const __m256i dm = _mm256_permute4x64_epi64(split, 0xD8);
  d = _mm256_cvtph_ps(_mm256_castsi256_si128(dm));
  m = _mm256_cvtph_ps(_mm256_extracti128_si256(dm, 1));
}

// d and m of the 8 blocks from p (kBlock bytes apart; header: fp16 d, fp16 m).
// The 4-byte headers are dwords j S (S = kBlock / 4) of the 8 blocks: for
// S = 3 and 5 whole-vector loads and dword permutations collect them (a
// vpgatherdd took about 40 % of a batch-1 INT2-g32 product on Zen 3).
template <i64 kBlock>
inline void headers8(const std::uint8_t* p, __m256& d, __m256& m) {
  // Blends first put the 8 headers in 8 distinct lanes of loads chosen for
  // it, then one dword permutation orders them.
  __m256i h;
  if constexpr (kBlock == 12) {
    // Loads at bytes 0, 32, 64: headers 0-2 in lanes 0, 3, 6; 3-5 in 1, 4, 7; 6, 7 in 2, 5.
    h = _mm256_blend_epi32(load8x32(p), load8x32(p + 32), 0x92);
    h = _mm256_blend_epi32(h, load8x32(p + 64), 0x24);
    h = _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5));
  } else if constexpr (kBlock == 20) {
    // Loads at bytes 0, 36 (headers 0, 1 in lanes 0, 5; 2, 3 in 1, 6) and 80, 116 (4-7).
    const __m256i x = _mm256_blend_epi32(load8x32(p), load8x32(p + 36), 0x42);
    const __m256i y = _mm256_blend_epi32(load8x32(p + 80), load8x32(p + 116), 0x42);
    const __m256i order = _mm256_setr_epi32(0, 5, 1, 6, 0, 5, 1, 6);
    h = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(x, order),
                           _mm256_permutevar8x32_epi32(y, order), 0xF0);
  } else {
    static_assert(kBlock == 12 || kBlock == 20, "a permutation for this block size");
  }
  split_headers(h, d, m);
}

// headers8 for the first `count` (< 8) blocks; lanes from count on are 0.
// Built in registers: scalar stores read back as one vector stall store
// forwarding (that made a last chunk of one group cost as much as 5 full ones).
template <i64 kBlock>
inline void headers_tail(const std::uint8_t* p, i64 count, __m256& d, __m256& m) {
  auto at = [&](int j) { return j < count ? i32_at(p + j * kBlock) : 0; };
  split_headers(_mm256_setr_epi32(at(0), at(1), at(2), at(3), at(4), at(5), at(6), 0), d, m);
}

// The fp16 scales of the first `count` (<= 8) blocks from p (2-byte headers;
// lanes from count on 0), in registers as headers_tail.
template <i64 kBlock>
inline __m256 scales_upto8(const std::uint8_t* p, i64 count) {
  auto at = [&](int j) { return static_cast<short>(j < count ? u16_at(p + j * kBlock) : 0); };
  return _mm256_cvtph_ps(_mm_setr_epi16(at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7)));
}

template <class F>
struct GroupSplit {
  static constexpr bool kOn = false;
};

// INT2, groups of 32 (12-byte blocks): four groups per vector, split as
// ternary_row splits four chunks. Vector u holds groups 2u, 2u + 1 (low half)
// and 2u + 4, 2u + 5 (high half), so that one vphaddd of the two vectors'
// dots leaves the 8 groups in order.
template <>
struct GroupSplit<FmtInt2G32Asym> {
  static constexpr bool kOn = true;
  static constexpr i64 kBlock = 12;
  // Group of slot i (8 bytes) of vector u.
  static constexpr int group(int u, int i) { return 2 * u + (i & 1) + 4 * (i >> 1); }
  // out[256 c + 128 u + 32 k + 8 i + j] = q[256 c + 32 group(u, i) + 8 k + j]:
  // quarter k of the slots' groups (ternary_quarters' order, slots for chunks).
  static void regroup(const std::int8_t* q, i64 chunks, std::int8_t* out) {
    for (i64 c = 0; c < chunks; ++c)
      for (int u = 0; u < 2; ++u)
        for (int k = 0; k < 4; ++k)
          for (int i = 0; i < 4; ++i)
            std::memcpy(out + 256 * c + 128 * u + 32 * k + 8 * i,
                        q + 256 * c + 32 * group(u, i) + 8 * k, 8);
  }
  // The 8 code bytes of the 4 groups of vector u of a chunk at p, in slot
  // order (zeros for groups from `count` on, which are not read).
  template <bool kFull>
  static __m256i codes(const std::uint8_t* p, int u, i64 count) {
    const std::uint8_t* b = p + 2 * kBlock * u + 4;  // group 2u
    const std::uint8_t* b4 = b + 4 * kBlock;         // group 2u + 4
    if (kFull || 2 * u + 6 <= count) {
      const __m128i lo = _mm_castpd_si128(_mm_loadh_pd(
          _mm_castsi128_pd(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b))),
          reinterpret_cast<const double*>(b + kBlock)));
      const __m128i hi = _mm_castpd_si128(_mm_loadh_pd(
          _mm_castsi128_pd(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b4))),
          reinterpret_cast<const double*>(b4 + kBlock)));
      return _mm256_set_m128i(hi, lo);
    }
    // Some of the 4 groups, loaded into registers (see headers_tail).
    auto slot = [&](const std::uint8_t* at, i64 g) {
      return g < count ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(at))
                       : _mm_setzero_si128();
    };
    const __m128i lo = _mm_unpacklo_epi64(slot(b, 2 * u), slot(b + kBlock, 2 * u + 1));
    const __m128i hi = _mm_unpacklo_epi64(slot(b4, 2 * u + 4), slot(b4 + kBlock, 2 * u + 5));
    return _mm256_set_m128i(hi, lo);
  }
  // dot[r][c]: the group dots of activation chunk acts[r] (regrouped) and the
  // weight chunk from p[c] (its first block), lane j = group j (0 from count on).
  template <bool kFull, int R, int C>
  static void dots8(const std::uint8_t* const (&p)[C], const std::int8_t* const (&acts)[R],
                    i64 count, __m256i (&dot)[R][C]) {
    const __m256i ones = _mm256_set1_epi16(1), m3 = _mm256_set1_epi8(3),
                  m12 = _mm256_set1_epi8(12);
    __m256i e[2][R][C];
#pragma GCC unroll 8
    for (int u = 0; u < 2; ++u) {
      if (!kFull && 2 * u >= count) {  // no group of this vector
        for (int r = 0; r < R; ++r)
          for (int c = 0; c < C; ++c) e[u][r][c] = _mm256_setzero_si256();
        continue;
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256i v = codes<kFull>(p[c], u, count);
        const __m256i h = _mm256_srli_epi16(v, 4);
        const __m256i c0 = _mm256_and_si256(v, m3), c1 = _mm256_and_si256(v, m12),
                      c2 = _mm256_and_si256(h, m3), c3 = _mm256_and_si256(h, m12);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const std::int8_t* aq = acts[r] + 128 * u;
          const __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(c0, load8x32(aq)),
                                              _mm256_maddubs_epi16(c2, load8x32(aq + 64)));
          const __m256i s4 = _mm256_add_epi16(_mm256_maddubs_epi16(c1, load8x32(aq + 32)),
                                              _mm256_maddubs_epi16(c3, load8x32(aq + 96)));
          // Lanes 2i, 2i + 1: slot i (s4 is 4 times an exact sum).
          e[u][r][c] = _mm256_madd_epi16(_mm256_add_epi16(s1, _mm256_srai_epi16(s4, 2)), ones);
        }
      }
    }
    // hadd: groups 0, 1 (vector 0), 2, 3 (vector 1) | 4, 5, 6, 7.
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) dot[r][c] = _mm256_hadd_epi32(e[0][r][c], e[1][r][c]);
  }
};

// Two groups of 16 code bytes (INT4 in groups of 32, INT2 in groups of 64) per
// vector: byte j of each holds codes j + 16 i (i = 0, 1 for 4 bits; 0 .. 3 for
// 2 bits). Vector t holds groups t (low half) and t + 4 (high half), so that
// the vphaddd tree leaves the 8 groups in order. Activations: per vector,
// part i holds codes [16 i, 16 i + 16) of both groups.
template <class F, int kParts>
struct PairSplit {
  static constexpr bool kOn = true;
  static constexpr i64 kBlock = F::kHeader + F::Dec::kBytes;
  static_assert(F::Dec::kBytes == 16 && F::Dec::kChunk == 16 * kParts, "16 code bytes per group");
  // out[C + 32 kParts t + 32 i + 16 h + j] = q[C + 16 kParts g + 16 i + j] (C = 128 kParts c:
  // chunk c; g = t + 4 h, the group of half h of vector t).
  static void regroup(const std::int8_t* q, i64 chunks, std::int8_t* out) {
    for (i64 c = 0; c < chunks; ++c)
      for (int t = 0; t < 4; ++t)
        for (int i = 0; i < kParts; ++i)
          for (int h = 0; h < 2; ++h)
            std::memcpy(out + 128 * kParts * c + 32 * kParts * t + 32 * i + 16 * h,
                        q + 128 * kParts * c + 16 * kParts * (t + 4 * h) + 16 * i, 16);
  }
  // The code bytes of groups t, t + 4 of a chunk at p (zeros for groups
  // from `count` on, which are not read).
  template <bool kFull>
  static __m256i codes(const std::uint8_t* p, int t, i64 count) {
    const std::uint8_t* b = p + kBlock * t + F::kHeader;
    if (kFull || t + 4 < count) {
      return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(b + 4 * kBlock),
                                 reinterpret_cast<const __m128i*>(b));
    }
    if (t < count)
      return _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
    return _mm256_setzero_si256();
  }
  template <bool kFull, int R, int C>
  static void dots8(const std::uint8_t* const (&p)[C], const std::int8_t* const (&acts)[R],
                    i64 count, __m256i (&dot)[R][C]) {
    const __m256i ones = _mm256_set1_epi16(1);
    // The tree adds int16 lanes and one vpmaddwd per chunk widens them
    // (|lane| < 4 * 7680 for 4-bit codes, 4 * 3072 for 2-bit codes at the end),
    // except for 2-bit codes in batch tiles, which take a vpmaddwd per vector
    // and int32 hadds. Measured: the int16 tree made INT4-g32 1 x 4096^2 6 % and
    // 256 x 784 x 2000 11 % faster, INT2-g64 at 256 rows 10 % slower but at
    // batch 1 4 % faster (1 x 4096^2 417 -> 401 us).
    constexpr bool kInt16Tree = kParts == 2 || R == 1;
    auto hadd = [](__m256i a, __m256i b) {
      return kInt16Tree ? _mm256_hadd_epi16(a, b) : _mm256_hadd_epi32(a, b);
    };
    // Vectors 0, 1 and 2, 3 are reduced as they are done (fewer live registers).
    __m256i e[2][R][C];
#pragma GCC unroll 8
    for (int t = 0; t < 4; ++t) {
      if (!kFull && t >= count) {  // no group of this vector
        for (int r = 0; r < R; ++r) {
          for (int c = 0; c < C; ++c) {
            const __m256i z = _mm256_setzero_si256();
            e[t / 2][r][c] = t % 2 == 0 ? z : hadd(e[t / 2][r][c], z);
          }
        }
        continue;
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256i v = codes<kFull>(p[c], t, count);
        __m256i cv[kParts];
        if constexpr (kParts == 2) {
          const __m256i m15 = _mm256_set1_epi8(0x0F);
          cv[0] = _mm256_and_si256(v, m15);
          cv[1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m15);
        } else {
          const __m256i m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12);
          const __m256i h = _mm256_srli_epi16(v, 4);
          cv[0] = _mm256_and_si256(v, m3);
          cv[1] = _mm256_and_si256(v, m12);
          cv[2] = _mm256_and_si256(h, m3);
          cv[3] = _mm256_and_si256(h, m12);
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const std::int8_t* ap = acts[r] + 32 * kParts * t;
          __m256i s;
          if constexpr (kParts == 2) {
            s = _mm256_add_epi16(_mm256_maddubs_epi16(cv[0], load8x32(ap)),
                                 _mm256_maddubs_epi16(cv[1], load8x32(ap + 32)));
          } else {
            const __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(cv[0], load8x32(ap)),
                                                _mm256_maddubs_epi16(cv[2], load8x32(ap + 64)));
            const __m256i s4 = _mm256_add_epi16(_mm256_maddubs_epi16(cv[1], load8x32(ap + 32)),
                                                _mm256_maddubs_epi16(cv[3], load8x32(ap + 96)));
            s = _mm256_add_epi16(s1, _mm256_srai_epi16(s4, 2));
          }
          // Lanes 0-7 (int16) or 0-3 (int32): group t; the others: group t + 4.
          const __m256i q = kInt16Tree ? s : _mm256_madd_epi16(s, ones);
          e[t / 2][r][c] = t % 2 == 0 ? q : hadd(e[t / 2][r][c], q);
        }
      }
    }
    // The hadds leave groups 0, 1, 2, 3 | 4, 5, 6, 7 (int16: each over two
    // lanes, which one vpmaddwd adds).
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256i h = hadd(e[0][r][c], e[1][r][c]);
        dot[r][c] = kInt16Tree ? _mm256_madd_epi16(h, ones) : h;
      }
    }
  }
};

template <>
struct GroupSplit<FmtInt4G32Asym> : PairSplit<FmtInt4G32Asym, 2> {};
template <>
struct GroupSplit<FmtInt4G32> : PairSplit<FmtInt4G32, 2> {};
template <>
struct GroupSplit<FmtInt2G64Asym> : PairSplit<FmtInt2G64Asym, 4> {};

// R activation rows (rg[r]: their full chunks regrouped) times C weight rows.
template <class F, int R, int C>
void split_tile(const QActs& a, const std::int8_t* const (&rg)[R], const QWeights& w, i64 m, i64 n,
               const float* ds, const float* ms, const QOut& out) {
  static_assert(GroupSplit<F>::kOn, "split formats only");
  static_assert(F::kAsym || kOffsetAfter<F>, "asymmetric or offset codes");
  using D = typename F::Dec;
  constexpr i64 kBlock = F::kHeader + D::kBytes;
  const i64 blocks = w.blocks_per_row;
  const std::uint8_t* wr[C];
  const float* gs[R];
  for (int c = 0; c < C; ++c) wr[c] = w.data + (n + c) * w.row_stride;
  for (int r = 0; r < R; ++r) gs[r] = a.gsum + (m + r) * a.gsum_stride;
  [[maybe_unused]] const std::uint8_t* next = w.data + imin(n + C, w.rows - C) * w.row_stride;
  __m256 acc[R][C], cacc[R][C];
  // (Fully unrolled loops over the tile here and below: otherwise GCC keeps
  // acc and cacc in memory, and 256-row products took about 20 % longer.)
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[r][c] = cacc[r][c] = _mm256_setzero_ps();
  // One chunk of `count` groups from g0 (kFull: count = 8), peeled for the last.
  auto chunk = [&](i64 g0, i64 count, auto full) __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    if constexpr (R == 1 && kPrefetchNextTile && kFull)
      prefetch_span<8 * C * kBlock>(next + g0 * C * kBlock);
    __m256i dot[R][C];
    const std::uint8_t* p[C];
    const std::int8_t* ap[R];
    for (int c = 0; c < C; ++c) p[c] = wr[c] + g0 * kBlock;
    for (int r = 0; r < R; ++r) ap[r] = rg[r] + g0 * D::kChunk;
    GroupSplit<F>::template dots8<kFull, R, C>(p, ap, count, dot);
    const __m256i mask = first_lanes(count);
    __m256 av[R], dv[C], mv[C];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      av[r] = kFull ? _mm256_loadu_ps(gs[r] + g0) : _mm256_maskload_ps(gs[r] + g0, mask);
    if constexpr (R == 1) {
      // Single rows: d and m straight from the headers, not converted up front.
      if constexpr (!F::kAsym) {
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          dv[c] = scales_upto8<kBlock>(wr[c] + g0 * kBlock, count);
          mv[c] = dv[c];
        }
      } else if constexpr (kFull) {
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) headers8<kBlock>(wr[c] + g0 * kBlock, dv[c], mv[c]);
      } else {
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) headers_tail<kBlock>(wr[c] + g0 * kBlock, count, dv[c], mv[c]);
      }
    } else {
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        dv[c] = _mm256_maskload_ps(ds + c * blocks + g0, mask);
        mv[c] = _mm256_maskload_ps(ms + c * blocks + g0, mask);
      }
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[r][c]), dv[c], acc[r][c]);
        cacc[r][c] = _mm256_fmadd_ps(av[r], mv[c], cacc[r][c]);
      }
    }
  };
  i64 g0 = 0;
  for (; g0 + 8 <= blocks; g0 += 8) chunk(g0, 8, std::true_type());
  if (g0 < blocks) chunk(g0, blocks - g0, std::false_type());
  constexpr float kMinScale = F::kAsym ? 1.0f : -static_cast<float>(F::kOffset);
  const float za = static_cast<float>(a.zero);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const float v = hsum_ps(acc[r][c]) + kMinScale * hsum_ps(cacc[r][c]);
      const float bias = out.bias ? out.bias[n + c] : 0.0f;
      out.y[(m + r) * out.y_stride + n + c] = a.scale[m + r] * (v + za * w.row_corr[n + c]) + bias;
    }
  }
}

// The activation rows [m0, m1) regrouped for GroupSplit<F> (their full chunks
// of 8 groups), row i at i * stride bytes of a per-thread buffer.
template <class F>
const std::int8_t* split_regroup(const QActs& a, const QWeights& w, i64 m0, i64 m1, i64& stride) {
  constexpr i64 kChunkBytes = 8 * F::Dec::kChunk;
  const i64 full = w.blocks_per_row / 8, tail = w.blocks_per_row % 8;
  stride = (full + (tail > 0)) * kChunkBytes;
  auto* rg = reinterpret_cast<std::int8_t*>(scratch_bytes((m1 - m0) * stride));
  for (i64 m = m0; m < m1; ++m) {
    const std::int8_t* q = a.q + m * a.q_stride;
    std::int8_t* out = rg + (m - m0) * stride;
    GroupSplit<F>::regroup(q, full, out);
    if (tail > 0) {
      // The last groups, zero-padded to a chunk (zero activations for the absent groups).
      alignas(32) std::int8_t last[kChunkBytes] = {};
      std::memcpy(last, q + full * kChunkBytes, tail * F::Dec::kChunk);
      GroupSplit<F>::regroup(last, 1, out + full * kChunkBytes);
    }
  }
  return rg;
}

template <class F, int C>
void grouped_columns(const QActs& a, const QWeights& w, i64 m0, i64 m1, i64 n, const QOut& out,
                     const std::int8_t* rg, i64 rg_stride) {
  const i64 blocks = w.blocks_per_row;
  float* ds = scratch_floats(2 * C * blocks);
  float* ms = ds + C * blocks;
  grouped_prepare<F, C>(w, n, ds, ms);
  constexpr int R = F::kR;
  i64 m = m0;
  if constexpr (GroupSplit<F>::kOn) {
    for (; m + R <= m1; m += R) {
      const std::int8_t* r[R];
      for (int i = 0; i < R; ++i) r[i] = rg + (m + i - m0) * rg_stride;
      split_tile<F, R, C>(a, r, w, m, n, ds, F::kAsym ? ms : ds, out);
    }
    for (; m < m1; ++m) {
      const std::int8_t* const r[1] = {rg + (m - m0) * rg_stride};
      split_tile<F, 1, C>(a, r, w, m, n, ds, F::kAsym ? ms : ds, out);
    }
  } else {
    for (; m + R <= m1; m += R) grouped_tile<F, R, C>(a, w, m, n, ds, ms, out);
    for (; m < m1; ++m) grouped_tile<F, 1, C>(a, w, m, n, ds, ms, out);
  }
}

// Single activation rows of the other asymmetric grouped formats (INT4 in
// groups of 128, whose groups span several code vectors): grouped_tile<F, 1, C>
// without the up-front conversion of the scales and mins (which took ~45 % of
// a batch-1 product: two scalar fp16 conversions per group and row, for one
// use each). d and m are converted together from the block header where they
// are used; the min term keeps grouped_tile's order (8 groups per FMA, masked
// tail), so every output is bit-identical to it.
template <class F, int C>
void grouped_row_asym(const QActs& a, const QWeights& w, i64 m, i64 n, const QOut& out) {
  static_assert(F::kAsym && !F::kSigned, "asymmetric unsigned codes only");
  using D = typename F::Dec;
  constexpr i64 kBlock = F::kHeader + D::kBytes;
  const i64 blocks = w.blocks_per_row;
  const std::uint8_t* wr[C];
  for (int c = 0; c < C; ++c) wr[c] = w.data + (n + c) * w.row_stride;
  const std::int8_t* ar = a.q + m * a.q_stride;
  const float* gs = a.gsum + m * a.gsum_stride;
  [[maybe_unused]] const std::uint8_t* next = w.data + imin(n + C, w.rows - C) * w.row_stride;
  __m256 acc[C], cacc[C];
  for (int c = 0; c < C; ++c) acc[c] = cacc[c] = _mm256_setzero_ps();
  alignas(32) float mbuf[C][8];
  for (i64 g0 = 0; g0 < blocks; g0 += 8) {
    const i64 ge = imin(blocks, g0 + 8);
    for (i64 g = g0; g < ge; ++g) {
      if constexpr (kPrefetchNextTile) prefetch_span<C * kBlock>(next + g * C * kBlock);
      __m256i dot[C];
      group_dots<F, C>(ar, wr, g, dot);
      for (int c = 0; c < C; ++c) {
        std::int32_t hdr;
        std::memcpy(&hdr, wr[c] + g * kBlock, 4);
        const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(hdr));  // d, m
        mbuf[c][g - g0] = _mm_cvtss_f32(_mm_movehdup_ps(dm));
        acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[c]), _mm256_broadcastss_ps(dm), acc[c]);
      }
    }
    add_group_terms<C>(gs + g0, ge - g0, mbuf, cacc);
  }
  float hs[C];
  for (int c = 0; c < C; ++c) hs[c] = hsum_ps(acc[c]);
  for (int c = 0; c < C; ++c) hs[c] += hsum_ps(cacc[c]);
  const float za = static_cast<float>(a.zero);
  for (int c = 0; c < C; ++c) {
    const float bias = out.bias ? out.bias[n + c] : 0.0f;
    out.y[m * out.y_stride + n + c] = a.scale[m] * (hs[c] + za * w.row_corr[n + c]) + bias;
  }
}

// Single activation rows of symmetric grouped formats: grouped_tile<F, 1, C>
// with each scale converted from its block header where it is used, as
// grouped_row_asym does; the same operations in the same order, so every
// output is bit-identical to it. Against converting the scales up front,
// INT8 in groups of 32 took 12-20 % less time at 1 x 4096 x 4096 (interleaved
// runs) and 128-code groups about 4 %. (INT4 in groups of 32 takes split_tile.)
template <class F, int C>
void grouped_row_sym(const QActs& a, const QWeights& w, i64 m, i64 n, const QOut& out) {
  static_assert(!F::kAsym, "symmetric formats only");
  static_assert(F::kOffset == 0 || kOffsetAfter<F>, "offsets leave the loop");
  using D = typename F::Dec;
  constexpr i64 kBlock = F::kHeader + D::kBytes;
  constexpr bool kAfter = kOffsetAfter<F>;
  const i64 blocks = w.blocks_per_row;
  const std::uint8_t* wr[C];
  for (int c = 0; c < C; ++c) wr[c] = w.data + (n + c) * w.row_stride;
  const std::int8_t* ar = a.q + m * a.q_stride;
  [[maybe_unused]] const float* gs = a.gsum + m * a.gsum_stride;
  [[maybe_unused]] const std::uint8_t* next = w.data + imin(n + C, w.rows - C) * w.row_stride;
  __m256 acc[C], cacc[C];
  for (int c = 0; c < C; ++c) acc[c] = cacc[c] = _mm256_setzero_ps();
  // kAfter: the scales of 8 groups, for grouped_tile's offset term (same order).
  alignas(32) float dbuf[C][8];
  for (i64 g0 = 0; g0 < blocks; g0 += 8) {
    const i64 ge = imin(blocks, g0 + 8);
    for (i64 g = g0; g < ge; ++g) {
      if constexpr (kPrefetchNextTile) prefetch_span<C * kBlock>(next + g * C * kBlock);
      __m256i dot[C];
      group_dots<F, C>(ar, wr, g, dot);
      for (int c = 0; c < C; ++c) {
        const float d = half_at(wr[c] + g * kBlock);
        if constexpr (kAfter) dbuf[c][g - g0] = d;
        acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[c]), _mm256_set1_ps(d), acc[c]);
      }
    }
    if constexpr (kAfter) add_group_terms<C>(gs + g0, ge - g0, dbuf, cacc);
  }
  float hs[C];
  for (int c = 0; c < C; ++c) hs[c] = hsum_ps(acc[c]);
  if constexpr (kAfter) {
    for (int c = 0; c < C; ++c) hs[c] += -static_cast<float>(F::kOffset) * hsum_ps(cacc[c]);
  }
  const float za = static_cast<float>(a.zero);
  for (int c = 0; c < C; ++c) {
    const float bias = out.bias ? out.bias[n + c] : 0.0f;
    out.y[m * out.y_stride + n + c] = a.scale[m] * (hs[c] + za * w.row_corr[n + c]) + bias;
  }
}

// Each output is computed by the same sequence of operations whichever tile
// covers it, so results do not depend on the blocking or the batch size.
template <class F>
void int_gemm_fmt(const QActs& a, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
                  const QOut& out) {
  if constexpr (F::kGrouped) {
    [[maybe_unused]] const std::int8_t* rg = nullptr;
    [[maybe_unused]] i64 rg_stride = 0;
    if constexpr (GroupSplit<F>::kOn) rg = split_regroup<F>(a, w, m0, m1, rg_stride);
    // Fewer rows than a tile (single vectors): the wider single-row tile,
    // each column tile for every row while its weights are in L1.
    if (m1 - m0 < F::kR) {
      constexpr int C1 = F::kC1;
      auto row = [&](auto cols, i64 m, i64 n) {
        constexpr int kC = decltype(cols)::value;
        if constexpr (GroupSplit<F>::kOn) {
          const std::int8_t* const r[1] = {rg + (m - m0) * rg_stride};
          split_tile<F, 1, kC>(a, r, w, m, n, nullptr, nullptr, out);
        } else if constexpr (F::kAsym) {
          grouped_row_asym<F, kC>(a, w, m, n, out);
        } else {
          grouped_row_sym<F, kC>(a, w, m, n, out);
        }
      };
      i64 n = n0;
      for (; n + C1 <= n1; n += C1) {
        for (i64 m = m0; m < m1; ++m) row(std::integral_constant<int, C1>(), m, n);
      }
      for (; n < n1; ++n) {
        for (i64 m = m0; m < m1; ++m) row(std::integral_constant<int, 1>(), m, n);
      }
      return;
    }
    constexpr int C = F::kC;
    i64 n = n0;
    for (; n + C <= n1; n += C) grouped_columns<F, C>(a, w, m0, m1, n, out, rg, rg_stride);
    for (; n < n1; ++n) grouped_columns<F, 1>(a, w, m0, m1, n, out, rg, rg_stride);
  } else {
    constexpr int R = F::kR, C = F::kC, C1 = F::kC1;
    i64 m = m0;
    for (; m + R <= m1; m += R) {
      i64 n = n0;
      for (; n + C <= n1; n += C) channel_tile<F, R, C>(a, w, m, n, out);
      for (; n < n1; ++n) channel_tile<F, R, 1>(a, w, m, n, out);
    }
    for (; m < m1; ++m) {
      i64 n = n0;
      if constexpr (std::is_same_v<F, FmtTernary>) {
        const i64 quads = w.blocks_per_row / 4;
        auto* quarters = reinterpret_cast<std::int8_t*>(scratch_bytes(128 * quads));
        ternary_quarters(a.q + m * a.q_stride, quads, quarters);
        for (; n + kTernaryRowCols <= n1; n += kTernaryRowCols)
          ternary_row<kTernaryRowCols>(a, quarters, w, m, n, out);
        for (; n < n1; ++n) ternary_row<1>(a, quarters, w, m, n, out);
      } else {
        for (; n + C1 <= n1; n += C1) channel_tile<F, 1, C1>(a, w, m, n, out);
        for (; n < n1; ++n) channel_tile<F, 1, 1>(a, w, m, n, out);
      }
    }
  }
}

void int_gemm_avx2(const QActs& a, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
                   const QOut& out) {
  switch (w.format) {
    case kFmtInt8Channel:
      return int_gemm_fmt<FmtInt8Channel>(a, w, m0, m1, n0, n1, out);
    case kFmtQ8_0:
      return int_gemm_fmt<FmtQ8G32>(a, w, m0, m1, n0, n1, out);
    case kFmtInt4G32Sym:
      return int_gemm_fmt<FmtInt4G32>(a, w, m0, m1, n0, n1, out);
    case kFmtInt4G128Sym:
      return int_gemm_fmt<FmtInt4G128>(a, w, m0, m1, n0, n1, out);
    case kFmtInt4G32Asym:
      return int_gemm_fmt<FmtInt4G32Asym>(a, w, m0, m1, n0, n1, out);
    case kFmtInt4G128Asym:
      return int_gemm_fmt<FmtInt4G128Asym>(a, w, m0, m1, n0, n1, out);
    case kFmtInt4Channel:
      return int_gemm_fmt<FmtInt4Channel>(a, w, m0, m1, n0, n1, out);
    case kFmtInt2G32Asym:
      return int_gemm_fmt<FmtInt2G32Asym>(a, w, m0, m1, n0, n1, out);
    case kFmtInt2G64Asym:
      return int_gemm_fmt<FmtInt2G64Asym>(a, w, m0, m1, n0, n1, out);
    case kFmtTernaryChannel:
      return int_gemm_fmt<FmtTernary>(a, w, m0, m1, n0, n1, out);
    case kFmtTernaryBase3:
      return int_gemm_fmt<FmtTernaryBase3>(a, w, m0, m1, n0, n1, out);
    case kFmtInt3Channel:
      return int_gemm_fmt<FmtInt3Channel>(a, w, m0, m1, n0, n1, out);
    default:
      return;  // the driver never passes another format
  }
}

// ---------------------------------------------------------------- f16 / bf16

template <bool BF16>
inline __m256 load_w8(const std::uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (BF16) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    return _mm256_cvtph_ps(h);
  }
}

template <bool BF16, int R, int C>
void half_tile(const float* x, i64 x_stride, const QWeights& w, i64 m, i64 n, const QOut& out) {
  const i64 k = w.cols, k8 = k & ~static_cast<i64>(7);
  const std::uint16_t* wr[C];
  const float* xr[R];
  for (int c = 0; c < C; ++c)
    wr[c] = reinterpret_cast<const std::uint16_t*>(w.data + (n + c) * w.row_stride);
  for (int r = 0; r < R; ++r) xr[r] = x + (m + r) * x_stride;
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  // No software prefetch here: fp16 rows are twice as long as int8 ones, long
  // enough for the hardware prefetchers, and prefetching the next tile made
  // 1 x 4096 x 4096 about 20 % slower (one thread).
  for (i64 j = 0; j < k8; j += 8) {
    __m256 wv[C];
    for (int c = 0; c < C; ++c) wv[c] = load_w8<BF16>(wr[c] + j);
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) {
        acc[r][c] = _mm256_fmadd_ps(_mm256_loadu_ps(xr[r] + j), wv[c], acc[r][c]);
      }
    }
  }
  if (k8 < k) {
    const int rem = static_cast<int>(k - k8);
    const __m256i mask = first_lanes(rem);
    __m256 wv[C];
    for (int c = 0; c < C; ++c) {
      std::uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(tmp, wr[c] + k8, static_cast<std::size_t>(rem) * 2);
      wv[c] = load_w8<BF16>(tmp);
    }
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_maskload_ps(xr[r] + k8, mask);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const float bias = out.bias ? out.bias[n + c] : 0.0f;
      out.y[(m + r) * out.y_stride + n + c] = hsum_ps(acc[r][c]) + bias;
    }
  }
}

template <bool BF16>
void half_gemm_fmt(const float* x, i64 x_stride, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
                   const QOut& out) {
  constexpr int R = 4, C = 3, C1 = 4;
  i64 m = m0;
  for (; m + R <= m1; m += R) {
    i64 n = n0;
    for (; n + C <= n1; n += C) half_tile<BF16, R, C>(x, x_stride, w, m, n, out);
    for (; n < n1; ++n) half_tile<BF16, R, 1>(x, x_stride, w, m, n, out);
  }
  for (; m < m1; ++m) {
    i64 n = n0;
    for (; n + C1 <= n1; n += C1) half_tile<BF16, 1, C1>(x, x_stride, w, m, n, out);
    for (; n < n1; ++n) half_tile<BF16, 1, 1>(x, x_stride, w, m, n, out);
  }
}

void half_gemm_avx2(const float* x, i64 x_stride, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
                    const QOut& out) {
  if (w.format == kFmtBF16) {
    half_gemm_fmt<true>(x, x_stride, w, m0, m1, n0, n1, out);
  } else {
    half_gemm_fmt<false>(x, x_stride, w, m0, m1, n0, n1, out);
  }
}

}  // namespace

const KernelTable kKernelsAvx2 = {"avx2", quantize_acts_avx2, int_gemm_avx2, half_gemm_avx2};

}  // namespace detail
}  // namespace elmq
