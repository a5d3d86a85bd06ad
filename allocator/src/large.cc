#include "large.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#include "lock.h"
#include "os.h"
#include "page_map.h"
#include "region.h"
#include "thread_binding.h"

namespace halloc {

constinit thread_local LargeHeader* tls_large_spare [[gnu::tls_model("initial-exec")]] = nullptr;

namespace {

// Mappings not in the shared cache: live objects and the threads' spares.
constinit std::atomic<std::size_t> g_mapping_count{0};

// Freed mappings of objects with the default alignment, kept for reuse. Lock-protected: it is
// the slow path behind the threads' spares.
struct LargeCache {
  Mutex lock;
  std::size_t count = 0;
  std::size_t bytes = 0;
  LargeHeader* entries[kLargeCache ? kPolicy.large_cache_entries : 1] = {};

  // The smallest cached mapping that suits `need`, or nullptr.
  LargeHeader* Take(std::size_t need, LargeUse use) {
    LockGuard guard(lock);
    std::size_t best = count;
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t m = entries[i]->map_size;
      if (Suits(m, need, use) && (best == count || m < entries[best]->map_size)) best = i;
    }
    if (best == count) return nullptr;
    LargeHeader* h = entries[best];
    bytes -= h->map_size;
    entries[best] = entries[--count];
    return h;
  }

  bool Put(LargeHeader* h) {
    if constexpr (!kLargeCache) return false;
    LockGuard guard(lock);
    if (count == kPolicy.large_cache_entries || bytes + h->map_size > kPolicy.large_cache_bytes)
      return false;
    entries[count++] = h;
    bytes += h->map_size;
    return true;
  }
};
// constinit: malloc may run before this library's constructors.
constinit LargeCache g_cache;

constexpr std::size_t kMaxAlignment = std::size_t{1} << 40;
constexpr std::size_t kMaxGrowthRoom = std::size_t{64} << 20;

// Room for an object that grows: three times its size (up to 64 MiB), so a loop growing it by a
// constant factor moves it only every few steps. Room is address space, not memory, until the
// program writes there.
constexpr std::size_t GrowthRoom(std::size_t size) {
  return size < kMaxGrowthRoom / 3 ? 3 * size : kMaxGrowthRoom;
}

constexpr std::size_t RoundUp(std::size_t n, std::size_t to) {
  return (n + to - 1) & ~(to - 1);
}

// Offset of the user pointer from the mapping's start: room for the header, and aligned.
constexpr std::size_t UserOffset(std::size_t alignment) {
  return alignment > sizeof(LargeHeader) ? alignment : kCacheLine;
}

// The page-map granule of a mapping's objects (the user pointer's, kept or live).
const void* Granule(LargeHeader* h) {
  return h->base() + UserOffset(h->alignment);
}

// Memory for `map_size` bytes aligned to map_align: region granules when a run can hold it
// (map_size then grows to whole granules), else a mapping of its own.
void* MapLarge(std::size_t& map_size, std::size_t map_align, bool& in_region) {
  in_region = map_align <= kSuperblockSize && map_size <= kRegionMaxRun * kSuperblockSize;
  if (!in_region) return OsMap(map_size, map_align, MapPurpose::kLarge);
  map_size = RoundUp(map_size, kSuperblockSize);
  return RegionAlloc(RegionKind::kLarge, map_size / kSuperblockSize);
}

void UnmapLarge(void* mem, std::size_t map_size, bool in_region) {
  if (in_region) {
    RegionFree(RegionKind::kLarge, mem, map_size / kSuperblockSize);
  } else {
    OsUnmap(mem, map_size, MapPurpose::kLarge);
  }
}

void Unmap(LargeHeader* h) {
  g_page_map.SetFreedLarge(Granule(h));
  UnmapLarge(h, h->map_size, h->in_region);
}

// A kept mapping leaves the threads' side for the shared cache, or the OS when that is full.
void Retire(LargeHeader* h) {
  g_mapping_count.fetch_sub(1, std::memory_order_relaxed);
  if (!g_cache.Put(h)) Unmap(h);
}

// A kept mapping that suits `need` bytes: the thread's spare, else one from the shared cache.
LargeHeader* TakeKept(std::size_t need, LargeUse use) {
  if (LargeHeader* s = tls_large_spare; s && Suits(s->map_size, need, use)) {
    tls_large_spare = nullptr;
    return s;
  }
  LargeHeader* h = g_cache.Take(need, use);
  if (h) g_mapping_count.fetch_add(1, std::memory_order_relaxed);
  return h;
}

// LargeRealloc for an object in a region: granules are given back from the end on a real
// shrink, taken from those that follow when they are free, or nullptr (the caller moves it).
void* RegionRealloc(LargeHeader* h, std::size_t size, std::size_t need) {
  std::size_t have = h->map_size / kSuperblockSize;
  std::size_t want = RoundUp(need, kSuperblockSize) / kSuperblockSize;
  if (want < have && size < h->size && need <= h->map_size / 2) {
    RegionFree(RegionKind::kLarge, h->base() + want * kSuperblockSize, have - want);
    h->map_size = want * kSuperblockSize;
  } else if (want > have) {
    if (!RegionExtend(RegionKind::kLarge, h, have, want - have)) return nullptr;
    h->map_size = want * kSuperblockSize;
  }
  h->size = size;
  return h->user;
}

}  // namespace

void* LargeAlloc(std::size_t size, std::size_t alignment, bool zero, LargeUse use) {
  if (alignment > kMaxAlignment) return nullptr;
  // Even a zero-byte object must lie inside its mapping: its granule in the page map must not
  // be one a superblock could take.
  if (size == 0) size = 1;
  std::size_t offset = UserOffset(alignment);
  if (size > PTRDIFF_MAX - offset - kSuperblockSize - kMaxGrowthRoom) return nullptr;
  // An object expected to grow gets its room from a kept mapping too.
  std::size_t room = use == LargeUse::kGrowing ? GrowthRoom(size) : 0;
  std::size_t map_size = RoundUp(offset + size + room, kPageSize);
  if (kLargeCache && offset == kCacheLine) {
    if (LargeHeader* h = TakeKept(map_size, use)) {
      void* p = h->Reuse(size, alignment);
      if (zero) std::memset(p, 0, size);
      return p;
    }
  }
  std::size_t map_align = alignment > kSuperblockSize ? alignment : kSuperblockSize;
  bool in_region;
  void* mem = MapLarge(map_size, map_align, in_region);
  if (mem == nullptr) return nullptr;
  auto* h = new (mem) LargeHeader;
  h->user = static_cast<char*>(mem) + offset;
  h->map_size = map_size;
  h->alignment = alignment;
  h->size = size;
  h->in_region = in_region;
  // The user pointer's granule is inside this S-aligned memory, so no other halloc object
  // can claim it.
  if (!g_page_map.SetLarge(h->user, h)) {
    UnmapLarge(mem, map_size, in_region);
    return nullptr;
  }
  g_mapping_count.fetch_add(1, std::memory_order_relaxed);
  return h->user;
}

void LargeFree(LargeHeader* h) {
  if (!kLargeCache || UserOffset(h->alignment) != kCacheLine) {
    g_mapping_count.fetch_sub(1, std::memory_order_relaxed);
    Unmap(h);
    return;
  }
  h->user = nullptr;  // kept: a second free of the same pointer no longer matches
  Retire(h);
}

void* LargeRealloc(LargeHeader* h, std::size_t size) {
  if (size == 0) size = 1;
  std::size_t offset = static_cast<std::size_t>(static_cast<char*>(h->user) - h->base());
  if (size > PTRDIFF_MAX - offset - kSuperblockSize - kMaxGrowthRoom) return nullptr;
  std::size_t need = RoundUp(offset + size, kPageSize);
  if (h->in_region) return RegionRealloc(h, size, need);
  if (need <= h->map_size) {
    // Growing into its room, or shrinking a little: stay. A real shrink unmaps the tail.
    bool shrink = size < h->size && need <= h->map_size / 2;
    if (shrink && !OsResizeInPlace(h, h->map_size, need, MapPurpose::kLarge)) return nullptr;
    if (shrink) h->map_size = need;
    h->size = size;
    return h->user;
  }
  // Growing past its mapping: move its pages into a larger one, with room to grow on.
  std::size_t map_align = h->alignment > kSuperblockSize ? h->alignment : kSuperblockSize;
  std::size_t map_size = RoundUp(offset + size + GrowthRoom(size), kPageSize);
  void* target = OsMap(map_size, map_align, MapPurpose::kLarge);
  if (target == nullptr) return nullptr;
  // Enter the new granule before the move: it lies in our own mapping, so nothing else can claim
  // it. Leave the old granule before the move too: the move frees the old range, another thread
  // may map there at once and enter its own object, and a later Clear would erase that.
  auto* moved = static_cast<LargeHeader*>(target);
  char* user = moved->base() + offset;
  if (g_page_map.SetLarge(user, moved)) {
    const void* old_granule = Granule(h);
    g_page_map.SetFreedLarge(old_granule);
    if (OsMoveInto(h, h->map_size, target, map_size, MapPurpose::kLarge)) {
      moved->user = user;
      moved->map_size = map_size;
      moved->size = size;
      return user;
    }
    // The object stays where it was. Its leaf exists, so entering it again cannot fail.
    g_page_map.SetLarge(old_granule, h);
    g_page_map.Clear(user);
  }
  OsUnmap(target, map_size, MapPurpose::kLarge);
  return nullptr;
}

std::size_t LargeCount() {
  return g_mapping_count.load(std::memory_order_relaxed) - (tls_large_spare != nullptr);
}

std::size_t LargeCachedBytes() {
  LockGuard guard(g_cache.lock);
  return g_cache.bytes + (tls_large_spare ? tls_large_spare->map_size : 0);
}

std::size_t LargeCachedCount() {
  LockGuard guard(g_cache.lock);
  return g_cache.count + (tls_large_spare != nullptr);
}

std::size_t LargeTrim() {
  LargeHeader* taken[kLargeCache ? kPolicy.large_cache_entries : 1];
  std::size_t n;
  {
    LockGuard guard(g_cache.lock);
    n = g_cache.count;
    for (std::size_t i = 0; i < n; ++i) taken[i] = g_cache.entries[i];
    g_cache.count = 0;
    g_cache.bytes = 0;
  }
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bytes += taken[i]->map_size;
    Unmap(taken[i]);
  }
  if (LargeHeader* s = std::exchange(tls_large_spare, nullptr)) {
    g_mapping_count.fetch_sub(1, std::memory_order_relaxed);
    bytes += s->map_size;
    Unmap(s);
  }
  return bytes;
}

const char* LargeCacheViolation() {
  LockGuard guard(g_cache.lock);
  if (g_cache.count > kPolicy.large_cache_entries) return "large cache: too many entries";
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < g_cache.count; ++i) {
    LargeHeader* h = g_cache.entries[i];
    if (h->map_size % kPageSize != 0 || reinterpret_cast<std::uintptr_t>(h) % kSuperblockSize)
      return "large cache: entry not a page-sized, S-aligned mapping";
    if (h->user != nullptr || g_page_map.Lookup(Granule(h)).large() != h)
      return "large cache: an entry is not in the page map as a kept mapping";
    bytes += h->map_size;
  }
  if (bytes != g_cache.bytes) return "large cache: byte count differs from its entries";
  if (bytes > kPolicy.large_cache_bytes) return "large cache: holds more bytes than allowed";
  if (LargeHeader* s = tls_large_spare) {
    if (s->user != nullptr || s->map_size > kSpareMax || g_page_map.Lookup(Granule(s)).large() != s)
      return "large cache: the thread's spare mapping is not a kept mapping";
  }
  return nullptr;
}

void LargeThreadExit() {
  if (LargeHeader* s = std::exchange(tls_large_spare, nullptr)) Retire(s);
}

void LargeAfterForkInChild() {
  tls_large_spare = nullptr;
  if (!g_cache.lock.IsLocked()) return;
  g_cache.lock.Reset();
  g_cache.count = 0;
  g_cache.bytes = 0;
}

}  // namespace halloc
