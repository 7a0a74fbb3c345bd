// The weights and biases of a multilayer perceptron (also used for their
// gradients).
//
// Layer l maps n_l inputs to n_{l+1} outputs: z = a W_l^T + b_l, with
// W_l stored n_{l+1} x n_l (one output channel per row, the layout of
// elm/common/matrix.h and of QuantizedTensor). Hidden layers apply ReLU; the
// last layer gives the class scores (logits).
#pragma once

#include <vector>

#include "elm/common/matrix.h"

namespace elmq {

struct MlpParams {
  std::vector<RowMatrixXf> weights;  ///< weights[l]: n_{l+1} x n_l
  std::vector<VectorXf> biases;      ///< biases[l]: n_{l+1}

  int n_layers() const { return static_cast<int>(weights.size()); }
  /// Layer widths n_0 (inputs), n_1, ..., n_L (outputs); empty if there are no layers.
  std::vector<Index> sizes() const;
  /// Total number of weights (biases not counted).
  Index n_weights() const;
  /// Zero-filled parameters of the given widths (sizes.size() >= 2, all >= 1).
  static MlpParams zeros(const std::vector<Index>& sizes);
  /// True if both have the same layer shapes.
  bool same_shape(const MlpParams& other) const;
};

}  // namespace elmq
