// Size classes: block sizes from 16 bytes to S/2, each at most b (kPolicy.growth) times the one
// before and a multiple of 16, so internal fragmentation stays below b (for requests of 16 bytes
// and up) and every block is 16-byte aligned. Every power of two up to S/2 is a class, so an
// object aligned to A <= S/2 is a block of the smallest class that is a multiple of A (blocks
// start at S-aligned superblocks). The table is computed at compile time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "policy.h"

namespace halloc {

// Superblocks of classes with few blocks to S span several granules (policy.h), at most this many.
inline constexpr std::size_t kMaxSuperblockGranules = 8;

// Block index = ((offset / 16) * reciprocal) >> kReciprocalShift, with reciprocal =
// ceil(2^shift / (block_size / 16)): exact for every offset in a superblock, as that needs
// 2^shift >= (superblock bytes / 16) * (block_size / 16) (see Superblock::BlockAtOffset).
inline constexpr unsigned kReciprocalShift = 31;  // 32 would not fit the reciprocal of 1
static_assert((kMaxSuperblockGranules * kSuperblockSize / kMinAlign) *
                  (kSuperblockSize / 2 / kMinAlign) <=
              (std::uint64_t{1} << kReciprocalShift));

struct SizeClassTable {
  static constexpr std::size_t kMaxClasses = 64;
  static constexpr std::size_t kGranules = kLargeThreshold / kMinAlign + 1;

  std::uint32_t count = 0;
  std::uint32_t block_size[kMaxClasses] = {};
  std::uint32_t capacity[kMaxClasses] = {};    // blocks in one superblock
  std::uint32_t granules[kMaxClasses] = {};    // its size in units of S
  std::uint32_t reciprocal[kMaxClasses] = {};  // ceil(2^31 / (block_size / 16)): offset -> index
  std::uint8_t by_granule[kGranules] = {};     // class of a request of (g * 16) bytes
};

constexpr SizeClassTable BuildSizeClassTable() {
  SizeClassTable t;
  std::size_t size = kMinAlign;
  while (true) {
    t.block_size[t.count++] = static_cast<std::uint32_t>(size);
    if (size >= kLargeThreshold) break;
    double scaled = static_cast<double>(size) * kPolicy.growth;
    std::size_t next = (static_cast<std::size_t>(scaled) + kMinAlign - 1) / kMinAlign * kMinAlign;
    // Round down so the step never exceeds b; but always advance by at least one granule.
    if (static_cast<double>(next) > scaled) next -= kMinAlign;
    if (next < size + kMinAlign) next = size + kMinAlign;
    std::size_t power_of_two = kMinAlign;
    while (power_of_two <= size) power_of_two *= 2;
    if (power_of_two < next) next = power_of_two;
    size = next < kLargeThreshold ? next : kLargeThreshold;
  }
  std::uint32_t c = 0;
  for (std::size_t g = 0; g < SizeClassTable::kGranules; ++g) {
    while (t.block_size[c] < g * kMinAlign) ++c;
    t.by_granule[g] = static_cast<std::uint8_t>(c);
  }
  for (std::uint32_t i = 0; i < t.count; ++i) {
    std::size_t granules = 1;
    while (granules < kMaxSuperblockGranules &&
           granules * kSuperblockSize / t.block_size[i] < kPolicy.min_superblock_blocks)
      granules *= 2;
    t.granules[i] = static_cast<std::uint32_t>(granules);
    t.capacity[i] = static_cast<std::uint32_t>(granules * kSuperblockSize / t.block_size[i]);
    std::uint64_t units = t.block_size[i] / kMinAlign;
    t.reciprocal[i] =
        static_cast<std::uint32_t>(((std::uint64_t{1} << kReciprocalShift) + units - 1) / units);
  }
  return t;
}

inline constexpr SizeClassTable kSizeClasses = BuildSizeClassTable();
static_assert(kSizeClasses.count < SizeClassTable::kMaxClasses);
static_assert(kSizeClasses.block_size[kSizeClasses.count - 1] == kLargeThreshold);

// The class serving `size` bytes; size must be <= kLargeThreshold.
inline std::uint32_t SizeClassOf(std::size_t size) {
  return kSizeClasses.by_granule[(size + kMinAlign - 1) / kMinAlign];
}

// The smallest class whose blocks are all aligned to `alignment` (a power of two; blocks start
// at their S-aligned superblock) and hold `size` bytes, or kSizeClasses.count if none does
// (size and alignment must be at most S/2 for one to exist).
std::uint32_t SizeClassOfAligned(std::size_t size, std::size_t alignment);

}  // namespace halloc
