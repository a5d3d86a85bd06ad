// size-mix's size distribution, apart so the tests can check which size classes it reaches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "workloads/random.h"

namespace allocbench {

// Sizes in [min_size, max_size], log-uniform: the range is cut into kBuckets pieces of equal
// ratio, a piece is drawn uniformly and a size uniformly within it. So a size class [s, 1.2 s]
// gets about ln(1.2) / ln(max / min) of the draws wherever it lies. Built before the clock
// starts; a draw is two random numbers and a table read.
class LogUniformSizes {
 public:
  static constexpr size_t kBuckets = 1024;

  LogUniformSizes(uint64_t min_size, uint64_t max_size);
  uint64_t draw(FastRandom& random) const;

 private:
  std::vector<uint64_t> edges_;  // kBuckets + 1 edges; bucket i is [edges_[i], edges_[i + 1])
};

}  // namespace allocbench
