#include "large.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>

#include "lock.h"
#include "os.h"
#include "page_map.h"

namespace halloc {
namespace {

constinit std::atomic<std::size_t> g_large_count{0};

// Freed mappings of objects with the default alignment, kept for reuse. Lock-protected: a
// large allocation costs far more than the lock.
struct LargeCache {
  struct Entry {
    void* base;
    std::size_t map_size;
  };
  Mutex lock;
  std::size_t count = 0;
  std::size_t bytes = 0;
  Entry entries[kPolicy.large_cache_entries ? kPolicy.large_cache_entries : 1] = {};

  // The smallest cached mapping of at least `need` bytes and at most half again as much.
  void* Take(std::size_t need, std::size_t& map_size) {
    LockGuard guard(lock);
    std::size_t best = count;
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t m = entries[i].map_size;
      if (m >= need && m <= need + need / 2 && (best == count || m < entries[best].map_size))
        best = i;
    }
    if (best == count) return nullptr;
    void* base = entries[best].base;
    map_size = entries[best].map_size;
    bytes -= map_size;
    entries[best] = entries[--count];
    return base;
  }

  bool Put(void* base, std::size_t map_size) {
    LockGuard guard(lock);
    if (count == kPolicy.large_cache_entries || bytes + map_size > kPolicy.large_cache_bytes)
      return false;
    entries[count++] = {base, map_size};
    bytes += map_size;
    return true;
  }
};
// constinit: malloc may run before this library's constructors.
constinit LargeCache g_cache;

constexpr bool kLargeCache = kPolicy.large_cache_entries > 0;

constexpr std::size_t kMaxAlignment = std::size_t{1} << 40;

constexpr std::size_t RoundUp(std::size_t n, std::size_t to) {
  return (n + to - 1) & ~(to - 1);
}

// Offset of the user pointer from the mapping's start: room for the header, and aligned.
std::size_t UserOffset(std::size_t alignment) {
  return alignment > sizeof(LargeHeader) ? alignment : kCacheLine;
}

}  // namespace

void* LargeAlloc(std::size_t size, std::size_t alignment, bool zero) {
  if (alignment > kMaxAlignment) return nullptr;
  // Even a zero-byte object must lie inside its mapping: its granule in the page map must not
  // be one a superblock could take.
  if (size == 0) size = 1;
  std::size_t offset = UserOffset(alignment);
  if (size > PTRDIFF_MAX - offset - kSuperblockSize) return nullptr;
  std::size_t map_size = RoundUp(offset + size, kPageSize);
  std::size_t map_align = alignment > kSuperblockSize ? alignment : kSuperblockSize;
  void* mem = nullptr;
  bool reused = false;
  if (kLargeCache && offset == kCacheLine) {
    mem = g_cache.Take(map_size, map_size);
    reused = mem != nullptr;
  }
  if (mem == nullptr) mem = OsMap(map_size, map_align, MapPurpose::kLarge);
  if (mem == nullptr) return nullptr;
  auto* h = new (mem) LargeHeader;
  h->user = static_cast<char*>(mem) + offset;
  if (reused && zero) std::memset(h->user, 0, size);
  h->map_size = map_size;
  h->alignment = alignment;
  // The user pointer's granule is inside this S-aligned mapping, so no other halloc object
  // can claim it.
  if (!g_page_map.SetLarge(h->user, h)) {
    OsUnmap(mem, map_size, MapPurpose::kLarge);
    return nullptr;
  }
  g_large_count.fetch_add(1, std::memory_order_relaxed);
  return h->user;
}

void LargeFree(LargeHeader* h) {
  g_page_map.Clear(h->user);
  g_large_count.fetch_sub(1, std::memory_order_relaxed);
  if (kLargeCache && static_cast<char*>(h->user) - h->base() == kCacheLine &&
      g_cache.Put(h, h->map_size))
    return;
  OsUnmap(h, h->map_size, MapPurpose::kLarge);
}

bool LargeResizeInPlace(LargeHeader* h, std::size_t size) {
  if (size == 0) size = 1;
  std::size_t offset = static_cast<std::size_t>(static_cast<char*>(h->user) - h->base());
  if (size > PTRDIFF_MAX - offset - kSuperblockSize) return false;
  std::size_t map_size = RoundUp(offset + size, kPageSize);
  if (map_size == h->map_size) return true;
  if (!OsResizeInPlace(h, h->map_size, map_size, MapPurpose::kLarge)) return false;
  h->map_size = map_size;
  return true;
}

std::size_t LargeCount() {
  return g_large_count.load(std::memory_order_relaxed);
}

std::size_t LargeCachedBytes() {
  LockGuard guard(g_cache.lock);
  return g_cache.bytes;
}

const char* LargeCacheViolation() {
  LockGuard guard(g_cache.lock);
  if (g_cache.count > kPolicy.large_cache_entries) return "large cache: too many entries";
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < g_cache.count; ++i) {
    const LargeCache::Entry& e = g_cache.entries[i];
    if (e.map_size % kPageSize != 0 || reinterpret_cast<std::uintptr_t>(e.base) % kSuperblockSize)
      return "large cache: entry not a page-sized, S-aligned mapping";
    if (g_page_map.Lookup(static_cast<char*>(e.base) + kCacheLine))
      return "large cache: a cached mapping is still in the page map";
    bytes += e.map_size;
  }
  if (bytes != g_cache.bytes) return "large cache: byte count differs from its entries";
  if (bytes > kPolicy.large_cache_bytes) return "large cache: holds more bytes than allowed";
  return nullptr;
}

void LargeCacheAfterForkInChild() {
  if (!g_cache.lock.IsLocked()) return;
  g_cache.lock.Reset();
  g_cache.count = 0;
  g_cache.bytes = 0;
}

}  // namespace halloc
