#include "quant/mlp/qat.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/data/datasets.h"
#include "quant/half.h"
#include "quant/mlp/detail/backprop.h"
#include "quant/mlp/detail/train_loop.h"

namespace elmq {

void QatConfig::validate() const {
  std::vector<QuantFormat> all = layer_formats;
  if (all.empty()) all.push_back(format);
  for (std::size_t i = 0; i < all.size(); ++i) {
    ELMQ_CHECK_ARG(is_known_format(static_cast<std::uint32_t>(all[i])),
                   "QatConfig: format has the unknown value ", static_cast<std::uint32_t>(all[i]));
    ELMQ_CHECK_ARG(!format_traits(all[i]).is_float,
                   "QatConfig: formats must be integer formats, got ", format_name(all[i]));
  }
  try {
    range.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(str_cat("QatConfig: range: ", e.what()));
  }
  ELMQ_CHECK_ARG(range.importance.size() == 0, "QatConfig: range.importance must be empty");
  ELMQ_CHECK_ARG(epochs >= 1 && epochs <= 100000, "QatConfig: epochs must be in [1, 100000], got ",
                 epochs);
  ELMQ_CHECK_ARG(batch_size >= 1 && batch_size <= (Index{1} << 20),
                 "QatConfig: batch_size must be in [1, 1048576], got ", batch_size);
  optimizer.validate();
  ELMQ_CHECK_ARG(validation_fraction >= 0.0 && validation_fraction <= 0.9,
                 "QatConfig: validation_fraction must be in [0, 0.9], got ", validation_fraction);
  ELMQ_CHECK_ARG(patience >= 0 && patience <= 100000,
                 "QatConfig: patience must be in [0, 100000], got ", patience);
  ELMQ_CHECK_ARG(threads >= 0, "QatConfig: threads must be >= 0 (0 = all cores), got ", threads);
}

namespace {

using Mask = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Fake quantization of every layer's weights, with the state QAT needs:
// scales and mins (learned or recomputed), codes, the STE mask and the LSQ
// gradients. Work is split into (layer, block of rows) tasks, one parallel
// region per pass, serial for small networks.
class FakeQuant {
 public:
  FakeQuant(const MlpParams& master, std::vector<QuantFormat> formats, const RangeOptions& range,
            bool learn, int threads)
      : formats_(std::move(formats)), range_(range), learn_(learn), threads_(threads) {
    fq_ = master;
    constexpr Index kRows = 32;
    for (int l = 0; l < master.n_layers(); ++l) {
      Layer ly;
      ly.traits = &format_traits(formats_[l]);
      const Index rows = master.weights[l].rows(), cols = master.weights[l].cols();
      ly.group = ly.traits->group == 0 ? cols : ly.traits->group;
      ly.groups = format_groups_per_row(formats_[l], cols);
      ly.fp16 = ly.traits->scale_kind == ScaleKind::kF16PerGroup;
      ly.scale = RowMatrixXf::Zero(rows, ly.groups);
      ly.min = RowMatrixXf::Zero(rows, ly.groups);
      ly.gscale = RowMatrixXf::Zero(rows, ly.groups);
      ly.gmin = RowMatrixXf::Zero(rows, ly.groups);
      ly.codes = CodeMatrix::Zero(rows, cols);
      ly.inside = Mask::Zero(rows, cols);
      layers_.push_back(std::move(ly));
      for (Index r0 = 0; r0 < rows; r0 += kRows)
        tasks_.push_back({l, r0, std::min(rows, r0 + kRows)});
    }
    constexpr Index kMinParallelWeights = 65536;
    if (master.n_weights() < kMinParallelWeights) threads_ = 1;
    run([&](const Task& t) { choose_params(master, t); });
  }

  std::vector<ParamBlock> extra_blocks() {
    std::vector<ParamBlock> b;
    if (!learn_) return b;
    for (Layer& ly : layers_) {
      b.push_back({ly.scale.data(), ly.gscale.data(), ly.scale.size(), false});
      if (!ly.traits->symmetric) b.push_back({ly.min.data(), ly.gmin.data(), ly.min.size(), false});
    }
    return b;
  }

  // The weights the network computes with.
  const MlpParams& forward(const MlpParams& master) {
    run([&](const Task& t) {
      if (!learn_) choose_params(master, t);
      fake_quantize(master, t);
    });
    for (std::size_t l = 0; l < layers_.size(); ++l) fq_.biases[l] = master.biases[l];
    return fq_;
  }

  // Gradients w.r.t. w_q -> w (clipped STE) and, with LSQ, the scales and mins.
  void adjust(const MlpParams& master, MlpParams& grads) {
    run([&](const Task& t) { adjust_rows(master, grads, t); });
  }

  // Keeps learned scales positive and storable.
  void clamp_params() {
    if (!learn_) return;
    for (Layer& ly : layers_) {
      const float lo = ly.fp16 ? 1e-6f : 1e-12f;
      ly.scale = ly.scale.cwiseMax(lo).cwiseMin(kHalfMax);
      ly.min = ly.min.cwiseMax(-kHalfMax).cwiseMin(kHalfMax);
    }
  }

  // The quantized tensor of layer l for the codes of the last forward().
  QuantizedTensor export_layer(std::size_t l) const {
    const Layer& ly = layers_[l];
    RowMatrixXf s(ly.scale.rows(), ly.scale.cols()), m(0, 0);
    for (Index i = 0; i < s.size(); ++i) s.data()[i] = stored(ly, ly.scale.data()[i]);
    if (!ly.traits->symmetric) {
      m.resize(ly.min.rows(), ly.min.cols());
      for (Index i = 0; i < m.size(); ++i) m.data()[i] = stored(ly, ly.min.data()[i]);
    }
    return QuantizedTensor::from_codes(formats_[l], ly.codes, s, m);
  }

 private:
  struct Layer {
    const FormatTraits* traits = nullptr;
    Index group = 0, groups = 0;
    bool fp16 = false;
    RowMatrixXf scale, min, gscale, gmin;
    CodeMatrix codes;
    Mask inside;
  };

  struct Task {
    int layer;
    Index r0, r1;
  };

  // A scale or min as the format stores it.
  static float stored(const Layer& ly, float v) {
    return ly.fp16 ? half_to_float(float_to_half(v)) : v;
  }

  template <class Fn>
  void run(const Fn& fn) {
    parallel_for(static_cast<std::int64_t>(tasks_.size()), threads_,
                 [&](std::int64_t i) { fn(tasks_[static_cast<std::size_t>(i)]); });
  }

  // Scales and mins of rows [r0, r1) from the current weights (QuantizedTensor::quantize's choice).
  void choose_params(const MlpParams& master, const Task& t) {
    Layer& ly = layers_[t.layer];
    const RowMatrixXf& w = master.weights[t.layer];
    for (Index r = t.r0; r < t.r1; ++r) {
      choose_row_params(formats_[t.layer], w.row(r).data(), w.cols(), range_,
                        ly.scale.row(r).data(),
                        ly.traits->symmetric ? nullptr : ly.min.row(r).data());
    }
  }

  // Codes, fake-quantized weights and the STE mask of rows [r0, r1). The
  // codes follow quantize_value (division in double, ties to even, clamped).
  void fake_quantize(const MlpParams& master, const Task& t) {
    Layer& ly = layers_[t.layer];
    const RowMatrixXf& w = master.weights[t.layer];
    RowMatrixXf& out = fq_.weights[t.layer];
    const FormatTraits& tr = *ly.traits;
    const double qmin = tr.qmin, qmax = tr.qmax;
    for (Index r = t.r0; r < t.r1; ++r) {
      for (Index g = 0; g < ly.groups; ++g) {
        const float s = stored(ly, ly.scale(r, g));
        const float m = tr.symmetric ? 0.0f : stored(ly, ly.min(r, g));
        const Index k1 = std::min(w.cols(), (g + 1) * ly.group);
        for (Index k = g * ly.group; k < k1; ++k) {
          const float x = w(r, k);
          int q = 0;
          bool in = true;
          if (s > 0.0f) {
            const double u =
                tr.symmetric ? static_cast<double>(x) / s : (static_cast<double>(x) - m) / s;
            const double rq = std::nearbyint(u);
            in = rq >= qmin && rq <= qmax;
            q = static_cast<int>(std::min(std::max(rq, qmin), qmax));
          }
          ly.codes(r, k) = static_cast<std::int8_t>(q);
          out(r, k) = dequantize_value(tr, q, s, m);
          ly.inside(r, k) = in ? 1 : 0;
        }
      }
    }
  }

  void adjust_rows(const MlpParams& master, MlpParams& grads, const Task& t) {
    Layer& ly = layers_[t.layer];
    const RowMatrixXf& w = master.weights[t.layer];
    RowMatrixXf& gw = grads.weights[t.layer];
    const FormatTraits& tr = *ly.traits;
    for (Index r = t.r0; r < t.r1; ++r) {
      for (Index g = 0; g < ly.groups; ++g) {
        const Index k0 = g * ly.group, k1 = std::min(w.cols(), (g + 1) * ly.group);
        const float s = stored(ly, ly.scale(r, g));
        const float m = tr.symmetric ? 0.0f : stored(ly, ly.min(r, g));
        double gs = 0.0, gm = 0.0;
        for (Index k = k0; k < k1; ++k) {
          const float gk = gw(r, k);
          const int q = ly.codes(r, k);
          if (ly.inside(r, k)) {
            if (learn_ && s > 0.0f) {
              const double u = tr.symmetric ? static_cast<double>(w(r, k)) / s
                                            : (static_cast<double>(w(r, k)) - m) / s;
              gs += static_cast<double>(gk) * (q - u);
            }
          } else {
            gs += static_cast<double>(gk) * q;
            gm += gk;
            gw(r, k) = 0.0f;
          }
        }
        if (learn_) {
          const double factor =
              1.0 / std::sqrt(static_cast<double>(k1 - k0) * static_cast<double>(tr.qmax));
          ly.gscale(r, g) = static_cast<float>(gs * factor);
          ly.gmin(r, g) = static_cast<float>(gm * factor);
        }
      }
    }
  }

  std::vector<QuantFormat> formats_;
  RangeOptions range_;
  bool learn_;
  int threads_;
  std::vector<Layer> layers_;
  std::vector<Task> tasks_;
  MlpParams fq_;
};

}  // namespace

QatResult qat_finetune(const Mlp& model, const ConstMatrixRef& x, const ConstLabelRef& labels,
                       const QatConfig& config, const MlpProgressFn& progress) {
  const char* where = "qat_finetune";
  const auto t0 = std::chrono::steady_clock::now();
  config.validate();
  ELMQ_CHECK_ARG(model.fitted(), where, ": the model is not fitted");
  const int nl = model.n_layers();
  ELMQ_CHECK_ARG(
      config.layer_formats.empty() || config.layer_formats.size() == static_cast<std::size_t>(nl),
      where, ": layer_formats has ", config.layer_formats.size(), " entries, the model has ", nl,
      " layers");
  check_shape(x, model.n_features(), where, "X", true);
  ELMQ_CHECK_ARG(x.rows() >= 2, where, ": X needs at least 2 rows, got ", x.rows());
  ELMQ_CHECK_ARG(labels.size() == x.rows(), where, ": labels has ", labels.size(),
                 " entries, X has ", x.rows(), " rows");
  check_finite(x, where, "X");
  const std::vector<std::int32_t> y = detail::encode_labels(model.classes(), labels, where);
  std::vector<QuantFormat> formats =
      config.layer_formats.empty()
          ? std::vector<QuantFormat>(static_cast<std::size_t>(nl), config.format)
          : config.layer_formats;
  const int threads = resolve_threads(config.threads);

  detail::TrainData data;
  data.x = &x;
  data.y = &y;
  data.scaler = &model.scaler();
  if (config.validation_fraction > 0.0) {
    SplitIndices split = stratified_split(labels, config.validation_fraction, config.seed);
    data.train_rows = std::move(split.train);
    data.val_rows = std::move(split.test);
  } else {
    for (Index i = 0; i < x.rows(); ++i) data.train_rows.push_back(i);
  }
  ELMQ_CHECK_ARG(!data.train_rows.empty(), where, ": no training rows are left after the split");

  MlpParams params = model.params();
  FakeQuant fq(params, formats, config.range, config.learn_scales, threads);

  QatResult result;
  if (!data.val_rows.empty()) {
    RowMatrixXf xv(static_cast<Index>(data.val_rows.size()), x.cols());
    for (std::size_t i = 0; i < data.val_rows.size(); ++i) {
      model.scaler().transform_row(x.data() + data.val_rows[i] * x.outerStride(),
                                   xv.row(static_cast<Index>(i)).data());
    }
    RowMatrixXf z(xv.rows(), model.n_outputs());
    detail::mlp_forward(xv, fq.forward(params), z, threads);
    Index ok = 0;
    for (Index i = 0; i < z.rows(); ++i) {
      Index arg;
      z.row(i).maxCoeff(&arg);
      ok += arg == y[static_cast<std::size_t>(data.val_rows[static_cast<std::size_t>(i)])] ? 1 : 0;
    }
    result.initial_val_accuracy = static_cast<double>(ok) / static_cast<double>(z.rows());
  }

  detail::TrainHooks hooks;
  hooks.forward_params = [&fq](const MlpParams& master) -> const MlpParams& {
    return fq.forward(master);
  };
  hooks.adjust_gradients = [&fq](const MlpParams& master, MlpParams& grads) {
    fq.adjust(master, grads);
  };
  hooks.after_step = [&fq] { fq.clamp_params(); };
  hooks.extra_blocks = fq.extra_blocks();

  detail::TrainSettings settings;
  settings.epochs = config.epochs;
  settings.batch_size = config.batch_size;
  settings.optimizer = config.optimizer;
  settings.patience = config.patience;
  settings.restore_best = config.restore_best;
  settings.seed = config.seed;
  settings.threads = threads;
  settings.progress = progress;
  result.history = detail::train_loop(params, data, settings, hooks);
  for (int l = 0; l < nl; ++l) {
    if (!params.weights[l].allFinite() || !params.biases[l].allFinite()) {
      throw NumericalError(str_cat(where, ": training diverged (non-finite weights in layer ", l,
                                   "); lower optimizer.learning_rate (now ",
                                   config.optimizer.learning_rate, ")"));
    }
  }

  fq.forward(params);  // codes of the final (or restored best) weights
  std::vector<QuantizedMlpLayer> layers(static_cast<std::size_t>(nl));
  for (int l = 0; l < nl; ++l) {
    layers[l].weights = fq.export_layer(static_cast<std::size_t>(l));
    layers[l].bias = params.biases[l];
  }
  MlpQuantInfo info;
  info.method = WeightQuantMethod::kQat;
  info.activations = ActivationScheme::kDynamic;
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.model =
      QuantizedMlp::from_parts(model.scaler().offset(), model.scaler().scale(), std::move(layers),
                               model.classes(), std::move(info), model.config().threads);
  return result;
}

}  // namespace elmq
