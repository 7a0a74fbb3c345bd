#include "quant/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "quant/aligned_buffer.h"
#include "quant/detail/kernels.h"
#include "quant/detail/tensor_access.h"

namespace elmq {

float* detail::scratch_floats(std::int64_t n) {
  thread_local AlignedVector<float> buffer;
  if (buffer.size() < static_cast<std::size_t>(n)) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

std::uint8_t* detail::scratch_bytes(std::int64_t n) {
  thread_local AlignedVector<std::uint8_t> buffer;
  if (buffer.size() < static_cast<std::size_t>(n)) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

void ActivationQuant::validate() const {
  ELMQ_CHECK_ARG(mode == Mode::kDynamic || mode == Mode::kStatic || mode == Mode::kStaticAsymmetric,
                 "ActivationQuant: mode must be kDynamic (0), kStatic (1) or kStaticAsymmetric "
                 "(2), got ",
                 static_cast<std::uint32_t>(mode));
  if (mode != Mode::kDynamic) {
    ELMQ_CHECK_ARG(std::isfinite(scale) && scale > 0.0f && std::isfinite(1.0f / scale),
                   "ActivationQuant: scale must be finite and > 0 (with 1/scale finite), got ",
                   scale);
  }
  if (mode == Mode::kStaticAsymmetric) {
    ELMQ_CHECK_ARG(zero_point >= 0 && zero_point <= 255,
                   "ActivationQuant: zero_point must be in [0, 255], got ", zero_point);
  }
}

ActivationQuant ActivationQuant::calibrated(float lo, float hi, bool asymmetric) {
  ELMQ_CHECK_ARG(std::isfinite(lo) && std::isfinite(hi) && lo <= hi,
                 "ActivationQuant::calibrated: need finite lo <= hi, got lo=", lo, ", hi=", hi);
  ActivationQuant a;
  if (!asymmetric) {
    a.mode = Mode::kStatic;
    const float amax = std::max(std::fabs(lo), std::fabs(hi));
    a.scale = amax > 0.0f ? amax / 127.0f : 1.0f;
  } else {
    a.mode = Mode::kStaticAsymmetric;
    const double l = std::min(0.0f, lo), h = std::max(0.0f, hi);
    a.scale = h > l ? static_cast<float>((h - l) / 255.0) : 1.0f;
    a.zero_point = static_cast<int>(std::min(255.0, std::max(0.0, std::nearbyint(-l / a.scale))));
  }
  if (!(a.scale > 0.0f && std::isfinite(1.0f / a.scale))) a.scale = 1.0f;
  return a;
}

void QGemmOptions::validate() const {
  ELMQ_CHECK_ARG(path == KernelPath::kAuto || path == KernelPath::kScalar ||
                     path == KernelPath::kAvx2 || path == KernelPath::kAvxVnni ||
                     path == KernelPath::kAvx512Vnni || path == KernelPath::kAvx512Bf16,
                 "QGemmOptions: path must be kAuto, kScalar, kAvx2, kAvxVnni, kAvx512Vnni or "
                 "kAvx512Bf16, got ",
                 static_cast<std::uint32_t>(path));
  ELMQ_CHECK_ARG(threads >= 0, "QGemmOptions: threads must be >= 0 (0 = all), got ", threads);
  activations.validate();
}

namespace {

using detail::KernelTable;

const KernelTable& kernel_table(KernelPath requested) {
  KernelPath p = requested;
  if (p == KernelPath::kAuto) {
    p = active_kernel_path();
  } else {
    ELMQ_CHECK_ARG(kernel_path_supported(p), "qgemm: kernel path '", kernel_path_name(p),
                   "' is not supported by this CPU or build (best: ",
                   kernel_path_name(best_kernel_path()), ")");
  }
#if defined(__x86_64__) || defined(_M_X64)
  if (p == KernelPath::kAvx2) return detail::kKernelsAvx2;
  if (p == KernelPath::kAvxVnni) return detail::kKernelsAvxVnni;
  if (p == KernelPath::kAvx512Vnni) return detail::kKernelsAvx512Vnni;
  if (p == KernelPath::kAvx512Bf16) return detail::kKernelsAvx512Bf16;
#endif
  return detail::kKernelsRef;
}

// Per-call working memory of the integer path.
struct Scratch {
  AlignedVector<std::int8_t> q;
  std::vector<float> scale;
  std::vector<float> gsum;
  std::vector<std::int64_t> rsum;
  void reserve(std::size_t nq, std::size_t rows, std::size_t ngsum) {
    if (q.size() < nq) q.resize(nq);
    if (scale.size() < rows) scale.resize(rows);
    if (gsum.size() < ngsum) gsum.resize(ngsum);
    if (rsum.size() < rows) rsum.resize(rows);
  }
};

constexpr std::size_t kMaxCachedScratch = 8u << 20;
// Bytes of weights / activations per task block (about a quarter of L2).
constexpr Index kBlockBytes = 128 << 10;

void check_args(const char* where, const ConstMatrixRef& x, const QuantizedTensor& w, MatrixRef y) {
  ELMQ_CHECK_ARG(x.cols() == w.cols(), where, ": x has ", x.cols(), " columns, w has ", w.cols());
  ELMQ_CHECK_ARG(y.rows() == x.rows() && y.cols() == w.rows(), where, ": y is ", y.rows(), " x ",
                 y.cols(), ", expected ", x.rows(), " x ", w.rows());
  check_finite(x, where, "x");
}

void fill_bias(MatrixRef y, const float* bias) {
  for (Index i = 0; i < y.rows(); ++i) {
    for (Index j = 0; j < y.cols(); ++j) y(i, j) = bias ? bias[j] : 0.0f;
  }
}

// Y = X W^T + b with float W (N x K, row-major, contiguous), by Eigen. The
// split into blocks depends only on the shape, so the result does not depend
// on the thread count.
void float_product(const ConstMatrixRef& x, const float* wdata, Index n, const float* bias,
                   MatrixRef y, int threads) {
  const Index m = x.rows(), k = x.cols();
  const Eigen::Map<const RowMatrixXf> wm(wdata, n, k);
  auto block = [&](Index m0, Index m1, Index n0, Index n1) {
    y.block(m0, n0, m1 - m0, n1 - n0).noalias() =
        x.middleRows(m0, m1 - m0) * wm.middleRows(n0, n1 - n0).transpose();
    if (bias) {
      for (Index i = m0; i < m1; ++i)
        for (Index j = n0; j < n1; ++j) y(i, j) += bias[j];
    }
  };
  constexpr Index kRows = 256, kCols = 256;
  const bool by_rows = m >= 2 * kRows;
  const Index len = by_rows ? m : n, grain = by_rows ? kRows : kCols;
  auto range = [&](std::int64_t b, std::int64_t e) {
    if (by_rows) {
      block(b, e, 0, n);
    } else {
      block(0, m, b, e);
    }
  };
  if (!by_rows && n < 2 * kCols) {
    block(0, m, 0, n);
  } else if (threads <= 1) {
    for (Index b = 0; b < len; b += grain) range(b, std::min(len, b + grain));
  } else {
    parallel_for_range(len, grain, threads, range);
  }
}

// Splits Y into (row block x column block) tasks.
struct Tiling {
  Index mb, nb, mblocks, nblocks;
};

Tiling make_tiling(Index m, Index n, Index act_row_bytes, Index w_row_bytes, int threads) {
  Tiling t;
  t.nb = std::clamp<Index>(kBlockBytes / std::max<Index>(w_row_bytes, 1), 8, 512);
  // Enough column blocks to keep every thread busy when the batch is small.
  if (threads > 1 && m < 64) {
    t.nb = std::min<Index>(t.nb, (n + 4 * threads - 1) / (4 * threads));
  }
  t.nb = std::max<Index>(4, (t.nb + 3) / 4 * 4);
  t.mb = m <= 16 ? std::max<Index>(m, 1)
                 : std::clamp<Index>(kBlockBytes / std::max<Index>(act_row_bytes, 1), 16, 512);
  t.mb = (t.mb + 1) / 2 * 2;
  t.mblocks = (m + t.mb - 1) / t.mb;
  t.nblocks = (n + t.nb - 1) / t.nb;
  return t;
}

template <class Fn>
void run_tiles(const Tiling& t, Index m, Index n, int threads, const Fn& fn) {
  const std::int64_t tasks = t.mblocks * t.nblocks;
  auto task = [&t, &fn, m, n](std::int64_t i) {
    const Index mi = i / t.nblocks, ni = i % t.nblocks;
    fn(mi * t.mb, std::min(m, (mi + 1) * t.mb), ni * t.nb, std::min(n, (ni + 1) * t.nb));
  };
  if (threads <= 1 || tasks <= 1) {
    for (std::int64_t i = 0; i < tasks; ++i) task(i);
  } else {
    parallel_for(tasks, threads, task);
  }
}

void integer_product(const ConstMatrixRef& x, const QuantizedTensor& w, const float* bias,
                     MatrixRef y, const QGemmOptions& opt, const KernelTable& kt, int threads) {
  const FormatTraits& tr = w.traits();
  const detail::QWeights wv = detail::QuantizedTensorAccess::view(w);
  const Index m = x.rows(), n = w.rows(), k = x.cols(), kp = w.padded_cols();
  const bool grouped = tr.scale_kind == ScaleKind::kF16PerGroup;
  const Index group = grouped ? tr.group : kp;
  const Index groups = grouped ? kp / group : 0;

  detail::ActQuantParams params{};
  params.mode = static_cast<int>(opt.activations.mode);
  params.scale = opt.activations.scale;
  params.inv = 1.0f / opt.activations.scale;
  params.zero_point = opt.activations.zero_point;

  thread_local Scratch cached;
  Scratch local;
  const std::size_t nq = static_cast<std::size_t>(m) * static_cast<std::size_t>(kp);
  const std::size_t scratch_bytes = nq + 4 * static_cast<std::size_t>(m * groups) + 12 * m;
  Scratch& s = scratch_bytes <= kMaxCachedScratch ? cached : local;
  s.reserve(nq, static_cast<std::size_t>(m), static_cast<std::size_t>(m * groups));

  std::int8_t* q = s.q.data();
  float* scale = s.scale.data();
  float* gsum = grouped ? s.gsum.data() : nullptr;
  std::int64_t* rsum = grouped ? nullptr : s.rsum.data();
  auto quantize_rows = [&](std::int64_t b, std::int64_t e) {
    kt.quantize_acts(x.data() + b * x.outerStride(), x.outerStride(), e - b, k, kp, group, params,
                     q + b * kp, kp, scale + b, gsum ? gsum + b * groups : nullptr, groups,
                     rsum ? rsum + b : nullptr);
  };
  if (threads <= 1 || m < 128) {
    quantize_rows(0, m);
  } else {
    parallel_for_range(m, 64, threads, quantize_rows);
  }

  detail::QActs acts{};
  acts.q = q;
  acts.q_stride = kp;
  acts.scale = scale;
  acts.gsum = gsum;
  acts.gsum_stride = groups;
  acts.rsum = rsum;
  acts.zero = opt.activations.mode == ActivationQuant::Mode::kStaticAsymmetric
                  ? opt.activations.zero_point - 128
                  : 0;
  const detail::QOut out{y.data(), y.outerStride(), bias};
  const Tiling t = make_tiling(m, n, kp, wv.row_stride, threads);
  run_tiles(t, m, n, threads, [&](Index m0, Index m1, Index n0, Index n1) {
    kt.int_gemm(acts, wv, m0, m1, n0, n1, out);
  });
}

// x rounded to bf16 values (nearest, ties to even), as float: the bf16
// format's activations on every path. Integer arithmetic on the bits, which
// the compiler vectorizes; |x| from the midpoint above the largest bf16
// (about 3.3961e38) up becomes +-Inf.
void round_rows_to_bf16(const ConstMatrixRef& x, Index r0, Index r1, float* dst) {
  const Index k = x.cols();
  for (Index i = r0; i < r1; ++i) {
    const float* src = x.data() + i * x.outerStride();
    float* d = dst + i * k;
    for (Index j = 0; j < k; ++j) {
      std::uint32_t b;
      std::memcpy(&b, src + j, 4);
      b = (b + 0x7FFFu + ((b >> 16) & 1u)) & 0xFFFF0000u;
      std::memcpy(d + j, &b, 4);
    }
  }
}

void half_product(const ConstMatrixRef& x, const QuantizedTensor& w, const float* bias, MatrixRef y,
                  const KernelTable& kt, int threads) {
  const detail::QWeights wv = detail::QuantizedTensorAccess::view(w);
  const Index m = x.rows(), n = w.rows(), k = x.cols();
  const float* xd = x.data();
  Index x_stride = x.outerStride();
  thread_local AlignedVector<float> cached;
  AlignedVector<float> local;
  if (w.format() == QuantFormat::kBF16) {
    const std::size_t count = static_cast<std::size_t>(m) * static_cast<std::size_t>(k);
    AlignedVector<float>& buf = 4 * count <= kMaxCachedScratch ? cached : local;
    if (buf.size() < count) buf.resize(count);
    float* rounded = buf.data();
    if (threads <= 1 || m < 128) {
      round_rows_to_bf16(x, 0, m, rounded);
    } else {
      parallel_for_range(m, 64, threads, [&](std::int64_t b, std::int64_t e) {
        round_rows_to_bf16(x, b, e, rounded);
      });
    }
    xd = rounded;
    x_stride = k;
  }
  const detail::QOut out{y.data(), y.outerStride(), bias};
  const Tiling t = make_tiling(m, n, 4 * k, wv.row_stride, threads);
  run_tiles(t, m, n, threads, [&](Index m0, Index m1, Index n0, Index n1) {
    kt.half_gemm(xd, x_stride, wv, m0, m1, n0, n1, out);
  });
}

}  // namespace

void qgemm(const ConstMatrixRef& x, const QuantizedTensor& w, const float* bias, MatrixRef y,
           const QGemmOptions& opt) {
  opt.validate();
  check_args("qgemm", x, w, y);
  const KernelTable& kt = kernel_table(opt.path);
  const int threads = resolve_threads(opt.threads);
  if (x.rows() == 0 || w.rows() == 0) return;
  if (x.cols() == 0) {
    fill_bias(y, bias);
    return;
  }
  switch (w.format()) {
    case QuantFormat::kF32:
      float_product(x, reinterpret_cast<const float*>(w.block_data()), w.rows(), bias, y, threads);
      return;
    case QuantFormat::kF16:
    case QuantFormat::kBF16:
      half_product(x, w, bias, y, kt, threads);
      return;
    default:
      integer_product(x, w, bias, y, opt, kt, threads);
      return;
  }
}

RowMatrixXf qgemm(const ConstMatrixRef& x, const QuantizedTensor& w, const float* bias,
                  const QGemmOptions& opt) {
  RowMatrixXf y(x.rows(), w.rows());
  qgemm(x, w, bias, y, opt);
  return y;
}

void qgemm_dequantized(const ConstMatrixRef& x, const QuantizedTensor& w, const float* bias,
                       MatrixRef y, int threads) {
  check_args("qgemm_dequantized", x, w, y);
  const int nthreads = resolve_threads(threads);
  if (x.rows() == 0 || w.rows() == 0) return;
  if (x.cols() == 0) {
    fill_bias(y, bias);
    return;
  }
  const RowMatrixXf wf = w.dequantize();
  float_product(x, wf.data(), wf.rows(), bias, y, nthreads);
}

}  // namespace elmq
