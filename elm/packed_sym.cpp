#include "elm/packed_sym.h"

#include <algorithm>
#include <cassert>
#include <type_traits>

// A lambda called from a loop, inlined (GCC and clang spell it alike).
#if defined(__GNUC__)
#define ELMQ_ALWAYS_INLINE_LAMBDA __attribute__((always_inline))
#else
#define ELMQ_ALWAYS_INLINE_LAMBDA
#endif

namespace elmq::detail {

namespace {

constexpr Index kT = kSymTile;
constexpr Index kTileSize = kT * kT;

template <typename T>
using Tile = Eigen::Map<Eigen::Matrix<T, kT, kT, Eigen::RowMajor>>;
template <typename T>
using ConstTile = Eigen::Map<const Eigen::Matrix<T, kT, kT, Eigen::RowMajor>>;

template <typename T>
T* tile_ptr(T* packed, Index b, Index k, Index lp) {
  return packed + packed_sym_block_offset(b, lp) + kTileSize * k;
}

// Position of element (r, c) of block row b (c counted from column 8b).
Index tiled_index(Index r, Index c) { return kTileSize * (c / kT) + kT * r + c % kT; }

// Keeps a loaded value in a register: GCC 12 otherwise folds the load into
// each of its uses (an operand of both multiply-adds of the product with P),
// loading every number of P twice.
template <typename P>
EIGEN_ALWAYS_INLINE void in_register(P& v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+x"(v));
#else
  (void)v;
#endif
}

// A GEMM may round (i, j) and (j, i) differently: symmetry must stay exact.
template <typename T>
void symmetrize_tile(T* tile) {
  for (Index r = 1; r < kT; ++r)
    for (Index s = 0; s < r; ++s) tile[r * kT + s] = tile[s * kT + r];
}

}  // namespace

template <typename T>
void packed_sym_from_dense(const RowMatrixXd& dense, Index lp, T* packed) {
  const Index L = dense.rows();
  assert(dense.cols() == L && L <= lp && lp % kT == 0);
  std::fill(packed, packed + packed_sym_size(lp), T(0));
  for (Index b = 0; b < lp / kT; ++b) {
    const Index c0 = kT * b;
    T* blk = packed + packed_sym_block_offset(b, lp);
    for (Index r = 0; r < kT && c0 + r < L; ++r) {
      // Upper triangle only (from the diagonal), mirrored inside the diagonal tile below.
      for (Index c = r; c0 + c < L; ++c)
        blk[tiled_index(r, c)] = static_cast<T>(dense(c0 + r, c0 + c));
    }
    symmetrize_tile(blk);
  }
}

template <typename T>
RowMatrixXd packed_sym_to_dense(const T* packed, Index L, Index lp) {
  assert(L <= lp && lp % kT == 0);
  RowMatrixXd dense(L, L);
  for (Index b = 0; b < lp / kT; ++b) {
    const Index c0 = kT * b;
    const T* blk = packed + packed_sym_block_offset(b, lp);
    for (Index r = 0; r < kT && c0 + r < L; ++r) {
      for (Index c = r; c0 + c < L; ++c) {
        const double v = static_cast<double>(blk[tiled_index(r, c)]);
        dense(c0 + r, c0 + c) = v;
        dense(c0 + c, c0 + r) = v;
      }
    }
  }
  return dense;
}

template <typename T>
void packed_sym_symv_ref(const T* packed, Index lp, const T* x, T* y) {
  using RowTile = Eigen::Matrix<T, kT, kT, Eigen::RowMajor>;
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> yv(y, lp);
  Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> xv(x, lp);
  for (Index b = 0; b < lp / kT; ++b) {
    const Index c0 = kT * b;
    for (Index k = 0; c0 + kT * k < lp; ++k) {
      const RowTile t = ConstTile<T>(packed + packed_sym_block_offset(b, lp) + kTileSize * k);
      const Index j = c0 + kT * k;
      yv.template segment<kT>(c0) += t * xv.template segment<kT>(j);
      if (k > 0) yv.template segment<kT>(j) += t.transpose() * xv.template segment<kT>(c0);
    }
  }
}

// Per block row: eight dot-product accumulators (one per row of the block),
// and for every tile right of the diagonal the transposed product into y,
// two interleaved sums so that the y chain is not one long FMA dependency.
template <typename T>
void packed_sym_symv_rows(const T* packed, Index lp, const T* x, T* y, Index b_begin,
                          Index b_end) {
  assert(0 <= b_begin && b_begin <= b_end && b_end <= lp / kT);
  // The widest Eigen packet that divides a tile row (half packets under AVX-512);
  // its width from sizeof, as a packet type passed to a template loses its
  // vector attributes (-Wignored-attributes).
  using P = typename Eigen::internal::find_best_packet<T, kT>::type;
  constexpr Index W = sizeof(P) / sizeof(T);
  static_assert(kT % W == 0, "a tile row must be whole packets");
  constexpr Index NP = kT / W;  // packets per tile row
  using Eigen::internal::padd;
  using Eigen::internal::ploadu;
  using Eigen::internal::pmadd;
  using Eigen::internal::pmul;
  using Eigen::internal::predux;
  using Eigen::internal::pset1;
  using Eigen::internal::pstoreu;
  for (Index b = b_begin; b < b_end; ++b) {
    const Index c0 = kT * b, tiles = (lp - c0) / kT;
    const T* t = packed + packed_sym_block_offset(b, lp);
    const T* xb = x + c0;
    T* yb = y + c0;
    P acc[kT];
    // Diagonal tile: dot products only (it is stored whole).
    for (Index r = 0; r < kT; ++r) {
      acc[r] = pmul(ploadu<P>(t + kT * r), ploadu<P>(xb));
      for (Index p = 1; p < NP; ++p)
        acc[r] = pmadd(ploadu<P>(t + kT * r + W * p), ploadu<P>(xb + W * p), acc[r]);
    }
    Index k = 1;
    // Two tiles at a time: each broadcast of x serves both.
    for (; k + 1 < tiles; k += 2) {
      const T* c = t + kTileSize * k;
      const T* xj = xb + kT * k;
      T* yj = yb + kT * k;
      for (Index p = 0; p < NP; ++p) {
        const P xv0 = ploadu<P>(xj + W * p), xv1 = ploadu<P>(xj + kT + W * p);
        P y0 = ploadu<P>(yj + W * p), y1 = ploadu<P>(yj + kT + W * p);
        for (Index r = 0; r < kT; ++r) {
          const P xr = pset1<P>(xb[r]);
          P v0 = ploadu<P>(c + kT * r + W * p);
          in_register(v0);
          P v1 = ploadu<P>(c + kTileSize + kT * r + W * p);
          in_register(v1);
          acc[r] = pmadd(v0, xv0, acc[r]);
          y0 = pmadd(v0, xr, y0);
          acc[r] = pmadd(v1, xv1, acc[r]);
          y1 = pmadd(v1, xr, y1);
        }
        pstoreu(yj + W * p, y0);
        pstoreu(yj + kT + W * p, y1);
      }
    }
    for (; k < tiles; ++k) {
      const T* c = t + kTileSize * k;
      const T* xj = xb + kT * k;
      T* yj = yb + kT * k;
      for (Index p = 0; p < NP; ++p) {
        const P xv = ploadu<P>(xj + W * p);
        P y0 = ploadu<P>(yj + W * p);
        P y1 = pset1<P>(T(0));
        for (Index r = 0; r < kT; r += 2) {
          P v0 = ploadu<P>(c + kT * r + W * p);
          in_register(v0);
          acc[r] = pmadd(v0, xv, acc[r]);
          y0 = pmadd(v0, pset1<P>(xb[r]), y0);
          P v1 = ploadu<P>(c + kT * (r + 1) + W * p);
          in_register(v1);
          acc[r + 1] = pmadd(v1, xv, acc[r + 1]);
          y1 = pmadd(v1, pset1<P>(xb[r + 1]), y1);
        }
        pstoreu(yj + W * p, padd(y0, y1));
      }
    }
    for (Index r = 0; r < kT; ++r) yb[r] += predux(acc[r]);
  }
}

template <typename T>
void packed_sym_symv(const T* packed, Index lp, const T* x, T* y) {
  packed_sym_symv_rows(packed, lp, x, y, 0, lp / kT);
}

// In register blocks (four rows of a block row times two packets of
// columns) accumulated over all m terms, then Q = alpha Q + acc; each tile
// is read and written once, and the loads (four splat values and two
// vectors per term) stay below the FMA rate. V is first copied into column
// groups of 8 (group g: m x 8, term-major), so a tile's operands are two
// contiguous m x 8 stretches: taken from V's rows (lp apart) every term
// touched two new cache lines and pages per tile. (It replaced Eigen/OpenBLAS
// GEMMs into scratch added to the tiles afterwards; bench/online's
// BM_PackedRankUpdate64 reports it against the GEMM rate of the same run.)
template <typename T, typename S>
void packed_sym_regroup_row(Index lp, const S* v, Index q, SymRowMat<T>& scratch) {
  assert(lp % kT == 0 && scratch.rows() >= lp / kT && scratch.cols() >= kT * (q + 1));
  for (Index g = 0; g < lp / kT; ++g) {
    T* dst = scratch.row(g).data() + kT * q;
    for (Index c = 0; c < kT; ++c) dst[c] = static_cast<T>(v[kT * g + c]);
  }
}

template <typename T, typename S>
void packed_sym_rank_update_prepare(Index lp, const S* v, Index v_stride, Index m,
                                    SymRowMat<T>& scratch) {
  assert(lp % kT == 0 && (m == 0 || (v != nullptr && v_stride >= lp)));
  if (scratch.rows() < lp / kT || scratch.cols() < m * kT) {
    scratch = packed_sym_rank_update_scratch<T>(lp, m);
  }
  for (Index q = 0; q < m; ++q) packed_sym_regroup_row<T, S>(lp, v + q * v_stride, q, scratch);
}

template <typename T>
void packed_sym_rank_update_rows(T* packed, Index lp, double alpha, const T* coef, Index m,
                                 const SymRowMat<T>& scratch, Index q0, Index b_begin,
                                 Index b_end) {
  assert(lp % kT == 0 && (m == 0 || coef != nullptr));
  assert(0 <= b_begin && b_begin <= b_end && b_end <= lp / kT);
  assert(m == 0 || (scratch.rows() >= lp / kT && scratch.cols() >= (q0 + m) * kT));
  // Up to kMaxSplatTerms terms at a time (all the online ELM passes); more
  // are added in chunks of that many, each chunk's sum added to Q once.
  constexpr Index kMaxSplatTerms = 64;
  if (m > kMaxSplatTerms) {
    for (Index q = 0; q < m; q += kMaxSplatTerms) {
      packed_sym_rank_update_rows(packed, lp, q == 0 ? alpha : 1.0, coef + q,
                                  std::min(kMaxSplatTerms, m - q), scratch, q0 + q, b_begin,
                                  b_end);
    }
    return;
  }
  using P = typename Eigen::internal::find_best_packet<T, kT>::type;
  constexpr Index W = sizeof(P) / sizeof(T);
  static_assert(kT % W == 0, "a tile row must be whole packets");
  using Eigen::internal::ploadu;
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  using Eigen::internal::pstoreu;
  const Index groups = lp / kT;
  const P alpha_p = pset1<P>(static_cast<T>(alpha));
  // Column groups in chunks of about 128 KiB of regrouped V, so that a chunk
  // stays in L2 while every block row above it passes (the whole of V is
  // 1 MiB in double at L = 2000, m = 64).
  const Index chunk = std::max<Index>(
      1, (Index{128} << 10) / (std::max<Index>(m, 1) * kT * static_cast<Index>(sizeof(T))));
  // The block row's values times the coefficients, a_q[r] coef[q], are splat
  // into whole packets once (abuf) and read by plain loads (on Zen 2/3 a
  // broadcast load of a double is a load and a shuffle), and each tile pair
  // of packets takes a 4 x 2 register block: 6 loads per 8 multiply-adds,
  // where 8 rows against one packet took 9 loads, a multiply by coef and 8
  // multiply-adds.
  constexpr Index NP = kT / W;  // packets per tile row
  alignas(64) P abuf[kMaxSplatTerms * kT];
  // Packet column j of block row bb's tiles from group gs: tile gs + j / NP,
  // columns (j % NP) W .. + W. Forced inline: GCC 12 left it an out-of-line
  // call, and the float and double updates took 5 and 7.5 % more time
  // (bench/online BM_PackedRankUpdate64*, L = 256 to 2000).
  auto blocked = [&](Index bb, Index gs, Index g1) ELMQ_ALWAYS_INLINE_LAMBDA {
    const T* a_grp = scratch.row(bb).data() + kT * q0;
    for (Index q = 0; q < m; ++q)
      for (Index r = 0; r < kT; ++r) abuf[kT * q + r] = pset1<P>(a_grp[kT * q + r] * coef[q]);
    const Index np = (g1 - gs) * NP;
    auto b_ptr = [&](Index j) { return scratch.row(gs + j / NP).data() + kT * q0 + W * (j % NP); };
    auto t_ptr = [&](Index j, Index r) {
      return tile_ptr(packed, bb, gs + j / NP - bb, lp) + kT * r + W * (j % NP);
    };
    Index j = 0;
    for (; j + 2 <= np; j += 2) {
      const T* b0 = b_ptr(j);
      const T* b1 = b_ptr(j + 1);
      for (Index r0 = 0; r0 < kT; r0 += 4) {
        // The terms are summed apart from Q (each added into |Q| directly
        // would round at Q's scale), then added once.
        P acc0[4], acc1[4];
        for (Index r = 0; r < 4; ++r) acc0[r] = acc1[r] = pset1<P>(T(0));
        for (Index q = 0; q < m; ++q) {
          const P bv0 = ploadu<P>(b0 + kT * q), bv1 = ploadu<P>(b1 + kT * q);
          const P* aq = abuf + kT * q + r0;
          for (Index r = 0; r < 4; ++r) {
            acc0[r] = pmadd(aq[r], bv0, acc0[r]);
            acc1[r] = pmadd(aq[r], bv1, acc1[r]);
          }
        }
        for (Index r = 0; r < 4; ++r) {
          T* d0 = t_ptr(j, r0 + r);
          T* d1 = t_ptr(j + 1, r0 + r);
          pstoreu(d0, pmadd(ploadu<P>(d0), alpha_p, acc0[r]));
          pstoreu(d1, pmadd(ploadu<P>(d1), alpha_p, acc1[r]));
        }
      }
    }
    if (j < np) {  // an odd packet column left
      const T* b0 = b_ptr(j);
      P acc[kT];
      for (Index r = 0; r < kT; ++r) acc[r] = pset1<P>(T(0));
      for (Index q = 0; q < m; ++q) {
        const P bv = ploadu<P>(b0 + kT * q);
        for (Index r = 0; r < kT; ++r) acc[r] = pmadd(abuf[kT * q + r], bv, acc[r]);
      }
      for (Index r = 0; r < kT; ++r) {
        T* d = t_ptr(j, r);
        pstoreu(d, pmadd(ploadu<P>(d), alpha_p, acc[r]));
      }
    }
    if (gs == bb) symmetrize_tile(tile_ptr(packed, bb, 0, lp));
  };
  for (Index g0 = (b_begin / chunk) * chunk; g0 < groups; g0 += chunk) {
    const Index g1 = std::min(groups, g0 + chunk);
    for (Index bb = b_begin; bb < std::min(g1, b_end); ++bb) blocked(bb, std::max(bb, g0), g1);
  }
}

template <typename T, typename S>
void packed_sym_rank_update(T* packed, Index lp, double alpha, const S* v, Index v_stride,
                            const T* coef, Index m, SymRowMat<T>& scratch) {
  packed_sym_rank_update_prepare<T, S>(lp, v, v_stride, m, scratch);
  packed_sym_rank_update_rows<T>(packed, lp, alpha, coef, m, scratch, 0, 0, lp / kT);
}

template <typename T>
void packed_sym_to_upper(const T* packed, Index lp, SymRowMat<T>& upper) {
  if (upper.rows() != lp || upper.cols() != lp) upper.resize(lp, lp);
  for (Index b = 0; b < lp / kT; ++b) {
    for (Index k = 0; kT * (b + k) < lp; ++k) {
      upper.template block<kT, kT>(kT * b, kT * (b + k)) =
          ConstTile<T>(packed + packed_sym_block_offset(b, lp) + kTileSize * k);
    }
  }
}

template <typename T>
void packed_sym_from_upper(const SymRowMat<T>& upper, T scale, Index lp, T* packed) {
  assert(upper.rows() >= lp && upper.cols() >= lp);
  for (Index b = 0; b < lp / kT; ++b) {
    for (Index k = 0; kT * (b + k) < lp; ++k) {
      Tile<T>(tile_ptr(packed, b, k, lp)) =
          upper.template block<kT, kT>(kT * b, kT * (b + k)) * scale;
    }
    symmetrize_tile(tile_ptr(packed, b, 0, lp));
  }
}

template <typename T>
std::vector<T> packed_sym_to_row_blocks(const T* packed, Index lp) {
  std::vector<T> out(static_cast<std::size_t>(packed_sym_size(lp)));
  for (Index b = 0; b < lp / kT; ++b) {
    const Index off = packed_sym_block_offset(b, lp), n = lp - kT * b;
    for (Index r = 0; r < kT; ++r)
      for (Index c = 0; c < n; ++c)
        out[static_cast<std::size_t>(off + r * n + c)] = packed[off + tiled_index(r, c)];
  }
  return out;
}

template <typename T>
void packed_sym_from_row_blocks(const T* row_blocks, Index lp, T* packed) {
  for (Index b = 0; b < lp / kT; ++b) {
    const Index off = packed_sym_block_offset(b, lp), n = lp - kT * b;
    for (Index r = 0; r < kT; ++r)
      for (Index c = 0; c < n; ++c) packed[off + tiled_index(r, c)] = row_blocks[off + r * n + c];
  }
}

#define ELMQ_PACKED_SYM_INSTANTIATE(T)                                       \
  template void packed_sym_from_dense<T>(const RowMatrixXd&, Index, T*);     \
  template RowMatrixXd packed_sym_to_dense<T>(const T*, Index, Index);       \
  template void packed_sym_symv<T>(const T*, Index, const T*, T*);           \
  template void packed_sym_symv_rows<T>(const T*, Index, const T*, T*, Index, Index); \
  template void packed_sym_rank_update_rows<T>(T*, Index, double, const T*, Index,    \
                                               const SymRowMat<T>&, Index, Index, Index); \
  template void packed_sym_symv_ref<T>(const T*, Index, const T*, T*);       \
  template void packed_sym_to_upper<T>(const T*, Index, SymRowMat<T>&);      \
  template void packed_sym_from_upper<T>(const SymRowMat<T>&, T, Index, T*); \
  template std::vector<T> packed_sym_to_row_blocks<T>(const T*, Index);      \
  template void packed_sym_from_row_blocks<T>(const T*, Index, T*);

ELMQ_PACKED_SYM_INSTANTIATE(float)
ELMQ_PACKED_SYM_INSTANTIATE(double)
#undef ELMQ_PACKED_SYM_INSTANTIATE

template void packed_sym_rank_update<float, float>(float*, Index, double, const float*, Index,
                                                   const float*, Index, SymRowMat<float>&);
template void packed_sym_rank_update<double, float>(double*, Index, double, const float*, Index,
                                                    const double*, Index, SymRowMat<double>&);
template void packed_sym_rank_update<double, double>(double*, Index, double, const double*, Index,
                                                     const double*, Index, SymRowMat<double>&);
template void packed_sym_rank_update_prepare<float, float>(Index, const float*, Index, Index,
                                                           SymRowMat<float>&);
template void packed_sym_rank_update_prepare<double, float>(Index, const float*, Index, Index,
                                                            SymRowMat<double>&);
template void packed_sym_rank_update_prepare<double, double>(Index, const double*, Index, Index,
                                                             SymRowMat<double>&);
template void packed_sym_regroup_row<float, float>(Index, const float*, Index, SymRowMat<float>&);
template void packed_sym_regroup_row<double, float>(Index, const float*, Index,
                                                    SymRowMat<double>&);
template void packed_sym_regroup_row<double, double>(Index, const double*, Index,
                                                     SymRowMat<double>&);

}  // namespace elmq::detail
