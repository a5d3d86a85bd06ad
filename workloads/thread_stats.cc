#include "workloads/thread_stats.h"

namespace allocbench {

uint64_t WorkloadStats::ops() const {
  uint64_t total = 0;
  for (size_t i = 0; i < count_; ++i) total += slots_[i].ops.load(std::memory_order_relaxed);
  return total;
}

int64_t WorkloadStats::live_bytes() const {
  int64_t total = 0;
  for (size_t i = 0; i < count_; ++i) total += slots_[i].live_bytes.load(std::memory_order_relaxed);
  return total;
}

int64_t WorkloadStats::peak_live_bytes() const {
  int64_t total = 0;
  for (size_t i = 0; i < count_; ++i) {
    total += slots_[i].peak_live_bytes.load(std::memory_order_relaxed);
  }
  return total;
}

}  // namespace allocbench
