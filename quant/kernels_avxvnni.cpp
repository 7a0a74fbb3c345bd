// AVX-VNNI kernels (the VEX-encoded vpdpbusd on YMM: Intel cores since Alder
// Lake, including those without AVX-512, and AMD Zen 4 and later). Compiled
// with per-file flags (-mavxvnni plus the AVX2 set) and called only after a
// CPUID check (quant/cpu_features.cpp). Like kernels_avx2.cpp: an anonymous
// namespace, intrinsics and plain C only.
//
// The same arithmetic as kernels_avx512vnni.cpp on half the width, where the
// storage's 32-code chunks are exactly one step, so no step is ever partial:
//  - INT8 per channel: the signed activation codes are flipped to unsigned
//    (a ^ 0x80 = a + 128) and the weights are the signed operand; the stored
//    code sum removes 128 * sum w exactly;
//  - INT4 per channel and ternary (unsigned codes c, w = c - o): the codes are
//    the unsigned operand, the activations the signed one;
// and the float epilogue is the reference kernels' expression, so results
// equal them bit for bit. A lane gains at most 4 * 255 * 127 = 129,540 per
// instruction, so the eight lanes of an accumulator stay below 2^31 over
// kSuperSteps = 2048 instructions (K = 64 Ki), then fold into int64.
//
// ELMQ_AVXVNNI_EMULATION (a build option for tests, never for shipped
// builds): vpdpbusd is computed exactly from AVX2 instructions instead, so
// that this file's tiling, decoding and epilogue are tested on CPUs without
// AVX-VNNI; the CPU check then accepts any AVX2 CPU (cpu_features.cpp).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/detail/kernels.h"

namespace elmq {
namespace detail {

namespace {

using i64 = std::int64_t;

constexpr i64 kStep = 32;          // codes per vpdpbusd (one storage chunk)
constexpr i64 kSuperSteps = 2048;  // 8 lanes * 2048 * 129,540 < 2^31

// acc + sum over each group of four bytes of u (unsigned) times s (signed).
inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
#ifdef ELMQ_AVXVNNI_EMULATION
  // Even and odd bytes widened to 16 bits (exact), then pairs summed into
  // int32 by vpmaddwd: |u s| <= 255 * 128, so no pair sum overflows.
  const __m256i lo8 = _mm256_set1_epi16(0x00FF);
  const __m256i ue = _mm256_and_si256(u, lo8), uo = _mm256_srli_epi16(u, 8);
  const __m256i se = _mm256_srai_epi16(_mm256_slli_epi16(s, 8), 8), so = _mm256_srai_epi16(s, 8);
  return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(ue, se),
                                                _mm256_madd_epi16(uo, so)));
#else
  return _mm256_dpbusd_avx_epi32(acc, u, s);
#endif
}

// Exact int64 sum of eight int32 lanes.
inline i64 hsum_epi32_i64(__m256i v) {
  const __m256i s = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
  const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
}

// Single-row (memory-bound) tiles prefetch the next tile's weights, which
// follow the current rows in memory, at the pace they consume the current
// ones (as the AVX2 kernels do).
inline void prefetch_span(const std::uint8_t* p, i64 bytes) {
  for (i64 off = 0; off < bytes; off += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
  }
}

// ---------------------------------------------------------------- formats
// How one 32-code chunk of a row feeds vpdpbusd (kChunkBytes: its bytes),
// and the offsets the reference epilogue removes:
//   e = dot - kActBias sum c - o sum a - za sum c + o za kp.

struct Int8Codes {
  static constexpr i64 kOffset = 0, kActBias = 128, kChunkBytes = 32;
  static __m256i weights(const std::uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
};

struct Int4Codes {  // byte j holds codes j (low nibble) and j + 16
  static constexpr i64 kOffset = 8, kActBias = 0, kChunkBytes = 16;
  static __m256i weights(const std::uint8_t* p) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m256i w = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(w, _mm256_set1_epi8(0x0F));
  }
};

struct TernaryCodes {  // byte j holds codes j, j + 8, j + 16, j + 24
  static constexpr i64 kOffset = 1, kActBias = 0, kChunkBytes = 8;
  static __m256i weights(const std::uint8_t* p) {
    long long t;
    std::memcpy(&t, p, 8);
    const __m256i b = _mm256_srlv_epi64(_mm256_set1_epi64x(t), _mm256_set_epi64x(6, 4, 2, 0));
    return _mm256_and_si256(b, _mm256_set1_epi8(0x03));
  }
};

// ---------------------------------------------------------------- tiles
// Rows [m, m + R) of the activations times weight rows [n, n + C). The r/c
// loops are unrolled by pragma so that acc[][] stays in registers (as in
// kernels_avx512vnni.cpp, where GCC otherwise stored it after every step).
template <class D, int R, int C>
void tile(const QActs& a, const QWeights& w, i64 m, i64 n, const QOut& out) {
  constexpr bool kFlip = D::kActBias != 0;
  const i64 kp = w.padded_cols;  // whole 32-code chunks
  const std::int8_t* ar[R];
  const std::uint8_t* wr[C];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) ar[r] = a.q + (m + r) * a.q_stride;
#pragma GCC unroll 16
  for (int c = 0; c < C; ++c) wr[c] = w.data + (n + c) * w.row_stride;
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const i64 last = w.rows - C;  // the last tile prefetches itself
  [[maybe_unused]] const std::uint8_t* next =
      w.data + (n + C < last ? n + C : last) * w.row_stride;
  i64 dot[R][C] = {};
  for (i64 k0 = 0; k0 < kp; k0 += kSuperSteps * kStep) {
    const i64 k1 = kp - k0 < kSuperSteps * kStep ? kp : k0 + kSuperSteps * kStep;
    __m256i acc[R][C];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_si256();
    for (i64 k = k0; k < k1; k += kStep) {
      const i64 off = k / kStep * D::kChunkBytes;
      if constexpr (R == 1) prefetch_span(next + off * C, C * D::kChunkBytes);
      __m256i av[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        av[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar[r] + k));
        if constexpr (kFlip) av[r] = _mm256_xor_si256(av[r], flip);
      }
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) {
        const __m256i wv = D::weights(wr[c] + off);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          acc[r][c] = kFlip ? dpbusd(acc[r][c], av[r], wv) : dpbusd(acc[r][c], wv, av[r]);
        }
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) dot[r][c] += hsum_epi32_i64(acc[r][c]);
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
// activation rows of the task pass; 2 x 4 accumulators for batches (GCC 12
// kept a 3 x 4 tile's accumulators on the stack, 25 stores per 12 steps:
// 16 YMM registers do not hold 12 accumulators, 3 activation vectors, a
// weight vector and the flip constant), 1 x 8 for single rows.
template <class D>
void per_channel(const QActs& a, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
                 const QOut& out) {
  constexpr int R = 2, C = 4, C1 = 8;
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

void quantize_acts_avxvnni(const float* x, i64 x_stride, i64 rows, i64 k, i64 kp, i64 group,
                           const ActQuantParams& params, std::int8_t* q, i64 q_stride,
                           float* scale, float* gsum, i64 gsum_stride, i64* rsum) {
  kKernelsAvx2.quantize_acts(x, x_stride, rows, k, kp, group, params, q, q_stride, scale, gsum,
                             gsum_stride, rsum);
}

void int_gemm_avxvnni(const QActs& a, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
                      const QOut& out) {
  if (w.format == kFmtInt8Channel) return per_channel<Int8Codes>(a, w, m0, m1, n0, n1, out);
  // INT4 and ternary single rows: the AVX2 kernels (memory-bound, prefetching).
  if (m1 - m0 >= 2) {
    if (w.format == kFmtInt4Channel) return per_channel<Int4Codes>(a, w, m0, m1, n0, n1, out);
    if (w.format == kFmtTernaryChannel) {
      return per_channel<TernaryCodes>(a, w, m0, m1, n0, n1, out);
    }
  }
  kKernelsAvx2.int_gemm(a, w, m0, m1, n0, n1, out);
}

void half_gemm_avxvnni(const float* x, i64 x_stride, const QWeights& w, i64 m0, i64 m1, i64 n0,
                       i64 n1, const QOut& out) {
  kKernelsAvx2.half_gemm(x, x_stride, w, m0, m1, n0, n1, out);
}

}  // namespace

#ifdef ELMQ_AVXVNNI_EMULATION
const KernelTable kKernelsAvxVnni = {"avxvnni (emulated)", quantize_acts_avxvnni,
                                     int_gemm_avxvnni, half_gemm_avxvnni};
const bool kAvxVnniEmulated = true;
#else
const KernelTable kKernelsAvxVnni = {"avxvnni", quantize_acts_avxvnni, int_gemm_avxvnni,
                                     half_gemm_avxvnni};
const bool kAvxVnniEmulated = false;
#endif

}  // namespace detail
}  // namespace elmq
