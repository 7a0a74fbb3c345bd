// Packed symmetric matrices in tiles: the storage of the online ELM's
// inverse-Gram state P and its statistics G (elm/online_elm.h). Internal to
// elmq (namespace detail); exposed for its tests.
//
// An Lp x Lp symmetric matrix (Lp a multiple of kSymTile = 8) is stored as its
// upper triangle in block rows of 8 rows: block row b (rows 8b .. 8b+7) holds
// the columns 8b .. Lp-1 as (Lp - 8b) / 8 tiles of 8 x 8, each tile row-major
// and contiguous, tiles left to right:
//
//   element (8b + r, 8b + c), 0 <= r < 8, c >= 0, is at
//   block_offset(b) + 64 * (c / 8) + 8 * r + c % 8,
//   block_offset(b) = 8 b Lp - 32 b (b - 1)   (block rows one after another).
//
// The first tile of a block row is the whole 8 x 8 diagonal block, kept
// exactly symmetric. Total size: Lp (Lp + 8) / 2 numbers. One tile is one
// contiguous 256 B (float) stretch, so a product with the matrix streams the
// storage front to back (a single memory stream per block row: the hardware
// prefetchers keep up, where eight row streams Lp apart did not: the row-block
// layout ran at about half the read bandwidth; bench/online's BM_PackedSymv
// reports the product against the read bandwidth of its bytes).
//
// Files store the same numbers in "row blocks" (block row b as a row-major
// 8 x (Lp - 8b) matrix), the layout of online file version 1; the
// conversions below are exact permutations.
#pragma once

#include <vector>

#include "elm/common/matrix.h"

namespace elmq::detail {

constexpr Index kSymTile = 8;

template <typename T>
using SymRowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Offset of block row b (in numbers) and the total size, for Lp = lp.
inline Index packed_sym_block_offset(Index b, Index lp) {
  return kSymTile * b * lp - kSymTile * kSymTile * b * (b - 1) / 2;
}
inline Index packed_sym_size(Index lp) { return packed_sym_block_offset(lp / kSymTile, lp); }

/// packed (packed_sym_size(lp) numbers) = the upper triangle of dense (L x L,
/// L <= lp, lp a multiple of 8; symmetric: only its upper triangle is read),
/// zero beyond L.
template <typename T>
void packed_sym_from_dense(const RowMatrixXd& dense, Index lp, T* packed);
/// The dense L x L symmetric matrix (double).
template <typename T>
RowMatrixXd packed_sym_to_dense(const T* packed, Index L, Index lp);

/// y += Q x (x, y: lp numbers) in one pass over the storage; SIMD with the
/// compile-time packet width of Eigen (any width, scalar included).
template <typename T>
void packed_sym_symv(const T* packed, Index lp, const T* x, T* y);
/// The part of y += Q x that comes from the tiles of block rows [b_begin,
/// b_end) (each tile (b, g >= b) adds to y both as itself and, off the
/// diagonal, as its transpose). Over [0, lp / 8) it is packed_sym_symv; the
/// parts of disjoint ranges add up to it.
template <typename T>
void packed_sym_symv_rows(const T* packed, Index lp, const T* x, T* y, Index b_begin,
                          Index b_end);
/// The same by two Eigen products per block row: the reference of the tests.
template <typename T>
void packed_sym_symv_ref(const T* packed, Index lp, const T* x, T* y);

/// Q = alpha Q + sum_q coef[q] v_q v_q^T (q < m) on the stored triangle, for
/// the rows v_q = v + q * v_stride (lp numbers each, S = float or T; converted
/// to T exactly before multiplying). The diagonal tiles are re-symmetrized from
/// their upper triangle. Tile by tile in registers; scratch holds V regrouped
/// by columns (reallocated only if smaller than
/// packed_sym_rank_update_scratch(lp, m)). Instantiated for (float, float),
/// (double, float) and (double, double).
template <typename T, typename S>
void packed_sym_rank_update(T* packed, Index lp, double alpha, const S* v, Index v_stride,
                            const T* coef, Index m, SymRowMat<T>& scratch);
/// packed_sym_rank_update in two steps, so that the tiles can be updated a few
/// block rows at a time (the online ELM spreads one rank-64 update over the
/// next samples): prepare copies the m rows of V into scratch as terms 0 ..
/// m-1 (reallocated only if too small), or regroup_row copies one row as term
/// q (scratch already large enough: as the rows arrive); rows then updates the
/// tiles of block rows [b_begin, b_end) from the terms q0 .. q0+m-1 of the
/// scratch (coef: m numbers). prepare, then rows over ranges that cover
/// [0, lp / 8) once, equals packed_sym_rank_update bit for bit.
template <typename T, typename S>
void packed_sym_rank_update_prepare(Index lp, const S* v, Index v_stride, Index m,
                                    SymRowMat<T>& scratch);
template <typename T, typename S>
void packed_sym_regroup_row(Index lp, const S* v, Index q, SymRowMat<T>& scratch);
template <typename T>
void packed_sym_rank_update_rows(T* packed, Index lp, double alpha, const T* coef, Index m,
                                 const SymRowMat<T>& scratch, Index q0, Index b_begin,
                                 Index b_end);
/// The scratch packed_sym_rank_update needs for up to max_m terms, allocated
/// now (so that later calls with m <= max_m never allocate).
template <typename T>
SymRowMat<T> packed_sym_rank_update_scratch(Index lp, Index max_m) {
  return SymRowMat<T>(lp / kSymTile, kSymTile * max_m);
}

/// upper (lp x lp; resized if needed): its upper triangle (whole tiles,
/// diagonal tiles whole) = Q. The strictly lower part outside the diagonal
/// tiles is left as it was.
template <typename T>
void packed_sym_to_upper(const T* packed, Index lp, SymRowMat<T>& upper);
/// Q = scale * (the tiles of upper's upper triangle), diagonal tiles re-symmetrized.
template <typename T>
void packed_sym_from_upper(const SymRowMat<T>& upper, T scale, Index lp, T* packed);

/// File layout conversions (see the file comment); n = packed_sym_size(lp).
template <typename T>
std::vector<T> packed_sym_to_row_blocks(const T* packed, Index lp);
template <typename T>
void packed_sym_from_row_blocks(const T* row_blocks, Index lp, T* packed);

}  // namespace elmq::detail
