// Superblocks and the page map, on memory the test maps itself.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <set>
#include <vector>

#include "os.h"
#include "page_map.h"
#include "superblock.h"
#include "thread_cache.h"

namespace halloc {
namespace {

class SuperblockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = OsMap(kBytes, kSuperblockSize, MapPurpose::kSuperblock);
    ASSERT_NE(mem_, nullptr);
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(mem_) % kSuperblockSize, 0u);
    sb_ = NewSuperblockDescriptor();
    ASSERT_NE(sb_, nullptr);
    sb_->memory_.store(static_cast<char*>(mem_));
  }
  void TearDown() override {
    FreeSuperblockDescriptor(sb_);
    OsUnmap(mem_, kBytes, MapPurpose::kSuperblock);
  }
  // Room for the largest superblock of any class.
  static constexpr std::size_t kBytes = kMaxSuperblockGranules * kSuperblockSize;
  void* mem_ = nullptr;
  Superblock* sb_ = nullptr;
};

TEST_F(SuperblockTest, HandsOutEveryBlockOnceAlignedAndInside) {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    Superblock* sb = sb_;
    sb->Format(c);
    std::set<void*> blocks;
    while (!sb->full()) {
      void* p = sb->Pop();
      ASSERT_TRUE(blocks.insert(p).second) << "class " << c;
      ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % kMinAlign, 0u);
      ASSERT_GE(static_cast<char*>(p), sb->memory());
      ASSERT_LE(static_cast<char*>(p) + sb->block_size,
                static_cast<char*>(mem_) + sb->granules() * kSuperblockSize);
      ASSERT_TRUE(sb->IsBlockStart(p));
      ASSERT_FALSE(sb->IsBlockStart(static_cast<char*>(p) + 8));
    }
    EXPECT_EQ(blocks.size(), sb->capacity);
    for (void* p : blocks) sb->Push(p);
    EXPECT_TRUE(sb->empty());
    EXPECT_EQ(sb->bump, 0u) << "an emptied superblock carves from the start again";
  }
}

// An emptied superblock formatted again for its own class keeps its map (a stale pointer still
// reads freed), and hands out every block once; formatted for another class, it reads clean.
TEST_F(SuperblockTest, FormattingForTheSameClassKeepsTheMap) {
  const std::uint32_t c = SizeClassOf(64);
  ASSERT_TRUE(sb_->Format(c));
  void* first = sb_->Pop();
  void* second = sb_->Pop();
  sb_->Push(first);
  sb_->Push(second);
  ASSERT_TRUE(sb_->empty());
  ASSERT_TRUE(sb_->Format(c));
  EXPECT_EQ(sb_->State(sb_->IndexOf(first)), kFreed) << "a double free still reads as one";
  EXPECT_EQ(sb_->State(sb_->capacity - 1), kNeverUsed);
  std::set<void*> blocks;
  while (!sb_->full()) ASSERT_TRUE(blocks.insert(sb_->Pop()).second);
  EXPECT_EQ(blocks.size(), sb_->capacity);
  for (void* p : blocks) sb_->Push(p);
  ASSERT_TRUE(sb_->Format(SizeClassOf(48)));
  for (std::uint32_t i = 0; i < sb_->capacity; ++i)
    ASSERT_EQ(sb_->State(i), kNeverUsed) << "block " << i << " of the new class";
}

TEST_F(SuperblockTest, PushRunFreesItsOwnLeadingBlocksAndStopsAtAnothers) {
  const std::uint32_t c = SizeClassOf(64);
  ASSERT_TRUE(sb_->Format(c));
  Superblock* other = NewSuperblockDescriptor();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->Format(c));
  other->memory_.store(static_cast<char*>(mem_) + kSuperblockSize);  // only its states matter
  HeldBlock held[4];
  ASSERT_EQ(sb_->PopInto(held, 2), 2u);
  ASSERT_EQ(other->PopInto(held + 2, 1), 1u);
  ASSERT_EQ(sb_->PopInto(held + 3, 1), 1u);
  for (const HeldBlock& b : held) {
    const Superblock* of = b.block < static_cast<char*>(mem_) + kSuperblockSize ? sb_ : other;
    EXPECT_EQ(b.state, of->StateByte(of->IndexOf(b.block))) << "each block with its state byte";
  }
  EXPECT_EQ(sb_->PushRun(held + 2, 2), 0u) << "a run starting at another's block is empty";
  EXPECT_EQ(sb_->PushRun(held, 4), 2u);
  EXPECT_EQ(sb_->used, 1u);
  EXPECT_EQ(sb_->State(sb_->IndexOf(held[0].block)), kFreed);
  EXPECT_EQ(sb_->State(sb_->IndexOf(held[1].block)), kFreed);
  EXPECT_EQ(sb_->State(sb_->IndexOf(held[3].block)), kCarved) << "past the run: untouched";
  EXPECT_EQ(other->used, 1u);
  EXPECT_EQ(held[2].state->load(), kCarved);
  EXPECT_EQ(sb_->PushRun(held + 3, 1), 1u);
  EXPECT_TRUE(sb_->empty());
  FreeSuperblockDescriptor(other);
}

TEST_F(SuperblockTest, FreedBlocksAreReusedFirst) {
  Superblock* sb = sb_;
  sb->Format(SizeClassOf(64));
  void* a = sb->Pop();
  void* b = sb->Pop();
  sb->Push(a);
  EXPECT_EQ(sb->Pop(), a);
  EXPECT_EQ(sb->used, 2u);
  EXPECT_NE(a, b);
  EXPECT_FALSE(sb->IsBlockStart(static_cast<char*>(b) + sb->block_size))
      << "a block never carved is not a block start";
}

TEST_F(SuperblockTest, PointersOutsideItsMemoryAreNoBlocks) {
  sb_->Format(SizeClassOf(64));
  while (!sb_->full()) sb_->Pop();
  auto* below = static_cast<char*>(mem_) - 64;
  auto* above = static_cast<char*>(mem_) + kSuperblockSize;
  EXPECT_FALSE(sb_->IsBlockBoundary(below));
  EXPECT_FALSE(sb_->IsBlockBoundary(above));
  EXPECT_TRUE(sb_->IsBlockStart(mem_)) << "blocks start at the superblock's first byte";
}

TEST(SuperblockDescriptor, DescriptorsAreDistinctCacheLinesAndReused) {
  std::set<Superblock*> seen;
  std::vector<Superblock*> taken;
  for (int i = 0; i < 3000; ++i) {  // more than one metadata chunk
    Superblock* sb = NewSuperblockDescriptor();
    ASSERT_NE(sb, nullptr);
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(sb) % kCacheLine, 0u);
    ASSERT_TRUE(seen.insert(sb).second);
    taken.push_back(sb);
  }
  for (Superblock* sb : taken) FreeSuperblockDescriptor(sb);
  Superblock* again = NewSuperblockDescriptor();
  EXPECT_TRUE(seen.count(again)) << "a freed descriptor was not reused";
  FreeSuperblockDescriptor(again);
}

TEST(PageMap, FindsWhatWasEnteredAndNothingElse) {
  PageMap::Entry none = g_page_map.Lookup(reinterpret_cast<void*>(0x1000));
  EXPECT_FALSE(none);
  alignas(64) static char fake_header[64];
  auto* sb = reinterpret_cast<Superblock*>(fake_header);
  void* granule = reinterpret_cast<void*>(std::uintptr_t{77} << kPolicy.superblock_shift);
  ASSERT_TRUE(g_page_map.SetSuperblock(granule, sb));
  EXPECT_EQ(g_page_map.Lookup(granule).superblock(), sb);
  EXPECT_EQ(g_page_map.Lookup(static_cast<char*>(granule) + kSuperblockSize - 1).superblock(), sb);
  EXPECT_FALSE(g_page_map.Lookup(static_cast<char*>(granule) + kSuperblockSize));
  EXPECT_EQ(g_page_map.Lookup(granule).large(), nullptr);
  auto* large = reinterpret_cast<LargeHeader*>(fake_header);
  ASSERT_TRUE(g_page_map.SetLarge(granule, large));
  EXPECT_EQ(g_page_map.Lookup(granule).large(), large);
  EXPECT_EQ(g_page_map.Lookup(granule).superblock(), nullptr);
  g_page_map.Clear(granule);
  EXPECT_FALSE(g_page_map.Lookup(granule));
  EXPECT_FALSE(g_page_map.Lookup(reinterpret_cast<void*>(std::uintptr_t{1} << 50)))
      << "addresses beyond user space are never ours";
}

// free() reads the page map through the thread's last leaf (PageMap::LeafHint): it must find
// exactly what Lookup finds inside that leaf, and say "not here" for every other address.
TEST(PageMap, ALeafHintFindsWhatLookupFindsAndOnlyInItsLeaf) {
  alignas(64) static char fake_header[64];
  auto* sb = reinterpret_cast<Superblock*>(fake_header);
  char* granule = reinterpret_cast<char*>(std::uintptr_t{93} << kPolicy.superblock_shift);
  ASSERT_TRUE(g_page_map.SetSuperblock(granule, sb));
  PageMap::LeafHint hint;
  PageMap::Entry e{1};
  EXPECT_FALSE(g_page_map.Lookup(granule, hint, e)) << "an empty hint names no leaf";
  EXPECT_TRUE(g_page_map.IsValid(hint));
  ASSERT_TRUE(g_page_map.Hint(granule + 8, hint));
  EXPECT_TRUE(g_page_map.IsValid(hint));
  ASSERT_TRUE(g_page_map.Lookup(granule + 8, hint, e));
  EXPECT_EQ(e.superblock(), sb);
  ASSERT_TRUE(g_page_map.Lookup(granule + kSuperblockSize, hint, e)) << "same leaf";
  EXPECT_EQ(e.raw, g_page_map.Lookup(granule + kSuperblockSize).raw);
  // A neighbouring leaf (4 GiB further with 64 KiB granules) and addresses beyond user space.
  const std::uintptr_t leaf_span = std::uintptr_t{1} << (kPolicy.superblock_shift + 16);
  EXPECT_FALSE(g_page_map.Lookup(granule + leaf_span, hint, e));
  EXPECT_FALSE(g_page_map.Lookup(reinterpret_cast<void*>(std::uintptr_t{1} << 50), hint, e));
  EXPECT_FALSE(g_page_map.Hint(reinterpret_cast<void*>(std::uintptr_t{1} << 50), hint));
  EXPECT_FALSE(g_page_map.Lookup(reinterpret_cast<void*>(~std::uintptr_t{0}), hint, e));
  PageMap::LeafHint forged{hint.root, fake_header};
  EXPECT_FALSE(g_page_map.IsValid(forged)) << "the checker catches a wrong leaf";
  g_page_map.Clear(granule);
  ASSERT_TRUE(g_page_map.Lookup(granule, hint, e));
  EXPECT_FALSE(e) << "the hint sees the map's changes: it holds the leaf, not entries";
}

}  // namespace
}  // namespace halloc
