#include "quant/range.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "elm/common/errors.h"
#include "quant/half.h"

namespace elmq {

void RangeOptions::validate() const {
  ELMQ_CHECK_ARG(method == Method::kAbsMax || method == Method::kMseSearch,
                 "RangeOptions: method must be kAbsMax (0) or kMseSearch (1), got ",
                 static_cast<std::uint32_t>(method));
  ELMQ_CHECK_ARG(grid >= 1 && grid <= 1000, "RangeOptions: grid must be in [1, 1000], got ", grid);
  ELMQ_CHECK_ARG(min_shrink > 0.0f && min_shrink <= 1.0f,
                 "RangeOptions: min_shrink must be in (0, 1], got ", min_shrink);
  for (Index i = 0; i < importance.size(); ++i) {
    ELMQ_CHECK_ARG(std::isfinite(importance[i]) && importance[i] >= 0.0f,
                   "RangeOptions: importance[", i, "] must be finite and >= 0, got ",
                   importance[i]);
  }
}

void RangeOptions::validate_for(Index cols) const {
  validate();
  ELMQ_CHECK_ARG(importance.size() == 0 || importance.size() == cols,
                 "RangeOptions: importance has ", importance.size(),
                 " entries, expected 0 or one per column (", cols, ")");
}

const char* range_method_name(RangeOptions::Method m) {
  switch (m) {
    case RangeOptions::Method::kAbsMax:
      return "absmax";
    case RangeOptions::Method::kMseSearch:
      return "mse-search";
  }
  return "unknown";
}

namespace {

// Smallest value of the precision >= v (v finite, >= 0).
float store_up(double v, ScalePrecision p, const char* what) {
  float s;
  if (p == ScalePrecision::kF16) {
    s = half_to_float(half_round_up(v));
  } else {
    s = static_cast<float>(v);
    if (static_cast<double>(s) < v) s = std::nextafter(s, std::numeric_limits<float>::infinity());
  }
  ELMQ_CHECK_ARG(std::isfinite(s), "quantize: ", what, " ", v, " does not fit the ",
                 p == ScalePrecision::kF16 ? "fp16" : "fp32",
                 " scale storage of this format (use a wider format or rescale the weights)");
  return s;
}

float store_down(double v, ScalePrecision p, const char* what) {
  float s;
  if (p == ScalePrecision::kF16) {
    s = half_to_float(half_round_down(v));
  } else {
    s = static_cast<float>(v);
    if (static_cast<double>(s) > v) s = std::nextafter(s, -std::numeric_limits<float>::infinity());
  }
  ELMQ_CHECK_ARG(std::isfinite(s), "quantize: ", what, " ", v, " does not fit the ",
                 p == ScalePrecision::kF16 ? "fp16" : "fp32",
                 " scale storage of this format (use a wider format or rescale the weights)");
  return s;
}

float store_nearest(double v, ScalePrecision p, const char* what) {
  const float s = p == ScalePrecision::kF16 ? half_to_float(float_to_half(static_cast<float>(v)))
                                            : static_cast<float>(v);
  ELMQ_CHECK_ARG(std::isfinite(s), "quantize: ", what, " ", v, " does not fit the ",
                 p == ScalePrecision::kF16 ? "fp16" : "fp32",
                 " scale storage of this format (use a wider format or rescale the weights)");
  return s;
}

double sym_error(const float* x, const float* imp, Index n, int qmin, int qmax, float s) {
  double err = 0.0;
  for (Index i = 0; i < n; ++i) {
    double q = std::nearbyint(static_cast<double>(x[i]) / s);
    q = std::min<double>(std::max<double>(q, qmin), qmax);
    const double e = static_cast<double>(x[i]) - static_cast<double>(s) * q;
    err += (imp ? static_cast<double>(imp[i]) : 1.0) * e * e;
  }
  return err;
}

double affine_error(const float* x, const float* imp, Index n, int qmax, float s, float m) {
  double err = 0.0;
  for (Index i = 0; i < n; ++i) {
    double q = std::nearbyint((static_cast<double>(x[i]) - m) / s);
    q = std::min<double>(std::max<double>(q, 0.0), qmax);
    const double e = static_cast<double>(x[i]) - (static_cast<double>(s) * q + m);
    err += (imp ? static_cast<double>(imp[i]) : 1.0) * e * e;
  }
  return err;
}

double shrink_factor(const RangeOptions& opt, int i) {
  return 1.0 - static_cast<double>(i) * (1.0 - static_cast<double>(opt.min_shrink)) / opt.grid;
}

}  // namespace

float choose_symmetric_scale(const float* x, const float* importance, Index n, int qmax,
                             ScalePrecision precision, const RangeOptions& opt) {
  ELMQ_CHECK_ARG(n >= 1 && qmax >= 1,
                 "choose_symmetric_scale: need n >= 1 and qmax >= 1, got n=", n, ", qmax=", qmax);
  double amax = 0.0;
  for (Index i = 0; i < n; ++i) amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
  ELMQ_CHECK_ARG(std::isfinite(amax), "choose_symmetric_scale: weights must be finite");
  if (amax == 0.0) return 0.0f;
  const double base = amax / qmax;
  float best_s = store_up(base, precision, "scale");
  if (opt.method == RangeOptions::Method::kAbsMax) return best_s;
  double best_err = sym_error(x, importance, n, -qmax, qmax, best_s);
  for (int i = 1; i <= opt.grid; ++i) {
    const float s = store_up(base * shrink_factor(opt, i), precision, "scale");
    if (s <= 0.0f) continue;
    const double err = sym_error(x, importance, n, -qmax, qmax, s);
    if (err < best_err) {
      best_err = err;
      best_s = s;
    }
  }
  return best_s;
}

AffineParams choose_affine_params(const float* x, const float* importance, Index n, int qmax,
                                  ScalePrecision precision, const RangeOptions& opt) {
  ELMQ_CHECK_ARG(n >= 1 && qmax >= 1, "choose_affine_params: need n >= 1 and qmax >= 1, got n=", n,
                 ", qmax=", qmax);
  double lo = x[0], hi = x[0];
  for (Index i = 1; i < n; ++i) {
    lo = std::min(lo, static_cast<double>(x[i]));
    hi = std::max(hi, static_cast<double>(x[i]));
  }
  ELMQ_CHECK_ARG(std::isfinite(lo) && std::isfinite(hi),
                 "choose_affine_params: weights must be finite");
  AffineParams best;
  if (hi == lo) {
    best.min = store_nearest(lo, precision, "min");
    return best;
  }
  auto candidate = [&](double shrink) {
    const double c = 0.5 * (lo + hi);
    const double l = c - shrink * (c - lo), h = c + shrink * (hi - c);
    AffineParams p;
    p.min = store_down(l, precision, "min");
    p.scale = store_up((h - p.min) / qmax, precision, "scale");
    return p;
  };
  best = candidate(1.0);
  if (opt.method == RangeOptions::Method::kAbsMax) return best;
  double best_err = affine_error(x, importance, n, qmax, best.scale, best.min);
  for (int i = 1; i <= opt.grid; ++i) {
    const AffineParams p = candidate(shrink_factor(opt, i));
    if (p.scale <= 0.0f) continue;
    const double err = affine_error(x, importance, n, qmax, p.scale, p.min);
    if (err < best_err) {
      best_err = err;
      best = p;
    }
  }
  return best;
}

float choose_ternary_scale(const float* x, const float* importance, Index n,
                           ScalePrecision precision, const RangeOptions& opt) {
  ELMQ_CHECK_ARG(n >= 1, "choose_ternary_scale: need n >= 1, got ", n);
  double sum_abs = 0.0;
  for (Index i = 0; i < n; ++i) sum_abs += std::fabs(static_cast<double>(x[i]));
  ELMQ_CHECK_ARG(std::isfinite(sum_abs), "choose_ternary_scale: weights must be finite");
  if (sum_abs == 0.0) return 0.0f;
  float s = store_nearest(sum_abs / static_cast<double>(n), precision, "scale");
  if (opt.method == RangeOptions::Method::kAbsMax || s == 0.0f) return s;
  float best_s = s;
  double best_err = sym_error(x, importance, n, -1, 1, s);
  for (int it = 0; it < opt.grid; ++it) {
    // Lloyd step: the least-squares scale for the current codes.
    double num = 0.0, den = 0.0;
    for (Index i = 0; i < n; ++i) {
      const double a = std::fabs(static_cast<double>(x[i]));
      if (std::nearbyint(a / s) >= 1.0) {
        const double w = importance ? static_cast<double>(importance[i]) : 1.0;
        num += w * a;
        den += w;
      }
    }
    if (den <= 0.0) break;
    const float next = store_nearest(num / den, precision, "scale");
    if (next == s || next <= 0.0f) break;
    s = next;
    const double err = sym_error(x, importance, n, -1, 1, s);
    if (err < best_err) {
      best_err = err;
      best_s = s;
    }
  }
  return best_s;
}

void choose_row_params(QuantFormat format, const float* row, Index cols, const RangeOptions& opt,
                       float* scales, float* mins) {
  const FormatTraits& t = format_traits(format);
  ELMQ_CHECK_ARG(!t.is_float, "choose_row_params: format ", t.name, " has no scales");
  ELMQ_CHECK_ARG(cols >= 1, "choose_row_params: cols must be >= 1, got ", cols);
  ELMQ_CHECK_ARG(t.symmetric || mins != nullptr, "choose_row_params: format ", t.name,
                 " is asymmetric, mins must not be null");
  opt.validate_for(cols);
  const float* imp = opt.importance.size() ? opt.importance.data() : nullptr;
  const bool ternary = t.qmax == 1;
  const ScalePrecision prec =
      t.scale_kind == ScaleKind::kF16PerGroup ? ScalePrecision::kF16 : ScalePrecision::kF32;
  const Index group = t.group == 0 ? cols : t.group;
  const Index groups = format_groups_per_row(format, cols);
  for (Index g = 0; g < groups; ++g) {
    const Index k0 = g * group, n = std::min(group, cols - k0);
    const float* gi = imp ? imp + k0 : nullptr;
    if (ternary) {
      scales[g] = choose_ternary_scale(row + k0, gi, n, prec, opt);
    } else if (t.symmetric) {
      scales[g] = choose_symmetric_scale(row + k0, gi, n, t.qmax, prec, opt);
    } else {
      const AffineParams p = choose_affine_params(row + k0, gi, n, t.qmax, prec, opt);
      scales[g] = p.scale;
      mins[g] = p.min;
    }
    if (mins && t.symmetric) mins[g] = 0.0f;
  }
}

int quantize_value(const FormatTraits& traits, float x, float scale, float min) {
  ELMQ_CHECK_ARG(std::isfinite(x) && std::isfinite(scale) && std::isfinite(min),
                 "quantize_value: x, scale and min must be finite, got ", x, ", ", scale, ", ",
                 min);
  if (scale == 0.0f) return 0;
  const double v =
      traits.symmetric ? static_cast<double>(x) / scale : (static_cast<double>(x) - min) / scale;
  double q = std::nearbyint(v);
  q = std::min<double>(std::max<double>(q, traits.qmin), traits.qmax);
  return static_cast<int>(q);
}

float dequantize_value(const FormatTraits& traits, int q, float scale, float min) {
  const float w = scale * static_cast<float>(q);
  return traits.symmetric ? w : w + min;
}

}  // namespace elmq
