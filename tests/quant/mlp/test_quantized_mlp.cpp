#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "elm/common/errors.h"
#include "elm/common/serialize.h"
#include "elm/data/datasets.h"
#include "quant/elm/gptq.h"
#include "quant/mlp/calibration.h"
#include "quant/mlp/qat.h"
#include "quant/mlp/quantized_mlp.h"
#include "tests/quant/mlp/mlp_test_util.h"

namespace elmq {
namespace {

using test::Labelled;
using test::make_clusters;

// One trained model shared by the tests of this file (trained once).
struct Fixture {
  Labelled train, test;
  Mlp model;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x{make_clusters(1500, 40, 6, 1, 1.3), make_clusters(600, 40, 6, 2, 1.3), Mlp()};
    MlpConfig c = test::small_config({64, 48});
    c.scaling = ScalingKind::kMinMax;
    c.epochs = 15;
    x.model = Mlp(c);
    x.model.fit(x.train.x, x.train.y);
    return x;
  }();
  return f;
}

RowMatrixXf calibration_rows() { return fixture().train.x.topRows(512); }

double agreement(const LabelVector& a, const LabelVector& b) {
  Index same = 0;
  for (Index i = 0; i < a.size(); ++i) same += a[i] == b[i] ? 1 : 0;
  return static_cast<double>(same) / static_cast<double>(a.size());
}

LabelVector argmax_labels(const RowMatrixXf& z, const LabelVector& classes) {
  LabelVector out(z.rows());
  for (Index i = 0; i < z.rows(); ++i) {
    Index a;
    z.row(i).maxCoeff(&a);
    out[i] = classes[a];
  }
  return out;
}

TEST(QuantizedMlp, FixtureIsAReasonableModel) {
  const Fixture& f = fixture();
  EXPECT_GT(f.model.score(f.test.x, f.test.y), 0.85);
}

TEST(QuantizedMlp, Int8DynamicMatchesTheDequantizedReference) {
  const Fixture& f = fixture();
  const QuantizedMlp q = quantize_mlp(f.model, MlpQuantConfig());
  EXPECT_EQ(q.n_layers(), 3);
  EXPECT_EQ(q.info().method, WeightQuantMethod::kRtn);
  const RowMatrixXf z = q.decision_function(f.test.x);
  const RowMatrixXf ref = q.decision_function_reference(f.test.x);
  const RowMatrixXf fp = f.model.decision_function(f.test.x);
  // int8 activations: a small error relative to the logits' spread.
  const float spread = ref.cwiseAbs().maxCoeff();
  EXPECT_LT((z - ref).cwiseAbs().maxCoeff(), 0.03f * spread);
  EXPECT_LT((ref - fp).cwiseAbs().maxCoeff(), 0.03f * spread);
  EXPECT_GT(agreement(q.predict(f.test.x), f.model.predict(f.test.x)), 0.98);
  EXPECT_EQ(argmax_labels(z, q.classes()), q.predict(f.test.x));
  // Storage: the three int8 matrices plus fp32 biases and input transform.
  std::uint64_t wb = 0;
  for (int l = 0; l < 3; ++l) {
    const RowMatrixXf& w = f.model.params().weights[l];
    wb += format_bytes(QuantFormat::kInt8Channel, w.rows(), w.cols());
  }
  EXPECT_EQ(q.weight_bytes(), wb);
  EXPECT_EQ(q.bytes(), wb + 4 * (64 + 48 + 6) + 8 * 40);
  EXPECT_NEAR(q.bits_per_weight(), 8.0 * wb / (40 * 64 + 64 * 48 + 48 * 6), 1e-12);
  // Single-row path.
  QuantizedMlpWorkspace ws;
  std::vector<float> out(6);
  for (Index i = 0; i < 10; ++i) {
    q.decision_row(f.test.x.row(i).data(), out.data(), ws);
    for (Index j = 0; j < 6; ++j) EXPECT_NEAR(out[static_cast<std::size_t>(j)], z(i, j), 1e-4f);
  }
}

TEST(QuantizedMlp, EveryFormatRunsAndAgreesWithItsReference) {
  const Fixture& f = fixture();
  for (QuantFormat fmt : all_formats()) {
    MlpQuantConfig c;
    c.format = fmt;
    const QuantizedMlp q = quantize_mlp(f.model, c, calibration_rows());
    const RowMatrixXf z = q.decision_function(f.test.x);
    const RowMatrixXf ref = q.decision_function_reference(f.test.x);
    const float spread = ref.cwiseAbs().maxCoeff();
    EXPECT_LT((z - ref).cwiseAbs().maxCoeff(), 0.05f * spread) << format_name(fmt);
    EXPECT_GT(agreement(argmax_labels(z, q.classes()), argmax_labels(ref, q.classes())), 0.97)
        << format_name(fmt);
    ASSERT_EQ(q.info().layer_error.size(), 3u);
    EXPECT_EQ(q.bytes() - q.weight_bytes(), 4u * (64 + 48 + 6) + 8u * 40) << format_name(fmt);
  }
}

TEST(QuantizedMlp, StaticActivationsForEveryCalibrationMethod) {
  const Fixture& f = fixture();
  const LabelVector fp = f.model.predict(f.test.x);
  for (CalibrationMethod m : {CalibrationMethod::kMinMax, CalibrationMethod::kMovingAverage,
                              CalibrationMethod::kPercentile, CalibrationMethod::kHistogramMse}) {
    MlpQuantConfig c;
    c.activations = ActivationScheme::kStatic;
    c.calibration.method = m;
    const QuantizedMlp q = quantize_mlp(f.model, c, calibration_rows());
    for (const QuantizedMlpLayer& l : q.layers()) {
      EXPECT_EQ(l.input_quant.mode, ActivationQuant::Mode::kStaticAsymmetric);
      EXPECT_GT(l.input_quant.scale, 0.0f);
    }
    // Min-max scaled inputs and ReLU outputs are >= 0: zero point 0, all 256 codes used.
    EXPECT_EQ(q.layers()[1].input_quant.zero_point, 0);
    EXPECT_EQ(q.info().activations, ActivationScheme::kStatic);
    EXPECT_EQ(q.info().calibration, m);
    EXPECT_GT(agreement(q.predict(f.test.x), fp), 0.97) << calibration_method_name(m);
    EXPECT_NE(q.describe().find("static"), std::string::npos);
  }
  MlpQuantConfig c;
  c.activations = ActivationScheme::kStatic;
  EXPECT_THROW(quantize_mlp(f.model, c), InvalidArgument);  // needs calibration rows
  EXPECT_THROW(quantize_mlp(f.model, c, calibration_rows().leftCols(39)), InvalidArgument);
}

TEST(QuantizedMlp, GptqIsNotWorseThanRtnOnTheLayerObjective) {
  const Fixture& f = fixture();
  const RowMatrixXf cal = calibration_rows();
  // Layer 0 sees the same FP32 inputs under both methods: compare exactly there.
  const RowMatrixXf x0 = f.model.scaler().transform(cal);
  const RowMatrixXd h0 = input_hessian(x0, 1);
  const RowMatrixXf& w0 = f.model.params().weights[0];
  for (QuantFormat fmt : {QuantFormat::kInt4G32Sym, QuantFormat::kInt4Channel,
                          QuantFormat::kInt2G32Asym, QuantFormat::kTernaryChannel}) {
    MlpQuantConfig rtn;
    rtn.format = fmt;
    rtn.range.method = RangeOptions::Method::kMseSearch;  // GPTQ's own range rule
    MlpQuantConfig gptq = rtn;
    gptq.method = WeightQuantMethod::kGptq;
    gptq.gptq.keep_better_rtn = false;  // pure GPTQ
    const QuantizedMlp qr = quantize_mlp(f.model, rtn, cal);
    const QuantizedMlp qg = quantize_mlp(f.model, gptq, cal);
    const double lr = quadratic_loss(w0, qr.layers()[0].weights.dequantize(), h0).sum();
    const double lg = quadratic_loss(w0, qg.layers()[0].weights.dequantize(), h0).sum();
    std::printf("%-16s layer-0 objective: RTN %.5g, GPTQ %.5g\n", format_name(fmt), lr, lg);
    EXPECT_LE(lg, lr) << format_name(fmt);
    EXPECT_NEAR(qg.info().layer_error[0] *
                    quadratic_loss(w0, RowMatrixXf::Zero(w0.rows(), w0.cols()), h0).sum(),
                lg, 1e-6 * lr);
  }
}

TEST(QuantizedMlp, GptqAndAwqDoNotDependOnThreads) {
  const Fixture& f = fixture();
  for (WeightQuantMethod m : {WeightQuantMethod::kGptq, WeightQuantMethod::kAwq}) {
    MlpQuantConfig c;
    c.format = QuantFormat::kInt4G32Sym;
    c.method = m;
    c.threads = 1;
    const QuantizedMlp a = quantize_mlp(f.model, c, calibration_rows());
    c.threads = 2;
    const QuantizedMlp b = quantize_mlp(f.model, c, calibration_rows());
    for (int l = 0; l < a.n_layers(); ++l) {
      EXPECT_EQ(a.layers()[l].weights.codes(), b.layers()[l].weights.codes());
      EXPECT_EQ(a.layers()[l].weights.scales(), b.layers()[l].weights.scales());
      EXPECT_EQ(a.layers()[l].bias, b.layers()[l].bias);
    }
  }
}

TEST(QuantizedMlp, AwqFoldsScalesWithoutChangingTheFunction) {
  const Fixture& f = fixture();
  MlpQuantConfig c;
  c.format = QuantFormat::kInt4G32Sym;
  c.method = WeightQuantMethod::kAwq;
  const QuantizedMlp awq = quantize_mlp(f.model, c, calibration_rows());
  ASSERT_EQ(awq.info().awq_alpha.size(), 3u);
  MlpQuantConfig r = c;
  r.method = WeightQuantMethod::kRtn;
  const QuantizedMlp rtn = quantize_mlp(f.model, r, calibration_rows());
  // Layer 0's error is searched with alpha = 0 (RTN) among the candidates.
  // (up to the fp16 rounding of scales after layer 1's scales are folded into its rows).
  EXPECT_LE(awq.info().layer_error[0], rtn.info().layer_error[0] * 1.01);
  // int8 AWQ: the folded network computes (nearly) the FP32 function.
  c.format = QuantFormat::kInt8Channel;
  const QuantizedMlp q8 = quantize_mlp(f.model, c, calibration_rows());
  const RowMatrixXf ref = q8.decision_function_reference(f.test.x);
  const RowMatrixXf fp = f.model.decision_function(f.test.x);
  EXPECT_LT((ref - fp).cwiseAbs().maxCoeff(), 0.03f * fp.cwiseAbs().maxCoeff());
  bool input_scaled = false;
  for (Index j = 0; j < 40; ++j) {
    input_scaled = input_scaled || q8.input_scale()[j] != f.model.scaler().scale()[j];
  }
  EXPECT_EQ(input_scaled, q8.info().awq_alpha[0] > 0.0);
}

TEST(QuantizedMlp, SaveLoadRoundTripAndCorruptFiles) {
  const Fixture& f = fixture();
  MlpQuantConfig c;
  c.format = QuantFormat::kInt4G32Sym;
  c.method = WeightQuantMethod::kGptq;
  c.activations = ActivationScheme::kStatic;
  c.calibration.method = CalibrationMethod::kPercentile;
  const QuantizedMlp q = quantize_mlp(f.model, c, calibration_rows());
  const std::string bytes = q.to_bytes();
  EXPECT_EQ(peek_file_kind(bytes), FileKind::kQuantizedMlp);
  const QuantizedMlp r = QuantizedMlp::from_bytes(bytes);
  EXPECT_EQ(r.to_bytes(), bytes);
  EXPECT_EQ(r.decision_function(f.test.x), q.decision_function(f.test.x));
  EXPECT_EQ(r.info().method, WeightQuantMethod::kGptq);
  EXPECT_EQ(r.info().layer_error, q.info().layer_error);
  EXPECT_EQ(r.layers()[2].input_quant.zero_point, q.layers()[2].input_quant.zero_point);
  EXPECT_EQ(r.describe(), q.describe());
  const std::string path = ::testing::TempDir() + "/elmq_qmlp_roundtrip.elmq";
  q.save(path);
  EXPECT_EQ(QuantizedMlp::load(path).to_bytes(), bytes);

  for (std::size_t pos : {std::size_t{9}, bytes.size() / 3, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x21);
    EXPECT_THROW(QuantizedMlp::from_bytes(bad), FormatError) << pos;
  }
  EXPECT_THROW(QuantizedMlp::from_bytes(bytes.substr(0, 100)), FormatError);
  EXPECT_THROW(QuantizedMlp::from_bytes(f.model.to_bytes()), FormatError);  // an FP32 MLP file
  EXPECT_THROW(Mlp::from_bytes(bytes), FormatError);

  // A valid container whose layers do not chain.
  RecordWriter w;
  w.put_u64(tag("NLAY"), 1);
  const VectorXf off = VectorXf::Zero(3), sc = VectorXf::Ones(3);
  w.put_f32_array(tag("INOF"), off.data(), 3);
  w.put_f32_array(tag("INSC"), sc.data(), 3);
  const std::int64_t cls[] = {0, 1};
  w.put_i64_array(tag("CLSS"), cls, 2);
  const double info[] = {0, 0, 0, 0, 0};
  w.put_f64_array(tag("QINF"), info, 5);
  w.put_f64_array(tag("LERR"), info, 0);
  w.put_f64_array(tag("AWQA"), info, 0);
  w.put_i64(tag("THRD"), 0);
  RecordWriter tw;
  QuantizedTensor::quantize(RowMatrixXf::Ones(2, 4), QuantFormat::kInt8Channel).save(tw);
  w.put_nested(tag("Q000"), tw);
  const float bias[] = {0.0f, 0.0f};
  w.put_f32_array(tag("B000"), bias, 2);
  const double act[] = {0, 1, 0};
  w.put_f64_array(tag("A000"), act, 3);
  EXPECT_THROW(QuantizedMlp::from_bytes(w.finish(FileKind::kQuantizedMlp, 1)), FormatError);
}

TEST(QuantizedMlp, BadConfigs) {
  const Fixture& f = fixture();
  MlpQuantConfig c;
  c.method = WeightQuantMethod::kGptq;
  c.format = QuantFormat::kF16;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = MlpQuantConfig();
  c.method = WeightQuantMethod::kQat;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = MlpQuantConfig();
  c.method = WeightQuantMethod::kGptq;
  EXPECT_THROW(quantize_mlp(f.model, c), InvalidArgument);  // no calibration rows
  c = MlpQuantConfig();
  c.layer_formats = {QuantFormat::kInt8Channel};
  EXPECT_THROW(quantize_mlp(f.model, c), InvalidArgument);  // 1 format for 3 layers
  c.layer_formats = {QuantFormat::kInt8Channel, QuantFormat::kTernaryChannel,
                     QuantFormat::kInt8Channel};
  const QuantizedMlp mixed = quantize_mlp(f.model, c);
  EXPECT_EQ(mixed.layers()[1].weights.format(), QuantFormat::kTernaryChannel);
  c = MlpQuantConfig();
  c.gptq.damp = 2.0;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = MlpQuantConfig();
  c.threads = -1;
  EXPECT_THROW(c.validate(), InvalidArgument);
  EXPECT_THROW(quantize_mlp(Mlp(), MlpQuantConfig()), InvalidArgument);  // unfitted
  const QuantizedMlp q = quantize_mlp(f.model, MlpQuantConfig());
  EXPECT_THROW(q.predict(RowMatrixXf::Zero(2, 39)), InvalidArgument);
  EXPECT_THROW(QuantizedMlp().predict(f.test.x), InvalidArgument);
  EXPECT_THROW(parse_weight_quant_method("qat"), InvalidArgument);
  EXPECT_EQ(parse_activation_scheme("static"), ActivationScheme::kStatic);
}

TEST(Qat, FineTuningBeatsRoundToNearestAndExportsItsWeights) {
  const Fixture& f = fixture();
  MlpQuantConfig r;
  r.format = QuantFormat::kTernaryChannel;
  const QuantizedMlp rtn = quantize_mlp(f.model, r);
  const double rtn_acc = rtn.score(f.test.x, f.test.y);

  QatConfig c;
  c.format = QuantFormat::kTernaryChannel;
  c.epochs = 4;
  c.batch_size = 32;
  c.optimizer.learning_rate = 1e-3;
  c.threads = 1;
  int calls = 0;
  const QatResult res =
      qat_finetune(f.model, f.train.x, f.train.y, c, [&](const EpochReport&) { ++calls; });
  EXPECT_EQ(calls, 4);
  const QuantizedMlp& q = res.model;
  EXPECT_EQ(q.info().method, WeightQuantMethod::kQat);
  EXPECT_EQ(q.layers()[0].weights.format(), QuantFormat::kTernaryChannel);
  const double qat_acc = q.score(f.test.x, f.test.y);
  std::printf(
      "ternary: FP32 %.4f, RTN %.4f, QAT %.4f (val before %.4f, best %.4f)\n",
      f.model.score(f.test.x, f.test.y), rtn_acc, qat_acc, res.initial_val_accuracy,
      res.history.epochs[static_cast<std::size_t>(res.history.best_epoch - 1)].val_accuracy);
  EXPECT_GT(qat_acc, rtn_acc + 0.02);
  // The training loop saw exactly the exported weights: the best epoch's
  // validation accuracy is that of the exported network with float activations.
  const SplitIndices split = stratified_split(f.train.y, c.validation_fraction, c.seed);
  RowMatrixXf xv(static_cast<Index>(split.test.size()), 40);
  LabelVector yv(xv.rows());
  for (std::size_t i = 0; i < split.test.size(); ++i) {
    xv.row(static_cast<Index>(i)) = f.train.x.row(split.test[i]);
    yv[static_cast<Index>(i)] = f.train.y[split.test[i]];
  }
  const LabelVector ref_pred = argmax_labels(q.decision_function_reference(xv), q.classes());
  Index ok = 0;
  for (Index i = 0; i < yv.size(); ++i) ok += ref_pred[i] == yv[i] ? 1 : 0;
  EXPECT_DOUBLE_EQ(
      static_cast<double>(ok) / static_cast<double>(yv.size()),
      res.history.epochs[static_cast<std::size_t>(res.history.best_epoch - 1)].val_accuracy);
}

TEST(Qat, LearnedScalesForTwoBitGroups) {
  const Fixture& f = fixture();
  MlpQuantConfig r;
  r.format = QuantFormat::kInt2G32Asym;
  const double rtn_acc = quantize_mlp(f.model, r).score(f.test.x, f.test.y);
  QatConfig c;
  c.format = QuantFormat::kInt2G32Asym;
  c.learn_scales = true;
  c.epochs = 3;
  c.batch_size = 32;
  c.optimizer.learning_rate = 1e-3;
  c.threads = 1;
  const QatResult res = qat_finetune(f.model, f.train.x, f.train.y, c);
  const double acc = res.model.score(f.test.x, f.test.y);
  std::printf("int2-g32-asym: RTN %.4f, QAT+LSQ %.4f\n", rtn_acc, acc);
  EXPECT_GE(acc, rtn_acc);
  EXPECT_EQ(res.model.layers()[1].weights.format(), QuantFormat::kInt2G32Asym);
  // The same result for another thread count (one epoch on a subset).
  c.epochs = 1;
  const RowMatrixXf xs = f.train.x.topRows(300);
  const LabelVector ys = f.train.y.head(300);
  const QatResult one = qat_finetune(f.model, xs, ys, c);
  c.threads = 2;
  const QatResult two = qat_finetune(f.model, xs, ys, c);
  for (int l = 0; l < 3; ++l) {
    EXPECT_EQ(one.model.layers()[l].weights.codes(), two.model.layers()[l].weights.codes());
    EXPECT_EQ(one.model.layers()[l].weights.scales(), two.model.layers()[l].weights.scales());
    EXPECT_EQ(one.model.layers()[l].weights.mins(), two.model.layers()[l].weights.mins());
    EXPECT_EQ(one.model.layers()[l].bias, two.model.layers()[l].bias);
  }
}

TEST(Qat, BadConfigs) {
  const Fixture& f = fixture();
  QatConfig c;
  c.format = QuantFormat::kBF16;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = QatConfig();
  c.epochs = 0;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = QatConfig();
  c.layer_formats = {QuantFormat::kInt4G32Sym};
  EXPECT_THROW(qat_finetune(f.model, f.train.x, f.train.y, c), InvalidArgument);
  c = QatConfig();
  LabelVector unknown = f.train.y;
  unknown[0] = 77;
  EXPECT_THROW(qat_finetune(f.model, f.train.x, unknown, c), InvalidArgument);
  EXPECT_THROW(qat_finetune(f.model, f.train.x.leftCols(10), f.train.y, c), InvalidArgument);
}

TEST(QuantizedMlp, RealDataDigits) {
  DatasetSplit d;
  try {
    d = load_dataset("digits");
  } catch (const IoError& e) {
    GTEST_SKIP() << e.what();
  }
  MlpConfig mc;
  mc.hidden = {64, 64};
  mc.epochs = 25;
  mc.batch_size = 32;
  mc.threads = 1;
  Mlp m(mc);
  m.fit(d.x_train, d.y_train);
  const double fp = m.score(d.x_test, d.y_test);
  const RowMatrixXf cal = d.x_train.topRows(512);
  MlpQuantConfig c8;
  const double int8 = quantize_mlp(m, c8).score(d.x_test, d.y_test);
  MlpQuantConfig c4;
  c4.format = QuantFormat::kInt4G32Sym;
  c4.method = WeightQuantMethod::kGptq;
  const double int4 = quantize_mlp(m, c4, cal).score(d.x_test, d.y_test);
  std::printf("digits: FP32 %.4f, INT8 dynamic %.4f, INT4-g32 GPTQ %.4f\n", fp, int8, int4);
  EXPECT_GT(int8, fp - 0.01);
  EXPECT_GT(int4, fp - 0.02);
}

}  // namespace
}  // namespace elmq
