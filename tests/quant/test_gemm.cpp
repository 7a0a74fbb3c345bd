#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "elm/common/errors.h"
#include "elm/common/rng.h"
#include "quant/cpu_features.h"
#include "quant/gemm.h"
#include "quant/half.h"
#include "quant_test_util.h"

// Counts heap allocations (replacing the global operator new for this test
// binary) to check that a warmed-up single-row product allocates nothing.
namespace {
std::atomic<long> g_allocations{0};
void* counted_alloc(std::size_t n, std::size_t align) {
  ++g_allocations;
  n = n == 0 ? 1 : n;
  void* p = align <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace elmq {
namespace {

std::vector<KernelPath> paths() {
  std::vector<KernelPath> p{KernelPath::kScalar};
  for (KernelPath k : {KernelPath::kAvx2, KernelPath::kAvxVnni, KernelPath::kAvx512Vnni,
                       KernelPath::kAvx512Bf16}) {
    if (kernel_path_supported(k)) p.push_back(k);
  }
  return p;
}

QGemmOptions opts(KernelPath p, ActivationQuant a = ActivationQuant(), int threads = 1) {
  QGemmOptions o;
  o.path = p;
  o.threads = threads;
  o.activations = a;
  return o;
}

ActivationQuant static_sym(float scale) {
  ActivationQuant a;
  a.mode = ActivationQuant::Mode::kStatic;
  a.scale = scale;
  return a;
}

ActivationQuant static_asym(float scale, int zp) {
  ActivationQuant a;
  a.mode = ActivationQuant::Mode::kStaticAsymmetric;
  a.scale = scale;
  a.zero_point = zp;
  return a;
}

// Integer-valued weights: random codes, scales in {1, 2} (1 for 8-bit codes so
// sums stay below 2^24), integer mins. Every float operation of every path is
// then exact, so each path must return the exact product.
QuantizedTensor integer_weights(QuantFormat f, Index n, Index k, std::uint64_t seed) {
  const FormatTraits& t = format_traits(f);
  Rng rng(seed);
  CodeMatrix c(n, k);
  for (Index i = 0; i < c.size(); ++i) {
    c.data()[i] =
        static_cast<std::int8_t>(t.qmin + static_cast<int>(rng.below(t.qmax - t.qmin + 1)));
  }
  const Index g = format_groups_per_row(f, k);
  RowMatrixXf s(n, g), m;
  for (Index i = 0; i < s.size(); ++i) {
    s.data()[i] = t.code_bits == 8 ? 1.0f : static_cast<float>(1 + rng.below(2));
  }
  if (!t.symmetric) {
    m.resize(n, g);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.below(17)) - 8.0f;
  }
  return QuantizedTensor::from_codes(f, c, s, m);
}

// y = x w^T + b in double from the dequantized weights (exact for integer data).
// x rounded to bf16 values (the bf16 format's activations, quant/gemm.h).
RowMatrixXf bf16_rounded(const RowMatrixXf& x) {
  return x.unaryExpr([](float v) { return bfloat16_to_float(float_to_bfloat16(v)); });
}

// The product qgemm approximates, in double: bf16 weights see bf16 activations.
RowMatrixXd exact_product(const RowMatrixXf& x, const QuantizedTensor& w, const VectorXf& b) {
  const RowMatrixXd wd = w.dequantize().cast<double>();
  const RowMatrixXf xr = w.format() == QuantFormat::kBF16 ? bf16_rounded(x) : x;
  RowMatrixXd y = xr.cast<double>() * wd.transpose();
  for (Index i = 0; i < y.rows(); ++i) y.row(i) += b.cast<double>().transpose();
  return y;
}

class IntFormat : public ::testing::TestWithParam<QuantFormat> {};
INSTANTIATE_TEST_SUITE_P(Quant, IntFormat, ::testing::ValuesIn(test::integer_formats()),
                         [](const auto& info) { return test::format_param_name(info.param); });

// K = 223 and 413 leave last chunks of 7 and 5 groups of 32 (4 and 7 of 64),
// which the split single-row kernels assemble group by group; K = 1500 gives
// ternary single rows a full int16 flush of 8 quads, a partial one and a tail.
TEST_P(IntFormat, EveryPathIsExactOnIntegerData) {
  const QuantFormat f = GetParam();
  for (Index k : {1, 31, 33, 127, 223, 413, 791, 1500}) {
    for (Index n : {1, 5, 13}) {
      const QuantizedTensor w = integer_weights(f, n, k, 1000 + 7 * k + n);
      const VectorXf bias = test::uniform_int_matrix(1, n, -50, 50, 3 * k + n).row(0).transpose();
      for (Index batch : {1, 3, 17}) {
        // Symmetric static activations with scale 1: codes equal x.
        const RowMatrixXf xs = test::uniform_int_matrix(batch, k, -127, 127, 5 * k + batch);
        const RowMatrixXd ys = exact_product(xs, w, bias);
        // Asymmetric (uint8 with zero point 100): x in [-100, 155].
        const RowMatrixXf xa = test::uniform_int_matrix(batch, k, -100, 155, 6 * k + batch);
        const RowMatrixXd ya = exact_product(xa, w, bias);
        for (KernelPath p : paths()) {
          const RowMatrixXf y1 = qgemm(xs, w, bias.data(), opts(p, static_sym(1.0f)));
          const RowMatrixXf y2 = qgemm(xa, w, bias.data(), opts(p, static_asym(1.0f, 100)));
          for (Index i = 0; i < batch; ++i) {
            for (Index j = 0; j < n; ++j) {
              ASSERT_EQ(y1(i, j), static_cast<float>(ys(i, j)))
                  << format_name(f) << " " << kernel_path_name(p) << " sym k=" << k << " n=" << n
                  << " batch=" << batch << " (" << i << "," << j << ")";
              ASSERT_EQ(y2(i, j), static_cast<float>(ya(i, j)))
                  << format_name(f) << " " << kernel_path_name(p) << " asym k=" << k << " n=" << n
                  << " batch=" << batch << " (" << i << "," << j << ")";
            }
          }
        }
      }
    }
  }
}

TEST_P(IntFormat, PathsAgreeOnRandomData) {
  const QuantFormat f = GetParam();
  const FormatTraits& t = format_traits(f);
  const bool per_channel = t.scale_kind == ScaleKind::kF32PerRow;
  for (Index k : {33, 300, 797}) {
    const RowMatrixXf wf = test::normal_matrix(11, k, 40 + k);
    const QuantizedTensor w = QuantizedTensor::quantize(wf, f);
    const RowMatrixXf wd = w.dequantize();
    const VectorXf bias = test::normal_matrix(1, 11, 41).row(0).transpose();
    const RowMatrixXf x = test::normal_matrix(9, k, 42 + k);
    const RowMatrixXf bound = x.cwiseAbs() * wd.cwiseAbs().transpose();
    for (const ActivationQuant& a :
         {ActivationQuant(), static_sym(0.03f), static_asym(0.025f, 120)}) {
      const RowMatrixXf ref = qgemm(x, w, bias.data(), opts(KernelPath::kScalar, a));
      for (KernelPath p : paths()) {
        const RowMatrixXf y = qgemm(x, w, bias.data(), opts(p, a));
        for (Index i = 0; i < y.rows(); ++i) {
          for (Index j = 0; j < y.cols(); ++j) {
            if (per_channel) {
              ASSERT_EQ(y(i, j), ref(i, j)) << format_name(f) << " " << kernel_path_name(p);
            } else {
              ASSERT_NEAR(y(i, j), ref(i, j), 1e-4 * bound(i, j) + 1e-6)
                  << format_name(f) << " " << kernel_path_name(p);
            }
          }
        }
      }
    }
  }
}

// Dynamic activation quantization moves each x by at most s / 2 (s = max|x| / 127),
// so y moves by at most s / 2 * sum_k |w_k| from the float-activation product.
TEST_P(IntFormat, ActivationErrorWithinHalfAStep) {
  const QuantFormat f = GetParam();
  const RowMatrixXf wf = test::normal_matrix(13, 401, 50);
  const QuantizedTensor w = QuantizedTensor::quantize(wf, f);
  const RowMatrixXf wd = w.dequantize();
  const RowMatrixXf x = test::normal_matrix(6, 401, 51);
  RowMatrixXf y_ref(6, 13);
  qgemm_dequantized(x, w, nullptr, y_ref, 1);
  const VectorXf w_l1 = wd.cwiseAbs().rowwise().sum();
  const RowMatrixXf bound = x.cwiseAbs() * wd.cwiseAbs().transpose();
  for (KernelPath p : paths()) {
    const RowMatrixXf y = qgemm(x, w, nullptr, opts(p));
    for (Index i = 0; i < 6; ++i) {
      const double s = x.row(i).cwiseAbs().maxCoeff() / 127.0;
      for (Index j = 0; j < 13; ++j) {
        ASSERT_LE(std::fabs(y(i, j) - y_ref(i, j)), 0.5 * s * w_l1[j] + 1e-5 * bound(i, j))
            << format_name(f) << " " << kernel_path_name(p);
      }
    }
  }
}

class AnyFormat : public ::testing::TestWithParam<QuantFormat> {};
INSTANTIATE_TEST_SUITE_P(Quant, AnyFormat, ::testing::ValuesIn(all_formats()),
                         [](const auto& info) { return test::format_param_name(info.param); });

// K = 1100 gives grouped formats full chunks of 8 groups and a tail (the
// single-row kernels read them differently).
TEST_P(AnyFormat, BatchThreadsAndBlockingDoNotChangeResults) {
  const QuantFormat f = GetParam();
  for (Index k : {257, 1100}) {
    SCOPED_TRACE("k = " + std::to_string(k));
    const RowMatrixXf wf = test::normal_matrix(301, k, 60);
    const QuantizedTensor w = QuantizedTensor::quantize(wf, f);
    const VectorXf bias = test::normal_matrix(1, 301, 61).row(0).transpose();
    const RowMatrixXf x = test::normal_matrix(70, k, 62);
    for (KernelPath p : paths()) {
      const RowMatrixXf y1 = qgemm(x, w, bias.data(), opts(p, ActivationQuant(), 1));
      const RowMatrixXf y2 = qgemm(x, w, bias.data(), opts(p, ActivationQuant(), 2));
      const RowMatrixXf y3 = qgemm(x, w, bias.data(), opts(p, ActivationQuant(), 5));
      EXPECT_EQ(y1, y2) << format_name(f) << " " << kernel_path_name(p);
      EXPECT_EQ(y1, y3) << format_name(f) << " " << kernel_path_name(p);
      if (f == QuantFormat::kF32) continue;  // Eigen's own blocking depends on the shape
      for (Index i : {0, 1, 37, 69}) {
        const RowMatrixXf yi = qgemm(x.row(i), w, bias.data(), opts(p, ActivationQuant(), 1));
        EXPECT_EQ(yi.row(0), y1.row(i))
            << format_name(f) << " " << kernel_path_name(p) << " row " << i;
      }
      // Output written into a strided block of a larger matrix.
      RowMatrixXf big = RowMatrixXf::Constant(80, 320, -7.0f);
      qgemm(x, w, bias.data(), big.block(3, 5, 70, 301), opts(p));
      EXPECT_EQ(RowMatrixXf(big.block(3, 5, 70, 301)), y1);
      EXPECT_EQ(big(2, 5), -7.0f);
      EXPECT_EQ(big(3, 306), -7.0f);
    }
  }
}

// x as a block of a wider matrix whose other columns hold inf: kernels must
// not read (or multiply by zero) anything beyond each row's K columns.
TEST_P(AnyFormat, ReadsNothingBeyondTheRowsOfX) {
  const QuantFormat f = GetParam();
  for (Index k : {5, 13, 37}) {
    const QuantizedTensor w = QuantizedTensor::quantize(test::normal_matrix(9, k, 65), f);
    RowMatrixXf big = RowMatrixXf::Constant(6, k + 8, std::numeric_limits<float>::infinity());
    big.leftCols(k) = test::normal_matrix(6, k, 66);
    const RowMatrixXf compact = big.leftCols(k);
    for (KernelPath p : paths()) {
      const RowMatrixXf y = qgemm(big.leftCols(k), w, nullptr, opts(p));
      EXPECT_TRUE(y.allFinite()) << format_name(f) << " " << kernel_path_name(p);
      EXPECT_EQ(y, qgemm(compact, w, nullptr, opts(p))) << format_name(f);
    }
  }
}

TEST_P(AnyFormat, SingleRowProductAllocatesNothingOnceWarm) {
  const QuantFormat f = GetParam();
  const QuantizedTensor w = QuantizedTensor::quantize(test::normal_matrix(700, 300, 63), f);
  const RowMatrixXf x = test::normal_matrix(1, 300, 64);
  RowMatrixXf y(1, 700);
  const VectorXf bias = VectorXf::Ones(700);
  for (KernelPath p : paths()) {
    const QGemmOptions o = opts(p, ActivationQuant(), 1);
    qgemm(x, w, bias.data(), y, o);  // warm-up: per-thread buffers grow once
    const long before = g_allocations.load();
    for (int i = 0; i < 3; ++i) qgemm(x, w, bias.data(), y, o);
    EXPECT_EQ(g_allocations.load() - before, 0) << format_name(f) << " " << kernel_path_name(p);
  }
}

TEST(QGemm, FloatFormatsMatchTheirDequantizedProduct) {
  for (QuantFormat f : {QuantFormat::kF32, QuantFormat::kF16, QuantFormat::kBF16}) {
    for (Index k : {1, 7, 8, 9, 31, 333}) {
      const RowMatrixXf wf = test::normal_matrix(10, k, 70 + k);
      const QuantizedTensor w = QuantizedTensor::quantize(wf, f);
      const RowMatrixXf x = test::normal_matrix(6, k, 71 + k);
      const VectorXf bias = test::normal_matrix(1, 10, 72).row(0).transpose();
      const RowMatrixXd exact = exact_product(x, w, bias);
      const RowMatrixXf bound = x.cwiseAbs() * w.dequantize().cwiseAbs().transpose();
      for (KernelPath p : paths()) {
        const RowMatrixXf y = qgemm(x, w, bias.data(), opts(p));
        for (Index i = 0; i < y.rows(); ++i)
          for (Index j = 0; j < y.cols(); ++j)
            ASSERT_NEAR(y(i, j), exact(i, j), 1e-5 * (bound(i, j) + 1.0))
                << format_name(f) << " " << kernel_path_name(p) << " k=" << k;
      }
      // Integer data: exact on every path.
      if (f == QuantFormat::kF32) continue;
      const RowMatrixXf wi = test::uniform_int_matrix(10, k, -100, 100, 73 + k);
      const QuantizedTensor wq = QuantizedTensor::quantize(wi, f);
      const RowMatrixXf xi = test::uniform_int_matrix(6, k, -100, 100, 74 + k);
      const RowMatrixXd ex = exact_product(xi, wq, VectorXf::Zero(10));
      for (KernelPath p : paths()) {
        const RowMatrixXf y = qgemm(xi, wq, nullptr, opts(p));
        ASSERT_EQ(y, ex.cast<float>()) << format_name(f) << " " << kernel_path_name(p);
      }
    }
  }
}

// bf16 weights see activations rounded to bf16 (nearest, ties to even) on
// every path: exactly, since every product and (here) every sum is exact.
TEST(QGemm, Bf16RoundsActivationsToNearestEvenOnEveryPath) {
  // bf16 numbers near 1 are 2^-7 apart: 1 + 2^-8 is a tie (to 1), 1 + 3 * 2^-8
  // a tie to the even 1 + 2^-6, 1 + 2^-8 + 2^-12 rounds up to 1 + 2^-7.
  const float tie_down = 1.0f + 0x1p-8f, tie_up = 1.0f + 3 * 0x1p-8f,
              above = 1.0f + 0x1p-8f + 0x1p-12f;
  EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(tie_down)), 1.0f);
  EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(tie_up)), 1.0f + 0x1p-6f);
  EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(above)), 1.0f + 0x1p-7f);
  for (Index k : {1, 8, 31, 32, 33, 64, 95, 333}) {
    const QuantizedTensor w =
        QuantizedTensor::quantize(RowMatrixXf::Ones(11, k), QuantFormat::kBF16);
    RowMatrixXf x(6, k);
    x.row(0).setConstant(tie_down);
    x.row(1).setConstant(tie_up);
    x.row(2).setConstant(above);
    x.row(3).setConstant(-tie_up);
    for (Index j = 0; j < k; ++j) {
      x(4, j) = j % 2 ? tie_down : -above;
      x(5, j) = static_cast<float>(j % 7) + 1.0f + 0x1p-10f;  // rounds to the integer
    }
    const RowMatrixXd ex = exact_product(x, w, VectorXf::Zero(11));
    const double kd = static_cast<double>(k);
    EXPECT_EQ(ex(0, 0), kd);
    EXPECT_EQ(ex(1, 0), kd * (1 + 0x1p-6));
    for (KernelPath p : paths()) {
      const RowMatrixXf y = qgemm(x, w, nullptr, opts(p));
      ASSERT_EQ(y, ex.cast<float>()) << kernel_path_name(p) << " k=" << k;
      // One row at a time: the same bits as in the batch.
      for (Index i = 0; i < x.rows(); ++i)
        ASSERT_EQ(qgemm(x.row(i), w, nullptr, opts(p)).row(0), y.row(i)) << kernel_path_name(p);
    }
  }
  // A finite input from the midpoint above the largest bf16 (about 3.3961e38) rounds to infinity.
  const QuantizedTensor w1 = QuantizedTensor::quantize(RowMatrixXf::Ones(1, 3), QuantFormat::kBF16);
  RowMatrixXf big(1, 3);
  big << std::numeric_limits<float>::max(), 0.0f, 0.0f;
  for (KernelPath p : paths()) {
    EXPECT_EQ(qgemm(big, w1, nullptr, opts(p))(0, 0), std::numeric_limits<float>::infinity())
        << kernel_path_name(p);
  }
}

// Extreme codes: every int8 activation at +-127 (or -128 / 127 for uint8
// codes 0 / 255) against weights at +-127; K large enough that the int32
// lanes must be folded into int64 (1.2M columns).
TEST(QGemm, SaturationCasesAreExact) {
  for (QuantFormat f : {QuantFormat::kInt8Channel, QuantFormat::kQ8_0}) {
    const Index k = 1024;
    CodeMatrix c(2, k);
    c.row(0).setConstant(127);
    c.row(1).setConstant(-127);
    const Index g = format_groups_per_row(f, k);
    const QuantizedTensor w =
        QuantizedTensor::from_codes(f, c, RowMatrixXf::Ones(2, g), RowMatrixXf());
    RowMatrixXf x(2, k);
    x.row(0).setConstant(127.0f);
    x.row(1).setConstant(-127.0f);
    const float big = 127.0f * 127.0f * k;  // 16516096 < 2^24
    for (KernelPath p : paths()) {
      const RowMatrixXf y = qgemm(x, w, nullptr, opts(p, static_sym(1.0f)));
      EXPECT_EQ(y(0, 0), big);
      EXPECT_EQ(y(0, 1), -big);
      EXPECT_EQ(y(1, 0), -big);
      EXPECT_EQ(y(1, 1), big);
      // Dynamic: codes are exactly +-127 with s = 1.
      EXPECT_EQ(qgemm(x, w, nullptr, opts(p))(1, 1), big);
    }
    // uint8 codes 255 (a = 127) and 0 (a = -128, the only code beyond +-127).
    const Index k2 = 512;
    CodeMatrix c2(2, k2);
    c2.row(0).setConstant(127);
    c2.row(1).setConstant(-127);
    const QuantizedTensor w2 = QuantizedTensor::from_codes(
        f, c2, RowMatrixXf::Ones(2, format_groups_per_row(f, k2)), RowMatrixXf());
    RowMatrixXf x2(2, k2);
    x2.row(0).setConstant(255.0f);  // zero point 0: u = 255
    x2.row(1).setConstant(0.0f);    // u = 0
    for (KernelPath p : paths()) {
      const RowMatrixXf y = qgemm(x2, w2, nullptr, opts(p, static_asym(1.0f, 0)));
      EXPECT_EQ(y(0, 0), 127.0f * 255.0f * k2);
      EXPECT_EQ(y(0, 1), -127.0f * 255.0f * k2);
      EXPECT_EQ(y(1, 0), 0.0f);
      const RowMatrixXf z = qgemm(-x2, w2, nullptr, opts(p, static_asym(1.0f, 255)));
      EXPECT_EQ(z(0, 0), -127.0f * 255.0f * k2);  // u = 0 -> a = -128
      EXPECT_EQ(z(0, 1), 127.0f * 255.0f * k2);
    }
  }
  // Long rows: 1.2M columns of +-127 x -128 overflow int32 without the int64 fold.
  const Index k = 1200000;
  CodeMatrix c(1, k);
  c.setConstant(-127);
  const QuantizedTensor w = QuantizedTensor::from_codes(QuantFormat::kInt8Channel, c,
                                                        RowMatrixXf::Ones(1, 1), RowMatrixXf());
  const RowMatrixXf x = RowMatrixXf::Constant(1, k, -255.0f);  // zero point 255: u = 0, a = -128
  for (KernelPath p : paths()) {
    const RowMatrixXf y = qgemm(x, w, nullptr, opts(p, static_asym(1.0f, 255)));
    EXPECT_EQ(y(0, 0), static_cast<float>(127.0 * 255.0 * k)) << kernel_path_name(p);
  }
}

TEST(QGemm, EmptyAndDegenerateShapes) {
  const QuantizedTensor w =
      QuantizedTensor::quantize(test::normal_matrix(4, 10, 80), QuantFormat::kInt4G32Sym);
  const float bias[4] = {1, 2, 3, 4};
  EXPECT_EQ(qgemm(RowMatrixXf(0, 10), w, bias).rows(), 0);
  const QuantizedTensor w0 =
      QuantizedTensor::quantize(RowMatrixXf(4, 0), QuantFormat::kInt8Channel);
  const RowMatrixXf y0 = qgemm(RowMatrixXf(3, 0), w0, bias);
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 4; ++j) EXPECT_EQ(y0(i, j), bias[j]);
  const QuantizedTensor wn = QuantizedTensor::quantize(RowMatrixXf(0, 10), QuantFormat::kQ8_0);
  EXPECT_EQ(qgemm(test::normal_matrix(2, 10, 81), wn).cols(), 0);
  // A zero activation row gives exactly the bias.
  for (KernelPath p : paths()) {
    const RowMatrixXf y = qgemm(RowMatrixXf::Zero(2, 10), w, bias, opts(p));
    for (Index j = 0; j < 4; ++j) EXPECT_EQ(y(1, j), bias[j]);
  }
}

TEST(QGemm, RejectsBadArguments) {
  const QuantizedTensor w =
      QuantizedTensor::quantize(test::normal_matrix(4, 10, 90), QuantFormat::kInt8Channel);
  const RowMatrixXf x = test::normal_matrix(3, 10, 91);
  EXPECT_THROW(qgemm(test::normal_matrix(3, 11, 92), w), InvalidArgument);
  RowMatrixXf y(3, 5);
  EXPECT_THROW(qgemm(x, w, nullptr, y), InvalidArgument);
  RowMatrixXf xn = x;
  xn(2, 3) = std::numeric_limits<float>::infinity();
  EXPECT_THROW(qgemm(xn, w), InvalidArgument);
  QGemmOptions o;
  o.threads = -1;
  EXPECT_THROW(qgemm(x, w, nullptr, o), InvalidArgument);
  o = QGemmOptions();
  o.path = static_cast<KernelPath>(9);
  EXPECT_THROW(qgemm(x, w, nullptr, o), InvalidArgument);
  o = QGemmOptions();
  o.activations = static_sym(0.0f);
  EXPECT_THROW(qgemm(x, w, nullptr, o), InvalidArgument);
  o.activations = static_sym(1e-45f);  // 1 / scale overflows
  EXPECT_THROW(qgemm(x, w, nullptr, o), InvalidArgument);
  o.activations = static_asym(1.0f, 256);
  try {
    qgemm(x, w, nullptr, o);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("zero_point"), std::string::npos);
  }
  for (KernelPath p : {KernelPath::kAvx2, KernelPath::kAvxVnni, KernelPath::kAvx512Vnni,
                       KernelPath::kAvx512Bf16}) {
    if (!kernel_path_supported(p)) {
      EXPECT_THROW(qgemm(x, w, nullptr, opts(p)), InvalidArgument);
    }
  }
  RowMatrixXf yd(3, 3);
  EXPECT_THROW(qgemm_dequantized(x, w, nullptr, yd), InvalidArgument);
}

TEST(ActivationQuant, Calibrated) {
  const ActivationQuant s = ActivationQuant::calibrated(-2.0f, 1.0f, false);
  EXPECT_EQ(s.mode, ActivationQuant::Mode::kStatic);
  EXPECT_FLOAT_EQ(s.scale, 2.0f / 127.0f);
  const ActivationQuant a = ActivationQuant::calibrated(-1.0f, 3.0f, true);
  EXPECT_EQ(a.mode, ActivationQuant::Mode::kStaticAsymmetric);
  EXPECT_FLOAT_EQ(a.scale, 4.0f / 255.0f);
  EXPECT_EQ(a.zero_point, 64);                                              // nearbyint(63.75)
  const ActivationQuant r = ActivationQuant::calibrated(0.5f, 6.0f, true);  // after ReLU
  EXPECT_EQ(r.zero_point, 0);
  EXPECT_FLOAT_EQ(r.scale, 6.0f / 255.0f);
  EXPECT_EQ(ActivationQuant::calibrated(0.0f, 0.0f, false).scale, 1.0f);
  EXPECT_THROW(ActivationQuant::calibrated(1.0f, 0.0f, false), InvalidArgument);
  EXPECT_NO_THROW(a.validate());
  // Static activations inside the calibrated range: the product error is within half a step.
  const QuantizedTensor w =
      QuantizedTensor::quantize(test::normal_matrix(5, 64, 93), QuantFormat::kInt8Channel);
  RowMatrixXf x = (test::normal_matrix(4, 64, 94).array().abs() * 0.9f).cwiseMin(2.9f).matrix();
  RowMatrixXf y_ref(4, 5);
  qgemm_dequantized(x, w, nullptr, y_ref, 1);
  const VectorXf w_l1 = w.dequantize().cwiseAbs().rowwise().sum();
  for (KernelPath p : paths()) {
    const RowMatrixXf y = qgemm(x, w, nullptr, opts(p, a));
    for (Index i = 0; i < 4; ++i)
      for (Index j = 0; j < 5; ++j)
        EXPECT_LE(std::fabs(y(i, j) - y_ref(i, j)), 0.5 * a.scale * w_l1[j] * 1.001 + 1e-5);
  }
}

}  // namespace
}  // namespace elmq
