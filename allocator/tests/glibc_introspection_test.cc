// glibc's introspection and tuning calls report and act on halloc's own structures:
// mallinfo/mallinfo2 track the live bytes, malloc_trim gives memory back to the OS (RSS drops),
// malloc_stats and malloc_info print glibc's formats with halloc's numbers, mallopt applies
// what halloc supports and returns 0 for the rest. Run linked and under LD_PRELOAD for each
// variant (test_util.h), so glibc's own versions would fail every test here.
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "test_util.h"

using halloc_test::Opaque;
using halloc_test::ResidentBytes;

namespace {

// mallinfo is deprecated in glibc (its int fields wrap above 2 GiB), but programs still call it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
struct mallinfo OldMallinfo() {
  return mallinfo();
}
#pragma GCC diagnostic pop

double Ratio(std::size_t got, std::size_t expected) {
  return static_cast<double>(got) / static_cast<double>(expected);
}

// Appends what fn writes to stderr (malloc_stats writes there) to `text`, whose capacity the
// caller reserves: nothing is allocated between fn and the caller's next look at the numbers.
void CaptureStderr(void (*fn)(), std::string& text) {
  char path[] = "/tmp/halloc-stats-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return;
  unlink(path);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  fn();
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(fd);
}

std::size_t FieldAfter(const std::string& text, const std::string& key, std::size_t from = 0) {
  std::size_t at = text.find(key, from);
  if (at == std::string::npos) return SIZE_MAX;
  return std::strtoull(text.c_str() + at + key.size(), nullptr, 10);
}

class Introspection : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(halloc_test::WhyNotServed(), "") << "halloc does not serve this process";
    params_ = halloc_test::Params();
  }
  bool HasGlobalHeap() const { return params_.variant != std::string("halloc-serial"); }
  halloc_params params_{};
};

constexpr std::size_t kLive = std::size_t{150} << 20;

TEST_F(Introspection, Mallinfo2TracksLiveSmallBlocks) {
  // Requests of exactly a class's block size, so the live bytes are what was asked for.
  void* probe = malloc(Opaque(1000));
  const std::size_t size = malloc_usable_size(probe);
  free(probe);
  struct mallinfo2 before = mallinfo2();
  std::vector<void*> blocks;
  for (std::size_t live = 0; live < kLive; live += size) {
    blocks.push_back(malloc(Opaque(size)));
    ASSERT_NE(blocks.back(), nullptr);
    memset(blocks.back(), 1, size);
  }
  struct mallinfo2 during = mallinfo2();
  const std::size_t live = blocks.size() * size;
  EXPECT_NEAR(Ratio(during.uordblks - before.uordblks, live), 1.0, 0.02)
      << "uordblks " << during.uordblks << " (before " << before.uordblks << "), live " << live;
  EXPECT_GE(during.arena, during.uordblks);
  EXPECT_EQ(during.arena, during.uordblks + during.fordblks) << "arena = in use + free";
  EXPECT_LE(during.arena, live + live / 10 + (std::size_t{40} << 20)) << "arena far above use";
  struct mallinfo old = OldMallinfo();
  EXPECT_EQ(static_cast<std::size_t>(old.uordblks), during.uordblks);
  EXPECT_EQ(static_cast<std::size_t>(old.arena), during.arena);
  for (void* p : blocks) free(p);
  struct mallinfo2 after = mallinfo2();
  EXPECT_LT(after.uordblks, before.uordblks + (std::size_t{1} << 20)) << "freed blocks in use";
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Introspection, Mallinfo2TracksLiveLargeObjects) {
  const std::size_t size = std::size_t{3} << 19;  // 1.5 MiB: a large object in every variant
  struct mallinfo2 before = mallinfo2();
  std::vector<void*> blocks;
  for (std::size_t live = 0; live < kLive; live += size) blocks.push_back(malloc(Opaque(size)));
  struct mallinfo2 during = mallinfo2();
  const std::size_t live = blocks.size() * size;
  EXPECT_EQ(during.hblks - before.hblks, blocks.size());
  // Each object's mapping: the object and its header, rounded up to pages (to granules of S
  // where it is carved from a region).
  const std::size_t mapped = during.hblkhd - before.hblkhd;
  EXPECT_GE(mapped, live);
  EXPECT_LE(mapped, live + blocks.size() * params_.superblock_size)
      << "hblkhd " << during.hblkhd << " (before " << before.hblkhd << "), live " << live;
  EXPECT_EQ(OldMallinfo().hblks, static_cast<int>(during.hblks));
  for (void* p : blocks) free(p);
  struct mallinfo2 after = mallinfo2();
  EXPECT_LE(after.hblks, before.hblks);
  EXPECT_LE(after.hblkhd, before.hblkhd);
}

TEST_F(Introspection, MallocTrimGivesBackFreedMemory) {
  malloc_trim(0);  // what earlier tests left (mapped, not necessarily resident) goes first
  // Let the global heap keep every empty superblock, so there is much to give back even where
  // its reserve is small (halloc-paper: 32 of 8 KiB); halloc-serial keeps them all anyway.
  const std::size_t reserve_bytes = params_.empty_reserve * params_.superblock_size;
  if (HasGlobalHeap()) {
    ASSERT_EQ(mallopt(M_TRIM_THRESHOLD, 1 << 30), 1);
  }
  // Small blocks in many superblocks, and large objects small enough to be kept for reuse.
  std::vector<void*> blocks;
  for (int i = 0; i < 60000; ++i) {
    blocks.push_back(malloc(Opaque(1000)));
    memset(blocks.back(), 2, 1000);
  }
  const std::size_t large = params_.large_threshold + 4096 * 3;
  for (int i = 0; i < 40; ++i) {
    blocks.push_back(malloc(Opaque(large)));
    memset(blocks.back(), 3, large);
  }
  for (void* p : blocks) free(p);
  struct mallinfo2 held = mallinfo2();
  ASSERT_GT(held.keepcost, std::size_t{16} << 20) << "not what 60,000 freed blocks left";
  ASSERT_GT(held.ordblks, 0u);
  const std::size_t rss = ResidentBytes();
  EXPECT_EQ(malloc_trim(0), 1);
  const std::size_t trimmed = ResidentBytes();
  // The kernel's RSS counters lag by up to 64 pages a thread.
  EXPECT_LE(trimmed + held.keepcost * 9 / 10, rss + (std::size_t{256} << 10))
      << "RSS " << rss << " -> " << trimmed << ", keepcost was " << held.keepcost;
  struct mallinfo2 after = mallinfo2();
  EXPECT_EQ(after.keepcost, 0u);
  EXPECT_EQ(after.ordblks, 0u);
  EXPECT_LE(after.arena + held.keepcost, held.arena);
  EXPECT_EQ(malloc_trim(0), 0) << "a second trim found more to give back";
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
  if (HasGlobalHeap()) {
    ASSERT_EQ(mallopt(M_TRIM_THRESHOLD, static_cast<int>(reserve_bytes)), 1);
  }
  std::printf("[ RSS      ] %s: keepcost %zu, RSS %zu -> %zu after malloc_trim\n", params_.variant,
              held.keepcost, rss, trimmed);
}

TEST_F(Introspection, MallocTrimKeepsPadBytesOfEmptySuperblocks) {
  std::vector<void*> blocks;
  for (int i = 0; i < 20000; ++i) blocks.push_back(malloc(Opaque(1000)));
  for (void* p : blocks) free(p);
  const std::size_t pad = 3 * params_.superblock_size;
  malloc_trim(pad);
  EXPECT_LE(mallinfo2().keepcost, pad);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Introspection, MalloptRejectsWhatHallocDoesNotSupport) {
  for (int param : {M_MXFAST, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_CHECK_ACTION, M_PERTURB,
                    M_ARENA_TEST, 12345, -12345}) {
    EXPECT_EQ(mallopt(param, 4096), 0) << "param " << param;
  }
  EXPECT_EQ(mallopt(M_ARENA_MAX, 0), 0);
  EXPECT_EQ(mallopt(M_ARENA_MAX, -1), 0);
}

TEST_F(Introspection, MalloptTrimThresholdBoundsTheEmptyReserve) {
  const std::size_t S = params_.superblock_size;
  const std::size_t reserve = params_.empty_reserve;
  if (!HasGlobalHeap()) {
    EXPECT_EQ(mallopt(M_TRIM_THRESHOLD, static_cast<int>(4 * S)), 0) << "no global heap";
    return;
  }
  ASSERT_EQ(mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * S)), 1);
  EXPECT_EQ(halloc_test::Params().empty_reserve, 2u);
  std::vector<void*> blocks;
  for (int i = 0; i < 40000; ++i) blocks.push_back(malloc(Opaque(1000)));
  for (void* p : blocks) free(p);
  EXPECT_LE(halloc_test::Stats().global.empty_superblocks, 2u);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
  ASSERT_EQ(mallopt(M_TRIM_THRESHOLD, static_cast<int>(reserve * S)), 1);
  EXPECT_EQ(halloc_test::Params().empty_reserve, reserve);
}

TEST_F(Introspection, MalloptArenaMaxCapsTheHeaps) {
  const std::size_t limit = params_.max_heaps;
  const std::size_t heaps = std::max<std::size_t>(halloc_test::Stats().heaps, 1);
  ASSERT_EQ(mallopt(M_ARENA_MAX, static_cast<int>(heaps)), 1);
  EXPECT_EQ(halloc_test::Params().max_heaps, std::min(heaps, limit));
  // Threads alive at once: beyond the cap they share heaps instead of creating new ones.
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      void* p = malloc(Opaque(64));
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      free(p);
    });
  }
  while (ready.load() < 6) std::this_thread::yield();
  EXPECT_LE(halloc_test::Stats().heaps, heaps);
  go.store(true);
  for (auto& t : threads) t.join();
  ASSERT_EQ(mallopt(M_ARENA_MAX, static_cast<int>(limit)), 1);
  EXPECT_EQ(halloc_test::Params().max_heaps, limit);
  EXPECT_EQ(halloc_test::CheckInvariants(), "");
}

TEST_F(Introspection, MallocStatsPrintsGlibcsFormatWithHallocsNumbers) {
  std::vector<void*> blocks;
  for (int i = 0; i < 10000; ++i) blocks.push_back(malloc(Opaque(1000)));
  void* big = malloc(Opaque(std::size_t{8} << 20));
  std::string text;
  text.reserve(1 << 20);
  CaptureStderr([] { malloc_stats(); }, text);
  struct mallinfo2 m = mallinfo2();
  ASSERT_EQ(text.rfind("Arena 0:\nsystem bytes     = ", 0), 0u) << text;
  std::size_t total = text.find("Total (incl. mmap):\nsystem bytes     = ");
  ASSERT_NE(total, std::string::npos) << text;
  EXPECT_NE(text.find("\nmax mmap regions = "), std::string::npos) << text;
  EXPECT_NE(text.find("\nmax mmap bytes   = "), std::string::npos) << text;
  EXPECT_EQ(FieldAfter(text, "system bytes     = ", total), m.arena + m.hblkhd) << text;
  EXPECT_EQ(FieldAfter(text, "in use bytes     = ", total), m.uordblks + m.hblkhd) << text;
  EXPECT_GE(FieldAfter(text, "in use bytes     = ", total), 10000u * 1000 + (8u << 20));
  // One arena per heap and the global heap, each with its two lines.
  std::size_t arenas = 0;
  for (std::size_t at = 0; (at = text.find("Arena ", at)) != std::string::npos; ++at) ++arenas;
  EXPECT_EQ(arenas, halloc_test::Stats().heaps + 1) << text;
  free(big);
  for (void* p : blocks) free(p);
}

TEST_F(Introspection, MallocInfoWritesGlibcsXmlWithHallocsNumbers) {
  void* big = malloc(Opaque(std::size_t{4} << 20));
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(malloc(Opaque(100)));
  for (int i = 0; i < 1000; i += 2) free(blocks[i]);  // free blocks for the <sizes> lists
  // A stream over a buffer of its own, so nothing is allocated while malloc_info prints.
  static char buf[1 << 20];
  FILE* out = fmemopen(buf, sizeof buf, "w");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(malloc_info(0, out), 0);
  struct mallinfo2 m = mallinfo2();
  long len = ftell(out);
  fclose(out);
  std::string xml(buf, static_cast<std::size_t>(len));
  EXPECT_EQ(xml.rfind("<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n", 0), 0u) << xml;
  EXPECT_TRUE(xml.ends_with("</malloc>\n")) << xml;
  std::size_t opened = 0, closed = 0;
  for (std::size_t at = 0; (at = xml.find("<heap nr=", at)) != std::string::npos; ++at) ++opened;
  for (std::size_t at = 0; (at = xml.find("</heap>", at)) != std::string::npos; ++at) ++closed;
  EXPECT_EQ(opened, halloc_test::Stats().heaps + 1);
  EXPECT_EQ(closed, opened);
  EXPECT_NE(xml.find("<size from=\""), std::string::npos) << "no free blocks listed:\n" << xml;
  std::size_t totals = xml.rfind("</heap>");
  EXPECT_EQ(FieldAfter(xml, "<total type=\"mmap\" count=\"", totals), m.hblks) << xml;
  EXPECT_NE(xml.find("<system type=\"current\" size=\"", totals), std::string::npos);
  errno = 0;
  EXPECT_EQ(malloc_info(1, stdout), -1);
  EXPECT_EQ(errno, EINVAL);
  for (int i = 1; i < 1000; i += 2) free(blocks[i]);
  free(big);
}

// Every introspection call, in a loop, while other threads allocate and free: none may
// deadlock (a child with a timeout), and the invariants hold afterwards.
TEST_F(Introspection, CallsDoNotDeadlockAgainstAllocatingThreads) {
  int status = halloc_test::RunInChild(
      [] {
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < 3; ++t) {
          threads.emplace_back([&stop, t] {
            std::vector<void*> held(64, nullptr);
            for (std::size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
              void*& slot = held[i % held.size()];
              free(slot);
              slot = malloc((i * 7919 + t) % (i % 16 == 0 ? 300000 : 3000));
            }
            for (void* p : held) free(p);
          });
        }
        std::string text;
        for (int i = 0; i < 2000; ++i) {
          (void)mallinfo2();
          malloc_trim(0);
          // An in-memory stream grows with realloc while malloc_info prints into it.
          char* buf = nullptr;
          size_t len = 0;
          FILE* out = open_memstream(&buf, &len);
          malloc_info(0, out);
          fclose(out);
          free(buf);
          if (i % 100 == 0) CaptureStderr([] { malloc_stats(); }, text);
        }
        stop.store(true);
        for (auto& t : threads) t.join();
        return halloc_test::CheckInvariants().empty() ? 0 : 3;
      },
      60);
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status);
}

}  // namespace
