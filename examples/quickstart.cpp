// Quick start: train an ELM classifier on a named data set, save and reload it,
// time a one-row prediction, then quantize it to INT8 and INT4 and run it on
// the integer kernels. Everything a first program needs, in the order a user
// meets it.
//
//   elmq_quickstart                                 # Fashion-MNIST, 2000 tanh neurons
//   elmq_quickstart --dataset digits --hidden 500   # scikit-learn's digits
//   elmq_quickstart --hidden 1000 --min-accuracy 0.8   # CI: a few seconds
//
// Options (defaults in brackets):
//   --dataset NAME      a name of elmq's registry (elm/data/datasets.h) [fashion-mnist]
//   --hidden L          tanh neurons [2000]
//   --threads T         training threads, 0 = all cores [0]
//   --min-accuracy A    exit with status 3 if the FP32 test accuracy is below A [off]
//
// Exit status: 0 on success, 1 on an error (one line on stderr), 2 on a usage
// error, 3 below --min-accuracy, 4 if the reloaded model predicts differently.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "elm/data/datasets.h"
#include "elm/elm_model.h"
#include "quant/elm/quantize_elm.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Options {
  std::string dataset = "fashion-mnist";
  std::int64_t hidden = 2000;
  int threads = 0;
  double min_accuracy = -1.0;
};

[[noreturn]] void usage(const std::string& msg) {
  std::fprintf(stderr,
               "error: %s\nusage: elmq_quickstart [--dataset NAME] [--hidden L] [--threads T] "
               "[--min-accuracy A]\n",
               msg.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") usage("help requested");
    if (i + 1 >= argc) usage(a + " needs a value (or is unknown)");
    const std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--dataset") {
      o.dataset = v;
      continue;
    }
    const double x = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0') usage(a + ": '" + v + "' is not a number");
    if (a == "--hidden" && x >= 1 && x <= 100000 && x == static_cast<std::int64_t>(x))
      o.hidden = static_cast<std::int64_t>(x);
    else if (a == "--threads" && x >= 0 && x <= 1024 && x == static_cast<int>(x))
      o.threads = static_cast<int>(x);
    else if (a == "--min-accuracy")
      o.min_accuracy = x;
    else
      usage("unknown option or value out of range: " + a + " " + v);
  }
  return o;
}

// Median time of one-row predictions over the first rows of x, in microseconds.
// `predict(row, scores)` is called once per row after a warm-up pass, which
// sizes the caller's workspace: later calls allocate nothing.
template <class Predict>
double median_row_us(const elmq::RowMatrixXf& x, Predict predict) {
  const elmq::Index n = std::min<elmq::Index>(x.rows(), 2000);
  std::vector<float> scores(64);
  for (elmq::Index i = 0; i < std::min<elmq::Index>(n, 50); ++i) predict(x.row(i).data(), scores);
  std::vector<double> us(static_cast<std::size_t>(n));
  for (elmq::Index i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    predict(x.row(i).data(), scores);
    us[static_cast<std::size_t>(i)] = 1e6 * seconds_since(t0);
  }
  std::nth_element(us.begin(), us.begin() + n / 2, us.end());
  return us[static_cast<std::size_t>(n / 2)];
}

int run(const Options& o) {
  // 1. Data: row-major float32, one sample per row; labels are int64.
  const elmq::DatasetSplit d = elmq::load_dataset(o.dataset);
  std::printf("data: %s, %lld train / %lld test rows, %lld features (from %s)\n",
              o.dataset.c_str(), static_cast<long long>(d.x_train.rows()),
              static_cast<long long>(d.x_test.rows()), static_cast<long long>(d.x_train.cols()),
              std::filesystem::path(d.source.substr(0, d.source.find(';'))).parent_path().c_str());

  // 2. Train: min-max scaling, a random tanh layer, ridge output weights with
  //    lambda chosen on a held-out part of the training rows.
  elmq::ElmConfig cfg;
  cfg.hidden.groups = {{o.hidden, elmq::Activation::kTanh}};
  cfg.hidden.seed = 42;
  cfg.threads = o.threads;
  elmq::ElmModel model(cfg);
  auto t0 = Clock::now();
  model.fit(d.x_train, d.y_train);
  const double fit_s = seconds_since(t0);
  const double acc = model.score(d.x_test, d.y_test);
  std::printf("fp32: L = %lld tanh, lambda = %.3g (of %zu tried), trained in %.2f s, test accuracy %.4f\n",
              static_cast<long long>(model.n_hidden()), model.lambda(),
              model.lambda_search().lambdas.size(), fit_s, acc);

  // 3. Save and reload: the file holds everything, so predictions are bit-identical.
  const std::string path =
      (std::filesystem::temp_directory_path() / "elmq_quickstart.elmq").string();
  model.save(path);
  const elmq::ElmModel loaded = elmq::ElmModel::load(path);
  std::filesystem::remove(path);
  const bool same = loaded.decision_function(d.x_test) == model.decision_function(d.x_test);
  std::printf("saved and reloaded: predictions %s\n", same ? "bit-identical" : "DIFFER");

  // 4. One row at a time, as a real-time caller would (single-threaded, no allocation).
  elmq::PredictWorkspace ws;
  const double fp32_us = median_row_us(d.x_test, [&](const float* row, std::vector<float>& s) {
    return model.predict_row(row, ws, s.data());
  });

  // 5. Quantize W and beta; beta is solved again on the quantized hidden layer
  //    (which needs the training data), then quantized by RTN or GPTQ.
  std::printf("\n%-26s %9s %11s %6s %9s %11s\n", "model", "accuracy", "bytes", "bpw", "time s",
              "row p50 us");
  // Counted as QuantizedElm::bytes() counts: W, beta, biases (float32), scaler (8 d).
  const auto fp32_bytes = static_cast<double>(
      4 * (model.n_hidden() * (model.n_features() + 1) + model.beta().size()) +
      8 * model.n_features());
  std::printf("%-26s %9.4f %11.0f %6.2f %9.2f %11.1f\n", "fp32", acc, fp32_bytes, 32.0, fit_s,
              fp32_us);
  struct Variant {
    const char* name;
    elmq::QuantFormat format;
    elmq::QuantMethod method;
  };
  const Variant variants[] = {
      {"int8 W and beta, RTN", elmq::QuantFormat::kInt8Channel, elmq::QuantMethod::kRtn},
      {"int4-g32 W and beta, GPTQ", elmq::QuantFormat::kInt4G32Sym, elmq::QuantMethod::kGptq},
  };
  for (const Variant& v : variants) {
    elmq::ElmQuantConfig q;
    q.w_format = v.format;
    q.beta_format = v.format;
    q.beta_method = v.method;
    q.threads = o.threads;
    t0 = Clock::now();
    const elmq::QuantizedElm qm = elmq::quantize_elm(model, q, d.x_train, d.y_train);
    const double q_s = seconds_since(t0);
    const double q_us = median_row_us(d.x_test, [&](const float* row, std::vector<float>& s) {
      return qm.predict_row(row, ws, s.data());
    });
    std::printf("%-26s %9.4f %11llu %6.2f %9.2f %11.1f\n", v.name, qm.score(d.x_test, d.y_test),
                static_cast<unsigned long long>(qm.bytes()), qm.bits_per_weight(), q_s, q_us);
  }

  if (!same) return 4;
  if (acc < o.min_accuracy) {
    std::fprintf(stderr, "error: test accuracy %.4f is below --min-accuracy %.4f\n", acc,
                 o.min_accuracy);
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
