// Bad frees are caught exactly, on every path a free can take: a second free of a small or large
// block aborts with "halloc: free(): double free of 0x...", a block-aligned address malloc never
// handed out and an interior pointer with "... invalid pointer 0x...", and realloc,
// malloc_usable_size and free_sized check the same way. Each case runs in a child process
// (a death test); the parent's heaps stay intact, which the last test checks.
#include <malloc.h>
#include <stdlib.h>

#include <csignal>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "test_util.h"

namespace {

// C23's free_sized, which glibc 2.36's headers do not declare: halloc's, found at run time.
void FreeSized(void* p, std::size_t size) {
  using Fn = void (*)(void*, std::size_t);
  static const auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "free_sized"));
  ASSERT_NE(fn, nullptr) << "free_sized is not exported";
  fn(p, size);
}

// Keeps a result the compiler insists be used.
void Discard(void* p) {
  asm volatile("" : : "r"(p));
}

using halloc_test::Opaque;
using halloc_test::OpaquePtr;

constexpr char kDoubleFree[] = "halloc: free\\(\\): double free of 0x";
constexpr char kInvalidFree[] = "halloc: free\\(\\): invalid pointer 0x";

class BadFree : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_EQ(halloc_test::WhyNotServed(), "") << "halloc does not serve this process";
  }
};

#define EXPECT_ABORTS(statement, message) \
  EXPECT_EXIT(statement, ::testing::KilledBySignal(SIGABRT), message)

// A size served from the thread cache (halloc), and one served without (the largest classes).
std::size_t SmallCached() {
  return 24;
}
std::size_t SmallUncached() {
  return halloc_test::Params().superblock_size / 2 - 100;
}
std::size_t Large() {
  return halloc_test::Params().superblock_size * 2;
}

TEST_F(BadFree, SecondFreeOfASmallBlockAborts) {
  for (std::size_t n : {SmallCached(), SmallUncached()}) {
    EXPECT_ABORTS(
        {
          void* p = malloc(n);
          free(p);
          free(OpaquePtr(p));
        },
        kDoubleFree)
        << n << " bytes";
  }
}

TEST_F(BadFree, SecondFreeWithLiveNeighboursAborts) {
  // The case that used to hand a live neighbour out again.
  for (std::size_t n : {SmallCached(), SmallUncached()}) {
    EXPECT_ABORTS(
        {
          void* a = malloc(n);
          void* b = malloc(n);
          void* c = malloc(n);
          free(b);
          free(OpaquePtr(b));
          free(a);
          free(c);
        },
        kDoubleFree)
        << n << " bytes";
  }
}

TEST_F(BadFree, SecondFreeAfterOtherFreesAndMallocsAborts) {
  // Its neighbours come and go, and the cache overflows into the superblock meanwhile (other
  // classes' churn, so the block itself is not handed out again).
  EXPECT_ABORTS(
      {
        std::vector<void*> same;
        for (int i = 0; i < 1000; ++i) same.push_back(malloc(SmallCached()));
        void* p = same[500];
        free(p);
        for (std::size_t i = 0; i < same.size(); i += 2) {
          if (same[i] != p) free(same[i]);
        }
        std::vector<void*> churn;
        for (int i = 0; i < 5000; ++i) churn.push_back(malloc(100 + 50 * (i % 3)));
        for (void* q : churn) free(q);
        free(OpaquePtr(p));
      },
      kDoubleFree);
}

TEST_F(BadFree, SecondFreeInAThreadThatThenExitsAborts) {
  EXPECT_ABORTS(
      {
        std::thread t([] {
          void* p = malloc(SmallCached());
          free(p);
          free(OpaquePtr(p));
        });
        t.join();
      },
      kDoubleFree);
}

TEST_F(BadFree, SecondFreeFromAnotherThreadAborts) {
  for (std::size_t n : {SmallCached(), SmallUncached()}) {
    EXPECT_ABORTS(
        {
          void* p = malloc(n);
          free(p);
          std::thread t([p] { free(OpaquePtr(p)); });
          t.join();
        },
        kDoubleFree)
        << n << " bytes";
  }
}

TEST_F(BadFree, SecondRemoteFreeAborts) {
  // Both frees from a thread that does not own the block: the first waits in a remote batch.
  EXPECT_ABORTS(
      {
        void* p = malloc(SmallCached());
        std::thread t([p] {
          free(p);
          free(OpaquePtr(p));
        });
        t.join();
      },
      kDoubleFree);
}

TEST_F(BadFree, BlockNeverHandedOutAborts) {
  // Block-aligned addresses inside a live superblock: carved into a cache but never handed out,
  // or not carved at all.
  EXPECT_ABORTS(
      {
        auto* p = static_cast<char*>(malloc(SmallCached()));
        free(OpaquePtr(p + 40 * malloc_usable_size(p)));
      },
      kInvalidFree);
  EXPECT_ABORTS(
      {
        auto* p = static_cast<char*>(malloc(SmallCached()));
        free(OpaquePtr(p + malloc_usable_size(p)));
      },
      kInvalidFree);
}

TEST_F(BadFree, InteriorPointersAbortInEveryCall) {
  auto* p = static_cast<char*>(malloc(64));
  ASSERT_NE(p, nullptr);
  EXPECT_ABORTS(Discard(realloc(OpaquePtr(p + 5), 20)),
                "halloc: realloc\\(\\): invalid pointer 0x");
  EXPECT_ABORTS(Discard(realloc(OpaquePtr(p + 16), 20)),
                "halloc: realloc\\(\\): invalid pointer 0x");
  EXPECT_ABORTS(Discard(reinterpret_cast<void*>(malloc_usable_size(OpaquePtr(p + 16)))),
                "halloc: malloc_usable_size\\(\\): invalid pointer 0x");
  free(p);
}

TEST_F(BadFree, FreedPointersAbortInEveryCall) {
  for (std::size_t n : {SmallCached(), Large()}) {
    EXPECT_ABORTS(
        {
          void* p = malloc(n);
          free(p);
          Discard(realloc(OpaquePtr(p), 100));
        },
        "halloc: realloc\\(\\): freed pointer 0x")
        << n << " bytes";
    EXPECT_ABORTS(
        {
          void* p = malloc(n);
          free(p);
          Discard(reinterpret_cast<void*>(malloc_usable_size(OpaquePtr(p))));
        },
        "halloc: malloc_usable_size\\(\\): freed pointer 0x")
        << n << " bytes";
  }
}

TEST_F(BadFree, FreeSizedChecksItsPointerAndSize) {
  void* p = malloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_ABORTS(FreeSized(OpaquePtr(p), 100000), "halloc: free_sized\\(\\): size larger than");
  EXPECT_ABORTS(
      {
        void* q = malloc(100);
        FreeSized(q, 100);
        FreeSized(OpaquePtr(q), 100);
      },
      "halloc: free_sized\\(\\): freed pointer 0x");
  FreeSized(p, 100);  // the right size is accepted
}

TEST_F(BadFree, SecondFreeOfALargeObjectAborts) {
  EXPECT_ABORTS(
      {
        void* p = malloc(Large());
        free(p);
        free(OpaquePtr(p));
      },
      kDoubleFree);
}

TEST_F(BadFree, SecondFreeOfARetainedBufferAborts) {
  // Buffers above the thread's spare go to the shared cache of freed mappings (halloc), which
  // splits them to serve smaller requests: the old pointer still reads as freed.
  EXPECT_ABORTS(
      {
        void* p = malloc(Opaque(std::size_t{12} << 20));
        memset(p, 1, std::size_t{12} << 20);
        free(p);
        free(OpaquePtr(p));
      },
      kDoubleFree);
  EXPECT_ABORTS(
      {
        std::vector<void*> buffers;
        for (int i = 0; i < 4; ++i) buffers.push_back(malloc(Opaque(std::size_t{12} << 20)));
        for (void* p : buffers) free(p);
        void* q = malloc(Opaque(std::size_t{5} << 20));  // a split of a retained buffer
        free(q);
        free(OpaquePtr(buffers[0] == q ? buffers[1] : buffers[0]));
      },
      "halloc: free\\(\\): (double free of|invalid pointer) 0x");
}

TEST_F(BadFree, SecondFreeOfALargeObjectAbortsAfterItsRangeIsReused) {
  // Enough small blocks afterwards that superblocks are mapped wherever the kernel has room,
  // including the large objects' old ranges if superblocks could land there; 64-byte blocks
  // put one at the offset where a large object's address was.
  EXPECT_ABORTS(
      {
        std::vector<void*> large;
        for (int i = 0; i < 64; ++i) large.push_back(malloc(Large() * (1 + i % 7)));
        for (void* p : large) free(p);
        std::vector<void*> small;
        for (int i = 0; i < 40000; ++i) small.push_back(malloc(64));
        for (void* p : large) free(OpaquePtr(p));  // the first aborts
      },
      "halloc: free\\(\\): (double free of|invalid pointer) 0x");
}

TEST_F(BadFree, ValidFreesStillWorkAfterwards) {
  // The death tests ran in children: this process's heaps are intact.
  for (int i = 0; i < 1000; ++i) free(malloc(static_cast<std::size_t>(i)));
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

}  // namespace
