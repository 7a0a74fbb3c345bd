// First-order optimizers for the MLP: Adam and SGD with momentum, both with
// L2 weight decay (added to the gradient, as torch.optim.Adam / SGD do).
//
// An optimizer updates a fixed list of parameter blocks in place. Each block
// points at caller-owned storage (values and their gradients) that must stay
// where it is for the optimizer's lifetime; the optimizer preallocates its own
// state (moments) once, so a step never allocates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elm/common/matrix.h"

namespace elmq {

enum class OptimizerKind : std::uint32_t {
  kAdam = 0,  ///< Adam (Kingma & Ba) with bias correction
  kSgd = 1,   ///< SGD with (optionally Nesterov) momentum, PyTorch's form
};
const char* optimizer_name(OptimizerKind kind);
/// Parses "adam" or "sgd"; @throws InvalidArgument listing both.
OptimizerKind parse_optimizer(const std::string& name);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kAdam;
  /// Step size, in (0, 10].
  double learning_rate = 1e-3;
  /// Adam: moment decay rates in [0, 1) and epsilon in (0, 1].
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  /// SGD: momentum in [0, 1) (0: plain SGD); Nesterov needs momentum > 0.
  double momentum = 0.9;
  bool nesterov = false;
  /// L2 penalty added to the gradient of the blocks marked `decay` (the
  /// weights, not the biases), in [0, 1].
  double weight_decay = 0.0;

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

/// One trainable array: `size` values and their gradients (both caller-owned).
struct ParamBlock {
  float* value = nullptr;
  const float* grad = nullptr;
  Index size = 0;
  bool decay = false;  ///< apply weight decay to this block
};

class Optimizer {
 public:
  /// @throws InvalidArgument on a bad config or a block with null pointers / negative size.
  Optimizer(const OptimizerConfig& config, std::vector<ParamBlock> blocks);

  /// One update of every block from its current gradient, elementwise in
  /// fixed chunks on up to `threads` threads (the result does not depend on
  /// the count). No allocation.
  void step(int threads = 1);
  /// Changes the step size (e.g. a schedule); @throws InvalidArgument unless in (0, 10].
  void set_learning_rate(double lr);

  const OptimizerConfig& config() const { return config_; }
  std::int64_t steps() const { return t_; }
  const std::vector<ParamBlock>& blocks() const { return blocks_; }

 private:
  OptimizerConfig config_;
  std::vector<ParamBlock> blocks_;
  struct Chunk {
    std::size_t block;
    Index begin, end;
  };
  void update(const Chunk& c);

  std::vector<std::vector<float>> m_, v_;  // Adam moments, or the SGD momentum buffer in m_
  std::vector<Chunk> chunks_;
  Index total_ = 0;
  std::int64_t t_ = 0;
};

}  // namespace elmq
