// Helpers shared by the quantized-ELM tests: seeded data, small models, digits.
#pragma once

#include <cstdint>

#include "elm/common/errors.h"
#include "elm/common/rng.h"
#include "elm/data/datasets.h"
#include "elm/elm_model.h"

namespace elmq {
namespace qelm_test {

struct Blobs {
  RowMatrixXf x;
  LabelVector y;
};

/// k Gaussian blobs in d dimensions, labels 10, 20, ... (arbitrary integers).
inline Blobs make_blobs(Index n, Index d, Index k, std::uint64_t seed, double spread = 0.8) {
  Rng rng(seed);
  Rng centre_rng(999);
  RowMatrixXf centres(k, d);
  for (Index i = 0; i < centres.size(); ++i) {
    centres.data()[i] = static_cast<float>(2.0 * centre_rng.normal());
  }
  Blobs b{RowMatrixXf(n, d), LabelVector(n)};
  for (Index i = 0; i < n; ++i) {
    const auto c = static_cast<Index>(rng.below(static_cast<std::uint64_t>(k)));
    b.y[i] = 10 * (c + 1);
    for (Index j = 0; j < d; ++j) {
      b.x(i, j) = centres(c, j) + static_cast<float>(spread * rng.normal());
    }
  }
  return b;
}

/// One tanh group of L neurons, single-threaded, small chunks (several per fit).
inline ElmConfig small_config(Index L, bool auto_lambda = true, double lambda = 1e-2) {
  ElmConfig c;
  c.hidden.groups = {NeuronGroup{}};
  c.hidden.groups[0].count = L;
  c.hidden.groups[0].activation = Activation::kTanh;
  c.hidden.seed = 5;
  c.ridge.auto_lambda = auto_lambda;
  c.ridge.lambda = lambda;
  c.chunk_rows = 128;
  c.threads = 1;
  return c;
}

/// sklearn's digits (1797 x 64, 10 classes, 75/25 split, seed 0), or nullptr
/// when the data files are not installed.
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

}  // namespace qelm_test
}  // namespace elmq

#define ELMQ_REQUIRE_DIGITS()                                                    \
  const ::elmq::DatasetSplit* data = ::elmq::qelm_test::digits();                \
  if (data == nullptr) GTEST_SKIP() << "sklearn digits data not installed (see " \
                                       "elm/data/datasets.h)"
