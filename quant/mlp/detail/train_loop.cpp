#include "quant/mlp/detail/train_loop.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "elm/common/errors.h"
#include "elm/common/rng.h"
#include "quant/mlp/detail/backprop.h"

namespace elmq {
namespace detail {

std::vector<std::int32_t> encode_labels(const LabelVector& classes, const ConstLabelRef& labels,
                                        const char* where) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(labels.size()));
  const std::int64_t* begin = classes.data();
  const std::int64_t* end = classes.data() + classes.size();
  for (Index i = 0; i < labels.size(); ++i) {
    const std::int64_t* it = std::lower_bound(begin, end, labels[i]);
    ELMQ_CHECK_ARG(it != end && *it == labels[i], where, ": label ", labels[i], " at row ", i,
                   " is not one of the model's ", classes.size(), " classes");
    out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(it - begin);
  }
  return out;
}

LabelVector distinct_labels(const ConstLabelRef& labels, const char* where) {
  std::vector<std::int64_t> v(labels.data(), labels.data() + labels.size());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  ELMQ_CHECK_ARG(v.size() >= 2, where, ": labels must hold at least 2 distinct classes, got ",
                 v.size());
  return Eigen::Map<const LabelVector>(v.data(), static_cast<Index>(v.size()));
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// All trainable arrays of a run: master weights and biases, then the hooks' extras.
std::vector<ParamBlock> make_blocks(MlpParams& p, const MlpParams& g, const TrainHooks& hooks) {
  std::vector<ParamBlock> blocks;
  for (int l = 0; l < p.n_layers(); ++l) {
    blocks.push_back({p.weights[l].data(), g.weights[l].data(), p.weights[l].size(), true});
    blocks.push_back({p.biases[l].data(), g.biases[l].data(), p.biases[l].size(), false});
  }
  for (const ParamBlock& b : hooks.extra_blocks) blocks.push_back(b);
  return blocks;
}

}  // namespace

TrainingHistory train_loop(MlpParams& params, const TrainData& data, const TrainSettings& s,
                           const TrainHooks& hooks) {
  const auto t_start = std::chrono::steady_clock::now();
  const ConstMatrixRef& x = *data.x;
  const std::vector<std::int32_t>& y = *data.y;
  const Scaler& scaler = *data.scaler;
  const Index d = x.cols();
  const Index n_train = static_cast<Index>(data.train_rows.size());
  const Index batch = std::min(s.batch_size, n_train);
  const bool separate_val = data.val_x != nullptr;
  const Index n_val = separate_val ? data.val_x->rows() : static_cast<Index>(data.val_rows.size());

  TrainingHistory history;
  history.train_rows = n_train;
  history.val_rows = n_val;

  MlpParams grads = MlpParams::zeros(params.sizes());
  std::vector<ParamBlock> blocks = make_blocks(params, grads, hooks);
  Optimizer opt(s.optimizer, blocks);
  Backprop bp(params.sizes(), batch);
  RowMatrixXf xb(batch, d);
  std::vector<std::int32_t> yb(static_cast<std::size_t>(batch));
  std::vector<Index> order = data.train_rows;
  std::vector<std::vector<float>> best(blocks.size());
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    best[i].resize(static_cast<std::size_t>(blocks[i].size));
  }
  auto snapshot = [&] {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i].size > 0) {
        std::memcpy(best[i].data(), blocks[i].value, sizeof(float) * blocks[i].size);
      }
    }
  };
  auto restore = [&] {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i].size > 0) {
        std::memcpy(blocks[i].value, best[i].data(), sizeof(float) * blocks[i].size);
      }
    }
  };
  auto fwd_params = [&]() -> const MlpParams& {
    return hooks.forward_params ? hooks.forward_params(params) : params;
  };

  // Validation: batches of the training batch size through the same buffers.
  auto validate = [&](double* loss, double* acc) {
    double loss_sum = 0.0;
    Index correct = 0;
    const MlpParams& p = fwd_params();
    for (Index b0 = 0; b0 < n_val; b0 += batch) {
      const Index n = std::min(batch, n_val - b0);
      for (Index r = 0; r < n; ++r) {
        const Index src = separate_val ? b0 + r : data.val_rows[static_cast<std::size_t>(b0 + r)];
        const ConstMatrixRef& vx = separate_val ? *data.val_x : x;
        scaler.transform_row(vx.data() + src * vx.outerStride(), xb.row(r).data());
        yb[static_cast<std::size_t>(r)] = separate_val
                                              ? (*data.val_y)[static_cast<std::size_t>(src)]
                                              : y[static_cast<std::size_t>(src)];
      }
      bp.forward(xb.topRows(n), p, s.threads);
      double l = 0.0;
      Index c = 0;
      bp.score(n, yb.data(), &l, &c);
      loss_sum += l;
      correct += c;
    }
    *loss = n_val > 0 ? loss_sum / static_cast<double>(n_val) : 0.0;
    *acc = n_val > 0 ? static_cast<double>(correct) / static_cast<double>(n_val) : 0.0;
  };

  double best_acc = -1.0, best_loss = 0.0;
  int since_best = 0;
  for (int epoch = 1; epoch <= s.epochs; ++epoch) {
    const auto t_epoch = std::chrono::steady_clock::now();
    Rng rng(s.seed, kShuffleStream + static_cast<std::uint64_t>(epoch));
    for (Index i = n_train - 1; i > 0; --i) {
      const Index j = static_cast<Index>(rng.below(static_cast<std::uint64_t>(i + 1)));
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
    }
    double loss_sum = 0.0;
    for (Index b0 = 0; b0 < n_train; b0 += batch) {
      const Index n = std::min(batch, n_train - b0);
      for (Index r = 0; r < n; ++r) {
        const Index src = order[static_cast<std::size_t>(b0 + r)];
        scaler.transform_row(x.data() + src * x.outerStride(), xb.row(r).data());
        yb[static_cast<std::size_t>(r)] = y[static_cast<std::size_t>(src)];
      }
      loss_sum += bp.forward_backward(xb.topRows(n), yb.data(), fwd_params(), grads, s.threads);
      if (hooks.adjust_gradients) hooks.adjust_gradients(params, grads);
      opt.step(s.threads);
      if (hooks.after_step) hooks.after_step();
    }
    EpochReport rep;
    rep.epoch = epoch;
    rep.train_loss = loss_sum / static_cast<double>(n_train);
    if (n_val > 0) validate(&rep.val_loss, &rep.val_accuracy);
    rep.epoch_seconds = seconds_since(t_epoch);
    rep.elapsed_seconds = seconds_since(t_start);
    history.epochs.push_back(rep);

    const bool improved = n_val == 0 || rep.val_accuracy > best_acc ||
                          (rep.val_accuracy == best_acc && rep.val_loss < best_loss);
    if (improved) {
      best_acc = rep.val_accuracy;
      best_loss = rep.val_loss;
      history.best_epoch = epoch;
      since_best = 0;
      if (s.restore_best && n_val > 0 && epoch < s.epochs) snapshot();
    } else {
      ++since_best;
    }
    if (s.progress) s.progress(rep);
    if (s.patience > 0 && since_best >= s.patience && epoch < s.epochs) {
      history.stopped_early = true;
      break;
    }
  }
  const int last = static_cast<int>(history.epochs.size());
  if (s.restore_best && n_val > 0 && history.best_epoch != last) {
    restore();
    if (hooks.after_step) hooks.after_step();
  } else {
    history.best_epoch = last;
  }
  history.seconds = seconds_since(t_start);
  return history;
}

}  // namespace detail
}  // namespace elmq
