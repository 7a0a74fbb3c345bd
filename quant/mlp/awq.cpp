#include "quant/mlp/awq.h"

#include <cmath>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "quant/elm/gptq.h"
#include "quant/quantized_tensor.h"

namespace elmq {

void AwqConfig::validate() const {
  ELMQ_CHECK_ARG(grid >= 1 && grid <= 1000, "AwqConfig: grid must be in [1, 1000], got ", grid);
  ELMQ_CHECK_ARG(min_activation > 0.0f && min_activation <= 1.0f,
                 "AwqConfig: min_activation must be in (0, 1], got ", min_activation);
  ELMQ_CHECK_ARG(threads >= 0, "AwqConfig: threads must be >= 0 (0 = all), got ", threads);
  try {
    range.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(str_cat("AwqConfig: range: ", e.what()));
  }
}

AwqSearchResult awq_search_scales(const ConstMatrixRef& w, const ConstVectorRef& mean_abs,
                                  const Eigen::Ref<const RowMatrixXd>& hessian, QuantFormat format,
                                  const AwqConfig& config) {
  const char* where = "awq_search_scales";
  config.validate();
  const Index k = w.cols();
  ELMQ_CHECK_ARG(w.rows() >= 1 && k >= 1, where, ": w is ", w.rows(), " x ", k);
  ELMQ_CHECK_ARG(mean_abs.size() == k, where, ": mean_abs has ", mean_abs.size(),
                 " entries, w has ", k, " columns");
  ELMQ_CHECK_ARG(hessian.rows() == k && hessian.cols() == k, where, ": hessian is ", hessian.rows(),
                 " x ", hessian.cols(), ", expected ", k, " x ", k);
  ELMQ_CHECK_ARG(!format_traits(format).is_float, where, ": format ", format_name(format),
                 " is a float format (AWQ needs an integer format)");
  check_finite(w, where, "w");
  ELMQ_CHECK_ARG(mean_abs.allFinite() && (mean_abs.array() >= 0.0f).all(), where,
                 ": mean_abs must be finite and >= 0");
  ELMQ_CHECK_ARG(hessian.allFinite(), where, ": hessian must be finite");

  const int threads = resolve_threads(config.threads);
  const VectorXd m = mean_abs.cast<double>().cwiseMax(static_cast<double>(config.min_activation));
  AwqSearchResult result;
  result.losses.resize(static_cast<std::size_t>(config.grid));
  // Each alpha is independent: one task each, results in a fixed slot.
  std::vector<VectorXf> scales(static_cast<std::size_t>(config.grid));
  parallel_for(config.grid, threads, [&](std::int64_t i) {
    const double alpha = static_cast<double>(i) / config.grid;
    VectorXd s = m.array().pow(alpha);
    s /= std::sqrt(s.maxCoeff() * s.minCoeff());
    const VectorXf sf = s.cast<float>();
    const RowMatrixXf scaled = w * sf.asDiagonal();
    const QuantizedTensor q = QuantizedTensor::quantize(scaled, format, config.range, 1);
    const RowMatrixXf w_hat = q.dequantize() * sf.cwiseInverse().asDiagonal();
    result.losses[static_cast<std::size_t>(i)] = quadratic_loss(w, w_hat, hessian).sum();
    scales[static_cast<std::size_t>(i)] = sf;
  });
  std::size_t best = 0;
  for (std::size_t i = 1; i < result.losses.size(); ++i) {
    if (result.losses[i] < result.losses[best]) best = i;
  }
  result.scales = scales[best];
  result.alpha = static_cast<double>(best) / config.grid;
  result.loss = result.losses[best];
  result.rtn_loss = result.losses[0];
  return result;
}

}  // namespace elmq
