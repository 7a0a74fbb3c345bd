// The deep baseline on Fashion-MNIST (issue 7), in one run:
//  1. trains the FP32 MLP 784-256-256-10 (Adam 1e-3, batch 256, 10 epochs,
//     10% validation split, best epoch kept) and times every epoch;
//  2. quantizes it every way quant/mlp offers (INT8 dynamic / static with
//     each calibration method, RTN, GPTQ, AWQ, QAT) and prints test accuracy,
//     points below FP32, weight bytes and bits per weight;
//  3. times inference at batch 1 (the single-row, allocation-free path) and
//     batch 256 with 1 and 2 threads for FP32 and the quantized networks
//     (Google Benchmark, BM_MlpInfer/...), then prints the speed of each
//     relative to FP32 measured in the same run.
//
//   elmq_bench_mlp [--data-dir DIR] [--epochs N] [--train-rows N] [--threads N]
//                  [--seed N] [--calibration-rows N] [--qat-epochs N] [--skip-qat]
//                  [--load-model FILE] [--save-model FILE] [--export-dir DIR]
//                  [--json FILE] [--no-latency] [--train-only] [benchmark flags]
//
// --export-dir writes the FP32 weights and input scaling as .npy files (and
// meta.json) for bench/mlp/torch_mlp.py, which quantizes the same network
// with PyTorch as the reference. --json writes every figure for the runner
// (bench/mlp/run_mlp_bench.sh).
#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "elm/common/parallel.h"
#include "elm/data/datasets.h"
#include "quant/cpu_features.h"
#include "quant/mlp/mlp.h"
#include "quant/mlp/qat.h"
#include "quant/mlp/quantized_mlp.h"

namespace {

using elmq::Index;
using elmq::QuantFormat;
using elmq::RowMatrixXf;

struct Options {
  std::string data_dir, load_model, save_model, export_dir, json;
  int epochs = 10;
  Index train_rows = -1;
  int threads = 0;
  std::uint64_t seed = 0;  // 0: MlpConfig's default
  Index calibration_rows = 2048;
  int qat_epochs = 3;
  bool skip_qat = false;
  bool latency = true;
  bool train_only = false;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// A minimal JSON builder for the report (flat values, nested by hand).
std::string jstr(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}
std::string jnum(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

// ---------------------------------------------------------------- .npy export

void write_npy(const std::string& path, const float* data, const std::vector<Index>& shape) {
  std::string dims;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dims +=
        std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  }
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  Index n = 1;
  for (Index s : shape) n *= s;
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * 4));
  if (!f) throw std::runtime_error("cannot write " + path);
}

void export_model(const elmq::Mlp& m, const std::string& dir) {
  std::filesystem::create_directories(dir);
  const elmq::MlpParams& p = m.params();
  for (int l = 0; l < p.n_layers(); ++l) {
    write_npy(dir + "/W" + std::to_string(l) + ".npy", p.weights[l].data(),
              {p.weights[l].rows(), p.weights[l].cols()});
    write_npy(dir + "/b" + std::to_string(l) + ".npy", p.biases[l].data(), {p.biases[l].size()});
  }
  write_npy(dir + "/input_offset.npy", m.scaler().offset().data(), {m.n_features()});
  write_npy(dir + "/input_scale.npy", m.scaler().scale().data(), {m.n_features()});
  std::ofstream meta(dir + "/meta.json");
  meta << "{\"sizes\": [";
  const std::vector<Index> sizes = m.sizes();
  for (std::size_t i = 0; i < sizes.size(); ++i) meta << (i ? ", " : "") << sizes[i];
  meta << "]}\n";
}

// ---------------------------------------------------------------- the variants

struct Variant {
  std::string name;
  std::string group;  // e.g. "int8", "int4", used for the latency selection
  std::function<elmq::QuantizedMlp()> make;
  bool latency = false;  // also time its inference
};

struct Row {
  std::string name;
  double accuracy = 0.0, reference_accuracy = 0.0;
  std::uint64_t weight_bytes = 0, bytes = 0;
  double bpw = 0.0, seconds = 0.0;
  std::string detail;
};

// Inference timing state.
struct Timed {
  std::string name;
  const elmq::Mlp* fp32 = nullptr;
  std::shared_ptr<elmq::QuantizedMlp> q;
};
std::vector<Timed> g_timed;
const RowMatrixXf* g_x_test = nullptr;
std::map<std::string, double> g_seconds;      // "<name>/b<batch>/t<threads>" -> best wall s/iter
std::map<std::string, double> g_cpu_seconds;  // the same, calling thread's CPU time (t1 only)

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void bm_infer(benchmark::State& state, std::size_t which, Index batch, int threads) {
  const Timed& t = g_timed[which];
  const RowMatrixXf x = g_x_test->topRows(batch);
  std::vector<float> out(10);
  elmq::MlpWorkspace ws;
  elmq::QuantizedMlpWorkspace qws;
  std::unique_ptr<elmq::Mlp> fp;
  std::unique_ptr<elmq::QuantizedMlp> q;
  if (t.fp32) {
    fp = std::make_unique<elmq::Mlp>(*t.fp32);
    fp->set_threads(threads);
  } else {
    q = std::make_unique<elmq::QuantizedMlp>(*t.q);
    q->set_threads(threads);
  }
  Index row = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = thread_cpu_seconds();
  for (auto _ : state) {
    if (batch == 1) {
      const float* xr = g_x_test->row(row).data();
      row = (row + 1) % g_x_test->rows();
      if (fp) {
        fp->decision_row(xr, out.data(), ws);
      } else {
        q->decision_row(xr, out.data(), qws);
      }
      benchmark::DoNotOptimize(out.data());
    } else {
      RowMatrixXf z = fp ? fp->decision_function(x) : q->decision_function(x);
      benchmark::DoNotOptimize(z.data());
    }
    benchmark::ClobberMemory();
  }
  const double s = seconds_since(t0) / static_cast<double>(state.iterations());
  const double cpu = (thread_cpu_seconds() - c0) / static_cast<double>(state.iterations());
  const std::string key = t.name + "/b" + std::to_string(batch) + "/t" + std::to_string(threads);
  auto it = g_seconds.find(key);
  if (it == g_seconds.end() || s < it->second) g_seconds[key] = s;
  if (threads == 1) {
    auto c = g_cpu_seconds.find(key);
    if (c == g_cpu_seconds.end() || cpu < c->second) g_cpu_seconds[key] = cpu;
  }
  state.counters["rows_per_s"] = static_cast<double>(batch) / s;
  const auto base =
      g_seconds.find("fp32/b" + std::to_string(batch) + "/t" + std::to_string(threads));
  if (base != g_seconds.end()) state.counters["vs_fp32"] = base->second / s;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data-dir") {
      o.data_dir = value("--data-dir");
    } else if (a == "--epochs") {
      o.epochs = std::atoi(value("--epochs").c_str());
    } else if (a == "--train-rows") {
      o.train_rows = std::atoll(value("--train-rows").c_str());
    } else if (a == "--threads") {
      o.threads = std::atoi(value("--threads").c_str());
    } else if (a == "--seed") {
      o.seed = std::strtoull(value("--seed").c_str(), nullptr, 10);
    } else if (a == "--calibration-rows") {
      o.calibration_rows = std::atoll(value("--calibration-rows").c_str());
    } else if (a == "--qat-epochs") {
      o.qat_epochs = std::atoi(value("--qat-epochs").c_str());
    } else if (a == "--skip-qat") {
      o.skip_qat = true;
    } else if (a == "--load-model") {
      o.load_model = value("--load-model");
    } else if (a == "--save-model") {
      o.save_model = value("--save-model");
    } else if (a == "--export-dir") {
      o.export_dir = value("--export-dir");
    } else if (a == "--json") {
      o.json = value("--json");
    } else if (a == "--no-latency") {
      o.latency = false;
    } else if (a == "--train-only") {
      o.train_only = true;
      o.latency = false;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int bargc = static_cast<int>(rest.size());
  benchmark::Initialize(&bargc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(bargc, rest.data())) return 2;

  const std::string load_before = loadavg();
  std::printf("machine: %d threads available, kernel path %s, load average %s\n",
              elmq::max_threads(), elmq::kernel_dispatch_report().c_str(), load_before.c_str());

  // ---------------------------------------------------------------- data
  elmq::DatasetOptions dopt;
  dopt.data_dir = o.data_dir;
  dopt.max_train_rows = o.train_rows;
  auto t_load = std::chrono::steady_clock::now();
  const elmq::DatasetSplit d = elmq::load_dataset("fashion-mnist", dopt);
  std::printf("data: %s, train %lld x %lld, test %lld, loaded in %.2f s\n", d.source.c_str(),
              static_cast<long long>(d.x_train.rows()), static_cast<long long>(d.x_train.cols()),
              static_cast<long long>(d.x_test.rows()), seconds_since(t_load));
  g_x_test = &d.x_test;

  // ---------------------------------------------------------------- FP32
  elmq::MlpConfig cfg;
  cfg.hidden = {256, 256};
  cfg.epochs = o.epochs;
  cfg.batch_size = 256;
  cfg.optimizer.learning_rate = 1e-3;
  cfg.threads = o.threads;
  if (o.seed != 0) cfg.seed = o.seed;
  elmq::Mlp mlp(cfg);
  if (!o.load_model.empty()) {
    mlp = elmq::Mlp::load(o.load_model);
    mlp.set_threads(o.threads);
    std::printf("FP32 model loaded from %s\n", o.load_model.c_str());
  } else {
    mlp.set_progress([](const elmq::EpochReport& r) {
      std::printf("  epoch %2d: train loss %.4f, val loss %.4f, val acc %.4f, %.2f s\n", r.epoch,
                  r.train_loss, r.val_loss, r.val_accuracy, r.epoch_seconds);
      std::fflush(stdout);
    });
    std::printf("training FP32 %s, Adam lr %g, batch %lld, %d epochs, %d threads:\n",
                cfg.describe(784, 10).c_str(), cfg.optimizer.learning_rate,
                static_cast<long long>(cfg.batch_size), cfg.epochs,
                elmq::resolve_threads(cfg.threads));
    mlp.fit(d.x_train, d.y_train);
  }
  const elmq::TrainingHistory& h = mlp.history();
  double epoch_sum = 0.0;
  for (const auto& e : h.epochs) epoch_sum += e.epoch_seconds;
  const double mean_epoch = h.epochs.empty() ? 0.0 : epoch_sum / h.epochs.size();
  const double fp32_acc = mlp.score(d.x_test, d.y_test);
  std::printf(
      "FP32: test accuracy %.4f (best epoch %d of %zu), training %.2f s, %.3f s/epoch "
      "(%lld training rows, %lld validation rows)\n",
      fp32_acc, h.best_epoch, h.epochs.size(), h.seconds, mean_epoch, h.train_rows, h.val_rows);
  if (!o.save_model.empty()) mlp.save(o.save_model);
  if (!o.export_dir.empty()) export_model(mlp, o.export_dir);

  // ---------------------------------------------------------------- quantized
  if (o.train_only) {
    if (!o.json.empty()) {
      std::ofstream(o.json) << "{\"fp32\": {\"test_accuracy\": " << jnum(fp32_acc)
                            << ", \"mean_epoch_seconds\": " << jnum(mean_epoch)
                            << ", \"epochs\": " << h.epochs.size()
                            << ", \"threads\": " << elmq::resolve_threads(o.threads)
                            << "}, \"load_before\": " << jstr(load_before)
                            << ", \"load_after\": " << jstr(loadavg()) << "}\n";
    }
    return 0;
  }
  const RowMatrixXf cal = d.x_train.topRows(std::min<Index>(o.calibration_rows, d.x_train.rows()));
  auto ptq = [&](QuantFormat f, elmq::WeightQuantMethod m, bool mse_range = false) {
    return [&, f, m, mse_range] {
      elmq::MlpQuantConfig c;
      c.format = f;
      c.method = m;
      c.threads = o.threads;
      if (mse_range) c.range.method = elmq::RangeOptions::Method::kMseSearch;
      return elmq::quantize_mlp(mlp, c, cal);
    };
  };
  auto int8_static = [&](elmq::CalibrationMethod cm) {
    return [&, cm] {
      elmq::MlpQuantConfig c;
      c.activations = elmq::ActivationScheme::kStatic;
      c.calibration.method = cm;
      c.threads = o.threads;
      return elmq::quantize_mlp(mlp, c, cal);
    };
  };
  auto qat = [&](QuantFormat f, bool lsq) {
    return [&, f, lsq] {
      elmq::QatConfig c;
      c.format = f;
      c.learn_scales = lsq;
      c.epochs = o.qat_epochs;
      c.threads = o.threads;
      c.seed = cfg.seed;
      std::printf("  QAT %s%s:", elmq::format_name(f), lsq ? " (LSQ)" : "");
      const elmq::QatResult r =
          elmq::qat_finetune(mlp, d.x_train, d.y_train, c, [](const elmq::EpochReport& e) {
            std::printf(" [epoch %d val %.4f %.1fs]", e.epoch, e.val_accuracy, e.epoch_seconds);
            std::fflush(stdout);
          });
      std::printf(" start val %.4f, best epoch %d\n", r.initial_val_accuracy, r.history.best_epoch);
      return r.model;
    };
  };
  using M = elmq::WeightQuantMethod;
  using CM = elmq::CalibrationMethod;
  std::vector<Variant> variants = {
      {"f16", "f16", ptq(QuantFormat::kF16, M::kRtn), false},
      {"int8 dynamic", "int8", ptq(QuantFormat::kInt8Channel, M::kRtn), true},
      {"int8 static minmax", "int8", int8_static(CM::kMinMax), true},
      {"int8 static moving-average", "int8", int8_static(CM::kMovingAverage), false},
      {"int8 static percentile 99.99", "int8", int8_static(CM::kPercentile), false},
      {"int8 static mse", "int8", int8_static(CM::kHistogramMse), false},
      {"int4-g32 rtn", "int4", ptq(QuantFormat::kInt4G32Sym, M::kRtn), true},
      {"int4-g32 rtn mse-range", "int4", ptq(QuantFormat::kInt4G32Sym, M::kRtn, true), false},
      {"int4-g32 gptq", "int4", ptq(QuantFormat::kInt4G32Sym, M::kGptq), false},
      {"int4-g32 awq", "int4", ptq(QuantFormat::kInt4G32Sym, M::kAwq), false},
      {"int4-g128 gptq", "int4", ptq(QuantFormat::kInt4G128Sym, M::kGptq), false},
      {"int4 (per-channel) rtn", "int4", ptq(QuantFormat::kInt4Channel, M::kRtn), true},
      {"int4 (per-channel) gptq", "int4", ptq(QuantFormat::kInt4Channel, M::kGptq), false},
      {"int4 (per-channel) awq", "int4", ptq(QuantFormat::kInt4Channel, M::kAwq), false},
      {"int3 (per-channel) rtn", "int3", ptq(QuantFormat::kInt3Channel, M::kRtn, true), false},
      {"int3 (per-channel) gptq", "int3", ptq(QuantFormat::kInt3Channel, M::kGptq), true},
      {"int2-g32-asym rtn", "int2", ptq(QuantFormat::kInt2G32Asym, M::kRtn, true), false},
      {"int2-g32-asym gptq", "int2", ptq(QuantFormat::kInt2G32Asym, M::kGptq), true},
      {"int2-g64-asym gptq", "int2", ptq(QuantFormat::kInt2G64Asym, M::kGptq), false},
      {"ternary rtn", "ternary", ptq(QuantFormat::kTernaryChannel, M::kRtn), false},
      {"ternary gptq", "ternary", ptq(QuantFormat::kTernaryChannel, M::kGptq), true},
      {"ternary-base3 gptq", "ternary", ptq(QuantFormat::kTernaryBase3, M::kGptq), true},
  };
  if (!o.skip_qat) {
    variants.push_back({"int4-g32 qat", "int4", qat(QuantFormat::kInt4G32Sym, false), false});
    variants.push_back(
        {"int4 (per-channel) qat", "int4", qat(QuantFormat::kInt4Channel, false), false});
    variants.push_back(
        {"int2-g32-asym qat lsq", "int2", qat(QuantFormat::kInt2G32Asym, true), false});
    variants.push_back({"ternary qat", "ternary", qat(QuantFormat::kTernaryChannel, false), false});
    variants.push_back(
        {"ternary qat lsq", "ternary", qat(QuantFormat::kTernaryChannel, true), false});
  }

  std::vector<Row> rows;
  const std::uint64_t fp32_bytes = 4 * static_cast<std::uint64_t>(mlp.params().n_weights());
  for (const Variant& v : variants) {
    const auto t0 = std::chrono::steady_clock::now();
    auto q = std::make_shared<elmq::QuantizedMlp>(v.make());
    Row r;
    r.name = v.name;
    r.seconds = seconds_since(t0);
    r.accuracy = q->score(d.x_test, d.y_test);
    const elmq::LabelVector ref = [&] {
      const RowMatrixXf z = q->decision_function_reference(d.x_test);
      elmq::LabelVector out(z.rows());
      for (Index i = 0; i < z.rows(); ++i) {
        Index a;
        z.row(i).maxCoeff(&a);
        out[i] = q->classes()[a];
      }
      return out;
    }();
    Index ok = 0;
    for (Index i = 0; i < ref.size(); ++i) ok += ref[i] == d.y_test[i] ? 1 : 0;
    r.reference_accuracy = static_cast<double>(ok) / static_cast<double>(ref.size());
    r.weight_bytes = q->weight_bytes();
    r.bytes = q->bytes();
    r.bpw = q->bits_per_weight();
    std::ostringstream det;
    if (!q->info().layer_error.empty()) {
      det << "layer err";
      for (double e : q->info().layer_error) det << " " << jnum(e);
    }
    if (!q->info().awq_alpha.empty()) {
      det << "; alpha";
      for (double a : q->info().awq_alpha) det << " " << a;
    }
    r.detail = det.str();
    rows.push_back(r);
    std::printf(
        "  %-30s acc %.4f (%+.2f pts; float-activation ref %.4f)  %8llu B  %.3f bpw  %.2f s\n",
        r.name.c_str(), r.accuracy, 100.0 * (r.accuracy - fp32_acc), r.reference_accuracy,
        static_cast<unsigned long long>(r.weight_bytes), r.bpw, r.seconds);
    std::fflush(stdout);
    if (v.latency) g_timed.push_back({v.name, nullptr, q});
  }

  std::printf("\n=== accuracy table (Fashion-MNIST test, 10000 rows; FP32 %.4f)\n", fp32_acc);
  std::printf("| %-30s | %8s | %10s | %11s | %12s | %6s | %s\n", "variant", "accuracy", "vs FP32",
              "float-act", "weight bytes", "bpw", "notes");
  std::printf("| %-30s | %8.4f | %10s | %11s | %12llu | %6.2f |\n", "fp32", fp32_acc, "-", "-",
              static_cast<unsigned long long>(fp32_bytes), 32.0);
  for (const Row& r : rows) {
    std::printf("| %-30s | %8.4f | %+7.2f pts | %11.4f | %12llu | %6.3f | %s\n", r.name.c_str(),
                r.accuracy, 100.0 * (r.accuracy - fp32_acc), r.reference_accuracy,
                static_cast<unsigned long long>(r.weight_bytes), r.bpw, r.detail.c_str());
  }
  std::fflush(stdout);

  // ---------------------------------------------------------------- latency
  if (o.latency) {
    g_timed.insert(g_timed.begin(), Timed{"fp32", &mlp, nullptr});
    for (int threads : {1, 2}) {
      for (Index batch : {Index{1}, Index{256}}) {
        if (batch == 1 && threads == 2) continue;  // the single-row path is single-threaded
        for (std::size_t i = 0; i < g_timed.size(); ++i) {
          const std::string name = "BM_MlpInfer/" + g_timed[i].name + "/b" + std::to_string(batch) +
                                   "/t" + std::to_string(threads);
          std::string clean;
          for (char c : name) clean += c == ' ' ? '_' : c;
          benchmark::RegisterBenchmark(clean.c_str(), bm_infer, i, batch, threads)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      }
    }
    benchmark::RunSpecifiedBenchmarks();
    for (int pass = 0; pass < 2; ++pass) {
      const auto& table = pass == 0 ? g_seconds : g_cpu_seconds;
      std::printf(
          "\n=== inference speed vs FP32 by %s (same run; >1 is faster; best of repetitions)\n",
          pass == 0 ? "wall time" : "the calling thread's CPU time (1 thread; robust to load)");
      std::printf("%-30s %16s %16s %16s\n", "variant", "b1/t1", "b256/t1",
                  pass == 0 ? "b256/t2" : "");
      for (const Timed& t : g_timed) {
        std::printf("%-30s", t.name.c_str());
        for (const char* k : {"/b1/t1", "/b256/t1", "/b256/t2"}) {
          auto it = table.find(t.name + k);
          auto base = table.find(std::string("fp32") + k);
          if (it == table.end() || base == table.end()) {
            std::printf(" %16s", pass == 0 ? "-" : "");
          } else {
            char cell[64];
            std::snprintf(cell, sizeof cell, "%.2fx %.0fus", base->second / it->second,
                          it->second * 1e6);
            std::printf(" %16s", cell);
          }
        }
        std::printf("\n");
      }
    }
  }
  benchmark::Shutdown();
  const std::string load_after = loadavg();
  std::printf("load average: before %s, after %s\n", load_before.c_str(), load_after.c_str());

  if (!o.json.empty()) {
    std::ostringstream j;
    j << "{\"fp32\": {\"test_accuracy\": " << jnum(fp32_acc)
      << ", \"train_seconds\": " << jnum(h.seconds)
      << ", \"mean_epoch_seconds\": " << jnum(mean_epoch) << ", \"epochs\": " << h.epochs.size()
      << ", \"best_epoch\": " << h.best_epoch
      << ", \"threads\": " << elmq::resolve_threads(o.threads) << ", \"epoch_seconds\": [";
    for (std::size_t i = 0; i < h.epochs.size(); ++i) {
      j << (i ? ", " : "") << jnum(h.epochs[i].epoch_seconds);
    }
    j << "], \"weight_bytes\": " << fp32_bytes << "}, \"variants\": [";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      j << (i ? ", " : "") << "{\"name\": " << jstr(r.name)
        << ", \"test_accuracy\": " << jnum(r.accuracy)
        << ", \"reference_accuracy\": " << jnum(r.reference_accuracy)
        << ", \"weight_bytes\": " << r.weight_bytes << ", \"bytes\": " << r.bytes
        << ", \"bpw\": " << jnum(r.bpw) << ", \"seconds\": " << jnum(r.seconds) << "}";
    }
    j << "], \"latency_seconds\": {";
    bool first = true;
    for (const auto& kv : g_seconds) {
      j << (first ? "" : ", ") << jstr(kv.first) << ": " << jnum(kv.second);
      first = false;
    }
    j << "}, \"latency_cpu_seconds\": {";
    first = true;
    for (const auto& kv : g_cpu_seconds) {
      j << (first ? "" : ", ") << jstr(kv.first) << ": " << jnum(kv.second);
      first = false;
    }
    j << "}, \"load_before\": " << jstr(load_before) << ", \"load_after\": " << jstr(load_after)
      << "}\n";
    std::ofstream(o.json) << j.str();
  }
  return 0;
}
