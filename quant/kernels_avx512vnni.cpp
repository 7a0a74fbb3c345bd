// AVX-512 VNNI kernels (vpdpbusd on ZMM). Compiled with per-file flags
// (-mavx512f -mavx512bw -mavx512vnni, plus the AVX2 set) and called only
// after a CPUID check (quant/cpu_features.cpp). Like kernels_avx2.cpp: an
// anonymous namespace, intrinsics and plain C only.
//
// The INT8 per-channel product is done here: vpdpbusd multiplies unsigned
// by signed bytes and adds groups of four into int32 lanes, 64 multiply-adds
// per instruction (two vpmaddubsw/vpmaddwd steps per 32 on AVX2). The signed
// activation codes a in [-128, 127] are made unsigned by flipping the top bit
// (a ^ 0x80 = a + 128), and the integer dot product is recovered exactly
// (the "formats" section below has the general form):
//   sum_k (a_k + 128) w_k - 128 sum_k w_k,
// with sum_k w_k the code sum stored at pack time. A lane gains at most
// 4 * 255 * 127 = 129,540 per instruction, so the sixteen lanes of an
// accumulator add up to less than 2^31 over kSuperSteps = 1024 instructions:
// they are summed in int32 and folded into int64 every super-step
// (K = 64 Ki), exactly. The float epilogue is the
// reference kernels' expression, so results equal them bit for bit. INT4
// per-channel and ternary weights (unsigned codes, below) use vpdpbusd too
// for batches; every other format, single rows of those two, and the
// activation quantization run the AVX2 kernels.
#include <immintrin.h>

#include <cstdint>

#include "quant/detail/kernels.h"

namespace elmq {
namespace detail {

namespace {

using i64 = std::int64_t;

constexpr i64 kStep = 64;            // bytes per vpdpbusd
constexpr i64 kSuperSteps = 1024;    // 16 lanes * 1024 * 129,540 < 2^31

// Single-row (memory-bound) tiles prefetch the next tile's weights, which
// follow the current rows in memory, at the pace they consume the current
// ones (as the AVX2 kernels do).
inline void prefetch_span(const std::uint8_t* p, i64 bytes) {
  for (i64 off = 0; off < bytes; off += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
  }
}

// ---------------------------------------------------------------- formats
// How a format's weights feed vpdpbusd, for 64 codes (one step) of a row:
//  - INT8: the signed codes are the signed operand and the activations are
//    flipped to unsigned (kActBias = 128, removed with the code sum);
//  - unsigned codes c with an offset o (w = c - o; INT4, ternary): the codes
//    are the unsigned operand and the signed activations stay as they are; a
//    lane gains at most 4 * 15 * 128 per instruction. Their decoders turn the
//    bytes of 64 codes (two 32-code chunks of the storage layout) into one
//    ZMM, or of one chunk (a half step at the end of a row) into the low half.
// The reference epilogue then removes every offset exactly:
//   e = dot - kActBias sum c - o sum a - za sum c + o za kp.
// kStepBytes: bytes of a row per 64 codes.

struct Int8Codes {
  static constexpr i64 kOffset = 0, kActBias = 128, kStepBytes = 64;
  static __m512i weights(const std::uint8_t* p, __mmask64 mask, bool) {
    return _mm512_maskz_loadu_epi8(mask, p);
  }
};

struct Int4Codes {  // chunk (16 bytes): byte j holds codes j (low nibble), j + 16
  static constexpr i64 kOffset = 8, kActBias = 0, kStepBytes = 32;
  static __m512i weights(const std::uint8_t* p, __mmask64, bool half) {
    const __m256i nib = _mm256_set1_epi8(0x0F);
    if (half) {
      // (ZMM masked loads throughout: the 128-bit forms need AVX-512 VL.)
      const __m128i x = _mm512_castsi512_si128(_mm512_maskz_loadu_epi8(0xFFFF, p));
      const __m128i lo = _mm_and_si128(x, _mm256_castsi256_si128(nib));
      const __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), _mm256_castsi256_si128(nib));
      return _mm512_zextsi256_si512(_mm256_set_m128i(hi, lo));
    }
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i lo = _mm256_and_si256(x, nib);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), nib);
    const __m256i a = _mm256_permute2x128_si256(lo, hi, 0x20);  // codes 0..31
    const __m256i b = _mm256_permute2x128_si256(lo, hi, 0x31);  // codes 32..63
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
  }
};

struct TernaryCodes {  // chunk (8 bytes): byte j holds codes j, j + 8, j + 16, j + 24
  static constexpr i64 kOffset = 1, kActBias = 0, kStepBytes = 16;
  static __m512i weights(const std::uint8_t* p, __mmask64, bool half) {
    const __m128i x = _mm512_castsi512_si128(_mm512_maskz_loadu_epi8(half ? 0x00FF : 0xFFFF, p));
    // 64-bit lanes 0-3 get chunk 0, 4-7 chunk 1, each shifted by 0, 2, 4, 6.
    const __m512i b = _mm512_permutexvar_epi64(_mm512_set_epi64(1, 1, 1, 1, 0, 0, 0, 0),
                                               _mm512_castsi128_si512(x));
    const __m512i sh = _mm512_set_epi64(6, 4, 2, 0, 6, 4, 2, 0);
    return _mm512_and_si512(_mm512_srlv_epi64(b, sh), _mm512_set1_epi8(0x03));
  }
};

// ---------------------------------------------------------------- tiles
// Rows [m, m + R) of the activations times weight rows [n, n + C). The
// loops over r and c are unrolled by pragma: without it GCC kept acc[][] in
// memory as well, a store after every vpdpbusd (1.2x slower at 10000 x 784).
template <class D, int R, int C>
void tile(const QActs& a, const QWeights& w, i64 m, i64 n, const QOut& out) {
  constexpr bool kFlip = D::kActBias != 0;
  const i64 kp = w.padded_cols;  // whole 32-code chunks: the last step may be half
  const std::int8_t* ar[R];
  const std::uint8_t* wr[C];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) ar[r] = a.q + (m + r) * a.q_stride;
#pragma GCC unroll 16
  for (int c = 0; c < C; ++c) wr[c] = w.data + (n + c) * w.row_stride;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const i64 last = w.rows - C;  // the last tile prefetches itself
  [[maybe_unused]] const std::uint8_t* next =
      w.data + (n + C < last ? n + C : last) * w.row_stride;
  i64 dot[R][C] = {};
  for (i64 k0 = 0; k0 < kp; k0 += kSuperSteps * kStep) {
    const i64 k1 = kp - k0 < kSuperSteps * kStep ? kp : k0 + kSuperSteps * kStep;
    __m512i acc[R][C];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_si512();
    for (i64 k = k0; k < k1; k += kStep) {
      const i64 off = k / kStep * D::kStepBytes;
      if constexpr (R == 1) prefetch_span(next + off * C, C * D::kStepBytes);
      // A half last step loads zero activations beyond kp (flipped: 128, but
      // against zero INT8 weights), so those codes add nothing.
      const bool half = k1 - k < kStep;
      const __mmask64 mask = half ? (__mmask64{1} << (k1 - k)) - 1 : ~__mmask64{0};
      __m512i av[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        av[r] = _mm512_maskz_loadu_epi8(mask, ar[r] + k);
        if constexpr (kFlip) av[r] = _mm512_xor_si512(av[r], flip);
      }
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) {
        const __m512i wv = D::weights(wr[c] + off, mask, half);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          acc[r][c] = kFlip ? _mm512_dpbusd_epi32(acc[r][c], av[r], wv)
                            : _mm512_dpbusd_epi32(acc[r][c], wv, av[r]);
        }
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) dot[r][c] += _mm512_reduce_add_epi32(acc[r][c]);
    }
  }
  const i64 o = D::kOffset, za = a.zero;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c) {
      i64 e = dot[r][c] - (D::kActBias + za) * w.code_sum[n + c];
      if constexpr (D::kOffset != 0) e += -o * a.rsum[m + r] + o * za * kp;
      const float bias = out.bias ? out.bias[n + c] : 0.0f;
      out.y[(m + r) * out.y_stride + n + c] =
          static_cast<float>(e) * (a.scale[m + r] * w.row_scale[n + c]) + bias;
    }
  }
}

// Column tiles outermost, so that C weight rows stay in cache while the
// activation rows of the task pass; 4 x 4 accumulators (16 of 32 ZMM
// registers) for batches, 1 x 8 for single rows.
template <class D>
void per_channel(const QActs& a, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
                 const QOut& out) {
  constexpr int R = 4, C = 4, C1 = 8;
  if (m1 - m0 < R) {
    for (i64 m = m0; m < m1; ++m) {
      i64 n = n0;
      for (; n + C1 <= n1; n += C1) tile<D, 1, C1>(a, w, m, n, out);
      for (; n < n1; ++n) tile<D, 1, 1>(a, w, m, n, out);
    }
    return;
  }
  i64 n = n0;
  for (; n + C <= n1; n += C) {
    i64 m = m0;
    for (; m + R <= m1; m += R) tile<D, R, C>(a, w, m, n, out);
    for (; m < m1; ++m) tile<D, 1, C>(a, w, m, n, out);
  }
  for (; n < n1; ++n) {
    i64 m = m0;
    for (; m + R <= m1; m += R) tile<D, R, 1>(a, w, m, n, out);
    for (; m < m1; ++m) tile<D, 1, 1>(a, w, m, n, out);
  }
}

void quantize_acts_vnni(const float* x, i64 x_stride, i64 rows, i64 k, i64 kp, i64 group,
                        const ActQuantParams& params, std::int8_t* q, i64 q_stride, float* scale,
                        float* gsum, i64 gsum_stride, i64* rsum) {
  kKernelsAvx2.quantize_acts(x, x_stride, rows, k, kp, group, params, q, q_stride, scale, gsum,
                             gsum_stride, rsum);
}

void int_gemm_vnni(const QActs& a, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
                   const QOut& out) {
  if (w.format == kFmtInt8Channel) return per_channel<Int8Codes>(a, w, m0, m1, n0, n1, out);
  // INT4 and ternary single rows: the AVX2 kernels (memory-bound, prefetching).
  if (m1 - m0 >= 4) {
    if (w.format == kFmtInt4Channel) return per_channel<Int4Codes>(a, w, m0, m1, n0, n1, out);
    if (w.format == kFmtTernaryChannel) {
      return per_channel<TernaryCodes>(a, w, m0, m1, n0, n1, out);
    }
  }
  kKernelsAvx2.int_gemm(a, w, m0, m1, n0, n1, out);
}

void half_gemm_vnni(const float* x, i64 x_stride, const QWeights& w, i64 m0, i64 m1, i64 n0,
                    i64 n1, const QOut& out) {
  kKernelsAvx2.half_gemm(x, x_stride, w, m0, m1, n0, n1, out);
}

}  // namespace

const KernelTable kKernelsAvx512Vnni = {"avx512vnni", quantize_acts_vnni, int_gemm_vnni,
                                        half_gemm_vnni};

}  // namespace detail
}  // namespace elmq
