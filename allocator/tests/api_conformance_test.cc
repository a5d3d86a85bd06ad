// API conformance: every libc malloc-family rule (glibc semantics) and every C++ operator
// new/delete form, checked against whichever halloc variant serves this process (linked or
// LD_PRELOAD, see test_util.h). Each test first asserts that halloc, not glibc, serves malloc.
#include <errno.h>
#include <malloc.h>
#include <stdint.h>

#include <cstdlib>
#include <functional>
#include <new>
#include <vector>

#include "gtest/gtest.h"
#include "test_util.h"

using halloc_test::Opaque;

extern "C" {
// Not declared by glibc 2.36; halloc exports them.
void free_sized(void*, size_t);
void free_aligned_sized(void*, size_t, size_t);
void cfree(void*);
}

namespace {

// In a linked binary call halloc's exports by name; under LD_PRELOAD find them with dlsym so
// the binary does not need glibc to define them.
#ifdef HALLOC_TEST_PRELOAD
#define HALLOC_EXPORT(name) reinterpret_cast<decltype(&name)>(dlsym(RTLD_DEFAULT, #name))
#else
#define HALLOC_EXPORT(name) (&name)
#endif

bool Aligned(const void* p, std::size_t a) {
  return reinterpret_cast<uintptr_t>(p) % a == 0;
}

class Conformance : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = halloc_test::WhyNotServed();
    ASSERT_EQ(why, "") << "halloc does not serve this process";
    params_ = halloc_test::Params();
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  }
  // A size above S/2: served as a large object straight from the OS.
  std::size_t LargeSize() const { return params_.superblock_size / 2 + 1; }
  std::size_t LargeObjects() const { return halloc_test::Stats().large_objects; }

  halloc_params params_{};
  std::size_t page_ = 4096;
};

TEST_F(Conformance, MallocIsServedByHalloc) {
  std::size_t before = halloc_test::LiveBytes();
  std::vector<void*> blocks;
  for (int i = 0; i < 256; ++i) blocks.push_back(malloc(Opaque(1000)));
  EXPECT_GE(halloc_test::LiveBytes(), before + 128 * 1000) << "malloc did not reach halloc's heaps";
  for (void* p : blocks) free(p);
  std::size_t large_before = LargeObjects();
  void* big = malloc(LargeSize());
  EXPECT_EQ(LargeObjects(), large_before + 1);
  free(big);
  EXPECT_EQ(LargeObjects(), large_before);
}

TEST_F(Conformance, MallocZeroReturnsUniqueFreeablePointers) {
  std::vector<void*> blocks;
  for (int i = 0; i < 100; ++i) {
    void* p = malloc(Opaque(0));
    ASSERT_NE(p, nullptr);
    for (void* q : blocks) ASSERT_NE(p, q) << "malloc(0) returned the same pointer twice";
    blocks.push_back(p);
  }
  for (void* p : blocks) free(p);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Conformance, ZeroSizedRequestsOfEveryKindAreUniqueBlocks) {
  std::vector<void*> blocks;
  auto keep = [&](void* p, std::size_t align, const char* how) {
    ASSERT_NE(p, nullptr) << how << " align " << align;
    ASSERT_TRUE(Aligned(p, align)) << how << " align " << align;
    for (void* q : blocks) ASSERT_NE(p, q) << how << " align " << align << " returned a live block";
    malloc_usable_size(p);  // must know the pointer (aborts on a foreign one)
    blocks.push_back(p);
  };
  for (int i = 0; i < 8; ++i) {
    keep(calloc(0, 0), 16, "calloc(0, 0)");
    keep(realloc(nullptr, 0), 16, "realloc(NULL, 0)");
    keep(valloc(0), page_, "valloc(0)");
    for (std::size_t a = 16; a <= (std::size_t{1} << 20); a *= 2) {
      keep(aligned_alloc(a, 0), a, "aligned_alloc(a, 0)");
      keep(memalign(a, 0), a, "memalign(a, 0)");
      void* p = nullptr;
      ASSERT_EQ(posix_memalign(&p, a, 0), 0);
      keep(p, a, "posix_memalign(a, 0)");
    }
  }
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
  for (void* p : blocks) free(p);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
  EXPECT_EQ(malloc_usable_size(nullptr), 0u);
}

TEST_F(Conformance, AlignmentsBeyondTheSuperblockAreHonoured) {
  for (std::size_t a : {params_.superblock_size, 2 * params_.superblock_size, std::size_t{1} << 20,
                        std::size_t{4} << 20}) {
    for (std::size_t n : {std::size_t{1}, std::size_t{100}, a / 2, a + 1}) {
      SCOPED_TRACE(std::to_string(a) + " / " + std::to_string(n));
      void* p = aligned_alloc(a, n);
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(Aligned(p, a));
      ASSERT_GE(malloc_usable_size(p), n);
      memset(p, 0x77, malloc_usable_size(p));
      void* q = nullptr;
      ASSERT_EQ(posix_memalign(&q, a, n), 0);
      EXPECT_TRUE(Aligned(q, a));
      memset(q, 0x78, n);
      free(p);
      free(q);
    }
  }
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Conformance, ImpossibleSizesFailWithEnomem) {
  const std::size_t kTooBig[] = {SIZE_MAX, SIZE_MAX - 4096, std::size_t{PTRDIFF_MAX} + 1,
                                 std::size_t{PTRDIFF_MAX} + 4096 * 8};
  for (std::size_t n : kTooBig) {
    SCOPED_TRACE(n);
    errno = 0;
    EXPECT_EQ(malloc(Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(calloc(1, Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(valloc(Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(pvalloc(Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(aligned_alloc(64, Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(memalign(4096, Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    void* untouched = &errno;
    void* p = untouched;
    errno = 0;
    EXPECT_EQ(posix_memalign(&p, 64, Opaque(n)), ENOMEM);
    EXPECT_EQ(errno, ENOMEM) << "posix_memalign sets errno as glibc does";
    EXPECT_EQ(p, untouched) << "posix_memalign wrote *p on failure";

    // realloc fails and leaves the old block alone.
    char* old = static_cast<char*>(malloc(100));
    halloc_test::Fill(old, 100, 7);
    errno = 0;
    EXPECT_EQ(realloc(old, Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(halloc_test::FirstMismatch(old, 100, 7), 100u);
    free(old);
  }
}

TEST_F(Conformance, CountTimesSizeOverflowFailsWithEnomem) {
  const std::pair<std::size_t, std::size_t> kPairs[] = {
      {SIZE_MAX / 2 + 1, 2},
      {2, SIZE_MAX / 2 + 1},
      {std::size_t{1} << 32, std::size_t{1} << 32},
      {SIZE_MAX, SIZE_MAX},
      {std::size_t{PTRDIFF_MAX} / 2 + 1, 2}};  // last: = PTRDIFF_MAX + 1
  for (auto [count, size] : kPairs) {
    SCOPED_TRACE(std::to_string(count) + " x " + std::to_string(size));
    errno = 0;
    EXPECT_EQ(calloc(Opaque(count), Opaque(size)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(reallocarray(nullptr, Opaque(count), Opaque(size)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    void* p = malloc(16);
    errno = 0;
    // Opaque: the compiler must not assume p is gone; a failed reallocarray leaves it allocated.
    EXPECT_EQ(reallocarray(halloc_test::OpaquePtr(p), Opaque(count), Opaque(size)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    free(p);
  }
}

TEST_F(Conformance, RoundingUpToAPageOverflowFailsWithEnomem) {
  // Fits in size_t, but not once rounded up to a page (pvalloc) or padded for alignment.
  for (std::size_t n : {SIZE_MAX - 1, SIZE_MAX - page_ + 2}) {
    SCOPED_TRACE(n);
    errno = 0;
    EXPECT_EQ(pvalloc(Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(valloc(Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(memalign(65536, Opaque(n)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
  }
}

TEST_F(Conformance, AlignmentNotAPowerOfTwoIsEinval) {
  for (std::size_t a : {3, 24, 48, 100, 4097, 65536 + 8}) {
    SCOPED_TRACE(a);
    errno = 0;
    EXPECT_EQ(memalign(Opaque(a), 64), nullptr);
    EXPECT_EQ(errno, EINVAL);
    errno = 0;
    EXPECT_EQ(aligned_alloc(Opaque(a), 96), nullptr);
    EXPECT_EQ(errno, EINVAL);
  }
  // posix_memalign also wants a multiple of sizeof(void*), and never touches *p on error.
  for (std::size_t a : {0, 1, 2, 4, 12, 24, 48, 100, 4097}) {
    SCOPED_TRACE(a);
    void* untouched = &errno;
    void* p = untouched;
    EXPECT_EQ(posix_memalign(&p, Opaque(a), 64), EINVAL);
    EXPECT_EQ(p, untouched);
  }
}

TEST_F(Conformance, ReallocToZeroFreesAndReturnsNull) {
  void* small = malloc(100);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(realloc(small, 0), nullptr);

  std::size_t before = LargeObjects();
  void* large = malloc(LargeSize());
  ASSERT_EQ(LargeObjects(), before + 1);
  EXPECT_EQ(realloc(large, 0), nullptr);
  EXPECT_EQ(LargeObjects(), before) << "realloc(p, 0) did not free p";
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Conformance, ReallocOfNullIsMalloc) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{100}, LargeSize()}) {
    void* p = realloc(nullptr, n);
    ASSERT_NE(p, nullptr);
    EXPECT_GE(malloc_usable_size(p), n);
    EXPECT_TRUE(Aligned(p, 16));
    memset(p, 0x5a, n);
    free(p);
  }
}

TEST_F(Conformance, ReallocPreservesContents) {
  const std::size_t s = params_.superblock_size;
  // Through the size classes into large objects and back; then big jumps both ways.
  std::vector<std::size_t> sizes = {1,         8,   15,        16,      17,           48,
                                    100,       257, 1000,      4000,    s / 2 - 16,   s / 2,
                                    s / 2 + 1, s,   3 * s + 5, 1 << 20, (5 << 20) + 3};
  std::vector<std::size_t> walk = sizes;
  for (std::size_t i = sizes.size() - 1; i-- > 0;) walk.push_back(sizes[i]);
  for (std::size_t n : {std::size_t{1} << 20, std::size_t{3}, std::size_t{5} << 20, std::size_t{40},
                        s / 2 + 1, std::size_t{16}, std::size_t{1}}) {
    walk.push_back(n);
  }
  std::size_t current = walk[0];
  void* p = malloc(current);
  halloc_test::Fill(p, current, current);
  for (std::size_t i = 1; i < walk.size(); ++i) {
    std::size_t next = walk[i];
    SCOPED_TRACE(std::to_string(current) + " -> " + std::to_string(next));
    void* q = realloc(p, next);
    ASSERT_NE(q, nullptr);
    std::size_t keep = std::min(current, next);
    ASSERT_EQ(halloc_test::FirstMismatch(q, keep, current), keep) << "contents lost";
    ASSERT_GE(malloc_usable_size(q), next);
    EXPECT_TRUE(Aligned(q, 16));
    halloc_test::Fill(q, next, next);
    p = q;
    current = next;
  }
  free(p);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Conformance, FreeOfNullDoesNothing) {
  std::size_t live = halloc_test::LiveBytes();
  errno = 1234;
  free(nullptr);
  EXPECT_EQ(errno, 1234);
  EXPECT_EQ(halloc_test::LiveBytes(), live);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Conformance, FreePreservesErrno) {
  // Small, medium, large and huge: the large ones go back to the OS (munmap/madvise).
  for (std::size_t n : {std::size_t{16}, std::size_t{3000}, LargeSize(), std::size_t{8} << 20}) {
    SCOPED_TRACE(n);
    std::vector<void*> blocks;
    for (int i = 0; i < 64; ++i) blocks.push_back(malloc(n));
    for (void* p : blocks) {
      errno = 1234;
      free(p);
      ASSERT_EQ(errno, 1234);
    }
  }
}

TEST_F(Conformance, MallocResultsAre16ByteAligned) {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 4096; ++n) sizes.push_back(n);
  for (std::size_t n = 4096; n <= (1 << 20); n = n * 9 / 8 + 1) sizes.push_back(n);
  for (std::size_t n : {1 << 20, (1 << 20) + 1, 3 << 20, (16 << 20) + 17}) sizes.push_back(n);
  for (std::size_t n : sizes) {
    void* p = malloc(n);
    ASSERT_NE(p, nullptr) << n;
    ASSERT_TRUE(Aligned(p, 16)) << "malloc(" << n << ") = " << p;
    ASSERT_GE(malloc_usable_size(p), n);
    free(p);
  }
}

// Frees beyond what a thread cache holds for a class must go back, in every variant and class,
// also where two neighbouring classes are in use at once (a class whose cache held one block
// once pushed past its end, into its neighbour's: both then handed out the same blocks).
TEST_F(Conformance, FreesBeyondTheCacheOfEveryClassKeepBlocksApart) {
  const std::size_t s = params_.superblock_size;
  for (std::size_t size = 16; size <= s / 2; size += size / 8) {
    SCOPED_TRACE(size);
    const std::size_t next = size + size / 8;
    std::vector<unsigned char*> small, large;
    for (int i = 0; i < 24; ++i) {
      small.push_back(static_cast<unsigned char*>(malloc(size)));
      large.push_back(static_cast<unsigned char*>(malloc(next)));
    }
    for (unsigned char* p : small) free(p);
    small.clear();
    for (int i = 0; i < 24; ++i) {
      large.push_back(static_cast<unsigned char*>(malloc(next)));
      small.push_back(static_cast<unsigned char*>(malloc(size)));
    }
    // Every live block is distinct and holds its own bytes.
    std::vector<std::pair<unsigned char*, std::size_t>> live;
    for (unsigned char* p : small) live.push_back({p, size});
    for (unsigned char* p : large) live.push_back({p, next});
    for (std::size_t i = 0; i < live.size(); ++i) {
      ASSERT_NE(live[i].first, nullptr);
      memset(live[i].first, static_cast<int>(i), live[i].second);
    }
    for (std::size_t i = 0; i < live.size(); ++i) {
      for (std::size_t k = 0; k < live[i].second; k += 7)
        ASSERT_EQ(live[i].first[k], static_cast<unsigned char>(i)) << "block " << i << " shared";
    }
    for (auto& [p, n] : live) free(p);
  }
}

TEST_F(Conformance, CallocZeroesReusedMemory) {
  const std::size_t s = params_.superblock_size;
  for (std::size_t n : {std::size_t{8}, std::size_t{64}, std::size_t{1000}, s / 2 - 8, s / 2 + 1,
                        2 * s, std::size_t{1} << 20}) {
    SCOPED_TRACE(n);
    for (int round = 0; round < 3; ++round) {
      std::vector<void*> blocks;
      for (int i = 0; i < 32; ++i) {
        void* p = malloc(n);
        memset(p, 0xAB, malloc_usable_size(p));  // dirty every usable byte
        blocks.push_back(p);
      }
      for (void* p : blocks) free(p);
      blocks.clear();
      for (int i = 0; i < 32; ++i) {
        auto* p = static_cast<unsigned char*>(calloc(1, n));
        ASSERT_NE(p, nullptr);
        for (std::size_t j = 0; j < n; ++j) ASSERT_EQ(p[j], 0) << "byte " << j << " of " << n;
        blocks.push_back(p);
      }
      for (void* p : blocks) free(p);
    }
  }
}

TEST_F(Conformance, UsableSizeCoversRequestAndIsWritable) {
  std::vector<void*> blocks;
  auto use = [&](void* p, std::size_t n, std::size_t align, const char* how) {
    ASSERT_NE(p, nullptr) << how << " " << n << " align " << align;
    ASSERT_TRUE(Aligned(p, align)) << how << " " << n << " align " << align;
    std::size_t usable = malloc_usable_size(p);
    ASSERT_GE(usable, n) << how << " " << n << " align " << align;
    memset(p, 0xC3, usable);  // the whole usable size is ours
    blocks.push_back(p);
  };
  const std::size_t sizes[] = {0, 1, 24, 100, 1000, params_.superblock_size / 2 + 1, 200000};
  for (std::size_t n : sizes) {
    use(malloc(n), n, 16, "malloc");
    use(calloc(1, n), n, 16, "calloc");
    use(valloc(n), n, page_, "valloc");
    use(pvalloc(n), n, page_, "pvalloc");
    for (std::size_t a = 16; a <= 65536; a *= 2) {
      void* p = nullptr;
      ASSERT_EQ(posix_memalign(&p, a, n), 0);
      use(p, n, a, "posix_memalign");
      use(aligned_alloc(a, n), n, a, "aligned_alloc");
      use(memalign(a, n), n, a, "memalign");
    }
  }
  EXPECT_EQ(halloc_test::CheckInvariants(), "") << "a usable-size write overflowed a block";
  for (void* p : blocks) free(p);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Conformance, VallocAndPvallocArePageAligned) {
  for (std::size_t n : {std::size_t{1}, std::size_t{100}, page_ - 1, page_, page_ + 1,
                        3 * page_ + 7, std::size_t{1} << 20}) {
    SCOPED_TRACE(n);
    void* v = valloc(n);
    ASSERT_NE(v, nullptr);
    EXPECT_TRUE(Aligned(v, page_));
    EXPECT_GE(malloc_usable_size(v), n);
    void* pv = pvalloc(n);
    ASSERT_NE(pv, nullptr);
    EXPECT_TRUE(Aligned(pv, page_));
    std::size_t rounded = (n + page_ - 1) / page_ * page_;
    EXPECT_GE(malloc_usable_size(pv), rounded) << "pvalloc must round up to a page";
    memset(pv, 1, rounded);
    free(v);
    free(pv);
  }
  void* pv0 = pvalloc(0);  // glibc: rounds 0 up to one page
  ASSERT_NE(pv0, nullptr);
  EXPECT_TRUE(Aligned(pv0, page_));
  free(pv0);
}

TEST_F(Conformance, CfreeFreeSizedAndFreeAlignedSizedFree) {
  auto* cfree_fn = HALLOC_EXPORT(cfree);
  auto* free_sized_fn = HALLOC_EXPORT(free_sized);
  auto* free_aligned_sized_fn = HALLOC_EXPORT(free_aligned_sized);
  ASSERT_NE(cfree_fn, nullptr) << "cfree not exported";
  ASSERT_NE(free_sized_fn, nullptr) << "free_sized not exported";
  ASSERT_NE(free_aligned_sized_fn, nullptr) << "free_aligned_sized not exported";

  // Large objects make "it was freed" observable exactly.
  const std::size_t n = LargeSize();
  std::size_t before = LargeObjects();
  void* a = malloc(n);
  void* b = malloc(n);
  void* c = aligned_alloc(4096, n);
  ASSERT_TRUE(Aligned(c, 4096));
  ASSERT_EQ(LargeObjects(), before + 3);
  cfree_fn(a);
  EXPECT_EQ(LargeObjects(), before + 2) << "cfree did not free";
  free_sized_fn(b, n);
  EXPECT_EQ(LargeObjects(), before + 1) << "free_sized did not free";
  free_aligned_sized_fn(c, 4096, n);
  EXPECT_EQ(LargeObjects(), before) << "free_aligned_sized did not free";

  // And small ones: many of them, then the invariants.
  for (int i = 0; i < 1000; ++i) {
    std::size_t sz = 1 + i % 300;
    cfree_fn(malloc(sz));
    free_sized_fn(malloc(sz), sz);
    free_aligned_sized_fn(aligned_alloc(64, sz * 64), 64, sz * 64);
  }
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

// Allocates with `alloc` and frees with `dealloc`, checking that halloc served every pointer:
// a large request adds exactly one large object, a batch of small ones raises halloc's in-use
// bytes, and every pointer has the alignment asked for.
template <class Alloc, class Dealloc>
void CheckNewForm(const char* form, std::size_t align, std::size_t large, Alloc alloc,
                  Dealloc dealloc) {
  SCOPED_TRACE(std::string(form) + " align " + std::to_string(align));
  std::size_t before = halloc_test::Stats().large_objects;
  void* big = alloc(large);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(halloc_test::Stats().large_objects, before + 1) << "not a halloc large object";
  EXPECT_TRUE(Aligned(big, align));
  EXPECT_GE(malloc_usable_size(big), large);
  memset(big, 0x11, large);
  dealloc(big, large);
  EXPECT_EQ(halloc_test::Stats().large_objects, before) << "delete did not free";

  const std::size_t n = 1000;
  const int count = 256;
  std::size_t live = halloc_test::LiveBytes();
  std::vector<void*> blocks;
  for (int i = 0; i < count; ++i) {
    void* p = alloc(n);
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(Aligned(p, align)) << p;
    ASSERT_GE(malloc_usable_size(p), n);
    memset(p, 0x22, n);
    blocks.push_back(p);
  }
  // Half the batch tolerates blocks a thread cache held before.
  EXPECT_GE(halloc_test::LiveBytes(), live + count * n / 2) << "small new not served by halloc";
  for (void* p : blocks) dealloc(p, n);
}

TEST_F(Conformance, EveryOperatorNewFormAllocatesThroughHalloc) {
  const std::size_t large = LargeSize();
  const auto& nt = std::nothrow;
  CheckNewForm(
      "new/delete", 16, large, [](std::size_t n) { return ::operator new(n); },
      [](void* p, std::size_t) { ::operator delete(p); });
  CheckNewForm(
      "new/sized delete", 16, large, [](std::size_t n) { return ::operator new(n); },
      [](void* p, std::size_t n) { ::operator delete(p, n); });
  CheckNewForm(
      "new[]/delete[]", 16, large, [](std::size_t n) { return ::operator new[](n); },
      [](void* p, std::size_t) { ::operator delete[](p); });
  CheckNewForm(
      "new[]/sized delete[]", 16, large, [](std::size_t n) { return ::operator new[](n); },
      [](void* p, std::size_t n) { ::operator delete[](p, n); });
  CheckNewForm(
      "nothrow new/delete", 16, large, [&](std::size_t n) { return ::operator new(n, nt); },
      [&](void* p, std::size_t) { ::operator delete(p, nt); });
  CheckNewForm(
      "nothrow new[]/delete[]", 16, large, [&](std::size_t n) { return ::operator new[](n, nt); },
      [&](void* p, std::size_t) { ::operator delete[](p, nt); });
  for (std::size_t a : {std::size_t{32}, std::size_t{64}, std::size_t{256}, std::size_t{4096},
                        std::size_t{65536}}) {
    const auto al = std::align_val_t{a};
    CheckNewForm(
        "aligned new/delete", a, large, [&](std::size_t n) { return ::operator new(n, al); },
        [&](void* p, std::size_t) { ::operator delete(p, al); });
    CheckNewForm(
        "aligned new/sized delete", a, large, [&](std::size_t n) { return ::operator new(n, al); },
        [&](void* p, std::size_t n) { ::operator delete(p, n, al); });
    CheckNewForm(
        "aligned new[]/delete[]", a, large, [&](std::size_t n) { return ::operator new[](n, al); },
        [&](void* p, std::size_t) { ::operator delete[](p, al); });
    CheckNewForm(
        "aligned new[]/sized delete[]", a, large,
        [&](std::size_t n) { return ::operator new[](n, al); },
        [&](void* p, std::size_t n) { ::operator delete[](p, n, al); });
    CheckNewForm(
        "aligned nothrow new/delete", a, large,
        [&](std::size_t n) { return ::operator new(n, al, nt); },
        [&](void* p, std::size_t) { ::operator delete(p, al, nt); });
    CheckNewForm(
        "aligned nothrow new[]/delete[]", a, large,
        [&](std::size_t n) { return ::operator new[](n, al, nt); },
        [&](void* p, std::size_t) { ::operator delete[](p, al, nt); });
  }
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

struct alignas(256) Overaligned {
  char bytes[300];
};

TEST_F(Conformance, NewExpressionsHonourAlignment) {
  std::vector<Overaligned*> one;
  std::vector<Overaligned*> many;
  for (int i = 0; i < 100; ++i) {
    one.push_back(new Overaligned);
    many.push_back(new Overaligned[Opaque(3 + i % 5)]);
    ASSERT_TRUE(Aligned(one.back(), 256));
    ASSERT_TRUE(Aligned(many.back(), 256));
  }
  for (auto* p : one) delete p;
  for (auto* p : many) delete[] p;
}

TEST_F(Conformance, HugeOperatorNewThrowsAndNothrowReturnsNull) {
  for (std::size_t n : {SIZE_MAX, SIZE_MAX / 2, std::size_t{PTRDIFF_MAX} + 1}) {
    SCOPED_TRACE(n);
    EXPECT_THROW((void)::operator new(Opaque(n)), std::bad_alloc);
    EXPECT_THROW((void)::operator new[](Opaque(n)), std::bad_alloc);
    // libstdc++'s own aligned new gets this wrong (its size rounding wraps to 0); halloc
    // replaces it, so it must not.
    EXPECT_THROW((void)::operator new (Opaque(n), std::align_val_t{64}), std::bad_alloc);
    EXPECT_THROW((void)::operator new[](Opaque(n), std::align_val_t{4096}), std::bad_alloc);
    errno = 0;
    EXPECT_EQ(::operator new(Opaque(n), std::nothrow), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(::operator new[](Opaque(n), std::nothrow), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(::operator new (Opaque(n), std::align_val_t{64}, std::nothrow), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(::operator new[](Opaque(n), std::align_val_t{64}, std::nothrow), nullptr);
    EXPECT_EQ(errno, ENOMEM);
  }
}

// The new-handler: operator new calls it after each failure and retries until it succeeds,
// the handler throws, or no handler is left (then bad_alloc). halloc reaches the handler and
// bad_alloc through the program's libstdc++ (it links no C++ runtime), so these also show it
// finds them.
int g_handler_calls = 0;

void GiveUpOnTheThirdCall() {
  if (++g_handler_calls == 3) std::set_new_handler(nullptr);
}

void ThrowBadAlloc() {
  ++g_handler_calls;
  throw std::bad_alloc();
}

TEST_F(Conformance, OperatorNewCallsTheNewHandlerUntilItGivesUp) {
  const std::size_t n = Opaque(SIZE_MAX / 2);
  const std::function<void*()> forms[] = {
      [n] { return ::operator new(n); },
      [n] { return ::operator new[](n); },
      [n] { return ::operator new (n, std::align_val_t{64}); },
      [n] { return ::operator new[](n, std::align_val_t{4096}); },
  };
  for (const auto& form : forms) {
    g_handler_calls = 0;
    std::set_new_handler(GiveUpOnTheThirdCall);
    EXPECT_THROW((void)form(), std::bad_alloc);
    EXPECT_EQ(g_handler_calls, 3);
    g_handler_calls = 0;
    std::set_new_handler(ThrowBadAlloc);
    EXPECT_THROW((void)form(), std::bad_alloc);
    EXPECT_EQ(g_handler_calls, 1);
  }
  std::set_new_handler(nullptr);
}

TEST_F(Conformance, NothrowNewReturnsNullWhereTheNewHandlerThrows) {
  const std::size_t n = Opaque(SIZE_MAX / 2);
  const std::function<void*()> forms[] = {
      [n] { return ::operator new(n, std::nothrow); },
      [n] { return ::operator new[](n, std::nothrow); },
      [n] { return ::operator new (n, std::align_val_t{64}, std::nothrow); },
      [n] { return ::operator new[](n, std::align_val_t{4096}, std::nothrow); },
  };
  for (const auto& form : forms) {
    for (std::new_handler handler : {ThrowBadAlloc, GiveUpOnTheThirdCall}) {
      g_handler_calls = 0;
      std::set_new_handler(handler);
      errno = 0;
      EXPECT_EQ(form(), nullptr);
      EXPECT_EQ(errno, ENOMEM);
      EXPECT_EQ(g_handler_calls, handler == ThrowBadAlloc ? 1 : 3);
    }
  }
  std::set_new_handler(nullptr);
}

}  // namespace
