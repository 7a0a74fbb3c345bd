// Throughput of the instructions that bound the integer kernels, on one core
// of this machine: the ceilings that the kernel benchmarks (elmq_bench_quant)
// are measured against.
//
// Each benchmark runs 12 independent dependency chains of one instruction
// (enough to cover its latency on the cores we know), so the rate is the
// core's issue rate for it: counters Gop (instructions) and, for dot-product
// steps, GMAC (multiply-adds), both per second:
//   FP32 FMA (ymm): 8 MACs; vpmaddubsw + vpmaddwd, the exact AVX2 INT8 step
//   (two instructions per 32 MACs, as quant/kernels_avx2.cpp uses them):
//   32 MACs per pair; vpdpbusd: 32 (ymm, AVX-VNNI) or 64 (zmm, AVX-512 VNNI)
//   MACs in one instruction. BM_ClockAddChain times a chain of dependent
//   scalar adds (one per cycle on every x86-64 core) to give the clock.
// After the run the INT8 ceilings are printed as ratios to the FP32 one.
//
// On the 2-core AMD EPYC of these sessions (AVX2, no VNNI; 2026-12-03):
// 3.33 GHz; FP32 53.4 GMAC/s (16.0 per cycle), INT8 AVX2 51.2 (15.4 per
// cycle, 0.96 x FP32): vpmaddubsw and vpmaddwd issue one per cycle each on
// one shared port, so the AVX2 INT8 ceiling is the FP32 one, and an INT8
// product several times faster than FP32 needs vpdpbusd. (vpsrlvq: one per
// two cycles, on the same port.)
//
//   elmq_bench_isa --benchmark_min_time=0.2
//
// x86-64 only. The file is built for the baseline ISA; the functions that use
// AVX2, AVX-VNNI or AVX-512 have target attributes and run only after the
// benchmark has checked the CPU.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "quant/cpu_features.h"

namespace {

constexpr int kRepeats = 64;  // chain steps per benchmark iteration
constexpr int kChains = 12;

// The counters of each benchmark run, kept by the reporter below for the summary.
std::map<std::string, std::map<std::string, double>> g_counters;

bool have_avx2() {
  const elmq::CpuFeatures& f = elmq::cpu_features();
  return f.avx2 && f.fma;
}

void report(benchmark::State& state, double ops_per_iteration, double macs_per_op) {
  const double ops = static_cast<double>(state.iterations()) * ops_per_iteration;
  state.counters["Gop"] = benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsRate);
  if (macs_per_op > 0) {
    state.counters["GMAC"] =
        benchmark::Counter(ops * macs_per_op * 1e-9, benchmark::Counter::kIsRate);
  }
}

// Runs `chains` (a function with the instructions' target attribute) if the
// CPU has them, and reports kChains * kRepeats instructions of `macs`
// multiply-adds each.
void run(benchmark::State& state, bool supported, const char* missing,
         void (*chains)(benchmark::State&), double macs) {
  if (!supported) return state.SkipWithError(missing);
  chains(state);
  report(state, kChains * kRepeats, macs);
}

// Twelve chains x0..x11 of `step` (x = step(x); init and step: names of
// function-like macros, so that they expand inside functions with a target
// attribute), kept in registers by an empty asm that reads and writes them
// after every step.
#define ELMQ_CHAINS(T, init, step)                                                        \
  T x0 = init(0), x1 = init(1), x2 = init(2), x3 = init(3), x4 = init(4), x5 = init(5);  \
  T x6 = init(6), x7 = init(7), x8 = init(8), x9 = init(9), x10 = init(10), x11 = init(11); \
  for (auto _ : state) {                                                                  \
    for (int rep = 0; rep < kRepeats; ++rep) {                                            \
      x0 = step(x0);                                                                      \
      x1 = step(x1);                                                                      \
      x2 = step(x2);                                                                      \
      x3 = step(x3);                                                                      \
      x4 = step(x4);                                                                      \
      x5 = step(x5);                                                                      \
      x6 = step(x6);                                                                      \
      x7 = step(x7);                                                                      \
      x8 = step(x8);                                                                      \
      x9 = step(x9);                                                                      \
      x10 = step(x10);                                                                    \
      x11 = step(x11);                                                                    \
      asm volatile(""                                                                     \
                   : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(x6), \
                     "+x"(x7), "+x"(x8), "+x"(x9), "+x"(x10), "+x"(x11));                \
    }                                                                                     \
  }                                                                                       \
  benchmark::DoNotOptimize(x0);                                                           \
  benchmark::DoNotOptimize(x11)

#define ELMQ_INIT_I(k) _mm256_set1_epi32(k + 1)
#define ELMQ_INIT_F(k) _mm256_set1_ps(1.0f + 1e-3f * static_cast<float>(k))
#define ELMQ_INIT_Z(k) _mm512_set1_epi32(k + 1)

void BM_ClockAddChain(benchmark::State& state) {
  std::uint64_t x = 0;
  for (auto _ : state) {
    for (int rep = 0; rep < kRepeats; ++rep) {
      asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    }
  }
  benchmark::DoNotOptimize(x);
  // Dependent adds: one per cycle, so Gop/s is the clock in GHz.
  report(state, 4.0 * kRepeats, 0);
}
BENCHMARK(BM_ClockAddChain);

__attribute__((target("avx2,fma"))) void fma256_chains(benchmark::State& state) {
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
#define ELMQ_STEP(x) _mm256_fmadd_ps(x, a, b)
  ELMQ_CHAINS(__m256, ELMQ_INIT_F, ELMQ_STEP);
#undef ELMQ_STEP
}
void BM_Fma256(benchmark::State& state) {
  run(state, have_avx2(), "no AVX2/FMA", fma256_chains, 8);
}
BENCHMARK(BM_Fma256);

__attribute__((target("avx2,fma"))) void maddubs256_chains(benchmark::State& state) {
  const __m256i y = _mm256_set1_epi8(3);
#define ELMQ_STEP(x) _mm256_maddubs_epi16(y, x)
  ELMQ_CHAINS(__m256i, ELMQ_INIT_I, ELMQ_STEP);
#undef ELMQ_STEP
}
void BM_Maddubs256(benchmark::State& state) {
  run(state, have_avx2(), "no AVX2/FMA", maddubs256_chains, 0);
}
BENCHMARK(BM_Maddubs256);

__attribute__((target("avx2,fma"))) void madd256_chains(benchmark::State& state) {
  const __m256i y = _mm256_set1_epi16(3);
#define ELMQ_STEP(x) _mm256_madd_epi16(y, x)
  ELMQ_CHAINS(__m256i, ELMQ_INIT_I, ELMQ_STEP);
#undef ELMQ_STEP
}
void BM_Madd256(benchmark::State& state) {
  run(state, have_avx2(), "no AVX2/FMA", madd256_chains, 0);
}
BENCHMARK(BM_Madd256);

// The exact AVX2 INT8 step: 32 u8 x s8 products summed in pairs (vpmaddubsw),
// then in fours into int32 (vpmaddwd by ones). One "op" = the pair.
__attribute__((target("avx2,fma"))) void maddubsmadd256_chains(benchmark::State& state) {
  const __m256i y = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
#define ELMQ_STEP(x) _mm256_madd_epi16(_mm256_maddubs_epi16(y, x), ones)
  ELMQ_CHAINS(__m256i, ELMQ_INIT_I, ELMQ_STEP);
#undef ELMQ_STEP
}
void BM_MaddubsMadd256(benchmark::State& state) {
  run(state, have_avx2(), "no AVX2/FMA", maddubsmadd256_chains, 32);
}
BENCHMARK(BM_MaddubsMadd256);

// The decode steps of sub-byte codes: a byte shuffle and a 64-bit variable shift.
__attribute__((target("avx2,fma"))) void shuffle256_chains(benchmark::State& state) {
  const __m256i y = _mm256_set1_epi8(3);
#define ELMQ_STEP(x) _mm256_shuffle_epi8(y, x)
  ELMQ_CHAINS(__m256i, ELMQ_INIT_I, ELMQ_STEP);
#undef ELMQ_STEP
}
void BM_Shuffle256(benchmark::State& state) {
  run(state, have_avx2(), "no AVX2/FMA", shuffle256_chains, 0);
}
BENCHMARK(BM_Shuffle256);

__attribute__((target("avx2,fma"))) void srlv256_chains(benchmark::State& state) {
  const __m256i s = _mm256_set1_epi64x(1);
#define ELMQ_STEP(x) _mm256_srlv_epi64(x, s)
  ELMQ_CHAINS(__m256i, ELMQ_INIT_I, ELMQ_STEP);
#undef ELMQ_STEP
}
void BM_Srlv256(benchmark::State& state) {
  run(state, have_avx2(), "no AVX2/FMA", srlv256_chains, 0);
}
BENCHMARK(BM_Srlv256);

__attribute__((target("avx2,avxvnni"))) void avxvnni_chains(benchmark::State& state) {
  const __m256i y = _mm256_set1_epi8(3), w = _mm256_set1_epi8(5);
#define ELMQ_STEP(x) _mm256_dpbusd_avx_epi32(x, y, w)
  ELMQ_CHAINS(__m256i, ELMQ_INIT_I, ELMQ_STEP);
#undef ELMQ_STEP
}
void BM_Vpdpbusd256(benchmark::State& state) {
  run(state, elmq::cpu_features().avx_vnni, "no AVX-VNNI", avxvnni_chains, 32);
}
BENCHMARK(BM_Vpdpbusd256);

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void avx512vnni_chains(
    benchmark::State& state) {
  const __m512i y = _mm512_set1_epi8(3), w = _mm512_set1_epi8(5);
#define ELMQ_STEP(x) _mm512_dpbusd_epi32(x, y, w)
  ELMQ_CHAINS(__m512i, ELMQ_INIT_Z, ELMQ_STEP);
#undef ELMQ_STEP
}
void BM_Vpdpbusd512(benchmark::State& state) {
  const elmq::CpuFeatures& f = elmq::cpu_features();
  run(state, f.avx512f && f.avx512bw && f.avx512vnni, "no AVX-512 VNNI", avx512vnni_chains, 64);
}
BENCHMARK(BM_Vpdpbusd512);

// The console output, and the counters of every run for the summary.
class Capture : public benchmark::ConsoleReporter {
 public:
  Capture() : ConsoleReporter(OO_Tabular) {}  // no colours
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      for (const auto& [key, c] : r.counters) g_counters[r.benchmark_name()][key] = c.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

double counter(const char* bench, const char* key) {
  auto it = g_counters.find(bench);
  if (it == g_counters.end()) return 0.0;
  auto jt = it->second.find(key);
  return jt == it->second.end() ? 0.0 : jt->second;
}

void print_summary() {
  const double ghz = counter("BM_ClockAddChain", "Gop");
  const double fp32 = counter("BM_Fma256", "GMAC");
  if (fp32 <= 0.0) return;
  std::printf("\nOne core, %.2f GHz by the add chain. Multiply-add ceilings (GMAC/s, per cycle):\n",
              ghz);
  const struct {
    const char* bench;
    const char* what;
  } rows[] = {{"BM_Fma256", "FP32, vfmadd231ps ymm"},
              {"BM_MaddubsMadd256", "INT8 AVX2, vpmaddubsw + vpmaddwd"},
              {"BM_Vpdpbusd256", "INT8 AVX-VNNI, vpdpbusd ymm"},
              {"BM_Vpdpbusd512", "INT8 AVX-512 VNNI, vpdpbusd zmm"}};
  for (const auto& row : rows) {
    const double r = counter(row.bench, "GMAC");
    if (r <= 0.0) {
      std::printf("  %-36s (not run on this CPU)\n", row.what);
      continue;
    }
    std::printf("  %-36s %8.1f  %6.1f / cycle  %5.2f x FP32\n", row.what, r,
                ghz > 0.0 ? r / ghz : 0.0, r / fp32);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Capture reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  print_summary();
  return 0;
}
