// Per-thread operation and live-byte counters, padded so the driver's own bookkeeping never
// shares a cache line between threads (which would add false sharing to every workload).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace allocbench {

// One slot per writer. The owning thread updates it with plain load+store (no locked
// instructions: a single writer needs none); the sampler thread only reads.
struct alignas(64) ThreadStats {
  std::atomic<uint64_t> ops{0};
  std::atomic<int64_t> live_bytes{0};
  std::atomic<int64_t> peak_live_bytes{0};

  // A malloc in the measured phase: one operation, `bytes` more live.
  void on_alloc(size_t bytes) {
    count_op();
    add_live(static_cast<int64_t>(bytes));
  }
  // A free in the measured phase: one operation, `bytes` fewer live.
  void on_free(size_t bytes) {
    count_op();
    add_live(-static_cast<int64_t>(bytes));
  }
  void count_op() { ops.store(ops.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  // Live bytes that change outside the measured phase (setup, cleanup): not an operation.
  void add_live(int64_t delta) {
    const int64_t live = live_bytes.load(std::memory_order_relaxed) + delta;
    live_bytes.store(live, std::memory_order_relaxed);
    if (live > peak_live_bytes.load(std::memory_order_relaxed)) {
      peak_live_bytes.store(live, std::memory_order_relaxed);
    }
  }
  // For a slot that two threads share (a producer adds, a consumer removes): locked updates.
  void add_live_shared(int64_t delta) {
    const int64_t live = live_bytes.fetch_add(delta, std::memory_order_relaxed) + delta;
    int64_t peak = peak_live_bytes.load(std::memory_order_relaxed);
    while (live > peak &&
           !peak_live_bytes.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
    }
  }
};
static_assert(sizeof(ThreadStats) == 64, "one cache line per slot");

// The counters of one run. Sized before any thread starts, so the sampler can read every slot.
class WorkloadStats {
 public:
  explicit WorkloadStats(size_t slots) : slots_(new ThreadStats[slots]), count_(slots) {}

  ThreadStats& slot(size_t index) { return slots_[index]; }
  size_t slot_count() const { return count_; }

  uint64_t ops() const;
  int64_t live_bytes() const;
  // Sum of each slot's peak: exact for one slot, otherwise never below the simultaneous peak,
  // so a blowup computed from it is never overstated.
  int64_t peak_live_bytes() const;

 private:
  std::unique_ptr<ThreadStats[]> slots_;
  size_t count_;
};

}  // namespace allocbench
