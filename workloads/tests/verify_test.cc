// Verify mode's helper (verify.h): the pattern round-trips at any alignment, a changed stamped
// byte is found at its offset, large blocks are stamped at both ends only, two owners of one
// address stamp differently, a corrupt block ends the process with status 4, and every
// workload runs to the same counts with verify on.
#include "workloads/verify.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "workloads/workload.h"

namespace allocbench {
namespace {

TEST(Verify, PatternRoundTripsAtAnyAlignmentAndFindsAChangedByte) {
  std::vector<unsigned char> buffer(4096 + 16);
  for (size_t shift = 0; shift < 8; ++shift) {
    for (size_t size : {1, 7, 8, 9, 64, 127, 128, 129, 1000, 4096}) {
      unsigned char* block = buffer.data() + shift;
      const uint64_t seed = block_seed(block, size);
      stamp_block(block, size, seed);
      ASSERT_EQ(block_mismatch(block, size, seed), size) << shift << " " << size;
      const bool whole = size <= 2 * kVerifyEdge;
      for (size_t offset : {size_t{0}, size / 2, size - 1}) {
        const bool stamped = whole || offset < kVerifyEdge || offset >= size - kVerifyEdge;
        block[offset] ^= 0x40;
        EXPECT_EQ(block_mismatch(block, size, seed), stamped ? offset : size)
            << "size " << size << " offset " << offset;
        block[offset] ^= 0x40;
      }
    }
  }
}

TEST(Verify, TwoOwnersOfOneAddressStampDifferently) {
  std::vector<unsigned char> block(64);
  stamp_block(block.data(), block.size(), block_seed(block.data(), 1));
  EXPECT_NE(block_mismatch(block.data(), block.size(), block_seed(block.data(), 2)), block.size());
}

TEST(VerifyDeathTest, ACorruptBlockEndsTheProcessWithStatus4) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<unsigned char> block(200);
  const Verifier verifier{true, "test"};
  verifier.stamp(block.data(), block.size(), 7);
  verifier.check(block.data(), block.size(), 7);  // intact: returns
  block[199] ^= 1;
  EXPECT_EXIT(verifier.check(block.data(), block.size(), 7), testing::ExitedWithCode(4),
              "corrupt: test: block 0x[0-9a-f]+ \\(200 bytes\\) byte 199");
  const Verifier off{false, "test"};
  off.check(block.data(), block.size(), 7);  // off: no check at all
}

TEST(Verify, EveryWorkloadRunsToTheSameCountsWithVerifyOn) {
  const std::map<std::string, std::map<std::string, std::string>> small = {
      {"threadtest", {{"objects", "2000"}, {"iterations", "2"}, {"size", "200"}}},
      {"shbench", {{"allocations", "5000"}, {"max_size", "300"}}},
      {"larson", {{"duration_s", "0.02"}, {"slots", "200"}}},
      {"cache-scratch", {{"iterations", "20"}, {"writes", "300"}, {"size", "70"}}},
      {"cache-thrash", {{"iterations", "20"}, {"writes", "300"}}},
      {"prodcons", {{"objects", "5000"}}},
  };
  for (const auto& [name, args] : small) {
    const Workload& workload = *find_workload(name);
    const Params params = resolve_params(workload, args);
    for (bool verify : {false, true}) {
      WorkloadStats stats(workload.slots_per_thread * 2);
      workload.run({.threads = 2, .params = params, .stats = stats, .verify = verify});
      EXPECT_GT(stats.ops(), 0u) << name;
      EXPECT_EQ(stats.live_bytes(), 0) << name;
    }
  }
}

}  // namespace
}  // namespace allocbench
