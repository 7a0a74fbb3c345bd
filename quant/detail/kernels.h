// Private (quant/detail): the interface between the kernel driver
// (quant/gemm.cpp) and the per-instruction-set kernel files
// (kernels_ref.cpp, kernels_avx2.cpp, kernels_avxvnni.cpp, kernels_avx512vnni.cpp,
// kernels_avx512bf16.cpp).
//
// This header is included by translation units compiled with different
// instruction sets, so it holds plain data and declarations only: no inline
// functions, no templates, no Eigen (an inline function compiled with AVX2 in
// one file could be picked by the linker for a caller on a CPU without it).
#pragma once

#include <cstdint>

namespace elmq {
namespace detail {

// QuantFormat values (checked against the enum in formats.cpp).
constexpr int kFmtF32 = 1;
constexpr int kFmtF16 = 2;
constexpr int kFmtBF16 = 3;
constexpr int kFmtInt8Channel = 4;
constexpr int kFmtQ8_0 = 5;
constexpr int kFmtInt4G32Sym = 6;
constexpr int kFmtInt4G128Sym = 7;
constexpr int kFmtInt4G32Asym = 8;
constexpr int kFmtInt4G128Asym = 9;
constexpr int kFmtInt4Channel = 10;
constexpr int kFmtInt2G32Asym = 11;
constexpr int kFmtInt2G64Asym = 12;
constexpr int kFmtTernaryChannel = 13;
constexpr int kFmtTernaryBase3 = 14;
constexpr int kFmtInt3Channel = 15;

/// Dynamic activation rows whose max |x| is below this are quantized to 0.
constexpr float kTinyActivation = 1e-30f;

// Activation quantization modes (ActivationQuant::Mode values).
constexpr int kActDynamic = 0;
constexpr int kActStatic = 1;
constexpr int kActStaticAsymmetric = 2;

/// How to quantize activation rows. Codes are signed bytes in [-128, 127]:
///  dynamic:     amax = max|x|, inv = 127 / amax, scale = amax / 127 (0 if amax < tiny),
///               q = clamp(nearbyint(x * inv), -127, 127), zero = 0;
///  static:      inv = 1 / s, scale = s, q = clamp(nearbyint(x * inv), -127, 127), zero = 0;
///  asymmetric:  u = clamp(nearbyint(x * inv) + zp, 0, 255), q = u - 128, zero = zp - 128.
/// So x ~= scale * (q - zero). Padding columns [k, kp) get q = zero (x = 0).
struct ActQuantParams {
  int mode;
  float scale;  ///< static modes
  float inv;    ///< static modes: 1 / scale (computed once by the driver)
  int zero_point;
};

/// Quantized activations of rows [0, rows): q is rows x kp (row stride q_stride).
struct QActs {
  const std::int8_t* q;
  std::int64_t q_stride;
  const float* scale;  ///< per row
  const float* gsum;   ///< per row x groups: sum of q over each padded group (grouped formats)
  std::int64_t gsum_stride;
  const std::int64_t* rsum;  ///< per row: sum of q over the padded row (per-channel formats)
  std::int32_t zero;         ///< zero offset of q (0 for symmetric modes)
};

/// A weight matrix as the kernels see it (QuantizedTensor's storage plus the
/// per-row constants precomputed at pack time).
struct QWeights {
  int format;
  std::int64_t rows, cols, padded_cols;
  std::int64_t blocks_per_row;
  std::int64_t block_bytes;
  std::int64_t row_stride;  ///< bytes between rows of `data` (blocks only)
  const std::uint8_t* data;
  const float* row_scale;        ///< per-channel formats: fp32 scale per row
  const std::int64_t* code_sum;  ///< per-channel: sum of stored codes over the padded row
  const float* row_corr;         ///< grouped: sum_g d_g (o G - C_g) - m_g G (zero-point term)
};

/// Output rows [m0, m1) x columns [n0, n1) of y (row stride y_stride); bias may be null.
struct QOut {
  float* y;
  std::int64_t y_stride;
  const float* bias;
};

/// One instruction set's kernels. All functions are safe to call concurrently
/// on disjoint outputs.
struct KernelTable {
  const char* name;
  /// Quantizes rows [0, rows) of x (row stride x_stride, k columns) into q
  /// (padded to kp with the zero code), scale, and the sums: gsum per group
  /// of `group` codes (kp / group groups) when gsum != null, rsum when != null.
  void (*quantize_acts)(const float* x, std::int64_t x_stride, std::int64_t rows, std::int64_t k,
                        std::int64_t kp, std::int64_t group, const ActQuantParams& params,
                        std::int8_t* q, std::int64_t q_stride, float* scale, float* gsum,
                        std::int64_t gsum_stride, std::int64_t* rsum);
  /// y[m, n] = scale_m * (integer dot of row m of q and weight row n) + bias[n]
  /// for m in [m0, m1), n in [n0, n1), any integer format.
  void (*int_gemm)(const QActs& a, const QWeights& w, std::int64_t m0, std::int64_t m1,
                   std::int64_t n0, std::int64_t n1, const QOut& out);
  /// Float activations x (row stride x_stride) times f16/bf16 weights. For bf16
  /// weights the driver has rounded x to bf16 values (gemm.h).
  void (*half_gemm)(const float* x, std::int64_t x_stride, const QWeights& w, std::int64_t m0,
                    std::int64_t m1, std::int64_t n0, std::int64_t n1, const QOut& out);
};

/// A buffer of at least n floats owned by the calling thread, valid until its
/// next call on that thread (kernel working memory; defined in quant/gemm.cpp).
float* scratch_floats(std::int64_t n);
/// The same for n bytes (a separate buffer). Both grow to the largest request
/// their kernels make, which the driver's tiling bounds (at most 512 rows of
/// activations or weights per task).
std::uint8_t* scratch_bytes(std::int64_t n);

extern const KernelTable kKernelsRef;
/// Defined only when the library is built for x86-64; call only if the CPU has AVX2+FMA+F16C.
extern const KernelTable kKernelsAvx2;
/// Likewise; call only if the CPU also has AVX-512 F, BW and VNNI (ZMM state enabled).
/// INT8 per-channel weights use vpdpbusd, and so do INT4 per-channel and ternary
/// weights for batches of 4 rows or more; everything else is kKernelsAvx2's.
extern const KernelTable kKernelsAvx512Vnni;
/// Likewise; call only if the CPU also has AVX-VNNI (YMM vpdpbusd), or if
/// kAvxVnniEmulated. The same formats as kKernelsAvx512Vnni use vpdpbusd
/// (INT4 per-channel and ternary for batches of 2 rows or more).
extern const KernelTable kKernelsAvxVnni;
/// True when the library was built with ELMQ_AVXVNNI_EMULATION (tests only):
/// kKernelsAvxVnni then computes vpdpbusd with AVX2 instructions.
extern const bool kAvxVnniEmulated;
/// Likewise; call only if the CPU also has AVX-512 BF16 (with kKernelsAvx512Vnni's
/// set), or if kAvx512Bf16Emulated: bf16 weights by vdpbf16ps, everything else
/// kKernelsAvx512Vnni's (kKernelsAvx2's when emulated).
extern const KernelTable kKernelsAvx512Bf16;
/// True when the library was built with ELMQ_AVX512BF16_EMULATION (tests only):
/// kKernelsAvx512Bf16 then computes vdpbf16ps with AVX2 instructions.
extern const bool kAvx512Bf16Emulated;

}  // namespace detail
}  // namespace elmq
