// Invalid pointer policy: free() of a pointer halloc never handed out aborts (SIGABRT) with
// "halloc: free(): invalid pointer 0x..." on stderr, instead of corrupting a heap.
#include <stdlib.h>
#include <sys/mman.h>

#include <csignal>

#include "gtest/gtest.h"
#include "test_util.h"

namespace {

constexpr char kMessage[] = "halloc: free\\(\\): invalid pointer 0x";

class InvalidPointer : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_EQ(halloc_test::WhyNotServed(), "") << "halloc does not serve this process";
  }
};

// Frees p in a child process and expects halloc's abort with its message.
#define EXPECT_FREE_ABORTS(p)                                                                \
  EXPECT_EXIT(free(halloc_test::OpaquePtr(p)), ::testing::KilledBySignal(SIGABRT), kMessage) \
      << "free(" #p ")"

TEST_F(InvalidPointer, StackAddressAborts) {
  char on_stack[64];
  EXPECT_FREE_ABORTS(on_stack);
  EXPECT_FREE_ABORTS(on_stack + 16);
}

TEST_F(InvalidPointer, AddressInForeignMappingAborts) {
  // A mapping halloc never saw, at addresses that look like superblock or large-object starts.
  const std::size_t len = std::size_t{4} << 20;
  auto* region = static_cast<char*>(
      mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(region, MAP_FAILED);
  const std::size_t s = halloc_test::Params().superblock_size;
  char* superblock_aligned = region + (s - reinterpret_cast<uintptr_t>(region) % s) % s;
  EXPECT_FREE_ABORTS(region);
  EXPECT_FREE_ABORTS(region + 4096);
  EXPECT_FREE_ABORTS(superblock_aligned);
  EXPECT_FREE_ABORTS(superblock_aligned + 64);
  munmap(region, len);
}

TEST_F(InvalidPointer, GlobalDataAborts) {
  static char global_data[256];
  EXPECT_FREE_ABORTS(global_data + 32);
}

TEST_F(InvalidPointer, PointerInsideSmallBlockAborts) {
  for (std::size_t n : {std::size_t{64}, std::size_t{1000}}) {
    char* p = static_cast<char*>(malloc(n));
    ASSERT_NE(p, nullptr);
    EXPECT_FREE_ABORTS(p + 8);   // misaligned
    EXPECT_FREE_ABORTS(p + 16);  // aligned, but not where a block starts
    free(p);
  }
}

TEST_F(InvalidPointer, PointerInsideLargeObjectAborts) {
  const std::size_t n = halloc_test::Params().superblock_size * 4;
  char* p = static_cast<char*>(malloc(n));
  ASSERT_NE(p, nullptr);
  EXPECT_FREE_ABORTS(p + 8);
  EXPECT_FREE_ABORTS(p + 4096);  // page-aligned, inside the object
  free(p);
}

TEST_F(InvalidPointer, SecondFreeOfALargeObjectAborts) {
  // Its mapping is gone, or kept for reuse with no live object in it: either way the page map
  // remembers the address as a large object's that was freed.
  const std::size_t n = halloc_test::Params().superblock_size * 2;
  char* p = static_cast<char*>(malloc(n));
  ASSERT_NE(p, nullptr);
  // Both frees in the child, so no allocation in between can take the address again.
  EXPECT_EXIT(
      {
        free(p);
        free(halloc_test::OpaquePtr(p));
      },
      ::testing::KilledBySignal(SIGABRT), "halloc: free\\(\\): double free of 0x");
  free(p);  // still live here in the parent
}

TEST_F(InvalidPointer, ValidFreesStillWorkAfterwards) {
  // The death tests above ran in children: this process's heaps are intact.
  for (int i = 0; i < 1000; ++i) free(malloc(static_cast<std::size_t>(i)));
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

}  // namespace
