// A real-time classifier on a stream: each sample is predicted before it is
// learned (prequential evaluation), with a rolling accuracy and the p50/p99
// latencies of predict and update printed as the stream goes, and the
// slowest update of each report interval: the one that ran an exact
// re-solve (every OnlineConfig::effective_resolve_period() samples, O(L^3)),
// if one fell in it.
//
// The stream is Fashion-MNIST (train rows, then test rows, in file order).
// Half-way the class mapping changes abruptly (labels permuted): concept
// drift that a forgetting factor rho < 1 lets the model follow.
//
//   elmq_streaming_classifier --samples 70000 --hidden 1000 --rho 0.999
//   elmq_streaming_classifier --samples 8000 --hidden 256 --min-final-accuracy 0.7   # CI: < 1 s
//
// Options (defaults in brackets):
//   --samples N      stream length [70000; at most 70000 for Fashion-MNIST]
//   --hidden L       hidden neurons (tanh) [1000]
//   --rho R          forgetting factor in (0, 1] [0.999]
//   --lambda X       ridge prior strength [10]
//   --drift-at N     sample at which labels are permuted; 0 = no drift [samples / 2]
//   --window N       rolling-accuracy window [1000]
//   --report N       print a line every N samples [samples / 10]
//   --precision P    float32 | float64 state [float32]
//   --init-rows N    leading rows used to fit the input scaler (not learned) [1000]
//   --synthetic      use a seeded synthetic stream instead of Fashion-MNIST
//   --data-dir DIR   where the Fashion-MNIST files are (default: the usual places)
//   --save PATH      save the online model (state included) at the end
//   --seed S         seed of the hidden layer and the label permutation [1]
//   --row-threads N  threads of one update (OnlineElm::set_row_threads; 0 = all
//                    cores): the same model, updates sooner on an idle core [1]
//   --min-final-accuracy A
//                    exit with status 3 unless the rolling accuracy of the last
//                    window is at least A: the model has recovered from the drift
//                    (CI runs it so; with --rho 1 it does not recover) [off]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <numeric>
#include <string>
#include <vector>

#include "elm/common/errors.h"
#include "elm/common/rng.h"
#include "elm/data/datasets.h"
#include "elm/online_elm.h"

namespace {

struct Options {
  std::int64_t samples = 70000;
  std::int64_t hidden = 1000;
  double rho = 0.999;
  double lambda = 10.0;
  std::int64_t drift_at = -1;
  std::int64_t window = 1000;
  std::int64_t report = -1;
  std::string precision = "float32";
  std::int64_t init_rows = 1000;
  bool synthetic = false;
  std::string data_dir;
  std::string save;
  std::uint64_t seed = 1;
  double min_final_accuracy = -1.0;
  std::int64_t row_threads = 1;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "error: %s\nusage: elmq_streaming_classifier [--samples N] [--hidden L] [--rho R] "
               "[--lambda X] [--drift-at N] [--window N] [--report N] [--precision "
               "float32|float64] [--init-rows N] [--synthetic] [--data-dir DIR] [--save PATH] "
               "[--seed S] [--row-threads N] [--min-final-accuracy A]\n",
               msg);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    auto integer = [&]() -> std::int64_t {
      const std::string v = value();
      char* end = nullptr;
      const long long r = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0') usage((a + ": '" + v + "' is not an integer").c_str());
      return r;
    };
    auto real = [&]() -> double {
      const std::string v = value();
      char* end = nullptr;
      const double r = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0') usage((a + ": '" + v + "' is not a number").c_str());
      return r;
    };
    if (a == "--samples")
      o.samples = integer();
    else if (a == "--hidden")
      o.hidden = integer();
    else if (a == "--rho")
      o.rho = real();
    else if (a == "--lambda")
      o.lambda = real();
    else if (a == "--drift-at")
      o.drift_at = integer();
    else if (a == "--window")
      o.window = integer();
    else if (a == "--report")
      o.report = integer();
    else if (a == "--precision")
      o.precision = value();
    else if (a == "--init-rows")
      o.init_rows = integer();
    else if (a == "--synthetic")
      o.synthetic = true;
    else if (a == "--data-dir")
      o.data_dir = value();
    else if (a == "--save")
      o.save = value();
    else if (a == "--seed")
      o.seed = static_cast<std::uint64_t>(integer());
    else if (a == "--row-threads")
      o.row_threads = integer();
    else if (a == "--min-final-accuracy")
      o.min_final_accuracy = real();
    else if (a == "--help" || a == "-h")
      usage("help requested");
    else
      usage(("unknown option " + a).c_str());
  }
  if (o.samples < 1) usage("--samples must be >= 1");
  if (o.window < 1) usage("--window must be >= 1");
  if (o.init_rows < 1) usage("--init-rows must be >= 1");
  if (o.row_threads < 0 || o.row_threads > 1024) usage("--row-threads must be in [0, 1024]");
  if (!(o.lambda > 0.0)) usage("--lambda must be > 0");
  if (o.drift_at < 0) o.drift_at = o.samples / 2;
  if (o.report <= 0) o.report = std::max<std::int64_t>(1, o.samples / 10);
  return o;
}

// Fashion-MNIST train + test rows in file order, or a seeded synthetic stream
// of 10 Gaussian classes in 784 dimensions.
void load_stream(const Options& o, elmq::RowMatrixXf& x, elmq::LabelVector& y) {
  if (!o.synthetic) {
    elmq::DatasetOptions opt;
    opt.data_dir = o.data_dir;
    const elmq::DatasetSplit d = elmq::load_dataset("fashion-mnist", opt);
    const elmq::Index n = std::min<elmq::Index>(o.samples, d.x_train.rows() + d.x_test.rows());
    x.resize(n, d.x_train.cols());
    y.resize(n);
    const elmq::Index from_train = std::min<elmq::Index>(n, d.x_train.rows());
    x.topRows(from_train) = d.x_train.topRows(from_train);
    y.head(from_train) = d.y_train.head(from_train);
    if (n > from_train) {
      x.bottomRows(n - from_train) = d.x_test.topRows(n - from_train);
      y.tail(n - from_train) = d.y_test.head(n - from_train);
    }
    std::printf("stream: Fashion-MNIST (%s), %lld samples\n", d.source.c_str(),
                static_cast<long long>(n));
    return;
  }
  const elmq::Index n = o.samples, d = 784;
  elmq::Rng centres(o.seed, 11), rng(o.seed, 12);
  elmq::RowMatrixXf c(10, d);
  for (elmq::Index k = 0; k < 10; ++k)
    for (elmq::Index j = 0; j < d; ++j) c(k, j) = static_cast<float>(128 + 40 * centres.normal());
  x.resize(n, d);
  y.resize(n);
  for (elmq::Index i = 0; i < n; ++i) {
    y[i] = static_cast<std::int64_t>(rng.below(10));
    for (elmq::Index j = 0; j < d; ++j)
      x(i, j) = c(y[i], j) + static_cast<float>(60 * rng.normal());
  }
  std::printf("stream: synthetic, %lld samples of 10 Gaussian classes\n",
              static_cast<long long>(n));
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0.0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

int run(const Options& o) {
  elmq::ElmConfig cfg;
  cfg.hidden.groups = {elmq::NeuronGroup{}};
  cfg.hidden.groups[0].count = o.hidden;
  cfg.hidden.groups[0].activation = elmq::Activation::kTanh;
  cfg.hidden.seed = o.seed;
  cfg.ridge.lambda = o.lambda;
  cfg.threads = 1;
  elmq::OnlineConfig oc;
  oc.forgetting = o.rho;
  oc.precision = elmq::parse_state_precision(o.precision);
  cfg.validate();  // bad options fail before the data is read
  oc.validate();
  elmq::RowMatrixXf x;
  elmq::LabelVector y;
  load_stream(o, x, y);
  const elmq::Index n = x.rows();

  // The concept drift: from `drift_at` on, label k is reported as perm[k].
  std::vector<std::int64_t> perm(10);
  std::iota(perm.begin(), perm.end(), 0);
  elmq::Rng prng(o.seed, 13);
  for (std::size_t i = perm.size() - 1; i > 0; --i) {
    std::swap(perm[i], perm[static_cast<std::size_t>(prng.below(i + 1))]);
  }

  const elmq::Index init = std::min<elmq::Index>(o.init_rows, n);
  // Classes are discovered from the stream (the output layer grows).
  elmq::OnlineElm model = elmq::OnlineElm::create(cfg, oc, x.topRows(init), elmq::LabelVector());
  model.set_row_threads(static_cast<int>(o.row_threads));
  std::printf(
      "model: L = %lld tanh, lambda = %g, rho = %g (memory ~%.0f samples), state %s "
      "%.2f MiB, exact re-solve every %lld samples, row threads %lld\n",
      static_cast<long long>(o.hidden), o.lambda, o.rho, o.rho < 1.0 ? 1.0 / (1.0 - o.rho) : 0.0,
      o.precision.c_str(), static_cast<double>(model.state_bytes()) / (1 << 20),
      static_cast<long long>(oc.effective_resolve_period()), static_cast<long long>(o.row_threads));
  if (o.drift_at > 0 && o.drift_at < n) {
    std::printf("concept drift at sample %lld: labels permuted (0..9 -> ",
                static_cast<long long>(o.drift_at));
    for (auto p : perm) std::printf("%lld", static_cast<long long>(p));
    std::printf(")\n");
  }
  std::printf("%9s %9s %9s %11s %11s %11s %11s %11s\n", "samples", "rolling", "overall",
              "pred p50us", "pred p99us", "upd p50us", "upd p99us", "upd max us");

  elmq::PredictWorkspace ws;
  std::vector<float> scores(16);
  std::vector<char> hits(static_cast<std::size_t>(o.window), 0);
  std::int64_t window_hits = 0, total_hits = 0, window_fill = 0;
  std::vector<double> pred_us, upd_us;
  pred_us.reserve(static_cast<std::size_t>(o.report));
  upd_us.reserve(static_cast<std::size_t>(o.report));
  std::vector<double> after_drift;  // accuracy of each window after the drift
  std::int64_t drift_hits = 0;
  using clock = std::chrono::steady_clock;

  for (elmq::Index i = 0; i < n; ++i) {
    const std::int64_t label =
        (o.drift_at > 0 && i >= o.drift_at) ? perm[static_cast<std::size_t>(y[i])] : y[i];
    const float* row = x.row(i).data();
    // Predict first (a model that knows no class yet predicts nothing).
    const auto t0 = clock::now();
    std::int64_t guess = -1;
    if (model.n_outputs() > 0) {
      if (static_cast<std::size_t>(model.n_outputs()) > scores.size()) scores.resize(64);
      guess = model.predict_row(row, ws, scores.data());
    }
    const auto t1 = clock::now();
    model.learn_row(row, label);
    const auto t2 = clock::now();
    pred_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    upd_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());

    const bool hit = guess == label;
    const auto slot = static_cast<std::size_t>(i % o.window);
    window_hits += hit - hits[slot];
    hits[slot] = hit;
    window_fill = std::min<std::int64_t>(window_fill + 1, o.window);
    total_hits += hit;
    if (o.drift_at > 0 && i >= o.drift_at) {
      drift_hits += hit;
      if ((i - o.drift_at + 1) % o.window == 0) {
        after_drift.push_back(static_cast<double>(drift_hits) / static_cast<double>(o.window));
        drift_hits = 0;
      }
    }
    if ((i + 1) % o.report == 0 || i + 1 == n) {
      std::printf("%9lld %9.4f %9.4f %11.1f %11.1f %11.1f %11.1f %11.0f\n",
                  static_cast<long long>(i + 1),
                  static_cast<double>(window_hits) / static_cast<double>(window_fill),
                  static_cast<double>(total_hits) / static_cast<double>(i + 1),
                  percentile(pred_us, 0.5), percentile(pred_us, 0.99), percentile(upd_us, 0.5),
                  percentile(upd_us, 0.99), *std::max_element(upd_us.begin(), upd_us.end()));
      std::fflush(stdout);
      pred_us.clear();
      upd_us.clear();
    }
  }
  if (!after_drift.empty()) {
    std::printf("accuracy per %lld-sample window after the drift:",
                static_cast<long long>(o.window));
    for (std::size_t k = 0; k < after_drift.size() && k < 12; ++k)
      std::printf(" %.3f", after_drift[k]);
    std::printf("\n");
  }
  std::printf("prequential accuracy %.4f over %lld samples; %lld classes; %lld exact re-solves\n",
              static_cast<double>(total_hits) / static_cast<double>(n), static_cast<long long>(n),
              static_cast<long long>(model.n_outputs()), static_cast<long long>(model.resolves()));
  if (!o.save.empty()) {
    model.save(o.save);
    std::printf("saved the online model (state included) to %s\n", o.save.c_str());
  }
  const double final_rolling = static_cast<double>(window_hits) / static_cast<double>(window_fill);
  if (final_rolling < o.min_final_accuracy) {
    std::fprintf(stderr, "error: the last window's rolling accuracy %.4f is below %.4f\n",
                 final_rolling, o.min_final_accuracy);
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    return run(o);
  } catch (const elmq::IoError& e) {
    std::fprintf(stderr, "error: %s\n(use --synthetic to run without the data files)\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
