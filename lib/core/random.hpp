// Seeded random numbers with results that do not depend on the standard library.
//
// std::normal_distribution and friends are implementation-defined, so neurop draws
// from std::mt19937_64 (whose output the C++ standard fixes) and applies its own
// transforms. Streams for parallel work are derived with stream(), so that sample i
// of a data set depends only on (seed, i) and not on the thread count.
#pragma once

#include <cstdint>
#include <random>

namespace neurop {

class Rng {
public:
  explicit Rng(std::uint64_t seed = 0) : engine_(seed) {}

  // Returns an independent generator for sub-stream `index` of `seed`.
  static Rng stream(std::uint64_t seed, std::uint64_t index);

  // Uniform double in [0, 1) with 53 random bits.
  double uniform();
  // Uniform double in [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Standard normal N(0, 1) by the Box-Muller transform.
  double normal();
  // Uniform integer in [0, n); n must be > 0.
  std::uint64_t below(std::uint64_t n);

  std::uint64_t next() { return engine_(); }

  std::mt19937_64& engine() { return engine_; }

private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// Mixes two 64-bit values into a well-spread seed (splitmix64 finaliser).
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b);

}  // namespace neurop
