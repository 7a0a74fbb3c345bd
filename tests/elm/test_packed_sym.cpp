// The tiled packed symmetric storage of the online ELM (elm/packed_sym.h):
// the documented element positions, exact conversions, and the SIMD kernels
// against dense double products.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "elm/common/rng.h"
#include "elm/packed_sym.h"

namespace elmq {
namespace {

using detail::packed_sym_block_offset;
using detail::packed_sym_size;

Index padded(Index L) { return (L + 7) / 8 * 8; }

// Symmetric, entries k + 0.25 * (i + j): distinct and exact in float.
RowMatrixXd exact_symmetric(Index L) {
  RowMatrixXd a(L, L);
  for (Index i = 0; i < L; ++i)
    for (Index j = 0; j < L; ++j)
      a(i, j) = static_cast<double>(std::min(i, j) * L + std::max(i, j));
  return a;
}

RowMatrixXd random_matrix(Index n, Index d, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrixXd m(n, d);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.normal();
  return m;
}

RowMatrixXd random_symmetric(Index L, std::uint64_t seed) {
  const RowMatrixXd a = random_matrix(L, L, seed);
  return 0.5 * (a + a.transpose());
}

template <typename T>
class PackedSym : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(PackedSym, Precisions);

TYPED_TEST(PackedSym, DocumentedTileLayout) {
  using T = TypeParam;
  const Index L = 21, lp = 24;  // three block rows, padding in the last one
  const RowMatrixXd a = exact_symmetric(L);
  std::vector<T> packed(static_cast<std::size_t>(packed_sym_size(lp)), T(-1));
  detail::packed_sym_from_dense(a, lp, packed.data());
  ASSERT_EQ(packed_sym_size(lp), lp * (lp + 8) / 2);
  for (Index b = 0; b < lp / 8; ++b) {
    for (Index r = 0; r < 8; ++r) {
      for (Index c = 0; c < lp - 8 * b; ++c) {
        const Index i = 8 * b + r, j = 8 * b + c;
        const T stored = packed[static_cast<std::size_t>(packed_sym_block_offset(b, lp) +
                                                         64 * (c / 8) + 8 * r + c % 8)];
        const double expected = (i < L && j < L) ? a(i, j) : 0.0;  // zero padding
        ASSERT_EQ(static_cast<double>(stored), expected) << "element (" << i << ", " << j << ")";
      }
    }
  }
  // Version-1 file layout: block row b as a row-major 8 x (lp - 8b) matrix.
  const std::vector<T> rows = detail::packed_sym_to_row_blocks(packed.data(), lp);
  for (Index b = 0; b < lp / 8; ++b) {
    const Index n = lp - 8 * b;
    for (Index r = 0; r < 8; ++r)
      for (Index c = 0; c < n; ++c) {
        const Index i = 8 * b + r, j = 8 * b + c;
        ASSERT_EQ(static_cast<double>(
                      rows[static_cast<std::size_t>(packed_sym_block_offset(b, lp) + r * n + c)]),
                  (i < L && j < L) ? a(i, j) : 0.0);
      }
  }
  std::vector<T> back(packed.size(), T(7));
  detail::packed_sym_from_row_blocks(rows.data(), lp, back.data());
  EXPECT_EQ(back, packed);
}

TYPED_TEST(PackedSym, DenseRoundTripIsExactForEveryPadding) {
  using T = TypeParam;
  for (const Index L : {1, 7, 8, 9, 70}) {
    const Index lp = padded(L);
    const RowMatrixXd a = exact_symmetric(L);
    std::vector<T> packed(static_cast<std::size_t>(packed_sym_size(lp)));
    detail::packed_sym_from_dense(a, lp, packed.data());
    EXPECT_EQ(detail::packed_sym_to_dense(packed.data(), L, lp), a) << "L = " << L;
  }
}

TYPED_TEST(PackedSym, SymvMatchesDenseProduct) {
  using T = TypeParam;
  using VecT = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  // The float tolerance: |Q| |x| summed over up to 264 terms in float.
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  for (const Index L : {8, 70, 257}) {
    const Index lp = padded(L);
    const RowMatrixXd a = random_symmetric(L, 10 + static_cast<std::uint64_t>(L));
    std::vector<T> packed(static_cast<std::size_t>(packed_sym_size(lp)));
    detail::packed_sym_from_dense(a, lp, packed.data());
    const RowMatrixXd x = random_matrix(lp, 1, 99);
    VectorXd xd = x.col(0);
    xd.tail(lp - L).setZero();
    const VecT xt = xd.cast<T>();
    // y += Q x: start from a non-zero y.
    const VecT y0 = VecT::LinSpaced(lp, T(-1), T(1));
    VecT y = y0, y_ref = y0;
    detail::packed_sym_symv(packed.data(), lp, xt.data(), y.data());
    detail::packed_sym_symv_ref(packed.data(), lp, xt.data(), y_ref.data());
    const VectorXd expected =
        y0.template cast<double>().head(L) +
        a.cast<T>().template cast<double>() * xt.template cast<double>().head(L);
    const double scale = (a.cwiseAbs() * xd.head(L).cwiseAbs()).maxCoeff();
    EXPECT_LE((y.template cast<double>().head(L) - expected).cwiseAbs().maxCoeff(), tol * scale)
        << "L = " << L;
    EXPECT_LE((y_ref.template cast<double>().head(L) - expected).cwiseAbs().maxCoeff(), tol * scale)
        << "L = " << L;
    // Padding rows stay untouched (Q is zero there).
    EXPECT_EQ(y.tail(lp - L), y0.tail(lp - L));
  }
}

// Q = alpha Q + sum_q coef_q v_q v_q^T against the dense double result, for
// every instantiated pair (state type T, row type S).
template <typename T, typename S>
void check_rank_update(Index L, Index m, double alpha, double tol) {
  const Index lp = padded(L);
  const RowMatrixXd q0 = random_symmetric(L, 3);
  std::vector<T> packed(static_cast<std::size_t>(packed_sym_size(lp)));
  detail::packed_sym_from_dense(q0, lp, packed.data());
  RowMatrixXd v = random_matrix(std::max<Index>(m, 1), lp, 4);
  v.rightCols(lp - L).setZero();
  using RowS = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowS vs = v.cast<S>();
  Eigen::Matrix<T, Eigen::Dynamic, 1> coef(std::max<Index>(m, 1));
  for (Index i = 0; i < coef.size(); ++i) coef[i] = static_cast<T>(i % 3 == 0 ? -0.5 : 0.25 * i);
  detail::SymRowMat<T> scratch;
  detail::packed_sym_rank_update<T, S>(packed.data(), lp, alpha, vs.data(), lp, coef.data(), m,
                                       scratch);
  RowMatrixXd expected = alpha * q0.cast<T>().template cast<double>();
  for (Index i = 0; i < m; ++i) {
    const VectorXd vi = vs.row(i).head(L).transpose().template cast<double>();
    expected.noalias() += static_cast<double>(coef[i]) * vi * vi.transpose();
  }
  const RowMatrixXd got = detail::packed_sym_to_dense(packed.data(), L, lp);
  const double scale = expected.cwiseAbs().maxCoeff();
  EXPECT_LE((got - expected).cwiseAbs().maxCoeff(), tol * scale)
      << "L = " << L << ", m = " << m << ", alpha = " << alpha;
  // Diagonal tiles exactly symmetric, padding still zero.
  for (Index b = 0; b < lp / 8; ++b) {
    const T* tile = packed.data() + packed_sym_block_offset(b, lp);
    for (Index r = 0; r < 8; ++r)
      for (Index c = 0; c < 8; ++c) {
        ASSERT_EQ(tile[8 * r + c], tile[8 * c + r]);
        if (8 * b + r >= L || 8 * b + c >= L) {
          ASSERT_EQ(tile[8 * r + c], T(0));
        }
      }
  }
}

// m = 65 adds its terms in two chunks (the register-blocked kernel holds 64).
TEST(PackedSymRankUpdate, MatchesDenseForEveryTypePair) {
  for (const Index L : {8, 70, 257}) {
    for (const Index m : {0, 1, 7, 64, 65}) {
      check_rank_update<float, float>(L, m, 1.0, 2e-6);
      check_rank_update<float, float>(L, m, 0.75, 2e-6);
      check_rank_update<double, float>(L, m, 0.75, 1e-14);
      check_rank_update<double, double>(L, m, 1.0, 1e-14);
    }
  }
}

TEST(PackedSymRankUpdate, ScratchSizedOnceIsReused) {
  const Index lp = 72, m = 64;
  std::vector<float> packed(static_cast<std::size_t>(packed_sym_size(lp)), 0.0f);
  const RowMatrixXf v = random_matrix(m, lp, 5).cast<float>();
  const VectorXf coef = VectorXf::Ones(m);
  detail::SymRowMat<float> scratch = detail::packed_sym_rank_update_scratch<float>(lp, m);
  const float* before = scratch.data();
  for (const Index k : {64, 3, 17}) {
    detail::packed_sym_rank_update<float, float>(packed.data(), lp, 1.0, v.data(), lp, coef.data(),
                                                 k, scratch);
  }
  EXPECT_EQ(scratch.data(), before);
}

// The online ELM spreads one update over samples, a few block rows at a
// time: any split into consecutive ranges gives the whole update bit for bit,
// and the products of disjoint ranges of block rows add up to the product.
TEST(PackedSymRankUpdate, RangesOfBlockRowsEqualTheWholeUpdate) {
  const Index L = 300, lp = 304, m = 64, nb = lp / 8;
  const RowMatrixXd q0 = random_symmetric(L, 6);
  const RowMatrixXf v = random_matrix(m, lp, 7).cast<float>();
  VectorXf coef(m);
  for (Index i = 0; i < m; ++i) coef[i] = i % 2 == 0 ? 0.5f : -0.25f;
  std::vector<float> whole(static_cast<std::size_t>(packed_sym_size(lp)));
  detail::packed_sym_from_dense(q0, lp, whole.data());
  std::vector<float> split = whole;
  detail::SymRowMat<float> scratch;
  detail::packed_sym_rank_update<float, float>(whole.data(), lp, 0.9, v.data(), lp, coef.data(), m,
                                               scratch);
  detail::SymRowMat<float> scratch2;
  detail::packed_sym_rank_update_prepare<float, float>(lp, v.data(), lp, m, scratch2);
  for (Index b0 = 0, step = 1; b0 < nb; b0 += step, ++step) {
    detail::packed_sym_rank_update_rows<float>(split.data(), lp, 0.9, coef.data(), m, scratch2, 0,
                                               b0, std::min(nb, b0 + step));
  }
  EXPECT_TRUE(whole == split);
  // The same terms regrouped one by one at an offset (as the rows arrive).
  std::vector<float> offset = split;
  detail::packed_sym_from_dense(q0, lp, offset.data());
  detail::SymRowMat<float> scratch3 = detail::packed_sym_rank_update_scratch<float>(lp, m + 5);
  for (Index q = 0; q < m; ++q) {
    detail::packed_sym_regroup_row<float, float>(lp, v.row(q).data(), q + 5, scratch3);
  }
  detail::packed_sym_rank_update_rows<float>(offset.data(), lp, 0.9, coef.data(), m, scratch3, 5,
                                             0, nb);
  EXPECT_TRUE(whole == offset);

  const VectorXf x = random_matrix(lp, 1, 8).cast<float>();
  VectorXf y_all = VectorXf::Zero(lp), y_parts = VectorXf::Zero(lp);
  detail::packed_sym_symv(whole.data(), lp, x.data(), y_all.data());
  for (const Index cut : {Index{0}, Index{5}, Index{17}, nb}) {
    y_parts.setZero();
    detail::packed_sym_symv_rows(whole.data(), lp, x.data(), y_parts.data(), 0, cut);
    detail::packed_sym_symv_rows(whole.data(), lp, x.data(), y_parts.data(), cut, nb);
    EXPECT_LE((y_parts - y_all).cwiseAbs().maxCoeff(), 1e-5f * y_all.cwiseAbs().maxCoeff())
        << cut;
  }
}

TYPED_TEST(PackedSym, UpperRoundTripScales) {
  using T = TypeParam;
  const Index L = 70, lp = 72;
  const RowMatrixXd a = exact_symmetric(L);
  std::vector<T> packed(static_cast<std::size_t>(packed_sym_size(lp)));
  detail::packed_sym_from_dense(a, lp, packed.data());
  detail::SymRowMat<T> upper;
  detail::packed_sym_to_upper(packed.data(), lp, upper);
  ASSERT_EQ(upper.rows(), lp);
  const auto up = upper.template triangularView<Eigen::Upper>().toDenseMatrix();
  EXPECT_EQ(up.topLeftCorner(L, L).template cast<double>(),
            RowMatrixXd(a.triangularView<Eigen::Upper>()));
  std::vector<T> back(packed.size());
  detail::packed_sym_from_upper(upper, T(2), lp, back.data());
  EXPECT_EQ(detail::packed_sym_to_dense(back.data(), L, lp), 2.0 * a);
}

}  // namespace
}  // namespace elmq
