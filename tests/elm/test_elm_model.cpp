#include "elm/elm_model.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include <gtest/gtest.h>

#include "elm/common/errors.h"
#include "elm/common/rng.h"

#if __has_include("elm/data/datasets.h")
#include "elm/data/datasets.h"
#define ELMQ_HAVE_DATASETS 1
#endif

namespace elmq {
namespace {

// Three Gaussian blobs in 8 dimensions with arbitrary integer labels.
struct Blobs {
  RowMatrixXf x;
  LabelVector y;
};
Blobs make_blobs(Index n, std::uint64_t seed, double spread = 0.6) {
  Rng rng(seed);
  const std::int64_t labels[3] = {-5, 7, 100};
  Blobs b{RowMatrixXf(n, 8), LabelVector(n)};
  for (Index i = 0; i < n; ++i) {
    const auto c = static_cast<int>(rng.below(3));
    b.y[i] = labels[c];
    for (Index j = 0; j < 8; ++j) {
      b.x(i, j) = static_cast<float>((j % 3 == c ? 2.0 : 0.0) + spread * rng.normal());
    }
  }
  return b;
}

ElmConfig small_config(Index hidden = 64) {
  ElmConfig c;
  c.hidden.groups = {NeuronGroup{hidden, Activation::kTanh}};
  c.chunk_rows = 100;
  return c;
}

TEST(ElmModel, ClassifiesBlobsWithArbitraryLabels) {
  const Blobs train = make_blobs(600, 1), test = make_blobs(300, 2);
  ElmModel m(small_config());
  m.fit(train.x, train.y);
  EXPECT_EQ(m.classes(), (LabelVector(3) << -5, 7, 100).finished());
  EXPECT_GT(m.score(test.x, test.y), 0.95);
  const LabelVector pred = m.predict(test.x);
  const RowMatrixXf proba = m.predict_proba(test.x);
  const RowMatrixXf dec = m.decision_function(test.x);
  for (Index i = 0; i < test.x.rows(); ++i) {
    Index a, b;
    proba.row(i).maxCoeff(&a);
    dec.row(i).maxCoeff(&b);
    EXPECT_EQ(a, b);
    EXPECT_EQ(m.classes()[a], pred[i]);
    EXPECT_NEAR(proba.row(i).sum(), 1.0f, 1e-5f);
  }
  // Automatic lambda reports its curve.
  EXPECT_FALSE(m.lambda_search().lambdas.empty());
  EXPECT_GT(m.lambda(), 0.0);
}

TEST(ElmModel, SameModelForAnyThreadCount) {
  // One 11000-row chunk: its ~8800 training rows are summed as 3 SYRK slices
  // (two rounds on 2 threads, one on 3); L = 300 spans two row blocks.
  const Blobs train = make_blobs(11000, 3);
  ElmConfig c = small_config(300);
  c.chunk_rows = 16384;
  c.threads = 1;
  ElmModel a(c);
  a.fit(train.x, train.y);
  for (int threads : {2, 3}) {
    c.threads = threads;
    ElmModel b(c);
    b.fit(train.x, train.y);
    EXPECT_EQ(a.beta(), b.beta()) << threads << " threads";
    EXPECT_EQ(a.lambda(), b.lambda());
    EXPECT_EQ(a.decision_function(train.x), b.decision_function(train.x));
  }
}

TEST(ElmModel, PartialFitEqualsFit) {
  // Chunks aligned with chunk_rows: every accumulate call sees exactly the
  // rows fit() sees, so the model is bit-identical. Misaligned chunks change
  // only float32 rounding inside each chunk's H^T H (relative ~1e-7, amplified
  // by cond(G + lambda I)), so beta agrees to a tolerance and predictions match.
  const Blobs train = make_blobs(500, 4);
  ElmConfig c = small_config(80);
  const LabelVector classes = (LabelVector(3) << 100, -5, 7).finished();
  for (bool auto_lambda : {false, true}) {
    c.ridge.auto_lambda = auto_lambda;
    ElmModel full(c);
    full.fit(train.x, train.y);
    for (Index step : {Index{100}, Index{70}}) {
      ElmModel inc(c);
      inc.fit_scaler(train.x);
      for (Index b = 0; b < 500; b += step) {
        const Index m = std::min<Index>(step, 500 - b);
        inc.partial_fit(train.x.middleRows(b, m), train.y.segment(b, m),
                        b == 0 ? classes : LabelVector());
      }
      if (step == c.chunk_rows) {
        EXPECT_EQ(inc.beta(), full.beta()) << "auto=" << auto_lambda;
        EXPECT_EQ(inc.lambda(), full.lambda());
      } else {
        EXPECT_NEAR(inc.lambda(), full.lambda(), 1e-6 * full.lambda()) << "auto=" << auto_lambda;
        // Both solve the same ridge problem: equal training objective.
        const GramAccumulator stats = full.training_stats();
        auto objective = [&](const ElmModel& m) {
          const RowMatrixXd b = m.beta().cast<double>();
          return squared_error_from_stats(stats, b) + m.lambda() * b.squaredNorm();
        };
        EXPECT_NEAR(objective(inc), objective(full), 1e-5 * objective(full));
        const float rel = (inc.beta() - full.beta()).norm() / full.beta().norm();
        std::printf("partial_fit vs fit, misaligned chunks, auto=%d, lambda=%g: relative beta "
                    "difference %.2e\n", auto_lambda, full.lambda(), rel);
        EXPECT_LT(rel, 5e-2f) << "auto=" << auto_lambda;
      }
      EXPECT_EQ(inc.predict(train.x), full.predict(train.x));
    }
  }
}

TEST(ElmModel, PartialFitEqualsFitTightlyWhenWellConditioned) {
  const Blobs train = make_blobs(500, 4);
  ElmConfig c = small_config(80);
  c.ridge.auto_lambda = false;
  c.ridge.lambda = 10.0;  // ~5% of the mean diagonal of G
  ElmModel full(c);
  full.fit(train.x, train.y);
  ElmModel inc(c);
  inc.fit_scaler(train.x);
  const LabelVector classes = (LabelVector(3) << 100, -5, 7).finished();
  for (Index b = 0; b < 500; b += 70) {
    const Index m = std::min<Index>(70, 500 - b);
    inc.partial_fit(train.x.middleRows(b, m), train.y.segment(b, m), b == 0 ? classes : LabelVector());
  }
  // Float32 products inside each chunk (Eigen's or OpenBLAS's kernels round
  // differently): 5e-5 relative at cond(G + lambda I) of a few hundred.
  const float rel = (inc.beta() - full.beta()).norm() / full.beta().norm();
  EXPECT_LT(rel, 5e-5f);
}

TEST(ElmModel, AccumulateThenSolveEqualsPartialFit) {
  const Blobs train = make_blobs(300, 5);
  const LabelVector classes = (LabelVector(3) << -5, 7, 100).finished();
  ElmModel a(small_config()), b(small_config());
  a.partial_fit(train.x.topRows(150), train.y.head(150), classes);
  a.partial_fit(train.x.bottomRows(150), train.y.tail(150));
  b.fit_scaler(train.x.topRows(150));
  b.accumulate(train.x.topRows(150), train.y.head(150), classes);
  b.accumulate(train.x.bottomRows(150), train.y.tail(150));
  b.solve();
  EXPECT_EQ(a.beta(), b.beta());
}

TEST(ElmModel, SaveLoadGivesBitExactPredictions) {
  const Blobs train = make_blobs(400, 6);
  ElmConfig c = small_config();
  c.hidden.groups = {{40, Activation::kTanh}, {20, Activation::kRbf}, {10, Activation::kRelu}};
  ElmModel m(c);
  m.fit(train.x, train.y);
  const std::string path = ::testing::TempDir() + "/elmq_model_test.elmq";
  for (bool state : {false, true}) {
    m.save(path, state);
    const ElmModel back = ElmModel::load(path);
    EXPECT_EQ(back.decision_function(train.x), m.decision_function(train.x));
    EXPECT_EQ(back.predict(train.x), m.predict(train.x));
    EXPECT_EQ(back.classes(), m.classes());
    EXPECT_EQ(back.lambda(), m.lambda());
    EXPECT_EQ(back.lambda_search().lambdas, m.lambda_search().lambdas);
    EXPECT_EQ(back.has_training_state(), state);
    EXPECT_EQ(back.config().hidden.describe(), m.config().hidden.describe());
  }
  // A model saved with its statistics continues training like the original.
  ElmModel resumed = ElmModel::load(path);
  ElmModel original = m;
  const Blobs more = make_blobs(100, 7);
  resumed.partial_fit(more.x, more.y);
  original.partial_fit(more.x, more.y);
  EXPECT_EQ(resumed.beta(), original.beta());
  std::remove(path.c_str());
}

TEST(ElmModel, SaveLoadKeepsALargeSplitSeedExactly) {
  // Seeds above 2^53 do not survive a trip through a double (files before the
  // SSED record stored it only so).
  const Blobs b = make_blobs(120, 3);
  ElmConfig c = small_config(16);
  c.ridge.split_seed = (std::uint64_t{1} << 60) + 1;
  ElmModel m(c);
  m.fit(b.x, b.y);
  EXPECT_EQ(ElmModel::from_bytes(m.to_bytes()).config().ridge.split_seed, c.ridge.split_seed);
}

TEST(ElmModel, CorruptOrTruncatedFilesRejected) {
  const Blobs train = make_blobs(200, 8);
  ElmModel m(small_config(16));
  m.fit(train.x, train.y);
  const std::string bytes = m.to_bytes();
  for (std::size_t n : {std::size_t{0}, std::size_t{10}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_THROW(ElmModel::from_bytes(bytes.substr(0, n)), FormatError) << n;
  }
  for (std::size_t i = 0; i < bytes.size(); i += 97) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x5A);
    EXPECT_THROW(ElmModel::from_bytes(bad), FormatError) << i;
  }
  EXPECT_THROW(ElmModel::load("/nonexistent/model.elmq"), IoError);
}

TEST(ElmModel, RegressionMultiOutput) {
  Rng rng(9);
  const Index n = 800;
  RowMatrixXf x(n, 2), y(n, 2);
  for (Index i = 0; i < n; ++i) {
    x(i, 0) = static_cast<float>(rng.uniform(-3, 3));
    x(i, 1) = static_cast<float>(rng.uniform(-3, 3));
    y(i, 0) = std::sin(x(i, 0)) + 0.5f * x(i, 1);
    y(i, 1) = x(i, 0) * x(i, 1) / 3.0f;
  }
  ElmConfig c = small_config(200);
  ElmModel m(c);
  m.fit_regression(x, y);
  EXPECT_EQ(m.task(), Task::kRegression);
  EXPECT_GT(m.score_regression(x, y), 0.99);
  EXPECT_THROW(m.predict(x), InvalidArgument);  // not a classifier
}

TEST(ElmModel, Multilabel) {
  const Blobs b = make_blobs(600, 10);
  RowMatrixXf y(600, 2);
  for (Index i = 0; i < 600; ++i) {
    y(i, 0) = b.y[i] == 7 ? 1.0f : 0.0f;
    y(i, 1) = b.y[i] != -5 ? 1.0f : 0.0f;
  }
  ElmModel m(small_config());
  m.fit_multilabel(b.x, y);
  const RowMatrixXf p = m.predict_multilabel(b.x);
  EXPECT_GT(static_cast<double>((p.array() == y.array()).count()) / y.size(), 0.95);
  RowMatrixXf bad = y;
  bad(0, 0) = 0.5f;
  EXPECT_THROW(m.fit_multilabel(b.x, bad), InvalidArgument);
}

TEST(ElmModel, BalancedClassWeightEqualsExplicitWeights) {
  Blobs b = make_blobs(300, 11);
  ElmConfig c = small_config();
  c.ridge.auto_lambda = false;
  c.class_weight = ClassWeight::kBalanced;
  ElmModel balanced(c);
  balanced.fit(b.x, b.y);
  VectorXf w(300);
  for (Index i = 0; i < 300; ++i) {
    const auto count = (b.y.array() == b.y[i]).count();
    w[i] = 300.0f / (3.0f * static_cast<float>(count));
  }
  c.class_weight = ClassWeight::kNone;
  ElmModel explicit_w(c);
  explicit_w.fit(b.x, b.y, w);
  EXPECT_LT((balanced.beta() - explicit_w.beta()).cwiseAbs().maxCoeff(), 1e-5f);
}

TEST(ElmModel, SingleRowPathMatchesBatch) {
  const Blobs b = make_blobs(200, 12);
  ElmConfig c = small_config();
  c.hidden.groups = {{30, Activation::kSigmoid}, {10, Activation::kRbf}};
  ElmModel m(c);
  m.fit(b.x, b.y);
  const RowMatrixXf dec = m.decision_function(b.x);
  PredictWorkspace ws;
  std::vector<float> out(3);
  for (Index i = 0; i < 20; ++i) {
    m.decision_row(b.x.row(i).data(), out.data(), ws);
    for (Index c2 = 0; c2 < 3; ++c2) EXPECT_NEAR(out[c2], dec(i, c2), 1e-5f);
    EXPECT_EQ(m.predict_row(b.x.row(i).data(), ws, out.data()), m.predict(b.x.middleRows(i, 1))[0]);
  }
}

TEST(ElmModel, RowThreadsGiveBitIdenticalPredictions) {
  // Layers of at least 2^18 weights (the threshold for splitting a row) with
  // L not a multiple of 64, 8 or 4, and mixed neuron groups.
  const Index n = 300, d = 300;
  Rng rng(77);
  RowMatrixXf x(n, d);
  LabelVector y(n);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) x(i, j) = static_cast<float>(rng.normal());
    y[i] = x(i, 0) + x(i, 1) > 0.0f ? 1 : (x(i, 2) > 0.0f ? 2 : 3);
  }
  for (const Index L : {Index{900}, Index{1027}, Index{1090}}) {
    ElmConfig c = small_config();
    c.hidden.groups = {{L - 130, Activation::kTanh}, {130, Activation::kRbf}};
    ElmModel m(c);
    m.fit(x, y);
    PredictWorkspace ws;
    std::vector<float> one(3), many(3);
    for (const int threads : {2, 3, 0}) {
      for (Index i = 0; i < 25; ++i) {
        m.set_row_threads(1);
        m.decision_row(x.row(i).data(), one.data(), ws);
        m.set_row_threads(threads);
        m.decision_row(x.row(i).data(), many.data(), ws);
        for (Index k = 0; k < 3; ++k) {
          ASSERT_EQ(one[k], many[k]) << "L " << L << " threads " << threads << " row " << i;
        }
        EXPECT_EQ(m.predict_row(x.row(i).data(), ws, many.data()), m.predict(x.middleRows(i, 1))[0]);
      }
    }
  }
  ElmModel m(small_config());
  EXPECT_THROW(m.set_row_threads(-1), InvalidArgument);
}

TEST(ElmModel, FitWithLayerReusesTheGivenLayer) {
  const Blobs b = make_blobs(300, 16);
  ElmModel a(small_config());
  a.fit(b.x, b.y);
  ElmModel c(small_config(7));  // a different config: the layer's wins
  c.fit_with_layer(a.hidden(), b.x, b.y);
  EXPECT_EQ(c.beta(), a.beta());
  EXPECT_EQ(c.n_hidden(), a.n_hidden());
  EXPECT_THROW(c.fit_with_layer(a.hidden(), b.x.leftCols(5), b.y), InvalidArgument);
  c.set_threads(1);
  EXPECT_EQ(c.config().threads, 1);
  EXPECT_EQ(c.decision_function(b.x), a.decision_function(b.x));
  EXPECT_THROW(c.set_threads(-1), InvalidArgument);
}

TEST(ElmModel, LambdaTradeOff) {
  // A larger lambda gives a smaller beta (the knob later used for quantizability).
  const Blobs b = make_blobs(300, 13);
  ElmConfig c = small_config();
  ElmModel m(c);
  m.fit(b.x, b.y);
  const float n1 = m.beta().norm();
  m.resolve_with_lambda(m.lambda() * 100);
  EXPECT_LT(m.beta().norm(), n1);
}

TEST(ElmModel, BadInputsGiveClearErrors) {
  const Blobs b = make_blobs(100, 14);
  ElmModel m(small_config(16));
  EXPECT_THROW(m.predict(b.x), InvalidArgument);  // unfitted
  PredictWorkspace ws;
  float out[3];
  EXPECT_THROW(m.decision_row(b.x.data(), out, ws), InvalidArgument);
  EXPECT_THROW(m.fit(RowMatrixXf(0, 8), LabelVector(0)), InvalidArgument);          // empty
  EXPECT_THROW(m.fit(b.x, b.y.head(50)), InvalidArgument);                          // rows differ
  EXPECT_THROW(m.fit(b.x, LabelVector::Constant(100, 3)), InvalidArgument);         // one class
  RowMatrixXf nan_x = b.x;
  nan_x(5, 2) = std::numeric_limits<float>::quiet_NaN();
  try {
    m.fit(nan_x, b.y);
    FAIL() << "NaN accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("row 5, column 2"), std::string::npos) << e.what();
  }
  nan_x(5, 2) = std::numeric_limits<float>::infinity();
  EXPECT_THROW(m.fit(nan_x, b.y), InvalidArgument);
  m.fit(b.x, b.y);
  try {
    m.predict(RowMatrixXf::Zero(2, 7));
    FAIL() << "wrong width accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("7 columns, model expects 8"), std::string::npos)
        << e.what();
  }
  nan_x = b.x;
  nan_x(0, 0) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(m.predict(nan_x), InvalidArgument);
  // partial_fit: unknown label, missing classes, duplicate classes.
  ElmModel inc(small_config(16));
  EXPECT_THROW(inc.partial_fit(b.x, b.y), InvalidArgument);
  EXPECT_THROW(inc.partial_fit(b.x, b.y, (LabelVector(3) << 7, 7, 100).finished()), InvalidArgument);
  inc.partial_fit(b.x, b.y, (LabelVector(3) << -5, 7, 100).finished());
  EXPECT_THROW(inc.partial_fit(b.x.topRows(1), LabelVector::Constant(1, 42)), InvalidArgument);
  // Config fields are named.
  ElmConfig bad = small_config();
  bad.chunk_rows = 0;
  try {
    ElmModel bad_model(bad);
    FAIL() << "chunk_rows 0 accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("chunk_rows"), std::string::npos);
  }
  bad = small_config();
  bad.threads = -2;
  EXPECT_THROW(ElmModel{bad}, InvalidArgument);
  bad = small_config();
  bad.hidden.groups[0].count = 5'000'000;  // absurd size
  EXPECT_THROW(ElmModel{bad}, InvalidArgument);
  bad = small_config();
  bad.ridge.auto_lambda = false;
  bad.ridge.lambda = -1;
  EXPECT_THROW(ElmModel{bad}, InvalidArgument);
}

// Two features with a training range of about 1e-30: min-max scaling
// multiplies them by ~1e30, so an input of 1e10 scales to 1e40 = Inf, and a
// neuron with weights of opposite signs on the two computes Inf - Inf = NaN.
// Found by the model-file fuzzer (a loaded scaler did it with ordinary inputs;
// decision_row then failed an assertion and decision_function returned NaN).
TEST(ElmModel, InputsThatOverflowGiveANumericalErrorNotNaN) {
  Blobs b = make_blobs(200, 21);
  Rng rng(5);
  for (Index i = 0; i < b.x.rows(); ++i) {
    b.x(i, 0) = 1e-30f * static_cast<float>(rng.uniform());
    b.x(i, 1) = 1e-30f * static_cast<float>(rng.uniform());
  }
  ElmModel m(small_config(32));
  m.fit(b.x, b.y);
  RowMatrixXf far = b.x.topRows(3);
  far(1, 0) = far(1, 1) = 1e10f;
  try {
    m.decision_function(far);
    FAIL() << "non-finite decisions returned";
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("input row 1 "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("outside the range"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m.predict(far), NumericalError);
  EXPECT_THROW(m.predict_proba(far), NumericalError);
  PredictWorkspace ws;
  float out[3];
  EXPECT_THROW(m.decision_row(far.row(1).data(), out, ws), NumericalError);
  m.decision_row(far.row(0).data(), out, ws);  // the other rows are fine
  EXPECT_TRUE(std::isfinite(out[0]) && std::isfinite(out[1]) && std::isfinite(out[2]));
  // The row path checks its results, not its inputs: a NaN input is caught too.
  RowMatrixXf nan_row = b.x.row(0);
  nan_row(0, 4) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(m.decision_row(nan_row.data(), out, ws), NumericalError);
  EXPECT_THROW(m.predict_row(nan_row.data(), ws, out), NumericalError);
}

TEST(ElmModel, ZeroLambdaOnSingularLayerIsANumericalError) {
  // More neurons than rows: H^T H is singular, lambda = 0 cannot be solved.
  const Blobs b = make_blobs(20, 15);
  ElmConfig c = small_config(100);
  c.ridge.auto_lambda = false;
  c.ridge.lambda = 0.0;
  ElmModel m(c);
  EXPECT_THROW(m.fit(b.x, b.y), NumericalError);
  c.ridge.lambda = 1e-2;
  ElmModel ok(c);
  ok.fit(b.x, b.y);
  EXPECT_TRUE(ok.beta().allFinite());
}

#ifdef ELMQ_HAVE_DATASETS
TEST(ElmModel, RealDataDigits) {
  DatasetSplit d;
  try {
    d = load_dataset("digits");
  } catch (const IoError& e) {
    GTEST_SKIP() << e.what();
  }
  ElmConfig c;
  c.hidden.groups = {NeuronGroup{1000, Activation::kTanh}};
  ElmModel m(c);
  m.fit(d.x_train, d.y_train);
  const double acc = m.score(d.x_test, d.y_test);
  std::printf("digits: L=1000 tanh, lambda=%g, test accuracy %.4f\n", m.lambda(), acc);
  EXPECT_GT(acc, 0.95);
}
#endif

}  // namespace
}  // namespace elmq
