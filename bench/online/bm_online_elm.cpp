// Benchmarks of the online ELM's real-time paths, each reported as a ratio
// to a floor measured in the same run.
//
// Predicting one sample must read the hidden weights W (L x 784 floats) and
// beta; a single-sample update must also read the stored inverse-Gram
// triangle P once (the queued corrections write it back once per 64
// samples). The floor is the time to read those bytes (bench::read_sum):
//   x_floor = measured time / floor time.
// The floor is measured beside the work it judges (PairedFloor): after every
// 64 items the loop pauses and times one read of W and P themselves (and of
// a buffer the size of the bias and beta), so both see the same cache level
// and the same load from the machine's other tenants. x_floor is the mean
// time per item over the mean floor of those reads; x_floor_med the median
// over chunks of their ratio. (A floor measured once at start-up swung 2.5x
// between runs of this binary on this shared host, 2026-12-03.)
// The one-thread single-sample updates also report products_us: the CPU time
// per sample of the rank-64 products they run in slices (the float32 state's
// flush; with statistics also the double fold into G), timed alone on cached
// operands, and x_floor_min = (floor + products_us) / floor: what x_floor
// would be if the reads ran at the floor and the products at that rate, one
// after the other. Those products are arithmetic that no byte of the sample
// pays for; on one core they add to the reads. (In a scratch test here,
// interleaving a double rank-64 kernel that prefetches the next weight rows
// with a 784-input hidden-layer product took 8-13 % off the pair's time at
// L = 2000, against 41 % for a full overlap, and -4 to +27 % at L = 1000.)
// A block update of 64 rows is compute-bound instead (three products with
// the triangle per block, about 2.5 L^2 float and 0.5 L^2 double
// multiply-adds per sample plus the hidden layer): its floor uses the float
// and double GEMM rates measured here (BM_GemmRate). BM_LearnRowTail gives
// the distribution of single-update times (p50 ... p99.9), which the
// spreading of the rank-64 products over 32 samples keeps near the median.
//
//   elmq_bench_online --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "bench/common/read_sum.h"
#include "elm/common/parallel.h"
#include "elm/common/rng.h"
#include "elm/online_elm.h"
#include "elm/packed_sym.h"

namespace elmq {
namespace {

constexpr Index kInputs = 784;
constexpr Index kClasses = 10;
constexpr Index kRows = 2048;  // distinct input rows cycled through

// ---------------------------------------------------------------- baselines

// This thread's CPU time in seconds: the benchmarks' rates use CPU time too,
// so baselines and benchmarks are measured alike on a shared machine.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Best-of read bandwidth (bytes/s) of a buffer of `bytes` bytes, streamed
// by bench::read_sum after one warm pass.
double read_bandwidth(std::size_t bytes) {
  static std::map<std::size_t, double> cache;
  auto it = cache.find(bytes);
  if (it != cache.end()) return it->second;
  const auto n = static_cast<Index>(std::max<std::size_t>(bytes / sizeof(float), 1024));
  VectorXf buf = VectorXf::LinSpaced(n, 0.0f, 1.0f);
  float sink = bench::read_sum(buf.data(), buf.size());
  const int passes = static_cast<int>(std::clamp<std::size_t>((256u << 20) / bytes, 5, 2000));
  double best = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = cpu_seconds();
    for (int p = 0; p < passes; ++p) {
      sink += bench::read_sum(buf.data(), buf.size());
      benchmark::ClobberMemory();
    }
    const double s = cpu_seconds() - t0;
    best = std::max(best, static_cast<double>(n) * sizeof(float) * passes / s);
  }
  benchmark::DoNotOptimize(sink);
  cache[bytes] = best;
  return best;
}

// Float and double multiply-add rates (per second) of a GEMM shaped like the
// block update's products (8 x 64 times 64 x 512).
template <typename T>
double gemm_rate() {
  static double cached = 0.0;
  if (cached > 0.0) return cached;
  using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  M a = M::Random(8, 64), b = M::Random(64, 512), c = M::Zero(8, 512);
  double best = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = cpu_seconds();
    for (int i = 0; i < 2000; ++i) {
      c.noalias() += a * b;
      benchmark::ClobberMemory();
    }
    const double s = cpu_seconds() - t0;
    best = std::max(best, 8.0 * 64 * 512 * 2000 / s);
  }
  benchmark::DoNotOptimize(c.data());
  cached = best;
  return best;
}

void BM_ReadBandwidth(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  double bw = 0.0;
  for (auto _ : state) bw = read_bandwidth(bytes);
  state.counters["GB/s"] = bw / 1e9;
  state.counters["MiB"] = static_cast<double>(bytes) / (1 << 20);
}
// 64 MiB: beyond the 32 MiB L3; the others: the working sets below.
BENCHMARK(BM_ReadBandwidth)
    ->Arg(64 << 20)
    ->Arg(1 << 20)
    ->Arg(4 << 20)
    ->Arg(8 << 20)
    ->Arg(16 << 20)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_GemmRate(benchmark::State& state) {
  double f = 0.0, d = 0.0;
  for (auto _ : state) {
    f = gemm_rate<float>();
    d = gemm_rate<double>();
  }
  state.counters["f32_GFMA/s"] = f / 1e9;
  state.counters["f64_GFMA/s"] = d / 1e9;
}
BENCHMARK(BM_GemmRate)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- fixtures

struct Fixture {
  RowMatrixXf x;
  LabelVector y;
  std::unique_ptr<OnlineElm> model;
};

Fixture make_fixture(Index hidden, StatePrecision precision, bool stats) {
  Fixture f;
  f.x.resize(kRows, kInputs);
  f.y.resize(kRows);
  Rng rng(2024);
  for (Index i = 0; i < kRows; ++i) {
    f.y[i] = static_cast<std::int64_t>(rng.below(kClasses));
    for (Index j = 0; j < kInputs; ++j) f.x(i, j) = static_cast<float>(rng.uniform(0.0, 255.0));
  }
  ElmConfig cfg;
  cfg.hidden.groups = {NeuronGroup{}};
  cfg.hidden.groups[0].count = hidden;
  cfg.ridge.lambda = 1.0;
  cfg.threads = 1;
  OnlineConfig oc;
  oc.precision = precision;
  oc.keep_statistics = stats;
  oc.resolve_period = std::int64_t{1} << 40;  // steady state; BM_Resolve times a re-solve
  LabelVector classes(kClasses);
  for (Index c = 0; c < kClasses; ++c) classes[c] = c;
  f.model = std::make_unique<OnlineElm>(OnlineElm::create(cfg, oc, f.x, classes));
  f.model->learn(f.x.topRows(256), f.y.head(256));
  return f;
}

double weight_bytes(const OnlineElm& m) {
  return 4.0 * static_cast<double>(m.n_hidden() * (m.n_features() + 1 + m.n_outputs()));
}

// Counters: bytes and floor per item, and x_floor = (CPU time per item) / floor.
void set_floor(benchmark::State& state, double bytes_per_item, double seconds_per_item_floor,
               double items_per_iteration = 1.0) {
  state.counters["KiB/item"] = bytes_per_item / 1024.0;
  state.counters["floor_us"] = seconds_per_item_floor * 1e6;
  state.counters["x_floor"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * items_per_iteration * seconds_per_item_floor,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The floor of a one-item-per-iteration benchmark, measured beside it. Call
// tick() after each item: every kChunk items it pauses the benchmark's timer
// and reads the floor's bytes (one warm read, then the faster of two timed
// ones): the `real` arrays the work itself reads, then a buffer of
// `other_bytes` standing in for the rest. With `threads` = 2 (for work on two
// threads, timed in wall time) two threads read half of each array at once:
// two cores draw more bandwidth than one. report() sets the counters of
// set_floor with the mean of those reads, and x_floor_med: the median over
// chunks of (the chunk's time per item / the floor read after it), which a
// burst from another tenant moves less than the means.
class PairedFloor {
 public:
  static constexpr std::int64_t kChunk = 64;
  struct Array {
    const void* data;
    Index size;
    bool f64 = false;  // double numbers (a double state)
    double bytes() const { return static_cast<double>(size) * (f64 ? 8.0 : 4.0); }
  };

  PairedFloor(benchmark::State& state, std::vector<Array> real, double other_bytes,
              int threads = 1)
      : state_(state),
        real_(std::move(real)),
        other_(VectorXf::LinSpaced(static_cast<Index>(other_bytes / sizeof(float)), 0.0f, 1.0f)),
        threads_(std::clamp(threads, 1, 2)) {  // read_all sums two parts at most
    real_.push_back({other_.data(), other_.size()});
    for (const Array& a : real_) bytes_ += a.bytes();
  }

  void tick() {
    if (items_ == 0) chunk_start_ = now();
    if (++items_ % kChunk != 0) return;
    const double chunk = now() - chunk_start_;
    state_.PauseTiming();
    const double floor = measure();
    ratios_.push_back(chunk / (kChunk * floor));
    state_.ResumeTiming();
    chunk_start_ = now();
  }

  // The mean floor per item (measuring one if none was taken yet).
  double seconds_per_item() {
    if (reads_ == 0) measure();  // a short run (the calibration rounds)
    return seconds_ / static_cast<double>(reads_);
  }

  void report() {
    set_floor(state_, bytes_, seconds_per_item());
    if (!ratios_.empty()) {
      auto mid = ratios_.begin() + static_cast<std::ptrdiff_t>(ratios_.size() / 2);
      std::nth_element(ratios_.begin(), mid, ratios_.end());
      state_.counters["x_floor_med"] = *mid;
    }
  }

 private:
  double now() const {
    return threads_ > 1 ? std::chrono::duration<double>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count()
                        : cpu_seconds();
  }
  double read_all() const {
    double part[2] = {0.0, 0.0};
    parallel_for(threads_, threads_, [&](std::int64_t t) {
      for (const Array& a : real_) {
        const Index begin = a.size * t / threads_, end = a.size * (t + 1) / threads_;
        const auto n = static_cast<std::size_t>(end - begin);
        part[t] += a.f64 ? bench::read_sum(static_cast<const double*>(a.data) + begin, n)
                         : bench::read_sum(static_cast<const float*>(a.data) + begin, n);
      }
    });
    return part[0] + part[1];
  }
  double measure() {
    // Small reads are repeated within one timing (about 1 MiB in all), so
    // that reading the clock (a system call for CPU time) does not count.
    const int passes = static_cast<int>(std::clamp(1.0 * (1 << 20) / bytes_, 1.0, 64.0));
    double sink = read_all();
    double best = 1e300;
    for (int rep = 0; rep < 2; ++rep) {
      const double t0 = now();
      for (int k = 0; k < passes; ++k) {
        sink += read_all();
        benchmark::ClobberMemory();
      }
      best = std::min(best, (now() - t0) / passes);
    }
    benchmark::DoNotOptimize(sink);
    seconds_ += best;
    ++reads_;
    return best;
  }

  benchmark::State& state_;
  std::vector<Array> real_;
  VectorXf other_;
  int threads_;
  double bytes_ = 0.0, seconds_ = 0.0, chunk_start_ = 0.0;
  std::int64_t items_ = 0, reads_ = 0;
  std::vector<double> ratios_;  // per chunk: time per item / its floor
};

// The floor of a one-row path of m: a prediction must read W, the bias and
// beta; a single-sample update (with_state) also the stored triangle of P.
PairedFloor model_floor(benchmark::State& state, const OnlineElm& m, bool with_state,
                        int threads) {
  const RowMatrixXf& w = m.hidden().weights();
  std::vector<PairedFloor::Array> real = {{w.data(), w.size()}};
  if (with_state) {
    const bool f64 = m.online_config().precision == StatePrecision::kFloat64;
    real.push_back({m.state_data(), static_cast<Index>(m.state_bytes() / (f64 ? 8 : 4)), f64});
  }
  return PairedFloor(state, std::move(real),
                     weight_bytes(m) - 4.0 * static_cast<double>(w.size()), threads);
}

// ---------------------------------------------------------------- predict

void BM_PredictRow(benchmark::State& state) {
  Fixture f = make_fixture(state.range(0), StatePrecision::kFloat32, false);
  const auto snap = f.model->snapshot();
  PredictWorkspace ws;
  std::vector<float> scores(kClasses);
  Index i = 0;
  std::int64_t sink = 0;
  PairedFloor floor = model_floor(state, *f.model, false, 1);
  for (auto _ : state) {
    sink += snap->predict_row(f.x.row(i).data(), ws, scores.data());
    i = (i + 1) % kRows;
    floor.tick();
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
  floor.report();
}
BENCHMARK(BM_PredictRow)->Arg(256)->Arg(1000)->Arg(2000)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------- updates

// CPU seconds per sample of a rank-64 product on an lp x lp triangle of T
// (the state's flush, or the statistics' fold, which a single-sample update
// runs in slices): the best of five, measured alone, where its operands stay
// in cache (so an update cannot do them faster).
template <typename T>
double rank64_seconds_per_sample(Index lp) {
  static std::map<Index, double> cache;
  auto it = cache.find(lp);
  if (it != cache.end()) return it->second;
  constexpr Index m = 64;
  Eigen::Matrix<T, Eigen::Dynamic, 1> p = Eigen::Matrix<T, Eigen::Dynamic, 1>::Zero(
      detail::packed_sym_size(lp));
  const RowMatrixXf v = RowMatrixXf::Random(m, lp) * 1e-3f;
  const Eigen::Matrix<T, Eigen::Dynamic, 1> coef = Eigen::Matrix<T, Eigen::Dynamic, 1>::Constant(m, T(-1));
  detail::SymRowMat<T> scratch;
  const int passes = static_cast<int>(std::clamp<Index>((Index{2000} * 2000) / (lp * lp), 1, 64));
  detail::packed_sym_rank_update<T, float>(p.data(), lp, 1.0, v.data(), lp, coef.data(), m,
                                           scratch);  // warm
  double best = 1e300;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = cpu_seconds();
    for (int k = 0; k < passes; ++k) {
      detail::packed_sym_rank_update<T, float>(p.data(), lp, 1.0, v.data(), lp, coef.data(), m,
                                               scratch);
      benchmark::ClobberMemory();
    }
    best = std::min(best, (cpu_seconds() - t0) / passes);
  }
  benchmark::DoNotOptimize(p.data());
  return cache[lp] = best / m;
}

// Single-sample update from a raw row (hidden layer + RLS step).
void learn_row_bench(benchmark::State& state, StatePrecision precision, bool stats,
                     int row_threads = 1) {
  Fixture f = make_fixture(state.range(0), precision, stats);
  OnlineElm& m = *f.model;
  m.set_row_threads(row_threads);
  PairedFloor floor = model_floor(state, m, true, row_threads);
  Index i = 0;
  for (auto _ : state) {
    m.learn_row(f.x.row(i).data(), f.y[i]);
    i = (i + 1) % kRows;
    floor.tick();
  }
  state.SetItemsProcessed(state.iterations());
  floor.report();
  state.counters["state_MiB"] = static_cast<double>(m.state_bytes()) / (1 << 20);
  if (row_threads == 1) {
    // The rank-64 products (P's flush, G's fold) are arithmetic on cached
    // data that a sample's bytes do not pay for: with the reads at the floor
    // and the products at their own rate, one core can do no better than
    // x_floor_min (unless it overlapped the two, which it does not here).
    const Index lp = (m.n_hidden() + detail::kSymTile - 1) / detail::kSymTile * detail::kSymTile;
    double products = precision == StatePrecision::kFloat64 ? rank64_seconds_per_sample<double>(lp)
                                                            : rank64_seconds_per_sample<float>(lp);
    if (stats) products += rank64_seconds_per_sample<double>(lp);
    const double floor_s = floor.seconds_per_item();
    state.counters["products_us"] = products * 1e6;
    state.counters["x_floor_min"] = (floor_s + products) / floor_s;
  }
}
void BM_LearnRow(benchmark::State& state) {
  learn_row_bench(state, StatePrecision::kFloat32, true);
}
void BM_LearnRowNoStats(benchmark::State& state) {
  learn_row_bench(state, StatePrecision::kFloat32, false);
}
void BM_LearnRowF64(benchmark::State& state) {
  learn_row_bench(state, StatePrecision::kFloat64, true);
}
BENCHMARK(BM_LearnRow)->Arg(256)->Arg(1000)->Arg(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LearnRowNoStats)->Arg(256)->Arg(1000)->Arg(2000)->Unit(benchmark::kMicrosecond);
// The same with set_row_threads(2): the hidden layer's product and the
// rank-64 shares, then the product with P, split over two threads. Wall
// time (UseRealTime: the second thread's work is not in the main thread's
// CPU time); its floor is the wall time of two threads reading the bytes
// together.
void BM_LearnRowThreads2(benchmark::State& state) {
  learn_row_bench(state, StatePrecision::kFloat32, true, 2);
}
void BM_LearnRowNoStatsThreads2(benchmark::State& state) {
  learn_row_bench(state, StatePrecision::kFloat32, false, 2);
}
BENCHMARK(BM_LearnRowThreads2)
    ->Arg(256)
    ->Arg(1000)
    ->Arg(2000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LearnRowNoStatsThreads2)
    ->Arg(256)
    ->Arg(1000)
    ->Arg(2000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LearnRowF64)->Arg(256)->Arg(1000)->Arg(2000)->Unit(benchmark::kMicrosecond);

// The distribution of single-sample update times (statistics on, float32):
// each rank-64 product of the state is spread over 32 samples, so the tail
// should stay near the median. Counters in microseconds; the benchmark's own
// time is the mean.
void BM_LearnRowTail(benchmark::State& state) {
  Fixture f = make_fixture(state.range(0), StatePrecision::kFloat32, true);
  OnlineElm& m = *f.model;
  std::vector<double> us;
  us.reserve(1 << 20);
  Index i = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    m.learn_row(f.x.row(i).data(), f.y[i]);
    const auto t1 = std::chrono::steady_clock::now();
    if (us.size() < us.capacity()) {
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    i = (i + 1) % kRows;
  }
  state.SetItemsProcessed(state.iterations());
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    return us.empty() ? 0.0 : us[static_cast<std::size_t>(p * static_cast<double>(us.size() - 1))];
  };
  state.counters["p50_us"] = pct(0.5);
  state.counters["p90_us"] = pct(0.9);
  state.counters["p99_us"] = pct(0.99);
  state.counters["p999_us"] = pct(0.999);
}
BENCHMARK(BM_LearnRowTail)
    ->Arg(1000)
    ->Arg(2000)
    ->Iterations(6400)
    ->Unit(benchmark::kMicrosecond);

// Prequential step (predict, then learn with the same hidden activations).
void BM_PredictThenLearnRow(benchmark::State& state) {
  Fixture f = make_fixture(state.range(0), StatePrecision::kFloat32, true);
  OnlineElm& m = *f.model;
  std::vector<float> scores(kClasses);
  Index i = 0;
  std::int64_t sink = 0;
  PairedFloor floor = model_floor(state, m, true, 1);
  for (auto _ : state) {
    sink += m.predict_then_learn_row(f.x.row(i).data(), f.y[i], scores.data());
    i = (i + 1) % kRows;
    floor.tick();
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
  floor.report();
}
BENCHMARK(BM_PredictThenLearnRow)->Arg(256)->Arg(1000)->Arg(2000)->Unit(benchmark::kMicrosecond);

// Woodbury block update of 64 rows (items = rows).
void BM_LearnBlock64(benchmark::State& state) {
  const Index L = state.range(0);
  Fixture f = make_fixture(L, StatePrecision::kFloat32, true);
  OnlineElm& m = *f.model;
  Index i = 0;
  for (auto _ : state) {
    m.learn(f.x.middleRows(i, 64), f.y.segment(i, 64));
    i = (i + 64) % kRows;
  }
  state.SetItemsProcessed(state.iterations() * 64);
  // Per row: hidden layer 784 L, H Q 1.0 L^2, queue flush 0.5 L^2 (float),
  // statistics 0.5 L^2 (double) multiply-adds.
  const double fl = static_cast<double>(L);
  const double floor_s =
      (kInputs * fl + 1.5 * fl * fl) / gemm_rate<float>() + 0.5 * fl * fl / gemm_rate<double>();
  const double bytes = (weight_bytes(m) + 3.0 * static_cast<double>(m.state_bytes())) / 64.0;
  const double mem_s = bytes / read_bandwidth(static_cast<std::size_t>(64.0 * bytes / 3.0));
  state.counters["mem_floor_us"] = mem_s * 1e6;
  set_floor(state, bytes, std::max(floor_s, mem_s), 64.0);
}
BENCHMARK(BM_LearnBlock64)->Arg(256)->Arg(1000)->Arg(2000)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------- kernels

// The two kernels of a single-sample update on the stored triangle alone
// (elm/packed_sym.h), float32, against the floors measured in this run:
// y += P x must read the triangle once (a read of P itself, PairedFloor); the
// rank-64 flush is 0.5 L^2 * 64 multiply-adds (float GEMM rate), reported as
// x_floor and as the equivalent per-sample cost (flush time / 64).
void BM_PackedSymv(benchmark::State& state) {
  const Index lp = state.range(0);
  VectorXf p = VectorXf::Random(detail::packed_sym_size(lp));
  const VectorXf x = VectorXf::Random(lp);
  VectorXf y = VectorXf::Zero(lp);
  PairedFloor floor(state, {{p.data(), p.size()}}, 0.0);
  for (auto _ : state) {
    detail::packed_sym_symv(p.data(), lp, x.data(), y.data());
    benchmark::ClobberMemory();
    floor.tick();
  }
  benchmark::DoNotOptimize(y.data());
  floor.report();
}
BENCHMARK(BM_PackedSymv)->Arg(256)->Arg(1000)->Arg(2000)->Unit(benchmark::kMicrosecond);

template <typename T>
void packed_rank_update_bench(benchmark::State& state) {
  using VecT = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  const Index lp = state.range(0), m = 64;
  VecT p = VecT::Zero(detail::packed_sym_size(lp));
  const RowMatrixXf v = RowMatrixXf::Random(m, lp) * 1e-3f;  // float rows, as both callers pass
  const VecT coef = VecT::Constant(m, T(-1));
  detail::SymRowMat<T> scratch;
  for (auto _ : state) {
    detail::packed_sym_rank_update<T, float>(p.data(), lp, 1.0, v.data(), lp, coef.data(), m,
                                             scratch);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(p.data());
  const double fl = static_cast<double>(lp);
  const double floor_s = 0.5 * fl * (fl + 8.0) * m / gemm_rate<T>();
  state.counters["per_sample_us"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * m * 1e-6,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  set_floor(state, static_cast<double>(sizeof(T) * p.size()), floor_s);
}
// The float32 state's flush, and the double statistics' fold.
void BM_PackedRankUpdate64(benchmark::State& state) { packed_rank_update_bench<float>(state); }
void BM_PackedRankUpdate64F64(benchmark::State& state) { packed_rank_update_bench<double>(state); }
BENCHMARK(BM_PackedRankUpdate64)->Arg(256)->Arg(1000)->Arg(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PackedRankUpdate64F64)->Arg(256)->Arg(1000)->Arg(2000)->Unit(benchmark::kMicrosecond);

// One exact re-solve (double Cholesky and inverse of L x L).
void BM_Resolve(benchmark::State& state) {
  Fixture f = make_fixture(state.range(0), StatePrecision::kFloat32, true);
  for (auto _ : state) f.model->resolve();
}
BENCHMARK(BM_Resolve)->Arg(256)->Arg(1000)->Arg(2000)->Iterations(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace elmq

BENCHMARK_MAIN();
