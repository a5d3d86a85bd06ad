// Over-aligned objects: every power-of-two alignment up to S works through posix_memalign,
// aligned_alloc, memalign and aligned operator new, and alignments up to S/2 (with the object
// no larger than S/2) come from the size classes, not from a mapping of their own: about the
// cost and the memory of a plain malloc of the aligned size.
#include <malloc.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "gtest/gtest.h"
#include "test_util.h"

namespace {

class Aligned : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(halloc_test::WhyNotServed(), "") << "halloc does not serve this process";
    s_ = halloc_test::Params().superblock_size;
  }
  std::size_t s_ = 0;
};

bool IsAligned(const void* p, std::size_t a) {
  return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

struct Way {
  const char* name;
  void* (*alloc)(std::size_t alignment, std::size_t size);
  void (*release)(void* p, std::size_t alignment);
};

void* ViaPosixMemalign(std::size_t a, std::size_t n) {
  void* p = nullptr;
  return posix_memalign(&p, a, n) == 0 ? p : nullptr;
}
void* ViaAlignedAlloc(std::size_t a, std::size_t n) {
  return aligned_alloc(a, (n + a - 1) / a * a);  // C11 wants a multiple of the alignment
}
void* ViaMemalign(std::size_t a, std::size_t n) {
  return memalign(a, n);
}
void* ViaNew(std::size_t a, std::size_t n) {
  return ::operator new(n, std::align_val_t(a));
}
void ReleaseFree(void* p, std::size_t) {
  free(p);
}
void ReleaseDelete(void* p, std::size_t a) {
  ::operator delete(p, std::align_val_t(a));
}

const Way kWays[] = {{"posix_memalign", ViaPosixMemalign, ReleaseFree},
                     {"aligned_alloc", ViaAlignedAlloc, ReleaseFree},
                     {"memalign", ViaMemalign, ReleaseFree},
                     {"operator new(align_val_t)", ViaNew, ReleaseDelete}};

TEST_F(Aligned, EveryPowerOfTwoUpToTheSuperblockSize) {
  for (const Way& way : kWays) {
    for (std::size_t a = 16; a <= s_; a *= 2) {
      for (std::size_t n : {std::size_t{1}, std::size_t{64}, a / 2 + 1, a, 3 * a + 5}) {
        std::vector<void*> live;
        for (int i = 0; i < 20; ++i) {
          void* p = way.alloc(a, n);
          ASSERT_NE(p, nullptr) << way.name << "(" << a << ", " << n << ")";
          ASSERT_TRUE(IsAligned(p, a)) << way.name << "(" << a << ", " << n << ") = " << p;
          ASSERT_GE(malloc_usable_size(p), n);
          std::memset(p, 0x5a, n);
          live.push_back(p);
        }
        for (void* p : live) way.release(p, a);
      }
    }
  }
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Aligned, SmallOverAlignedObjectsComeFromTheSizeClasses) {
  // 100,000 objects of 64 bytes aligned to 128 (the over-aligned C++ type's case) and a few
  // alignments up to S/2: no large objects, and about the memory of a plain malloc of the
  // aligned size.
  for (std::size_t a = 128; a <= s_ / 2; a *= 2) {
    const std::size_t count = a == 128 ? 100000 : 64;
    std::vector<void*> live(count);  // itself a large object: taken before counting
    const halloc_stats before = halloc_test::Stats();
    const std::size_t large_before = before.large_objects;
    for (void*& p : live) {
      ASSERT_EQ(posix_memalign(&p, a, 64), 0);
      ASSERT_TRUE(IsAligned(p, a));
    }
    const halloc_stats during = halloc_test::Stats();
    EXPECT_EQ(during.large_objects, large_before) << "alignment " << a << " took large objects";
    const std::size_t grew = during.superblock_bytes > before.superblock_bytes
                                 ? during.superblock_bytes - before.superblock_bytes
                                 : 0;
    // Each takes one block of size a (64 bytes rounded up to the alignment), plus a partly
    // used superblock per class.
    EXPECT_LE(grew, count * a * 11 / 10 + 4 * s_) << "alignment " << a;
    for (void* p : live) free(p);
  }
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

}  // namespace
