#include "quant/mlp/detail/backprop.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "elm/common/parallel.h"

namespace elmq {

namespace detail {

namespace {
// Rows of W_l per weight-gradient task.
constexpr Index kGradRows = 64;
}  // namespace

int threads_for_rows(Index rows, const std::vector<Index>& sizes, int threads) {
  double macs = 0.0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    macs += static_cast<double>(sizes[l]) * static_cast<double>(sizes[l + 1]);
  }
  return static_cast<double>(rows) * macs < kMinParallelMacs ? 1 : threads;
}

void mlp_forward_rows(const ConstMatrixRef& x, const MlpParams& p, std::vector<RowMatrixXf>& act,
                      Index r0, Index n) {
  const int layers = p.n_layers();
  for (int l = 0; l < layers; ++l) {
    auto out = act[l].middleRows(r0, n);
    if (l == 0) {
      out.noalias() = x.middleRows(r0, n) * p.weights[0].transpose();
    } else {
      out.noalias() = act[l - 1].middleRows(r0, n) * p.weights[l].transpose();
    }
    out.rowwise() += p.biases[l].transpose();
    if (l + 1 < layers) out = out.cwiseMax(0.0f);
  }
}

void mlp_forward(const ConstMatrixRef& x, const MlpParams& p, MatrixRef logits, int threads) {
  const std::vector<Index> sizes = p.sizes();
  threads = threads_for_rows(x.rows(), sizes, threads);
  parallel_for_range(x.rows(), kMlpRowGrain, threads, [&](Index b, Index e) {
    std::vector<RowMatrixXf> act(sizes.size() - 1);
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) act[l].resize(e - b, sizes[l + 1]);
    mlp_forward_rows(x.middleRows(b, e - b), p, act, 0, e - b);
    logits.middleRows(b, e - b) = act.back();
  });
}

double softmax_xent_row(const float* z, Index c, std::int32_t y, float grad_scale, float* delta) {
  float m = z[0];
  for (Index j = 1; j < c; ++j) m = std::max(m, z[j]);
  double sum = 0.0;
  for (Index j = 0; j < c; ++j) sum += std::exp(static_cast<double>(z[j] - m));
  const double lse = static_cast<double>(m) + std::log(sum);
  if (delta) {
    for (Index j = 0; j < c; ++j) {
      const double pj = std::exp(static_cast<double>(z[j]) - lse);
      delta[j] = static_cast<float>(pj - (j == y ? 1.0 : 0.0)) * grad_scale;
    }
  }
  return lse - static_cast<double>(z[y]);
}

Backprop::Backprop(const std::vector<Index>& sizes, Index max_rows)
    : sizes_(sizes), max_rows_(max_rows) {
  assert(sizes.size() >= 2 && max_rows >= 1);
  const std::size_t layers = sizes.size() - 1;
  for (std::size_t l = 0; l < layers; ++l) {
    act_.emplace_back(max_rows, sizes[l + 1]);
    delta_.emplace_back(max_rows, sizes[l + 1]);
  }
  row_loss_.resize(static_cast<std::size_t>(max_rows));
  // The widest layers first, so the dynamic schedule ends on small tasks.
  for (std::size_t l = 0; l < layers; ++l) {
    for (Index r0 = 0; r0 < sizes[l + 1]; r0 += kGradRows) {
      grad_tasks_.push_back({static_cast<int>(l), r0, std::min(sizes[l + 1], r0 + kGradRows)});
    }
  }
  std::stable_sort(grad_tasks_.begin(), grad_tasks_.end(),
                   [&](const GradTask& a, const GradTask& b) {
                     return sizes[a.layer] * (a.r1 - a.r0) > sizes[b.layer] * (b.r1 - b.r0);
                   });
}

void Backprop::forward(const ConstMatrixRef& x, const MlpParams& p, int threads) {
  assert(x.rows() >= 1 && x.rows() <= max_rows_ && x.cols() == sizes_[0]);
  threads = threads_for_rows(x.rows(), sizes_, threads);
  parallel_for_range(x.rows(), kMlpRowGrain, threads,
                     [&](Index b, Index e) { mlp_forward_rows(x, p, act_, b, e - b); });
}

double Backprop::forward_backward(const ConstMatrixRef& x, const std::int32_t* labels,
                                  const MlpParams& p, MlpParams& grads, int threads) {
  const Index rows = x.rows();
  assert(rows >= 1 && rows <= max_rows_ && x.cols() == sizes_[0]);
  const int layers = p.n_layers();
  const Index classes = sizes_.back();
  const float grad_scale = 1.0f / static_cast<float>(rows);
  // Forward, deltas and weight gradients: about 3x the forward's work.
  threads = threads_for_rows(3 * rows, sizes_, threads);

  // Per row: forward, loss, and the deltas of every layer.
  parallel_for_range(rows, kMlpRowGrain, threads, [&](Index b, Index e) {
    const Index n = e - b;
    mlp_forward_rows(x, p, act_, b, n);
    for (Index r = b; r < e; ++r) {
      row_loss_[static_cast<std::size_t>(r)] = softmax_xent_row(
          act_.back().row(r).data(), classes, labels[r], grad_scale, delta_.back().row(r).data());
    }
    for (int l = layers - 1; l >= 1; --l) {
      auto d = delta_[l - 1].middleRows(b, n);
      d.noalias() = delta_[l].middleRows(b, n) * p.weights[l];
      const auto a = act_[l - 1].middleRows(b, n);
      for (Index i = 0; i < n; ++i) {
        for (Index j = 0; j < d.cols(); ++j) {
          if (!(a(i, j) > 0.0f)) d(i, j) = 0.0f;
        }
      }
    }
  });

  // Weight and bias gradients: sums over the whole batch, one owner per block.
  parallel_for(static_cast<std::int64_t>(grad_tasks_.size()), threads, [&](std::int64_t t) {
    const GradTask& task = grad_tasks_[static_cast<std::size_t>(t)];
    const int l = task.layer;
    const Index m = task.r1 - task.r0;
    const auto d = delta_[l].topRows(rows).middleCols(task.r0, m);
    auto g = grads.weights[l].middleRows(task.r0, m);
    if (l == 0) {
      g.noalias() = d.transpose() * x;
    } else {
      g.noalias() = d.transpose() * act_[l - 1].topRows(rows);
    }
    grads.biases[l].segment(task.r0, m) = d.colwise().sum().transpose();
  });

  double loss = 0.0;
  for (Index r = 0; r < rows; ++r) loss += row_loss_[static_cast<std::size_t>(r)];
  return loss;
}

void Backprop::score(Index rows, const std::int32_t* labels, double* loss_sum,
                     Index* correct) const {
  const RowMatrixXf& z = act_.back();
  double loss = 0.0;
  Index ok = 0;
  for (Index r = 0; r < rows; ++r) {
    loss += softmax_xent_row(z.row(r).data(), z.cols(), labels[r], 1.0f, nullptr);
    Index arg;
    z.row(r).maxCoeff(&arg);
    ok += arg == labels[r] ? 1 : 0;
  }
  *loss_sum = loss;
  *correct = ok;
}

}  // namespace detail
}  // namespace elmq
