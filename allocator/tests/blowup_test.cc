// Blowup: a producer-consumer run keeps the memory taken from the OS bounded by a constant
// times the memory in use, plus a term per heap (Hoard's A(t) = O(U(t) + P)).
//
// One thread allocates 1 MiB batches of small objects, another frees them, for many rounds.
// The consumer's frees go back to the producer's superblocks, which the producer reuses. An
// allocator with pure private heaps (frees stay in the freeing thread's heap, never reused by
// the producer) would take a fresh 1 MiB for every round.
//
// The bound asserted, with S, K, f = empty_fraction, R = empty_reserve from halloc_get_params,
// H = stats.heaps, U_peak = peak of the sum of usable sizes of live objects (tracked here) and
// o = S / (floor(S / bs) * bs), the superblock overhead factor for block size bs (the largest
// over the sizes used):
//
//   superblock_bytes_peak <= c * (U_peak + W) + (H + 1) * K * S + R * S,  c = o * (1/(1-f) + 1)
//
// W counts the freed blocks not yet back in their superblocks, which the heaps count as in use:
// T = 3 threads (this one, the producer and the consumer) each hold at most thread_cache_bytes
// cached and remote_batch_blocks blocks of other heaps, and each heap's inbox at most
// inbox_bytes (all 0 for the variants without per-thread caches).
//
// Arithmetic for the private-heap allocator: 300 rounds x 1 MiB = 300 MiB of superblocks.
// Here U_peak is at most 4 batches (one being filled, two queued, one being freed) plus
// size-class rounding, about 5 MiB, and W (halloc) = 3 x (509 KiB + 64 x 1008 B) + 3 x 64 KiB
// ~ 1.9 MiB, so c * (U_peak + W) <= 2.35 * 7 MiB ~ 16.5 MiB (o ~ 1 for these sizes); the
// per-heap terms are at most (3 + 1) * 16 * 64 KiB + 16 * 64 KiB = 5 MiB (halloc; less for the
// others): ~22 MiB against 300 MiB, a factor of about 14. The test also asserts a 10x margin.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "allocator.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace {

// Per-superblock overhead factor for blocks of bs bytes: S over the bytes of whole blocks that
// fit in it.
double Overhead(std::size_t s, std::size_t bs) {
  std::size_t blocks = s / bs;
  return blocks ? static_cast<double>(s) / static_cast<double>(blocks * bs) : 1e9;
}

TEST(Blowup, ProducerConsumerStaysBounded) {
  ASSERT_EQ(halloc_test::WhyNotServed(), "");
  const halloc_params params = halloc_test::Params();
  const halloc_stats before = halloc_test::Stats();
  ASSERT_EQ(before.superblock_bytes_peak, 0u) << "precondition: a fresh process";

  const int rounds = 400;
  const std::size_t batch_bytes = std::size_t{1} << 20;
  const std::size_t kSizes[] = {64, 200, 1000};
  const std::size_t max_queued = 2;

  std::mutex m;
  std::condition_variable cv;
  std::deque<std::vector<void*>> queue;
  bool done = false;
  std::atomic<std::size_t> live{0}, live_peak{0};
  std::vector<std::size_t> block_sizes;  // usable sizes seen, for o

  std::thread producer([&] {
    for (int r = 0; r < rounds; ++r) {
      std::vector<void*> batch;
      std::size_t bytes = 0;
      for (std::size_t i = 0; bytes < batch_bytes; ++i) {
        std::size_t n = kSizes[i % 3];
        void* p = halloc::Malloc(n);
        if (p == nullptr) {  // an ASSERT here would leave the consumer waiting forever
          fprintf(stderr, "Malloc(%zu) failed\n", n);
          abort();
        }
        static_cast<char*>(p)[0] = 1;
        std::size_t usable = halloc::UsableSize(p);
        if (r == 0 && i < 3) block_sizes.push_back(usable);
        std::size_t now = live.fetch_add(usable) + usable;
        std::size_t peak = live_peak.load();
        while (now > peak && !live_peak.compare_exchange_weak(peak, now)) {
        }
        batch.push_back(p);
        bytes += n;
      }
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return queue.size() < max_queued; });
      queue.push_back(std::move(batch));
      cv.notify_all();
    }
    std::lock_guard lock(m);
    done = true;
    cv.notify_all();
  });
  std::thread consumer([&] {
    while (true) {
      std::vector<void*> batch;
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return !queue.empty() || done; });
        if (queue.empty()) return;
        batch = std::move(queue.front());
        queue.pop_front();
        cv.notify_all();
      }
      for (void* p : batch) {
        std::size_t usable = halloc::UsableSize(p);
        halloc::Free(p);
        live.fetch_sub(usable);  // after the free: U never under-counts
      }
    }
  });
  producer.join();
  consumer.join();

  const halloc_stats after = halloc_test::Stats();
  const double s = static_cast<double>(params.superblock_size);
  const double f = params.empty_fraction;
  double o = 1;
  for (std::size_t bs : block_sizes) o = std::max(o, Overhead(params.superblock_size, bs));
  const double c = o * (1 / (1 - f) + 1);
  const double u_peak = static_cast<double>(live_peak.load());
  const double heaps = static_cast<double>(after.heaps);
  const double largest_block =
      static_cast<double>(*std::max_element(block_sizes.begin(), block_sizes.end()));
  constexpr double kThreads = 3;
  const double waiting =
      kThreads * (static_cast<double>(params.thread_cache_bytes) +
                  static_cast<double>(params.remote_batch_blocks) * largest_block) +
      heaps * static_cast<double>(params.inbox_bytes);
  const double bound = c * (u_peak + waiting) +
                       (heaps + 1) * static_cast<double>(params.slack_superblocks) * s +
                       static_cast<double>(params.empty_reserve) * s;
  const double peak = static_cast<double>(after.superblock_bytes_peak);
  printf(
      "blowup %s: superblock_bytes_peak %.0f, U_peak %.0f, ratio %.2f; bound %.0f "
      "(c %.3f, o %.3f, W %.0f, H %zu, K %zu, S %zu, R %zu)\n",
      params.variant, peak, u_peak, peak / u_peak, bound, c, o, waiting, after.heaps,
      params.slack_superblocks, params.superblock_size, params.empty_reserve);

  // Private heaps would need a fresh batch per round: make sure the bound would catch that.
  ASSERT_GE(static_cast<double>(rounds) * static_cast<double>(batch_bytes), 10 * bound)
      << "too few rounds for the test to tell a private-heap allocator apart";
  EXPECT_LE(peak, bound) << "superblock_bytes_peak <= c * (U_peak + W) + (H + 1) * K * S + R * S "
                            "violated: peak "
                         << peak << ", U_peak " << u_peak << ", ratio " << peak / u_peak
                         << ", bound " << bound;
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

}  // namespace
