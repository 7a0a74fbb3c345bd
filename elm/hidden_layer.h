// The fixed random hidden layer of an ELM.
//
// A layer is a list of neuron groups (e.g. 1500 tanh + 500 RBF). Each group's
// weights are drawn from elmq's own generator (elm/common/rng.h) with one
// stream per neuron, so a (config, seed, n_inputs) triple gives the same layer
// on every platform and thread count. Projection neurons compute
// h = g(w . x + b); RBF neurons compute h = exp(-gamma * ||x - c||^2) with
// centres drawn from the training rows and gamma = 1 / (2 sigma^2).
//
// Weights are stored explicitly (one neuron per row, L x d), so a saved model
// never depends on regenerating them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elm/common/matrix.h"
#include "elm/common/serialize.h"

namespace elmq {

enum class Activation : std::uint32_t {
  kSigmoid = 0,
  kTanh = 1,
  kRelu = 2,
  kSin = 3,
  kLinear = 4,
  kRbf = 5,  ///< Gaussian radial basis neuron (distance to a centre)
};

/// How projection weights are drawn. All schemes have variance scale^2 / d
/// for d inputs, so pre-activations stay O(1) for standardized inputs.
enum class WeightInit : std::uint32_t {
  kUniform = 0,  ///< U(-a, a), a = scale * sqrt(3 / d)
  kNormal = 1,   ///< N(0, scale^2 / d)
  kTernary = 2,  ///< {-1, 0, +1} * scale / sqrt(d * density), P(nonzero) = density
};

const char* activation_name(Activation a);
const char* weight_init_name(WeightInit w);
/// Parses "sigmoid", "tanh", "relu", "sin", "linear", "rbf"; @throws InvalidArgument.
Activation parse_activation(const std::string& name);
/// Parses "uniform", "normal", "ternary"; @throws InvalidArgument.
WeightInit parse_weight_init(const std::string& name);

struct NeuronGroup {
  Index count = 1000;
  Activation activation = Activation::kTanh;
  WeightInit init = WeightInit::kNormal;  ///< ignored by RBF neurons
  float weight_scale = 1.0f;              ///< multiplies the scheme's standard deviation
  float bias_scale = 1.0f;                ///< biases ~ U(-bias_scale, bias_scale)
  float ternary_density = 1.0f / 3.0f;    ///< in (0, 1], WeightInit::kTernary only
  float rbf_width = 1.0f;  ///< sigma = rbf_width * median centre distance (RBF only), > 0

  /// @throws InvalidArgument naming the bad field and its allowed range.
  void validate() const;
};

struct HiddenLayerConfig {
  std::vector<NeuronGroup> groups{NeuronGroup{}};
  std::uint64_t seed = 42;

  Index n_neurons() const;
  bool has_rbf() const;
  /// @throws InvalidArgument (no groups, a bad group, more than 1e6 neurons).
  void validate() const;
  /// Parses "2000:tanh" or "1500:tanh,500:rbf" (init and scales keep their defaults).
  static std::vector<NeuronGroup> parse_groups(const std::string& spec);
  std::string describe() const;  ///< e.g. "1500 tanh (normal) + 500 rbf"
};

class HiddenLayer {
 public:
  HiddenLayer() = default;

  /// Draws a layer for `n_inputs` features.
  /// @param centre_source rows from which RBF centres are drawn (already
  ///        scaled; ignored when no group is RBF, else needs >= 1 row).
  /// @param input_rms root mean square of the (scaled) input entries; projection
  ///        weights are divided by it so that pre-activations have standard
  ///        deviation ~ weight_scale whatever the input scaling (> 0).
  /// @throws InvalidArgument on a bad config or inputs.
  static HiddenLayer create(const HiddenLayerConfig& config, Index n_inputs,
                            const ConstMatrixRef& centre_source, float input_rms = 1.0f);

  /// Builds a layer from explicit parameters (e.g. weights on a quantization
  /// grid). weights: L x d; bias: L; rbf_gamma: L (used by RBF neurons only).
  /// @throws InvalidArgument if shapes disagree with the config.
  static HiddenLayer from_parameters(const HiddenLayerConfig& config, RowMatrixXf weights,
                                     VectorXf bias, VectorXf rbf_gamma);

  bool empty() const { return weights_.size() == 0; }
  Index n_inputs() const { return weights_.cols(); }
  Index n_neurons() const { return weights_.rows(); }
  const HiddenLayerConfig& config() const { return config_; }
  /// L x d, one neuron per row (RBF neurons: their centre).
  const RowMatrixXf& weights() const { return weights_; }
  const VectorXf& bias() const { return bias_; }
  const VectorXf& rbf_gamma() const { return rbf_gamma_; }

  /// H = g(X W^T + b) for already-scaled X (n x d) into H (n x L).
  /// Uses up to `threads` threads; the result does not depend on `threads`.
  /// @throws InvalidArgument on shape mismatch.
  void transform(const ConstMatrixRef& x, MatrixRef h, int threads) const;
  RowMatrixXf transform(const ConstMatrixRef& x, int threads) const;

  /// Pre-activations of one already-scaled sample (x: n_inputs() values) for
  /// the neurons [begin, end): z[i - begin] = W_i . x + b_i. The
  /// single-sample path (ElmModel and OnlineElm decision_row / learn_row).
  /// Each neuron's sum runs in one fixed order whatever the range (packets of
  /// its row in order into one accumulator, their horizontal sum, the
  /// remaining columns, then the bias), so ranges split across threads give
  /// the bits of one call. Not checked (real-time path): 0 <= begin <= end
  /// <= n_neurons().
  void project_row(const float* x, float* z, Index begin, Index end) const;

  /// Applies the activations in place to pre-activations Z = X W^T (+ nothing),
  /// given the squared norms of the input rows (needed by RBF neurons only).
  /// Exposed so that other kernels (e.g. quantized products) can reuse it.
  void activate(MatrixRef z, const Eigen::Ref<const VectorXf>& x_sq_norms) const;

  void save(RecordWriter& w) const;
  static HiddenLayer load(const RecordReader& r);

 private:
  HiddenLayerConfig config_;
  RowMatrixXf weights_;
  VectorXf bias_;
  VectorXf rbf_gamma_;
  VectorXf centre_sq_norms_;
};

}  // namespace elmq
