// Prediction with quantized ELMs against the FP32 ELM, measured in the same run.
//
//   elmq_bench_quant_elm [--benchmark_min_time=0.5] [--benchmark_filter=...]
//
// The model has the Fashion-MNIST shape (d = 784 inputs, L = 2048 tanh
// neurons, C = 10 outputs) with random weights (the speed does not depend on
// their values) and byte-valued inputs. Baselines: ElmModel::decision_row
// (batch 1, on the calling thread and split over 2 threads: set_row_threads,
// as the quantized models' rows) and ElmModel::decision_function (batch
// 10000, 1 and 2 threads).
// Every BM_Quantized benchmark reports vs_fp32 = FP32 time / its time (same
// batch and threads; > 1 is faster); tables of these ratios (best time over
// repetitions) are printed after the run: by wall time, and for
// single-threaded runs by the calling thread's CPU time, which other load on
// the machine disturbs less. For stable figures use e.g.
//   --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "elm/common/rng.h"
#include "elm/elm_model.h"
#include "quant/cpu_features.h"
#include "quant/elm/quantize_elm.h"

namespace {

using elmq::Index;
using elmq::QuantFormat;
using elmq::RowMatrixXf;

constexpr Index kInputs = 784, kHidden = 2048, kOutputs = 10, kBatch = 10000;

struct Variant {
  const char* name;
  QuantFormat w, beta;
  elmq::InputQuant input;
  elmq::HiddenQuant hidden;
};

const Variant kVariants[] = {
    {"f32/f32", QuantFormat::kF32, QuantFormat::kF32, elmq::InputQuant::kDynamic,
     elmq::HiddenQuant::kDynamic},
    {"int8/int8", QuantFormat::kInt8Channel, QuantFormat::kInt8Channel, elmq::InputQuant::kDynamic,
     elmq::HiddenQuant::kDynamic},
    {"int8/int8/static/u8", QuantFormat::kInt8Channel, QuantFormat::kInt8Channel,
     elmq::InputQuant::kUint8, elmq::HiddenQuant::kStatic},
    {"int4/int4-g32", QuantFormat::kInt4Channel, QuantFormat::kInt4G32Sym,
     elmq::InputQuant::kDynamic, elmq::HiddenQuant::kDynamic},
    {"ternary/int4-g32", QuantFormat::kTernaryChannel, QuantFormat::kInt4G32Sym,
     elmq::InputQuant::kDynamic, elmq::HiddenQuant::kDynamic},
    {"ternary-base3/int2-g32", QuantFormat::kTernaryBase3, QuantFormat::kInt2G32Asym,
     elmq::InputQuant::kDynamic, elmq::HiddenQuant::kDynamic},
};

struct Problem {
  RowMatrixXf x;                                        // kBatch x kInputs, integers 0..255
  std::map<int, std::unique_ptr<elmq::ElmModel>> fp32;  // by threads
  std::map<std::string, std::unique_ptr<elmq::QuantizedElm>> quantized;
};

Problem& problem() {
  static Problem* p = [] {
    auto* pr = new Problem;
    elmq::Rng rng(1);
    pr->x.resize(kBatch, kInputs);
    for (Index i = 0; i < pr->x.size(); ++i) {
      pr->x.data()[i] = static_cast<float>(rng.below(256));
    }
    elmq::ElmConfig cfg;
    cfg.hidden.groups = {elmq::NeuronGroup{kHidden, elmq::Activation::kTanh}};
    elmq::Scaler scaler(elmq::ScalingKind::kMinMax);
    scaler.fit(pr->x.topRows(2000));
    const elmq::HiddenLayer layer =
        elmq::HiddenLayer::create(cfg.hidden, kInputs, RowMatrixXf(), scaler.scaled_rms());
    RowMatrixXf beta(kHidden, kOutputs);
    for (Index i = 0; i < beta.size(); ++i) {
      beta.data()[i] = static_cast<float>(0.05 * rng.normal());
    }
    elmq::LabelVector classes(kOutputs);
    for (Index c = 0; c < kOutputs; ++c) classes[c] = c;
    for (int threads : {1, 2}) {
      cfg.threads = threads;
      pr->fp32[threads] = std::make_unique<elmq::ElmModel>(elmq::ElmModel::from_parts(
          cfg, elmq::Task::kClassification, scaler, layer, beta, classes, 1.0));
    }
    for (const Variant& v : kVariants) {
      elmq::ElmQuantConfig q;
      q.w_format = v.w;
      q.beta_format = v.beta;
      q.input = v.input;
      q.hidden = v.hidden;
      q.resolve_beta_after_w = false;  // timing only: no data to re-solve on
      pr->quantized[v.name] =
          std::make_unique<elmq::QuantizedElm>(elmq::quantize_elm(*pr->fp32[1], q));
    }
    return pr;
  }();
  return *p;
}

using Key = std::pair<Index, int>;  // batch, threads

struct Seconds {
  double real = 0.0;  // wall time per iteration
  double cpu = 0.0;   // calling thread's CPU time per iteration
};

std::map<Key, Seconds> g_fp32_seconds;
std::map<Key, std::map<std::string, Seconds>> g_seconds;
std::vector<Key> g_keys;

void keep_min(Seconds& best, const Seconds& s) {
  if (best.real == 0.0 || s.real < best.real) best.real = s.real;
  if (best.cpu == 0.0 || s.cpu < best.cpu) best.cpu = s.cpu;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Wall and CPU seconds per iteration of fn.
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

// Batch 1 cycles through the rows, so that every call sees a new input.
template <class Model>
Seconds run(benchmark::State& state, const Model& m, Index batch) {
  Problem& p = problem();
  if (batch == 1) {
    elmq::PredictWorkspace ws;
    std::vector<float> out(kOutputs);
    Index i = 0;
    m.decision_row(p.x.row(0).data(), out.data(), ws);  // warm-up
    return timed_loop(state, [&] {
      m.decision_row(p.x.row(i).data(), out.data(), ws);
      benchmark::DoNotOptimize(out.data());
      i = i + 1 == kBatch ? 0 : i + 1;
    });
  }
  RowMatrixXf out(batch, kOutputs);
  return timed_loop(state, [&] {
    m.decision_function(p.x.topRows(batch), out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  });
}

void bm_fp32(benchmark::State& state, Index batch, int threads) {
  elmq::ElmModel& m = *problem().fp32[threads];
  m.set_row_threads(batch == 1 ? threads : 1);  // batch 1: threads split the row
  const Seconds s = run(state, m, batch);
  keep_min(g_fp32_seconds[{batch, threads}], s);
  state.counters["rows_per_s"] = static_cast<double>(batch) / s.real;
  state.counters["vs_fp32"] = 1.0;
}

void bm_quantized(benchmark::State& state, Index batch, int threads, std::string name) {
  elmq::QuantizedElm& m = *problem().quantized[name];
  m.set_threads(threads);
  m.set_row_threads(batch == 1 ? threads : 1);
  const Seconds s = run(state, m, batch);
  keep_min(g_seconds[{batch, threads}][name], s);
  state.counters["rows_per_s"] = static_cast<double>(batch) / s.real;
  state.counters["bytes"] = static_cast<double>(m.bytes());
  auto it = g_fp32_seconds.find({batch, threads});
  if (it != g_fp32_seconds.end()) {
    state.counters["vs_fp32"] = it->second.real / s.real;
    if (threads == 1) state.counters["vs_fp32_cpu"] = it->second.cpu / s.cpu;
  }
}

void register_all() {
  for (const Key& k : {Key{1, 1}, Key{1, 2}, Key{kBatch, 1}, Key{kBatch, 2}}) {
    g_keys.push_back(k);
    const std::string shape = "b" + std::to_string(k.first) + "/t" + std::to_string(k.second);
    benchmark::RegisterBenchmark(("BM_Fp32Elm/" + shape).c_str(), bm_fp32, k.first, k.second)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    for (const Variant& v : kVariants) {
      benchmark::RegisterBenchmark(("BM_QuantizedElm/" + std::string(v.name) + "/" + shape).c_str(),
                                   bm_quantized, k.first, k.second, std::string(v.name))
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
}

void print_table(bool cpu) {
  std::printf("\n%s\n", cpu ? "Speed vs the FP32 ELM by the calling thread's CPU time "
                              "(single-threaded rows only; robust to other load):"
                            : "Speed vs the FP32 ELM by wall time (same batch and threads; > 1 "
                              "is faster):");
  std::printf("%-14s", "batch/threads");
  for (const Variant& v : kVariants) std::printf(" %12.12s", v.name);
  std::printf("   FP32 time\n");
  for (const Key& k : g_keys) {
    if ((cpu && k.second != 1) || !g_fp32_seconds.count(k) || !g_seconds.count(k)) continue;
    const Seconds& f = g_fp32_seconds[k];
    char label[32];
    std::snprintf(label, sizeof(label), "%lld/%d", static_cast<long long>(k.first), k.second);
    std::printf("%-14s", label);
    for (const Variant& v : kVariants) {
      auto it = g_seconds[k].find(v.name);
      if (it == g_seconds[k].end()) {
        std::printf(" %12s", "-");
      } else {
        std::printf(" %12.2f", cpu ? f.cpu / it->second.cpu : f.real / it->second.real);
      }
    }
    std::printf("   %.3f ms\n", (cpu ? f.cpu : f.real) * 1e3);
  }
}

void print_summary() {
  if (g_seconds.empty()) return;
  std::printf("\nKernel path: %s\n", elmq::kernel_dispatch_report().c_str());
  std::printf("Model: d %lld, L %lld tanh, C %lld\n", static_cast<long long>(kInputs),
              static_cast<long long>(kHidden), static_cast<long long>(kOutputs));
  print_table(false);
  print_table(true);
  std::printf("\nParameter bytes: FP32 %llu",
              static_cast<unsigned long long>(problem().quantized["f32/f32"]->fp32_bytes()));
  for (const Variant& v : kVariants) {
    std::printf(", %s %llu", v.name,
                static_cast<unsigned long long>(problem().quantized[v.name]->bytes()));
  }
  std::printf("\n");
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
