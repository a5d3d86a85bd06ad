// The workloads of issue 11's shapes (size-mix, mass-alloc, large-buffers) as a user runs them,
// under real allocators: they complete with the operations and peak live bytes their parameters
// say; mass-alloc writes nothing to its blocks unless verify mode stamps them; large-buffers
// catches a calloc that hands out dirty memory.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/child_process.h"
#include "harness/run_record.h"
#include "harness/tests/allocbench_child.h"

namespace allocbench {
namespace {

Json run_ok(const std::vector<std::string>& args, const std::string& preload) {
  const ChildResult result = run_allocbench(args, preload);
  EXPECT_EQ(result.exit_status, 0) << preload << ": " << result.err;
  return result.exit_status == 0 ? Json::parse(result.out) : Json::object();
}

const std::vector<std::string> kAllocators = {"", HALLOC_SO};  // glibc and halloc

TEST(Shapes, SizeMixCountsItsReplacementsAndHoldsItsWorkingSet) {
  for (const std::string& preload : kAllocators) {
    // One size, so the working set's bytes are exact: 2 threads x 300 blocks x 1000 bytes.
    const Json fixed =
        run_ok({"run", "size-mix", "--threads", "2", "--blocks", "300", "--replacements", "20000",
                "--min_size", "1000", "--max_size", "1000"},
               preload);
    EXPECT_EQ(fixed["status"], "ok");
    EXPECT_EQ(fixed["ops"], 20000);
    EXPECT_EQ(fixed["peak_live_bytes"], 2 * 300 * 1000);
    // The default sizes: a working set of 1000 blocks of 4 B..32 KiB (mean about 3.6 KiB).
    const Json mixed = run_ok({"run", "size-mix", "--replacements", "50000"}, preload);
    EXPECT_EQ(mixed["ops"], 50000);
    EXPECT_GT(mixed["peak_live_bytes"].get<double>(), 1000 * 2000.0);
    EXPECT_LT(mixed["peak_live_bytes"].get<double>(), 1000 * 6000.0);
  }
}

TEST(Shapes, MassAllocHoldsCountTimesSizeTimesThreads) {
  for (const std::string& preload : kAllocators) {
    const Json record = run_ok({"run", "mass-alloc", "--threads", "2", "--count", "50000", "--size",
                                "512", "--rounds", "2"},
                               preload);
    EXPECT_EQ(record["ops"], 2 * 2 * 2 * 50000);
    EXPECT_EQ(record["peak_live_bytes"], 2 * 50000 * 512);
  }
}

// Under an allocator that never writes the blocks it hands out, RSS shows what the workload
// wrote: nothing without verify (RSS far below the bytes held), every block with it.
TEST(Shapes, MassAllocNeverTouchesItsBlocksOutsideVerifyMode) {
  const std::vector<std::string> args = {"run",     "mass-alloc", "--threads", "2",
                                         "--count", "100000",     "--size",    "512"};
  const int64_t live = 2 * 100000 * 512;
  std::vector<std::string> untouched = args;
  untouched.push_back("--no-verify");
  const Json quiet = run_ok(untouched, UNTOUCHED_MALLOC);
  EXPECT_EQ(quiet["peak_live_bytes"], live);
  EXPECT_LT(quiet["peak_rss_bytes"].get<int64_t>(), live / 4) << quiet.dump();
  const Json stamped = run_ok(args, UNTOUCHED_MALLOC);
  EXPECT_GT(stamped["peak_rss_bytes"].get<int64_t>(), live) << stamped.dump();
}

TEST(Shapes, LargeBuffersReplacesEachBufferAndSplitsThemAmongThreads) {
  for (const std::string& preload : kAllocators) {
    // 5 buffers of 1 MiB on 2 threads (3 and 2): each thread holds one more while replacing.
    const Json record =
        run_ok({"run", "large-buffers", "--threads", "2", "--buffers", "5", "--replacements", "3",
                "--min_size", "1048576", "--max_size", "1048576"},
               preload);
    EXPECT_EQ(record["ops"], 5 * 3);
    EXPECT_EQ(record["peak_live_bytes"], (5 + 2) * 1048576);
    // More threads than buffers: the extra threads idle, the work stays the same.
    const Json crowded =
        run_ok({"run", "large-buffers", "--threads", "4", "--buffers", "2", "--replacements", "3",
                "--min_size", "65536", "--max_size", "131072"},
               preload);
    EXPECT_EQ(crowded["ops"], 2 * 3);
  }
  // The default shape (20 buffers of 5-25 MiB) once, under halloc.
  const Json defaults = run_ok({"run", "large-buffers", "--replacements", "1"}, HALLOC_SO);
  EXPECT_EQ(defaults["ops"], 20);
  EXPECT_GE(defaults["peak_live_bytes"].get<int64_t>(), int64_t{21} * (5 << 20));
  EXPECT_LE(defaults["peak_live_bytes"].get<int64_t>(), int64_t{21} * (25 << 20));
}

// toy_calloc_dirty recycles freed blocks (up to 64 KiB) without zeroing them in calloc: the
// markers a previous buffer left must show up as corruption, with or without verify mode.
TEST(Shapes, LargeBuffersCatchesACallocThatReturnsDirtyMemory) {
  const std::vector<std::string> small = {
      "run",        "large-buffers", "--buffers",  "8",     "--replacements", "10",
      "--min_size", "5000",          "--max_size", "30000", "--no-verify"};
  const ChildResult dirty = run_allocbench(small, std::string(TOY_DIR) + "/libtoy_calloc_dirty.so");
  EXPECT_EQ(dirty.exit_status, 4) << dirty.err;
  EXPECT_NE(dirty.err.find("corrupt: large-buffers: block"), std::string::npos) << dirty.err;
  EXPECT_NE(dirty.err.find("expected 0x00"), std::string::npos) << dirty.err;
  const ChildResult correct = run_allocbench(small, std::string(TOY_DIR) + "/libtoy_correct.so");
  EXPECT_EQ(correct.exit_status, 0) << correct.err;
}

}  // namespace
}  // namespace allocbench
