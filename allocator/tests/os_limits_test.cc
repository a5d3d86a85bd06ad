// The OS's limits: halloc needs far fewer mappings than objects (superblocks and large objects
// come from regions), so a program with more live large objects than vm.max_map_count allows
// mappings still works and its memory goes back when it frees them; and a munmap the kernel
// refuses loses no memory (it is given back with madvise and unmapped later).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "allocator.h"
#include "large.h"
#include "os.h"
#include "region.h"
#include "test_util.h"

namespace halloc {
namespace {

using halloc_test::ResidentBytes;

std::size_t Mappings() {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

std::size_t MaxMapCount() {
  std::ifstream f("/proc/sys/vm/max_map_count");
  std::size_t n = 65530;
  f >> n;
  return n;
}

TEST(OsLimits, MoreLiveLargeObjectsThanTheMappingLimitAllowsMappings) {
  // 40 KB objects (large in every variant), more of them than the kernel allows mappings; each
  // touched once. Three rounds of allocating them all and freeing them all.
  const std::size_t count = std::min<std::size_t>(MaxMapCount() + 5000, 200000);
  constexpr std::size_t kSize = 40000;
  std::vector<void*> objects(count);
  std::size_t resident_after_first = 0;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < count; ++i) {
      auto* p = static_cast<char*>(Malloc(kSize));
      ASSERT_NE(p, nullptr) << "round " << round << ", object " << i << " of " << count;
      p[i % kSize] = static_cast<char>(i);
      objects[i] = p;
    }
    std::size_t mappings = Mappings();
    EXPECT_LT(mappings, count / 8) << "one mapping per large object (or close to it)";
    for (std::size_t i = 0; i < count; ++i) {
      ASSERT_EQ(static_cast<char*>(objects[i])[i % kSize], static_cast<char>(i));
      Free(objects[i]);
    }
    std::size_t resident = ResidentBytes();
    std::printf("round %d: %zu objects, %zu mappings, %zu regions, resident %zu\n", round, count,
                mappings, RegionCount(), resident);
    if (round == 0) resident_after_first = resident;
    // Flat: what stays after a round is the large-object cache and metadata, not the objects.
    EXPECT_LE(resident, resident_after_first + (8u << 20))
        << "round " << round << ": memory of freed objects was not given back";
  }
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST(OsLimits, RefusedUnmapsLoseNoMemory) {
  // Objects above a region's largest run have mappings of their own; every one of their
  // munmaps is refused as at the mapping limit.
  const std::size_t size = kRegionMaxRun * kSuperblockSize + (1u << 20);
  constexpr int kObjects = 24;
  std::size_t before = ResidentBytes();
  std::vector<char*> objects;
  for (int i = 0; i < kObjects; ++i) {
    auto* p = static_cast<char*>(Malloc(size));
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, size);
    objects.push_back(p);
  }
  std::size_t stranded_before = OsStrandedRanges();
  OsInjectUnmapFailures(kObjects);
  for (char* p : objects) Free(p);
  OsInjectUnmapFailures(0);
  std::size_t after = ResidentBytes();
  std::size_t stranded = OsStrandedRanges() - stranded_before;
  EXPECT_GT(stranded, 0u) << "no munmap was refused";
  // What may stay resident: the large-object cache (its floor: nothing stays live here) and the
  // stranded ranges' page tables, never the objects.
  EXPECT_LE(after, before + kPolicy.large_cache_bytes + (8u << 20))
      << stranded << " munmaps refused";
  // The next munmap that works takes the stranded ranges with it (the freed mappings kept for
  // reuse serve these objects without one; malloc_trim gives them back).
  void* p = Malloc(size);
  ASSERT_NE(p, nullptr);
  Free(p);
  void* q = Malloc(2 * size);
  ASSERT_NE(q, nullptr);
  Free(q);
  LargeTrim();
  EXPECT_EQ(OsStrandedRanges(), 0u) << "stranded ranges were not unmapped later";
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST(OsLimits, SuperblocksComeFromRegions) {
  std::size_t regions_before = RegionCount();
  std::vector<void*> blocks;
  // Enough 64-byte blocks to fill a few hundred superblocks.
  const std::size_t n = 300 * kSuperblockSize / 64;
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(Malloc(64));
  std::size_t regions = RegionCount() - regions_before;
  EXPECT_LE(regions, 300 / kRegionMaxRun + 2) << "superblocks are not packed into regions";
  for (void* p : blocks) Free(p);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST(OsLimits, RegionsAreReservedManyAtATime) {
  const std::size_t regions_before = RegionCount();
  const std::size_t reservations_before = RegionReservations();
  std::vector<void*> blocks;
  // Enough 64-byte blocks to fill 40 regions with superblocks: at least 8 new ones even where
  // earlier tests in this process left free granules behind (blocks are never written, so this
  // costs address space and state maps, not the blocks' memory).
  const std::size_t n = 40 * kRegionMaxRun * kSuperblockSize / 64;
  blocks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(Malloc(64));
  const std::size_t regions = RegionCount() - regions_before;
  const std::size_t reservations = RegionReservations() - reservations_before;
  ASSERT_GE(regions, 8u);
  EXPECT_LE(reservations, regions / 4) << "a mapping (and the kernel's mmap lock) for each region";
  for (void* p : blocks) Free(p);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST(OsLimits, SuperblockPoolsNeverShareARegion) {
  // A granule from each pool (heap index i takes pool i % kSuperblockPools): four regions, so
  // threads of different heaps fault in fresh superblocks on different page-table pages.
  void* granule[kSuperblockPools];
  for (std::size_t i = 0; i < kSuperblockPools; ++i) {
    granule[i] = RegionAlloc(RegionKind::kSuperblocks, 1, i);
    ASSERT_NE(granule[i], nullptr);
  }
  for (std::size_t i = 0; i < kSuperblockPools; ++i) {
    for (std::size_t k = 0; k < i; ++k) {
      EXPECT_NE(reinterpret_cast<std::uintptr_t>(granule[i]) / kRegionSize,
                reinterpret_cast<std::uintptr_t>(granule[k]) / kRegionSize)
          << "pools " << k << " and " << i;
    }
  }
  for (void* g : granule) RegionFree(RegionKind::kSuperblocks, g, 1);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

}  // namespace
}  // namespace halloc
