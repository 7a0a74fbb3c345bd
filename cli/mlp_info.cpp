// The details of MLP and quantized-MLP files shown by `elmq info`.
#include <algorithm>
#include <sstream>

#include "cli/common.h"
#include "cli/mlp_commands.h"
#include "elm/common/errors.h"
#include "elm/common/serialize.h"
#include "quant/mlp/mlp.h"
#include "quant/mlp/quantized_mlp.h"

namespace elmq {
namespace cli {

struct MlpFileDetails::Impl {
  std::unique_ptr<Mlp> fp32;
  std::unique_ptr<QuantizedMlp> quantized;
};

MlpFileDetails::MlpFileDetails(std::string_view bytes) : impl_(std::make_unique<Impl>()) {
  const FileKind kind = peek_file_kind(bytes);
  if (kind == FileKind::kMlp) {
    impl_->fp32 = std::make_unique<Mlp>(Mlp::from_bytes(bytes));
  } else if (kind == FileKind::kQuantizedMlp) {
    impl_->quantized = std::make_unique<QuantizedMlp>(QuantizedMlp::from_bytes(bytes));
  } else {
    throw FormatError(str_cat("MlpFileDetails: the file is of kind ", file_kind_name(kind),
                              ", not mlp or quantized-mlp"));
  }
}

MlpFileDetails::~MlpFileDetails() = default;

namespace {

std::string sizes_text(const std::vector<Index>& sizes) {
  std::string s;
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? "-" : "") + std::to_string(sizes[i]);
  return s;
}

std::vector<Index> quantized_sizes(const QuantizedMlp& q) {
  std::vector<Index> s = {q.n_features()};
  for (const auto& l : q.layers()) s.push_back(l.weights.rows());
  return s;
}

void classes_text(std::ostringstream& s, const LabelVector& classes) {
  s << "classes:        ";
  const Index shown = std::min<Index>(classes.size(), 20);
  for (Index c = 0; c < shown; ++c) s << (c ? " " : "") << classes[c];
  if (classes.size() > shown) s << " ... (" << classes.size() << " in all)";
  s << "\n";
}

}  // namespace

void MlpFileDetails::add_json(JsonWriter& j) const {
  if (impl_->fp32) {
    const Mlp& m = *impl_->fp32;
    const MlpConfig& c = m.config();
    const TrainingHistory& h = m.history();
    j.field("architecture", sizes_text(m.sizes())).field("n_features", m.n_features());
    j.field("n_outputs", m.n_outputs()).field("n_parameters", m.n_parameters());
    j.field("weight_bytes", static_cast<std::uint64_t>(4 * m.params().n_weights()));
    j.key("classes").begin_array();
    for (Index i = 0; i < m.classes().size(); ++i) j.value(m.classes()[i]);
    j.end_array();
    j.field("scaling", scaling_name(m.scaler().kind()));
    j.field("optimizer", optimizer_name(c.optimizer.kind));
    j.field("learning_rate", c.optimizer.learning_rate).field("batch_size", c.batch_size);
    j.field("epochs_run", static_cast<std::int64_t>(h.epochs.size()));
    j.field("best_epoch", h.best_epoch).field("seed", c.seed);
    j.field("train_rows", static_cast<std::int64_t>(h.train_rows));
    j.field("validation_rows", static_cast<std::int64_t>(h.val_rows));
    if (h.best_epoch >= 1 && static_cast<std::size_t>(h.best_epoch) <= h.epochs.size()) {
      j.field("validation_accuracy",
              h.epochs[static_cast<std::size_t>(h.best_epoch - 1)].val_accuracy);
    }
    j.field("train_seconds", h.seconds);
    return;
  }
  const QuantizedMlp& q = *impl_->quantized;
  j.field("architecture", sizes_text(quantized_sizes(q))).field("n_features", q.n_features());
  j.field("n_outputs", q.n_outputs());
  j.key("classes").begin_array();
  for (Index i = 0; i < q.classes().size(); ++i) j.value(q.classes()[i]);
  j.end_array();
  j.field("description", q.describe());
  j.field("method", weight_quant_method_name(q.info().method));
  j.field("activations", activation_scheme_name(q.info().activations));
  j.field("weight_bytes", q.weight_bytes()).field("parameter_bytes", q.bytes());
  j.field("fp32_weight_bytes", static_cast<std::uint64_t>(4 * q.n_weights()));
  j.field("bits_per_weight", q.bits_per_weight());
  j.key("layers").begin_array();
  for (int l = 0; l < q.n_layers(); ++l) {
    const QuantizedMlpLayer& ly = q.layers()[l];
    j.begin_object().field("rows", ly.weights.rows()).field("cols", ly.weights.cols());
    j.field("format", format_name(ly.weights.format())).field("bytes", ly.weights.bytes());
    j.field("input_scale", static_cast<double>(ly.input_quant.scale));
    j.field("input_zero_point", ly.input_quant.zero_point);
    if (static_cast<std::size_t>(l) < q.info().layer_error.size()) {
      j.field("relative_error", q.info().layer_error[l]);
    }
    j.end_object();
  }
  j.end_array();
}

std::string MlpFileDetails::text() const {
  std::ostringstream s;
  if (impl_->fp32) {
    const Mlp& m = *impl_->fp32;
    const MlpConfig& c = m.config();
    const TrainingHistory& h = m.history();
    s << "network:        MLP " << sizes_text(m.sizes()) << ", ReLU, " << m.n_parameters()
      << " parameters (" << 4 * m.params().n_weights() << " weight bytes)\n";
    classes_text(s, m.classes());
    s << "scaling:        " << scaling_name(m.scaler().kind()) << "\n";
    s << "training:       " << optimizer_name(c.optimizer.kind) << " lr "
      << c.optimizer.learning_rate << ", batch " << c.batch_size << ", " << h.epochs.size()
      << " epochs on " << h.train_rows << " rows, seed " << c.seed << ", " << fixed(h.seconds, 2)
      << " s\n";
    if (h.best_epoch >= 1 && static_cast<std::size_t>(h.best_epoch) <= h.epochs.size()) {
      const EpochReport& b = h.epochs[static_cast<std::size_t>(h.best_epoch - 1)];
      s << "validation:     accuracy " << fixed(b.val_accuracy, 4) << ", loss "
        << fixed(b.val_loss, 4) << " at epoch " << h.best_epoch << " (" << h.val_rows << " rows)\n";
    }
    return s.str();
  }
  const QuantizedMlp& q = *impl_->quantized;
  s << "network:        MLP " << sizes_text(quantized_sizes(q)) << ", ReLU\n";
  classes_text(s, q.classes());
  s << "quantized:      " << q.describe() << "\n";
  s << "weights:        " << q.n_weights() << " in " << q.weight_bytes() << " bytes ("
    << fixed(q.bits_per_weight(), 3) << " bits/weight; FP32 " << 4 * q.n_weights() << "); "
    << q.bytes() << " bytes with biases and input scaling\n";
  for (int l = 0; l < q.n_layers(); ++l) {
    const QuantizedMlpLayer& ly = q.layers()[l];
    s << "layer " << l << ":        " << ly.weights.rows() << " x " << ly.weights.cols() << " "
      << format_name(ly.weights.format()) << ", " << ly.weights.bytes() << " bytes";
    if (ly.input_quant.mode == ActivationQuant::Mode::kStaticAsymmetric) {
      s << ", inputs uint8 scale " << ly.input_quant.scale << " zero point "
        << ly.input_quant.zero_point;
    }
    if (static_cast<std::size_t>(l) < q.info().layer_error.size()) {
      s << ", relative output error " << fixed(q.info().layer_error[l], 5);
    }
    s << "\n";
  }
  return s.str();
}

}  // namespace cli
}  // namespace elmq
