#include "os.h"

#include <sys/mman.h>
#include <time.h>

#include <cerrno>
#include <cstdint>

#include "lock.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace halloc {
namespace {

// ThreadSanitizer intercepts mmap and munmap but not mremap, so a range one thread's mremap
// moved its pages away from, and another thread's mremap later grew into, keeps the first
// thread's accesses in its shadow: the second thread's use of its own new memory then looks
// like a race. The kernel orders the two; one sync object tells ThreadSanitizer so. A thread
// releases it before an mremap gives a range up, and acquires it after one takes a range.
#if defined(__SANITIZE_THREAD__)
char g_address_handover;
void BeforeRangeGivenUp() {
  __tsan_release(&g_address_handover);
}
void AfterRangeTaken() {
  __tsan_acquire(&g_address_handover);
}
#else
void BeforeRangeGivenUp() {}
void AfterRangeTaken() {}
#endif

struct Counter {
  std::atomic<std::size_t> bytes{0};
  std::atomic<std::size_t> peak{0};

  void Add(std::size_t n) {
    std::size_t now = bytes.fetch_add(n, std::memory_order_relaxed) + n;
    std::size_t seen = peak.load(std::memory_order_relaxed);
    while (now > seen && !peak.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
    }
  }
  void Sub(std::size_t n) { bytes.fetch_sub(n, std::memory_order_relaxed); }
  OsCounters Read() const {
    return {bytes.load(std::memory_order_relaxed), peak.load(std::memory_order_relaxed)};
  }
};

// constinit throughout: malloc may run before this library's constructors.
constinit Counter g_total;
constinit Counter g_by_purpose[static_cast<int>(MapPurpose::kCount)];

// Ranges whose munmap failed (their memory already given back with madvise), unmapped again
// whenever a later munmap succeeds. Beyond kMax they stay mapped: address space, not memory.
struct StrandedRanges {
  static constexpr std::size_t kMax = 4096;
  Mutex lock;
  std::size_t count = 0;
  struct {
    void* p;
    std::size_t size;
  } ranges[kMax] = {};
};
constinit StrandedRanges g_stranded;
constinit std::atomic<int> g_inject_unmap_failures{0};

bool Munmap(void* p, std::size_t size) {
  if (g_inject_unmap_failures.load(std::memory_order_relaxed) > 0 &&
      g_inject_unmap_failures.fetch_sub(1, std::memory_order_relaxed) > 0)
    return false;
  return munmap(p, size) == 0;
}

// The munmap of [p, p + size) failed: keep the range for a later try, its memory given back.
void Strand(void* p, std::size_t size) {
  OsDecommit(p, size);
  LockGuard guard(g_stranded.lock);
  if (g_stranded.count < StrandedRanges::kMax) g_stranded.ranges[g_stranded.count++] = {p, size};
}

// A munmap just worked: try the stranded ranges again.
void RetryStranded() {
  if (g_stranded.count == 0) return;  // racy peek: a range missed now is retried next time
  LockGuard guard(g_stranded.lock);
  for (std::size_t i = 0; i < g_stranded.count;) {
    if (Munmap(g_stranded.ranges[i].p, g_stranded.ranges[i].size)) {
      g_stranded.ranges[i] = g_stranded.ranges[--g_stranded.count];
    } else {
      return;  // still at the limit
    }
  }
}

void Account(std::ptrdiff_t delta, MapPurpose purpose) {
  Counter& c = g_by_purpose[static_cast<int>(purpose)];
  if (delta >= 0) {
    g_total.Add(static_cast<std::size_t>(delta));
    c.Add(static_cast<std::size_t>(delta));
  } else {
    g_total.Sub(static_cast<std::size_t>(-delta));
    c.Sub(static_cast<std::size_t>(-delta));
  }
}

}  // namespace

void* OsMap(std::size_t size, std::size_t alignment, MapPurpose purpose) {
  void* p = OsReserve(size, alignment);
  if (p) Account(static_cast<std::ptrdiff_t>(size), purpose);
  return p;
}

void* OsReserve(std::size_t size, std::size_t alignment) {
  if (alignment < kPageSize) alignment = kPageSize;
  std::size_t reserve = size + alignment - kPageSize;
  if (reserve < size) return nullptr;
  int saved = errno;
  void* raw = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  errno = saved;
  if (raw == MAP_FAILED) return nullptr;
  // Trim the unaligned head and the tail so exactly [aligned, aligned + size) stays mapped.
  auto base = reinterpret_cast<std::uintptr_t>(raw);
  std::uintptr_t aligned = (base + alignment - 1) & ~(alignment - 1);
  // Trimming splits nothing (it cuts the ends of a fresh mapping); if it fails all the same,
  // the ends stay mapped and unused: address space, never memory.
  if (aligned > base) munmap(raw, aligned - base);
  std::size_t tail = base + reserve - (aligned + size);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
  errno = saved;
  return reinterpret_cast<void*>(aligned);
}

void OsAccount(std::ptrdiff_t delta, MapPurpose purpose) {
  Account(delta, purpose);
}

std::uint32_t OsNowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint32_t>(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void OsDecommit(void* p, std::size_t size) {
  int saved = errno;
  madvise(p, size, MADV_DONTNEED);
  errno = saved;
}

void OsPopulate(void* p, std::size_t size) {
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // Linux 5.14; older headers lack the name
#endif
  // Page-aligned inward: the partial pages at either end fault on first touch as usual.
  auto begin = (reinterpret_cast<std::uintptr_t>(p) + kPageSize - 1) & ~(kPageSize - 1);
  auto end = (reinterpret_cast<std::uintptr_t>(p) + size) & ~(kPageSize - 1);
  if (end <= begin) return;
  int saved = errno;
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
  errno = saved;
}

void OsUnmap(void* p, std::size_t size, MapPurpose purpose) {
  int saved = errno;
  if (Munmap(p, size)) {
    RetryStranded();
  } else {
    Strand(p, size);
  }
  errno = saved;
  Account(-static_cast<std::ptrdiff_t>(size), purpose);
}

std::size_t OsStrandedRanges() {
  LockGuard guard(g_stranded.lock);
  return g_stranded.count;
}

void OsInjectUnmapFailures(int n) {
  g_inject_unmap_failures.store(n, std::memory_order_relaxed);
}

void OsAfterForkInChild() {
  if (!g_stranded.lock.IsLocked()) return;
  g_stranded.lock.Reset();
  g_stranded.count = 0;  // the ranges stay mapped in the child: address space, not memory
}

bool OsResizeInPlace(void* p, std::size_t old_size, std::size_t new_size, MapPurpose purpose) {
  if (new_size < old_size) BeforeRangeGivenUp();
  int saved = errno;
  void* q = mremap(p, old_size, new_size, 0);
  errno = saved;
  if (q == MAP_FAILED) return false;
  if (new_size > old_size) AfterRangeTaken();
  Account(static_cast<std::ptrdiff_t>(new_size) - static_cast<std::ptrdiff_t>(old_size), purpose);
  return true;
}

bool OsMoveInto(void* p, std::size_t old_size, void* target, std::size_t new_size,
                MapPurpose purpose) {
  BeforeRangeGivenUp();
  int saved = errno;
  void* q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  errno = saved;
  if (q == MAP_FAILED) return false;
  Account(-static_cast<std::ptrdiff_t>(old_size), purpose);  // target was counted by OsMap
  return true;
}

bool OsRemapFresh(void* p, std::size_t size) {
  int saved = errno;
  void* q = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  errno = saved;
  return q != MAP_FAILED;
}

OsCounters OsTotal() {
  return g_total.Read();
}
OsCounters OsBytes(MapPurpose purpose) {
  return g_by_purpose[static_cast<int>(purpose)].Read();
}

}  // namespace halloc
