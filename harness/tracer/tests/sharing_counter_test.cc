// The false-sharing pass on hand-built event sequences, and against a brute-force model of the
// same definition on random ones (small tables, so probing wraps and deletion shifts entries).
#include "harness/tracer/sharing_counter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

namespace allocbench::tracer {
namespace {

class Table {
 public:
  explicit Table(size_t capacity = 1024)
      : entries_(capacity),
        lines_(capacity),
        counter_(entries_.data(), capacity, lines_.data(), capacity) {}
  SharingCounter& operator*() { return counter_; }
  SharingCounter* operator->() { return &counter_; }

 private:
  std::vector<SharingCounter::Entry> entries_;
  std::vector<uint64_t> lines_;
  SharingCounter counter_;
};

constexpr uint64_t kBase = 1 << 20;  // line-aligned

TEST(SharingCounter, NeighboursOfOneThreadAreNotShared) {
  Table t;
  t->on_alloc(1, kBase, 16);
  t->on_alloc(1, kBase + 16, 16);
  EXPECT_EQ(t->counts().active, 0u);
  EXPECT_EQ(t->counts().objects, 2u);
}

TEST(SharingCounter, AnotherThreadsLiveNeighbourIsActive) {
  Table t;
  t->on_alloc(1, kBase, 16);
  t->on_alloc(2, kBase + 48, 16);
  t->on_alloc(3, kBase + 64, 16);  // the next line: nothing there
  EXPECT_EQ(t->counts().active, 1u);
  EXPECT_EQ(t->counts().passive, 0u);
  EXPECT_EQ(t->counts().lines, 1u);
}

TEST(SharingCounter, AFreedNeighbourDoesNotShare) {
  Table t;
  t->on_alloc(1, kBase, 16);
  t->on_free(1, kBase);
  t->on_alloc(2, kBase + 16, 16);
  EXPECT_EQ(t->counts().active + t->counts().passive, 0u);
  EXPECT_EQ(t->counts().frees, 1u);
}

TEST(SharingCounter, ReusingABlockAnotherThreadAllocatedAndThisOneFreedIsPassive) {
  Table t;
  t->on_alloc(1, kBase, 16);  // thread 1: a and b on one line
  t->on_alloc(1, kBase + 16, 16);
  t->on_free(2, kBase);       // a passed to thread 2, which frees it
  t->on_alloc(2, kBase, 16);  // and gets its block back, beside b
  EXPECT_EQ(t->counts().passive, 1u);
  EXPECT_EQ(t->counts().active, 0u);
}

TEST(SharingCounter, APassedBlockStaysPassiveThroughItsReceiversReuse) {
  Table t;
  t->on_alloc(1, kBase, 16);
  t->on_alloc(1, kBase + 16, 16);
  t->on_free(2, kBase);
  t->on_alloc(2, kBase, 16);  // passive (1)
  t->on_free(2, kBase);
  t->on_alloc(2, kBase, 16);  // its own block now, but the one it was passed: passive (2)
  EXPECT_EQ(t->counts().passive, 2u);
  EXPECT_EQ(t->counts().active, 0u);
}

TEST(SharingCounter, ReusingOnesOwnBlockBesideAnotherThreadIsActive) {
  Table t;
  t->on_alloc(1, kBase, 16);
  t->on_alloc(2, kBase + 16, 16);  // active (1)
  t->on_free(1, kBase);
  t->on_alloc(1, kBase, 16);  // own block back, beside thread 2's: active (2)
  EXPECT_EQ(t->counts().active, 2u);
  EXPECT_EQ(t->counts().passive, 0u);
}

TEST(SharingCounter, AForeignBlockReusedAloneIsNotShared) {
  Table t;
  t->on_alloc(1, kBase, 64);
  t->on_free(2, kBase);
  t->on_alloc(2, kBase, 64);  // the whole line: nobody else is on it
  EXPECT_EQ(t->counts().active + t->counts().passive, 0u);
}

TEST(SharingCounter, OnlyALargeObjectsEndLinesCanShare) {
  Table t;
  t->on_alloc(1, kBase + 32, 1000);      // lines 0..16 of kBase
  t->on_alloc(2, kBase, 32);             // before it on line 0: shared
  t->on_alloc(3, kBase + 32 + 1000, 8);  // after it on its last line: shared
  t->on_alloc(4, kBase + 64 * 20, 8);    // elsewhere
  EXPECT_EQ(t->counts().active, 2u);
  EXPECT_EQ(t->counts().lines, 2u);
  t->on_free(1, kBase + 32);
  t->on_alloc(5, kBase + 64 * 8, 16);  // inside the freed large block: alone on its line
  EXPECT_EQ(t->counts().active, 2u);
}

TEST(SharingCounter, AnExitedThreadsObjectsShareWithNobody) {
  Table t;
  t->on_alloc(1, kBase, 16);
  t->on_thread_exit(1);
  t->on_alloc(2, kBase + 16, 16);  // beside a finished thread's object: nobody writes it now
  t->on_alloc(3, kBase + 32, 16);  // beside thread 2's: active
  EXPECT_EQ(t->counts().active, 1u);
}

TEST(SharingCounter, UnknownFreesAreCountedNotFatal) {
  Table t;
  t->on_free(1, kBase);
  t->on_alloc(1, kBase, 8);
  t->on_free(1, kBase);
  t->on_free(1, kBase);  // double free: the record is already a freed block
  EXPECT_EQ(t->counts().untracked_frees, 2u);
  EXPECT_EQ(t->counts().frees, 1u);
}

TEST(SharingCounter, AFullTableDropsAndSaysSo) {
  Table t(64);
  for (uint64_t i = 0; i < 100; ++i) t->on_alloc(1, kBase + 64 * i, 8);
  EXPECT_GT(t->counts().dropped, 0u);
  EXPECT_LE(t->counts().peak_entries, 64u);
  EXPECT_EQ(t->counts().objects, 100u);
}

// The definition, written the slow way: every record in a list.
struct Model {
  struct Block {
    uint64_t addr, size;
    uint32_t alloc_thread, free_thread;
    bool passed;
  };
  std::vector<Block> blocks;
  std::vector<uint32_t> exited;
  uint64_t active = 0, passive = 0;

  void alloc(uint32_t thread, uint64_t addr, uint64_t size) {
    const uint64_t first = addr / 64, last = (addr + size - 1) / 64;
    bool shared = false, reused = false;
    std::vector<Block> kept;
    for (const Block& b : blocks) {
      const bool same_bytes = b.addr < addr + size && addr < b.addr + b.size;
      const uint64_t bf = b.addr / 64, bl = (b.addr + b.size - 1) / 64;
      if (b.free_thread == 0 && !same_bytes) {
        const bool running =
            std::find(exited.begin(), exited.end(), b.alloc_thread) == exited.end();
        if (b.alloc_thread != thread && running &&
            (bf == first || bf == last || bl == first || bl == last))
          shared = true;
        kept.push_back(b);
      } else if (same_bytes) {
        if (b.free_thread == thread && (b.alloc_thread != thread || b.passed)) reused = true;
      } else {
        kept.push_back(b);
      }
    }
    kept.push_back({addr, size, thread, 0, reused});
    blocks = kept;
    if (shared) ++(reused ? passive : active);
  }
  void free(uint32_t thread, uint64_t addr) {
    for (Block& b : blocks)
      if (b.addr == addr && b.free_thread == 0) b.free_thread = thread;
  }
};

TEST(SharingCounter, AgreesWithTheSlowModelOnRandomAllocatorBehaviour) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 random(seed);
    Table t(256);  // small: long probe runs that wrap, many deletions
    Model model;
    // A toy allocator over 64 16-byte slots (16 lines): objects of 1..6 slots, any thread.
    constexpr int kSlots = 64;
    std::vector<int> owner_of_slot(kSlots, -1);  // index of the live object, or -1
    struct Live {
      uint64_t addr;
      int first, count;
    };
    std::map<int, Live> live;
    int next_id = 0;
    uint32_t threads = 4;  // ids 1..threads; one exits now and then and a new one starts
    for (int step = 0; step < 3000; ++step) {
      if (random() % 100 == 0) {
        const uint32_t leaving = threads - random() % 4;
        t->on_thread_exit(leaving);
        model.exited.push_back(leaving);
        ++threads;
      }
      uint32_t thread = threads - random() % 4;
      if (std::find(model.exited.begin(), model.exited.end(), thread) != model.exited.end()) {
        thread = threads;  // the newest has not exited
      }
      if (live.empty() || random() % 2 == 0) {
        const int count = 1 + random() % 6;
        const int first = random() % (kSlots - count + 1);
        bool fits = true;
        for (int s = first; s < first + count; ++s) fits &= owner_of_slot[s] < 0;
        if (!fits) continue;
        const uint64_t addr = kBase + 16 * first;
        const uint64_t size = 16 * count - random() % 16;
        for (int s = first; s < first + count; ++s) owner_of_slot[s] = next_id;
        live[next_id++] = {addr, first, count};
        t->on_alloc(thread, addr, size);
        model.alloc(thread, addr, size);
      } else {
        auto it = live.begin();
        std::advance(it, random() % live.size());
        for (int s = it->second.first; s < it->second.first + it->second.count; ++s)
          owner_of_slot[s] = -1;
        t->on_free(thread, it->second.addr);
        model.free(thread, it->second.addr);
        live.erase(it);
      }
      ASSERT_EQ(t->counts().active, model.active) << "seed " << seed << " step " << step;
      ASSERT_EQ(t->counts().passive, model.passive) << "seed " << seed << " step " << step;
    }
    EXPECT_EQ(t->counts().dropped, 0u);
    EXPECT_GT(model.active + model.passive, 0u);
  }
}

}  // namespace
}  // namespace allocbench::tracer
