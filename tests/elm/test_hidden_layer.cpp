#include "elm/hidden_layer.h"

#include <cmath>

#include <gtest/gtest.h>

#include "elm/common/errors.h"

namespace elmq {
namespace {

RowMatrixXf random_inputs(Index n, Index d, unsigned seed) {
  std::srand(seed);  // only to make test data; the library never uses rand()
  return RowMatrixXf::Random(n, d);
}

TEST(HiddenLayer, WeightStatisticsMatchEachScheme) {
  const Index d = 400;
  for (WeightInit init : {WeightInit::kUniform, WeightInit::kNormal, WeightInit::kTernary}) {
    HiddenLayerConfig cfg;
    cfg.groups = {NeuronGroup{500, Activation::kTanh, init}};
    const HiddenLayer layer = HiddenLayer::create(cfg, d, RowMatrixXf());
    const RowMatrixXf& w = layer.weights();
    const double var = w.cast<double>().squaredNorm() / static_cast<double>(w.size());
    EXPECT_NEAR(var * d, 1.0, 0.02) << weight_init_name(init);  // variance scale^2 / d
    EXPECT_NEAR(w.cast<double>().mean(), 0.0, 0.002) << weight_init_name(init);
    if (init == WeightInit::kTernary) {
      const double nz = static_cast<double>((w.array() != 0.0f).count()) / static_cast<double>(w.size());
      EXPECT_NEAR(nz, 1.0 / 3.0, 0.01);
      const float v = w.cwiseAbs().maxCoeff();
      EXPECT_TRUE(((w.array() == 0.0f) || (w.array().abs() == v)).all());
    }
    EXPECT_LE(layer.bias().cwiseAbs().maxCoeff(), 1.0f);
  }
}

TEST(HiddenLayer, SameSeedSameLayerDifferentSeedDifferent) {
  HiddenLayerConfig cfg;
  cfg.groups = {NeuronGroup{64, Activation::kSigmoid}};
  const auto a = HiddenLayer::create(cfg, 10, RowMatrixXf());
  const auto b = HiddenLayer::create(cfg, 10, RowMatrixXf());
  EXPECT_EQ(a.weights(), b.weights());
  EXPECT_EQ(a.bias(), b.bias());
  cfg.seed = 43;
  const auto c = HiddenLayer::create(cfg, 10, RowMatrixXf());
  EXPECT_NE(a.weights(), c.weights());
}

TEST(HiddenLayer, ActivationsMatchTheirDefinitions) {
  const RowMatrixXf x = random_inputs(7, 5, 1);
  HiddenLayerConfig cfg;
  cfg.groups = {{3, Activation::kSigmoid}, {3, Activation::kTanh}, {3, Activation::kRelu},
                {3, Activation::kSin},     {3, Activation::kLinear}, {4, Activation::kRbf}};
  const HiddenLayer layer = HiddenLayer::create(cfg, 5, x);
  for (int threads : {1, 2}) {
    const RowMatrixXf h = layer.transform(x, threads);
    ASSERT_EQ(h.cols(), 19);
    for (Index i = 0; i < x.rows(); ++i) {
      for (Index j = 0; j < 19; ++j) {
        const double z = x.row(i).cast<double>().dot(layer.weights().row(j).cast<double>()) +
                         layer.bias()[j];
        double expect;
        if (j < 3) expect = 1.0 / (1.0 + std::exp(-z));
        else if (j < 6) expect = std::tanh(z);
        else if (j < 9) expect = std::max(z, 0.0);
        else if (j < 12) expect = std::sin(z);
        else if (j < 15) expect = z;
        else expect = std::exp(-layer.rbf_gamma()[j] *
                               (x.row(i) - layer.weights().row(j)).cast<double>().squaredNorm());
        EXPECT_NEAR(h(i, j), expect, 2e-5) << "row " << i << " neuron " << j;
      }
    }
  }
}

TEST(HiddenLayer, RbfCentresAreTrainingRowsAndGammaPositive) {
  const RowMatrixXf x = random_inputs(50, 6, 2);
  HiddenLayerConfig cfg;
  cfg.groups = {{10, Activation::kRbf}};
  const HiddenLayer layer = HiddenLayer::create(cfg, 6, x);
  for (Index j = 0; j < 10; ++j) {
    bool found = false;
    for (Index i = 0; i < x.rows(); ++i) found = found || (x.row(i) == layer.weights().row(j));
    EXPECT_TRUE(found) << "centre " << j;
    EXPECT_GT(layer.rbf_gamma()[j], 0.0f);
  }
}

TEST(HiddenLayer, ProjectRowMatchesADoubleReferenceAndAnySplit) {
  // Widths below, at and around the packet widths (tails of every length,
  // no whole packet at all), neuron counts around the 8-row blocks.
  for (const Index d : {Index{1}, Index{7}, Index{8}, Index{13}, Index{67}, Index{784}}) {
    for (const Index L : {Index{1}, Index{9}, Index{37}}) {
      HiddenLayerConfig cfg;
      cfg.groups = {NeuronGroup{L, Activation::kTanh}};
      const HiddenLayer layer = HiddenLayer::create(cfg, d, RowMatrixXf());
      const RowMatrixXf x = random_inputs(3, d, static_cast<unsigned>(d * 100 + L));
      for (Index i = 0; i < x.rows(); ++i) {
        VectorXf z(L);
        layer.project_row(x.row(i).data(), z.data(), 0, L);
        for (Index n = 0; n < L; ++n) {
          double ref = layer.bias()[n], mag = std::abs(ref);
          for (Index j = 0; j < d; ++j) {
            ref += static_cast<double>(layer.weights()(n, j)) * static_cast<double>(x(i, j));
            mag += std::abs(static_cast<double>(layer.weights()(n, j)) * x(i, j));
          }
          // float rounding: at most about d + 1 roundings of terms below mag.
          EXPECT_NEAR(z[n], ref, 1.2e-7 * static_cast<double>(d + 2) * mag + 1e-30)
              << "d " << d << " L " << L << " neuron " << n;
        }
        // Any split of the neurons gives the same bits (ElmModel's row threads).
        for (const Index a : {Index{0}, Index{3}, Index{8}, L / 2}) {
          for (const Index b : {a, a + 1, L}) {
            if (a > L || b > L) continue;
            VectorXf parts = VectorXf::Constant(L, -1.0f);
            layer.project_row(x.row(i).data(), parts.data(), 0, a);
            layer.project_row(x.row(i).data(), parts.data() + a, a, b);
            layer.project_row(x.row(i).data(), parts.data() + b, b, L);
            for (Index n = 0; n < L; ++n) {
              ASSERT_EQ(parts[n], z[n]) << "d " << d << " L " << L << " split " << a << ", " << b;
            }
          }
        }
      }
    }
  }
}

TEST(HiddenLayer, ParseGroups) {
  const auto g = HiddenLayerConfig::parse_groups("1500:tanh,500:rbf");
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].count, 1500);
  EXPECT_EQ(g[1].activation, Activation::kRbf);
  EXPECT_EQ(HiddenLayerConfig::parse_groups("20")[0].activation, Activation::kTanh);
  EXPECT_THROW(HiddenLayerConfig::parse_groups("20x"), InvalidArgument);
  EXPECT_THROW(HiddenLayerConfig::parse_groups("0:tanh"), InvalidArgument);
  EXPECT_THROW(HiddenLayerConfig::parse_groups("10:swish"), InvalidArgument);
  EXPECT_THROW(HiddenLayerConfig::parse_groups(""), InvalidArgument);
}

TEST(HiddenLayer, BadConfigAndInputsRejected) {
  HiddenLayerConfig cfg;
  cfg.groups = {};
  EXPECT_THROW(cfg.validate(), InvalidArgument);
  cfg.groups = {NeuronGroup{}};
  cfg.groups[0].weight_scale = -1;
  EXPECT_THROW(cfg.validate(), InvalidArgument);
  cfg.groups[0] = NeuronGroup{};
  cfg.groups[0].count = 2'000'000;
  EXPECT_THROW(cfg.validate(), InvalidArgument);
  cfg.groups[0] = NeuronGroup{10, Activation::kRbf};
  EXPECT_THROW(HiddenLayer::create(cfg, 5, RowMatrixXf()), InvalidArgument);  // no centres
  cfg.groups[0] = NeuronGroup{10};
  EXPECT_THROW(HiddenLayer::create(cfg, 0, RowMatrixXf()), InvalidArgument);
  const auto layer = HiddenLayer::create(cfg, 5, RowMatrixXf());
  EXPECT_THROW(layer.transform(RowMatrixXf::Zero(3, 4), 1), InvalidArgument);
}

TEST(HiddenLayer, SaveLoadRoundTrip) {
  const RowMatrixXf x = random_inputs(20, 4, 3);
  HiddenLayerConfig cfg;
  cfg.groups = {{5, Activation::kSin, WeightInit::kUniform}, {3, Activation::kRbf}};
  const HiddenLayer layer = HiddenLayer::create(cfg, 4, x);
  RecordWriter w;
  layer.save(w);
  const HiddenLayer back = HiddenLayer::load(RecordReader::from_payload(w.payload(), "test"));
  EXPECT_EQ(back.weights(), layer.weights());
  EXPECT_EQ(back.transform(x, 1), layer.transform(x, 1));
  EXPECT_EQ(back.config().describe(), layer.config().describe());
}

}  // namespace
}  // namespace elmq
