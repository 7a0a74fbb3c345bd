#include "elm/ridge_solver.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Cholesky>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/rng.h"

namespace elmq {

namespace {
// H^T H of a chunk is a sum of float32 SYRKs over row slices, each added to
// the double G in slice order. The slices depend only on the chunk's row
// count, never on the thread count, so G is the same for any thread count
// (OpenBLAS's own threaded ssyrk is not: its split changes the rounding).
// One whole-width SYRK per thread packs each operand once; the 256-wide tile
// GEMMs used before re-packed every column panel once per tile, which cost
// 17 % of the training time in copies (perf, Fashion-MNIST L = 2000), and ran
// at 50 GFMA/s on 2 cores against 62-70 for slices (OpenBLAS ssyrk).
constexpr Index kGramSliceRows = 4096;
// Chunks shorter than this are one slice (a SYRK too small to split).
constexpr Index kGramMinSplitRows = 512;
// Upper bound on the float32 L x L slice buffers alive at once.
constexpr double kGramBufferBudgetBytes = 512.0 * (1 << 20);
// Row blocks of H^T T.
constexpr Index kGramRowBlock = 256;

// Number of slices for a chunk of n rows: at least two once the chunk is
// large enough (two cores get work even from the short chunks of
// a short fit or a partial_fit), otherwise about kGramSliceRows each.
Index gram_slices(Index n) {
  if (n < kGramMinSplitRows) return 1;
  return std::max<Index>(2, (n + kGramSliceRows - 1) / kGramSliceRows);
}
}  // namespace

void RidgeConfig::validate() const {
  ELMQ_CHECK_ARG(std::isfinite(lambda) && lambda >= 0.0 && lambda <= 1e12,
                 "RidgeConfig.lambda must be in [0, 1e12], got ", lambda);
  if (auto_lambda) {
    ELMQ_CHECK_ARG(!relative_grid.empty() && relative_grid.size() <= 64,
                   "RidgeConfig.relative_grid must hold 1..64 values, got ", relative_grid.size());
    for (std::size_t i = 0; i < relative_grid.size(); ++i) {
      ELMQ_CHECK_ARG(std::isfinite(relative_grid[i]) && relative_grid[i] > 0.0 &&
                         relative_grid[i] <= 1e6,
                     "RidgeConfig.relative_grid[", i, "] must be in (0, 1e6], got ",
                     relative_grid[i]);
      ELMQ_CHECK_ARG(i == 0 || relative_grid[i] > relative_grid[i - 1],
                     "RidgeConfig.relative_grid must be strictly ascending (entry ", i, ")");
    }
    ELMQ_CHECK_ARG(validation_fraction > 0.0 && validation_fraction <= 0.5,
                   "RidgeConfig.validation_fraction must be in (0, 0.5], got ",
                   validation_fraction);
  }
}

// ---------------------------------------------------------------- accumulator

GramAccumulator::GramAccumulator(Index n_hidden, Index n_outputs)
    : gram_(RowMatrixXd::Zero(n_hidden, n_hidden)),
      hty_(RowMatrixXd::Zero(n_hidden, n_outputs)),
      tty_(RowMatrixXd::Zero(n_outputs, n_outputs)) {}

std::size_t GramScratch::bytes() const {
  std::size_t total = 0;
  for (const RowMatrixXf& b : buffers_) total += static_cast<std::size_t>(b.size()) * sizeof(float);
  return total;
}

void GramAccumulator::add(const ConstMatrixRef& h_in, const ConstMatrixRef& t_in,
                          const ConstVectorRef& sample_weight, int threads, GramScratch* scratch) {
  const Index L = n_hidden(), C = n_outputs();
  ELMQ_CHECK_ARG(L > 0, "GramAccumulator::add: accumulator has no shape");
  ELMQ_CHECK_ARG(h_in.cols() == L, "GramAccumulator::add: H has ", h_in.cols(),
                 " columns, expected ", L);
  ELMQ_CHECK_ARG(t_in.cols() == C, "GramAccumulator::add: T has ", t_in.cols(),
                 " columns, expected ", C);
  ELMQ_CHECK_ARG(t_in.rows() == h_in.rows(), "GramAccumulator::add: H has ", h_in.rows(),
                 " rows but T has ", t_in.rows());
  const Index n = h_in.rows();
  if (n == 0) return;

  // Weighted rows: scale H and T rows by sqrt(w), so that the products below
  // give H^T W H and H^T W T.
  RowMatrixXf hw, tw;
  double wsum = static_cast<double>(n);
  const bool weighted = sample_weight.size() > 0;
  if (weighted) {
    ELMQ_CHECK_ARG(sample_weight.size() == n, "GramAccumulator::add: sample_weight has ",
                   sample_weight.size(), " entries, expected ", n);
    ELMQ_CHECK_ARG(sample_weight.allFinite() && (sample_weight.array() >= 0.0f).all(),
                   "GramAccumulator::add: sample_weight must be finite and >= 0");
    const VectorXf s = sample_weight.array().sqrt();
    hw = h_in.array().colwise() * s.array();
    tw = t_in.array().colwise() * s.array();
    wsum = sample_weight.cast<double>().sum();
  }
  const ConstMatrixRef h = weighted ? ConstMatrixRef(hw) : h_in;
  const ConstMatrixRef t = weighted ? ConstMatrixRef(tw) : t_in;

  // H^T H: one SYRK per slice into a zeroed float buffer (upper triangle);
  // then, in 64 x 64 blocks of G's upper triangle, the buffers are added in
  // slice order, zeroed again while the block is in cache, and the block is
  // mirrored to the lower triangle (G stays exactly symmetric).
  const Index ns = gram_slices(n);
  const Index slice = (n + ns - 1) / ns;
  const auto by_budget = static_cast<Index>(kGramBufferBudgetBytes /
                                            (4.0 * static_cast<double>(L) * static_cast<double>(L)));
  const Index n_buffers = std::max<Index>(1, std::min({ns, Index{threads}, by_budget}));
  GramScratch local;
  GramScratch& work = scratch != nullptr ? *scratch : local;
  auto& buffers = work.buffers_;
  const bool reuse = work.clean_ && !buffers.empty() && buffers.front().rows() == L;
  if (!reuse) buffers.clear();
  work.clean_ = false;  // until every buffer is zero again
  while (static_cast<Index>(buffers.size()) < n_buffers) {
    buffers.emplace_back(RowMatrixXf::Zero(L, L));
  }
  constexpr Index kBlock = 64;
  const Index n_blocks = (L + kBlock - 1) / kBlock;
  for (Index first = 0; first < ns; first += n_buffers) {
    const Index round = std::min(n_buffers, ns - first);
    parallel_for(round, threads, [&](std::int64_t i) {
      const Index r0 = (first + i) * slice, rows = std::min(slice, n - r0);
      buffers[static_cast<std::size_t>(i)].selfadjointView<Eigen::Upper>().rankUpdate(
          h.middleRows(r0, rows).transpose());
    });
    // Task bi owns G's upper block-row bi and lower block-column bi.
    parallel_for(n_blocks, threads, [&](std::int64_t bi) {
      const Index r0 = bi * kBlock, rh = std::min(kBlock, L - r0);
      for (Index c0 = r0; c0 < L; c0 += kBlock) {
        const Index cw = std::min(kBlock, L - c0);
        auto g = gram_.block(r0, c0, rh, cw);
        for (Index i = 0; i < round; ++i) {
          auto b = buffers[static_cast<std::size_t>(i)].block(r0, c0, rh, cw);
          if (c0 == r0) {
            for (Index r = 0; r < rh; ++r) {
              g.row(r).tail(cw - r) += b.row(r).tail(cw - r).cast<double>();
              b.row(r).tail(cw - r).setZero();
            }
          } else {
            g += b.cast<double>();
            b.setZero();
          }
        }
        if (c0 == r0) {
          for (Index r = 1; r < rh; ++r)
            for (Index c = 0; c < r; ++c) g(r, c) = g(c, r);
        } else {
          gram_.block(c0, r0, cw, rh) = g.transpose();
        }
      }
    });
  }
  work.clean_ = true;
  const Index n_row_blocks = (L + kGramRowBlock - 1) / kGramRowBlock;
  parallel_for(n_row_blocks, threads, [&](std::int64_t blk) {
    const Index r0 = blk * kGramRowBlock, rw = std::min(kGramRowBlock, L - r0);
    RowMatrixXf slab(rw, C);
    slab.noalias() = h.middleCols(r0, rw).transpose() * t;
    hty_.middleRows(r0, rw) += slab.cast<double>();
  });
  tty_.noalias() += t.transpose().cast<double>() * t.cast<double>();
  rows_ += n;
  weight_sum_ += wsum;
}

void GramAccumulator::merge(const GramAccumulator& other) {
  ELMQ_CHECK_ARG(other.n_hidden() == n_hidden() && other.n_outputs() == n_outputs(),
                 "GramAccumulator::merge: shapes differ (", other.n_hidden(), " x ",
                 other.n_outputs(), " vs ", n_hidden(), " x ", n_outputs(), ")");
  gram_ += other.gram_;
  hty_ += other.hty_;
  tty_ += other.tty_;
  rows_ += other.rows_;
  weight_sum_ += other.weight_sum_;
}

void GramAccumulator::grow_outputs(Index new_n_outputs) {
  ELMQ_CHECK_ARG(new_n_outputs >= n_outputs(), "GramAccumulator::grow_outputs: cannot shrink from ",
                 n_outputs(), " to ", new_n_outputs);
  RowMatrixXd hty = RowMatrixXd::Zero(n_hidden(), new_n_outputs);
  hty.leftCols(n_outputs()) = hty_;
  RowMatrixXd tty = RowMatrixXd::Zero(new_n_outputs, new_n_outputs);
  tty.topLeftCorner(n_outputs(), n_outputs()) = tty_;
  hty_ = std::move(hty);
  tty_ = std::move(tty);
}

namespace {
constexpr std::uint32_t kTagGram = tag("GRAM");
constexpr std::uint32_t kTagHty = tag("HTY_");
constexpr std::uint32_t kTagTty = tag("TTY_");
constexpr std::uint32_t kTagRows = tag("ROWS");
constexpr std::uint32_t kTagWsum = tag("WSUM");
}  // namespace

void GramAccumulator::save(RecordWriter& w) const {
  w.put_matrix(kTagGram, gram_);
  w.put_matrix(kTagHty, hty_);
  w.put_matrix(kTagTty, tty_);
  w.put_i64(kTagRows, rows_);
  w.put_f64(kTagWsum, weight_sum_);
}

GramAccumulator GramAccumulator::load(const RecordReader& r) {
  GramAccumulator a;
  a.gram_ = r.get_matrix_d(kTagGram);
  a.hty_ = r.get_matrix_d(kTagHty);
  a.tty_ = r.get_matrix_d(kTagTty);
  a.rows_ = r.get_i64(kTagRows);
  a.weight_sum_ = r.get_f64(kTagWsum);
  if (a.gram_.rows() != a.gram_.cols() || a.hty_.rows() != a.gram_.rows() ||
      a.tty_.rows() != a.hty_.cols() || a.tty_.cols() != a.hty_.cols() || a.rows_ < 0 ||
      !(a.weight_sum_ >= 0.0)) {
    r.fail("training statistics have inconsistent shapes or counts");
  }
  if (!a.gram_.allFinite() || !a.hty_.allFinite() || !a.tty_.allFinite()) {
    r.fail("training statistics hold non-finite values");
  }
  return a;
}

// ---------------------------------------------------------------- solving

RowMatrixXd solve_ridge(const RowMatrixXd& gram, const RowMatrixXd& rhs, double lambda) {
  const Index L = gram.rows();
  ELMQ_CHECK_ARG(L > 0 && gram.cols() == L, "solve_ridge: G is ", gram.rows(), " x ", gram.cols(),
                 ", expected a non-empty square matrix");
  ELMQ_CHECK_ARG(rhs.rows() == L, "solve_ridge: right-hand side has ", rhs.rows(),
                 " rows, expected ", L);
  ELMQ_CHECK_ARG(std::isfinite(lambda) && lambda >= 0.0, "solve_ridge: lambda must be >= 0, got ",
                 lambda);
  // G is symmetric, so its row-major storage is also its column-major storage.
  Eigen::MatrixXd a = Eigen::Map<const Eigen::MatrixXd>(gram.data(), L, L);
  a.diagonal().array() += lambda;
  Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> llt(a);
  if (llt.info() != Eigen::Success) {
    throw NumericalError(str_cat("solve_ridge: G + lambda*I is not positive definite (L = ", L,
                                 ", lambda = ", lambda,
                                 "); use a larger lambda (or automatic lambda)"));
  }
  Eigen::MatrixXd x = llt.solve(Eigen::MatrixXd(rhs));
  RowMatrixXd beta = x;
  if (!beta.allFinite()) {
    throw NumericalError(str_cat("solve_ridge: the solution is not finite (L = ", L,
                                 ", lambda = ", lambda, "); use a larger lambda"));
  }
  // A Cholesky that "succeeds" on a numerically singular matrix can still
  // return garbage: check the residual against the right-hand side.
  Eigen::MatrixXd resid = rhs;
  resid.noalias() -= Eigen::Map<const Eigen::MatrixXd>(gram.data(), L, L) * x;
  resid -= lambda * x;
  const double scale = rhs.norm() + 1e-300;
  if (!(resid.norm() <= 1e-4 * scale + 1e-12)) {
    throw NumericalError(str_cat("solve_ridge: the system is too ill-conditioned (relative residual ",
                                 resid.norm() / scale, ", L = ", L, ", lambda = ", lambda,
                                 "); use a larger lambda"));
  }
  return beta;
}

double squared_error_from_stats(const GramAccumulator& stats, const RowMatrixXd& beta) {
  ELMQ_CHECK_ARG(beta.rows() == stats.n_hidden() && beta.cols() == stats.n_outputs(),
                 "squared_error_from_stats: beta is ", beta.rows(), " x ", beta.cols(),
                 ", expected ", stats.n_hidden(), " x ", stats.n_outputs());
  const RowMatrixXd g_beta = stats.gram() * beta;
  const double err = stats.tty().trace() - 2.0 * (beta.array() * stats.hty().array()).sum() +
                     (beta.array() * g_beta.array()).sum();
  return std::max(err, 0.0);
}

bool is_validation_row(std::uint64_t split_seed, std::int64_t row_index, double fraction) {
  std::uint64_t s = split_seed ^ (static_cast<std::uint64_t>(row_index) * 0x9E3779B97F4A7C15ULL);
  const std::uint64_t h = splitmix64(s);
  return static_cast<double>(h >> 11) * 0x1.0p-53 < fraction;
}

LambdaSearchResult search_lambda(const GramAccumulator& fit, const GramAccumulator& validation,
                                 const RidgeConfig& config, int threads) {
  config.validate();
  ELMQ_CHECK_ARG(fit.rows() > 0 && validation.rows() > 0,
                 "search_lambda: needs rows in both parts (fit ", fit.rows(), ", validation ",
                 validation.rows(), ")");
  const Index L = fit.n_hidden();
  const double base = std::max(fit.gram().trace() / static_cast<double>(L), 1e-30);
  const double denom =
      std::max(validation.weight_sum(), 1e-300) * static_cast<double>(fit.n_outputs());

  auto evaluate = [&](const std::vector<double>& lambdas) {
    std::vector<double> mse(lambdas.size(), std::numeric_limits<double>::quiet_NaN());
    parallel_for(static_cast<std::int64_t>(lambdas.size()), threads, [&](std::int64_t i) {
      try {
        const RowMatrixXd beta = solve_ridge(fit.gram(), fit.hty(), lambdas[i]);
        mse[i] = squared_error_from_stats(validation, beta) / denom;
      } catch (const NumericalError&) {
        // A failed point (tiny lambda on a singular G) is skipped, not fatal.
      }
    });
    return mse;
  };

  LambdaSearchResult result;
  result.fit_rows = fit.rows();
  result.validation_rows = validation.rows();
  std::vector<double> lambdas;
  for (double r : config.relative_grid) lambdas.push_back(r * base);
  std::vector<double> mse = evaluate(lambdas);

  auto best_of = [](const std::vector<double>& m) {
    std::int64_t best = -1;
    for (std::size_t i = 0; i < m.size(); ++i) {
      if (std::isnan(m[i])) continue;
      // "<=": on ties prefer the larger lambda (smaller, more robust weights).
      if (best < 0 || m[i] <= m[static_cast<std::size_t>(best)]) best = static_cast<std::int64_t>(i);
    }
    return best;
  };
  std::int64_t best = best_of(mse);
  if (best < 0) {
    throw NumericalError(
        "search_lambda: every lambda on the grid failed to solve; the hidden layer output is "
        "degenerate (check the input data and the activation)");
  }
  // Refine between grid points: geometric midpoints around the best.
  if (lambdas.size() > 1) {
    std::vector<double> extra;
    const double b = lambdas[static_cast<std::size_t>(best)];
    if (best > 0) extra.push_back(std::sqrt(b * lambdas[static_cast<std::size_t>(best) - 1]));
    if (best + 1 < static_cast<std::int64_t>(lambdas.size()))
      extra.push_back(std::sqrt(b * lambdas[static_cast<std::size_t>(best) + 1]));
    const std::vector<double> extra_mse = evaluate(extra);
    lambdas.insert(lambdas.end(), extra.begin(), extra.end());
    mse.insert(mse.end(), extra_mse.begin(), extra_mse.end());
    std::vector<std::size_t> order(lambdas.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](auto a, auto c) { return lambdas[a] < lambdas[c]; });
    for (std::size_t i : order) {
      result.lambdas.push_back(lambdas[i]);
      result.validation_mse.push_back(mse[i]);
    }
  } else {
    result.lambdas = lambdas;
    result.validation_mse = mse;
  }
  best = best_of(result.validation_mse);
  result.lambda = result.lambdas[static_cast<std::size_t>(best)];
  return result;
}

}  // namespace elmq
