// Quantized products Y = X W^T against Eigen's float32 product, measured in
// the same run, single-threaded and with 2 threads (Eigen's own threading is
// off, EIGEN_DONT_PARALLELIZE; both sides split the work with
// elmq::parallel_for).
//
//   elmq_bench_quant [--benchmark_min_time=0.2] [--benchmark_filter=...]
//
// Each BM_QGemm benchmark reports counters GMACs (multiply-adds per second)
// and vs_f32 (Eigen FP32 time / this time, same shape and threads). After the
// run, tables of the ratios of the best times over repetitions are printed
// (wall time, and for single-threaded runs the calling thread's CPU time, which
// other load on the machine disturbs less). For stable figures use e.g.
//   --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "elm/common/parallel.h"
#include "elm/common/rng.h"
#include "quant/cpu_features.h"
#include "quant/formats.h"
#include "quant/gemm.h"
#include "quant/quantized_tensor.h"

namespace {

using elmq::Index;
using elmq::QuantFormat;
using elmq::RowMatrixXf;

struct Shape {
  Index batch, k, n;
};

using Key = std::tuple<Index, Index, Index, int>;  // batch, k, n, threads

std::string shape_name(const Shape& s, int threads) {
  return "b" + std::to_string(s.batch) + "/k" + std::to_string(s.k) + "/n" + std::to_string(s.n) +
         "/t" + std::to_string(threads);
}

RowMatrixXf normal(Index rows, Index cols, std::uint64_t seed, float sd) {
  elmq::Rng rng(seed);
  RowMatrixXf m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal()) * sd;
  return m;
}

// Inputs shared by all benchmarks of a shape (built on first use).
struct Problem {
  RowMatrixXf x, w, y;
  std::map<QuantFormat, elmq::QuantizedTensor> quantized;
};

Problem& problem(const Shape& s) {
  static std::map<std::tuple<Index, Index, Index>, std::unique_ptr<Problem>> cache;
  auto& p = cache[{s.batch, s.k, s.n}];
  if (!p) {
    p = std::make_unique<Problem>();
    p->x = normal(s.batch, s.k, 1, 1.0f);
    p->w = normal(s.n, s.k, 2, 0.05f);
    p->y.resize(s.batch, s.n);
  }
  return *p;
}

const elmq::QuantizedTensor& quantized(const Shape& s, QuantFormat f) {
  Problem& p = problem(s);
  auto it = p.quantized.find(f);
  if (it == p.quantized.end()) {
    it = p.quantized.emplace(f, elmq::QuantizedTensor::quantize(p.w, f)).first;
  }
  return it->second;
}

struct Seconds {
  double real = 0.0;  // wall time per iteration
  double cpu = 0.0;   // calling thread's CPU time per iteration
};

// Best (smallest) time seen per benchmark, over repetitions.
std::map<Key, Seconds> g_eigen_seconds;
std::map<Key, std::map<std::string, Seconds>> g_format_seconds;

void keep_min(Seconds& best, const Seconds& s) {
  if (best.real == 0.0 || s.real < best.real) best.real = s.real;
  if (best.cpu == 0.0 || s.cpu < best.cpu) best.cpu = s.cpu;
}
std::vector<Key> g_keys;

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Times the benchmark loop: wall time and this thread's CPU time per iteration.
template <class Fn>
Seconds timed_loop(benchmark::State& state, const Fn& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = thread_cpu_seconds();
  for (auto _ : state) fn();
  const double n = static_cast<double>(state.iterations());
  Seconds s;
  s.cpu = (thread_cpu_seconds() - c0) / n;
  s.real = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / n;
  return s;
}

// Eigen's float product, split over threads like the quantized kernels.
void eigen_product(const RowMatrixXf& x, const RowMatrixXf& w, RowMatrixXf& y, int threads) {
  const Index m = x.rows(), n = w.rows();
  if (threads <= 1) {
    y.noalias() = x * w.transpose();
  } else if (m >= 64 * threads) {
    elmq::parallel_for_range(
        m, (m + 4 * threads - 1) / (4 * threads), threads, [&](std::int64_t b, std::int64_t e) {
          y.middleRows(b, e - b).noalias() = x.middleRows(b, e - b) * w.transpose();
        });
  } else {
    elmq::parallel_for_range(
        n, (n + 4 * threads - 1) / (4 * threads), threads, [&](std::int64_t b, std::int64_t e) {
          y.middleCols(b, e - b).noalias() = x * w.middleRows(b, e - b).transpose();
        });
  }
}

void bm_eigen(benchmark::State& state, Shape s, int threads) {
  Problem& p = problem(s);
  const Seconds sec = timed_loop(state, [&] {
    eigen_product(p.x, p.w, p.y, threads);
    benchmark::DoNotOptimize(p.y.data());
    benchmark::ClobberMemory();
  });
  const Key key{s.batch, s.k, s.n, threads};
  keep_min(g_eigen_seconds[key], sec);
  state.counters["GMACs"] = static_cast<double>(s.batch) * s.k * s.n / sec.real * 1e-9;
  state.counters["vs_f32"] = 1.0;
}

void bm_qgemm(benchmark::State& state, Shape s, int threads, QuantFormat f) {
  Problem& p = problem(s);
  const elmq::QuantizedTensor& w = quantized(s, f);
  elmq::QGemmOptions opt;
  opt.threads = threads;
  const Seconds sec = timed_loop(state, [&] {
    elmq::qgemm(p.x, w, nullptr, p.y, opt);
    benchmark::DoNotOptimize(p.y.data());
    benchmark::ClobberMemory();
  });
  const Key key{s.batch, s.k, s.n, threads};
  state.counters["GMACs"] = static_cast<double>(s.batch) * s.k * s.n / sec.real * 1e-9;
  state.counters["bpw"] = w.bits_per_weight();
  keep_min(g_format_seconds[key][elmq::format_name(f)], sec);
  auto it = g_eigen_seconds.find(key);
  if (it != g_eigen_seconds.end()) {
    state.counters["vs_f32"] = it->second.real / sec.real;
    if (threads == 1) state.counters["vs_f32_cpu"] = it->second.cpu / sec.cpu;
  }
}

void register_all() {
  const Shape shapes[] = {{1, 784, 2000},  {32, 784, 2000},  {256, 784, 2000}, {10000, 784, 2000},
                          {1, 4096, 4096}, {32, 4096, 4096}, {256, 4096, 4096}};
  for (int threads : {1, 2}) {
    for (const Shape& s : shapes) {
      g_keys.emplace_back(s.batch, s.k, s.n, threads);
      benchmark::RegisterBenchmark(("BM_EigenF32/" + shape_name(s, threads)).c_str(), bm_eigen, s,
                                   threads)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
      for (QuantFormat f : elmq::all_formats()) {
        benchmark::RegisterBenchmark(
            ("BM_QGemm/" + std::string(elmq::format_name(f)) + "/" + shape_name(s, threads))
                .c_str(),
            bm_qgemm, s, threads, f)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

void print_table(bool cpu) {
  std::printf("\n%s\n", cpu ? "Speed vs Eigen FP32 by the calling thread's CPU time "
                              "(single-threaded rows only; robust to other load on the machine):"
                            : "Speed vs Eigen FP32 by wall time (same shape, same threads; >1 is "
                              "faster):");
  std::printf("%-24s", "batch/K/N/threads");
  std::vector<std::string> names;
  for (QuantFormat f : elmq::all_formats()) names.push_back(elmq::format_name(f));
  for (const std::string& n : names) std::printf(" %9.9s", n.c_str());
  std::printf("   f32 time\n");
  for (const Key& k : g_keys) {
    if (cpu && std::get<3>(k) != 1) continue;
    auto it = g_format_seconds.find(k);
    if (it == g_format_seconds.end() || !g_eigen_seconds.count(k)) continue;
    const Seconds& e = g_eigen_seconds[k];
    char label[64];
    std::snprintf(label, sizeof(label), "%lld/%lld/%lld/%d", static_cast<long long>(std::get<0>(k)),
                  static_cast<long long>(std::get<1>(k)), static_cast<long long>(std::get<2>(k)),
                  std::get<3>(k));
    std::printf("%-24s", label);
    for (const std::string& n : names) {
      auto r = it->second.find(n);
      if (r == it->second.end()) {
        std::printf(" %9s", "-");
      } else {
        std::printf(" %9.2f", cpu ? e.cpu / r->second.cpu : e.real / r->second.real);
      }
    }
    std::printf("   %.3f ms\n", (cpu ? e.cpu : e.real) * 1e3);
  }
}

void print_summary() {
  if (g_format_seconds.empty()) return;
  std::printf("\nKernel path: %s\n", elmq::kernel_dispatch_report().c_str());
  print_table(false);
  print_table(true);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
