// The driver of a fuzz target without libFuzzer (any compiler; built with the
// tests). It runs, in order:
//  - every file named on the command line (a directory: every file in it),
//    e.g. the inputs of past findings kept in tests/fuzz/regressions/<target>;
//  - the target's seeds;
//  - --mutations N deterministic mutations of the seeds (--seed S), each one
//    to four edits: bit flips, bytes and little-endian integers set to edge
//    values (0, -1, 2^31, 2^63, ...), insertions, deletions, truncation,
//    copies of a span elsewhere.
// An exception escaping the target is a finding: the input is written to
// fuzz-finding-<target>-<n>.bin in the working directory, the message is
// printed, and the exit status is 1. A crash (a failed assertion, a signal)
// writes its input to fuzz-crash-<target>.bin before the process dies (for
// a sanitizer report, run with ASAN_OPTIONS / UBSAN_OPTIONS=abort_on_error=1). `--write-seeds DIR` writes the seeds as
// files (a starting corpus for the libFuzzer build) and exits.
//
// The mutation generator is std::mt19937_64 with plain modulo reductions (no
// std:: distributions), so a seed gives the same inputs with every standard library.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

#ifndef ELMQ_FUZZ_TARGET_NAME
#define ELMQ_FUZZ_TARGET_NAME "target"
#endif

namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int findings = 0;

// The input being run, for the crash handler (an assertion or a signal).
const std::string* current = nullptr;
const std::string* current_label = nullptr;
char crash_path[256] = {};

extern "C" void on_crash(int sig) {
  if (current != nullptr) {
    const int fd = ::open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      const ssize_t ignored = ::write(fd, current->data(), current->size());
      (void)ignored;
      ::close(fd);
    }
    static const char msg[] = "crash: the input is in ";
    const ssize_t a = ::write(2, msg, sizeof(msg) - 1);
    const ssize_t b = ::write(2, crash_path, std::strlen(crash_path));
    const ssize_t c = ::write(2, " (", 2);
    const ssize_t d = ::write(2, current_label->data(), current_label->size());
    const ssize_t e = ::write(2, ")\n", 2);
    (void)a, (void)b, (void)c, (void)d, (void)e;
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

bool run_one(const std::string& input, const std::string& label) {
  current = &input;
  current_label = &label;
  try {
    elmq_fuzz_one(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
    return true;
  } catch (const std::exception& e) {
    const std::string out =
        std::string("fuzz-finding-") + ELMQ_FUZZ_TARGET_NAME + "-" + std::to_string(findings++) + ".bin";
    std::ofstream(out, std::ios::binary) << input;
    std::cerr << "finding (" << label << "): " << e.what() << "\n  input (" << input.size()
              << " bytes) written to " << out << "\n";
    return false;
  }
}

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : gen_(seed) {}

  std::string mutate(std::string s) {
    const int edits = 1 + static_cast<int>(below(4));
    for (int e = 0; e < edits; ++e) edit(s);
    return s;
  }

 private:
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : gen_() % n; }

  void edit(std::string& s) {
    static const std::uint64_t kEdge[] = {0,           1,          2,          7,
                                          8,           0x7f,       0x80,       0xff,
                                          0x7fff,      0xffff,     0x7fffffff, 0x80000000,
                                          0xffffffff,  1ULL << 32, 1ULL << 40, 1ULL << 62,
                                          1ULL << 63,  ~0ULL,      ~0ULL - 1,  0x7ff0000000000000ULL,
                                          0x7ff8000000000000ULL};  // the last two: +Inf, NaN (double)
    const std::size_t n = s.size();
    switch (below(8)) {
      case 0:  // flip a bit
        if (n) s[below(n)] ^= static_cast<char>(1u << below(8));
        break;
      case 1:  // a byte to an edge value
        if (n) s[below(n)] = static_cast<char>(kEdge[below(std::size(kEdge))]);
        break;
      case 2:
      case 3: {  // a 1/2/4/8-byte little-endian integer to an edge value
        const std::size_t w = std::size_t{1} << below(4);
        if (n < w) break;
        const std::size_t at = below(n - w + 1);
        const std::uint64_t v = kEdge[below(std::size(kEdge))] + below(3) - 1;
        for (std::size_t i = 0; i < w; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
        break;
      }
      case 4: {  // insert random bytes
        const std::size_t k = 1 + below(16);
        std::string ins(k, '\0');
        for (char& c : ins) c = static_cast<char>(below(256));
        s.insert(below(n + 1), ins);
        break;
      }
      case 5: {  // delete a span
        if (!n) break;
        const std::size_t at = below(n), k = 1 + below(std::min<std::size_t>(n - at, 64));
        s.erase(at, k);
        break;
      }
      case 6:  // truncate
        s.resize(below(n + 1));
        break;
      default: {  // copy a span over another place
        if (n < 2) break;
        const std::size_t k = 1 + below(std::min<std::size_t>(n / 2, 32));
        const std::size_t from = below(n - k + 1), to = below(n - k + 1);
        s.replace(to, k, s.substr(from, k));
        break;
      }
    }
  }

  std::mt19937_64 gen_;
};

}  // namespace

int main(int argc, char** argv) {
  long long mutations = 0;
  std::uint64_t seed = 1;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mutations" && i + 1 < argc) {
      mutations = std::stoll(argv[++i]);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::stoull(argv[++i]);
    } else if (a == "--write-seeds" && i + 1 < argc) {
      const fs::path dir = argv[++i];
      fs::create_directories(dir);
      const std::vector<std::string> seeds = elmq_fuzz_seeds();
      for (std::size_t k = 0; k < seeds.size(); ++k) {
        std::ofstream(dir / ("seed-" + std::to_string(k)), std::ios::binary) << seeds[k];
      }
      std::cout << seeds.size() << " seeds written to " << dir.string() << "\n";
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: " << argv[0]
                << " [--mutations N] [--seed S] [--write-seeds DIR] [FILE|DIR ...]\n";
      return 0;
    } else {
      paths.push_back(a);
    }
  }
  std::snprintf(crash_path, sizeof(crash_path), "fuzz-crash-%s.bin", ELMQ_FUZZ_TARGET_NAME);
  for (int sig : {SIGABRT, SIGSEGV, SIGFPE, SIGBUS, SIGILL}) std::signal(sig, on_crash);
  const auto t0 = std::chrono::steady_clock::now();
  long long runs = 0;
  for (const std::string& p : paths) {
    std::vector<fs::path> files;
    if (fs::is_directory(p)) {
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(p);
    }
    for (const fs::path& f : files) {
      run_one(read_all(f), f.string());
      ++runs;
    }
  }
  const std::vector<std::string> seeds = elmq_fuzz_seeds();
  for (std::size_t k = 0; k < seeds.size(); ++k) {
    run_one(seeds[k], "seed " + std::to_string(k));
    ++runs;
  }
  Mutator m(seed);
  for (long long i = 0; i < mutations && !seeds.empty(); ++i) {
    run_one(m.mutate(seeds[static_cast<std::size_t>(i) % seeds.size()]),
            "mutation " + std::to_string(i) + " of seed " + std::to_string(seed));
    ++runs;
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << ELMQ_FUZZ_TARGET_NAME << ": " << runs << " inputs in " << s << " s, " << findings
            << " finding(s)\n";
  return findings == 0 ? 0 : 1;
}
