// Fuzz target: model file images of every kind (FileKind), as load() and
// Python's unpickling read them. The checksum is recomputed on each input
// before parsing, so that mutations reach the records instead of stopping at
// the CRC (tests/elm/common/test_serialize.cpp tests the CRC itself).
//
// A model that loads is then used as a caller would use it: batch and
// single-row predictions on a few rows, then a save / load round trip, whose
// predictions must be bit-identical (a file that loads must hold everything
// needed to reproduce them); an ELM saved with its training state also
// resumes training. ELMQ_FUZZ_VERBOSE=1 prints why each input was rejected.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

#include "elm/common/errors.h"
#include "elm/common/serialize.h"
#include "elm/elm_model.h"
#include "elm/online_elm.h"
#include "quant/elm/quantize_elm.h"
#include "quant/elm/quantized_elm.h"
#include "quant/mlp/mlp.h"
#include "quant/mlp/quantized_mlp.h"
#include "tests/fuzz/fuzz_target.h"

namespace elmq::fuzz {
namespace {

// Rows a model is evaluated on: a fixed, varied pattern.
RowMatrixXf probe_rows(Index d) {
  RowMatrixXf x(3, d);
  for (Index j = 0; j < d; ++j) {
    x(0, j) = 0.0f;
    x(1, j) = static_cast<float>(j % 7) * 0.25f - 0.5f;
    x(2, j) = (j % 2 == 0 ? 1.0f : -2.0f) * static_cast<float>(1 + j % 3);
  }
  return x;
}

void same_bits(const RowMatrixXf& a, const RowMatrixXf& b, const char* what) {
  if (a.rows() != b.rows() || a.cols() != b.cols() ||
      std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) != 0) {
    throw Finding(str_cat(what, ": the decisions changed"));
  }
}

void check_shape(const RowMatrixXf& z, Index rows, Index cols, const char* what) {
  if (z.rows() != rows || z.cols() != cols) {
    throw Finding(str_cat(what, ": decisions are ", z.rows(), " x ", z.cols(), ", expected ",
                          rows, " x ", cols));
  }
}

bool all_finite(const RowMatrixXf& z) {
  for (Index i = 0; i < z.size(); ++i)
    if (!std::isfinite(z.data()[i])) return false;
  return true;
}

// Predictions, one row, and the round trip through to_bytes / from_bytes.
// Results must be finite: a model whose products overflow says so with
// NumericalError instead of returning NaN or Inf (check_finite_result).
template <class Model, class Workspace>
void use(const Model& m, const char* what) {
  const Index d = m.n_features(), c = m.n_outputs();
  if (d < 1 || c < 1) throw Finding(str_cat(what, ": loaded with ", d, " inputs, ", c, " outputs"));
  const RowMatrixXf x = probe_rows(d);
  Workspace ws;
  RowMatrixXf row(1, c);
  for (Index i = 0; i < x.rows(); ++i) {
    try {
      m.decision_row(x.row(i).data(), row.data(), ws);
    } catch (const NumericalError&) {
      continue;
    }
    if (!all_finite(row)) throw Finding(str_cat(what, ": decision_row returned non-finite values"));
  }
  RowMatrixXf z;
  try {
    z = m.decision_function(x);
  } catch (const NumericalError&) {
    return;
  }
  check_shape(z, x.rows(), c, what);
  if (!all_finite(z)) throw Finding(str_cat(what, ": decision_function returned non-finite values"));
  const Model again = Model::from_bytes(m.to_bytes());
  same_bits(z, again.decision_function(x), what);
}

void load_and_use(std::string_view image) {
  FileKind kind;
  try {
    kind = peek_file_kind(image);
  } catch (const InvalidArgument&) {
    return;
  }
  try {
    switch (kind) {
      case FileKind::kElm: {
        ElmModel m = ElmModel::from_bytes(image);
        use<ElmModel, PredictWorkspace>(m, "ElmModel");
        // A file saved with its training state: training resumes from it.
        if (m.has_training_state() && m.task() == Task::kClassification) {
          m.partial_fit(probe_rows(m.n_features()),
                        LabelVector::Constant(3, m.classes().size() > 0 ? m.classes()[0] : 0));
          use<ElmModel, PredictWorkspace>(m, "ElmModel after partial_fit");
        }
        break;
      }
      case FileKind::kOnlineElm: {
        OnlineElm m = OnlineElm::from_bytes(image);
        use<OnlineElm, PredictWorkspace>(m, "OnlineElm");
        // Resuming: one more sample, as a stream would.
        const RowMatrixXf x = probe_rows(m.n_features());
        if (m.task() == Task::kClassification) {
          m.learn_row(x.row(1).data(), m.classes().size() > 0 ? m.classes()[0] : 0);
        } else if (m.task() == Task::kRegression) {
          const std::vector<float> y(static_cast<std::size_t>(m.n_outputs()), 0.5f);
          m.learn_row_regression(x.row(1).data(), y.data());
        }
        // A state that loads must stay usable: a sample learned from it may
        // not turn the model into NaN.
        use<OnlineElm, PredictWorkspace>(m, "OnlineElm after learn_row");
        break;
      }
      case FileKind::kQuantizedElm:
        use<QuantizedElm, PredictWorkspace>(QuantizedElm::from_bytes(image), "QuantizedElm");
        break;
      case FileKind::kMlp:
        use<Mlp, MlpWorkspace>(Mlp::from_bytes(image), "Mlp");
        break;
      case FileKind::kQuantizedMlp:
        use<QuantizedMlp, QuantizedMlpWorkspace>(QuantizedMlp::from_bytes(image), "QuantizedMlp");
        break;
    }
  } catch (const InvalidArgument& e) {
    if (std::getenv("ELMQ_FUZZ_VERBOSE")) std::fprintf(stderr, "rejected: %s\n", e.what());
    return;
  } catch (const NumericalError& e) {
    if (std::getenv("ELMQ_FUZZ_VERBOSE")) std::fprintf(stderr, "numerical: %s\n", e.what());
    return;
  }
  if (std::getenv("ELMQ_FUZZ_VERBOSE")) std::fprintf(stderr, "accepted\n");
}

// ---------------------------------------------------------------- seeds

struct Data {
  RowMatrixXf x;
  LabelVector y;
};

// Three noisy clusters in d dimensions, labels 3, 7, -1 (arbitrary integers).
Data clusters(Index n, Index d, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0f, 0.4f);
  const std::int64_t labels[3] = {3, 7, -1};
  Data out{RowMatrixXf(n, d), LabelVector(n)};
  for (Index i = 0; i < n; ++i) {
    const int k = static_cast<int>(i % 3);
    out.y[i] = labels[k];
    for (Index j = 0; j < d; ++j) out.x(i, j) = static_cast<float>((k + j) % 3) + noise(gen);
  }
  return out;
}

ElmConfig small_elm(bool rbf) {
  ElmConfig c;
  NeuronGroup tanh_group;
  tanh_group.count = 6;
  c.hidden.groups = {tanh_group};
  if (rbf) {
    NeuronGroup r;
    r.count = 3;
    r.activation = Activation::kRbf;
    c.hidden.groups.push_back(r);
  }
  c.ridge.auto_lambda = false;
  c.threads = 1;
  return c;
}

}  // namespace
}  // namespace elmq::fuzz

int elmq_fuzz_one(const std::uint8_t* data, std::size_t size) {
  std::string image(reinterpret_cast<const char*>(data), size);
  if (image.size() >= 36) {
    const std::uint32_t crc = elmq::crc32_of(image.data(), image.size() - 4);
    for (int i = 0; i < 4; ++i) image[image.size() - 4 + i] = static_cast<char>(crc >> (8 * i));
  }
  elmq::fuzz::load_and_use(image);
  return 0;
}

std::vector<std::string> elmq_fuzz_seeds() {
  using namespace elmq;
  using namespace elmq::fuzz;
  std::vector<std::string> seeds;
  const Data train = clusters(60, 4, 1);

  ElmModel elm(small_elm(true));
  elm.fit(train.x, train.y);
  seeds.push_back(elm.to_bytes());
  seeds.push_back(elm.to_bytes(/*include_training_state=*/true));

  ElmConfig reg_config = small_elm(false);
  reg_config.scaling = ScalingKind::kStandardize;
  ElmModel reg(reg_config);
  reg.fit_regression(train.x, train.x.leftCols(2));
  seeds.push_back(reg.to_bytes());

  OnlineConfig oc;
  OnlineElm online = OnlineElm::from_model(elm, oc);
  for (Index i = 0; i < 5; ++i) online.learn_row(train.x.row(i).data(), train.y[i]);
  seeds.push_back(online.to_bytes());
  oc.precision = StatePrecision::kFloat64;
  oc.keep_statistics = false;
  oc.forgetting = 0.99;
  seeds.push_back(OnlineElm::from_model(reg, oc).to_bytes());

  ElmQuantConfig q8;
  q8.w_format = QuantFormat::kInt8Channel;
  q8.threads = 1;
  seeds.push_back(quantize_elm(elm, q8, train.x, train.y).to_bytes());
  ElmQuantConfig q4;
  q4.beta_format = QuantFormat::kInt4G32Asym;
  q4.w_format = QuantFormat::kTernaryBase3;
  q4.resolve_beta_after_w = false;
  q4.threads = 1;
  seeds.push_back(quantize_elm(elm, q4).to_bytes());

  MlpConfig mc;
  mc.hidden = {5};
  mc.epochs = 2;
  mc.batch_size = 16;
  mc.validation_fraction = 0.0;
  mc.threads = 1;
  Mlp mlp(mc);
  mlp.fit(train.x, train.y);
  seeds.push_back(mlp.to_bytes());
  MlpQuantConfig qm;
  qm.threads = 1;
  seeds.push_back(quantize_mlp(mlp, qm).to_bytes());
  qm.activations = ActivationScheme::kStatic;
  qm.format = QuantFormat::kInt4G32Sym;
  seeds.push_back(quantize_mlp(mlp, qm, train.x).to_bytes());
  return seeds;
}
