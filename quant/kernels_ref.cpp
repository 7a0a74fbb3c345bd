// Scalar reference kernels: the specification of every SIMD path (quant/gemm.h
// describes the arithmetic). Integer dot products are exact; the SIMD paths
// must reproduce them bit for bit, and per-channel formats share this exact
// float epilogue.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "quant/detail/codec.h"
#include "quant/detail/kernels.h"
#include "quant/formats.h"
#include "quant/half.h"

namespace elmq {
namespace detail {

namespace {

void quantize_acts_ref(const float* x, std::int64_t x_stride, std::int64_t rows, std::int64_t k,
                       std::int64_t kp, std::int64_t group, const ActQuantParams& params,
                       std::int8_t* q, std::int64_t q_stride, float* scale, float* gsum,
                       std::int64_t gsum_stride, std::int64_t* rsum) {
  const bool asym = params.mode == kActStaticAsymmetric;
  const int zero = asym ? params.zero_point - 128 : 0;
  const float lo = asym ? static_cast<float>(-params.zero_point) : -127.0f;
  const float hi = asym ? static_cast<float>(255 - params.zero_point) : 127.0f;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    std::int8_t* qr = q + r * q_stride;
    float inv = params.inv, sc = params.scale;
    if (params.mode == kActDynamic) {
      float amax = 0.0f;
      for (std::int64_t j = 0; j < k; ++j) amax = std::max(amax, std::fabs(xr[j]));
      if (amax < kTinyActivation) {
        inv = 0.0f;
        sc = 0.0f;
      } else {
        inv = 127.0f / amax;
        sc = amax / 127.0f;
      }
    }
    for (std::int64_t j = 0; j < k; ++j) {
      float t = std::nearbyint(xr[j] * inv);
      t = std::min(std::max(t, lo), hi);
      qr[j] = static_cast<std::int8_t>(static_cast<int>(t) + (asym ? params.zero_point - 128 : 0));
    }
    for (std::int64_t j = k; j < kp; ++j) qr[j] = static_cast<std::int8_t>(zero);
    scale[r] = sc;
    if (gsum) {
      for (std::int64_t g = 0; g < kp / group; ++g) {
        std::int32_t s = 0;
        for (std::int64_t j = g * group; j < (g + 1) * group; ++j) s += qr[j];
        gsum[r * gsum_stride + g] = static_cast<float>(s);
      }
    }
    if (rsum) {
      std::int64_t s = 0;
      for (std::int64_t j = 0; j < kp; ++j) s += qr[j];
      rsum[r] = s;
    }
  }
}

void int_gemm_ref(const QActs& a, const QWeights& w, std::int64_t m0, std::int64_t m1,
                  std::int64_t n0, std::int64_t n1, const QOut& out) {
  const auto format = static_cast<QuantFormat>(w.format);
  const FormatTraits& t = format_traits(format);
  const Layout l = layout_of(format);
  const std::int64_t kp = w.padded_cols;
  const std::int64_t o = t.code_offset;
  const std::int64_t za = a.zero;
  thread_local std::vector<std::int32_t> codes;
  if (codes.size() < static_cast<std::size_t>(kp)) codes.resize(static_cast<std::size_t>(kp));
  for (std::int64_t n = n0; n < n1; ++n) {
    const std::uint8_t* row = w.data + n * w.row_stride;
    for (std::int64_t k = 0; k < kp; ++k) codes[k] = get_code(l, row, k);
    const float bias = out.bias ? out.bias[n] : 0.0f;
    for (std::int64_t m = m0; m < m1; ++m) {
      const std::int8_t* q = a.q + m * a.q_stride;
      float y;
      if (t.scale_kind == ScaleKind::kF32PerRow) {
        std::int64_t d = 0;
        for (std::int64_t k = 0; k < kp; ++k) d += static_cast<std::int64_t>(codes[k]) * q[k];
        const std::int64_t e = d - o * a.rsum[m] - za * w.code_sum[n] + o * za * kp;
        y = static_cast<float>(e) * (a.scale[m] * w.row_scale[n]) + bias;
      } else {
        float acc = 0.0f;
        const float* gs = a.gsum + m * a.gsum_stride;
        for (std::int64_t g = 0; g < w.blocks_per_row; ++g) {
          const std::uint8_t* blk = row + g * l.block_bytes;
          const float d = load_half(blk);
          const float mn = t.symmetric ? 0.0f : load_half(blk + 2);
          std::int32_t dot = 0;
          for (std::int64_t k = g * l.chunk; k < (g + 1) * l.chunk; ++k) dot += codes[k] * q[k];
          // sum (c - o) a exactly, then the min term.
          dot -= static_cast<std::int32_t>(o) * static_cast<std::int32_t>(gs[g]);
          acc += d * static_cast<float>(dot);
          acc += mn * gs[g];
        }
        y = a.scale[m] * (acc + static_cast<float>(za) * w.row_corr[n]) + bias;
      }
      out.y[m * out.y_stride + n] = y;
    }
  }
}

void half_gemm_ref(const float* x, std::int64_t x_stride, const QWeights& w, std::int64_t m0,
                   std::int64_t m1, std::int64_t n0, std::int64_t n1, const QOut& out) {
  const bool bf16 = w.format == kFmtBF16;
  thread_local std::vector<float> wf;
  if (wf.size() < static_cast<std::size_t>(w.cols)) wf.resize(static_cast<std::size_t>(w.cols));
  for (std::int64_t n = n0; n < n1; ++n) {
    const std::uint8_t* row = w.data + n * w.row_stride;
    for (std::int64_t k = 0; k < w.cols; ++k) {
      std::uint16_t h;
      std::memcpy(&h, row + 2 * k, 2);
      wf[k] = bf16 ? bfloat16_to_float(h) : half_to_float(h);
    }
    const float bias = out.bias ? out.bias[n] : 0.0f;
    for (std::int64_t m = m0; m < m1; ++m) {
      const float* xr = x + m * x_stride;
      float acc = 0.0f;
      for (std::int64_t k = 0; k < w.cols; ++k) acc += xr[k] * wf[k];
      out.y[m * out.y_stride + n] = acc + bias;
    }
  }
}

}  // namespace

const KernelTable kKernelsRef = {"scalar", quantize_acts_ref, int_gemm_ref, half_gemm_ref};

}  // namespace detail
}  // namespace elmq
