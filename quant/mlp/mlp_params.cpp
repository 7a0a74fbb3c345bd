#include "quant/mlp/mlp_params.h"

namespace elmq {

std::vector<Index> MlpParams::sizes() const {
  std::vector<Index> s;
  if (weights.empty()) return s;
  s.push_back(weights[0].cols());
  for (const auto& w : weights) s.push_back(w.rows());
  return s;
}

Index MlpParams::n_weights() const {
  Index n = 0;
  for (const auto& w : weights) n += w.size();
  return n;
}

MlpParams MlpParams::zeros(const std::vector<Index>& sizes) {
  MlpParams p;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    p.weights.push_back(RowMatrixXf::Zero(sizes[l + 1], sizes[l]));
    p.biases.push_back(VectorXf::Zero(sizes[l + 1]));
  }
  return p;
}

bool MlpParams::same_shape(const MlpParams& o) const {
  if (weights.size() != o.weights.size() || biases.size() != o.biases.size()) return false;
  for (std::size_t l = 0; l < weights.size(); ++l) {
    if (weights[l].rows() != o.weights[l].rows() || weights[l].cols() != o.weights[l].cols() ||
        biases[l].size() != o.biases[l].size()) {
      return false;
    }
  }
  return true;
}

}  // namespace elmq
