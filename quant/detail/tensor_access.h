// Private (quant/detail): the kernels' view of a QuantizedTensor.
#pragma once

#include "quant/detail/kernels.h"
#include "quant/quantized_tensor.h"

namespace elmq {
namespace detail {

struct QuantizedTensorAccess {
  static QWeights view(const QuantizedTensor& t);
};

}  // namespace detail
}  // namespace elmq
