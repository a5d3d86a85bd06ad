#include "os.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>

namespace halloc {
namespace {

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
  if (aligned > base) munmap(raw, aligned - base);
  std::size_t tail = base + reserve - (aligned + size);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
  errno = saved;
  Account(static_cast<std::ptrdiff_t>(size), purpose);
  return reinterpret_cast<void*>(aligned);
}

void OsUnmap(void* p, std::size_t size, MapPurpose purpose) {
  int saved = errno;
  munmap(p, size);
  errno = saved;
  Account(-static_cast<std::ptrdiff_t>(size), purpose);
}

bool OsResizeInPlace(void* p, std::size_t old_size, std::size_t new_size, MapPurpose purpose) {
  int saved = errno;
  void* q = mremap(p, old_size, new_size, 0);
  errno = saved;
  if (q == MAP_FAILED) return false;
  Account(static_cast<std::ptrdiff_t>(new_size) - static_cast<std::ptrdiff_t>(old_size), purpose);
  return true;
}

bool OsMoveInto(void* p, std::size_t old_size, void* target, std::size_t new_size,
                MapPurpose purpose) {
  int saved = errno;
  void* q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  errno = saved;
  if (q == MAP_FAILED) return false;
  Account(-static_cast<std::ptrdiff_t>(old_size), purpose);  // target was counted by OsMap
  return true;
}

OsCounters OsTotal() {
  return g_total.Read();
}
OsCounters OsBytes(MapPurpose purpose) {
  return g_by_purpose[static_cast<int>(purpose)].Read();
}

}  // namespace halloc
