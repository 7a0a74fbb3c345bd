#include <gtest/gtest.h>

#include <Eigen/LU>
#include <cmath>

#include "elm/common/errors.h"
#include "elm/common/rng.h"
#include "elm/ridge_solver.h"

namespace elmq {
namespace {

RowMatrixXf seeded_matrix(Index n, Index d, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrixXf m(n, d);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal());
  return m;
}

GramAccumulator stats_of(const RowMatrixXf& h, const RowMatrixXf& t, int threads = 1) {
  GramAccumulator acc(h.cols(), t.cols());
  acc.add(h, t, VectorXf(), threads);
  return acc;
}

TEST(RidgeSolver, KnownSmallSystem) {
  // (G + 1 I) beta = b with G = [[3, 1], [1, 2]]: [[4,1],[1,3]] beta = [5, 4] -> beta = [1, 1].
  RowMatrixXd g(2, 2), b(2, 1);
  g << 3, 1, 1, 2;
  b << 5, 4;
  const RowMatrixXd beta = solve_ridge(g, b, 1.0);
  EXPECT_NEAR(beta(0, 0), 1.0, 1e-14);
  EXPECT_NEAR(beta(1, 0), 1.0, 1e-14);
}

TEST(RidgeSolver, PerfectFitWithoutPenalty) {
  // A square, well-conditioned H: least squares reproduces T exactly.
  const RowMatrixXf h = seeded_matrix(6, 6, 1) + 4.0f * RowMatrixXf::Identity(6, 6);
  const RowMatrixXf t = seeded_matrix(6, 2, 2);
  const GramAccumulator acc = stats_of(h, t);
  const RowMatrixXd beta = solve_ridge(acc.gram(), acc.hty(), 0.0);
  const RowMatrixXd fit = h.cast<double>() * beta;
  EXPECT_LT((fit - t.cast<double>()).cwiseAbs().maxCoeff(), 1e-4);
  // The residual from the statistics, b^T b - 2 beta^T H^T T + beta^T G beta,
  // cancels to ~0 but inherits the float32 rounding of G and H^T T (n eps32
  // relative per entry; the rounding differs per SYRK/GEMM kernel and CPU).
  const Eigen::MatrixXd ab = beta.cwiseAbs();
  const double rounding =
      6 * 6e-8 *
      ((ab.transpose() * acc.gram().cwiseAbs() * ab).trace() +
       2.0 * (ab.transpose() * acc.hty().cwiseAbs()).trace());
  EXPECT_LT(squared_error_from_stats(acc, beta), rounding);
  EXPECT_LT(rounding, 1e-3 * acc.tty().trace());  // the bound is not vacuous
}

TEST(RidgeSolver, SingularProblemNeedsRidge) {
  RowMatrixXf h = seeded_matrix(50, 5, 3);
  h.col(4) = h.col(3);  // duplicated feature: H^T H is singular
  const RowMatrixXf t = seeded_matrix(50, 1, 4);
  const GramAccumulator acc = stats_of(h, t);
  EXPECT_THROW(solve_ridge(acc.gram(), acc.hty(), 0.0), NumericalError);
  const double lambda = 0.5;
  const RowMatrixXd beta = solve_ridge(acc.gram(), acc.hty(), lambda);
  // Reference: a full-pivoting LU on the same system.
  Eigen::MatrixXd a = acc.gram();
  a.diagonal().array() += lambda;
  const Eigen::MatrixXd ref = a.fullPivLu().solve(Eigen::MatrixXd(acc.hty()));
  EXPECT_LT((Eigen::MatrixXd(beta) - ref).cwiseAbs().maxCoeff(), 1e-10);
  // The duplicated features share the weight equally, up to the float32
  // rounding of G's entries, which a GEMM rounds differently per position and
  // per CPU kernel: |dG| ~ n eps32 |G| = 50 * 6e-8 * |G|, amplified by 1/lambda.
  const double bound =
      50 * 6e-8 * acc.gram().cwiseAbs().maxCoeff() / lambda * beta.cwiseAbs().maxCoeff();
  EXPECT_NEAR(beta(3, 0), beta(4, 0), bound);
  EXPECT_GT(std::abs(beta(3, 0)), 100 * bound);  // the check above is not vacuous
}

TEST(GramAccumulator, ChunksEqualOneShotAndMatchDirectProducts) {
  const RowMatrixXf h = seeded_matrix(700, 300, 5);  // > one 256-wide tile
  const RowMatrixXf t = seeded_matrix(700, 3, 6);
  const GramAccumulator one = stats_of(h, t, 2);
  GramAccumulator chunks(300, 3);
  for (Index b = 0; b < 700; b += 128) {
    const Index m = std::min<Index>(128, 700 - b);
    chunks.add(h.middleRows(b, m), t.middleRows(b, m), VectorXf(), 2);
  }
  const Eigen::MatrixXd g_ref = h.cast<double>().transpose() * h.cast<double>();
  EXPECT_LT((one.gram() - RowMatrixXd(g_ref)).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_LT((chunks.gram() - one.gram()).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_EQ(one.gram(), one.gram().transpose());  // exactly symmetric
  EXPECT_EQ(chunks.rows(), 700);
}

TEST(GramAccumulator, IdenticalForAnyThreadCount) {
  // 9000 rows: three SYRK slices, in 3 / 2 + 1 / 1 rounds for 1 / 2 / 3 threads.
  const RowMatrixXf h = seeded_matrix(9000, 600, 7);
  const RowMatrixXf t = seeded_matrix(9000, 4, 8);
  const GramAccumulator a = stats_of(h, t, 1), b = stats_of(h, t, 2), c = stats_of(h, t, 3);
  EXPECT_EQ(a.gram(), b.gram());
  EXPECT_EQ(a.gram(), c.gram());
  EXPECT_EQ(a.hty(), b.hty());
}

TEST(GramAccumulator, ScratchReuseGivesTheSameStatistics) {
  // Widths 70 and 40 cover partial 64-wide blocks of the reduction; chunks of
  // 1500 and 900 rows are two slices each.
  const RowMatrixXf h1 = seeded_matrix(1500, 70, 9), t1 = seeded_matrix(1500, 3, 10);
  const RowMatrixXf h2 = seeded_matrix(900, 70, 11), t2 = seeded_matrix(900, 3, 12);
  GramScratch scratch;
  GramAccumulator plain(70, 3), reused(70, 3);
  for (const auto* part : {&h1, &h2}) {
    const RowMatrixXf& t = part == &h1 ? t1 : t2;
    plain.add(*part, t, VectorXf(), 2);
    reused.add(*part, t, VectorXf(), 2, &scratch);
  }
  EXPECT_GT(scratch.bytes(), 0u);
  EXPECT_EQ(plain.gram(), reused.gram());
  EXPECT_EQ(plain.hty(), reused.hty());
  EXPECT_EQ(reused.gram(), reused.gram().transpose());
  // Against double products: float32 sums over at most 750 rows per slice.
  const Eigen::MatrixXd hd1 = h1.cast<double>(), hd2 = h2.cast<double>();
  const Eigen::MatrixXd ref = hd1.transpose() * hd1 + hd2.transpose() * hd2;
  const Eigen::MatrixXd abs_ref = hd1.cwiseAbs().transpose() * hd1.cwiseAbs() +
                                  hd2.cwiseAbs().transpose() * hd2.cwiseAbs();
  EXPECT_LT((Eigen::MatrixXd(reused.gram()) - ref).cwiseAbs().maxCoeff(),
            750 * 6e-8 * abs_ref.maxCoeff());
  // A different width starts the scratch afresh.
  GramAccumulator narrow(40, 3), narrow_reused(40, 3);
  narrow.add(h1.leftCols(40), t1, VectorXf(), 3);
  narrow_reused.add(h1.leftCols(40), t1, VectorXf(), 3, &scratch);
  EXPECT_EQ(narrow.gram(), narrow_reused.gram());
}

TEST(GramAccumulator, WeightTwoEqualsDuplicateRow) {
  const RowMatrixXf h = seeded_matrix(10, 4, 9);
  const RowMatrixXf t = seeded_matrix(10, 2, 10);
  VectorXf w = VectorXf::Ones(10);
  w[3] = 2.0f;
  GramAccumulator weighted(4, 2);
  weighted.add(h, t, w, 1);
  RowMatrixXf h2(11, 4), t2(11, 2);
  h2 << h, h.row(3);
  t2 << t, t.row(3);
  const GramAccumulator dup = stats_of(h2, t2);
  EXPECT_LT((weighted.gram() - dup.gram()).cwiseAbs().maxCoeff(), 1e-4);
  EXPECT_LT((weighted.hty() - dup.hty()).cwiseAbs().maxCoeff(), 1e-4);
  EXPECT_DOUBLE_EQ(weighted.weight_sum(), 11.0);
}

TEST(GramAccumulator, BadInputRejected) {
  GramAccumulator acc(4, 2);
  EXPECT_THROW(acc.add(RowMatrixXf::Zero(3, 5), RowMatrixXf::Zero(3, 2), VectorXf(), 1),
               InvalidArgument);
  EXPECT_THROW(acc.add(RowMatrixXf::Zero(3, 4), RowMatrixXf::Zero(2, 2), VectorXf(), 1),
               InvalidArgument);
  EXPECT_THROW(acc.add(RowMatrixXf::Zero(3, 4), RowMatrixXf::Zero(3, 2), -VectorXf::Ones(3), 1),
               InvalidArgument);
  GramAccumulator other(5, 2);
  EXPECT_THROW(acc.merge(other), InvalidArgument);
  EXPECT_THROW(solve_ridge(RowMatrixXd::Identity(3, 3), RowMatrixXd::Zero(2, 1), 1.0),
               InvalidArgument);
  EXPECT_THROW(solve_ridge(RowMatrixXd::Identity(3, 3), RowMatrixXd::Zero(3, 1), -1.0),
               InvalidArgument);
}

TEST(LambdaSearch, PicksTheHeldOutMinimum) {
  // y depends on 3 of 40 noisy features: a held-out split must prefer some
  // regularisation over none, and the curve must be exact against direct
  // evaluation on the validation rows.
  const RowMatrixXf h = seeded_matrix(120, 40, 11);
  RowMatrixXf t = h.leftCols(3).rowwise().sum() + 3.0f * seeded_matrix(120, 1, 12);
  const GramAccumulator fit = stats_of(h.topRows(80), t.topRows(80));
  const GramAccumulator val = stats_of(h.bottomRows(40), t.bottomRows(40));
  RidgeConfig cfg;
  const LambdaSearchResult r = search_lambda(fit, val, cfg, 2);
  ASSERT_EQ(r.lambdas.size(), r.validation_mse.size());
  ASSERT_GE(r.lambdas.size(), cfg.relative_grid.size());
  for (std::size_t i = 0; i < r.lambdas.size(); ++i) {
    const RowMatrixXd beta = solve_ridge(fit.gram(), fit.hty(), r.lambdas[i]);
    const double direct =
        (t.bottomRows(40).cast<double>() - h.bottomRows(40).cast<double>() * beta).squaredNorm() /
        40.0;
    EXPECT_NEAR(r.validation_mse[i], direct, 1e-6 * direct);
    EXPECT_GE(r.validation_mse[i],
              *std::min_element(r.validation_mse.begin(), r.validation_mse.end()));
  }
  const auto best = std::min_element(r.validation_mse.begin(), r.validation_mse.end());
  EXPECT_EQ(r.lambda, r.lambdas[static_cast<std::size_t>(best - r.validation_mse.begin())]);
  EXPECT_GT(r.lambda, r.lambdas.front());
}

TEST(LambdaSearch, ConfigValidation) {
  RidgeConfig cfg;
  cfg.relative_grid = {1.0, 0.1};
  EXPECT_THROW(cfg.validate(), InvalidArgument);
  cfg = RidgeConfig{};
  cfg.validation_fraction = 0.9;
  EXPECT_THROW(cfg.validate(), InvalidArgument);
  cfg = RidgeConfig{};
  cfg.lambda = std::nan("");
  EXPECT_THROW(cfg.validate(), InvalidArgument);
}

TEST(LambdaSearch, ValidationRowHashIsStable) {
  int held = 0;
  for (int i = 0; i < 10000; ++i) held += is_validation_row(0x5EED, i, 0.2);
  EXPECT_NEAR(held, 2000, 150);
  EXPECT_EQ(is_validation_row(1, 12345, 0.2), is_validation_row(1, 12345, 0.2));
}

}  // namespace
}  // namespace elmq
