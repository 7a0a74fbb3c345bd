// Test helpers for elm/online_elm: seeded synthetic streams and the digits data.
#pragma once

#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "elm/common/errors.h"
#include "elm/common/matrix.h"
#include "elm/common/rng.h"
#include "elm/data/datasets.h"
#include "elm/elm_model.h"
#include "elm/online_elm.h"

namespace elmq {
namespace online_test {

/// A seeded Gaussian-blob classification problem: n rows, d features, k classes.
struct Blobs {
  RowMatrixXf x;
  LabelVector y;
};

inline Blobs make_blobs(Index n, Index d, Index k, std::uint64_t seed, double spread = 1.0) {
  Rng centre_rng(seed, 1);
  RowMatrixXf centres(k, d);
  for (Index c = 0; c < k; ++c)
    for (Index j = 0; j < d; ++j) centres(c, j) = static_cast<float>(2.0 * centre_rng.normal());
  Rng rng(seed, 2);
  Blobs b{RowMatrixXf(n, d), LabelVector(n)};
  for (Index i = 0; i < n; ++i) {
    const auto c = static_cast<Index>(rng.below(static_cast<std::uint64_t>(k)));
    b.y[i] = c;
    for (Index j = 0; j < d; ++j)
      b.x(i, j) = centres(c, j) + static_cast<float>(spread * rng.normal());
  }
  return b;
}

/// sklearn's digits (1797 x 64, 10 classes), split 75/25 with seed 0, or
/// nullptr when the data files are not installed.
inline const DatasetSplit* digits() {
  static const DatasetSplit* cached = []() -> const DatasetSplit* {
    try {
      return new DatasetSplit(load_dataset("digits"));
    } catch (const IoError&) {
      return nullptr;
    }
  }();
  return cached;
}

#define ELMQ_REQUIRE_DIGITS()                                       \
  const ::elmq::DatasetSplit* data = ::elmq::online_test::digits(); \
  if (data == nullptr)                                              \
  GTEST_SKIP() << "sklearn digits data not installed (see "         \
                  "elm/data/datasets.h)"

/// An ELM config with one tanh group of L neurons and a fixed lambda.
inline ElmConfig small_config(Index L, double lambda, std::uint64_t seed = 7) {
  ElmConfig cfg;
  cfg.hidden.groups = {NeuronGroup{}};
  cfg.hidden.groups[0].count = L;
  cfg.hidden.groups[0].activation = Activation::kTanh;
  cfg.hidden.seed = seed;
  cfg.ridge.auto_lambda = false;
  cfg.ridge.lambda = lambda;
  cfg.threads = 1;
  return cfg;
}

/// Hidden activations of x under a model's scaler and layer, in double.
template <typename Model>
RowMatrixXd hidden_double(const Model& m, const ConstMatrixRef& x) {
  return m.hidden().transform(m.scaler().transform(x), 1).template cast<double>();
}

/// The same, computed in blocks of `block` rows as OnlineElm's block path does:
/// a product's rounding may depend on its shape (OpenBLAS picks kernels by size).
template <typename Model>
RowMatrixXd hidden_double_blocks(const Model& m, const ConstMatrixRef& x, Index block) {
  RowMatrixXd out(x.rows(), m.hidden().n_neurons());
  for (Index b = 0; b < x.rows(); b += block) {
    const Index r = std::min(block, x.rows() - b);
    out.middleRows(b, r) = hidden_double(m, x.middleRows(b, r));
  }
  return out;
}

/// The same, computed row by row as the single-sample path does
/// (HiddenLayer::project_row, which rounds differently from the blocked product).
template <typename Model>
RowMatrixXd hidden_double_rows(const Model& m, const ConstMatrixRef& x) {
  const HiddenLayer& layer = m.hidden();
  RowMatrixXd out(x.rows(), layer.n_neurons());
  VectorXf scaled(x.cols()), h(layer.n_neurons());
  for (Index i = 0; i < x.rows(); ++i) {
    m.scaler().transform_row(x.row(i).data(), scaled.data());
    layer.project_row(scaled.data(), h.data(), 0, layer.n_neurons());
    float x_sq = scaled.squaredNorm();
    Eigen::Map<RowMatrixXf> row(h.data(), 1, h.size());
    layer.activate(row, Eigen::Map<const VectorXf>(&x_sq, 1));
    out.row(i) = h.transpose().cast<double>();
  }
  return out;
}

/// The ridge solution computed in double from the float hidden activations:
/// beta = (H^T A H + reg I)^-1 H^T A T, A = diag(a) (a empty: all ones).
inline RowMatrixXd exact_ridge(const RowMatrixXd& h, const RowMatrixXd& t, const VectorXd& a,
                               double reg) {
  const VectorXd w = a.size() > 0 ? a : VectorXd::Ones(h.rows());
  Eigen::MatrixXd g = h.transpose() * w.asDiagonal() * h;
  g.diagonal().array() += reg;
  const Eigen::MatrixXd b = h.transpose() * w.asDiagonal() * t;
  Eigen::LLT<Eigen::MatrixXd> llt(g);
  return RowMatrixXd(llt.solve(b));
}

/// One-hot targets for labels 0..k-1.
inline RowMatrixXd one_hot(const LabelVector& y, Index k) {
  RowMatrixXd t = RowMatrixXd::Zero(y.size(), k);
  for (Index i = 0; i < y.size(); ++i) t(i, y[i]) = 1.0;
  return t;
}

/// Condition number of H^T H + reg I (2-norm).
inline double condition(const RowMatrixXd& h, double reg) {
  Eigen::MatrixXd g = h.transpose() * h;
  g.diagonal().array() += reg;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(g, Eigen::EigenvaluesOnly);
  return eig.eigenvalues().maxCoeff() / eig.eigenvalues().minCoeff();
}

/// max |a - b| / max |b|.
template <typename A, typename B>
double rel_max_err(const A& a, const B& b) {
  const double scale = b.template cast<double>().cwiseAbs().maxCoeff();
  return (a.template cast<double>() - b.template cast<double>()).cwiseAbs().maxCoeff() /
         std::max(scale, 1e-300);
}

}  // namespace online_test
}  // namespace elmq
