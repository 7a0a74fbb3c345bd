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
// GCC 12 reports its own AVX-512 headers' _mm512_undefined_* placeholders as
// uninitialized values (false positives, dozens per build) once inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstdint>

#include "quant/detail/kernels.h"
#include "quant/detail/vnni_tile.h"

namespace elmq {
namespace detail {

namespace {

using i64 = std::int64_t;

// ZMM: 64 codes per step; a row's last step may be half of one (a 32-code
// chunk), loaded under a mask.
struct Zmm {
  using Reg = __m512i;
  struct Step {
    __mmask64 mask;
    bool half;
  };
  static constexpr i64 kStep = 64;
  static constexpr i64 kSuperSteps = 1024;  // 16 lanes * 1024 * 129,540 < 2^31
  // 4 x 4 accumulators (16 of 32 ZMM registers) for batches, 1 x 8 for single rows.
  static constexpr int kR = 4, kC = 4, kC1 = 8;
  static Step step(i64 k, i64 k1) {
    const bool half = k1 - k < kStep;
    return {half ? (__mmask64{1} << (k1 - k)) - 1 : ~__mmask64{0}, half};
  }
  static Reg zero() { return _mm512_setzero_si512(); }
  // A half last step loads zero activations beyond kp (flipped: 128, but
  // against zero INT8 weights), so those codes add nothing.
  static Reg acts(const std::int8_t* p, Step s) { return _mm512_maskz_loadu_epi8(s.mask, p); }
  static Reg flip(Reg v) { return _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80))); }
  static Reg dpbusd(Reg acc, Reg u, Reg s) { return _mm512_dpbusd_epi32(acc, u, s); }
  static i64 reduce(Reg v) { return _mm512_reduce_add_epi32(v); }
};

// ---------------------------------------------------------------- formats
// How a format's weights feed vpdpbusd, for 64 codes (one step) of a row.
// The decoders of the unsigned codes (INT4, ternary) turn the bytes of 64
// codes (two 32-code chunks of the storage layout) into one ZMM, or of one
// chunk (a half step at the end of a row) into the low half.
// kStepBytes: bytes of a row per 64 codes.

struct Int8Codes {
  static constexpr i64 kOffset = 0, kActBias = 128, kStepBytes = 64;
  static __m512i weights(const std::uint8_t* p, Zmm::Step s) {
    return _mm512_maskz_loadu_epi8(s.mask, p);
  }
};

struct Int4Codes {  // chunk (16 bytes): byte j holds codes j (low nibble), j + 16
  static constexpr i64 kOffset = 8, kActBias = 0, kStepBytes = 32;
  static __m512i weights(const std::uint8_t* p, Zmm::Step s) {
    const __m256i nib = _mm256_set1_epi8(0x0F);
    if (s.half) {
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
  static __m512i weights(const std::uint8_t* p, Zmm::Step s) {
    const __m128i x =
        _mm512_castsi512_si128(_mm512_maskz_loadu_epi8(s.half ? 0x00FF : 0xFFFF, p));
    // 64-bit lanes 0-3 get chunk 0, 4-7 chunk 1, each shifted by 0, 2, 4, 6.
    const __m512i b = _mm512_permutexvar_epi64(_mm512_set_epi64(1, 1, 1, 1, 0, 0, 0, 0),
                                               _mm512_castsi128_si512(x));
    const __m512i sh = _mm512_set_epi64(6, 4, 2, 0, 6, 4, 2, 0);
    return _mm512_and_si512(_mm512_srlv_epi64(b, sh), _mm512_set1_epi8(0x03));
  }
};

void quantize_acts_vnni(const float* x, i64 x_stride, i64 rows, i64 k, i64 kp, i64 group,
                        const ActQuantParams& params, std::int8_t* q, i64 q_stride, float* scale,
                        float* gsum, i64 gsum_stride, i64* rsum) {
  kKernelsAvx2.quantize_acts(x, x_stride, rows, k, kp, group, params, q, q_stride, scale, gsum,
                             gsum_stride, rsum);
}

void half_gemm_vnni(const float* x, i64 x_stride, const QWeights& w, i64 m0, i64 m1, i64 n0,
                    i64 n1, const QOut& out) {
  kKernelsAvx2.half_gemm(x, x_stride, w, m0, m1, n0, n1, out);
}

}  // namespace

const KernelTable kKernelsAvx512Vnni = {"avx512vnni", quantize_acts_vnni,
                                        vnni_int_gemm<Zmm, Int8Codes, Int4Codes, TernaryCodes>,
                                        half_gemm_vnni};

}  // namespace detail
}  // namespace elmq
