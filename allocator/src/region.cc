#include "region.h"

#include <atomic>
#include <bit>
#include <cstdint>
#include <new>

#include "lock.h"
#include "os.h"
#include "page_map.h"

namespace halloc {
namespace {

struct Region {
  std::uint64_t used;   // bit g: granule g is taken (bit 0: this header)
  std::uint64_t dirty;  // bit g: granule g is free but its memory not yet given back
  Region* prev;         // neighbours in its pool's list of regions with a free granule
  Region* next;
  bool listed;          // in its pool's list, if `epoch` is still the pool's
  std::uint8_t pool;    // its index in g_pools
  std::uint32_t epoch;  // its pool's epoch when it was last linked
};
static_assert(kRegionGranules == 64, "one 64-bit mask a region");
static_assert(sizeof(Region) <= kPageSize);

struct RegionPool {
  Mutex lock;
  Region* open = nullptr;  // regions with a free granule, first to last
  Region* last = nullptr;
  std::size_t dirty = 0;  // granules free but not yet given back (superblock pools only)
  // Bumped when a forked child drops the list (RegionsAfterForkInChild): the regions that were
  // on it still say `listed`, and their neighbours are stale, so unlinking one would splice the
  // old list into the new one (a child hung walking a cycle so made).
  std::uint32_t epoch = 0;

  bool Listed(const Region* r) const { return r->listed && r->epoch == epoch; }
  void Link(Region* r) {  // at the front
    r->prev = nullptr;
    r->next = open;
    (open ? open->prev : last) = r;
    open = r;
    r->listed = true;
    r->epoch = epoch;
  }
  void Unlink(Region* r) {
    (r->prev ? r->prev->next : open) = r->next;
    (r->next ? r->next->prev : last) = r->prev;
    r->listed = false;
  }
  void MoveToBack(Region* r) {
    if (r == last) return;
    Unlink(r);
    r->next = nullptr;
    r->prev = last;
    (last ? last->next : open) = r;
    last = r;
    r->listed = true;
  }
};

constexpr int kRegionLookahead = 16;
// Freed superblock granules are given back to the OS in batches of at least this many, with one
// madvise per run of adjacent ones: a program freeing a million blocks releases thousands of
// superblocks, and a system call for each cost more than the frees. They also wait
// superblock_decommit_ms first (policy.h): giving back 200 MiB inside a program's frees cost it
// a fifth of its time, pages the next allocations fault in again. Large objects need zeroed
// memory when reused (calloc), so their granules go back at once.
constexpr std::size_t kDecommitBatch = 64;

// The superblock pools, then the large objects' one.
constexpr std::size_t kLargePool = kSuperblockPools;
constinit RegionPool g_pools[kSuperblockPools + 1];
constinit std::atomic<std::size_t> g_regions{0};
// Granules waiting to go back in all superblock pools (the sum of their `dirty`), and when that
// last became nonzero.
constinit std::atomic<std::size_t> g_dirty{0};
constinit std::atomic<std::uint32_t> g_dirty_since_ms{0};

std::size_t PoolIndex(RegionKind kind, std::size_t stream) {
  return kind == RegionKind::kSuperblocks ? stream % kSuperblockPools : kLargePool;
}

MapPurpose PurposeOf(RegionKind kind) {
  return kind == RegionKind::kSuperblocks ? MapPurpose::kSuperblock : MapPurpose::kLarge;
}

char* Base(Region* r) {
  return reinterpret_cast<char*>(r);
}
Region* RegionOf(const void* p) {
  return reinterpret_cast<Region*>(reinterpret_cast<std::uintptr_t>(p) & ~(kRegionSize - 1));
}
std::uint64_t RunMask(std::size_t first, std::size_t granules) {
  std::uint64_t ones = granules == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << granules) - 1;
  return ones << first;
}

// The first granule of a free run of `granules` in r, or 0 (granule 0 is the header's).
std::size_t FindRun(const Region* r, std::size_t granules) {
  std::uint64_t free = ~r->used;
  std::uint64_t starts = free;
  for (std::size_t i = 1; i < granules && starts; ++i) starts &= free >> i;
  return starts ? static_cast<std::size_t>(std::countr_zero(starts)) : 0;
}

// The granules of `run` in r no longer wait for their madvise (taken again, or just given
// back); bits a fork left behind in a region the child's pool forgot are not counted. Pool
// locked.
void TakeDirty(RegionPool& pool, Region* r, std::uint64_t run) {
  auto cleaned = static_cast<std::size_t>(std::popcount(r->dirty & run));
  if (cleaned > pool.dirty) cleaned = pool.dirty;
  pool.dirty -= cleaned;
  g_dirty.fetch_sub(cleaned, std::memory_order_relaxed);
  r->dirty &= ~run;
}

// Takes a run from r (pool locked); returns its address or nullptr. The run may hold memory not
// yet given back: a superblock needs no zeroed memory.
void* Take(RegionPool& pool, Region* r, std::size_t granules) {
  std::size_t first = FindRun(r, granules);
  if (first == 0) return nullptr;
  const std::uint64_t run = RunMask(first, granules);
  TakeDirty(pool, r, run);
  r->used |= run;
  if (r->used == ~std::uint64_t{0}) pool.Unlink(r);
  return Base(r) + first * kSuperblockSize;
}

// Address space for regions is reserved kRegionsPerReservation regions at a time: every mmap and
// munmap (OsReserve trims its alignment with two) takes the kernel's mmap lock for writing, and
// threads faulting in fresh superblocks, which take it for reading, queued behind the mapping
// of each 4 MiB region. Untouched reserved memory costs address space only.
constexpr std::size_t kRegionsPerReservation = 16;
struct Reservation {
  Mutex lock;
  char* next = nullptr;  // [next, end): regions reserved and not yet handed out
  char* end = nullptr;
};
constinit Reservation g_reservation;
constinit std::atomic<std::size_t> g_reservations{0};

// Memory for one region, from the reservation (nullptr when the OS refuses even one region).
void* ReserveRegion() {
  LockGuard guard(g_reservation.lock);
  if (g_reservation.next == g_reservation.end) {
    void* mem = OsReserve(kRegionsPerReservation * kRegionSize, kRegionSize);
    if (mem == nullptr) return OsReserve(kRegionSize, kRegionSize);  // a tight address space
    g_reservations.fetch_add(1, std::memory_order_relaxed);
    g_reservation.next = static_cast<char*>(mem);
    g_reservation.end = g_reservation.next + kRegionsPerReservation * kRegionSize;
  }
  void* p = g_reservation.next;
  g_reservation.next += kRegionSize;
  return p;
}

Region* MapRegion(RegionKind kind, std::size_t pool) {
  void* mem = ReserveRegion();
  if (mem == nullptr) return nullptr;
  auto* r = new (mem) Region{1, 0, nullptr, nullptr, false, static_cast<std::uint8_t>(pool), 0};
  if (kind == RegionKind::kSuperblocks) {
    for (std::size_t g = 1; g < kRegionGranules; ++g) {
      if (g_page_map.Lookup(Base(r) + g * kSuperblockSize)) r->used |= std::uint64_t{1} << g;
    }
  }
  OsAccount(static_cast<std::ptrdiff_t>(kPageSize), MapPurpose::kMetadata);
  g_regions.fetch_add(1, std::memory_order_relaxed);
  return r;
}

// Gives back the memory of every dirty granule of the pool, one madvise per run. Pool locked.
void Decommit(RegionPool& pool) {
  for (Region* r = pool.open; r && pool.dirty > 0; r = r->next) {
    for (std::uint64_t d = r->dirty; d != 0;) {
      const auto first = static_cast<std::size_t>(std::countr_zero(d));
      const auto run = static_cast<std::size_t>(std::countr_one(d >> first));
      OsDecommit(Base(r) + first * kSuperblockSize, run * kSuperblockSize);
      d &= ~RunMask(first, run);
    }
    TakeDirty(pool, r, r->dirty);  // no longer waiting
  }
}

// Decommits every superblock pool, each under its own lock (hold none); returns the granules.
std::size_t DecommitSuperblockPools() {
  std::size_t granules = 0;
  for (std::size_t i = 0; i < kSuperblockPools; ++i) {
    RegionPool& pool = g_pools[i];
    LockGuard guard(pool.lock);
    granules += pool.dirty;
    Decommit(pool);
  }
  return granules;
}

}  // namespace

void* RegionAlloc(RegionKind kind, std::size_t granules, std::size_t stream) {
  const std::size_t index = PoolIndex(kind, stream);
  RegionPool& pool = g_pools[index];
  void* p = nullptr;
  {
    // First fit among the first few open regions (those with granules freed last come first);
    // a region without room for the run goes to the back, so regions too fragmented for long
    // runs never make this slow nor keep the others out of reach.
    LockGuard guard(pool.lock);
    for (int looked = 0; pool.open && !p && looked < kRegionLookahead; ++looked) {
      Region* r = pool.open;
      p = Take(pool, r, granules);
      if (!p) pool.MoveToBack(r);
    }
  }
  while (p == nullptr) {
    Region* r = MapRegion(kind, index);
    if (r == nullptr) return nullptr;
    LockGuard guard(pool.lock);
    if (r->used != ~std::uint64_t{0}) pool.Link(r);
    p = Take(pool, r, granules);
  }
  OsAccount(static_cast<std::ptrdiff_t>(granules * kSuperblockSize), PurposeOf(kind));
  return p;
}

void RegionFree(RegionKind kind, void* p, std::size_t granules) {
  const bool batched = kind == RegionKind::kSuperblocks;
  // Large objects' granules are decommitted before they can be taken again: a new owner gets
  // zero-filled pages.
  if (!batched) OsDecommit(p, granules * kSuperblockSize);
  Region* r = RegionOf(p);
  std::size_t first = (static_cast<char*>(p) - Base(r)) / kSuperblockSize;
  RegionPool& pool = g_pools[r->pool];
  bool decommit = false;
  {
    LockGuard guard(pool.lock);
    r->used &= ~RunMask(first, granules);
    if (pool.Listed(r)) pool.Unlink(r);
    pool.Link(r);  // to the front: freed granules are taken first
    if (batched) {
      r->dirty |= RunMask(first, granules);
      pool.dirty += granules;
      const std::uint32_t now = kPolicy.superblock_decommit_ms ? OsNowMs() : 0;
      if (g_dirty.fetch_add(granules, std::memory_order_relaxed) == 0)
        g_dirty_since_ms.store(now, std::memory_order_relaxed);
      decommit =
          g_dirty.load(std::memory_order_relaxed) >= kDecommitBatch &&
          now - g_dirty_since_ms.load(std::memory_order_relaxed) >= kPolicy.superblock_decommit_ms;
    }
  }
  if (decommit) DecommitSuperblockPools();
  OsAccount(-static_cast<std::ptrdiff_t>(granules * kSuperblockSize), PurposeOf(kind));
}

bool RegionExtend(RegionKind kind, void* p, std::size_t granules, std::size_t more) {
  Region* r = RegionOf(p);
  std::size_t first = (static_cast<char*>(p) - Base(r)) / kSuperblockSize + granules;
  if (first + more > kRegionGranules) return false;
  std::uint64_t run = RunMask(first, more);
  RegionPool& pool = g_pools[r->pool];
  {
    LockGuard guard(pool.lock);
    if (r->used & run) return false;
    TakeDirty(pool, r, run);
    r->used |= run;
    if (r->used == ~std::uint64_t{0} && pool.Listed(r)) pool.Unlink(r);
  }
  OsAccount(static_cast<std::ptrdiff_t>(more * kSuperblockSize), PurposeOf(kind));
  return true;
}

void RegionsBeforeLargeMapping() {
  if constexpr (kPolicy.superblock_decommit_ms == 0) return;  // never more than a batch waits
  if (g_dirty.load(std::memory_order_relaxed) >= kDecommitBatch) DecommitSuperblockPools();
}

std::size_t RegionDecommitAll() {
  return DecommitSuperblockPools();
}

std::size_t RegionCount() {
  return g_regions.load(std::memory_order_relaxed);
}

std::size_t RegionReservations() {
  return g_reservations.load(std::memory_order_relaxed);
}

void RegionsAfterForkInChild() {
  if (g_reservation.lock.IsLocked()) {
    g_reservation.lock.Reset();
    g_reservation.next = g_reservation.end = nullptr;  // what was left stays reserved, unused
  }
  std::size_t dirty = 0;
  for (RegionPool& pool : g_pools) {
    if (pool.lock.IsLocked()) {
      // Its list may be half linked: start a new one (the free granules of the old are lost).
      pool.lock.Reset();
      pool.open = pool.last = nullptr;
      pool.dirty = 0;
      ++pool.epoch;
    }
    dirty += pool.dirty;
  }
  g_dirty.store(dirty, std::memory_order_relaxed);
}

}  // namespace halloc
