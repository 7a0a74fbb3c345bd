// Helpers shared by the quant tests: seeded data.
#pragma once

#include <cstdint>

#include "elm/common/matrix.h"
#include "elm/common/rng.h"
#include "quant/formats.h"
#include "quant/quantized_tensor.h"

namespace elmq {
namespace test {

inline RowMatrixXf normal_matrix(Index rows, Index cols, std::uint64_t seed, float sd = 1.0f) {
  Rng rng(seed);
  RowMatrixXf m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal()) * sd;
  return m;
}

inline RowMatrixXf uniform_int_matrix(Index rows, Index cols, int lo, int hi, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrixXf m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) {
    m.data()[i] = static_cast<float>(lo + static_cast<int>(rng.below(hi - lo + 1)));
  }
  return m;
}

inline std::vector<QuantFormat> integer_formats() {
  std::vector<QuantFormat> out;
  for (QuantFormat f : all_formats()) {
    if (!format_traits(f).is_float) out.push_back(f);
  }
  return out;
}

inline std::string format_param_name(QuantFormat f) {
  std::string s = format_name(f);
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

}  // namespace test
}  // namespace elmq
