// The shared cache of freed large mappings (large.h): buffers cycled through it reuse their
// pages, calloc of a reused buffer reads zeros, idle entries give their memory back, the cache
// stays within its bound, and malloc_trim empties it. Variants without a cache keep nothing.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "allocator.h"
#include "large.h"
#include "os.h"
#include "test_util.h"

namespace halloc {
namespace {

using halloc_test::ResidentBytes;
using halloc_test::Scaled;

constexpr std::size_t kMiB = std::size_t{1} << 20;

std::size_t MinorFaults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::size_t>(u.ru_minflt);
}

// Each test starts with an empty cache (earlier tests in this process filled it).
class LargeCache : public ::testing::Test {
 protected:
  void SetUp() override {
    Free(Malloc(1));  // bind the thread
    LargeTrim();
    ASSERT_EQ(LargeCachedBytes(), 0u);
  }
  void TearDown() override { EXPECT_EQ(halloc_test::CheckInvariants(), ""); }
};

TEST_F(LargeCache, CyclingBuffersOfVaryingSizesReusesTheirPages) {
  // The shape, smaller: buffers of 5-25 MiB, each replaced by a calloc of a new random
  // size that the program then writes, the old one freed.
  const int kBuffers = 6, kSteps = Scaled(120, 4), kWarmUp = 20;
  std::mt19937_64 rng(7);
  auto size = [&] { return 5 * kMiB + rng() % (20 * kMiB); };
  std::vector<char*> buffers;
  for (int i = 0; i < kBuffers; ++i) buffers.push_back(static_cast<char*>(Calloc(1, size())));
  std::size_t faults = 0, pages = 0;
  std::size_t peak_mapped = 0, peak_live = 0;
  for (int step = 0; step < kSteps; ++step) {
    if (step == kWarmUp) faults = MinorFaults();
    int i = static_cast<int>(rng() % kBuffers);
    std::size_t n = size();
    auto* p = static_cast<char*>(Calloc(1, n));
    ASSERT_NE(p, nullptr);
    for (std::size_t k = 0; k < n; k += kPageSize) {
      ASSERT_EQ(p[k], 0) << "step " << step << ", byte " << k;
      p[k] = 1;
    }
    std::size_t live = n;
    for (char* b : buffers) live += UsableSize(b);
    peak_live = std::max(peak_live, live);
    Free(buffers[i]);
    buffers[i] = p;
    if (step >= kWarmUp) pages += n / kPageSize;
    peak_mapped = std::max(peak_mapped, OsBytes(MapPurpose::kLarge).bytes);
  }
  faults = MinorFaults() - faults;
  std::printf(
      "[ CYCLE    ] %s: %zu faults for %zu pages handed out; large mapped peak %zu MiB, "
      "live peak %zu MiB\n",
      kPolicy.name, faults, pages, peak_mapped / kMiB, peak_live / kMiB);
  if (kLargeCache && !halloc_test::kSanitized) {
    // Without reuse every page handed out faults (and is zeroed by the kernel) once.
    EXPECT_LT(faults, pages * 3 / 4) << "freed buffers' pages were not reused";
  }
  // What stays mapped: the live buffers and at most the cache's bound.
  EXPECT_LE(peak_mapped,
            peak_live + std::max(kPolicy.large_cache_bytes, peak_live / 4) + 64 * kMiB);
  for (char* b : buffers) Free(b);
}

TEST_F(LargeCache, AFreedObjectServesTheNextOfItsSizeWhateverItsRounding) {
  // A region's run is whole granules of S, so a 64 KiB object takes 128 KiB: reusing that is
  // no more waste than a fresh run, and a malloc/free loop must not map and decommit each time.
  // (Variants without a cache keep nothing: the freed mapping is gone.)
  for (std::size_t size : {std::size_t{33} << 10, std::size_t{64} << 10, std::size_t{65} << 10,
                           std::size_t{200} << 10, 2 * kMiB + 1, 6 * kMiB}) {
    void* p = Malloc(size);
    ASSERT_NE(p, nullptr);
    Free(p);
    EXPECT_EQ(LargeCachedBytes() != 0, kLargeCache) << size << " bytes";
    void* q = Malloc(size);
    if (kLargeCache) {
      EXPECT_EQ(q, p) << size << " bytes: the freed mapping was not reused";
    }
    Free(q);
  }
}

TEST_F(LargeCache, CallocOfAReusedDirtyBufferReadsZeros) {
  // Same size (reused as is), smaller (split), larger (grown): every byte reads zero.
  for (std::size_t want : {10 * kMiB - 100, 6 * kMiB + 12345, 14 * kMiB + 7}) {
    auto* p = static_cast<unsigned char*>(Malloc(10 * kMiB));
    ASSERT_NE(p, nullptr);
    std::memset(p, 0xab, 10 * kMiB);
    Free(p);
    std::size_t kept = LargeCachedBytes();
    EXPECT_EQ(kept != 0, kLargeCache);
    auto* q = static_cast<unsigned char*>(Calloc(1, want));
    ASSERT_NE(q, nullptr);
    if (kLargeCache) {
      EXPECT_LT(LargeCachedBytes(), kept) << want << ": nothing was reused";
    }
    for (std::size_t i = 0; i < want; ++i) ASSERT_EQ(q[i], 0) << want << " bytes, byte " << i;
    Free(q);
    EXPECT_EQ(halloc_test::CheckInvariants(), "");
  }
}

// Pages of [p, p + size) that are resident, by mincore.
std::size_t ResidentPages(const void* p, std::size_t size) {
  auto begin = reinterpret_cast<std::uintptr_t>(p) & ~(kPageSize - 1);
  auto end = (reinterpret_cast<std::uintptr_t>(p) + size + kPageSize - 1) & ~(kPageSize - 1);
  std::vector<unsigned char> in_core((end - begin) / kPageSize);
  if (mincore(reinterpret_cast<void*>(begin), end - begin, in_core.data()) != 0) return 0;
  return static_cast<std::size_t>(
      std::count_if(in_core.begin(), in_core.end(), [](unsigned char c) { return c & 1; }));
}

TEST_F(LargeCache, CallocFaultsInAFreshBufferOnlyUpTo64MiB) {
  // Up to 64 MiB a fresh calloc'd buffer is resident at once, so reading it before writing it
  // costs no second fault; a bigger one, likelier a sparse table, stays untouched.
  auto* small = static_cast<unsigned char*>(Calloc(1, 12 * kMiB));
  auto* sparse = static_cast<unsigned char*>(Calloc(1, 128 * kMiB));
  ASSERT_NE(small, nullptr);
  ASSERT_NE(sparse, nullptr);
  EXPECT_GE(ResidentPages(small, 12 * kMiB), 12 * kMiB / kPageSize - 2);
  EXPECT_LE(ResidentPages(sparse, 128 * kMiB), 2u);
  for (std::size_t i = 0; i < 12 * kMiB; i += 997) ASSERT_EQ(small[i], 0) << "byte " << i;
  for (std::size_t i = 0; i < 128 * kMiB; i += 4093) ASSERT_EQ(sparse[i], 0) << "byte " << i;
  Free(small);
  Free(sparse);
}

TEST_F(LargeCache, AGrowingBufferBorrowsThePagesOfOthersAndReadsZeros) {
  // Two dirty buffers kept; a calloc larger than both grows the larger and moves the other's
  // pages into it (or, without a cache, maps fresh pages).
  auto* a = static_cast<unsigned char*>(Malloc(10 * kMiB));
  auto* b = static_cast<unsigned char*>(Malloc(6 * kMiB));
  std::memset(a, 0xab, 10 * kMiB);
  std::memset(b, 0xcd, 6 * kMiB);
  Free(a);
  Free(b);
  const std::size_t kept = LargeCachedBytes();
  const std::size_t want = 16 * kMiB - 4 * kPageSize;
  const std::size_t faults = MinorFaults();
  auto* q = static_cast<unsigned char*>(Calloc(1, want));
  ASSERT_NE(q, nullptr);
  for (std::size_t i = 0; i < want; ++i) ASSERT_EQ(q[i], 0) << "byte " << i;
  if (kLargeCache && !halloc_test::kSanitized) {
    EXPECT_LE(LargeCachedBytes() + 15 * kMiB, kept) << "the kept buffers were not used";
    EXPECT_LT(MinorFaults() - faults, want / kPageSize / 4) << "growing faulted fresh pages";
  }
  Free(q);
}

TEST_F(LargeCache, IdleEntriesAreDecommittedThenUnmapped) {
  std::vector<char*> buffers;
  for (int i = 0; i < 3; ++i) {
    auto* p = static_cast<char*>(Malloc(8 * kMiB));
    std::memset(p, 1, 8 * kMiB);
    buffers.push_back(p);
  }
  const std::size_t mapped_live = OsBytes(MapPurpose::kLarge).bytes;
  for (char* p : buffers) Free(p);
  const std::size_t kept = LargeCachedBytes();
  if (!kLargeCache) {
    // Nothing to decay: a variant without the cache gives every freed mapping back at once.
    EXPECT_EQ(kept, 0u);
    EXPECT_LE(OsBytes(MapPurpose::kLarge).bytes + 24 * kMiB, mapped_live);
    return;
  }
  ASSERT_GE(kept, 24 * kMiB);
  const std::size_t resident = ResidentBytes();
  // Decay runs on calls that reach the shared cache: a buffer above the spare's size.
  auto poke = [] { Free(Malloc(kSpareMax * 2)); };
  std::this_thread::sleep_for(std::chrono::milliseconds(kPolicy.large_decommit_ms * 5 / 4));
  poke();
  EXPECT_GE(LargeDecommittedBytes(), 24 * kMiB) << "idle entries were not decommitted";
  EXPECT_LE(ResidentBytes() + 20 * kMiB, resident) << "their memory did not go back";
  EXPECT_EQ(halloc_test::CheckInvariants(), "");  // checks decommitted entries hold no page
  // Decommitted entries are zero: calloc reusing one needs no clearing and reads zeros.
  auto* z = static_cast<unsigned char*>(Calloc(1, 8 * kMiB - 200));
  for (std::size_t i = 0; i < 8 * kMiB - 200; i += 97) ASSERT_EQ(z[i], 0) << i;
  Free(z);
  // After a further large_unmap_ms the decommitted entries go back to the OS; what stays is
  // what was freed since (z and the pokes' buffer), at most decommitted by now.
  const std::size_t mapped = OsBytes(MapPurpose::kLarge).bytes;
  std::this_thread::sleep_for(
      std::chrono::milliseconds((kPolicy.large_decommit_ms + kPolicy.large_unmap_ms) * 5 / 4));
  poke();
  poke();
  EXPECT_LE(OsBytes(MapPurpose::kLarge).bytes + 16 * kMiB, mapped)
      << "idle decommitted entries were not unmapped";
  EXPECT_LE(LargeCachedBytes(), 8 * kMiB + 4 * kSpareMax);
}

TEST_F(LargeCache, StaysWithinItsBoundWhenMuchMoreIsFreedThanKeptLive) {
  std::vector<void*> live, freed;
  for (int i = 0; i < 4; ++i) live.push_back(Malloc(8 * kMiB));
  for (int i = 0; i < 24; ++i) freed.push_back(Malloc(6 * kMiB + i * kPageSize));
  const std::size_t mapped_before = OsBytes(MapPurpose::kLarge).bytes;
  for (void* p : freed) Free(p);
  const std::size_t cached = LargeCachedBytes();
  const std::size_t live_bytes = OsBytes(MapPurpose::kLarge).bytes - cached;
  const std::size_t bound =
      std::max(kPolicy.large_cache_bytes, live_bytes / kPolicy.large_cache_live_den);
  std::printf("[ BOUND    ] %s: freed %zu MiB, live %zu MiB, cached %zu MiB, bound %zu MiB\n",
              kPolicy.name, (mapped_before - live_bytes) / kMiB, live_bytes / kMiB, cached / kMiB,
              bound / kMiB);
  EXPECT_LE(cached, bound);
  EXPECT_LE(cached, LargeCacheLimit() + (kLargeCache ? 0 : kSpareMax));
  EXPECT_GT(mapped_before - OsBytes(MapPurpose::kLarge).bytes, 100 * kMiB)
      << "freed buffers beyond the bound were not unmapped";
  // Freeing the live ones too leaves at most the floor.
  for (void* p : live) Free(p);
  EXPECT_LE(LargeCachedBytes(), kPolicy.large_cache_bytes);
}

TEST_F(LargeCache, TrimGivesEverythingBack) {
  std::vector<void*> blocks;
  for (int i = 0; i < 6; ++i) {
    blocks.push_back(Malloc(3 * kMiB + i * kMiB));
    std::memset(blocks.back(), 2, 3 * kMiB);
  }
  blocks.push_back(Malloc(kSpareMax / 2));  // the thread's spare, once freed
  for (void* p : blocks) Free(p);
  const std::size_t cached = LargeCachedBytes();
  const std::size_t mapped = OsBytes(MapPurpose::kLarge).bytes;
  EXPECT_EQ(cached != 0, kLargeCache);
  EXPECT_EQ(LargeTrim(), cached);
  EXPECT_EQ(LargeCachedBytes(), 0u);
  EXPECT_EQ(LargeCachedCount(), 0u);
  EXPECT_EQ(OsBytes(MapPurpose::kLarge).bytes + cached, mapped);
}

TEST_F(LargeCache, ManyThreadsCyclingKeepEveryInvariant) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      std::mt19937 rng(t);
      std::vector<char*> mine(4, nullptr);
      for (int i = 0; i < Scaled(300, 6); ++i) {
        std::size_t n = 40000 + rng() % (rng() % 4 == 0 ? 12 * kMiB : 512 * 1024);
        auto* p = static_cast<char*>(rng() % 2 ? Calloc(1, n) : Malloc(n));
        ASSERT_NE(p, nullptr);
        p[0] = p[n - 1] = 1;
        char*& slot = mine[rng() % mine.size()];
        Free(slot);
        slot = p;
      }
      for (char* p : mine) Free(p);
    });
  }
  for (auto& th : threads) th.join();
}

}  // namespace
}  // namespace halloc
