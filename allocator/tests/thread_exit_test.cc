// Thread exit: the memory a thread's heap caches comes back when the thread exits, so threads
// that come and go one after another do not make the footprint grow with their number, and no
// heap stays bound to a thread that is gone.
#include <thread>
#include <vector>

#include "allocator.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace {

class ThreadExit : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(halloc_test::WhyNotServed(), ""); }

  // "" when no heap has a thread bound; otherwise which one does.
  static std::string BoundHeaps() {
    halloc_stats s = halloc_test::Stats();
    std::string out;
    for (std::size_t i = 0; i < s.heaps; ++i) {
      halloc_heap_stats h;
      if (halloc_test::GetApi().get_heap_stats(i, &h) == 0 && h.threads != 0)
        out += "heap " + std::to_string(i) + ": " + std::to_string(h.threads) + " threads; ";
    }
    return out;
  }
};

// Allocates about `bytes` in small objects of many size classes, then frees them all.
void AllocateAndFree(std::size_t bytes, unsigned seed) {
  std::vector<void*> blocks;
  std::size_t total = 0;
  unsigned x = seed;
  while (total < bytes) {
    x = x * 1103515245 + 12345;
    std::size_t n = 16 + (x >> 8) % 2048;
    void* p = halloc::Malloc(n);
    memset(p, 1, n);
    blocks.push_back(p);
    total += n;
  }
  for (void* p : blocks) halloc::Free(p);
}

TEST_F(ThreadExit, FootprintDoesNotGrowWithThreadsInSequence) {
  const std::size_t need = std::size_t{4} << 20;
  const int threads = 50;
  std::thread(AllocateAndFree, need, 1u).join();
  const std::size_t one_thread = halloc_test::Stats().superblock_bytes_peak;
  ASSERT_GE(one_thread, need) << "the first thread's objects were not in superblocks?";
  for (int t = 1; t < threads; ++t) std::thread(AllocateAndFree, need, 1u + t).join();
  const halloc_stats after = halloc_test::Stats();
  printf(
      "superblock_bytes_peak: %zu after one thread, %zu after %d; heaps %zu, "
      "superblock_bytes now %zu\n",
      one_thread, after.superblock_bytes_peak, threads, after.heaps, after.superblock_bytes);
  EXPECT_LE(after.superblock_bytes_peak, 2 * one_thread)
      << "memory cached by exited threads accumulates";
  EXPECT_EQ(BoundHeaps(), "") << "heaps still bound after every thread exited";
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

// A thread exits with live blocks; another thread frees them later.
TEST_F(ThreadExit, BlocksOutliveTheirThread) {
  std::vector<std::pair<void*, std::size_t>> orphans;
  for (int t = 0; t < 20; ++t) {
    std::thread([&orphans, t] {
      std::vector<void*> mine;
      for (int i = 0; i < 2000; ++i) {
        std::size_t n = 16 + (i * 37 + t) % 3000;
        void* p = halloc::Malloc(n);
        halloc_test::Fill(p, n, n);
        if (i % 2) {
          orphans.emplace_back(p, n);
        } else {
          mine.push_back(p);
        }
      }
      for (void* p : mine) halloc::Free(p);
    }).join();
    ASSERT_EQ(halloc_test::CheckInvariants(), "") << "after thread " << t << " exited";
  }
  EXPECT_EQ(BoundHeaps(), "");
  for (auto [p, n] : orphans) {
    ASSERT_EQ(halloc_test::FirstMismatch(p, n, n), n) << "orphaned block corrupted";
    halloc::Free(p);
  }
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
  // Everything is free: no heap may still count bytes in use.
  EXPECT_EQ(halloc_test::LiveBytes(), 0u);
}

}  // namespace
