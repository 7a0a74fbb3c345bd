#include "quant/elm/gptq.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <vector>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "quant/half.h"

namespace elmq {

void GptqOptions::validate() const {
  ELMQ_CHECK_ARG(block_size >= 1 && block_size <= 65536,
                 "GptqOptions.block_size must be in [1, 65536], got ", block_size);
  ELMQ_CHECK_ARG(std::isfinite(damp) && damp >= 0.0 && damp <= 1.0,
                 "GptqOptions.damp must be in [0, 1], got ", damp);
  ELMQ_CHECK_ARG(threads >= 0, "GptqOptions.threads must be >= 0 (0 = all), got ", threads);
  ELMQ_CHECK_ARG(local_search_sweeps >= 0 && local_search_sweeps <= 100,
                 "GptqOptions.local_search_sweeps must be in [0, 100], got ", local_search_sweeps);
  try {
    range.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(str_cat("GptqOptions.range: ", e.what()));
  }
}

VectorXd quadratic_loss(const ConstMatrixRef& w, const ConstMatrixRef& v,
                        const Eigen::Ref<const RowMatrixXd>& hessian) {
  ELMQ_CHECK_ARG(w.rows() == v.rows() && w.cols() == v.cols(), "quadratic_loss: w is ", w.rows(),
                 " x ", w.cols(), " but v is ", v.rows(), " x ", v.cols());
  ELMQ_CHECK_ARG(hessian.rows() == w.cols() && hessian.cols() == w.cols(),
                 "quadratic_loss: hessian is ", hessian.rows(), " x ", hessian.cols(),
                 ", expected ", w.cols(), " x ", w.cols());
  const RowMatrixXd delta = w.cast<double>() - v.cast<double>();
  const RowMatrixXd dh = delta * hessian;
  return dh.cwiseProduct(delta).rowwise().sum();
}

RowMatrixXd inverse_cholesky_upper(const Eigen::Ref<const RowMatrixXd>& hessian, int threads) {
  const Index k = hessian.rows();
  ELMQ_CHECK_ARG(hessian.cols() == k && k >= 1, "inverse_cholesky_upper: hessian is ",
                 hessian.rows(), " x ", hessian.cols(), ", expected a non-empty square matrix");
  // Reversing rows and columns turns the lower factor of P H P into the upper
  // factor of H^-1 after inversion: no explicit inverse (better conditioned,
  // a third of the work).
  const Eigen::MatrixXd m = hessian.reverse();
  Eigen::LLT<Eigen::MatrixXd> llt(m);
  if (llt.info() != Eigen::Success) {
    throw NumericalError(str_cat("inverse_cholesky_upper: the ", k, " x ", k,
                                 " matrix is not numerically positive definite (add damping)"));
  }
  const Eigen::MatrixXd l = llt.matrixL();
  Eigen::MatrixXd linv = Eigen::MatrixXd::Zero(k, k);
  // Column block [c0, c1) of L^-1 has zero rows above c0: solve only the
  // trailing triangle. Blocks are independent, so they run in parallel.
  constexpr Index kCols = 64;
  parallel_for_range(k, kCols, resolve_threads(threads), [&](Index c0, Index c1) {
    const Index n = k - c0;
    Eigen::MatrixXd rhs = Eigen::MatrixXd::Identity(n, c1 - c0);
    l.bottomRightCorner(n, n).triangularView<Eigen::Lower>().solveInPlace(rhs);
    linv.block(c0, c0, n, c1 - c0) = rhs;
  });
  RowMatrixXd u = linv.reverse();
  if (!u.allFinite() || (u.diagonal().array() <= 0.0).any()) {
    throw NumericalError("inverse_cholesky_upper: the factor is not finite (add damping)");
  }
  return u;
}

namespace {

// Scale and min of one group (or row) of n weights, as QuantizedTensor::quantize
// would choose them, with an optional per-column importance.
void group_params(QuantFormat format, const float* x, Index n, const float* importance,
                  RangeOptions& ro, float* scale, float* min) {
  if (importance != nullptr) {
    ro.importance = Eigen::Map<const VectorXf>(importance, n);
  } else {
    ro.importance.resize(0);
  }
  choose_row_params(format, x, n, ro, scale, min);
}

// Row loss (w - w_hat)^T H (w - w_hat) of codes q with per-group params.
double row_loss(const FormatTraits& tr, const float* w, const std::int8_t* q, Index k, Index group,
                const float* scales, const float* mins, const Eigen::Ref<const RowMatrixXd>& h) {
  VectorXd delta(k);
  for (Index j = 0; j < k; ++j) {
    const Index g = j / group;
    delta[j] = static_cast<double>(w[j]) - dequantize_value(tr, q[j], scales[g], mins[g]);
  }
  return delta.dot(h * delta);
}

// Least-squares scales (and mins) of one row for fixed codes: w_hat = A p,
// A's columns being the codes of group g (and its indicator, for the min)
// with zeros elsewhere. The normal equations are (A^T H A) p = A^T H w; H A
// costs one pass over H because the columns do not overlap within a kind.
void refit_row(const FormatTraits& tr, const float* w, const std::int8_t* q, Index k, Index group,
               Index n_groups, const Eigen::Ref<const RowMatrixXd>& h, float* scales, float* mins) {
  struct Col {
    Index g, k0, len;
    bool is_min;
  };
  std::vector<Col> cols;
  for (Index g = 0; g < n_groups; ++g) {
    const Index k0 = g * group, len = std::min(group, k - k0);
    bool any = false;
    for (Index j = k0; j < k0 + len; ++j) any = any || q[j] != 0;
    if (any) cols.push_back({g, k0, len, false});  // all-zero codes: the scale is irrelevant
    if (!tr.symmetric) cols.push_back({g, k0, len, true});
  }
  const auto p = static_cast<Index>(cols.size());
  if (p == 0) return;
  Eigen::MatrixXd ha(k, p), a_seg;
  std::vector<VectorXd> a(static_cast<std::size_t>(p));
  for (Index c = 0; c < p; ++c) {
    VectorXd& v = a[static_cast<std::size_t>(c)];
    v.resize(cols[c].len);
    for (Index t = 0; t < cols[c].len; ++t) {
      v[t] = cols[c].is_min ? 1.0 : static_cast<double>(q[cols[c].k0 + t]);
    }
    ha.col(c).noalias() = h.middleCols(cols[c].k0, cols[c].len) * v;
  }
  Eigen::MatrixXd m(p, p);
  VectorXd rhs(p);
  const Eigen::Map<const VectorXf> wv(w, k);
  const VectorXd wd = wv.cast<double>();
  for (Index c1 = 0; c1 < p; ++c1) {
    rhs[c1] = ha.col(c1).dot(wd);
    for (Index c2 = 0; c2 < p; ++c2) {
      m(c1, c2) =
          a[static_cast<std::size_t>(c1)].dot(ha.col(c2).segment(cols[c1].k0, cols[c1].len));
    }
  }
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(m);
  if (ldlt.info() != Eigen::Success) return;
  const VectorXd sol = ldlt.solve(rhs);
  if (!sol.allFinite()) return;
  std::vector<float> ns(scales, scales + n_groups), nm(mins, mins + n_groups);
  const bool half = tr.scale_kind == ScaleKind::kF16PerGroup;
  for (Index c = 0; c < p; ++c) {
    double v = sol[c];
    if (!cols[c].is_min && v < 0.0) return;  // codes fit better with flipped signs: keep GPTQ's
    if (half && !(std::fabs(v) <= kHalfMax)) return;
    const float f =
        half ? half_to_float(float_to_half(static_cast<float>(v))) : static_cast<float>(v);
    (cols[c].is_min ? nm : ns)[static_cast<std::size_t>(cols[c].g)] = f;
  }
  const double before = row_loss(tr, w, q, k, group, scales, mins, h);
  const double after = row_loss(tr, w, q, k, group, ns.data(), nm.data(), h);
  if (after < before) {
    std::copy(ns.begin(), ns.end(), scales);
    std::copy(nm.begin(), nm.end(), mins);
  }
}

// Coordinate descent on the codes of one row for the loss d^T H d, d = w - w_hat:
// a step t on w_hat_j changes the loss by -2 t (H d)_j + t^2 H_jj, so each
// candidate costs O(1) and an accepted step O(k) (the gradient update).
// Returns the number of accepted steps.
Index local_search_row(const FormatTraits& tr, const float* w, std::int8_t* q, Index k,
                       Index group, const float* scales, const float* mins,
                       const Eigen::Ref<const RowMatrixXd>& h, int sweeps) {
  VectorXd delta(k);
  for (Index j = 0; j < k; ++j) {
    const Index g = j / group;
    delta[j] = static_cast<double>(w[j]) - dequantize_value(tr, q[j], scales[g], mins[g]);
  }
  VectorXd grad = h * delta;
  Index accepted = 0;
  for (int s = 0; s < sweeps; ++s) {
    Index changed = 0;
    for (Index j = 0; j < k; ++j) {
      const Index g = j / group;
      const double hjj = h(j, j);
      if (!(hjj > 0.0)) continue;
      const double cur = dequantize_value(tr, q[j], scales[g], mins[g]);
      int best_q = q[j];
      double best = 0.0, best_t = 0.0;
      for (int dq : {-1, 1}) {
        const int nq = q[j] + dq;
        if (nq < tr.qmin || nq > tr.qmax) continue;
        const double t = dequantize_value(tr, nq, scales[g], mins[g]) - cur;
        const double change = t * (t * hjj - 2.0 * grad[j]);
        if (change < best) {
          best = change;
          best_q = nq;
          best_t = t;
        }
      }
      if (best_q != q[j]) {
        q[j] = static_cast<std::int8_t>(best_q);
        grad.noalias() -= best_t * h.row(j).transpose();  // h is symmetric: row j = column j
        ++changed;
      }
    }
    accepted += changed;
    if (changed == 0) break;
  }
  return accepted;
}

}  // namespace

GptqResult gptq_quantize(const ConstMatrixRef& w, const Eigen::Ref<const RowMatrixXd>& hessian,
                         QuantFormat format, const GptqOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  opt.validate();
  const FormatTraits& tr = format_traits(format);
  const Index n = w.rows(), k = w.cols();
  ELMQ_CHECK_ARG(n >= 1 && k >= 1, "gptq_quantize: w is ", n, " x ", k,
                 ", needs at least one row and one column");
  ELMQ_CHECK_ARG(hessian.rows() == k && hessian.cols() == k, "gptq_quantize: hessian is ",
                 hessian.rows(), " x ", hessian.cols(), ", expected ", k, " x ", k,
                 " (one row and column per column of w)");
  check_finite(w, "gptq_quantize", "w");
  ELMQ_CHECK_ARG(hessian.allFinite(), "gptq_quantize: hessian must be finite");
  ELMQ_CHECK_ARG(opt.range.importance.size() == 0 || opt.range.importance.size() == k,
                 "gptq_quantize: range.importance has ", opt.range.importance.size(),
                 " entries, expected 0 or ", k);
  const int threads = resolve_threads(opt.threads);

  GptqResult res;
  const QuantizedTensor rtn = QuantizedTensor::quantize(w, format, opt.range, threads);
  res.rtn_loss = quadratic_loss(w, rtn.dequantize(), hessian);
  auto finish = [&](QuantizedTensor t, VectorXd loss) {
    res.tensor = std::move(t);
    res.loss = std::move(loss);
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return std::move(res);
  };
  const VectorXd diag = hessian.diagonal();
  double mean_diag = 0.0;
  for (Index i = 0; i < k; ++i) mean_diag += std::max(diag[i], 0.0);
  mean_diag /= static_cast<double>(k);
  if (tr.is_float || !(mean_diag > 0.0)) {
    // No codes to choose, or no column affects the loss: nothing to feed back.
    res.gptq_loss = res.rtn_loss;
    res.rtn_rows = tr.is_float ? 0 : n;
    return finish(rtn, res.rtn_loss);
  }

  // Column order: natural, or by decreasing H_kk (stable, so ties keep their order).
  std::vector<Index> perm(static_cast<std::size_t>(k));
  std::iota(perm.begin(), perm.end(), Index{0});
  if (opt.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](Index a, Index b) { return diag[a] > diag[b]; });
  }
  // Columns with H_kk <= 0 do not enter the loss; a unit diagonal keeps the
  // factorization defined and gives them no feedback.
  RowMatrixXd hp(k, k);
  for (Index i = 0; i < k; ++i) {
    for (Index j = 0; j < k; ++j) hp(i, j) = hessian(perm[i], perm[j]);
    if (diag[perm[i]] <= 0.0) {
      hp.row(i).setZero();
      hp.col(i).setZero();
      hp(i, i) = 1.0;
    }
  }
  RowMatrixXd u;
  {
    std::vector<double> levels = {opt.damp};
    for (double f : {1e-8, 1e-6, 1e-4, 1e-2, 1e-1}) {
      if (f > opt.damp) levels.push_back(f);
    }
    for (std::size_t li = 0; li < levels.size(); ++li) {
      RowMatrixXd h = hp;
      res.damp = levels[li] * mean_diag;
      h.diagonal().array() += res.damp;
      try {
        u = inverse_cholesky_upper(h, threads);
        break;
      } catch (const NumericalError&) {
        if (li + 1 == levels.size()) {
          throw NumericalError(
              str_cat("gptq_quantize: the ", k, " x ", k,
                      " hessian is not positive definite even with damping 0.1 * mean diagonal (",
                      res.damp, ")"));
        }
      }
    }
  }

  const bool grouped = tr.scale_kind == ScaleKind::kF16PerGroup;
  const Index group = tr.group == 0 ? k : tr.group;
  const Index n_groups = format_groups_per_row(format, k);
  RowMatrixXf scales = RowMatrixXf::Zero(n, n_groups), mins = RowMatrixXf::Zero(n, n_groups);
  VectorXf importance;
  if (opt.hessian_weighted_range) {
    importance = diag.cwiseMax(0.0).cast<float>();
  } else {
    importance = opt.range.importance;
  }
  const float* imp = importance.size() > 0 ? importance.data() : nullptr;
  RangeOptions ro = opt.range;
  // Up-front ranges: per-channel formats always; grouped formats with
  // act-order (static groups).
  const bool dynamic_groups = grouped && !opt.act_order;
  if (!dynamic_groups) {
    for (Index r = 0; r < n; ++r) {
      const VectorXf row = w.row(r).transpose();
      for (Index g = 0; g < n_groups; ++g) {
        const Index c0 = g * group, len = std::min(group, k - c0);
        group_params(format, row.data() + c0, len, imp ? imp + c0 : nullptr, ro, &scales(r, g),
                     &mins(r, g));
      }
    }
  }

  Index block = opt.block_size;
  if (dynamic_groups) block = (block + group - 1) / group * group;
  Eigen::MatrixXd wd(n, k);  // column-major: the loop walks columns
  for (Index j = 0; j < k; ++j) wd.col(j) = w.col(perm[j]).cast<double>();
  CodeMatrix codes = CodeMatrix::Zero(n, k);
  std::vector<float> buf(static_cast<std::size_t>(group));
  for (Index i1 = 0; i1 < k; i1 += block) {
    const Index i2 = std::min(i1 + block, k), nb = i2 - i1;
    Eigen::MatrixXd w1 = wd.middleCols(i1, nb);
    Eigen::MatrixXd err(n, nb);
    for (Index i = 0; i < nb; ++i) {
      const Index j = i1 + i, c = perm[j];
      if (dynamic_groups && c % group == 0) {
        // The group lies inside this block (block is a multiple of group), so
        // w1 holds its weights with every earlier column's error fed back.
        const Index g = c / group, len = std::min(group, k - c);
        for (Index r = 0; r < n; ++r) {
          for (Index t = 0; t < len; ++t) buf[t] = static_cast<float>(w1(r, i + t));
          group_params(format, buf.data(), len, imp ? imp + c : nullptr, ro, &scales(r, g),
                       &mins(r, g));
        }
      }
      const Index g = c / group;
      const double d = u(j, j);
      for (Index r = 0; r < n; ++r) {
        const double x = w1(r, i);
        const int q = quantize_value(tr, static_cast<float>(x), scales(r, g), mins(r, g));
        codes(r, c) = static_cast<std::int8_t>(q);
        err(r, i) = (x - dequantize_value(tr, q, scales(r, g), mins(r, g))) / d;
      }
      if (i + 1 < nb) {
        w1.rightCols(nb - i - 1).noalias() -= err.col(i) * u.row(j).segment(j + 1, nb - i - 1);
      }
    }
    if (i2 < k) wd.rightCols(k - i2).noalias() -= err * u.block(i1, i2, nb, k - i2);
  }

  const RowMatrixXf wf = w;
  // The symmetric part of H (the same loss), so that a row of it is also its
  // column; plus the damping on the live diagonal.
  RowMatrixXd h_damped;
  if (opt.local_search_sweeps > 0) {
    h_damped = 0.5 * (hessian + hessian.transpose());
    for (Index i = 0; i < k; ++i) {
      if (diag[i] > 0.0) h_damped(i, i) += res.damp;
    }
  }
  std::vector<Index> moves(static_cast<std::size_t>(n), 0);
  auto local_search = [&] {
    if (opt.local_search_sweeps == 0) return;
    parallel_for(n, threads, [&](Index r) {
      moves[static_cast<std::size_t>(r)] += local_search_row(
          tr, wf.row(r).data(), codes.row(r).data(), k, group, scales.row(r).data(),
          mins.row(r).data(), h_damped, opt.local_search_sweeps);
    });
  };
  local_search();
  if (opt.refit_scales) {
    for (Index r = 0; r < n; ++r) {
      refit_row(tr, wf.row(r).data(), codes.row(r).data(), k, group, n_groups, hessian,
                scales.row(r).data(), mins.row(r).data());
    }
    local_search();
  }
  res.local_search_moves = std::accumulate(moves.begin(), moves.end(), Index{0});
  const RowMatrixXf no_mins;
  QuantizedTensor gptq =
      QuantizedTensor::from_codes(format, codes, scales, tr.symmetric ? no_mins : mins);
  res.gptq_loss = quadratic_loss(w, gptq.dequantize(), hessian);
  if (!opt.keep_better_rtn) return finish(std::move(gptq), res.gptq_loss);

  VectorXd loss = res.gptq_loss;
  const CodeMatrix rtn_codes = rtn.codes();
  const RowMatrixXf rtn_scales = rtn.scales(), rtn_mins = rtn.mins();
  for (Index r = 0; r < n; ++r) {
    if (res.rtn_loss[r] < res.gptq_loss[r]) {
      codes.row(r) = rtn_codes.row(r);
      scales.row(r) = rtn_scales.row(r);
      mins.row(r) = rtn_mins.row(r);
      loss[r] = res.rtn_loss[r];
      ++res.rtn_rows;
    }
  }
  if (res.rtn_rows == 0) return finish(std::move(gptq), loss);
  return finish(QuantizedTensor::from_codes(format, codes, scales, tr.symmetric ? no_mins : mins),
                loss);
}

}  // namespace elmq
