// QuantizedTensor: an N x K weight matrix (one output channel per row, K
// inputs) stored in one of the formats of quant/formats.h.
//
//   auto q = QuantizedTensor::quantize(w, QuantFormat::kInt4G32Sym);
//   RowMatrixXf w_hat = q.dequantize();        // what the codes mean
//   qgemm(x, q, bias, y);                      // y = x w_hat^T + bias (quant/gemm.h)
//
// Storage is the format's block layout, row after row (block_data()), plus
// one fp32 scale per row for per-channel formats (row_scales()): exactly
// bytes() bytes. The kernels read this storage directly; the only other state
// is a few per-row constants computed when the tensor is built or loaded
// (8 bytes per row, not counted in bytes()).
#pragma once

#include <cstdint>
#include <vector>

#include "elm/common/matrix.h"
#include "elm/common/serialize.h"
#include "quant/aligned_buffer.h"
#include "quant/formats.h"
#include "quant/range.h"

namespace elmq {

/// Value codes, one per weight (row-major, N x K).
using CodeMatrix = Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {
struct QuantizedTensorAccess;
}

class QuantizedTensor {
 public:
  /// An empty 0 x 0 f32 tensor.
  QuantizedTensor() = default;

  /// Quantizes w (N x K, finite) row by row: parameters from
  /// choose_row_params (quant/range.h), codes from quantize_value (round to
  /// nearest, ties to even). Float formats convert each value (to nearest even).
  /// Rows are processed on up to `threads` threads (0 = all); the result does
  /// not depend on `threads`.
  /// @throws InvalidArgument on non-finite weights, bad options, or a scale
  ///         or min outside the format's storage (fp16: |v| > 65504).
  static QuantizedTensor quantize(const ConstMatrixRef& w, QuantFormat format,
                                  const RangeOptions& range = RangeOptions(), int threads = 0);

  /// Builds an integer-format tensor from value codes chosen elsewhere (e.g. by GPTQ):
  /// codes N x K in [qmin, qmax] of the format; scales N x groups (finite, >= 0);
  /// mins N x groups for asymmetric formats (finite), 0 x 0 for symmetric ones.
  /// groups = format_groups_per_row(format, K). fp16 scales and mins are
  /// rounded to nearest (values from choose_row_params are already exact).
  /// @throws InvalidArgument on float formats, wrong shapes or out-of-range values.
  static QuantizedTensor from_codes(QuantFormat format, const Eigen::Ref<const CodeMatrix>& codes,
                                    const ConstMatrixRef& scales, const ConstMatrixRef& mins);

  QuantFormat format() const { return format_; }
  const FormatTraits& traits() const { return format_traits(format_); }
  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  bool empty() const { return rows_ == 0 || cols_ == 0; }
  /// cols rounded up to whole blocks.
  Index padded_cols() const { return format_padded_cols(format_, cols_); }
  Index groups_per_row() const { return format_groups_per_row(format_, cols_); }

  /// Exact storage: format_bytes(format(), rows(), cols()).
  std::uint64_t bytes() const { return format_bytes(format_, rows_, cols_); }
  double bits_per_weight() const { return format_bits_per_weight(format_, rows_, cols_); }

  /// The weights the codes represent (N x K).
  RowMatrixXf dequantize() const;
  /// Row r of dequantize() into out[0 .. cols()). @throws InvalidArgument for a bad r.
  void dequantize_row(Index r, float* out) const;

  /// Value codes (N x K). @throws InvalidArgument for float formats.
  CodeMatrix codes() const;
  /// Scales, N x groups_per_row() (per-channel formats: N x 1). @throws for float formats.
  RowMatrixXf scales() const;
  /// Mins, N x groups_per_row(); zeros for symmetric formats. @throws for float formats.
  RowMatrixXf mins() const;

  /// Raw storage: rows() rows of row_block_bytes() bytes (blocks of quant/blocks.h;
  /// float formats: the values, f32 or 16-bit patterns).
  const std::uint8_t* block_data() const { return data_.data(); }
  std::uint64_t row_block_bytes() const;
  /// Per-channel formats: one fp32 scale per row; empty otherwise.
  const std::vector<float>& row_scales() const { return row_scale_; }

  /// Writes records QVER, QFMT, QROW, QCOL, QDAT and (per-channel formats) QSCL.
  void save(RecordWriter& w) const;
  /// Reads what save() wrote, validating sizes, scales, codes and padding.
  /// @throws FormatError naming the problem.
  static QuantizedTensor load(const RecordReader& r);

 private:
  friend struct detail::QuantizedTensorAccess;
  void allocate(QuantFormat format, Index rows, Index cols);
  void quantize_row(Index r, const float* x, const RangeOptions& range);
  void prepare();

  QuantFormat format_ = QuantFormat::kF32;
  Index rows_ = 0;
  Index cols_ = 0;
  AlignedVector<std::uint8_t> data_;
  std::vector<float> row_scale_;
  // Kernel constants (quant/gemm.cpp), recomputed by prepare().
  std::vector<std::int64_t> code_sum_;  // per-channel: sum of stored codes of each padded row
  std::vector<float> row_corr_;         // grouped: sum_g d_g (o G - C_g) - m_g G
};

}  // namespace elmq
