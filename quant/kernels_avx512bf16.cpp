// AVX-512 BF16 kernels: bf16 weights by vdpbf16ps (Cooper Lake, Sapphire
// Rapids and later Intel Xeons, AMD Zen 4 and later). Compiled with per-file
// flags (AVX-512 F, BW, VNNI and BF16 plus the AVX2 set) and called only after
// a CPUID check (quant/cpu_features.cpp). Like kernels_avx2.cpp: an anonymous
// namespace, intrinsics and plain C only.
//
// vdpbf16ps adds to each fp32 lane the products of one pair of bf16 numbers
// from each operand: 32 multiply-adds per ZMM instruction where the float FMA
// does 16. The driver (quant/gemm.cpp) has already rounded the activations
// to bf16 values (the bf16 format's contract on every path), so packing them
// into bf16 codes here is exact, and every product is exact in fp32 (8-bit by
// 8-bit significands): the paths differ only in the order of the fp32 sums,
// and in one more way: vdpbf16ps treats subnormal inputs and results as zero
// (|values| below 2^-126, far below any weight or activation elmq produces),
// where the other paths and the emulation keep them.
// Each output accumulates 16 lanes over K in steps of 32, then one reduction,
// whatever the tile: single rows and batches give the same bits.
//
// Weights of any other format, and the integer kernels, are kKernelsAvx512Vnni's.
//
// ELMQ_AVX512BF16_EMULATION (a build option for tests, never for shipped
// builds): a "ZMM" is a pair of YMM registers and vdpbf16ps is computed from
// AVX2 instructions (the products are exact either way), so that this file's
// tiling, packing and tails are tested on CPUs without AVX-512 BF16; the rest
// of the table is then kKernelsAvx2's, and the CPU check accepts any AVX2 CPU.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/detail/kernels.h"

namespace elmq {
namespace detail {

namespace {

using i64 = std::int64_t;

constexpr i64 kStep = 32;  // bf16 codes per vdpbf16ps

// The sum of the eight lanes, in a fixed order.
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

#ifdef ELMQ_AVX512BF16_EMULATION

struct Vec {
  struct Acc {
    __m256 lo, hi;  // lanes 0-7, 8-15
  };
  struct Codes {
    __m256i lo, hi;  // codes 0-15, 16-31
  };
  static Acc zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static Codes load(const std::uint16_t* p) {
    return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16))};
  }
  // The first n < 32 codes, zeros after them.
  static Codes load_first(const std::uint16_t* p, i64 n) {
    alignas(32) std::uint16_t tmp[kStep] = {};
    std::memcpy(tmp, p, static_cast<std::size_t>(n) * 2);
    return load(tmp);
  }
  // As the instruction: lane j += a[2j+1] b[2j+1], then += a[2j] b[2j].
  static __m256 dot_half(__m256 acc, __m256i a, __m256i b) {
    const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
    const __m256 ao = _mm256_castsi256_ps(_mm256_and_si256(a, high));
    const __m256 bo = _mm256_castsi256_ps(_mm256_and_si256(b, high));
    const __m256 ae = _mm256_castsi256_ps(_mm256_slli_epi32(a, 16));
    const __m256 be = _mm256_castsi256_ps(_mm256_slli_epi32(b, 16));
    return _mm256_fmadd_ps(ae, be, _mm256_fmadd_ps(ao, bo, acc));
  }
  static Acc dot(Acc acc, Codes a, Codes b) {
    return {dot_half(acc.lo, a.lo, b.lo), dot_half(acc.hi, a.hi, b.hi)};
  }
  static float reduce(Acc acc) { return hsum8(_mm256_add_ps(acc.lo, acc.hi)); }
};

#else

struct Vec {
  using Acc = __m512;
  using Codes = __m512i;
  static Acc zero() { return _mm512_setzero_ps(); }
  static Codes load(const std::uint16_t* p) { return _mm512_loadu_si512(p); }
  static Codes load_first(const std::uint16_t* p, i64 n) {
    return _mm512_maskz_loadu_epi16((__mmask32{1} << n) - 1, p);
  }
  static Acc dot(Acc acc, Codes a, Codes b) {
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
  }
  // Lanes j + 8 onto j, then as the emulation. Through memory: GCC 12's
  // 512-to-256-bit intrinsics warn of an uninitialized value (once per output).
  static float reduce(Acc acc) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, acc);
    return hsum8(_mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8)));
  }
};

#endif

// Activation rows packed as bf16 codes, K padded with zeros to whole steps
// (so only the weights need a masked last step).
struct Packed {
  const std::uint16_t* codes;
  i64 stride;  // codes per row (a multiple of kStep)
};

// y[m + r][n + c] for r < R, c < C: 16-lane accumulators over K, one per output.
template <int R, int C>
void bf16_tile(const Packed& a, i64 m, const QWeights& w, i64 n, const QOut& out, i64 row0) {
  const i64 k = w.cols, full = k / kStep * kStep;
  const std::uint16_t* wr[C];
  const std::uint16_t* ar[R];
  for (int c = 0; c < C; ++c)
    wr[c] = reinterpret_cast<const std::uint16_t*>(w.data + (n + c) * w.row_stride);
  for (int r = 0; r < R; ++r) ar[r] = a.codes + (m - row0 + r) * a.stride;
  typename Vec::Acc acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = Vec::zero();
  for (i64 j = 0; j < full; j += kStep) {
    typename Vec::Codes wv[C];
    for (int c = 0; c < C; ++c) wv[c] = Vec::load(wr[c] + j);
    for (int r = 0; r < R; ++r) {
      const typename Vec::Codes av = Vec::load(ar[r] + j);
      for (int c = 0; c < C; ++c) acc[r][c] = Vec::dot(acc[r][c], av, wv[c]);
    }
  }
  if (full < k) {
    typename Vec::Codes wv[C];
    for (int c = 0; c < C; ++c) wv[c] = Vec::load_first(wr[c] + full, k - full);
    for (int r = 0; r < R; ++r) {
      const typename Vec::Codes av = Vec::load(ar[r] + full);
      for (int c = 0; c < C; ++c) acc[r][c] = Vec::dot(acc[r][c], av, wv[c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const float bias = out.bias ? out.bias[n + c] : 0.0f;
      out.y[(m + r) * out.y_stride + n + c] = Vec::reduce(acc[r][c]) + bias;
    }
  }
}

void bf16_gemm(const float* x, i64 x_stride, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
               const QOut& out) {
  // Pack this task's rows once (exact: the driver rounded them to bf16 values).
  const i64 k = w.cols, stride = (k + kStep - 1) / kStep * kStep;
  std::uint8_t* bytes = scratch_bytes(2 * (m1 - m0) * stride);
  for (i64 m = m0; m < m1; ++m) {
    const float* xr = x + m * x_stride;
    std::uint8_t* cr = bytes + 2 * (m - m0) * stride;
    for (i64 j = 0; j < k; ++j) {
      std::uint32_t bits;
      std::memcpy(&bits, xr + j, 4);
      const auto code = static_cast<std::uint16_t>(bits >> 16);
      std::memcpy(cr + 2 * j, &code, 2);
    }
    std::memset(cr + 2 * k, 0, static_cast<std::size_t>(2 * (stride - k)));
  }
  const Packed a{reinterpret_cast<const std::uint16_t*>(bytes), stride};
  // 4 x 4 accumulators for batches, 1 x 8 for single rows (of 32 ZMM registers).
  constexpr int R = 4, C = 4, C1 = 8;
  i64 m = m0;
  for (; m + R <= m1; m += R) {
    i64 n = n0;
    for (; n + C <= n1; n += C) bf16_tile<R, C>(a, m, w, n, out, m0);
    for (; n < n1; ++n) bf16_tile<R, 1>(a, m, w, n, out, m0);
  }
  for (; m < m1; ++m) {
    i64 n = n0;
    for (; n + C1 <= n1; n += C1) bf16_tile<1, C1>(a, m, w, n, out, m0);
    for (; n < n1; ++n) bf16_tile<1, 1>(a, m, w, n, out, m0);
  }
}

#ifdef ELMQ_AVX512BF16_EMULATION
const KernelTable& rest() { return kKernelsAvx2; }
#else
const KernelTable& rest() { return kKernelsAvx512Vnni; }
#endif

void quantize_acts_bf16(const float* x, i64 x_stride, i64 rows, i64 k, i64 kp, i64 group,
                        const ActQuantParams& params, std::int8_t* q, i64 q_stride, float* scale,
                        float* gsum, i64 gsum_stride, i64* rsum) {
  rest().quantize_acts(x, x_stride, rows, k, kp, group, params, q, q_stride, scale, gsum,
                       gsum_stride, rsum);
}

void int_gemm_bf16(const QActs& a, const QWeights& w, i64 m0, i64 m1, i64 n0, i64 n1,
                   const QOut& out) {
  rest().int_gemm(a, w, m0, m1, n0, n1, out);
}

void half_gemm_bf16(const float* x, i64 x_stride, const QWeights& w, i64 m0, i64 m1, i64 n0,
                    i64 n1, const QOut& out) {
  if (w.format == kFmtBF16) {
    bf16_gemm(x, x_stride, w, m0, m1, n0, n1, out);
  } else {
    rest().half_gemm(x, x_stride, w, m0, m1, n0, n1, out);
  }
}

}  // namespace

#ifdef ELMQ_AVX512BF16_EMULATION
const KernelTable kKernelsAvx512Bf16 = {"avx512bf16 (emulated)", quantize_acts_bf16, int_gemm_bf16,
                                        half_gemm_bf16};
const bool kAvx512Bf16Emulated = true;
#else
const KernelTable kKernelsAvx512Bf16 = {"avx512bf16", quantize_acts_bf16, int_gemm_bf16,
                                        half_gemm_bf16};
const bool kAvx512Bf16Emulated = false;
#endif

}  // namespace detail
}  // namespace elmq
