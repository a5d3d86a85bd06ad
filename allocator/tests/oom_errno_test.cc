// errno on every failure path, as glibc sets it: each allocating entry point, driven into real
// out-of-memory (a child process whose address space is capped with RLIMIT_AS), fails with
// errno ENOMEM, posix_memalign also returning ENOMEM, the nothrow operator new forms returning
// NULL and the throwing ones throwing std::bad_alloc. Small and large requests, since they fail
// in different places (a superblock or a large mapping the OS refuses).
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "gtest/gtest.h"
#include "test_util.h"

using halloc_test::Opaque;

namespace {

// Reports from the child without allocating (the address space is exhausted there).
void Say(const char* what, std::size_t size, int err) {
  char msg[160];
  int n = std::snprintf(msg, sizeof msg, "%s(%zu): errno %d (%s), expected ENOMEM\n", what, size,
                        err, err == 0 ? "unchanged" : "other");
  ssize_t ignored = write(STDERR_FILENO, msg, static_cast<std::size_t>(n));
  (void)ignored;
}

std::size_t MappedBytes() {
  char buf[128] = {};
  int fd = open("/proc/self/statm", O_RDONLY);
  ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  return n > 0 ? std::strtoull(buf, nullptr, 10) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE))
               : 0;
}

// Calls alloc(size) until it fails (keeping what it gets: the cap makes that finite); returns
// true when the failure set errno to ENOMEM.
template <typename Alloc>
bool FailsWithEnomem(const char* what, std::size_t size, Alloc alloc) {
  for (int i = 0; i < 10'000'000; ++i) {
    errno = 0;
    if (alloc(size) == nullptr) {
      int err = errno;
      if (err == ENOMEM) return true;
      Say(what, size, err);
      return false;
    }
  }
  Say("never failed: ", size, 0);
  return false;
}

class OutOfMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(halloc_test::WhyNotServed(), "") << "halloc does not serve this process";
  }
};

// Runs body in a child whose address space can grow by only 64 MiB more.
int InCappedChild(int (*body)()) {
  return halloc_test::RunInChild(
      [body] {
        rlim_t cap = MappedBytes() + (rlim_t{64} << 20);
        struct rlimit limit = {cap, cap};
        if (setrlimit(RLIMIT_AS, &limit) != 0) return 90;
        return body();
      },
      120);
}

int SmallAndLarge(bool (*check)(std::size_t)) {
  // Large first, then small ones from the scraps that are left.
  int failures = 0;
  for (std::size_t size : {std::size_t{1} << 20, std::size_t{40000}, std::size_t{3000},
                           std::size_t{100}, std::size_t{16}})
    failures += !check(size);
  return failures;
}

TEST_F(OutOfMemory, MallocCallocReallocSetEnomem) {
  int status = InCappedChild([] {
    int f = SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("malloc", n, [](std::size_t s) { return malloc(s); });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("calloc", n, [](std::size_t s) { return calloc(1, s); });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("realloc(NULL)", n, [](std::size_t s) { return realloc(nullptr, s); });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("realloc(grow)", n, [](std::size_t s) {
        void* p = malloc(16);  // may itself fail: then count it as the failure
        if (p == nullptr) return p;
        void* q = realloc(p, s + 64);
        if (q == nullptr) {
          int err = errno;
          free(p);
          errno = err;
        }
        return q;
      });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("reallocarray", n,
                             [](std::size_t s) { return reallocarray(nullptr, 1, s); });
    });
    return f;
  });
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status);
}

TEST_F(OutOfMemory, AlignedAllocationsSetEnomem) {
  int status = InCappedChild([] {
    int f = SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("memalign(64)", n, [](std::size_t s) { return memalign(64, s); });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("memalign(4096)", n, [](std::size_t s) { return memalign(4096, s); });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("aligned_alloc(256)", n,
                             [](std::size_t s) { return aligned_alloc(256, s); });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("valloc", n, [](std::size_t s) { return valloc(s); });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("pvalloc", n, [](std::size_t s) { return pvalloc(s); });
    });
    return f;
  });
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status);
}

TEST_F(OutOfMemory, PosixMemalignReturnsAndSetsEnomem) {
  int status = InCappedChild([] {
    return SmallAndLarge([](std::size_t n) {
      for (std::size_t align : {std::size_t{16}, std::size_t{64}, std::size_t{4096}}) {
        for (int i = 0;; ++i) {
          void* p = &p;
          errno = 0;
          int r = posix_memalign(&p, align, n);
          if (r == 0) continue;
          int err = errno;
          if (r != ENOMEM || err != ENOMEM) {
            Say("posix_memalign", n, err);
            return false;
          }
          if (p != &p) return false;  // *memptr must stay untouched
          break;
        }
      }
      return true;
    });
  });
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status);
}

TEST_F(OutOfMemory, OperatorNewNothrowSetsEnomemAndNewThrows) {
  int status = InCappedChild([] {
    int f = SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("new(nothrow)", n,
                             [](std::size_t s) { return ::operator new(s, std::nothrow); });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("new[](nothrow)", n,
                             [](std::size_t s) { return ::operator new[](s, std::nothrow); });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("new(align 128, nothrow)", n, [](std::size_t s) {
        return ::operator new (s, std::align_val_t{128}, std::nothrow);
      });
    });
    f += SmallAndLarge([](std::size_t n) {
      return FailsWithEnomem("new[](align 4096, nothrow)", n, [](std::size_t s) {
        return ::operator new[](s, std::align_val_t{4096}, std::nothrow);
      });
    });
    // Everything is taken now: the throwing forms throw.
    for (std::size_t n : {std::size_t{1} << 20, std::size_t{3000}}) {
      try {
        for (int i = 0; i < 1'000'000; ++i) (void)::operator new(Opaque(n));
        ++f;
      } catch (const std::bad_alloc&) {
      }
    }
    return f;
  });
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status);
}

// The new-handler's classic use: it frees memory kept in reserve, and operator new, retrying,
// succeeds (every form, nothrow ones too).
void* g_reserve[64];
int g_reserve_left = 0;

void FreeOneReserveBlock() {
  if (g_reserve_left == 0) {
    std::set_new_handler(nullptr);
    return;
  }
  std::free(g_reserve[--g_reserve_left]);
}

TEST_F(OutOfMemory, ANewHandlerThatFreesMemoryLetsOperatorNewSucceed) {
  int status = InCappedChild([] {
    constexpr std::size_t kBlock = std::size_t{1} << 20;
    for (; g_reserve_left < 16; ++g_reserve_left) {
      g_reserve[g_reserve_left] = std::malloc(kBlock);
      if (g_reserve[g_reserve_left] == nullptr) return 91;
    }
    while (::operator new(kBlock, std::nothrow) != nullptr) {
    }
    int failures = 0;
    std::set_new_handler(FreeOneReserveBlock);
    const int before = g_reserve_left;
    failures += ::operator new(kBlock) == nullptr;
    failures += ::operator new[](kBlock, std::nothrow) == nullptr;
    failures += ::operator new (kBlock, std::align_val_t{4096}) == nullptr;
    failures += ::operator new[](kBlock, std::align_val_t{128}, std::nothrow) == nullptr;
    if (g_reserve_left == before) ++failures;  // succeeded without the handler: no test
    std::set_new_handler(nullptr);
    return failures;
  });
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status);
}

// Freed large mappings that halloc keeps for reuse hold address space; under a cap, small
// objects that need new superblocks must get it back: when malloc fails, none is kept.
TEST_F(OutOfMemory, AFailedMallocKeepsNoFreedLargeMapping) {
  int status = InCappedChild([] {
    static void* large[64];
    int n = 0;
    while (n < 64 && (large[n] = std::malloc(std::size_t{8} << 20)) != nullptr) ++n;
    if (n < 5) return 91;
    for (int i = 0; i < n; ++i) std::free(large[i]);
    for (int i = 0; i < 10'000'000 && std::malloc(4000) != nullptr; ++i) {
    }
    const std::size_t kept = halloc_test::Stats().large_cached_bytes;
    if (kept == 0) return 0;
    Say("malloc(4000) failed while freed large mappings were kept", kept, 0);
    return 1;
  });
  EXPECT_EQ(status, 0) << halloc_test::DescribeStatus(status);
}

}  // namespace
