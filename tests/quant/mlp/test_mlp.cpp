#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "elm/common/errors.h"
#include "elm/common/serialize.h"
#include "elm/data/datasets.h"
#include "quant/mlp/mlp.h"
#include "quant/mlp/optimizer.h"
#include "tests/quant/mlp/mlp_test_util.h"

namespace elmq {
namespace {

using test::Labelled;
using test::make_clusters;
using test::make_xor;
using test::small_config;

// Mean cross-entropy of the network in double precision (the finite-difference reference).
double loss_double(const MlpParams& p, const RowMatrixXd& xs, const std::vector<int>& y) {
  RowMatrixXd a = xs;
  for (int l = 0; l < p.n_layers(); ++l) {
    RowMatrixXd z = a * p.weights[l].cast<double>().transpose();
    z.rowwise() += p.biases[l].cast<double>().transpose();
    if (l + 1 < p.n_layers()) z = z.cwiseMax(0.0);
    a = z;
  }
  double sum = 0.0;
  for (Index i = 0; i < a.rows(); ++i) {
    const double m = a.row(i).maxCoeff();
    const double lse = m + std::log((a.row(i).array() - m).exp().sum());
    sum += lse - a(i, y[static_cast<std::size_t>(i)]);
  }
  return sum / static_cast<double>(a.rows());
}

TEST(Mlp, GradientsMatchFiniteDifferences) {
  const Labelled d = make_clusters(40, 6, 3, 1);
  MlpConfig c = small_config({7, 5});
  c.epochs = 2;
  Mlp m(c);
  m.fit(d.x, d.y);  // trained a little so that the point is not special
  const MlpParams g = m.gradients(d.x, d.y);

  const RowMatrixXd xs = m.scaler().transform(d.x).cast<double>();
  std::vector<int> y;
  for (Index i = 0; i < d.y.size(); ++i) y.push_back(static_cast<int>(d.y[i]));  // classes 0..2
  EXPECT_NEAR(loss_double(m.params(), xs, y), m.loss(d.x, d.y), 1e-5);

  MlpParams p = m.params();
  const double h = 1e-4;
  int checked = 0;
  auto check = [&](float* v, float analytic, const std::string& what) {
    const float saved = *v;
    *v = saved + static_cast<float>(h);
    const double up = loss_double(p, xs, y);
    const double du = static_cast<double>(*v) - saved;
    *v = saved - static_cast<float>(h);
    const double down = loss_double(p, xs, y);
    const double dd = saved - static_cast<double>(*v);
    *v = saved;
    const double numeric = (up - down) / (du + dd);
    EXPECT_NEAR(analytic, numeric, 2e-4 + 2e-3 * std::fabs(numeric)) << what;
    ++checked;
  };
  for (int l = 0; l < p.n_layers(); ++l) {
    for (Index i = 0; i < p.weights[l].size(); ++i) {
      check(p.weights[l].data() + i, g.weights[l].data()[i],
            "W" + std::to_string(l) + "[" + std::to_string(i) + "]");
    }
    for (Index i = 0; i < p.biases[l].size(); ++i) {
      check(p.biases[l].data() + i, g.biases[l][i],
            "b" + std::to_string(l) + "[" + std::to_string(i) + "]");
    }
  }
  EXPECT_EQ(checked, 6 * 7 + 7 + 7 * 5 + 5 + 5 * 3 + 3);
}

TEST(Mlp, LearnsXorToHighAccuracy) {
  const Labelled train = make_xor(1000, 4, 1), test = make_xor(500, 4, 2);
  MlpConfig c = small_config({32, 32});
  c.epochs = 40;
  Mlp m(c);
  m.fit(train.x, train.y);
  EXPECT_EQ(m.classes(), (LabelVector(2) << -3, 8).finished());
  const double acc = m.score(test.x, test.y);
  EXPECT_GT(acc, 0.95);
  // A linear model cannot do better than chance here: the hidden layers matter.
  const LabelVector pred = m.predict(test.x);
  const RowMatrixXf proba = m.predict_proba(test.x);
  for (Index i = 0; i < test.x.rows(); ++i) {
    EXPECT_NEAR(proba.row(i).sum(), 1.0f, 1e-5f);
    Index arg;
    proba.row(i).maxCoeff(&arg);
    EXPECT_EQ(m.classes()[arg], pred[i]);
  }
  EXPECT_EQ(m.history().epochs.size(), 40u);
  EXPECT_LT(m.history().epochs.back().train_loss, m.history().epochs.front().train_loss);
}

TEST(Mlp, SgdWithMomentumLearnsToo) {
  const Labelled train = make_clusters(600, 10, 4, 3, 0.7),
                 test = make_clusters(300, 10, 4, 4, 0.7);
  MlpConfig c = small_config();
  c.optimizer.kind = OptimizerKind::kSgd;
  c.optimizer.learning_rate = 0.05;
  c.optimizer.nesterov = true;
  c.optimizer.weight_decay = 1e-4;
  Mlp m(c);
  m.fit(train.x, train.y);
  EXPECT_GT(m.score(test.x, test.y), 0.9);
  EXPECT_LT(m.history().epochs.back().train_loss, 0.5 * m.history().epochs.front().train_loss);
}

TEST(Mlp, DeterministicForSeedAndAnyThreadCount) {
  const Labelled d = make_clusters(500, 12, 3, 5);
  MlpConfig c = small_config({24, 24});
  c.epochs = 3;
  c.batch_size = 100;  // several row blocks per step
  Mlp a(c), b(c);
  a.fit(d.x, d.y);
  b.fit(d.x, d.y);
  c.threads = 2;
  Mlp t2(c);
  t2.fit(d.x, d.y);
  c.threads = 3;
  Mlp t3(c);
  t3.fit(d.x, d.y);
  for (int l = 0; l < a.n_layers(); ++l) {
    EXPECT_EQ(a.params().weights[l], b.params().weights[l]);
    EXPECT_EQ(a.params().weights[l], t2.params().weights[l]) << "layer " << l;
    EXPECT_EQ(a.params().weights[l], t3.params().weights[l]) << "layer " << l;
    EXPECT_EQ(a.params().biases[l], t3.params().biases[l]) << "layer " << l;
  }
  c.threads = 1;
  c.seed = 8;
  Mlp other(c);
  other.fit(d.x, d.y);
  EXPECT_NE(a.params().weights[0], other.params().weights[0]);
}

TEST(Mlp, RestoresTheBestValidationEpoch) {
  const Labelled d = make_clusters(400, 8, 3, 6, 1.6);
  MlpConfig c = small_config({32});
  c.epochs = 12;
  c.optimizer.learning_rate = 0.05;  // noisy on purpose: the best epoch is rarely the last
  c.validation_fraction = 0.25;
  Mlp m(c);
  m.fit(d.x, d.y);
  const TrainingHistory& h = m.history();
  ASSERT_EQ(h.epochs.size(), 12u);
  double best = 0.0;
  for (const EpochReport& e : h.epochs) best = std::max(best, e.val_accuracy);
  ASSERT_GE(h.best_epoch, 1);
  EXPECT_EQ(h.epochs[static_cast<std::size_t>(h.best_epoch - 1)].val_accuracy, best);
  // The model scores exactly that on the same validation rows.
  const SplitIndices split = stratified_split(d.y, 0.25, c.seed);
  RowMatrixXf xv(static_cast<Index>(split.test.size()), d.x.cols());
  LabelVector yv(xv.rows());
  for (std::size_t i = 0; i < split.test.size(); ++i) {
    xv.row(static_cast<Index>(i)) = d.x.row(split.test[i]);
    yv[static_cast<Index>(i)] = d.y[split.test[i]];
  }
  EXPECT_DOUBLE_EQ(m.score(xv, yv), best);
  EXPECT_EQ(h.val_rows, xv.rows());
  EXPECT_EQ(h.train_rows + h.val_rows, d.x.rows());
}

TEST(Mlp, EarlyStoppingStopsAfterPatience) {
  // Random labels: the network only memorizes, so validation stops improving.
  Labelled d = make_clusters(300, 8, 4, 7);
  Rng rng(70);
  for (Index i = 0; i < d.y.size(); ++i) d.y[i] = static_cast<std::int64_t>(rng.below(4));
  MlpConfig c = small_config({64});
  c.epochs = 50;
  c.patience = 2;
  c.optimizer.learning_rate = 1e-2;
  Mlp m(c);
  m.fit(d.x, d.y);
  EXPECT_TRUE(m.history().stopped_early);
  EXPECT_LT(m.history().epochs.size(), 50u);
  EXPECT_EQ(static_cast<int>(m.history().epochs.size()), m.history().best_epoch + 2);
}

TEST(Mlp, ExplicitValidationSetAndProgress) {
  const Labelled train = make_clusters(300, 8, 3, 8), val = make_clusters(90, 8, 3, 9);
  MlpConfig c = small_config();
  c.epochs = 4;
  Mlp m(c);
  int calls = 0;
  m.set_progress([&](const EpochReport& r) {
    ++calls;
    EXPECT_EQ(r.epoch, calls);
    EXPECT_GE(r.val_accuracy, 0.0);
    EXPECT_LE(r.val_accuracy, 1.0);
    EXPECT_GE(r.elapsed_seconds, r.epoch_seconds);
  });
  m.fit(train.x, train.y, val.x, val.y);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(m.history().train_rows, 300);
  EXPECT_EQ(m.history().val_rows, 90);
  const double best =
      m.history().epochs[static_cast<std::size_t>(m.history().best_epoch - 1)].val_accuracy;
  EXPECT_DOUBLE_EQ(m.score(val.x, val.y), best);
}

TEST(Mlp, DecisionRowMatchesBatch) {
  const Labelled d = make_clusters(200, 8, 3, 10);
  Mlp m(small_config());
  m.fit(d.x, d.y);
  const RowMatrixXf z = m.decision_function(d.x);
  MlpWorkspace ws;
  std::vector<float> out(3);
  for (Index i = 0; i < 20; ++i) {
    m.decision_row(d.x.row(i).data(), out.data(), ws);
    for (Index j = 0; j < 3; ++j) EXPECT_NEAR(out[static_cast<std::size_t>(j)], z(i, j), 1e-4f);
  }
}

TEST(Mlp, SaveLoadRoundTripIsBitExact) {
  const Labelled d = make_clusters(200, 8, 3, 11);
  Mlp m(small_config());
  m.fit(d.x, d.y);
  const std::string bytes = m.to_bytes();
  const Mlp r = Mlp::from_bytes(bytes);
  EXPECT_EQ(r.to_bytes(), bytes);
  ASSERT_EQ(r.n_layers(), m.n_layers());
  for (int l = 0; l < m.n_layers(); ++l) {
    EXPECT_EQ(r.params().weights[l], m.params().weights[l]);
    EXPECT_EQ(r.params().biases[l], m.params().biases[l]);
  }
  EXPECT_EQ(r.decision_function(d.x), m.decision_function(d.x));
  EXPECT_EQ(r.classes(), m.classes());
  EXPECT_EQ(r.config().hidden, m.config().hidden);
  EXPECT_EQ(r.config().optimizer.learning_rate, m.config().optimizer.learning_rate);
  EXPECT_EQ(r.history().epochs.size(), m.history().epochs.size());
  EXPECT_EQ(r.history().best_epoch, m.history().best_epoch);
  EXPECT_EQ(peek_file_kind(bytes), FileKind::kMlp);

  const std::string path = ::testing::TempDir() + "/elmq_mlp_roundtrip.elmq";
  m.save(path);
  EXPECT_EQ(Mlp::load(path).to_bytes(), bytes);
  EXPECT_THROW(Mlp::load(path + ".missing"), IoError);
}

TEST(Mlp, CorruptFilesAreRejected) {
  const Labelled d = make_clusters(100, 5, 2, 12);
  MlpConfig c = small_config({4});
  c.epochs = 1;
  Mlp m(c);
  m.fit(d.x, d.y);
  const std::string bytes = m.to_bytes();
  for (std::size_t pos : {std::size_t{3}, std::size_t{20}, bytes.size() / 2, bytes.size() - 2}) {
    std::string bad = bytes;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x5a);
    EXPECT_THROW(Mlp::from_bytes(bad), FormatError) << "flipped byte " << pos;
  }
  EXPECT_THROW(Mlp::from_bytes(bytes.substr(0, bytes.size() - 7)), FormatError);
  EXPECT_THROW(Mlp::from_bytes(""), FormatError);

  // Valid containers with inconsistent content.
  auto image = [&](std::int64_t hidden_width, bool drop_bias) {
    RecordWriter w;
    const std::int64_t sizes[] = {5, hidden_width, 2};
    w.put_i64_array(tag("SIZE"), sizes, 3);
    RecordWriter sw;
    m.scaler().save(sw);
    w.put_nested(tag("SCLR"), sw);
    const std::int64_t cls[] = {0, 1};
    w.put_i64_array(tag("CLSS"), cls, 2);
    w.put_matrix(tag("W000"), m.params().weights[0]);
    w.put_f32_array(tag("B000"), m.params().biases[0].data(), 4);
    w.put_matrix(tag("W001"), m.params().weights[1]);
    if (!drop_bias) w.put_f32_array(tag("B001"), m.params().biases[1].data(), 2);
    const std::int64_t conf[] = {1, 1, 32, 0, 1, 7, 1};
    w.put_i64_array(tag("CONF"), conf, 7);
    const double optm[] = {0, 1e-3, 0.9, 0.999, 1e-8, 0.9, 0, 0, 0.1};
    w.put_f64_array(tag("OPTM"), optm, 9);
    w.put_f64_array(tag("HIST"), optm, 0);
    const double info[] = {1, 0, 0, 0, 0};
    w.put_f64_array(tag("HINF"), info, 5);
    return w.finish(FileKind::kMlp, 1);
  };
  EXPECT_NO_THROW(Mlp::from_bytes(image(4, false)));
  EXPECT_THROW(Mlp::from_bytes(image(5, false)), FormatError);  // widths disagree with W
  EXPECT_THROW(Mlp::from_bytes(image(4, true)), FormatError);   // missing record
  EXPECT_THROW(Mlp::from_bytes(image(0, false)), FormatError);  // zero width
  // Another kind of elmq file.
  RecordWriter other;
  other.put_u64(tag("NLAY"), 1);
  EXPECT_THROW(Mlp::from_bytes(other.finish(FileKind::kQuantizedMlp, 1)), FormatError);
}

TEST(Mlp, BadConfigsNameTheField) {
  auto expect_bad = [](const MlpConfig& c, const std::string& field) {
    try {
      c.validate();
      ADD_FAILURE() << "accepted a bad " << field;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  MlpConfig c;
  c.hidden = {16, 0};
  expect_bad(c, "hidden[1]");
  c = MlpConfig();
  c.hidden = std::vector<Index>(65, 4);
  expect_bad(c, "hidden");
  c = MlpConfig();
  c.epochs = 0;
  expect_bad(c, "epochs");
  c = MlpConfig();
  c.batch_size = 0;
  expect_bad(c, "batch_size");
  c = MlpConfig();
  c.validation_fraction = 0.95;
  expect_bad(c, "validation_fraction");
  c = MlpConfig();
  c.patience = -1;
  expect_bad(c, "patience");
  c = MlpConfig();
  c.threads = -2;
  expect_bad(c, "threads");
  c = MlpConfig();
  c.optimizer.learning_rate = 0.0;
  expect_bad(c, "learning_rate");
  c = MlpConfig();
  c.optimizer.beta2 = 1.0;
  expect_bad(c, "beta2");
  c = MlpConfig();
  c.optimizer.kind = OptimizerKind::kSgd;
  c.optimizer.momentum = 0.0;
  c.optimizer.nesterov = true;
  expect_bad(c, "nesterov");
  c = MlpConfig();
  c.optimizer.weight_decay = -1e-3;
  expect_bad(c, "weight_decay");
  c = MlpConfig();
  c.epochs = 0;
  EXPECT_THROW(Mlp{c}, InvalidArgument);
  EXPECT_THROW(parse_optimizer("adagrad"), InvalidArgument);
  EXPECT_EQ(parse_optimizer("sgd"), OptimizerKind::kSgd);
}

TEST(Mlp, BadInputsThrow) {
  const Labelled d = make_clusters(60, 5, 3, 13);
  MlpConfig c = small_config({4});
  c.epochs = 1;
  Mlp m(c);
  EXPECT_THROW(m.predict(d.x), InvalidArgument);  // not fitted
  EXPECT_THROW(m.to_bytes(), InvalidArgument);
  LabelVector one_class = LabelVector::Constant(60, 4);
  EXPECT_THROW(m.fit(d.x, one_class), InvalidArgument);
  EXPECT_THROW(m.fit(d.x, d.y.head(59)), InvalidArgument);
  RowMatrixXf nan = d.x;
  nan(3, 2) = std::nanf("");
  EXPECT_THROW(m.fit(nan, d.y), InvalidArgument);
  m.fit(d.x, d.y);
  EXPECT_THROW(m.predict(RowMatrixXf::Zero(2, 6)), InvalidArgument);
  EXPECT_THROW(m.predict(nan), InvalidArgument);
  LabelVector unknown = d.y;
  unknown[0] = 42;
  EXPECT_THROW(m.loss(d.x, unknown), InvalidArgument);
  EXPECT_DOUBLE_EQ(m.score(d.x.topRows(1), unknown.head(1)), 0.0);  // unknown label: wrong
  EXPECT_THROW(m.fit(d.x, d.y, d.x.leftCols(4), d.y), InvalidArgument);
  EXPECT_THROW(m.fit(d.x, d.y, d.x, unknown), InvalidArgument);
  EXPECT_THROW(m.set_threads(-1), InvalidArgument);
  // 0 rows predict to 0 labels.
  EXPECT_EQ(m.predict(RowMatrixXf(0, 5)).size(), 0);
}

TEST(Optimizer, AdamAndSgdFollowTheirDefinitions) {
  std::vector<float> w = {1.0f, -2.0f}, g = {0.5f, 0.25f};
  OptimizerConfig c;
  c.learning_rate = 0.1;
  c.weight_decay = 0.01;
  Optimizer adam(c, {ParamBlock{w.data(), g.data(), 2, true}});
  adam.step();
  // First Adam step: m_hat = g', v_hat = g'^2, so the move is lr * g' / (|g'| + eps) ~ lr.
  const double g0 = 0.5 + 0.01 * 1.0;
  EXPECT_NEAR(w[0], 1.0 - 0.1 * g0 / (g0 + 1e-8), 1e-6);
  EXPECT_NEAR(w[1], -2.0 - 0.1, 1e-6);
  adam.step();
  EXPECT_EQ(adam.steps(), 2);

  std::vector<float> v = {1.0f}, h = {2.0f};
  OptimizerConfig s;
  s.kind = OptimizerKind::kSgd;
  s.learning_rate = 0.1;
  s.momentum = 0.5;
  Optimizer sgd(s, {ParamBlock{v.data(), h.data(), 1, false}});
  sgd.step();  // buf = 2, v = 1 - 0.2
  EXPECT_NEAR(v[0], 0.8, 1e-6);
  sgd.step();  // buf = 0.5 * 2 + 2 = 3, v = 0.8 - 0.3
  EXPECT_NEAR(v[0], 0.5, 1e-6);
  EXPECT_THROW(sgd.set_learning_rate(-1.0), InvalidArgument);
  EXPECT_THROW(Optimizer(s, {ParamBlock{nullptr, h.data(), 1, false}}), InvalidArgument);
}

TEST(Mlp, RealDataDigits) {
  DatasetSplit d;
  try {
    d = load_dataset("digits");
  } catch (const IoError& e) {
    GTEST_SKIP() << e.what();
  }
  MlpConfig c;
  c.hidden = {64, 64};
  c.epochs = 25;
  c.batch_size = 32;
  c.threads = 1;
  Mlp m(c);
  m.fit(d.x_train, d.y_train);
  const double acc = m.score(d.x_test, d.y_test);
  std::printf("digits: MLP 64-64-64-10, Adam, best epoch %d of %zu, test accuracy %.4f\n",
              m.history().best_epoch, m.history().epochs.size(), acc);
  EXPECT_GT(acc, 0.96);
}

}  // namespace
}  // namespace elmq
