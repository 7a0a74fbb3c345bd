// Seeded random numbers whose output is defined here, not by the standard
// library: a seed gives the same numbers with every compiler and platform.
//
// The generator is xoshiro256** seeded through SplitMix64. `Rng(seed, stream)`
// gives independent streams, so work split across threads can draw from
// per-item streams (e.g. one per neuron) and stay identical for any thread count.
#pragma once

#include <cstdint>

namespace elmq {

/// SplitMix64 step: a good 64-bit mixing function.
std::uint64_t splitmix64(std::uint64_t& state);

class Rng {
 public:
  /// A generator for (seed, stream); different streams are statistically independent.
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0);

  std::uint64_t next_u64();
  /// Uniform double in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform double in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal (Box-Muller in double precision).
  double normal();
  /// Uniform integer in [0, n) without modulo bias; n must be > 0.
  std::uint64_t below(std::uint64_t n);

 private:
  std::uint64_t s_[4];
  double spare_normal_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace elmq
