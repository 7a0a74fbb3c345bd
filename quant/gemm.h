// Products with quantized weights: Y = X W^T + b, X batch x K (float32,
// row-major), W an N x K QuantizedTensor, b N floats or null, Y batch x N.
//
// What is computed, per format:
//  - f32: Eigen's float product.
//  - f16: weights converted exactly to float on the fly, float FMA
//    accumulation; activations are not quantized.
//  - bf16: activations rounded to bf16 (nearest, ties to even), as bf16
//    hardware computes (and llama.cpp's bf16 type), on every path; each
//    product of two bf16 numbers is exact in float, accumulation in float.
//    So the paths differ by the order of the float sums only, and the
//    AVX-512 BF16 path (vdpbf16ps, twice the float FMA's multiply-adds) gives
//    what the others give, except that it treats subnormal values (below
//    2^-126) as zero. |x| from about 3.3961e38 up rounds to infinity.
//  - integer formats: each row of X is quantized to int8 codes a with
//    x ~= s * (a - z) (ActivationQuant; padding columns get a = z), then
//    integer dot products with the weight codes c are computed exactly, per
//    group for grouped formats. With w = d * (c - o) + m (o: zero code, m: min):
//      per-channel formats: y = float(E) * (s * d) + b, with the exact integer
//        E = sum_k (c_k - o)(a_k - z) over the padded row;
//      grouped formats: y = s * (sum_g [d_g (D_g - o A_g) + m_g A_g] + z F) + b,
//        D_g = sum_{k in g} c_k a_k, A_g = sum_{k in g} a_k (exact integers),
//        F = sum_g d_g (o G - C_g) - m_g G a per-row constant (C_g = sum of codes);
//        the float sum's order is unspecified (paths differ by rounding only).
//    So integer formats see activation quantization error as well as weight
//    error; qgemm_dequantized() gives the float-activation product for comparison.
//
// Every path computes each output with the same operations whatever the
// batch size, blocking or thread count, so results depend on neither (f32:
// Eigen's blocking depends on the batch size, its split over threads is fixed,
// so f32 results depend on the batch composition but not on the thread count).
// Paths: KernelPath::kScalar (reference), kAvx2, kAvxVnni, kAvx512Vnni, kAvx512Bf16; kAuto picks the active one
// (quant/cpu_features.h). For per-channel integer formats all paths agree
// bit for bit; for the others they agree exactly on the integer dot products.
#pragma once

#include <cstdint>

#include "elm/common/matrix.h"
#include "quant/cpu_features.h"
#include "quant/quantized_tensor.h"

namespace elmq {

/// How activation rows are quantized to int8 for integer weight formats.
struct ActivationQuant {
  enum class Mode : std::uint32_t {
    /// Per row: s = max|x| / 127, a = clamp(nearbyint(x * (127 / max|x|)), -127, 127), z = 0.
    /// Rows with max|x| < 1e-30 become all-zero (s = 0).
    kDynamic = 0,
    /// Fixed s = scale: a = clamp(nearbyint(x * (1 / scale)), -127, 127), z = 0.
    kStatic = 1,
    /// Fixed s = scale and zero point zp (e.g. after ReLU): the uint8 code
    /// u = clamp(nearbyint(x * (1 / scale)) + zp, 0, 255), held as a = u - 128,
    /// z = zp - 128 (so x ~= s * (u - zp)).
    kStaticAsymmetric = 2,
  };
  Mode mode = Mode::kDynamic;
  float scale = 1.0f;  ///< static modes: finite, > 0, with 1 / scale finite
  int zero_point = 0;  ///< kStaticAsymmetric: in [0, 255]

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;

  /// Static parameters for activations calibrated to [lo, hi] (lo <= hi, finite).
  /// Symmetric: scale = max(|lo|, |hi|) / 127. Asymmetric: the range is widened
  /// to include 0, scale = (hi - lo) / 255, zero_point = nearbyint(-lo / scale).
  /// An all-zero range gives scale 1.
  static ActivationQuant calibrated(float lo, float hi, bool asymmetric);
};

struct QGemmOptions {
  /// kAuto: the active path; an explicit path must be supported (kernel_path_supported).
  KernelPath path = KernelPath::kAuto;
  /// Threads for large products (0 = all, see resolve_threads). Small products run serially.
  int threads = 0;
  /// Integer formats only; ignored by f32/f16/bf16.
  ActivationQuant activations;

  /// @throws InvalidArgument naming the bad field.
  void validate() const;
};

/// y = x w^T + bias (see the top of this file). x: batch x K, finite; y:
/// batch x N, must not overlap x; bias: N floats or null.
/// Scratch: activation codes (bf16: rounded activations) live in a per-thread buffer that is reused
/// across calls (kept up to 8 MB per thread; larger batches allocate per
/// call), so a warmed-up single-threaded call allocates nothing.
/// @throws InvalidArgument on shape mismatch, non-finite x, bad options or an
///         unsupported explicit path.
void qgemm(const ConstMatrixRef& x, const QuantizedTensor& w, const float* bias, MatrixRef y,
           const QGemmOptions& opt = QGemmOptions());
RowMatrixXf qgemm(const ConstMatrixRef& x, const QuantizedTensor& w, const float* bias = nullptr,
                  const QGemmOptions& opt = QGemmOptions());

/// Reference with float activations: y = x dequantize(w)^T + bias (Eigen
/// product; allocates the dequantized weights).
/// @throws InvalidArgument as qgemm.
void qgemm_dequantized(const ConstMatrixRef& x, const QuantizedTensor& w, const float* bias,
                       MatrixRef y, int threads = 0);

}  // namespace elmq
