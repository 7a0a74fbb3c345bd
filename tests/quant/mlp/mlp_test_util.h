// Seeded data and small trained models shared by the MLP tests.
#pragma once

#include <cmath>
#include <cstdint>

#include "elm/common/matrix.h"
#include "elm/common/rng.h"
#include "quant/mlp/mlp.h"

namespace elmq {
namespace test {

struct Labelled {
  RowMatrixXf x;
  LabelVector y;
};

/// XOR of the signs of the first two of `d` uniform [-1, 1] features (the
/// rest are noise): not linearly separable. Labels -3 and 8.
inline Labelled make_xor(Index n, Index d, std::uint64_t seed) {
  Rng rng(seed);
  Labelled s{RowMatrixXf(n, d), LabelVector(n)};
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) s.x(i, j) = static_cast<float>(rng.uniform(-1.0, 1.0));
    s.y[i] = (s.x(i, 0) * s.x(i, 1) > 0.0f) ? 8 : -3;
  }
  return s;
}

/// `classes` Gaussian clusters in `d` dimensions (centres drawn from
/// Rng(centre_seed), unit-normal noise times `spread`), labels 0..classes-1;
/// the features pass through x -> x + 0.5 sin(2x) so a linear model is not enough.
inline Labelled make_clusters(Index n, Index d, int classes, std::uint64_t seed,
                              double spread = 1.0, std::uint64_t centre_seed = 99) {
  Rng crng(centre_seed);
  RowMatrixXf centres(classes, d);
  for (Index i = 0; i < centres.size(); ++i) centres.data()[i] = static_cast<float>(crng.normal());
  Rng rng(seed);
  Labelled s{RowMatrixXf(n, d), LabelVector(n)};
  for (Index i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng.below(static_cast<std::uint64_t>(classes)));
    s.y[i] = c;
    for (Index j = 0; j < d; ++j) {
      const double v = centres(c, j) + spread * rng.normal();
      s.x(i, j) = static_cast<float>(v + 0.5 * std::sin(2.0 * v));
    }
  }
  return s;
}

inline MlpConfig small_config(std::vector<Index> hidden = {16, 16}) {
  MlpConfig c;
  c.hidden = std::move(hidden);
  c.scaling = ScalingKind::kStandardize;
  c.batch_size = 32;
  c.epochs = 20;
  c.optimizer.learning_rate = 3e-3;
  c.seed = 7;
  c.threads = 1;
  return c;
}

}  // namespace test
}  // namespace elmq
