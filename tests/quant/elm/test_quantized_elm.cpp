#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "elm/common/serialize.h"
#include "quant/elm/quantize_elm.h"
#include "quant/elm/quantized_elm.h"
#include "quant_elm_test_util.h"

namespace elmq {
namespace {

using qelm_test::Blobs;
using qelm_test::make_blobs;
using qelm_test::small_config;

// A fitted model with its training statistics, and its data.
struct Fitted {
  Blobs train, test;
  ElmModel model;
};

const Fitted& blobs_model() {
  static const Fitted* f = [] {
    auto* p = new Fitted{make_blobs(700, 12, 4, 1), make_blobs(300, 12, 4, 2),
                         ElmModel(small_config(96))};
    p->model.fit(p->train.x, p->train.y);
    return p;
  }();
  return *f;
}

ElmQuantConfig qconfig(QuantFormat beta, QuantMethod method = QuantMethod::kRtn,
                       QuantFormat w = QuantFormat::kF32) {
  ElmQuantConfig c;
  c.beta_format = beta;
  c.beta_method = method;
  c.w_format = w;
  c.threads = 1;
  return c;
}

double max_abs(const RowMatrixXf& m) { return m.cwiseAbs().maxCoeff(); }

double argmax_agreement(const RowMatrixXf& a, const RowMatrixXf& b) {
  Index same = 0;
  for (Index i = 0; i < a.rows(); ++i) {
    Index ia, ib;
    a.row(i).maxCoeff(&ia);
    b.row(i).maxCoeff(&ib);
    same += ia == ib;
  }
  return static_cast<double>(same) / static_cast<double>(a.rows());
}

TEST(QuantizedElm, Float32FormatsReproduceTheFp32Model) {
  const Fitted& f = blobs_model();
  const QuantizedElm q = quantize_elm(f.model, qconfig(QuantFormat::kF32));
  EXPECT_TRUE(q.info().w_exact);
  EXPECT_FALSE(q.info().beta_resolved);
  EXPECT_EQ(q.output_weights().dequantize(), RowMatrixXf(f.model.beta().transpose()));
  const RowMatrixXf a = f.model.decision_function(f.test.x);
  const RowMatrixXf b = q.decision_function(f.test.x);
  EXPECT_LT(max_abs(a - b), 1e-4 * (1.0 + max_abs(a)));
  EXPECT_EQ(q.predict(f.test.x), f.model.predict(f.test.x));
  EXPECT_EQ(q.classes(), f.model.classes());
  EXPECT_EQ(q.bytes(), q.fp32_bytes());
  EXPECT_DOUBLE_EQ(q.bits_per_weight(), 32.0);
}

TEST(QuantizedElm, IntegerKernelsMatchTheDequantizedReference) {
  const Fitted& f = blobs_model();
  struct Case {
    QuantFormat w, beta;
    HiddenQuant hidden;
    double tol;  // relative to the largest decision
  };
  for (const Case& c :
       {Case{QuantFormat::kInt8Channel, QuantFormat::kInt8Channel, HiddenQuant::kDynamic, 0.03},
        Case{QuantFormat::kQ8_0, QuantFormat::kInt4G32Sym, HiddenQuant::kStatic, 0.03},
        Case{QuantFormat::kInt4Channel, QuantFormat::kInt2G32Asym, HiddenQuant::kDynamic, 0.05},
        Case{QuantFormat::kTernaryBase3, QuantFormat::kTernaryChannel, HiddenQuant::kStatic,
             0.05}}) {
    SCOPED_TRACE(std::string(format_name(c.w)) + " / " + format_name(c.beta));
    ElmQuantConfig qc = qconfig(c.beta, QuantMethod::kGptq, c.w);
    qc.hidden = c.hidden;
    const QuantizedElm q = quantize_elm(f.model, qc, f.train.x, f.train.y);
    const RowMatrixXf kern = q.decision_function(f.test.x);
    const RowMatrixXf ref = q.decision_function_reference(f.test.x);
    // The kernels quantize inputs and activations to 8 bits: small, not zero.
    EXPECT_GT(max_abs(kern - ref), 0.0);
    EXPECT_LT(max_abs(kern - ref), c.tol * max_abs(ref));
    EXPECT_GE(argmax_agreement(kern, ref), 0.98);
  }
}

TEST(QuantizedElm, RowPathAndThreadCountsAgreeWithTheBatch) {
  const Fitted& f = blobs_model();
  for (InputQuant in : {InputQuant::kDynamic, InputQuant::kUint8}) {
    ElmQuantConfig qc =
        qconfig(QuantFormat::kInt4G32Sym, QuantMethod::kGptq, QuantFormat::kInt8Channel);
    qc.input = in;
    QuantizedElm q = quantize_elm(f.model, qc, f.train.x, f.train.y);
    const RowMatrixXf batch = q.decision_function(f.test.x);
    q.set_threads(2);
    EXPECT_EQ(q.decision_function(f.test.x), batch);  // exactly: same operations per row
    PredictWorkspace ws;
    std::vector<float> out(static_cast<std::size_t>(q.n_outputs()));
    const LabelVector labels = q.predict(f.test.x);
    for (Index i = 0; i < f.test.x.rows(); ++i) {
      const std::int64_t label = q.predict_row(f.test.x.row(i).data(), ws, out.data());
      for (Index c = 0; c < q.n_outputs(); ++c) {
        // Equal up to the last bits of the vectorised tanh (row vs block alignment).
        EXPECT_NEAR(out[c], batch(i, c), 1e-3 * (1.0 + std::fabs(batch(i, c))));
      }
      EXPECT_EQ(label, labels[i]);
    }
  }
}

TEST(QuantizedElm, RowThreadsGiveBitIdenticalRows) {
  // W of 1024 x 256 = 2^18 weights: at the threshold where rows are split.
  const auto train = qelm_test::make_blobs(400, 256, 4, 31);
  ElmModel m(qelm_test::small_config(1024, false));
  m.fit(train.x, train.y);
  for (QuantFormat w : {QuantFormat::kInt8Channel, QuantFormat::kInt4G32Asym,
                        QuantFormat::kTernaryChannel, QuantFormat::kF16, QuantFormat::kF32}) {
    SCOPED_TRACE(format_name(w));
    ElmQuantConfig qc;
    qc.w_format = w;
    qc.beta_format = QuantFormat::kInt8Channel;
    qc.resolve_beta_after_w = false;
    qc.threads = 1;
    QuantizedElm q = quantize_elm(m, qc);
    EXPECT_THROW(q.set_row_threads(-1), InvalidArgument);
    PredictWorkspace ws;
    RowMatrixXf one(20, q.n_outputs()), split(20, q.n_outputs());
    for (Index i = 0; i < 20; ++i) q.decision_row(train.x.row(i).data(), one.row(i).data(), ws);
    for (int t : {2, 3, 0}) {
      q.set_row_threads(t);
      EXPECT_EQ(q.row_threads(), t);
      for (Index i = 0; i < 20; ++i) {
        q.decision_row(train.x.row(i).data(), split.row(i).data(), ws);
      }
      EXPECT_EQ(std::memcmp(one.data(), split.data(), sizeof(float) * one.size()), 0) << t;
    }
    EXPECT_EQ(QuantizedElm::from_bytes(q.to_bytes()).row_threads(), 1);  // not in files
  }
}

TEST(QuantizedElm, ProbabilitiesAndScore) {
  const Fitted& f = blobs_model();
  const QuantizedElm q = quantize_elm(f.model, qconfig(QuantFormat::kInt8Channel));
  const RowMatrixXf p = q.predict_proba(f.test.x);
  const LabelVector y = q.predict(f.test.x);
  for (Index i = 0; i < p.rows(); ++i) {
    EXPECT_NEAR(p.row(i).sum(), 1.0f, 1e-5f);
    Index c;
    p.row(i).maxCoeff(&c);
    EXPECT_EQ(q.classes()[c], y[i]);
  }
  EXPECT_GT(q.score(f.test.x, f.test.y), 0.9);
  EXPECT_THROW(q.predict_regression(f.test.x), InvalidArgument);
  EXPECT_THROW(q.decision_function(f.test.x.leftCols(11)), InvalidArgument);
  RowMatrixXf nan_x = f.test.x.topRows(3);
  nan_x(1, 2) = NAN;
  EXPECT_THROW(q.decision_function(nan_x), InvalidArgument);
  PredictWorkspace ws;
  std::vector<float> out(4);
  EXPECT_THROW(q.decision_row(nan_x.row(1).data(), out.data(), ws), InvalidArgument);
  EXPECT_THROW(QuantizedElm().decision_function(f.test.x), InvalidArgument);
}

TEST(QuantizedElm, BytesCountEveryParameter) {
  const Fitted& f = blobs_model();
  const QuantizedElm q = quantize_elm(
      f.model, qconfig(QuantFormat::kInt4G32Sym, QuantMethod::kRtn, QuantFormat::kInt4Channel),
      f.train.x, f.train.y);
  const std::uint64_t L = 96, d = 12, C = 4;
  EXPECT_EQ(q.bytes(), format_bytes(QuantFormat::kInt4Channel, L, d) +
                           format_bytes(QuantFormat::kInt4G32Sym, C, L) + 4 * L + 8 * d);
  EXPECT_EQ(q.n_parameters(), static_cast<std::int64_t>(L * d + C * L + L + 2 * d));
  EXPECT_EQ(q.fp32_bytes(), 4 * (L * d + C * L + L + 2 * d));
  EXPECT_DOUBLE_EQ(q.bits_per_weight(), 8.0 * q.bytes() / q.n_parameters());
  EXPECT_LT(q.bytes(), q.fp32_bytes() / 2);  // d = 12 pads every row of W to 32
}

// ---------------------------------------------------------------- quantization-aware solve

TEST(QuantizedElm, ExactTernaryLayerGivesElmModelsBetaBitForBit) {
  const Blobs train = make_blobs(650, 12, 4, 3);
  for (bool auto_lambda : {true, false}) {
    SCOPED_TRACE(auto_lambda ? "auto lambda" : "fixed lambda");
    ElmConfig cfg = small_config(80, auto_lambda, 0.5);
    cfg.hidden.groups[0].init = WeightInit::kTernary;
    ElmModel model(cfg);
    model.fit(train.x, train.y);
    ElmQuantConfig qc = qconfig(QuantFormat::kF32, QuantMethod::kRtn, QuantFormat::kTernaryChannel);
    // Quantization-aware training: W drawn, quantized (exactly), beta solved once.
    const QuantizedElm qa = fit_quantized_elm(cfg, qc, train.x, train.y);
    EXPECT_TRUE(qa.info().w_exact);
    EXPECT_EQ(qa.input_weights().dequantize(), model.hidden().weights());
    EXPECT_EQ(qa.output_weights().dequantize(), RowMatrixXf(model.beta().transpose()));
    EXPECT_EQ(qa.info().lambda, model.lambda());
    // Quantizing the trained model: nothing to re-solve.
    const QuantizedElm q = quantize_elm(model, qc);
    EXPECT_TRUE(q.info().w_exact);
    EXPECT_FALSE(q.info().beta_resolved);
    EXPECT_EQ(q.output_weights().dequantize(), RowMatrixXf(model.beta().transpose()));
    // 2-bit W: 16x smaller than float.
    EXPECT_EQ(q.input_weights().bytes(), format_bytes(QuantFormat::kTernaryChannel, 80, 12));
  }
}

TEST(QuantizedElm, ResolveSolvesOnTheDequantizedLayer) {
  const Fitted& f = blobs_model();
  const ElmQuantConfig qc =
      qconfig(QuantFormat::kF32, QuantMethod::kRtn, QuantFormat::kInt4Channel);
  const QuantizedElm q = quantize_elm(f.model, qc, f.train.x, f.train.y);
  EXPECT_FALSE(q.info().w_exact);
  EXPECT_TRUE(q.info().beta_resolved);
  EXPECT_GT(q.info().w_relative_error, 0.01);
  EXPECT_EQ(q.info().lambda, f.model.lambda());
  // The reference: an FP32 ELM on the dequantized layer, solved from its own statistics.
  const HiddenLayer layer =
      HiddenLayer::from_parameters(f.model.hidden().config(), q.input_weights().dequantize(),
                                   f.model.hidden().bias(), f.model.hidden().rbf_gamma());
  const RowMatrixXf h = layer.transform(f.model.scaler().transform(f.train.x), 1);
  RowMatrixXf t = RowMatrixXf::Zero(h.rows(), 4);
  for (Index i = 0; i < h.rows(); ++i) t(i, f.train.y[i] / 10 - 1) = 1.0f;
  // Accumulated in the model's chunks (float products within a chunk).
  GramAccumulator acc(h.cols(), 4);
  const Index chunk = f.model.config().chunk_rows;
  for (Index b = 0; b < h.rows(); b += chunk) {
    const Index m = std::min(chunk, h.rows() - b);
    acc.add(h.middleRows(b, m), t.middleRows(b, m), VectorXf(), 1);
  }
  const RowMatrixXf beta = solve_ridge(acc.gram(), acc.hty(), f.model.lambda()).cast<float>();
  const RowMatrixXf got = q.output_weights().dequantize().transpose();
  // beta is ill-conditioned at the chosen lambda (last-bit differences of H
  // between GEMM calls of different sizes move it by ~1e-4); its function is not.
  EXPECT_LT(max_abs(got - beta), 1e-2 * max_abs(beta));
  const ElmModel ref =
      ElmModel::from_parts(f.model.config(), Task::kClassification, f.model.scaler(), layer, beta,
                           f.model.classes(), f.model.lambda());
  const RowMatrixXf a = ref.decision_function(f.test.x);
  EXPECT_LT(max_abs(a - q.decision_function_reference(f.test.x)), 1e-4 * max_abs(a));
  EXPECT_LT(max_abs(a - q.decision_function(f.test.x)), 0.02 * max_abs(a));  // int8 inputs
  // Without re-solving, beta stays the FP32 model's.
  ElmQuantConfig keep = qc;
  keep.resolve_beta_after_w = false;
  const QuantizedElm k = quantize_elm(f.model, keep);
  EXPECT_FALSE(k.info().beta_resolved);
  EXPECT_EQ(k.output_weights().dequantize(), RowMatrixXf(f.model.beta().transpose()));
}

TEST(QuantizedElm, GptqNeverWorseThanRtnOnTheRidgeObjective) {
  const Fitted& f = blobs_model();
  for (QuantFormat fmt :
       {QuantFormat::kInt8Channel, QuantFormat::kInt4Channel, QuantFormat::kInt4G32Sym,
        QuantFormat::kInt2G32Asym, QuantFormat::kTernaryChannel}) {
    SCOPED_TRACE(format_name(fmt));
    const QuantizedElm g = quantize_elm(f.model, qconfig(fmt, QuantMethod::kGptq));
    const QuantizedElm r = quantize_elm(f.model, qconfig(fmt, QuantMethod::kRtn));
    EXPECT_EQ(g.info().beta_method, QuantMethod::kGptq);
    EXPECT_LE(g.info().beta_loss, g.info().beta_rtn_loss);
    EXPECT_NEAR(g.info().beta_rtn_loss, r.info().beta_loss, 1e-9 * r.info().beta_loss);
    EXPECT_GT(g.info().ridge_objective, 0.0);
    if (fmt != QuantFormat::kInt8Channel) {
      EXPECT_LT(g.info().beta_loss, 0.7 * r.info().beta_loss);
    }
  }
}

TEST(QuantizedElm, LambdaScaleResolvesBeta) {
  const Fitted& f = blobs_model();
  ElmQuantConfig qc = qconfig(QuantFormat::kF32);
  qc.lambda_scale = 100.0;
  const QuantizedElm q = quantize_elm(f.model, qc);
  EXPECT_TRUE(q.info().beta_resolved);
  EXPECT_DOUBLE_EQ(q.info().lambda, 100.0 * f.model.lambda());
  EXPECT_LT(q.output_weights().dequantize().norm(), f.model.beta().norm());
  ElmModel no_state = f.model;
  no_state.drop_training_state();
  EXPECT_THROW(quantize_elm(no_state, qc), InvalidArgument);
  // With the data the statistics are recomputed.
  const QuantizedElm q2 = quantize_elm(no_state, qc, f.train.x, f.train.y);
  EXPECT_LT(max_abs(q2.output_weights().dequantize() - q.output_weights().dequantize()),
            1e-4 * max_abs(q.output_weights().dequantize()));
}

TEST(QuantizedElm, StaticActivationRanges) {
  const Blobs train = make_blobs(400, 6, 3, 4);
  for (Activation a : {Activation::kSigmoid, Activation::kTanh}) {
    ElmConfig cfg = small_config(40);
    cfg.hidden.groups[0].activation = a;
    ElmModel m(cfg);
    m.fit(train.x, train.y);
    ElmQuantConfig qc = qconfig(QuantFormat::kInt8Channel);
    qc.hidden = HiddenQuant::kStatic;
    const QuantizedElm q = quantize_elm(m, qc);
    const ActivationQuant& act = q.hidden_activation_quant();
    if (a == Activation::kSigmoid) {
      EXPECT_EQ(act.mode, ActivationQuant::Mode::kStaticAsymmetric);
      EXPECT_FLOAT_EQ(act.scale, 1.0f / 255.0f);
      EXPECT_EQ(act.zero_point, 0);
    } else {
      EXPECT_EQ(act.mode, ActivationQuant::Mode::kStatic);
      EXPECT_FLOAT_EQ(act.scale, 1.0f / 127.0f);
    }
    EXPECT_GE(argmax_agreement(q.decision_function(train.x), m.decision_function(train.x)), 0.98);
  }
}

TEST(QuantizedElm, RbfAndMixedGroups) {
  const Blobs train = make_blobs(500, 8, 3, 5), test = make_blobs(200, 8, 3, 6);
  ElmConfig cfg = small_config(30);
  cfg.hidden.groups = HiddenLayerConfig::parse_groups("30:tanh,30:rbf,10:sigmoid");
  ElmModel m(cfg);
  m.fit(train.x, train.y);
  const QuantizedElm q = quantize_elm(
      m, qconfig(QuantFormat::kInt8Channel, QuantMethod::kGptq, QuantFormat::kInt8Channel), train.x,
      train.y);
  EXPECT_EQ(q.bytes(), format_bytes(QuantFormat::kInt8Channel, 70, 8) +
                           format_bytes(QuantFormat::kInt8Channel, 3, 70) + 8 * 70 + 8 * 8);
  EXPECT_GE(argmax_agreement(q.decision_function(test.x), m.decision_function(test.x)), 0.97);
  ElmQuantConfig bad = qconfig(QuantFormat::kInt8Channel);
  bad.input = InputQuant::kUint8;
  EXPECT_THROW(quantize_elm(m, bad), InvalidArgument);
}

TEST(QuantizedElm, RegressionTargets) {
  Rng rng(8);
  RowMatrixXf x(500, 5), y(500, 2);
  for (Index i = 0; i < x.rows(); ++i) {
    for (Index j = 0; j < 5; ++j) x(i, j) = static_cast<float>(rng.uniform(-1, 1));
    y(i, 0) = std::sin(2 * x(i, 0)) + x(i, 1) * x(i, 2);
    y(i, 1) = x(i, 3) - 0.5f * x(i, 4);
  }
  ElmConfig cfg = small_config(60);
  cfg.scaling = ScalingKind::kStandardize;
  ElmModel m(cfg);
  m.fit_regression(x, y);
  const QuantizedElm q = quantize_elm_targets(
      m, qconfig(QuantFormat::kInt4G32Sym, QuantMethod::kGptq, QuantFormat::kInt8Channel), x, y);
  EXPECT_EQ(q.task(), Task::kRegression);
  EXPECT_GT(q.score_regression(x, y), m.score_regression(x, y) - 0.02);
  EXPECT_THROW(q.predict(x), InvalidArgument);
  EXPECT_THROW(quantize_elm(m, qconfig(QuantFormat::kInt8Channel), x, LabelVector::Zero(500)),
               InvalidArgument);
}

// ---------------------------------------------------------------- configs

TEST(QuantizedElm, BadConfigsAndMissingInputsAreCallerErrors) {
  const Fitted& f = blobs_model();
  auto expect_bad = [&](const ElmQuantConfig& c, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_THROW(c.validate(), InvalidArgument);
    EXPECT_THROW(quantize_elm(f.model, c), InvalidArgument);
  };
  ElmQuantConfig c;
  c.beta_format = static_cast<QuantFormat>(99);
  expect_bad(c, "beta_format");
  c = ElmQuantConfig();
  c.w_format = static_cast<QuantFormat>(0);
  expect_bad(c, "w_format");
  c = ElmQuantConfig();
  c.beta_method = static_cast<QuantMethod>(7);
  expect_bad(c, "beta_method");
  c = ElmQuantConfig();
  c.lambda_scale = 0.0;
  expect_bad(c, "lambda_scale");
  c = ElmQuantConfig();
  c.threads = -1;
  expect_bad(c, "threads");
  c = ElmQuantConfig();
  c.beta_range.min_shrink = 2.0f;
  expect_bad(c, "beta_range");
  c = ElmQuantConfig();
  c.gptq.block_size = -3;
  expect_bad(c, "gptq.block_size");
  c = ElmQuantConfig();
  c.input = static_cast<InputQuant>(3);
  expect_bad(c, "input");
  try {
    ElmQuantConfig n;
    n.lambda_scale = -2.0;
    n.validate();
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("lambda_scale"), std::string::npos) << e.what();
  }

  // GPTQ needs the statistics; re-solving needs the data.
  ElmModel no_state = f.model;
  no_state.drop_training_state();
  EXPECT_THROW(quantize_elm(no_state, qconfig(QuantFormat::kInt4Channel, QuantMethod::kGptq)),
               InvalidArgument);
  EXPECT_NO_THROW(quantize_elm(no_state, qconfig(QuantFormat::kInt4Channel, QuantMethod::kGptq),
                               f.train.x, f.train.y));
  EXPECT_THROW(quantize_elm(f.model, qconfig(QuantFormat::kF32, QuantMethod::kRtn,
                                             QuantFormat::kInt4Channel)),
               InvalidArgument);
  EXPECT_THROW(quantize_elm(ElmModel(small_config(8)), ElmQuantConfig()), InvalidArgument);
  // Data that does not fit the model.
  EXPECT_THROW(quantize_elm(f.model, ElmQuantConfig(), f.train.x.leftCols(5), f.train.y),
               InvalidArgument);
  LabelVector unknown = f.train.y;
  unknown[3] = 12345;
  EXPECT_THROW(quantize_elm(f.model, ElmQuantConfig(), f.train.x, unknown), InvalidArgument);
  // Static activation ranges need bounded activations.
  ElmConfig relu = small_config(20);
  relu.hidden.groups[0].activation = Activation::kRelu;
  ElmModel rm(relu);
  rm.fit(f.train.x, f.train.y);
  ElmQuantConfig st = qconfig(QuantFormat::kInt8Channel);
  st.hidden = HiddenQuant::kStatic;
  EXPECT_THROW(quantize_elm(rm, st), InvalidArgument);
  st.hidden = HiddenQuant::kDynamic;
  EXPECT_NO_THROW(quantize_elm(rm, st));
}

TEST(QuantizedElm, QuantizationNeedsPredictsWhatIsRequired) {
  const Fitted& f = blobs_model();
  ElmModel no_state = f.model;
  no_state.drop_training_state();
  ElmQuantNeeds n =
      quantization_needs(f.model, qconfig(QuantFormat::kInt4G32Sym, QuantMethod::kGptq));
  EXPECT_TRUE(n.w_exact);
  EXPECT_TRUE(n.statistics);
  EXPECT_FALSE(n.data);
  EXPECT_TRUE(n.reason.empty());
  n = quantization_needs(no_state, qconfig(QuantFormat::kInt4G32Sym, QuantMethod::kGptq));
  EXPECT_TRUE(n.data);
  EXPECT_NE(n.reason.find("GPTQ"), std::string::npos) << n.reason;
  n = quantization_needs(no_state, qconfig(QuantFormat::kInt8Channel));
  EXPECT_FALSE(n.data);
  ElmQuantConfig w4 =
      qconfig(QuantFormat::kInt8Channel, QuantMethod::kRtn, QuantFormat::kInt4Channel);
  n = quantization_needs(f.model, w4);
  EXPECT_FALSE(n.w_exact);
  EXPECT_TRUE(n.resolve);
  EXPECT_TRUE(n.data);
  w4.resolve_beta_after_w = false;
  n = quantization_needs(f.model, w4);
  EXPECT_FALSE(n.resolve);
  EXPECT_FALSE(n.data);
  // What it predicts is what quantize_elm does.
  EXPECT_NO_THROW(quantize_elm(f.model, w4));
}

TEST(QuantizedElm, NameParsers) {
  EXPECT_EQ(parse_quant_method("gptq"), QuantMethod::kGptq);
  EXPECT_EQ(parse_quant_method("rtn"), QuantMethod::kRtn);
  EXPECT_THROW(parse_quant_method("awq"), InvalidArgument);
  EXPECT_EQ(parse_hidden_quant("int8"), HiddenQuant::kStatic);
  EXPECT_EQ(parse_hidden_quant("dynamic"), HiddenQuant::kDynamic);
  EXPECT_THROW(parse_hidden_quant("int4"), InvalidArgument);
  EXPECT_EQ(parse_input_quant("uint8"), InputQuant::kUint8);
  EXPECT_THROW(parse_input_quant("int8"), InvalidArgument);
  EXPECT_STREQ(quant_method_name(QuantMethod::kGptq), "gptq");
}

// ---------------------------------------------------------------- files

std::size_t find_record(const std::string& image, const char (&t)[5]) {
  const std::size_t pos = image.find(std::string(t, 4), 32);
  EXPECT_NE(pos, std::string::npos) << t;
  return pos;
}

void fix_crc(std::string& image) {
  const std::uint32_t crc = crc32_of(image.data(), image.size() - 4);
  for (int i = 0; i < 4; ++i) image[image.size() - 4 + i] = static_cast<char>(crc >> (8 * i));
}

TEST(QuantizedElm, SaveLoadRoundTripIsBitExact) {
  const Fitted& f = blobs_model();
  ElmQuantConfig a =
      qconfig(QuantFormat::kInt2G64Asym, QuantMethod::kGptq, QuantFormat::kInt4G32Asym);
  a.hidden = HiddenQuant::kStatic;
  ElmQuantConfig b = qconfig(QuantFormat::kTernaryBase3, QuantMethod::kRtn, QuantFormat::kBF16);
  b.input = InputQuant::kUint8;
  for (const ElmQuantConfig& c : {a, b}) {
    const QuantizedElm q = quantize_elm(f.model, c, f.train.x, f.train.y);
    const std::string image = q.to_bytes();
    EXPECT_EQ(peek_file_kind(image), FileKind::kQuantizedElm);
    const QuantizedElm r = QuantizedElm::from_bytes(image);
    EXPECT_EQ(r.to_bytes(), image);
    EXPECT_EQ(r.decision_function(f.test.x), q.decision_function(f.test.x));
    EXPECT_EQ(r.info().beta_method, c.beta_method);
    EXPECT_EQ(r.info().beta_loss, q.info().beta_loss);
    EXPECT_EQ(r.info().lambda, q.info().lambda);
    EXPECT_EQ(r.input_quant(), c.input);
    EXPECT_EQ(r.hidden_quant(), c.hidden);
    EXPECT_EQ(r.output_weights().format(), c.beta_format);
    EXPECT_EQ(r.input_weights().format(), c.w_format);
    EXPECT_EQ(r.bytes(), q.bytes());
  }
  const std::string path = ::testing::TempDir() + "qelm_roundtrip.elmq";
  const QuantizedElm q = quantize_elm(f.model, a, f.train.x, f.train.y);
  q.save(path);
  EXPECT_EQ(QuantizedElm::load(path).to_bytes(), q.to_bytes());
  std::remove(path.c_str());
  EXPECT_THROW(QuantizedElm::load(path), IoError);
}

TEST(QuantizedElm, CorruptOrTruncatedFilesAreFormatErrors) {
  const Fitted& f = blobs_model();
  const QuantizedElm q = quantize_elm(
      f.model, qconfig(QuantFormat::kInt4G32Sym, QuantMethod::kGptq, QuantFormat::kInt8Channel),
      f.train.x, f.train.y);
  const std::string image = q.to_bytes();
  for (std::size_t len :
       {std::size_t{0}, std::size_t{7}, std::size_t{31}, image.size() / 2, image.size() - 1}) {
    EXPECT_THROW(QuantizedElm::from_bytes(image.substr(0, len)), FormatError) << len;
  }
  for (std::size_t pos = 0; pos < image.size(); pos += image.size() / 23 + 1) {
    std::string bad = image;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x5A);
    EXPECT_THROW(QuantizedElm::from_bytes(bad), FormatError) << pos;
  }
  // Consistent checksums, inconsistent content.
  auto patched = [&](const char(&t)[5], std::uint64_t value) {
    std::string bad = image;
    const std::size_t at = find_record(bad, t) + 12;  // tag (4) + length (8)
    for (int i = 0; i < 8; ++i) bad[at + i] = static_cast<char>(value >> (8 * i));
    fix_crc(bad);
    return bad;
  };
  EXPECT_THROW(QuantizedElm::from_bytes(patched("TASK", 9)), FormatError);
  EXPECT_THROW(QuantizedElm::from_bytes(patched("INPQ", 4)), FormatError);
  EXPECT_THROW(QuantizedElm::from_bytes(patched("HIDQ", 2)), FormatError);
  EXPECT_THROW(QuantizedElm::from_bytes(patched("QMTH", 3)), FormatError);
  EXPECT_THROW(QuantizedElm::from_bytes(patched("BYTE", 12)), FormatError);
  EXPECT_THROW(QuantizedElm::from_bytes(patched("TASK", 1)),
               FormatError);  // classes for multilabel
  EXPECT_NO_THROW(QuantizedElm::from_bytes(patched("TASK", 0)));
  // Another kind of file.
  EXPECT_THROW(QuantizedElm::from_bytes(f.model.to_bytes()), FormatError);
  EXPECT_THROW(ElmModel::from_bytes(image), FormatError);
}

// ---------------------------------------------------------------- real data

TEST(QuantizedElmDigits, AccuracyOfTheVariants) {
  ELMQ_REQUIRE_DIGITS();
  ElmConfig cfg = small_config(400);
  cfg.scaling = ScalingKind::kMinMax;
  cfg.chunk_rows = 512;
  ElmModel m(cfg);
  m.fit(data->x_train, data->y_train);
  const double fp32 = m.score(data->x_test, data->y_test);
  ASSERT_GT(fp32, 0.95);
  struct Variant {
    const char* name;
    QuantFormat w, beta;
    QuantMethod method;
    HiddenQuant hidden;
    InputQuant input;
    double max_drop;
  };
  const Variant variants[] = {
      {"int8 everything", QuantFormat::kInt8Channel, QuantFormat::kInt8Channel, QuantMethod::kRtn,
       HiddenQuant::kDynamic, InputQuant::kDynamic, 0.01},
      {"int8 static activations, uint8 pixels", QuantFormat::kInt8Channel,
       QuantFormat::kInt8Channel, QuantMethod::kRtn, HiddenQuant::kStatic, InputQuant::kUint8,
       0.01},
      {"beta int4-g32 gptq", QuantFormat::kF32, QuantFormat::kInt4G32Sym, QuantMethod::kGptq,
       HiddenQuant::kDynamic, InputQuant::kDynamic, 0.015},
      {"beta int2-g32 gptq", QuantFormat::kF32, QuantFormat::kInt2G32Asym, QuantMethod::kGptq,
       HiddenQuant::kDynamic, InputQuant::kDynamic, 0.03},
      {"W ternary re-solved, beta int4 gptq", QuantFormat::kTernaryChannel,
       QuantFormat::kInt4Channel, QuantMethod::kGptq, HiddenQuant::kDynamic, InputQuant::kDynamic,
       0.02},
  };
  for (const Variant& v : variants) {
    ElmQuantConfig qc = qconfig(v.beta, v.method, v.w);
    qc.hidden = v.hidden;
    qc.input = v.input;
    const QuantizedElm q = quantize_elm(m, qc, data->x_train, data->y_train);
    const double acc = q.score(data->x_test, data->y_test);
    EXPECT_GE(acc, fp32 - v.max_drop) << v.name << ": " << acc << " vs FP32 " << fp32;
  }
  // Quantization-aware training from scratch with a ternary layer.
  ElmConfig tern = cfg;
  tern.hidden.groups[0].init = WeightInit::kTernary;
  const QuantizedElm qa = fit_quantized_elm(
      tern, qconfig(QuantFormat::kInt4G32Sym, QuantMethod::kGptq, QuantFormat::kTernaryBase3),
      data->x_train, data->y_train);
  EXPECT_TRUE(qa.info().w_exact);
  EXPECT_GE(qa.score(data->x_test, data->y_test), fp32 - 0.02);
}

}  // namespace
}  // namespace elmq
