#pragma once
// Seeded random numbers that are the same on every compiler and standard library: the standard
// distributions are implementation-defined, so cnnbench draws its own from SplitMix64.
// C++17: included by .cu files too.
#include <cmath>
#include <cstdint>

namespace cnnb {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  // A generator for stream `stream` of `seed`: the same (seed, stream) always gives the same sequence.
  static Rng stream(uint64_t seed, uint64_t stream) { return Rng(mix(seed ^ mix(stream + 0x632be59bd9b4e019ULL))); }

  uint64_t next_u64() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix(state_);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n) without modulo bias (Lemire's method).
  uint64_t below(uint64_t n) {
    __uint128_t m = __uint128_t(next_u64()) * n;
    uint64_t low = uint64_t(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = __uint128_t(next_u64()) * n;
        low = uint64_t(m);
      }
    }
    return uint64_t(m >> 64);
  }
  // Standard normal (Box-Muller), deterministic across platforms.
  double normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

}  // namespace cnnb
