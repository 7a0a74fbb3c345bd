// AVX-VNNI kernels (the VEX-encoded vpdpbusd on YMM: Intel cores since Alder
// Lake, including those without AVX-512, and AMD Zen 4 and later). Compiled
// with per-file flags (-mavxvnni plus the AVX2 set) and called only after a
// CPUID check (quant/cpu_features.cpp). Like kernels_avx2.cpp: an anonymous
// namespace, intrinsics and plain C only.
//
// The tile of quant/detail/vnni_tile.h (its header has the exact arithmetic,
// shared with kernels_avx512vnni.cpp) on half the width, where a storage
// chunk of 32 codes is exactly one step, so no step is ever partial. The
// eight lanes of an accumulator stay below 2^31 over kSuperSteps = 2048
// instructions (K = 64 Ki), then fold into int64.
//
// ELMQ_AVXVNNI_EMULATION (a build option for tests, never for shipped
// builds): vpdpbusd is computed exactly from AVX2 instructions instead, so
// that this file's tiling, decoding and epilogue are tested on CPUs without
// AVX-VNNI; the CPU check then accepts any AVX2 CPU (cpu_features.cpp).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/detail/kernels.h"
#include "quant/detail/vnni_tile.h"

namespace elmq {
namespace detail {

namespace {

using i64 = std::int64_t;

struct Ymm {
  using Reg = __m256i;
  struct Step {};  // whole steps only
  static constexpr i64 kStep = 32;
  static constexpr i64 kSuperSteps = 2048;  // 8 lanes * 2048 * 129,540 < 2^31
  // 2 x 4 accumulators for batches: GCC 12 kept a 3 x 4 tile's accumulators
  // on the stack (25 stores per 12 steps; 16 YMM registers do not hold 12
  // accumulators, 3 activation vectors, a weight vector and the flip
  // constant); 1 x 8 for single rows.
  static constexpr int kR = 2, kC = 4, kC1 = 8;
  static Step step(i64, i64) { return {}; }
  static Reg zero() { return _mm256_setzero_si256(); }
  static Reg acts(const std::int8_t* p, Step) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static Reg flip(Reg v) { return _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))); }
  // acc + the sums over each group of four bytes of u (unsigned) times s (signed).
  static Reg dpbusd(Reg acc, Reg u, Reg s) {
#ifdef ELMQ_AVXVNNI_EMULATION
    // Even and odd bytes widened to 16 bits (exact), then pairs summed into
    // int32 by vpmaddwd: |u s| <= 255 * 128, so no pair sum overflows.
    const __m256i lo8 = _mm256_set1_epi16(0x00FF);
    const __m256i ue = _mm256_and_si256(u, lo8), uo = _mm256_srli_epi16(u, 8);
    const __m256i se = _mm256_srai_epi16(_mm256_slli_epi16(s, 8), 8);
    const __m256i so = _mm256_srai_epi16(s, 8);
    return _mm256_add_epi32(
        acc, _mm256_add_epi32(_mm256_madd_epi16(ue, se), _mm256_madd_epi16(uo, so)));
#else
    return _mm256_dpbusd_avx_epi32(acc, u, s);
#endif
  }
  // Exact int64 sum of the eight int32 lanes.
  static i64 reduce(Reg v) {
    const __m256i s = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                       _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
    const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
  }
};

// ---------------------------------------------------------------- formats
// How one 32-code chunk of a row (kStepBytes bytes) feeds vpdpbusd.

struct Int8Codes {
  static constexpr i64 kOffset = 0, kActBias = 128, kStepBytes = 32;
  static __m256i weights(const std::uint8_t* p, Ymm::Step) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
};

struct Int4Codes {  // byte j holds codes j (low nibble) and j + 16
  static constexpr i64 kOffset = 8, kActBias = 0, kStepBytes = 16;
  static __m256i weights(const std::uint8_t* p, Ymm::Step) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m256i w = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(w, _mm256_set1_epi8(0x0F));
  }
};

struct TernaryCodes {  // byte j holds codes j, j + 8, j + 16, j + 24
  static constexpr i64 kOffset = 1, kActBias = 0, kStepBytes = 8;
  static __m256i weights(const std::uint8_t* p, Ymm::Step) {
    long long t;
    std::memcpy(&t, p, 8);
    const __m256i b = _mm256_srlv_epi64(_mm256_set1_epi64x(t), _mm256_set_epi64x(6, 4, 2, 0));
    return _mm256_and_si256(b, _mm256_set1_epi8(0x03));
  }
};

void quantize_acts_avxvnni(const float* x, i64 x_stride, i64 rows, i64 k, i64 kp, i64 group,
                           const ActQuantParams& params, std::int8_t* q, i64 q_stride,
                           float* scale, float* gsum, i64 gsum_stride, i64* rsum) {
  kKernelsAvx2.quantize_acts(x, x_stride, rows, k, kp, group, params, q, q_stride, scale, gsum,
                             gsum_stride, rsum);
}

void half_gemm_avxvnni(const float* x, i64 x_stride, const QWeights& w, i64 m0, i64 m1, i64 n0,
                       i64 n1, const QOut& out) {
  kKernelsAvx2.half_gemm(x, x_stride, w, m0, m1, n0, n1, out);
}

constexpr auto int_gemm_avxvnni = vnni_int_gemm<Ymm, Int8Codes, Int4Codes, TernaryCodes>;

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
