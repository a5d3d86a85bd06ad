// Records RSS (from /proc/self/statm) and the workload's live bytes over time, on its own
// thread. The buffer is allocated before sampling starts and the loop allocates nothing, so the
// sampler does not perturb the allocator it measures. When the buffer fills, every other sample
// is dropped and the interval doubles: any run length fits in a bounded record.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "workloads/thread_stats.h"

namespace allocbench {

struct MemorySample {
  double t;  // seconds since start()
  int64_t rss_bytes;
  int64_t live_bytes;
};

class MemorySampler {
 public:
  MemorySampler(const WorkloadStats& stats, std::chrono::microseconds interval,
                size_t capacity = 512);
  ~MemorySampler();
  MemorySampler(const MemorySampler&) = delete;
  MemorySampler& operator=(const MemorySampler&) = delete;

  void start();
  // Takes a last sample and joins the thread.
  void stop();
  // Valid after stop().
  std::vector<MemorySample> samples() const;

  // Resident bytes of this process now; -1 if /proc is unreadable.
  static int64_t current_rss_bytes();

 private:
  void loop();
  void take_sample();
  void halve();

  const WorkloadStats& stats_;
  std::chrono::microseconds interval_;
  std::vector<MemorySample> buffer_;
  size_t count_ = 0;
  int statm_fd_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace allocbench
