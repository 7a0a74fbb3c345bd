#include "elm/hidden_layer.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "elm/common/errors.h"
#include "elm/common/parallel.h"
#include "elm/common/rng.h"

namespace elmq {

namespace {
constexpr Index kMaxNeurons = 1'000'000;
constexpr Index kTransformRows = 256;  // rows per task: large enough for an efficient GEMM

struct NameEntry {
  const char* name;
  std::uint32_t value;
};
constexpr NameEntry kActivations[] = {{"sigmoid", 0}, {"tanh", 1}, {"relu", 2},
                                      {"sin", 3},     {"linear", 4}, {"rbf", 5}};
constexpr NameEntry kInits[] = {{"uniform", 0}, {"normal", 1}, {"ternary", 2}};

template <std::size_t N>
std::string known_names(const NameEntry (&table)[N]) {
  std::string s;
  for (const auto& e : table) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}
}  // namespace

const char* activation_name(Activation a) {
  for (const auto& e : kActivations)
    if (e.value == static_cast<std::uint32_t>(a)) return e.name;
  return "unknown";
}
const char* weight_init_name(WeightInit w) {
  for (const auto& e : kInits)
    if (e.value == static_cast<std::uint32_t>(w)) return e.name;
  return "unknown";
}
Activation parse_activation(const std::string& name) {
  for (const auto& e : kActivations)
    if (name == e.name) return static_cast<Activation>(e.value);
  throw InvalidArgument(
      str_cat("unknown activation '", name, "' (known: ", known_names(kActivations), ")"));
}
WeightInit parse_weight_init(const std::string& name) {
  for (const auto& e : kInits)
    if (name == e.name) return static_cast<WeightInit>(e.value);
  throw InvalidArgument(
      str_cat("unknown weight init '", name, "' (known: ", known_names(kInits), ")"));
}

void NeuronGroup::validate() const {
  ELMQ_CHECK_ARG(count >= 1 && count <= kMaxNeurons, "NeuronGroup.count must be in [1, ",
                 kMaxNeurons, "], got ", count);
  ELMQ_CHECK_ARG(static_cast<std::uint32_t>(activation) <= 5,
                 "NeuronGroup.activation is not a known activation (", static_cast<int>(activation),
                 ")");
  ELMQ_CHECK_ARG(static_cast<std::uint32_t>(init) <= 2, "NeuronGroup.init is not a known scheme (",
                 static_cast<int>(init), ")");
  ELMQ_CHECK_ARG(std::isfinite(weight_scale) && weight_scale > 0.0f && weight_scale <= 1e6f,
                 "NeuronGroup.weight_scale must be in (0, 1e6], got ", weight_scale);
  ELMQ_CHECK_ARG(std::isfinite(bias_scale) && bias_scale >= 0.0f && bias_scale <= 1e6f,
                 "NeuronGroup.bias_scale must be in [0, 1e6], got ", bias_scale);
  ELMQ_CHECK_ARG(std::isfinite(ternary_density) && ternary_density > 0.0f && ternary_density <= 1.0f,
                 "NeuronGroup.ternary_density must be in (0, 1], got ", ternary_density);
  ELMQ_CHECK_ARG(std::isfinite(rbf_width) && rbf_width > 0.0f && rbf_width <= 1e6f,
                 "NeuronGroup.rbf_width must be in (0, 1e6], got ", rbf_width);
}

Index HiddenLayerConfig::n_neurons() const {
  Index n = 0;
  for (const auto& g : groups) n += g.count;
  return n;
}

bool HiddenLayerConfig::has_rbf() const {
  return std::any_of(groups.begin(), groups.end(),
                     [](const NeuronGroup& g) { return g.activation == Activation::kRbf; });
}

void HiddenLayerConfig::validate() const {
  ELMQ_CHECK_ARG(!groups.empty(), "HiddenLayerConfig.groups must hold at least one group");
  for (std::size_t i = 0; i < groups.size(); ++i) {
    try {
      groups[i].validate();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(str_cat("HiddenLayerConfig.groups[", i, "]: ", e.what()));
    }
  }
  ELMQ_CHECK_ARG(n_neurons() <= kMaxNeurons, "HiddenLayerConfig: ", n_neurons(),
                 " neurons in total exceeds the limit of ", kMaxNeurons);
}

std::vector<NeuronGroup> HiddenLayerConfig::parse_groups(const std::string& spec) {
  std::vector<NeuronGroup> groups;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto colon = item.find(':');
    const std::string count_str = item.substr(0, colon);
    NeuronGroup g;
    std::size_t used = 0;
    long long count = 0;
    try {
      count = std::stoll(count_str, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    ELMQ_CHECK_ARG(!count_str.empty() && used == count_str.size() && count >= 1 && count <= kMaxNeurons,
                   "'", spec, "' is not a valid group spec: '", item,
                   "' must be COUNT[:ACTIVATION] with COUNT in [1, ", kMaxNeurons,
                   "] (e.g. 1500:tanh,500:rbf)");
    g.count = count;
    if (colon != std::string::npos) g.activation = parse_activation(item.substr(colon + 1));
    groups.push_back(g);
  }
  ELMQ_CHECK_ARG(!groups.empty(), "'", spec, "' is not a valid group spec (e.g. 2000:tanh)");
  return groups;
}

std::string HiddenLayerConfig::describe() const {
  std::string s;
  for (const auto& g : groups) {
    if (!s.empty()) s += " + ";
    s += str_cat(g.count, " ", activation_name(g.activation));
    if (g.activation != Activation::kRbf) s += str_cat(" (", weight_init_name(g.init), ")");
  }
  return s;
}

// ---------------------------------------------------------------- creation

HiddenLayer HiddenLayer::create(const HiddenLayerConfig& config, Index n_inputs,
                                const ConstMatrixRef& centre_source, float input_rms) {
  config.validate();
  ELMQ_CHECK_ARG(std::isfinite(input_rms) && input_rms > 0.0f,
                 "HiddenLayer::create: input_rms must be finite and > 0, got ", input_rms);
  ELMQ_CHECK_ARG(n_inputs >= 1 && n_inputs <= (Index{1} << 24),
                 "HiddenLayer::create: n_inputs must be in [1, 2^24], got ", n_inputs);
  const Index total = config.n_neurons();
  ELMQ_CHECK_ARG(total * n_inputs <= (Index{1} << 31),
                 "HiddenLayer::create: ", total, " neurons x ", n_inputs,
                 " inputs exceeds 2^31 weights");
  if (config.has_rbf()) {
    ELMQ_CHECK_ARG(centre_source.rows() >= 1 && centre_source.cols() == n_inputs,
                   "HiddenLayer::create: RBF neurons need centre rows with ", n_inputs,
                   " columns, got ", centre_source.rows(), " x ", centre_source.cols());
  }

  HiddenLayer layer;
  layer.config_ = config;
  layer.weights_.resize(total, n_inputs);
  layer.bias_.resize(total);
  layer.rbf_gamma_ = VectorXf::Zero(total);
  const double d = static_cast<double>(n_inputs);
  const double rms = input_rms;

  Index first = 0;
  for (std::size_t gi = 0; gi < config.groups.size(); ++gi) {
    const NeuronGroup& g = config.groups[gi];
    // One stream per neuron (global index), so weights do not depend on how
    // the layer is split into groups later or on the thread count.
    for (Index j = first; j < first + g.count; ++j) {
      Rng rng(config.seed, static_cast<std::uint64_t>(j));
      float* w = layer.weights_.row(j).data();
      if (g.activation == Activation::kRbf) {
        const auto r = static_cast<Index>(rng.below(static_cast<std::uint64_t>(centre_source.rows())));
        for (Index k = 0; k < n_inputs; ++k) w[k] = centre_source(r, k);
        layer.bias_[j] = 0.0f;
        continue;
      }
      switch (g.init) {
        case WeightInit::kUniform: {
          const double a = g.weight_scale * std::sqrt(3.0 / d) / rms;
          for (Index k = 0; k < n_inputs; ++k) w[k] = static_cast<float>(rng.uniform(-a, a));
          break;
        }
        case WeightInit::kNormal: {
          const double s = g.weight_scale / std::sqrt(d) / rms;
          for (Index k = 0; k < n_inputs; ++k) w[k] = static_cast<float>(s * rng.normal());
          break;
        }
        case WeightInit::kTernary: {
          const double p = g.ternary_density;
          const auto v = static_cast<float>(g.weight_scale / std::sqrt(d * p) / rms);
          for (Index k = 0; k < n_inputs; ++k) {
            const double u = rng.uniform();
            w[k] = u < p / 2 ? -v : (u < p ? v : 0.0f);
          }
          break;
        }
      }
      layer.bias_[j] = static_cast<float>(rng.uniform(-g.bias_scale, g.bias_scale));
    }
    if (g.activation == Activation::kRbf) {
      // sigma = width * median distance between this group's centres (on a
      // bounded sample of pairs), so RBF responses are neither all 0 nor all 1.
      Rng rng(config.seed ^ 0xC3A5C85C97CB3127ULL, static_cast<std::uint64_t>(gi));
      const Index pairs = std::min<Index>(2000, g.count * (g.count - 1) / 2 + 1);
      std::vector<double> dist;
      dist.reserve(static_cast<std::size_t>(pairs));
      for (Index p = 0; p < pairs && g.count > 1; ++p) {
        const Index a = first + static_cast<Index>(rng.below(static_cast<std::uint64_t>(g.count)));
        const Index b = first + static_cast<Index>(rng.below(static_cast<std::uint64_t>(g.count)));
        if (a == b) continue;
        dist.push_back(
            (layer.weights_.row(a) - layer.weights_.row(b)).cast<double>().squaredNorm());
      }
      double median_sq = 0.0;
      if (!dist.empty()) {
        std::nth_element(dist.begin(), dist.begin() + dist.size() / 2, dist.end());
        median_sq = dist[dist.size() / 2];
      }
      if (!(median_sq > 0.0)) median_sq = d;  // degenerate: identical centres
      const double sigma_sq = static_cast<double>(g.rbf_width) * g.rbf_width * median_sq;
      layer.rbf_gamma_.segment(first, g.count).setConstant(static_cast<float>(0.5 / sigma_sq));
    }
    first += g.count;
  }
  layer.centre_sq_norms_ = layer.weights_.rowwise().squaredNorm();
  return layer;
}

HiddenLayer HiddenLayer::from_parameters(const HiddenLayerConfig& config, RowMatrixXf weights,
                                         VectorXf bias, VectorXf rbf_gamma) {
  config.validate();
  const Index total = config.n_neurons();
  ELMQ_CHECK_ARG(weights.rows() == total && weights.cols() >= 1,
                 "HiddenLayer::from_parameters: weights are ", weights.rows(), " x ", weights.cols(),
                 ", the config has ", total, " neurons");
  ELMQ_CHECK_ARG(bias.size() == total, "HiddenLayer::from_parameters: bias has ", bias.size(),
                 " entries, expected ", total);
  ELMQ_CHECK_ARG(rbf_gamma.size() == total, "HiddenLayer::from_parameters: rbf_gamma has ",
                 rbf_gamma.size(), " entries, expected ", total);
  check_finite(weights, "HiddenLayer::from_parameters", "weights");
  ELMQ_CHECK_ARG(bias.allFinite() && rbf_gamma.allFinite() && (rbf_gamma.array() >= 0).all(),
                 "HiddenLayer::from_parameters: bias and rbf_gamma must be finite, gamma >= 0");
  HiddenLayer layer;
  layer.config_ = config;
  layer.weights_ = std::move(weights);
  layer.bias_ = std::move(bias);
  layer.rbf_gamma_ = std::move(rbf_gamma);
  layer.centre_sq_norms_ = layer.weights_.rowwise().squaredNorm();
  return layer;
}

// ---------------------------------------------------------------- transform

void HiddenLayer::activate(MatrixRef z, const Eigen::Ref<const VectorXf>& x_sq_norms) const {
  Index first = 0;
  for (const NeuronGroup& g : config_.groups) {
    auto block = z.middleCols(first, g.count);
    auto a = block.array();
    switch (g.activation) {
      case Activation::kSigmoid:
        // 1 / (1 + e^-x) == 0.5 + 0.5 tanh(x / 2): Eigen vectorises tanh.
        a = 0.5f + 0.5f * (0.5f * a).tanh();
        break;
      case Activation::kTanh: a = a.tanh(); break;
      case Activation::kRelu: a = a.max(0.0f); break;
      case Activation::kSin: a = a.sin(); break;
      case Activation::kLinear: break;
      case Activation::kRbf: {
        // z holds x.c; ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, clamped at 0
        // against rounding.
        const auto gamma = rbf_gamma_.segment(first, g.count).transpose().array();
        const auto csq = centre_sq_norms_.segment(first, g.count).transpose().array();
        for (Index i = 0; i < block.rows(); ++i) {
          auto row = block.row(i).array();
          row = (-(gamma * ((x_sq_norms[i] - 2.0f * row + csq).max(0.0f)))).exp();
        }
        break;
      }
    }
    first += g.count;
  }
}

void HiddenLayer::transform(const ConstMatrixRef& x, MatrixRef h, int threads) const {
  ELMQ_CHECK_ARG(!empty(), "HiddenLayer::transform: the layer is empty (not created)");
  ELMQ_CHECK_ARG(x.cols() == n_inputs(), "HiddenLayer::transform: X has ", x.cols(),
                 " columns, the layer expects ", n_inputs());
  ELMQ_CHECK_ARG(h.rows() == x.rows() && h.cols() == n_neurons(),
                 "HiddenLayer::transform: H is ", h.rows(), " x ", h.cols(), ", expected ",
                 x.rows(), " x ", n_neurons());
  // Projection neurons need the bias; RBF neurons need x.c only (bias is 0 there).
  const bool rbf = config_.has_rbf();
  parallel_for_range(x.rows(), kTransformRows, threads, [&](Index begin, Index end) {
    const Index n = end - begin;
    auto hb = h.middleRows(begin, n);
    hb.noalias() = x.middleRows(begin, n) * weights_.transpose();
    hb.rowwise() += bias_.transpose();
    VectorXf x_sq;
    if (rbf) x_sq = x.middleRows(begin, n).rowwise().squaredNorm();
    activate(hb, x_sq);
  });
}

namespace {

// z[i] = w_i . x for R rows of w (ldw apart) at once, each row in the order
// HiddenLayer::project_row documents: R independent accumulator chains, the
// packet of x loaded once for all of them.
template <int R>
EIGEN_ALWAYS_INLINE void dot_rows(const float* w, Index ldw, Index cols, const float* x,
                                  float* z) {
  using Eigen::internal::ploadu;
  using Eigen::internal::pmadd;
  using P = Eigen::internal::packet_traits<float>::type;
  // The width from sizeof: a packet type as a template argument loses its
  // vector attributes (-Wignored-attributes).
  constexpr Index W = sizeof(P) / sizeof(float);
  const Index np = cols / W;
  P acc[R];
  for (int r = 0; r < R; ++r) acc[r] = Eigen::internal::pset1<P>(0.0f);
  for (Index p = 0; p < np; ++p) {
    const P xv = ploadu<P>(x + W * p);
    for (int r = 0; r < R; ++r) acc[r] = pmadd(ploadu<P>(w + r * ldw + W * p), xv, acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    float s = Eigen::internal::predux(acc[r]);
    // std::fma, not s += w * x: whether the compiler contracts that may
    // differ between the two instantiations, and a row's bits must not.
    for (Index c = W * np; c < cols; ++c) s = std::fma(w[r * ldw + c], x[c], s);
    z[r] = s;
  }
}

}  // namespace

void HiddenLayer::project_row(const float* x, float* z, Index begin, Index end) const {
  const Index d = weights_.cols(), ld = weights_.outerStride();
  // Eight rows at a time: eight chains hide the multiply-add latency and
  // share each load of x (W streams from memory: 3.1 MB at L = 1000, d = 784).
  Index i = begin;
  for (; i + 8 <= end; i += 8) dot_rows<8>(weights_.data() + i * ld, ld, d, x, z + (i - begin));
  for (; i < end; ++i) dot_rows<1>(weights_.data() + i * ld, ld, d, x, z + (i - begin));
  for (Index j = begin; j < end; ++j) z[j - begin] += bias_[j];
}

RowMatrixXf HiddenLayer::transform(const ConstMatrixRef& x, int threads) const {
  RowMatrixXf h(x.rows(), n_neurons());
  transform(x, h, threads);
  return h;
}

// ---------------------------------------------------------------- files

namespace {
constexpr std::uint32_t kTagSeed = tag("SEED");
constexpr std::uint32_t kTagGroups = tag("GRPS");
constexpr std::uint32_t kTagWeights = tag("WGHT");
constexpr std::uint32_t kTagBias = tag("BIAS");
constexpr std::uint32_t kTagGamma = tag("GAMA");
constexpr std::size_t kGroupFields = 7;
}  // namespace

void HiddenLayer::save(RecordWriter& w) const {
  w.put_u64(kTagSeed, config_.seed);
  std::vector<double> groups;
  for (const auto& g : config_.groups) {
    groups.insert(groups.end(), {static_cast<double>(g.count), static_cast<double>(g.activation),
                                 static_cast<double>(g.init), g.weight_scale, g.bias_scale,
                                 g.ternary_density, g.rbf_width});
  }
  w.put_f64_array(kTagGroups, groups.data(), groups.size());
  w.put_matrix(kTagWeights, weights_);
  w.put_f32_array(kTagBias, bias_.data(), static_cast<std::size_t>(bias_.size()));
  w.put_f32_array(kTagGamma, rbf_gamma_.data(), static_cast<std::size_t>(rbf_gamma_.size()));
}

HiddenLayer HiddenLayer::load(const RecordReader& r) {
  HiddenLayerConfig config;
  config.seed = r.get_u64(kTagSeed);
  const std::vector<double> groups = r.get_f64_array(kTagGroups);
  if (groups.empty() || groups.size() % kGroupFields != 0) r.fail("hidden layer groups are malformed");
  config.groups.clear();
  for (std::size_t i = 0; i < groups.size(); i += kGroupFields) {
    NeuronGroup g;
    const double count = groups[i], act = groups[i + 1], init = groups[i + 2];
    if (!(count >= 1 && count <= kMaxNeurons && act >= 0 && act <= 5 && init >= 0 && init <= 2) ||
        count != std::floor(count) || act != std::floor(act) || init != std::floor(init)) {
      r.fail("hidden layer group has invalid count/activation/init");
    }
    g.count = static_cast<Index>(count);
    g.activation = static_cast<Activation>(static_cast<std::uint32_t>(act));
    g.init = static_cast<WeightInit>(static_cast<std::uint32_t>(init));
    g.weight_scale = static_cast<float>(groups[i + 3]);
    g.bias_scale = static_cast<float>(groups[i + 4]);
    g.ternary_density = static_cast<float>(groups[i + 5]);
    g.rbf_width = static_cast<float>(groups[i + 6]);
    config.groups.push_back(g);
  }
  RowMatrixXf weights = r.get_matrix_f(kTagWeights);
  const std::vector<float> bias = r.get_f32_array(kTagBias);
  const std::vector<float> gamma = r.get_f32_array(kTagGamma);
  try {
    return from_parameters(config, std::move(weights),
                           Eigen::Map<const VectorXf>(bias.data(), static_cast<Index>(bias.size())),
                           Eigen::Map<const VectorXf>(gamma.data(), static_cast<Index>(gamma.size())));
  } catch (const InvalidArgument& e) {
    r.fail(str_cat("hidden layer is inconsistent: ", e.what()));
  }
}

}  // namespace elmq
