#include <gtest/gtest.h>

#include <Eigen/LU>
#include <cmath>
#include <cstdio>
#include <vector>

#include "elm/common/errors.h"
#include "elm/common/rng.h"
#include "quant/elm/gptq.h"

namespace elmq {
namespace {

RowMatrixXf normal(Index rows, Index cols, std::uint64_t seed, float sd = 1.0f) {
  Rng rng(seed);
  RowMatrixXf m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal()) * sd;
  return m;
}

// H = X^T X + ridge I with strongly correlated columns (a random mixing of a
// few latent factors plus noise), like the Gram matrix of ELM hidden units.
RowMatrixXd correlated_hessian(Index k, std::uint64_t seed, double ridge = 1e-2) {
  const Index n = 4 * k + 8, factors = std::max<Index>(2, k / 4);
  const RowMatrixXf z = normal(n, factors, seed);
  const RowMatrixXf mix = normal(factors, k, seed + 1);
  const RowMatrixXf noise = normal(n, k, seed + 2, 0.3f);
  const RowMatrixXd x = (z * mix + noise).cast<double>();
  RowMatrixXd h = x.transpose() * x / static_cast<double>(n);
  h.diagonal().array() += ridge;
  return h;
}

double row_loss(const std::vector<double>& delta, const RowMatrixXd& h) {
  const Index k = h.rows();
  double s = 0.0;
  for (Index i = 0; i < k; ++i) {
    double t = 0.0;
    for (Index j = 0; j < k; ++j) t += h(i, j) * delta[j];
    s += delta[i] * t;
  }
  return s;
}

// The smallest loss over every code vector of row r with the scales (and
// mins) of `q` held fixed.
double brute_force_optimum(const RowMatrixXf& w, Index r, const QuantizedTensor& q,
                           const RowMatrixXd& h) {
  const FormatTraits& tr = q.traits();
  const Index k = w.cols();
  const Index group = tr.group == 0 ? k : tr.group;
  const RowMatrixXf scales = q.scales(), mins = q.mins();
  std::vector<int> code(static_cast<std::size_t>(k), tr.qmin);
  std::vector<double> delta(static_cast<std::size_t>(k));
  double best = INFINITY;
  while (true) {
    for (Index j = 0; j < k; ++j) {
      const Index g = j / group;
      delta[j] =
          static_cast<double>(w(r, j)) - dequantize_value(tr, code[j], scales(r, g), mins(r, g));
    }
    best = std::min(best, row_loss(delta, h));
    Index j = 0;
    while (j < k && code[j] == tr.qmax) code[j++] = tr.qmin;
    if (j == k) break;
    ++code[j];
  }
  return best;
}

TEST(Gptq, InverseCholeskyUpperFactorsTheInverse) {
  const RowMatrixXd h = correlated_hessian(37, 1);
  const RowMatrixXd u = inverse_cholesky_upper(h, 2);
  for (Index i = 0; i < u.rows(); ++i) {
    for (Index j = 0; j < i; ++j) EXPECT_EQ(u(i, j), 0.0);
    EXPECT_GT(u(i, i), 0.0);
  }
  const RowMatrixXd should_be_identity = u.transpose() * u * h;
  EXPECT_LT((should_be_identity - RowMatrixXd::Identity(37, 37)).cwiseAbs().maxCoeff(), 1e-8);
  // The same for any thread count (column blocks are independent).
  EXPECT_EQ(inverse_cholesky_upper(h, 1), u);
  RowMatrixXd indefinite = RowMatrixXd::Identity(3, 3);
  indefinite(0, 1) = indefinite(1, 0) = 2.0;
  EXPECT_THROW(inverse_cholesky_upper(indefinite), NumericalError);
}

struct BruteCase {
  QuantFormat format;
  Index k;
};

// GPTQ against the exhaustive optimum on tiny rows with the scales fixed to
// RTN's (abs-max ranges, no Hessian weighting: both methods use the same
// scales, so only the codes differ).
TEST(Gptq, CloseToTheBruteForceOptimumAndNeverWorseThanRtn) {
  for (const BruteCase& c :
       {BruteCase{QuantFormat::kTernaryChannel, 9}, BruteCase{QuantFormat::kInt2G32Asym, 7},
        BruteCase{QuantFormat::kInt4Channel, 4}, BruteCase{QuantFormat::kInt3Channel, 5}}) {
    SCOPED_TRACE(format_name(c.format));
    GptqOptions opt;
    opt.range.method = RangeOptions::Method::kAbsMax;
    opt.hessian_weighted_range = false;
    opt.keep_better_rtn = false;
    opt.refit_scales = false;  // fixed scales: only the codes are compared
    double excess_gptq = 0.0, excess_rtn = 0.0, sum_opt = 0.0;
    int gptq_at_optimum = 0, rows = 0;
    for (std::uint64_t inst = 0; inst < 12; ++inst) {
      const RowMatrixXd h = correlated_hessian(c.k, 100 + inst);
      const RowMatrixXf w = normal(3, c.k, 200 + inst);
      const GptqResult pure = gptq_quantize(w, h, c.format, opt);
      GptqOptions safe = opt;
      safe.keep_better_rtn = true;
      const GptqResult kept = gptq_quantize(w, h, c.format, safe);
      const QuantizedTensor rtn = QuantizedTensor::quantize(w, c.format, opt.range);
      EXPECT_EQ(pure.tensor.scales(), rtn.scales());
      for (Index r = 0; r < w.rows(); ++r) {
        const double best = brute_force_optimum(w, r, rtn, h);
        EXPECT_LE(best, pure.loss[r] * (1 + 1e-9) + 1e-12);
        EXPECT_LE(kept.loss[r], kept.rtn_loss[r]);
        EXPECT_LE(kept.loss[r], pure.loss[r]);
        EXPECT_DOUBLE_EQ(kept.rtn_loss[r], pure.rtn_loss[r]);
        excess_gptq += pure.loss[r] - best;
        excess_rtn += pure.rtn_loss[r] - best;
        sum_opt += best;
        gptq_at_optimum += pure.loss[r] <= best * (1 + 1e-9) + 1e-12;
        ++rows;
      }
    }
    // GPTQ removes most of RTN's excess over the optimum (measured: about half
    // for int2, two thirds and more for ternary, int3 and int4) and hits the optimum on some rows.
    EXPECT_LT(excess_gptq, 0.5 * excess_rtn) << "optimum " << sum_opt << ", GPTQ excess "
                                             << excess_gptq << ", RTN excess " << excess_rtn;
    EXPECT_GE(gptq_at_optimum, 3) << "of " << rows;
  }
}

// On a realistic problem GPTQ's loss is far below RTN's, for every kind of
// format; with the safeguard every row is at most RTN's loss.
TEST(Gptq, ReducesTheLossOfEveryIntegerFormat) {
  const Index k = 160;
  const RowMatrixXd h = correlated_hessian(k, 7);
  const RowMatrixXf w = normal(6, k, 8, 0.2f);
  for (QuantFormat f :
       {QuantFormat::kInt8Channel, QuantFormat::kQ8_0, QuantFormat::kInt4G32Sym,
        QuantFormat::kInt4G128Sym, QuantFormat::kInt4G32Asym, QuantFormat::kInt4Channel,
        QuantFormat::kInt3Channel, QuantFormat::kInt2G32Asym, QuantFormat::kInt2G64Asym,
        QuantFormat::kTernaryChannel, QuantFormat::kTernaryBase3}) {
    for (bool act_order : {false, true}) {
      SCOPED_TRACE(std::string(format_name(f)) + (act_order ? " act-order" : ""));
      GptqOptions opt;
      opt.act_order = act_order;
      opt.block_size = 64;
      const GptqResult r = gptq_quantize(w, h, f, opt);
      ASSERT_EQ(r.tensor.rows(), w.rows());
      ASSERT_EQ(r.tensor.cols(), k);
      ASSERT_EQ(r.tensor.format(), f);
      // The reported loss is the loss of the returned tensor.
      const VectorXd actual = quadratic_loss(w, r.tensor.dequantize(), h);
      for (Index i = 0; i < w.rows(); ++i) {
        EXPECT_NEAR(actual[i], r.loss[i], 1e-9 * (1.0 + actual[i]));
        EXPECT_LE(r.loss[i], r.rtn_loss[i]);
      }
      EXPECT_LT(r.total_loss(), 0.7 * r.rtn_loss.sum());
    }
  }
}

TEST(Gptq, BlockSizeAndThreadsDoNotChangeTheResult) {
  const Index k = 96;
  const RowMatrixXd h = correlated_hessian(k, 11);
  const RowMatrixXf w = normal(4, k, 12);
  for (QuantFormat f : {QuantFormat::kInt4Channel, QuantFormat::kInt4G32Sym}) {
    GptqOptions a;
    a.block_size = 1;
    a.threads = 1;
    GptqOptions b;
    b.block_size = 128;
    b.threads = 2;
    const GptqResult ra = gptq_quantize(w, h, f, a), rb = gptq_quantize(w, h, f, b);
    // Lazy updates only regroup the same sums: same codes, losses to rounding.
    EXPECT_EQ(ra.tensor.codes(), rb.tensor.codes()) << format_name(f);
    EXPECT_LT((ra.gptq_loss - rb.gptq_loss).cwiseAbs().maxCoeff(), 1e-9 * rb.gptq_loss.sum());
    GptqOptions c = b;
    c.threads = 1;
    EXPECT_EQ(gptq_quantize(w, h, f, c).tensor.codes(), rb.tensor.codes());
  }
}

TEST(Gptq, GroupScalesComeFromTheUpdatedWeights) {
  // With per-group scales chosen at each group start, the second group's
  // scales differ from RTN's (computed on the original weights).
  const Index k = 64;
  const RowMatrixXd h = correlated_hessian(k, 21);
  const RowMatrixXf w = normal(5, k, 22);
  GptqOptions opt;
  opt.keep_better_rtn = false;
  opt.refit_scales = false;
  opt.hessian_weighted_range = false;
  opt.range.method = RangeOptions::Method::kAbsMax;
  const GptqResult r = gptq_quantize(w, h, QuantFormat::kInt4G32Sym, opt);
  const QuantizedTensor rtn = QuantizedTensor::quantize(w, QuantFormat::kInt4G32Sym, opt.range);
  EXPECT_EQ(r.tensor.scales().col(0), rtn.scales().col(0));  // first group: nothing fed back yet
  EXPECT_NE(r.tensor.scales().col(1), rtn.scales().col(1));
  // Static groups (act-order): every scale is RTN's.
  opt.act_order = true;
  EXPECT_EQ(gptq_quantize(w, h, QuantFormat::kInt4G32Sym, opt).tensor.scales(), rtn.scales());
}

// The Cholesky formulation against the original OBQ-style updates with an
// explicit inverse: after quantizing column j, the remaining weights move by
// -err_j / Hinv_jj * Hinv_{j,:} and Hinv loses row and column j (Schur complement).
TEST(Gptq, MatchesTheExplicitInverseUpdates) {
  const Index k = 12;
  const RowMatrixXd h = correlated_hessian(k, 51);
  const RowMatrixXf w = normal(3, k, 52);
  const QuantFormat f = QuantFormat::kInt4Channel;
  const FormatTraits& tr = format_traits(f);
  GptqOptions opt;
  opt.keep_better_rtn = false;
  opt.refit_scales = false;
  opt.hessian_weighted_range = false;
  opt.block_size = 5;
  opt.local_search_sweeps = 0;  // GPTQ's own codes
  const GptqResult r = gptq_quantize(w, h, f, opt);
  const QuantizedTensor rtn = QuantizedTensor::quantize(w, f, opt.range);
  const CodeMatrix got = r.tensor.codes();
  for (Index row = 0; row < w.rows(); ++row) {
    const float s = rtn.scales()(row, 0);
    Eigen::VectorXd x = w.row(row).transpose().cast<double>();
    RowMatrixXd hinv = h.inverse();
    for (Index j = 0; j < k; ++j) {
      const int q = quantize_value(tr, static_cast<float>(x[j]), s, 0.0f);
      EXPECT_EQ(q, got(row, j)) << "row " << row << " column " << j;
      const double err = (x[j] - dequantize_value(tr, q, s, 0.0f)) / hinv(j, j);
      for (Index t = j + 1; t < k; ++t) x[t] -= err * hinv(j, t);
      const Eigen::VectorXd col = hinv.col(j);
      hinv -= col * hinv.row(j) / hinv(j, j);
    }
  }
}

TEST(Gptq, ScaleRefitOnlyLowersTheLoss) {
  const Index k = 96;
  const RowMatrixXd h = correlated_hessian(k, 61);
  const RowMatrixXf w = normal(5, k, 62);
  for (QuantFormat f : {QuantFormat::kTernaryChannel, QuantFormat::kInt2G32Asym,
                        QuantFormat::kInt4G32Sym, QuantFormat::kInt8Channel}) {
    GptqOptions a;
    a.keep_better_rtn = false;
    a.refit_scales = false;
    a.local_search_sweeps = 0;  // the codes must stay GPTQ's
    GptqOptions b = a;
    b.refit_scales = true;
    const GptqResult ra = gptq_quantize(w, h, f, a), rb = gptq_quantize(w, h, f, b);
    EXPECT_EQ(ra.tensor.codes(), rb.tensor.codes()) << format_name(f);
    for (Index i = 0; i < w.rows(); ++i) EXPECT_LE(rb.loss[i], ra.loss[i]) << format_name(f);
    if (f != QuantFormat::kInt8Channel) {
      EXPECT_LT(rb.total_loss(), 0.95 * ra.total_loss()) << format_name(f);
    }
  }
}

// After the local search no single code step lowers a row's loss on the
// damped H (H + damp I on the live diagonal), and each row's damped loss is at
// most GPTQ's own.
TEST(Gptq, LocalSearchEndsAtALocalOptimumOfTheDampedLoss) {
  const Index k = 80;
  const RowMatrixXd h = correlated_hessian(k, 71);
  const RowMatrixXf w = normal(6, k, 72);
  for (QuantFormat f : {QuantFormat::kTernaryChannel, QuantFormat::kInt3Channel,
                        QuantFormat::kInt2G32Asym, QuantFormat::kInt4G32Sym}) {
    const FormatTraits& tr = format_traits(f);
    const Index group = tr.group == 0 ? k : tr.group;
    GptqOptions plain;
    plain.keep_better_rtn = false;
    plain.refit_scales = false;
    plain.damp = 0.01;
    plain.local_search_sweeps = 0;
    GptqOptions searched = plain;
    searched.local_search_sweeps = 100;
    const GptqResult g0 = gptq_quantize(w, h, f, plain), g1 = gptq_quantize(w, h, f, searched);
    ASSERT_EQ(g0.damp, g1.damp);
    RowMatrixXd hd = h;
    hd.diagonal().array() += g1.damp;
    const CodeMatrix c0 = g0.tensor.codes(), c1 = g1.tensor.codes();
    EXPECT_EQ(g0.tensor.scales(), g1.tensor.scales()) << format_name(f);
    Index moved = 0;
    for (Index r = 0; r < w.rows(); ++r) {
      auto loss = [&](const CodeMatrix& c, Index j, int dq) {
        std::vector<double> delta(static_cast<std::size_t>(k));
        for (Index t = 0; t < k; ++t) {
          const Index g = t / group;
          const int q = c(r, t) + (t == j ? dq : 0);
          delta[t] = static_cast<double>(w(r, t)) -
                     dequantize_value(tr, q, g1.tensor.scales()(r, g), g1.tensor.mins()(r, g));
        }
        return row_loss(delta, hd);
      };
      const double l1 = loss(c1, -1, 0);
      EXPECT_LE(l1, loss(c0, -1, 0) * (1 + 1e-12)) << format_name(f) << " row " << r;
      for (Index j = 0; j < k; ++j) {
        moved += c0(r, j) != c1(r, j);
        for (int dq : {-1, 1}) {
          const int q = c1(r, j) + dq;
          if (q < tr.qmin || q > tr.qmax) continue;
          EXPECT_GE(loss(c1, j, dq), l1 * (1 - 1e-12))
              << format_name(f) << " row " << r << " column " << j << " step " << dq;
        }
      }
    }
    EXPECT_GT(moved, 0) << format_name(f) << ": the search changed nothing";
    EXPECT_EQ(g0.local_search_moves, 0);
    EXPECT_GE(g1.local_search_moves, moved) << format_name(f);
  }
}

TEST(Gptq, FloatFormatsAndDeadColumns) {
  const Index k = 12;
  RowMatrixXd h = correlated_hessian(k, 31);
  const RowMatrixXf w = normal(3, k, 32);
  const GptqResult f = gptq_quantize(w, h, QuantFormat::kF16);
  EXPECT_EQ(f.tensor.format(), QuantFormat::kF16);
  EXPECT_EQ(f.tensor.dequantize(), QuantizedTensor::quantize(w, QuantFormat::kF16).dequantize());
  // A column that never affects the loss (zero row and column of H).
  h.row(4).setZero();
  h.col(4).setZero();
  const GptqResult r = gptq_quantize(w, h, QuantFormat::kInt4Channel);
  EXPECT_TRUE(r.loss.allFinite());
  EXPECT_LE(r.total_loss(), r.rtn_loss.sum());
  // No column matters at all: RTN.
  const GptqResult z = gptq_quantize(w, RowMatrixXd::Zero(k, k), QuantFormat::kInt4Channel);
  EXPECT_EQ(z.tensor.codes(),
            QuantizedTensor::quantize(w, QuantFormat::kInt4Channel, GptqOptions().range).codes());
}

TEST(Gptq, RejectsBadArguments) {
  const RowMatrixXd h = correlated_hessian(8, 41);
  const RowMatrixXf w = normal(2, 8, 42);
  EXPECT_THROW(gptq_quantize(w, RowMatrixXd::Identity(7, 7), QuantFormat::kInt4Channel),
               InvalidArgument);
  RowMatrixXf bad = w;
  bad(1, 3) = NAN;
  EXPECT_THROW(gptq_quantize(bad, h, QuantFormat::kInt4Channel), InvalidArgument);
  RowMatrixXd hbad = h;
  hbad(2, 2) = INFINITY;
  EXPECT_THROW(gptq_quantize(w, hbad, QuantFormat::kInt4Channel), InvalidArgument);
  GptqOptions o;
  o.block_size = 0;
  EXPECT_THROW(gptq_quantize(w, h, QuantFormat::kInt4Channel, o), InvalidArgument);
  o = GptqOptions();
  o.damp = -1.0;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o = GptqOptions();
  o.range.grid = 0;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o = GptqOptions();
  o.threads = -2;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o = GptqOptions();
  o.local_search_sweeps = -1;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o.local_search_sweeps = 101;
  EXPECT_THROW(o.validate(), InvalidArgument);
  // Indefinite even with 10% damping: a numerical failure, not a crash.
  RowMatrixXd indefinite = RowMatrixXd::Identity(8, 8);
  indefinite(0, 1) = indefinite(1, 0) = 3.0;
  EXPECT_THROW(gptq_quantize(w, indefinite, QuantFormat::kInt4Channel), NumericalError);
  EXPECT_THROW(quadratic_loss(w, w.leftCols(7), h), InvalidArgument);
}

}  // namespace
}  // namespace elmq
