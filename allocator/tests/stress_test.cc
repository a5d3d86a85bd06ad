// Multi-threaded stress with cross-thread frees, meant for ThreadSanitizer and
// AddressSanitizer: threads allocate, pass blocks to each other through mutex-protected
// inboxes, free what they receive (checking the contents first) and their own blocks, and at
// the end the invariant checker runs.
#include <atomic>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "allocator.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace {

struct Block {
  void* p;
  std::size_t size;
  std::uint64_t tag;
};

struct Inbox {
  std::mutex lock;
  std::deque<Block> blocks;
};

// Only a block's head is tagged and checked: that is enough to see overlap.
std::size_t Head(std::size_t size) {
  return std::min<std::size_t>(size, 32);
}

// A block of n bytes with its head tagged; p is nullptr when the allocation failed.
Block Tagged(std::size_t n, std::uint64_t tag) {
  Block b{halloc::Malloc(n), n, tag};
  if (b.p != nullptr) halloc_test::Fill(b.p, Head(n), tag);
  return b;
}

bool Intact(const Block& b) {
  std::size_t n = Head(b.size);
  return halloc_test::FirstMismatch(b.p, n, b.tag) == n;
}

// Frees b after checking its contents; returns 1 when they were overwritten, else 0.
int CheckAndFree(const Block& b) {
  int corrupted = Intact(b) ? 0 : 1;
  halloc::Free(b.p);
  return corrupted;
}

// Frees every block other threads sent to this inbox so far; returns how many were corrupted.
int FreeReceived(Inbox& in) {
  std::deque<Block> received;
  {
    std::lock_guard guard(in.lock);
    received.swap(in.blocks);
  }
  int corrupted = 0;
  for (const Block& b : received) corrupted += CheckAndFree(b);
  return corrupted;
}

// After the threads joined: frees what the inboxes still hold, then expects no corruption, every
// invariant, and no byte still counted in use.
void FreeLeftoversAndExpectClean(std::vector<Inbox>& inboxes, int corrupted) {
  for (Inbox& in : inboxes) corrupted += FreeReceived(in);
  EXPECT_EQ(corrupted, 0) << "blocks corrupted or allocations failed";
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
  EXPECT_EQ(halloc_test::LiveBytes(), 0u) << "bytes still counted in use after every free";
}

TEST(Stress, CrossThreadFreesKeepInvariants) {
  ASSERT_EQ(halloc_test::WhyNotServed(), "");
  const int threads = 8;
  const int ops = 200000;
  const std::size_t s = halloc_test::Params().superblock_size;
  std::vector<Inbox> inboxes(threads);
  std::atomic<int> corrupted{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      std::vector<Block> live;
      std::uint64_t tag = static_cast<std::uint64_t>(t) << 48;
      for (int i = 0; i < ops; ++i) {
        std::uint64_t r = rng() % 100;
        if (r < 50 || live.empty()) {
          std::size_t n = rng() % 8 ? rng() % 256 : rng() % (s / 2 + s / 4);  // some large
          Block b = Tagged(n, ++tag);
          if (b.p == nullptr) {
            corrupted++;
            continue;
          }
          live.push_back(b);
        } else if (r < 75) {
          // Send a live block to another thread.
          std::size_t k = rng() % live.size();
          Inbox& to = inboxes[(t + 1 + rng() % (threads - 1)) % threads];
          std::lock_guard guard(to.lock);
          to.blocks.push_back(live[k]);
          live[k] = live.back();
          live.pop_back();
        } else if (r < 90) {
          std::size_t k = rng() % live.size();
          corrupted += CheckAndFree(live[k]);
          live[k] = live.back();
          live.pop_back();
        } else {
          corrupted += FreeReceived(inboxes[t]);
        }
      }
      for (const Block& b : live) corrupted += CheckAndFree(b);
    });
  }
  for (auto& th : pool) th.join();
  FreeLeftoversAndExpectClean(inboxes, corrupted.load());
}

// Superblocks are emptied and given back to the OS over and over while other threads free
// into them and map new ones, so granules come back under other descriptors: frees that
// remember a superblock, remote batches posted to inboxes and the descriptors' reuse all race.
TEST(Stress, SuperblocksReleasedAndRemappedWhileThreadsFree) {
  ASSERT_EQ(halloc_test::WhyNotServed(), "");
  const int threads = 4;
  const int rounds = 20;
  const int burst = 2000;  // ~2 MiB of 1 KiB blocks a round and thread: far beyond the reserve
  const std::size_t released_before = halloc_test::Stats().released_superblocks;
  std::vector<Inbox> inboxes(threads);
  std::atomic<int> corrupted{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::uint64_t tag = static_cast<std::uint64_t>(t + 1) << 48;
      for (int round = 0; round < rounds; ++round) {
        std::vector<Block> mine;
        for (int i = 0; i < burst; ++i) {
          std::size_t n = 512 + static_cast<std::size_t>(i % 8) * 128;
          Block b = Tagged(n, ++tag);
          if (b.p == nullptr) {
            corrupted++;
            continue;
          }
          mine.push_back(b);
        }
        // Every other block goes to the next thread, which frees it remotely.
        {
          Inbox& to = inboxes[(t + 1) % threads];
          std::lock_guard guard(to.lock);
          for (std::size_t i = 0; i < mine.size(); i += 2) to.blocks.push_back(mine[i]);
        }
        for (std::size_t i = 1; i < mine.size(); i += 2) corrupted += CheckAndFree(mine[i]);
        corrupted += FreeReceived(inboxes[t]);
      }
    });
  }
  for (auto& th : pool) th.join();
  FreeLeftoversAndExpectClean(inboxes, corrupted.load());
  if (std::string(halloc_test::Params().variant) != "halloc-serial") {  // it never releases
    EXPECT_GT(halloc_test::Stats().released_superblocks, released_before)
        << "no superblock went back to the OS: the test did not exercise what it is for";
  }
}

// A thread frees blocks into superblocks that moved, meanwhile, to a heap created by a thread it
// never synchronised with: the freeing thread must still see that heap fully built when it
// posts to it (ThreadSanitizer checks; the threads signal each other only through relaxed
// flags, so no other happens-before edge hides a missing one in the allocator).
TEST(Stress, RemoteFreesReachHeapsCreatedMeanwhile) {
  ASSERT_EQ(halloc_test::WhyNotServed(), "");
  const std::size_t s = halloc_test::Params().superblock_size;
  const std::size_t size = 64, count = (4u << 20) / size, keep_every = 256;
  std::vector<Block> kept;
  int corrupted = 0;
  // Z fills superblocks, then frees all but a few blocks of each and leaves: they are mostly
  // empty now, and go to the global heap.
  std::thread([&] {
    std::vector<Block> all;
    std::uint64_t tag = std::uint64_t{1} << 48;
    for (std::size_t i = 0; i < count; ++i) {
      Block b = Tagged(size, ++tag);
      if (b.p == nullptr) {
        ++corrupted;
        continue;
      }
      all.push_back(b);
    }
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (i % keep_every == 0) {
        kept.push_back(all[i]);
      } else {
        corrupted += CheckAndFree(all[i]);
      }
    }
  }).join();
  std::set<std::uintptr_t> kept_superblocks;
  for (const Block& b : kept)
    kept_superblocks.insert(reinterpret_cast<std::uintptr_t>(b.p) & ~(s - 1));

  std::atomic<bool> x_bound{false}, y_took{false}, x_done{false};
  std::atomic<int> x_corrupted{0};
  std::atomic<std::size_t> y_reused{0};
  // X binds first (so Y needs a heap of its own), waits for Y, then frees what Z kept.
  std::thread x([&] {
    halloc::Free(halloc::Malloc(size));
    x_bound.store(true, std::memory_order_release);
    while (!y_took.load(std::memory_order_relaxed)) std::this_thread::yield();
    int bad = 0;
    for (const Block& b : kept) bad += CheckAndFree(b);
    x_corrupted.store(bad, std::memory_order_relaxed);
    x_done.store(true, std::memory_order_relaxed);
  });
  while (!x_bound.load(std::memory_order_acquire)) std::this_thread::yield();
  // Y creates a heap and takes Z's superblocks into it, and stays bound while X frees.
  std::thread y([&] {
    std::vector<void*> mine;
    std::size_t reused = 0;
    for (std::size_t i = 0; i < count; ++i) {
      void* p = halloc::Malloc(size);
      if (p == nullptr) continue;
      reused += kept_superblocks.count(reinterpret_cast<std::uintptr_t>(p) & ~(s - 1));
      mine.push_back(p);
    }
    y_reused.store(reused, std::memory_order_relaxed);
    y_took.store(true, std::memory_order_relaxed);
    while (!x_done.load(std::memory_order_relaxed)) std::this_thread::yield();
    for (void* p : mine) halloc::Free(p);
  });
  x.join();
  y.join();
  EXPECT_GT(y_reused.load(), 0u) << "Y took none of Z's superblocks: the test did not exercise "
                                    "what it is for";
  std::vector<Inbox> none;
  FreeLeftoversAndExpectClean(none, corrupted + x_corrupted.load());
}

// realloc moves a growing large object's pages to a new address, and the old address range
// is free for any thread to map at once. Meanwhile other threads map and unmap large objects
// (page-aligned ones, which no cache keeps) as fast as they can and look each one up: an entry
// of theirs must never be lost to the mover's bookkeeping of the range it left. The window is
// narrow: with the page-map entry cleared after the move, this caught it only once a sleep
// widened the window (random_ops_test caught it about once in 100 runs under ASan).
TEST(Stress, ReallocMovesNeverHideOtherThreadsObjects) {
  ASSERT_EQ(halloc_test::WhyNotServed(), "");
  const std::size_t s = halloc_test::Params().superblock_size;
  const int rounds = halloc_test::Scaled(2000, 4);
  std::atomic<bool> moving{true};
  std::atomic<int> failures{0};
  std::thread mover([&] {
    std::uint64_t tag = std::uint64_t{1} << 48;
    for (int round = 0; round < rounds; ++round) {
      std::size_t n = s;
      Block b = Tagged(n, ++tag);
      if (b.p == nullptr) {
        ++failures;
        continue;
      }
      for (int step = 0; step < 4; ++step) {  // each step outgrows the room: a move
        n *= 5;
        void* q = halloc::Realloc(b.p, n);
        if (q == nullptr) {
          ++failures;
          break;
        }
        b = {q, n, b.tag};
      }
      failures += CheckAndFree(b);
    }
    moving = false;
  });
  std::vector<std::thread> mappers;
  for (int t = 0; t < 2; ++t) {
    mappers.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      while (moving) {
        // Sizes near the ranges the mover leaves, so the OS is likely to place them there.
        std::size_t n = s + rng() % (4 * s);
        void* p = halloc::AlignedAlloc(4096, n);
        if (p == nullptr || halloc::UsableSize(p) < n) ++failures;  // aborts if p is lost
        halloc::Free(p);
      }
    });
  }
  mover.join();
  for (auto& m : mappers) m.join();
  EXPECT_EQ(failures.load(), 0) << "allocations failed or blocks corrupted";
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
  EXPECT_EQ(halloc_test::LiveBytes(), 0u);
}

}  // namespace
