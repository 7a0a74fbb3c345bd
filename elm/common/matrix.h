// elmq's one data layout: row-major float32 matrices, one sample per row.
//
// Every public function that takes data takes `ConstMatrixRef` (an
// `Eigen::Ref<const RowMatrixXf>`), so a C-contiguous float32 numpy array, a
// `RowMatrixXf`, or a block of rows of one maps without a copy. Element (i, j)
// of an n x d matrix lives at `data[i * d + j]`. Weight matrices follow the
// same rule with one output channel (neuron) per row, so a layer computes
// Y = X * W^T (+ bias).
#pragma once

#include <cstdint>

#include <Eigen/Core>

namespace elmq {

using Index = std::int64_t;

using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorXf = Eigen::VectorXf;
using VectorXd = Eigen::VectorXd;
/// Class labels: arbitrary 64-bit integers, one per sample.
using LabelVector = Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>;

/// Read-only view of row-major float32 data (n samples x d features).
using ConstMatrixRef = Eigen::Ref<const RowMatrixXf>;
/// Writable view of row-major float32 data, e.g. a caller-owned output buffer.
using MatrixRef = Eigen::Ref<RowMatrixXf>;
using ConstVectorRef = Eigen::Ref<const VectorXf>;
using ConstLabelRef = Eigen::Ref<const LabelVector>;

}  // namespace elmq
