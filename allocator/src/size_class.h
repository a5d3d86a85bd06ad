// Size classes: block sizes from 16 bytes to S/2, each at most b (kPolicy.growth) times the one
// before and a multiple of 16, so internal fragmentation stays below b (for requests of 16 bytes
// and up) and every block is 16-byte aligned. Every power of two up to S/2 is a class, so an
// object aligned to A <= S/2 is a block of the smallest class that is a multiple of A (blocks
// start at S-aligned superblocks). The table is computed at compile time.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "policy.h"

namespace halloc {

// Superblocks of classes with few blocks to S span several granules (policy.h), at most this many.
inline constexpr std::size_t kMaxSuperblockGranules = 8;

// A block's index from its offset in the superblock, with one multiplication: for a block size
// d = d0 * 2^k (d0 odd), rotr(offset * inverse(d0), k) is offset / d when d divides offset, and
// otherwise at least 2^(64-k) / d0, beyond any block count (multiplying by the inverse of d0
// maps the multiples of d0 onto the lowest 2^64 / d0 values, one to one; bits below 2^k that
// are not zero rotate into the top). So a single compare with the capacity tells a block start,
// and gives its index, for any offset at all (Superblock::BlockAtOffset).
constexpr std::uint64_t OddInverse(std::uint64_t odd) {
  std::uint64_t x = odd;                         // correct to 3 bits: odd * odd = 1 (mod 8)
  for (int i = 0; i < 5; ++i) x *= 2 - odd * x;  // each step doubles the correct bits
  return x;
}
constexpr std::uint64_t BlockIndex(std::uint64_t offset, std::uint64_t inverse, unsigned shift) {
  return std::rotr(offset * inverse, static_cast<int>(shift));
}

struct SizeClassTable {
  static constexpr std::size_t kMaxClasses = 64;
  static constexpr std::size_t kGranules = kLargeThreshold / kMinAlign + 1;

  std::uint32_t count = 0;
  std::uint32_t block_size[kMaxClasses] = {};
  std::uint32_t capacity[kMaxClasses] = {};  // blocks in one superblock
  std::uint32_t granules[kMaxClasses] = {};  // its size in units of S
  std::uint64_t inverse[kMaxClasses] = {};   // of block_size's odd part (BlockIndex)
  std::uint8_t shift[kMaxClasses] = {};      // block_size's trailing zero bits
  std::uint8_t by_granule[kGranules] = {};   // class of a request of (g * 16) bytes
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
    const auto shift = static_cast<unsigned>(std::countr_zero(t.block_size[i]));
    t.shift[i] = static_cast<std::uint8_t>(shift);
    t.inverse[i] = OddInverse(t.block_size[i] >> shift);
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
