// Large objects (above S/2, or aligned beyond S/2): each one has memory of its own from the OS,
// as in the paper: a run of granules of a large-object region (region.h), or, above a region's
// largest run or aligned beyond S, a mapping of its own. Either is S-aligned so its granule in
// the page map is its own; a 64-byte header at its start records what free() and realloc() need.
//
// halloc keeps freed mappings for reuse (see policy.h): one per thread of at most kSpareMax
// bytes, with no lock, and more in a shared cache. A kept mapping stays in the page map with its
// header's `user` cleared, so reusing it writes no page-map entry and a second free of the old
// pointer is caught as an invalid pointer.
//
// The shared cache: kept mappings in size bins (four per power of two, a bitmap of the bins
// that hold any), so a lookup looks at a few entries, never at all of them. A request above a
// region's largest run takes the smallest kept mapping of its own that is large enough and
// splits off its tail as a kept mapping (no syscall), or else grows the largest one, in place
// or by moving its pages (mremap), and fills the rest with pages borrowed from other kept
// mappings (moved too; nothing is copied). Kept mappings that are neighbours merge. So a
// program cycling buffers of varying sizes reuses its pages instead of mapping, faulting,
// zeroing and unmapping them each time; calloc clears only the bytes that may be dirty, and
// faults in the pages that read as zeros (fresh or decommitted) writable in one call when the
// buffer is at most 64 MiB: read before written, they would each fault twice (the shared zero
// page, then its copy, with a TLB shootdown per page once the program has threads).
//
// Its bound: with U the bytes of live large objects (the threads' spares included) the cache
// holds at most max(large_cache_bytes, U / large_cache_live_den) bytes; a free that would pass
// it, or one that makes U smaller, unmaps the oldest kept mappings first. So with P threads the
// large objects take at most U + max(C, U / d) + P kSpareMax bytes (halloc: 1.25 U + 32 MiB +
// P x 256 KiB): Hoard's A(t) = O(U(t) + P) holds for them as for superblocks.
//
// Decay, with no thread of its own: each entry remembers when it was kept. On a call that
// reaches the shared cache (at most every large_decommit_ms / 4), entries kept longer than
// large_decommit_ms give their pages but the header's back (madvise: the range stays mapped and
// reads as zeros, so calloc reusing one clears only its first page), and entries decommitted
// longer than large_unmap_ms are unmapped. malloc_trim (LargeTrim) unmaps them all at once.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "os.h"
#include "policy.h"
#include "region.h"
#include "thread_binding.h"

namespace halloc {

struct LargeHeader {
  void* user;            // the pointer handed out; nullptr while the mapping is kept for reuse
  std::size_t map_size;  // bytes mapped, from the header on
  std::size_t size;      // bytes last asked for: realloc tells growth from shrinking by it
  // While kept in the shared cache: its neighbours in its size bin and in its age list (of the
  // committed or of the decommitted entries, oldest first), and when it joined that list.
  LargeHeader* bin_prev;
  LargeHeader* bin_next;
  LargeHeader* age_prev;
  LargeHeader* age_next;
  std::uint32_t since_ms;
  std::uint8_t align_shift;  // the object's alignment is 1 << align_shift
  bool in_region;            // granules of a region, else a mapping of its own
  bool decommitted;          // kept, with every page but the first given back (they read as 0)

  char* base() { return reinterpret_cast<char*>(this); }
  std::size_t alignment() const { return std::size_t{1} << align_shift; }
  // A kept mapping (still in the page map at this granule) takes a new default-offset object.
  void* Reuse(std::size_t bytes, std::size_t align) {
    user = base() + kCacheLine;
    align_shift = static_cast<std::uint8_t>(std::countr_zero(align));
    size = bytes;
    return user;
  }
  // Whether p is the address this kept mapping's last object had (a kept mapping holds only
  // default-aligned objects).
  bool WasUser(const void* p) { return user == nullptr && p == base() + kCacheLine; }
  std::size_t usable() {
    return map_size - static_cast<std::size_t>(static_cast<char*>(user) - base());
  }
};
static_assert(sizeof(LargeHeader) <= kCacheLine, "the header fits before a default object");

inline constexpr bool kLargeCache = kPolicy.large_cache_bytes > 0;
// The largest freed mapping a thread keeps for itself.
inline constexpr std::size_t kSpareMax = 4 * kSuperblockSize;

enum class LargeUse { kExact, kGrowing };

// The bytes a fresh mapping for `need` bytes takes: a region's run is whole granules of S.
constexpr std::size_t FreshMapSize(std::size_t need) {
  return need <= kRegionMaxRun * kSuperblockSize
             ? (need + kSuperblockSize - 1) & ~(kSuperblockSize - 1)
             : need;
}

// Whether a kept mapping of `have` bytes suits a request of `need`: big enough, and, unless the
// object is expected to grow, not so big that reusing it strands much more than a fresh mapping
// would (a 64 KiB object's run is 128 KiB either way).
constexpr bool Suits(std::size_t have, std::size_t need, LargeUse use) {
  return have >= need && (use == LargeUse::kGrowing || have <= FreshMapSize(need) + need / 2);
}

// zero: the caller needs the bytes zeroed (fresh mappings are; reused ones get cleared).
// kGrowing (realloc): the mapping gets room to grow into, so later reallocs stay in place.
void* LargeAlloc(std::size_t size, std::size_t alignment, bool zero,
                 LargeUse use = LargeUse::kExact);
// The calling thread's kept mapping (bound threads only: their exit hook hands it on).
extern constinit thread_local LargeHeader* tls_large_spare [[gnu::tls_model("initial-exec")]];

// The fast path of LargeAlloc for a default-aligned object of at most PTRDIFF_MAX bytes: the
// calling thread's spare mapping when it fits without stranding much, else nullptr.
inline void* LargeAllocFromSpare(std::size_t size) {
  LargeHeader* s = tls_large_spare;
  if (s == nullptr) return nullptr;
  std::size_t need = (kCacheLine + size + kPageSize - 1) & ~(kPageSize - 1);
  if (!Suits(s->map_size, need, LargeUse::kExact)) return nullptr;
  tls_large_spare = nullptr;
  return s->Reuse(size, kMinAlign);
}
// Frees h: callers first try LargeFreeToSpare, its fast path.
void LargeFree(LargeHeader* h);
// h becomes the calling thread's spare when it has none and h fits; returns false, changing
// nothing, otherwise.
inline bool LargeFreeToSpare(LargeHeader* h) {
  if (!kLargeCache || tls_large_spare != nullptr || h->alignment() > kCacheLine ||
      h->map_size > kSpareMax || tls_cache.heap == nullptr)
    return false;
  h->user = nullptr;  // kept: a second free of the same pointer no longer matches
  tls_large_spare = h;
  return true;
}
// Resizes h's object to `size` bytes keeping its contents: in place when it fits (growing into
// the room left at the end, or unmapping the tail of a real shrink), else by moving its pages to
// a larger mapping (the kernel moves them; nothing is copied). Returns the object's address, or
// nullptr when the OS refuses (the object is unchanged).
void* LargeRealloc(LargeHeader* h, std::size_t size);
// Live large objects, not counting the calling thread's spare mapping (other threads' spares
// count as live until those threads reuse them or exit).
std::size_t LargeCount();
// Bytes of freed mappings kept: the shared cache and the calling thread's spare.
std::size_t LargeCachedBytes();
// How many freed mappings are kept: the shared cache's and the calling thread's spare.
std::size_t LargeCachedCount();
// The bytes the shared cache may hold now: max(large_cache_bytes, U / large_cache_live_den).
std::size_t LargeCacheLimit();
// Bytes of kept mappings whose memory was given back (decommitted), of LargeCachedBytes.
std::size_t LargeDecommittedBytes();
// malloc_trim: unmaps every kept mapping of the shared cache and the calling thread's spare;
// returns the bytes given back.
std::size_t LargeTrim();

// The caches of freed mappings: every entry is in its size bin and in the age list of its state
// (oldest first), they count and hold the bytes the cache says, within its bound; each is in
// the page map as a kept header; a decommitted one has no resident page past its first. Returns
// nullptr when all hold, else what does not.
const char* LargeCacheViolation();
// The calling thread is exiting: its spare mapping goes to the shared cache.
void LargeThreadExit();
// In a forked child: a shared cache that was locked at the fork is dropped, and so is the
// thread's spare, which the fork may have interrupted (their mappings leak).
void LargeAfterForkInChild();

}  // namespace halloc
