// The memory floor's read kernel, shared by the benchmarks that report a
// ratio to "the time to read these bytes once".
#pragma once

#include <cstddef>

namespace elmq::bench {

/// Sum of p[0, n) (float or double): reads the numbers at the machine's load rate. Sixty-four
/// independent partial sums (eight vectors of eight once vectorised) keep
/// the adds' latency out of the way, so data in L1 or L2 is read as fast as
/// the load ports allow; one or two accumulators (Eigen's sum()) cap the
/// read at one vector per add latency and would make a cache-resident
/// floor too slow, and the ratios against it too kind.
template <typename T>
inline T read_sum(const T* p, std::size_t n) {
  constexpr std::size_t kWidth = 64;
  T acc[kWidth] = {};
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    for (std::size_t j = 0; j < kWidth; ++j) acc[j] += p[i + j];
  }
  for (; i < n; ++i) acc[0] += p[i];
  T s = 0;
  for (std::size_t j = 0; j < kWidth; ++j) s += acc[j];
  return s;
}

}  // namespace elmq::bench
