// Size classes: every request fits its class, the class is the smallest that fits, neighbouring
// classes are at most b apart, and a superblock holds at least one block of each.
#include <gtest/gtest.h>

#include "size_class.h"

namespace halloc {
namespace {

TEST(SizeClass, TableIsIncreasingAlignedAndWithinGrowth) {
  ASSERT_GT(kSizeClasses.count, 1u);
  EXPECT_EQ(kSizeClasses.block_size[0], kMinAlign);
  EXPECT_EQ(kSizeClasses.block_size[kSizeClasses.count - 1], kLargeThreshold);
  for (std::uint32_t c = 1; c < kSizeClasses.count; ++c) {
    std::uint32_t prev = kSizeClasses.block_size[c - 1], size = kSizeClasses.block_size[c];
    EXPECT_GT(size, prev);
    EXPECT_EQ(size % kMinAlign, 0u) << "class " << c;
    // At most b apart, except where b x prev is within one 16-byte granule of prev.
    EXPECT_TRUE(size <= prev * kPolicy.growth || size == prev + kMinAlign)
        << "class " << c << ": " << prev << " -> " << size;
  }
}

TEST(SizeClass, EveryRequestGetsTheSmallestFittingClass) {
  for (std::size_t n = 0; n <= kLargeThreshold; ++n) {
    std::uint32_t c = SizeClassOf(n);
    ASSERT_LT(c, kSizeClasses.count);
    ASSERT_GE(kSizeClasses.block_size[c], n) << n;
    if (c > 0) {
      ASSERT_LT(kSizeClasses.block_size[c - 1], n) << n;
    }
  }
}

TEST(SizeClass, InternalFragmentationIsBoundedByGrowth) {
  for (std::size_t n = kMinAlign; n <= kLargeThreshold; ++n) {
    double block = kSizeClasses.block_size[SizeClassOf(n)];
    ASSERT_TRUE(block <= n * kPolicy.growth || block < n + kMinAlign) << n << " -> " << block;
  }
}

TEST(SizeClass, SuperblocksHoldAsManyBlocksAsFit) {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    EXPECT_GE(kSizeClasses.capacity[c], 2u) << "blocks are at most S/2";
    const std::size_t bytes = std::size_t{kSizeClasses.granules[c]} * kSuperblockSize;
    EXPECT_LE(std::size_t{kSizeClasses.capacity[c]} * kSizeClasses.block_size[c], bytes);
    EXPECT_GT(std::size_t{kSizeClasses.capacity[c] + 1} * kSizeClasses.block_size[c], bytes);
    // Superblocks grow only for classes with fewer than the policy's minimum of blocks to S.
    const std::size_t granules = kSizeClasses.granules[c];
    EXPECT_TRUE(granules == 1 || granules == 2 || granules == 4 || granules == 8) << granules;
    if (granules > 1) {
      EXPECT_LT((granules / 2) * kSuperblockSize / kSizeClasses.block_size[c],
                kPolicy.min_superblock_blocks)
          << "class " << c << " has a larger superblock than it needs";
    }
    if (granules < kMaxSuperblockGranules) {
      EXPECT_GE(kSizeClasses.capacity[c], kPolicy.min_superblock_blocks) << "class " << c;
    }
  }
}

TEST(SizeClass, BlockIndexFindsEveryBlockStartAndNothingElse) {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    const std::uint64_t size = kSizeClasses.block_size[c];
    const std::uint64_t capacity = kSizeClasses.capacity[c];
    const std::uint64_t inverse = kSizeClasses.inverse[c];
    const unsigned shift = kSizeClasses.shift[c];
    EXPECT_EQ((size >> shift) * inverse, 1u) << "class " << c;
    // Every offset in the superblock and as far again beyond it, then offsets below its start
    // (which wrap) and near the top of the address space.
    const std::uint64_t bytes = std::uint64_t{kSizeClasses.granules[c]} * kSuperblockSize;
    auto check = [&](std::uint64_t offset) {
      const bool start = offset % size == 0 && offset / size < capacity;
      const std::uint64_t index = BlockIndex(offset, inverse, shift);
      if (start) {
        ASSERT_EQ(index, offset / size) << "class " << c << ", offset " << offset;
      } else {
        ASSERT_GE(index, capacity) << "class " << c << ", offset " << offset;
      }
    };
    for (std::uint64_t offset = 0; offset < 2 * bytes; ++offset) check(offset);
    for (std::uint64_t back = 1; back <= bytes; ++back) check(0 - back);
    for (std::uint64_t k = 0; k < 64; ++k) check((std::uint64_t{1} << 63) + k * size);
  }
}

TEST(SizeClass, AlignedClassesAreMultiplesOfTheAlignment) {
  for (std::size_t align = 16; align <= kCacheLine; align *= 2) {
    for (std::size_t n = 0; n <= kLargeThreshold; n += 7) {
      std::uint32_t c = SizeClassOfAligned(n, align);
      ASSERT_LT(c, kSizeClasses.count) << n << " aligned " << align;
      EXPECT_EQ(kSizeClasses.block_size[c] % align, 0u);
      EXPECT_GE(kSizeClasses.block_size[c], n);
    }
  }
}

}  // namespace
}  // namespace halloc
