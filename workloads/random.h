// A small, fast, seedable generator (xorshift64*): the workloads draw sizes and slots from it
// in their hot loops, where std::mt19937's 5 KB of state would pollute the cache under test.
#pragma once

#include <cstdint>

namespace allocbench {

class FastRandom {
 public:
  explicit FastRandom(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull | 1) {}

  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [0, bound); bound > 0.
  uint64_t below(uint64_t bound) { return next() % bound; }
  // Uniform in [low, high].
  uint64_t between(uint64_t low, uint64_t high) { return low + below(high - low + 1); }

 private:
  uint64_t state_;
};

}  // namespace allocbench
