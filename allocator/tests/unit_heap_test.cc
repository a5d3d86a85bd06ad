// Heaps, the global heap and large objects, through the allocator's internal API. Tests share
// one allocator per process, so they compare counters before and after rather than absolutes.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "allocator.h"
#include "halloc/halloc.h"
#include "heap.h"
#include "large.h"
#include "os.h"
#include "page_map.h"
#include "test_util.h"
#include "thread_binding.h"
#include "thread_cache.h"

namespace halloc {
namespace {

void ExpectConsistent() {
  char why[256];
  ASSERT_EQ(halloc_check(why, sizeof why), 1) << why;
}

halloc_heap_stats MyHeap() {
  halloc_heap_stats s{};
  Free(Malloc(1));  // make sure this thread is bound
  EXPECT_EQ(halloc_get_heap_stats(tls_cache.heap->index, &s), 0);
  return s;
}

TEST(Heap, CountsBytesInUseAndHeld) {
  halloc_heap_stats before = MyHeap();
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(Malloc(100));
  halloc_heap_stats during = MyHeap();
  std::size_t block = kSizeClasses.block_size[SizeClassOf(100)];
  // Blocks in the thread's cache count as in use too, so u may exceed the live bytes by at
  // most the cache bound.
  std::size_t cached = kCacheLimits.bound_bytes;
  EXPECT_GE(during.in_use_bytes - before.in_use_bytes + cached, 1000 * block);
  EXPECT_LE(during.in_use_bytes - before.in_use_bytes, 1000 * block + cached);
  EXPECT_GE(during.held_bytes, during.in_use_bytes);
  ExpectConsistent();
  for (void* p : blocks) Free(p);
  EXPECT_LE(MyHeap().in_use_bytes, before.in_use_bytes + cached);
  ExpectConsistent();
}

TEST(Heap, EmptinessInvariantHoldsAfterRandomFrees) {
  std::mt19937 rng(42);
  std::vector<void*> blocks;
  for (int i = 0; i < 40000; ++i) blocks.push_back(Malloc(16 + rng() % 400));
  std::shuffle(blocks.begin(), blocks.end(), rng);
  // Free 90%: the heap must push its mostly-empty superblocks out.
  for (std::size_t i = 0; i < blocks.size() * 9 / 10; ++i) Free(blocks[i]);
  ExpectConsistent();
  halloc_heap_stats s = MyHeap();
  if (kPolicy.use_global_heap) {
    double f = double(kPolicy.empty_num) / kPolicy.empty_den;
    EXPECT_TRUE(s.in_use_bytes >= (1 - f) * s.held_bytes ||
                s.held_bytes - s.in_use_bytes <= kPolicy.slack * kSuperblockSize)
        << "u=" << s.in_use_bytes << " a=" << s.held_bytes;
  }
  for (std::size_t i = blocks.size() * 9 / 10; i < blocks.size(); ++i) Free(blocks[i]);
  ExpectConsistent();
}

TEST(Heap, CrossThreadFreeReturnsTheBlockToItsOwner) {
  std::vector<void*> blocks;
  Heap* owner = nullptr;
  std::thread producer([&] {
    for (int i = 0; i < 5000; ++i) blocks.push_back(Malloc(48));
    owner = tls_cache.heap;
    // Stay bound while the main thread frees, so the heap is not flushed at exit.
  });
  producer.join();
  (void)owner;
  halloc_stats before{};
  halloc_get_stats(&before);
  for (void* p : blocks) Free(p);  // from another thread than the allocating one
  ExpectConsistent();
  halloc_stats after{};
  halloc_get_stats(&after);
  EXPECT_LE(after.superblock_bytes, before.superblock_bytes) << "frees never map memory";
}

TEST(Heap, BlocksPostedToAHeapsInboxComeBackWhenItDrains) {
  std::vector<void*> blocks;
  Heap* owner = nullptr;
  std::atomic<int> stage{0};
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) blocks.push_back(Malloc(64));
    owner = tls_cache.heap;
    stage.store(1);
    while (stage.load() != 2) std::this_thread::yield();  // stay bound: Post needs a thread
  });
  while (stage.load() != 1) std::this_thread::yield();
  halloc_heap_stats before{};
  ASSERT_EQ(halloc_get_heap_stats(owner->index, &before), 0);
  // Malloc may drain this thread's heap's inbox (the producer's, where heaps are shared):
  // take the block the refusal below needs first.
  auto* extra = static_cast<FreeBlock*>(Malloc(64));
  // Mark the blocks freed as free() does, chain them as FlushRemote does and post them.
  for (void* p : blocks) {
    Superblock* sb = SuperblockOf(p);
    ASSERT_NE(sb, nullptr);
    sb->SetState(sb->IndexOf(p), kCached);
    static_cast<FreeBlock*>(p)->superblock = sb;
  }
  auto* first = static_cast<FreeBlock*>(blocks.front());
  FreeBlock* last = first;
  for (std::size_t i = 1; i < blocks.size(); ++i) {
    last->next = static_cast<FreeBlock*>(blocks[i]);
    last = last->next;
  }
  last->next = nullptr;
  const std::size_t bytes = blocks.size() * SuperblockOf(first)->block_size;
  ASSERT_TRUE(owner->Post(first, last, bytes));
  EXPECT_EQ(owner->inbox_bytes.load(), bytes);
  ExpectConsistent();  // the inbox is walked and its bytes counted
  // More than the inbox may hold is refused, and nothing changes.
  EXPECT_FALSE(owner->Post(extra, extra, Heap::kInboxLimit - bytes + 1));
  EXPECT_EQ(owner->inbox_bytes.load(), bytes);
  Free(extra);
  owner->Drain();
  EXPECT_EQ(owner->inbox.load(), nullptr);
  EXPECT_EQ(owner->inbox_bytes.load(), 0u);
  halloc_heap_stats after{};
  ASSERT_EQ(halloc_get_heap_stats(owner->index, &after), 0);
  EXPECT_EQ(after.in_use_bytes + bytes, before.in_use_bytes) << "the posted blocks came back";
  stage.store(2);
  producer.join();
  // A heap with no thread left (the producer's own, where heaps are per thread) takes no
  // posts: nobody would take them back.
  auto* b = static_cast<FreeBlock*>(Malloc(64));
  if (owner->threads.load() == 0) {
    EXPECT_FALSE(owner->Post(b, b, 64));
  }
  Free(b);
  ExpectConsistent();
}

TEST(Heap, MemoryFreedByOneThreadIsReusedByAnother) {
  // Warm up so the global heap holds superblocks of this class.
  std::vector<void*> blocks;
  std::thread a([&] {
    for (int i = 0; i < 20000; ++i) blocks.push_back(Malloc(200));
    for (void* p : blocks) Free(p);
  });
  a.join();
  halloc_stats before{};
  halloc_get_stats(&before);
  if (kPolicy.use_global_heap) {
    EXPECT_GT(before.global.superblocks, 0u)
        << "the exited thread's memory went to the global heap";
  } else {
    EXPECT_EQ(before.global.superblocks, 0u) << "the serial baseline has no global heap";
  }
  std::thread b([&] {
    blocks.clear();
    for (int i = 0; i < 20000; ++i) blocks.push_back(Malloc(200));
    for (void* p : blocks) Free(p);
  });
  b.join();
  halloc_stats after{};
  halloc_get_stats(&after);
  EXPECT_LE(after.superblock_bytes_peak, before.superblock_bytes_peak + 2 * kSuperblockSize)
      << "the second thread reused the first one's superblocks instead of mapping new ones";
  ExpectConsistent();
}

TEST(Heap, EmptySuperblocksBeyondTheReserveGoBackToTheOs) {
  halloc_stats before{};
  halloc_get_stats(&before);
  std::thread t([] {
    std::vector<void*> blocks;
    // 64 MiB of small blocks, then all freed.
    for (std::size_t i = 0; i < (64u << 20) / 512; ++i) blocks.push_back(Malloc(512));
    for (void* p : blocks) Free(p);
  });
  t.join();
  halloc_stats after{};
  halloc_get_stats(&after);
  if (!kPolicy.use_global_heap) {
    // The serial baseline keeps every superblock in its one heap: nothing is released.
    EXPECT_EQ(after.released_superblocks, 0u);
    EXPECT_GE(after.superblock_bytes, before.superblock_bytes);
    return;
  }
  EXPECT_GT(after.released_superblocks, before.released_superblocks);
  EXPECT_LE(
      after.superblock_bytes,
      before.superblock_bytes + (kPolicy.empty_reserve + kPolicy.slack + 2) * kSuperblockSize);
  ExpectConsistent();
}

// A burst of `bytes` in 256-byte blocks, each touched, freed by a thread of its own; returns the
// resident bytes at its peak.
std::size_t FreedBurst(std::size_t bytes) {
  std::size_t during = 0;
  std::thread t([&] {
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < bytes / 256; ++i) {
      auto* p = static_cast<char*>(Malloc(256));
      p[0] = 1;
      blocks.push_back(p);
    }
    during = halloc_test::ResidentBytes();
    for (void* p : blocks) Free(p);
  });
  t.join();
  return during;
}

TEST(Heap, ResidentMemoryFallsAfterABurstIsFreed) {
  constexpr std::size_t kBurst = 64u << 20;
  std::size_t before = halloc_test::ResidentBytes();
  std::size_t during = FreedBurst(kBurst);
  ASSERT_GE(during, before + kBurst / 2) << "the burst was not resident";
  if (kPolicy.superblock_decommit_ms > 0) {
    // Freed superblock memory waits superblock_decommit_ms for reuse; once it has, the next
    // superblock given back (here a second, small burst's) returns it all.
    std::this_thread::sleep_for(std::chrono::milliseconds(kPolicy.superblock_decommit_ms * 5 / 4));
    FreedBurst(8u << 20);
  }
  std::size_t after = halloc_test::ResidentBytes();
  if (kPolicy.use_global_heap) {
    // What may stay: the heap's slack, the global heap's reserve, a thread cache, and the
    // second burst's superblocks (they have not waited yet).
    std::size_t kept = (kPolicy.slack + kPolicy.empty_reserve + 2) * kSuperblockSize +
                       kCacheLimits.bound_bytes + (4u << 20) +
                       (kPolicy.superblock_decommit_ms > 0 ? (8u << 20) : 0);
    EXPECT_LE(after, before + kept) << "before " << before << ", during " << during;
  } else {
    EXPECT_GE(after + (4u << 20), during) << "the serial baseline keeps its superblocks";
  }
  ExpectConsistent();
}

TEST(Heap, FreedSuperblockMemoryGoesBackBeforeALargeMapping) {
  if (!kPolicy.use_global_heap) GTEST_SKIP() << "the serial baseline keeps its superblocks";
  constexpr std::size_t kBurst = 64u << 20;
  std::size_t before = halloc_test::ResidentBytes();
  FreedBurst(kBurst);
  // No wait: a fresh large mapping takes the freed superblock memory back to the OS first, so
  // the two kinds never hold more together than the program had in use.
  void* big = Malloc(kBurst);
  ASSERT_NE(big, nullptr);
  std::size_t after = halloc_test::ResidentBytes();
  Free(big);
  std::size_t kept = (kPolicy.slack + kPolicy.empty_reserve + 2) * kSuperblockSize +
                     kCacheLimits.bound_bytes + (4u << 20);
  EXPECT_LE(after, before + kept) << "before " << before;
}

TEST(Large, ObjectsAboveHalfASuperblockComeFromTheOs) {
  halloc_stats before{};
  halloc_get_stats(&before);
  void* p = Malloc(kLargeThreshold + 1);
  ASSERT_NE(p, nullptr);
  EXPECT_GE(UsableSize(p), kLargeThreshold + 1);
  halloc_stats during{};
  halloc_get_stats(&during);
  EXPECT_EQ(during.large_objects, before.large_objects + 1);
  // Live large bytes grow (the mapping may be one an earlier test left in the large cache).
  EXPECT_GE(during.large_bytes - during.large_cached_bytes,
            before.large_bytes - before.large_cached_bytes + kLargeThreshold + 1);
  std::memset(p, 0xab, UsableSize(p));
  Free(p);
  halloc_stats after{};
  halloc_get_stats(&after);
  EXPECT_EQ(after.large_objects, before.large_objects);
  // The mapping is gone, or kept whole in the large cache (halloc) for reuse.
  EXPECT_EQ(after.large_bytes - after.large_cached_bytes,
            before.large_bytes - before.large_cached_bytes);
  EXPECT_LE(after.large_cached_bytes, LargeCacheLimit() + kSpareMax);
}

TEST(Large, FreedMappingsAreReusedZeroedForCalloc) {
  auto* p = static_cast<unsigned char*>(Malloc(kLargeThreshold * 3));
  ASSERT_NE(p, nullptr);
  std::memset(p, 0xff, kLargeThreshold * 3);
  Free(p);
  halloc_stats kept{};
  halloc_get_stats(&kept);
  auto* q = static_cast<unsigned char*>(Calloc(1, kLargeThreshold * 3 - 100));
  ASSERT_NE(q, nullptr);
  if (kLargeCache) {
    // p's mapping, or another kept one that suits (earlier tests dirtied theirs too).
    halloc_stats now{};
    halloc_get_stats(&now);
    EXPECT_LT(now.large_cached_bytes, kept.large_cached_bytes) << "no kept mapping was reused";
  }
  for (std::size_t i = 0; i < kLargeThreshold * 3 - 100; ++i) ASSERT_EQ(q[i], 0) << i;
  Free(q);
  ExpectConsistent();
}

TEST(Large, AlignmentIsHonouredUpToAMegabyte) {
  for (std::size_t align = 128; align <= (1u << 20); align *= 2) {
    void* p = AlignedAlloc(align, 1000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << align;
    EXPECT_GE(UsableSize(p), 1000u);
    Free(p);
  }
}

TEST(Large, ZeroByteObjectsLieInsideTheirOwnMapping) {
  // With an alignment of S or more the object starts a granule; were it empty, that granule
  // could later hold a superblock whose page-map entry the object's free would erase.
  for (std::size_t align = kSuperblockSize; align <= 4 * kSuperblockSize; align *= 2) {
    auto* p = static_cast<char*>(AlignedAlloc(align, 0));
    ASSERT_NE(p, nullptr);
    EXPECT_GE(UsableSize(p), 1u);
    p[0] = 1;  // inside the mapping, or this faults
    Free(p);
  }
}

TEST(Large, ReallocKeepsContentsWhileGrowingAndShrinking) {
  std::size_t size = kLargeThreshold + 100;
  auto* p = static_cast<unsigned char*>(Malloc(size));
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<unsigned char>(i * 7);
  for (std::size_t grow = size * 2; grow < (32u << 20); grow *= 2) {
    p = static_cast<unsigned char*>(Realloc(p, grow));
    ASSERT_NE(p, nullptr);
  }
  p = static_cast<unsigned char*>(Realloc(p, 100));  // back into a small class
  for (std::size_t i = 0; i < 100; ++i) ASSERT_EQ(p[i], static_cast<unsigned char>(i * 7));
  EXPECT_LT(UsableSize(p), kLargeThreshold);
  Free(p);
}

TEST(Large, ReallocGrowsInPlaceIntoRoomAndMovesPagesWithoutLosingThem) {
  // From a small block into the large range: the mapping gets room to grow into.
  auto* p = static_cast<unsigned char*>(Malloc(kLargeThreshold / 2));
  for (std::size_t i = 0; i < kLargeThreshold / 2; ++i) p[i] = static_cast<unsigned char>(i * 13);
  p = static_cast<unsigned char*>(Realloc(p, kLargeThreshold + 1));
  ASSERT_NE(p, nullptr);
  EXPECT_GE(UsableSize(p), 2 * (kLargeThreshold + 1)) << "no room to grow into";
  unsigned char* before = p;
  p = static_cast<unsigned char*>(Realloc(p, UsableSize(p)));
  EXPECT_EQ(p, before) << "growth within the room moved the object";
  // Past the room: the pages move to a larger S-aligned mapping, the page map follows.
  std::size_t big = UsableSize(p) * 3;
  p = static_cast<unsigned char*>(Realloc(p, big));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kSuperblockSize, kCacheLine);
  for (std::size_t i = 0; i < kLargeThreshold / 2; ++i)
    ASSERT_EQ(p[i], static_cast<unsigned char>(i * 13)) << i;
  std::memset(p + kLargeThreshold / 2, 0x5a, big - kLargeThreshold / 2);
  EXPECT_EQ(UsableSize(p), g_page_map.Lookup(p).large()->usable());
  ExpectConsistent();
  // A real shrink gives the tail back to the OS.
  halloc_stats full{};
  halloc_get_stats(&full);
  p = static_cast<unsigned char*>(Realloc(p, kLargeThreshold + 1));
  halloc_stats shrunk{};
  halloc_get_stats(&shrunk);
  EXPECT_LE(shrunk.large_bytes + big / 2, full.large_bytes);
  EXPECT_LT(UsableSize(p), 2 * (kLargeThreshold + 1) + kPageSize);
  for (std::size_t i = 0; i < kLargeThreshold / 2; ++i)
    ASSERT_EQ(p[i], static_cast<unsigned char>(i * 13)) << i;
  Free(p);
  ExpectConsistent();
}

TEST(Large, AThreadReusesItsOwnFreedMappingAndHandsItOnAtExit) {
  halloc_stats before{};
  halloc_get_stats(&before);
  std::thread([] {
    void* p = Malloc(kSpareMax / 2);
    Free(p);
    ExpectConsistent();  // the spare is checked too
    halloc_stats freed{};
    halloc_get_stats(&freed);
    EXPECT_EQ(freed.large_cached_bytes != 0, kLargeCache);
    void* q = Malloc(kSpareMax / 2 - 1000);
    if (kLargeCache) {
      EXPECT_EQ(q, p) << "the thread's spare mapping was not reused";
    }
    Free(q);
  }).join();
  halloc_stats after{};
  halloc_get_stats(&after);
  EXPECT_EQ(after.large_objects, before.large_objects) << "a freed mapping still counts as live";
  if (kLargeCache) {
    EXPECT_GE(after.large_cached_bytes, kSpareMax / 2) << "the spare was not handed on";
  } else {
    EXPECT_EQ(after.large_bytes, before.large_bytes) << "a freed mapping was kept";
  }
  ExpectConsistent();
}

TEST(Large, RefusesSizesAbovePtrdiffMax) {
  errno = 0;
  EXPECT_EQ(Malloc(SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(Malloc(std::size_t{PTRDIFF_MAX} + 1), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(Calloc(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

// malloc pops one stack and free pushes the other: a freed block waits until malloc's stack
// runs empty, then the two trade places with no refill; and the two never hold more than the
// class's limit.
TEST(ThreadCache, MallocAndFreeUseTwoStacksThatTradePlaces) {
  if (!kThreadCache) GTEST_SKIP() << "this variant has no thread cache";
  std::thread fresh([] {
    constexpr std::size_t kSize = 80;
    const std::uint32_t c = SizeClassOf(kSize);
    const std::uint32_t half = CacheHalf(c);
    ASSERT_GE(half, 2u);
    static std::array<void*, 4096> got;  // not the allocator's: it would share the class
    void* first = Malloc(kSize);         // binds, and fills malloc's stack
    EXPECT_EQ(tls_cache.Count(c), half - 1);
    Free(first);
    EXPECT_TRUE(tls_cache.HasFreed(c));
    for (std::uint32_t i = 0; i + 1 < half; ++i) {
      got[i] = Malloc(kSize);
      EXPECT_NE(got[i], first) << "a freed block waits on free's stack";
    }
    EXPECT_TRUE(tls_cache.Empty(c));
    EXPECT_EQ(Malloc(kSize), first) << "the stacks trade places";
    EXPECT_FALSE(tls_cache.HasFreed(c));
    got[half - 1] = first;
    const std::size_t n = std::min<std::size_t>(got.size(), 5 * half);
    for (std::size_t i = half; i < n; ++i) got[i] = Malloc(kSize);
    for (std::size_t i = 0; i < n; ++i) {
      Free(got[i]);
      ASSERT_LE(tls_cache.Count(c), kCacheLimits.blocks[c]) << "after " << i + 1 << " frees";
    }
    EXPECT_GE(tls_cache.Count(c), half) << "a full free stack trades places before it flushes";
    ExpectConsistent();

    // The checker catches a cached block marked live, and a top beyond its stack.
    char why[256];
    ASSERT_FALSE(tls_cache.Empty(c));
    std::atomic<std::uint8_t>* state = tls_cache.base[c]->state;
    const std::uint8_t was = state->exchange(kLive);
    EXPECT_EQ(halloc_check(why, sizeof why), 0);
    EXPECT_NE(std::string(why).find("not marked held"), std::string::npos) << why;
    state->store(was);
    HeldBlock* const top = tls_cache.top[c];
    tls_cache.top[c] = tls_cache.base[c] + half + 1;
    EXPECT_EQ(halloc_check(why, sizeof why), 0);
    EXPECT_NE(std::string(why).find("outside its stack"), std::string::npos) << why;
    tls_cache.top[c] = top;
    ExpectConsistent();
  });
  fresh.join();
}

// A thread's slots are mapped, not static TLS (which glibc clears in every new thread): a
// thread that uses one class has the pages of that class's slots in memory, not all of them;
// and an exiting thread's slots serve the next thread.
TEST(ThreadCache, AThreadTouchesOnlyItsClassesSlotsAndTheNextThreadReusesThem) {
  if (!kThreadCache) GTEST_SKIP() << "this variant has no thread cache";
  EXPECT_LT(sizeof(ThreadCache), 4096u) << "the per-thread part that stays in static TLS";
  constexpr std::size_t kSize = 48;
  const std::uint32_t c = SizeClassOf(kSize);
  CacheSlots* first = nullptr;
  std::size_t resident = 0, spanned = 0;
  const std::size_t pages = (sizeof(CacheSlots) + 4095) / 4096;
  std::thread([&] {
    // Earlier threads' slots are in the pool, touched: empty the pages of the ones that the
    // pool hands out next.
    CacheSlots* fresh = CacheSlots::Take();
    ASSERT_NE(fresh, nullptr);
    ASSERT_EQ(madvise(fresh, pages * 4096, MADV_DONTNEED), 0);
    CacheSlots::Give(fresh);
    Free(Malloc(kSize));
    first = tls_cache.slots;
    ASSERT_EQ(first, fresh);
    const auto page = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) / 4096; };
    const HeldBlock* from = first->slot + kCacheLimits.base[c];
    spanned = page(from + kCacheLimits.blocks[c] - 1) - page(from) + 1;
    std::vector<unsigned char> in_core(pages);
    ASSERT_EQ(mincore(first, pages * 4096, in_core.data()), 0);
    resident = static_cast<std::size_t>(
        std::count_if(in_core.begin(), in_core.end(), [](unsigned char v) { return v & 1; }));
    ASSERT_GT(pages, 4 * spanned) << "the test needs a class that is a small part of the slots";
    ExpectConsistent();
  }).join();
  EXPECT_GE(resident, 1u);
  EXPECT_LE(resident, spanned) << "pages of the slots in memory after one class's traffic";
  CacheSlots* second = nullptr;
  std::thread([&] {
    Free(Malloc(kSize));
    second = tls_cache.slots;
    ExpectConsistent();
  }).join();
  EXPECT_EQ(second, first) << "an exiting thread's slots go to the next thread";
  // The checker catches stacks left without slots.
  std::thread([] {
    ASSERT_EQ(tls_cache.slots, nullptr);
    tls_cache.free_end[0] = reinterpret_cast<HeldBlock*>(alignof(HeldBlock));
    char why[256];
    EXPECT_EQ(halloc_check(why, sizeof why), 0);
    EXPECT_NE(std::string(why).find("without slots"), std::string::npos) << why;
    tls_cache.free_end[0] = nullptr;
    ExpectConsistent();
  }).join();
}

TEST(Heap, ConcurrentCrossThreadTrafficKeepsEveryInvariant) {
  constexpr int kThreads = 4;
  constexpr int kOps = 50000;
  std::vector<std::vector<void*>> mailbox(kThreads);
  std::vector<std::mutex> locks(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<void*> mine;
      for (int i = 0; i < kOps; ++i) {
        std::size_t n = rng() % 8 == 0 ? rng() % (2 * kLargeThreshold) : rng() % 300;
        auto* p = static_cast<unsigned char*>(Malloc(n));
        ASSERT_NE(p, nullptr);
        if (n) p[0] = p[n - 1] = 0x5a;
        if (rng() % 2) {
          std::lock_guard<std::mutex> g(locks[(t + 1) % kThreads]);
          mailbox[(t + 1) % kThreads].push_back(p);
        } else {
          mine.push_back(p);
        }
        if (mine.size() > 100) {
          Free(mine.front());
          mine.erase(mine.begin());
        }
        if (i % 64 == 0) {
          std::vector<void*> inbox;
          {
            std::lock_guard<std::mutex> g(locks[t]);
            inbox.swap(mailbox[t]);
          }
          for (void* q : inbox) Free(q);
        }
      }
      for (void* q : mine) Free(q);
    });
  }
  for (auto& th : threads) th.join();
  for (auto& box : mailbox)
    for (void* q : box) Free(q);
  ExpectConsistent();
}

}  // namespace
}  // namespace halloc
