#include "quant/quantized_tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "quant/detail/codec.h"
#include "quant/detail/tensor_access.h"
#include "quant/half.h"

namespace elmq {

namespace {

constexpr std::uint32_t kTagVersion = tag("QVER");
constexpr std::uint32_t kTagFormat = tag("QFMT");
constexpr std::uint32_t kTagRows = tag("QROW");
constexpr std::uint32_t kTagCols = tag("QCOL");
constexpr std::uint32_t kTagData = tag("QDAT");
constexpr std::uint32_t kTagScales = tag("QSCL");
constexpr std::uint64_t kTensorVersion = 1;
// Sanity bound for a dimension read from a file (2^40).
constexpr std::uint64_t kMaxDim = 1ULL << 40;

bool per_channel(const FormatTraits& t) { return t.scale_kind == ScaleKind::kF32PerRow; }
bool grouped(const FormatTraits& t) { return t.scale_kind == ScaleKind::kF16PerGroup; }

// Code bytes of one block whose codes are all the zero code.
std::vector<std::uint8_t> zero_chunk(QuantFormat f) {
  const detail::Layout l = detail::layout_of(f);
  std::vector<std::uint8_t> block(l.block_bytes, 0);
  for (int k = 0; k < l.chunk; ++k) {
    detail::set_code(l, block.data(), k, format_traits(f).code_offset);
  }
  return std::vector<std::uint8_t>(block.begin() + l.header_bytes, block.end());
}

std::uint64_t block_bytes_per_row(QuantFormat f, Index cols) {
  return static_cast<std::uint64_t>(format_blocks_per_row(f, cols)) *
         static_cast<std::uint64_t>(format_traits(f).block_bytes);
}

}  // namespace

std::uint64_t QuantizedTensor::row_block_bytes() const {
  return block_bytes_per_row(format_, cols_);
}

void QuantizedTensor::allocate(QuantFormat format, Index rows, Index cols) {
  const FormatTraits& t = format_traits(format);
  format_ = format;
  rows_ = rows;
  cols_ = cols;
  const std::uint64_t rb = block_bytes_per_row(format, cols);
  data_.assign(static_cast<std::size_t>(rb * static_cast<std::uint64_t>(rows)), 0);
  row_scale_.assign(per_channel(t) && cols > 0 ? static_cast<std::size_t>(rows) : 0, 0.0f);
  if (t.is_float || data_.empty()) return;
  const detail::Layout l = detail::layout_of(format);
  const std::vector<std::uint8_t> zero = zero_chunk(format);
  const Index blocks = format_blocks_per_row(format, cols) * rows;
  for (Index b = 0; b < blocks; ++b) {
    std::memcpy(data_.data() + b * l.block_bytes + l.header_bytes, zero.data(), zero.size());
  }
}

void QuantizedTensor::quantize_row(Index r, const float* x, const RangeOptions& range) {
  const FormatTraits& t = traits();
  std::uint8_t* row = data_.data() + static_cast<std::size_t>(r) * row_block_bytes();
  if (format_ == QuantFormat::kF32) {
    std::memcpy(row, x, static_cast<std::size_t>(cols_) * 4);
    return;
  }
  if (t.is_float) {
    for (Index k = 0; k < cols_; ++k) {
      const std::uint16_t h =
          format_ == QuantFormat::kF16 ? float_to_half(x[k]) : float_to_bfloat16(x[k]);
      ELMQ_CHECK_ARG((h & 0x7FFFu) < 0x7C00u || format_ != QuantFormat::kF16,
                     "QuantizedTensor::quantize: weight ", x[k], " at (", r, ", ", k,
                     ") overflows f16 (max 65504)");
      ELMQ_CHECK_ARG((h & 0x7FFFu) < 0x7F80u || format_ != QuantFormat::kBF16,
                     "QuantizedTensor::quantize: weight ", x[k], " at (", r, ", ", k,
                     ") overflows bf16");
      std::memcpy(row + 2 * k, &h, 2);
    }
    return;
  }
  const Index groups = groups_per_row();
  std::vector<float> scales(groups), mins(groups, 0.0f);
  choose_row_params(format_, x, cols_, range, scales.data(), mins.data());
  const detail::Layout l = detail::layout_of(format_);
  const Index group = t.group == 0 ? cols_ : t.group;
  if (per_channel(t)) {
    row_scale_[r] = scales[0];
  } else {
    for (Index g = 0; g < groups; ++g) {
      std::uint8_t* blk = row + g * l.block_bytes;
      detail::store_half(blk, float_to_half(scales[g]));
      if (!t.symmetric) detail::store_half(blk + 2, float_to_half(mins[g]));
    }
  }
  for (Index k = 0; k < cols_; ++k) {
    const Index g = k / group;
    const int q = quantize_value(t, x[k], scales[g], mins[g]);
    detail::set_code(l, row, k, q + t.code_offset);
  }
}

QuantizedTensor QuantizedTensor::quantize(const ConstMatrixRef& w, QuantFormat format,
                                          const RangeOptions& range, int threads) {
  format_traits(format);  // validates the enum value
  range.validate_for(w.cols());
  const int nthreads = resolve_threads(threads);
  check_finite(w, "QuantizedTensor::quantize", "w");
  QuantizedTensor q;
  q.allocate(format, w.rows(), w.cols());
  if (!q.empty()) {
    parallel_for_range(w.rows(), 16, nthreads, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        q.quantize_row(r, w.data() + r * w.outerStride(), range);
      }
    });
  }
  q.prepare();
  return q;
}

QuantizedTensor QuantizedTensor::from_codes(QuantFormat format,
                                            const Eigen::Ref<const CodeMatrix>& codes,
                                            const ConstMatrixRef& scales,
                                            const ConstMatrixRef& mins) {
  const FormatTraits& t = format_traits(format);
  ELMQ_CHECK_ARG(!t.is_float, "QuantizedTensor::from_codes: format ", t.name,
                 " is a float format (use quantize)");
  const Index n = codes.rows(), k = codes.cols();
  const Index groups = format_groups_per_row(format, k);
  ELMQ_CHECK_ARG(scales.rows() == n && scales.cols() == groups,
                 "QuantizedTensor::from_codes: ", "scales is ", scales.rows(), " x ", scales.cols(),
                 ", expected ", n, " x ", groups, " for ", t.name, " with ", k, " columns");
  if (t.symmetric) {
    ELMQ_CHECK_ARG(mins.size() == 0, "QuantizedTensor::from_codes: format ", t.name,
                   " is symmetric, mins must be empty, got ", mins.rows(), " x ", mins.cols());
  } else {
    ELMQ_CHECK_ARG(mins.rows() == n && mins.cols() == groups,
                   "QuantizedTensor::from_codes: ", "mins is ", mins.rows(), " x ", mins.cols(),
                   ", expected ", n, " x ", groups);
  }
  for (Index r = 0; r < n; ++r) {
    for (Index g = 0; g < groups; ++g) {
      const float s = scales(r, g);
      ELMQ_CHECK_ARG(std::isfinite(s) && s >= 0.0f && (!grouped(t) || s <= kHalfMax),
                     "QuantizedTensor::from_codes: scales(", r, ", ", g, ") = ", s,
                     " must be finite, >= 0", grouped(t) ? " and <= 65504 (fp16)" : "");
      if (!t.symmetric) {
        const float m = mins(r, g);
        ELMQ_CHECK_ARG(std::isfinite(m) && std::fabs(m) <= kHalfMax,
                       "QuantizedTensor::from_codes: mins(", r, ", ", g, ") = ", m,
                       " must be finite with |min| <= 65504 (fp16)");
      }
    }
    for (Index c = 0; c < k; ++c) {
      const int q = codes(r, c);
      ELMQ_CHECK_ARG(q >= t.qmin && q <= t.qmax, "QuantizedTensor::from_codes: codes(", r, ", ", c,
                     ") = ", q, " is outside [", t.qmin, ", ", t.qmax, "] of ", t.name);
    }
  }
  QuantizedTensor out;
  out.allocate(format, n, k);
  if (!out.empty()) {
    const detail::Layout l = detail::layout_of(format);
    const Index group = t.group == 0 ? k : t.group;
    for (Index r = 0; r < n; ++r) {
      std::uint8_t* row = out.data_.data() + static_cast<std::size_t>(r) * out.row_block_bytes();
      if (per_channel(t)) {
        out.row_scale_[r] = scales(r, 0);
      } else {
        for (Index g = 0; g < groups; ++g) {
          detail::store_half(row + g * l.block_bytes, float_to_half(scales(r, g)));
          if (!t.symmetric)
            detail::store_half(row + g * l.block_bytes + 2, float_to_half(mins(r, g)));
        }
      }
      for (Index c = 0; c < k; ++c) {
        (void)group;
        detail::set_code(l, row, c, codes(r, c) + t.code_offset);
      }
    }
  }
  out.prepare();
  return out;
}

void QuantizedTensor::dequantize_row(Index r, float* out) const {
  ELMQ_CHECK_ARG(r >= 0 && r < rows_, "QuantizedTensor::dequantize_row: row ", r,
                 " is outside [0, ", rows_, ")");
  if (cols_ == 0) return;
  const FormatTraits& t = traits();
  const std::uint8_t* row = data_.data() + static_cast<std::size_t>(r) * row_block_bytes();
  switch (format_) {
    case QuantFormat::kF32:
      std::memcpy(out, row, static_cast<std::size_t>(cols_) * 4);
      return;
    case QuantFormat::kF16:
    case QuantFormat::kBF16:
      for (Index k = 0; k < cols_; ++k) {
        std::uint16_t h;
        std::memcpy(&h, row + 2 * k, 2);
        out[k] = format_ == QuantFormat::kF16 ? half_to_float(h) : bfloat16_to_float(h);
      }
      return;
    default:
      break;
  }
  const detail::Layout l = detail::layout_of(format_);
  const Index group = t.group == 0 ? cols_ : t.group;
  float s = per_channel(t) ? row_scale_[r] : 0.0f, m = 0.0f;
  for (Index k = 0; k < cols_; ++k) {
    if (grouped(t) && k % group == 0) {
      const std::uint8_t* blk = row + (k / group) * l.block_bytes;
      s = detail::load_half(blk);
      m = t.symmetric ? 0.0f : detail::load_half(blk + 2);
    }
    const int q = detail::get_code(l, row, k) - t.code_offset;
    out[k] = dequantize_value(t, q, s, m);
  }
}

RowMatrixXf QuantizedTensor::dequantize() const {
  RowMatrixXf w(rows_, cols_);
  for (Index r = 0; r < rows_; ++r) dequantize_row(r, w.data() + r * cols_);
  return w;
}

CodeMatrix QuantizedTensor::codes() const {
  const FormatTraits& t = traits();
  ELMQ_CHECK_ARG(!t.is_float, "QuantizedTensor::codes: format ", t.name, " has no codes");
  CodeMatrix c(rows_, cols_);
  if (empty()) return c;
  const detail::Layout l = detail::layout_of(format_);
  for (Index r = 0; r < rows_; ++r) {
    const std::uint8_t* row = data_.data() + static_cast<std::size_t>(r) * row_block_bytes();
    for (Index k = 0; k < cols_; ++k) {
      c(r, k) = static_cast<std::int8_t>(detail::get_code(l, row, k) - t.code_offset);
    }
  }
  return c;
}

RowMatrixXf QuantizedTensor::scales() const {
  const FormatTraits& t = traits();
  ELMQ_CHECK_ARG(!t.is_float, "QuantizedTensor::scales: format ", t.name, " has no scales");
  const Index groups = groups_per_row();
  RowMatrixXf s(rows_, groups);
  if (empty()) return s;
  const detail::Layout l = detail::layout_of(format_);
  for (Index r = 0; r < rows_; ++r) {
    const std::uint8_t* row = data_.data() + static_cast<std::size_t>(r) * row_block_bytes();
    for (Index g = 0; g < groups; ++g) {
      s(r, g) = per_channel(t) ? row_scale_[r] : detail::load_half(row + g * l.block_bytes);
    }
  }
  return s;
}

RowMatrixXf QuantizedTensor::mins() const {
  const FormatTraits& t = traits();
  ELMQ_CHECK_ARG(!t.is_float, "QuantizedTensor::mins: format ", t.name, " has no mins");
  const Index groups = groups_per_row();
  RowMatrixXf m = RowMatrixXf::Zero(rows_, groups);
  if (t.symmetric || empty()) return m;
  const detail::Layout l = detail::layout_of(format_);
  for (Index r = 0; r < rows_; ++r) {
    const std::uint8_t* row = data_.data() + static_cast<std::size_t>(r) * row_block_bytes();
    for (Index g = 0; g < groups; ++g) m(r, g) = detail::load_half(row + g * l.block_bytes + 2);
  }
  return m;
}

void QuantizedTensor::prepare() {
  code_sum_.clear();
  row_corr_.clear();
  const FormatTraits& t = traits();
  if (t.is_float || empty()) return;
  const detail::Layout l = detail::layout_of(format_);
  const Index kp = padded_cols();
  if (per_channel(t)) {
    code_sum_.resize(rows_);
    for (Index r = 0; r < rows_; ++r) {
      const std::uint8_t* row = data_.data() + static_cast<std::size_t>(r) * row_block_bytes();
      std::int64_t s = 0;
      for (Index k = 0; k < kp; ++k) s += detail::get_code(l, row, k);
      code_sum_[r] = s;
    }
    return;
  }
  // Grouped: the zero-point term of the kernels' epilogue (see quant/gemm.cpp).
  row_corr_.resize(rows_);
  const Index blocks = format_blocks_per_row(format_, cols_);
  const double o = t.code_offset, g_size = t.group;
  for (Index r = 0; r < rows_; ++r) {
    const std::uint8_t* row = data_.data() + static_cast<std::size_t>(r) * row_block_bytes();
    double f = 0.0;
    for (Index b = 0; b < blocks; ++b) {
      const std::uint8_t* blk = row + b * l.block_bytes;
      const double d = detail::load_half(blk);
      const double m = t.symmetric ? 0.0 : detail::load_half(blk + 2);
      std::int64_t c = 0;
      for (Index k = b * l.chunk; k < (b + 1) * l.chunk; ++k) c += detail::get_code(l, row, k);
      f += d * (o * g_size - static_cast<double>(c)) - m * g_size;
    }
    row_corr_[r] = static_cast<float>(f);
  }
}

// ---------------------------------------------------------------- files

void QuantizedTensor::save(RecordWriter& w) const {
  w.put_u64(kTagVersion, kTensorVersion);
  w.put_u64(kTagFormat, static_cast<std::uint64_t>(format_));
  w.put_u64(kTagRows, static_cast<std::uint64_t>(rows_));
  w.put_u64(kTagCols, static_cast<std::uint64_t>(cols_));
  w.put_bytes(kTagData, data_.data(), data_.size());
  if (per_channel(traits())) w.put_f32_array(kTagScales, row_scale_.data(), row_scale_.size());
}

QuantizedTensor QuantizedTensor::load(const RecordReader& r) {
  const std::uint64_t version = r.get_u64(kTagVersion);
  if (version != kTensorVersion) {
    r.fail(str_cat("quantized tensor version ", version, " is not supported (this build reads ",
                   kTensorVersion, ")"));
  }
  const std::uint64_t fmt = r.get_u64(kTagFormat);
  if (fmt > 0xFFFFFFFFull || !is_known_format(static_cast<std::uint32_t>(fmt))) {
    r.fail(str_cat("unknown quantized format ", fmt));
  }
  const auto format = static_cast<QuantFormat>(fmt);
  const FormatTraits& t = format_traits(format);
  const std::uint64_t rows = r.get_u64(kTagRows), cols = r.get_u64(kTagCols);
  if (rows > kMaxDim || cols > kMaxDim) {
    r.fail(str_cat("quantized tensor size ", rows, " x ", cols, " is not plausible"));
  }
  const std::uint64_t row_bytes = block_bytes_per_row(format, static_cast<Index>(cols));
  const std::string_view data = r.get_bytes(kTagData);
  if (rows != 0 && row_bytes > data.size() / rows) {
    r.fail(str_cat("QDAT holds ", data.size(), " bytes, a ", rows, " x ", cols, " ", t.name,
                   " tensor needs ", row_bytes, " per row"));
  }
  if (data.size() != row_bytes * rows) {
    r.fail(str_cat("QDAT holds ", data.size(), " bytes, expected ", row_bytes * rows, " for a ",
                   rows, " x ", cols, " ", t.name, " tensor"));
  }
  QuantizedTensor q;
  q.format_ = format;
  q.rows_ = static_cast<Index>(rows);
  q.cols_ = static_cast<Index>(cols);
  q.data_.assign(data.begin(), data.end());
  const bool has_scales = per_channel(t) && !q.empty();
  if (has_scales) {
    q.row_scale_ = r.get_f32_array(kTagScales);
    if (q.row_scale_.size() != rows) {
      r.fail(str_cat("QSCL holds ", q.row_scale_.size(), " scales, expected ", rows));
    }
    for (std::size_t i = 0; i < q.row_scale_.size(); ++i) {
      if (!(std::isfinite(q.row_scale_[i]) && q.row_scale_[i] >= 0.0f)) {
        r.fail(str_cat("scale of row ", i, " is ", q.row_scale_[i], " (must be finite, >= 0)"));
      }
    }
  } else if (r.has(kTagScales) && !r.get_bytes(kTagScales).empty()) {
    r.fail(str_cat("QSCL present for format ", t.name, " which has no per-row scales"));
  }
  if (q.empty()) {
    q.prepare();
    return q;
  }
  // Values: float formats must be finite; integer formats must use only the
  // restricted code range, canonical padding and valid fp16 scales.
  const std::uint64_t rb = row_bytes;
  if (format == QuantFormat::kF32) {
    for (std::size_t i = 0; i < data.size(); i += 4) {
      float v;
      std::memcpy(&v, data.data() + i, 4);
      if (!std::isfinite(v)) r.fail(str_cat("f32 weight ", i / 4, " is not finite"));
    }
  } else if (t.is_float) {
    const std::uint16_t exp_mask = format == QuantFormat::kF16 ? 0x7C00u : 0x7F80u;
    for (std::size_t i = 0; i < data.size(); i += 2) {
      std::uint16_t h;
      std::memcpy(&h, data.data() + i, 2);
      if ((h & exp_mask) == exp_mask) r.fail(str_cat(t.name, " weight ", i / 2, " is not finite"));
    }
  } else {
    const detail::Layout l = detail::layout_of(format);
    const Index kp = q.padded_cols();
    const Index blocks = format_blocks_per_row(format, q.cols_);
    std::vector<bool> valid_base3(256, false);
    if (l.bits == 0) {
      for (int v = 0; v < 243; ++v) valid_base3[(v * 256 + 242) / 243] = true;
    }
    for (Index row_i = 0; row_i < q.rows_; ++row_i) {
      const std::uint8_t* row = q.data_.data() + static_cast<std::size_t>(row_i) * rb;
      if (grouped(t)) {
        for (Index b = 0; b < blocks; ++b) {
          const std::uint8_t* blk = row + b * l.block_bytes;
          const float d = detail::load_half(blk);
          if (!(std::isfinite(d) && d >= 0.0f)) {
            r.fail(str_cat("scale of row ", row_i, " group ", b, " is ", d,
                           " (must be finite, >= 0)"));
          }
          if (!t.symmetric && !std::isfinite(detail::load_half(blk + 2))) {
            r.fail(str_cat("min of row ", row_i, " group ", b, " is not finite"));
          }
        }
      }
      if (l.bits == 0) {
        for (Index b = 0; b < blocks; ++b) {
          for (int j = 0; j < l.chunk_bytes; ++j) {
            if (!valid_base3[row[b * l.block_bytes + j]]) {
              r.fail(str_cat("byte ", j, " of row ", row_i, " block ", b,
                             " is not a valid base-3 code"));
            }
          }
        }
      }
      for (Index k = 0; k < kp; ++k) {
        const int q_val = detail::get_code(l, row, k) - t.code_offset;
        if (q_val < t.qmin || q_val > t.qmax) {
          r.fail(str_cat("code ", q_val, " at row ", row_i, " column ", k, " is outside [", t.qmin,
                         ", ", t.qmax, "] of ", t.name));
        }
        if (k >= q.cols_ && q_val != 0) {
          r.fail(str_cat("padding column ", k, " of row ", row_i, " holds code ", q_val,
                         ", expected 0"));
        }
      }
    }
  }
  q.prepare();
  return q;
}

// ---------------------------------------------------------------- kernels' view

detail::QWeights detail::QuantizedTensorAccess::view(const QuantizedTensor& t) {
  QWeights w{};
  const FormatTraits& tr = t.traits();
  w.format = static_cast<int>(t.format_);
  w.rows = t.rows_;
  w.cols = t.cols_;
  w.padded_cols = t.padded_cols();
  w.blocks_per_row = format_blocks_per_row(t.format_, t.cols_);
  w.block_bytes = tr.block_bytes;
  w.row_stride = static_cast<std::int64_t>(t.row_block_bytes());
  w.data = t.data_.data();
  w.row_scale = t.row_scale_.empty() ? nullptr : t.row_scale_.data();
  w.code_sum = t.code_sum_.empty() ? nullptr : t.code_sum_.data();
  w.row_corr = t.row_corr_.empty() ? nullptr : t.row_corr_.data();
  return w;
}

}  // namespace elmq
