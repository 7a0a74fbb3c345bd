// Training and single-sample prediction of the FP32 ELM on Fashion-MNIST,
// each reported against a floor measured in the same run:
//   - training (L = 2000 tanh, 60k x 784) vs the products training cannot
//     avoid, done by the fastest GEMM on this machine (OpenBLAS, 2 threads):
//     H = X W^T (sgemm), G = H^T H (ssyrk, symmetric), Cholesky of G (dpotrf);
//   - single-sample latency vs reading the weights once at the bandwidth
//     measured on a buffer of the same size (they stay in cache between calls)
//     and on one far larger than the last-level cache.
// The summary printed at the end gives the ratios.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "bench/common/read_sum.h"
#include "elm/common/parallel.h"
#include "elm/data/datasets.h"
#include "elm/elm_model.h"

#if defined(ELMQ_BENCH_OPENBLAS)
#include <cblas.h>
extern "C" {
void openblas_set_num_threads(int);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}
#endif

namespace {

using namespace elmq;

constexpr Index kHidden = 2000;
constexpr int kThreads = 2;

const DatasetSplit& data() {
  static const DatasetSplit d = load_dataset("fashion-mnist");
  return d;
}

ElmConfig train_config(Index hidden, bool auto_lambda) {
  ElmConfig c;
  c.hidden.groups = {NeuronGroup{hidden, Activation::kTanh}};
  c.ridge.auto_lambda = auto_lambda;
  c.ridge.lambda = 1.0;
  c.threads = kThreads;
  return c;
}

void BM_Train(benchmark::State& state) {
  const Index hidden = state.range(0);
  const bool auto_lambda = state.range(1) != 0;
  const DatasetSplit& d = data();
  double acc = 0.0;
  for (auto _ : state) {
    ElmModel m(train_config(hidden, auto_lambda));
    m.fit(d.x_train, d.y_train);
    state.PauseTiming();
    acc = m.score(d.x_test, d.y_test);
    state.ResumeTiming();
  }
  state.counters["test_accuracy"] = acc;
}
BENCHMARK(BM_Train)
    ->ArgNames({"L", "auto_lambda"})
    ->Args({kHidden, 0})
    ->Args({kHidden, 1})
    ->Unit(benchmark::kSecond)
    ->Iterations(2)
    ->UseRealTime();

// Eigen's own product (whatever elmq's build routes it to), split over rows
// like elmq does: the GEMM part of training on the library's code path.
void BM_LibraryGemm_XW(benchmark::State& state) {
  const DatasetSplit& d = data();
  RowMatrixXf w = RowMatrixXf::Random(kHidden, d.x_train.cols());
  RowMatrixXf h(d.x_train.rows(), kHidden);
  for (auto _ : state) {
    parallel_for_range(h.rows(), 256, kThreads, [&](Index b, Index e) {
      h.middleRows(b, e - b).noalias() = d.x_train.middleRows(b, e - b) * w.transpose();
    });
    benchmark::DoNotOptimize(h.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(
      2.0 * static_cast<double>(h.rows()) * h.cols() * d.x_train.cols(),
      benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_LibraryGemm_XW)->Unit(benchmark::kSecond)->Iterations(2)->UseRealTime();

#if defined(ELMQ_BENCH_OPENBLAS)
struct BlasThreads {
  explicit BlasThreads(int n) { openblas_set_num_threads(n); }
  ~BlasThreads() { openblas_set_num_threads(1); }
};

void BM_Floor_XW(benchmark::State& state) {
  const DatasetSplit& d = data();
  const int n = static_cast<int>(d.x_train.rows()), k = static_cast<int>(d.x_train.cols());
  const int l = static_cast<int>(kHidden);
  RowMatrixXf w = RowMatrixXf::Random(l, k);
  RowMatrixXf h(n, l);
  BlasThreads threads(kThreads);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, l, k, 1.0f, d.x_train.data(), k,
                w.data(), k, 0.0f, h.data(), l);
    benchmark::DoNotOptimize(h.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * n * l * k,
                                                benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Floor_XW)->Unit(benchmark::kSecond)->Iterations(2)->UseRealTime();

void BM_Floor_Gram(benchmark::State& state) {
  const int n = static_cast<int>(data().x_train.rows()), l = static_cast<int>(kHidden);
  RowMatrixXf h = RowMatrixXf::Random(n, l);
  RowMatrixXf g(l, l);
  BlasThreads threads(kThreads);
  for (auto _ : state) {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, l, n, 1.0f, h.data(), l, 0.0f, g.data(), l);
    benchmark::DoNotOptimize(g.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(1.0 * n * l * l,
                                                benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Floor_Gram)->Unit(benchmark::kSecond)->Iterations(2)->UseRealTime();

void BM_Floor_Cholesky(benchmark::State& state) {
  const int l = static_cast<int>(kHidden);
  RowMatrixXd a = RowMatrixXd::Random(l, l);
  const RowMatrixXd spd = a * a.transpose() + l * RowMatrixXd::Identity(l, l);
  BlasThreads threads(kThreads);
  for (auto _ : state) {
    state.PauseTiming();
    RowMatrixXd m = spd;
    state.ResumeTiming();
    int info = 0;
    dpotrf_("U", &l, m.data(), &l, &info);
    benchmark::DoNotOptimize(m.data());
  }
}
BENCHMARK(BM_Floor_Cholesky)->Unit(benchmark::kSecond)->Iterations(3)->UseRealTime();
#endif

std::shared_ptr<ElmModel> predict_model() {
  static std::shared_ptr<ElmModel> m = [] {
    auto model = std::make_shared<ElmModel>(train_config(kHidden, false));
    const DatasetSplit& d = data();
    model->fit(d.x_train.topRows(10000), d.y_train.head(10000));
    return model;
  }();
  return m;
}

// One row on the calling thread (row_threads:1) and split over the pool (row_threads:2).
void BM_PredictRow(benchmark::State& state) {
  const auto m = predict_model();
  m->set_row_threads(static_cast<int>(state.range(0)));
  const DatasetSplit& d = data();
  PredictWorkspace ws;
  std::vector<float> out(static_cast<std::size_t>(m->n_outputs()));
  Index i = 0;
  std::int64_t sink = 0;
  for (auto _ : state) {
    sink += m->predict_row(d.x_test.row(i).data(), ws, out.data());
    i = (i + 1) % d.x_test.rows();
  }
  benchmark::DoNotOptimize(sink);
  state.counters["weight_bytes"] =
      static_cast<double>((m->hidden().weights().size() + m->beta().size()) * sizeof(float));
}
BENCHMARK(BM_PredictRow)->ArgName("row_threads")->Arg(1)->Arg(kThreads)->Unit(benchmark::kMicrosecond);

// Read bandwidth: sum a float buffer of the given size (bytes).
void BM_ReadBandwidth(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0)) / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  for (auto _ : state) benchmark::DoNotOptimize(bench::read_sum(buf.data(), n));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n * sizeof(float)));
}
BENCHMARK(BM_ReadBandwidth)
    ->Arg((kHidden * 784 + kHidden * 10) * 4)
    ->Arg(512 << 20)
    ->Unit(benchmark::kMicrosecond);

// Collects real times (seconds per iteration) and bytes/s for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> seconds, bytes_per_second, counters;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      const std::string name = r.benchmark_name();
      seconds[name] = r.GetAdjustedRealTime() /
                      benchmark::GetTimeUnitMultiplier(r.time_unit);
      auto it = r.counters.find("bytes_per_second");
      if (it != r.counters.end()) bytes_per_second[name] = it->second;
      for (const auto& [k, v] : r.counters) counters[name + ":" + k] = v;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    data();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bm_elm_train: %s\n", e.what());
    return 1;
  }
  SummaryReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);

  auto get = [&](const std::string& prefix) {
    for (const auto& [k, v] : rep.seconds)
      if (k.rfind(prefix, 0) == 0) return v;
    return 0.0;
  };
  std::printf("\n=== summary (ratios measured in this run) ===\n");
  std::printf("library build: %s\n",
#if defined(ELMQ_USE_BLAS)
              "Eigen products routed to OpenBLAS (ELMQ_USE_BLAS=ON)"
#else
              "pure Eigen products (ELMQ_USE_BLAS=OFF)"
#endif
  );
  const double fixed = get("BM_Train/L:2000/auto_lambda:0"), autol = get("BM_Train/L:2000/auto_lambda:1");
  const double xw = get("BM_Floor_XW"), gram = get("BM_Floor_Gram"), chol = get("BM_Floor_Cholesky");
  std::printf("train L=2000, fixed lambda: %.3f s; automatic lambda: %.3f s (+%.2fx)\n", fixed, autol,
              fixed > 0 ? autol / fixed - 1.0 : 0.0);
  if (xw > 0) {
    const double floor = xw + gram + chol;
    std::printf("GEMM floor (OpenBLAS, %d threads): X*W^T %.3f s + H^T H (syrk) %.3f s + Cholesky %.3f s = %.3f s\n",
                kThreads, xw, gram, chol, floor);
    std::printf("ratio train/floor: fixed lambda %.2f (goal <= 1.3), automatic lambda %.2f\n",
                fixed / floor, autol / floor);
    std::printf("library X*W^T vs OpenBLAS sgemm: %.2fx\n", get("BM_LibraryGemm_XW") / xw);
  }
  const double row_s = get("BM_PredictRow/row_threads:1");
  const double row2_s = get("BM_PredictRow/row_threads:" + std::to_string(kThreads));
  double wbytes = 0.0;
  for (const auto& [k, v] : rep.counters)
    if (k.rfind("BM_PredictRow", 0) == 0 && k.find(":weight_bytes") != std::string::npos) wbytes = v;
  double bw_cache = 0.0, bw_dram = 0.0;
  for (const auto& [k, v] : rep.bytes_per_second) {
    if (k.rfind("BM_ReadBandwidth", 0) != 0) continue;
    (k.find("/536870912") != std::string::npos ? bw_dram : bw_cache) = v;
  }
  if (row_s > 0 && bw_cache > 0 && bw_dram > 0) {
    std::printf("predict one sample (L=2000): %.1f us; floor = %.1f MB of weights read once: "
                "%.1f us at the same-size-buffer bandwidth (%.1f GB/s, %.2fx), %.1f us from DRAM "
                "(%.1f GB/s, %.2fx)\n",
                row_s * 1e6, wbytes / 1e6, wbytes / bw_cache * 1e6, bw_cache / 1e9,
                row_s / (wbytes / bw_cache), wbytes / bw_dram * 1e6, bw_dram / 1e9,
                row_s / (wbytes / bw_dram));
    std::printf("predict one sample on %d threads (set_row_threads): %.1f us (%.2fx less time)\n",
                kThreads, row2_s * 1e6, row2_s > 0 ? row_s / row2_s : 0.0);
  }
  benchmark::Shutdown();
  return 0;
}
