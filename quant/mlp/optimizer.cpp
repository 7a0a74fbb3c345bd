#include "quant/mlp/optimizer.h"

#include <algorithm>
#include <cmath>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"

namespace elmq {

const char* optimizer_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kAdam:
      return "adam";
    case OptimizerKind::kSgd:
      return "sgd";
  }
  return "unknown";
}

OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "adam") return OptimizerKind::kAdam;
  if (name == "sgd") return OptimizerKind::kSgd;
  throw InvalidArgument(
      str_cat("parse_optimizer: unknown optimizer '", name, "' (expected adam or sgd)"));
}

void OptimizerConfig::validate() const {
  ELMQ_CHECK_ARG(kind == OptimizerKind::kAdam || kind == OptimizerKind::kSgd,
                 "OptimizerConfig: kind must be adam or sgd, got ",
                 static_cast<std::uint32_t>(kind));
  ELMQ_CHECK_ARG(learning_rate > 0.0 && learning_rate <= 10.0,
                 "OptimizerConfig: learning_rate must be in (0, 10], got ", learning_rate);
  ELMQ_CHECK_ARG(beta1 >= 0.0 && beta1 < 1.0, "OptimizerConfig: beta1 must be in [0, 1), got ",
                 beta1);
  ELMQ_CHECK_ARG(beta2 >= 0.0 && beta2 < 1.0, "OptimizerConfig: beta2 must be in [0, 1), got ",
                 beta2);
  ELMQ_CHECK_ARG(epsilon > 0.0 && epsilon <= 1.0,
                 "OptimizerConfig: epsilon must be in (0, 1], got ", epsilon);
  ELMQ_CHECK_ARG(momentum >= 0.0 && momentum < 1.0,
                 "OptimizerConfig: momentum must be in [0, 1), got ", momentum);
  ELMQ_CHECK_ARG(!nesterov || momentum > 0.0,
                 "OptimizerConfig: nesterov needs momentum > 0, got momentum ", momentum);
  ELMQ_CHECK_ARG(weight_decay >= 0.0 && weight_decay <= 1.0,
                 "OptimizerConfig: weight_decay must be in [0, 1], got ", weight_decay);
}

Optimizer::Optimizer(const OptimizerConfig& config, std::vector<ParamBlock> blocks)
    : config_(config), blocks_(std::move(blocks)) {
  config_.validate();
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    const ParamBlock& b = blocks_[i];
    ELMQ_CHECK_ARG(b.size >= 0, "Optimizer: block ", i, " has negative size ", b.size);
    ELMQ_CHECK_ARG(b.size == 0 || (b.value != nullptr && b.grad != nullptr), "Optimizer: block ", i,
                   " has null value or gradient pointers");
    m_.emplace_back(static_cast<std::size_t>(b.size), 0.0f);
    v_.emplace_back(config_.kind == OptimizerKind::kAdam ? static_cast<std::size_t>(b.size) : 0,
                    0.0f);
    constexpr Index kChunk = 16384;
    for (Index k = 0; k < b.size; k += kChunk)
      chunks_.push_back({i, k, std::min(b.size, k + kChunk)});
    total_ += b.size;
  }
}

void Optimizer::set_learning_rate(double lr) {
  ELMQ_CHECK_ARG(lr > 0.0 && lr <= 10.0,
                 "Optimizer::set_learning_rate: lr must be in (0, 10], got ", lr);
  config_.learning_rate = lr;
}

void Optimizer::step(int threads) {
  ++t_;
  // Elementwise work is cheap: small models are updated on the calling thread.
  constexpr Index kMinParallel = 65536;
  if (threads <= 1 || chunks_.size() <= 1 || total_ < kMinParallel) {
    for (const Chunk& c : chunks_) update(c);
  } else {
    parallel_for(static_cast<std::int64_t>(chunks_.size()), threads,
                 [&](std::int64_t i) { update(chunks_[static_cast<std::size_t>(i)]); });
  }
}

void Optimizer::update(const Chunk& c) {
  // Array expressions so that the square root vectorizes (std::sqrt in a
  // plain loop does not, because of errno).
  using Arr = Eigen::Map<Eigen::ArrayXf>;
  using ConstArr = Eigen::Map<const Eigen::ArrayXf>;
  const ParamBlock& b = blocks_[c.block];
  const Index n = c.end - c.begin;
  const float d = b.decay ? static_cast<float>(config_.weight_decay) : 0.0f;
  Arr value(b.value + c.begin, n);
  const ConstArr grad(b.grad + c.begin, n);
  Arr m(m_[c.block].data() + c.begin, n);
  if (config_.kind == OptimizerKind::kAdam) {
    const float b1 = static_cast<float>(config_.beta1), b2 = static_cast<float>(config_.beta2);
    // Bias corrections folded into the step size and epsilon, as PyTorch's
    // Adam does: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
    const double bc1 = 1.0 - std::pow(config_.beta1, static_cast<double>(t_));
    const double bc2 = 1.0 - std::pow(config_.beta2, static_cast<double>(t_));
    const float step = static_cast<float>(config_.learning_rate / bc1);
    const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    const float eps = static_cast<float>(config_.epsilon);
    Arr v(v_[c.block].data() + c.begin, n);
    if (d != 0.0f) {
      m = b1 * m + (1.0f - b1) * (grad + d * value);
      v = b2 * v + (1.0f - b2) * (grad + d * value).square();
    } else {
      m = b1 * m + (1.0f - b1) * grad;
      v = b2 * v + (1.0f - b2) * grad.square();
    }
    value -= step * m / (v.sqrt() * inv_sqrt_bc2 + eps);
    return;
  }
  const float lr = static_cast<float>(config_.learning_rate);
  const float mu = static_cast<float>(config_.momentum);
  // PyTorch: the buffer starts as the first gradient (no dampening).
  if (t_ == 1) {
    m = grad + d * value;
  } else {
    m = mu * m + (grad + d * value);
  }
  if (mu == 0.0f) {
    value -= lr * (grad + d * value);
  } else if (config_.nesterov) {
    value -= lr * ((grad + d * value) + mu * m);
  } else {
    value -= lr * m;
  }
}

}  // namespace elmq
