// Private (quant/detail): the per-channel integer product by vpdpbusd, shared
// by kernels_avxvnni.cpp (YMM) and kernels_avx512vnni.cpp (ZMM).
//
// Included only by those two files, each compiled with its own instruction
// set: everything here lives in an anonymous namespace (one copy per file, so
// the linker can never pick one file's copy for the other) and uses only
// intrinsics the including file's flags allow, through its vector policy V.
//
// Arithmetic (exact): vpdpbusd multiplies unsigned by signed bytes and adds
// groups of four into int32 lanes. For a format D:
//  - INT8 (D::kActBias = 128): the signed activation codes a in [-128, 127]
//    are flipped to unsigned (a ^ 0x80 = a + 128) and the weights are the
//    signed operand; the stored code sum removes 128 * sum w;
//  - unsigned codes c with an offset o (w = c - o; INT4, ternary): the codes
//    are the unsigned operand and the activations the signed one.
// A lane gains at most 4 * 255 * 127 = 129,540 per instruction; V::kSuperSteps
// keeps the sum of an accumulator's lanes below 2^31 before it is folded into
// int64. The float epilogue is the reference kernels' expression:
//   e = dot - kActBias sum c - o sum a - za sum c + o za kp,
//   y = e * (scale_a * scale_w) + bias,
// so results equal the reference bit for bit.
//
// The vector policy V provides:
//   Reg; kStep (codes per instruction); kSuperSteps; kR x kC (batch tile) and
//   kC1 (single-row tile); Step step(k, k1) (what a step at k before k1 needs
//   to load, e.g. a tail mask); Reg zero(), acts(p, step), flip(v),
//   dpbusd(acc, u, s); i64 reduce(acc) (exact sum of the lanes).
// A format policy D provides kOffset, kActBias, kStepBytes (bytes of a row
// per step) and Reg weights(p, step).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "quant/detail/kernels.h"

namespace elmq {
namespace detail {
namespace {

// Single-row (memory-bound) tiles prefetch the next tile's weights, which
// follow the current rows in memory, at the pace they consume the current
// ones (as the AVX2 kernels do).
inline void vnni_prefetch_span(const std::uint8_t* p, std::int64_t bytes) {
  for (std::int64_t off = 0; off < bytes; off += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
  }
}

// Rows [m, m + R) of the activations times weight rows [n, n + C). The r/c
// loops are unrolled by pragma: without it GCC kept acc[][] in memory as
// well, a store after every vpdpbusd (1.2x slower at 10000 x 784 on ZMM).
template <class V, class D, int R, int C>
void vnni_tile(const QActs& a, const QWeights& w, std::int64_t m, std::int64_t n,
               const QOut& out) {
  using i64 = std::int64_t;
  using Reg = typename V::Reg;
  constexpr bool kFlip = D::kActBias != 0;
  constexpr i64 kSuper = V::kSuperSteps * V::kStep;
  const i64 kp = w.padded_cols;  // whole 32-code chunks
  const std::int8_t* ar[R];
  const std::uint8_t* wr[C];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) ar[r] = a.q + (m + r) * a.q_stride;
#pragma GCC unroll 16
  for (int c = 0; c < C; ++c) wr[c] = w.data + (n + c) * w.row_stride;
  const i64 last = w.rows - C;  // the last tile prefetches itself
  [[maybe_unused]] const std::uint8_t* next =
      w.data + (n + C < last ? n + C : last) * w.row_stride;
  i64 dot[R][C] = {};
  for (i64 k0 = 0; k0 < kp; k0 += kSuper) {
    const i64 k1 = kp - k0 < kSuper ? kp : k0 + kSuper;
    Reg acc[R][C];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) acc[r][c] = V::zero();
    for (i64 k = k0; k < k1; k += V::kStep) {
      const i64 off = k / V::kStep * D::kStepBytes;
      if constexpr (R == 1) vnni_prefetch_span(next + off * C, C * D::kStepBytes);
      const typename V::Step step = V::step(k, k1);
      Reg av[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        av[r] = V::acts(ar[r] + k, step);
        if constexpr (kFlip) av[r] = V::flip(av[r]);
      }
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) {
        const Reg wv = D::weights(wr[c] + off, step);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          acc[r][c] = kFlip ? V::dpbusd(acc[r][c], av[r], wv) : V::dpbusd(acc[r][c], wv, av[r]);
        }
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) dot[r][c] += V::reduce(acc[r][c]);
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
// activation rows of the task pass; V::kR x V::kC accumulators for batches,
// 1 x V::kC1 for single rows.
template <class V, class D>
void vnni_per_channel(const QActs& a, const QWeights& w, std::int64_t m0, std::int64_t m1,
                      std::int64_t n0, std::int64_t n1, const QOut& out) {
  using i64 = std::int64_t;
  constexpr int R = V::kR, C = V::kC, C1 = V::kC1;
  if (m1 - m0 < R) {
    for (i64 m = m0; m < m1; ++m) {
      i64 n = n0;
      for (; n + C1 <= n1; n += C1) vnni_tile<V, D, 1, C1>(a, w, m, n, out);
      for (; n < n1; ++n) vnni_tile<V, D, 1, 1>(a, w, m, n, out);
    }
    return;
  }
  i64 n = n0;
  for (; n + C <= n1; n += C) {
    i64 m = m0;
    for (; m + R <= m1; m += R) vnni_tile<V, D, R, C>(a, w, m, n, out);
    for (; m < m1; ++m) vnni_tile<V, D, 1, C>(a, w, m, n, out);
  }
  for (; n < n1; ++n) {
    i64 m = m0;
    for (; m + R <= m1; m += R) vnni_tile<V, D, R, 1>(a, w, m, n, out);
    for (; m < m1; ++m) vnni_tile<V, D, 1, 1>(a, w, m, n, out);
  }
}

// The integer product of a VNNI kernel table: INT8 per channel always; INT4
// per channel (D4) and ternary (D2) for batches of at least V::kR rows (their
// single rows are memory-bound and stay on the prefetching AVX2 kernels);
// every other format on the AVX2 kernels.
template <class V, class D8, class D4, class D2>
void vnni_int_gemm(const QActs& a, const QWeights& w, std::int64_t m0, std::int64_t m1,
                   std::int64_t n0, std::int64_t n1, const QOut& out) {
  if (w.format == kFmtInt8Channel) return vnni_per_channel<V, D8>(a, w, m0, m1, n0, n1, out);
  if (m1 - m0 >= V::kR) {
    if (w.format == kFmtInt4Channel) return vnni_per_channel<V, D4>(a, w, m0, m1, n0, n1, out);
    if (w.format == kFmtTernaryChannel) {
      return vnni_per_channel<V, D2>(a, w, m0, m1, n0, n1, out);
    }
  }
  kKernelsAvx2.int_gemm(a, w, m0, m1, n0, n1, out);
}

}  // namespace
}  // namespace detail
}  // namespace elmq
