// The compile-time policy of each variant, in one place. The algorithm reads kPolicy and
// nothing else differs between libhalloc, libhalloc-paper and libhalloc-serial.
#pragma once

#include <cstddef>
#include <cstdint>

namespace halloc {

struct Policy {
  const char* name;
  std::size_t superblock_shift;   // S = 1 << superblock_shift bytes
  double growth;                  // b: neighbouring size classes are at most b apart
  unsigned empty_num, empty_den;  // f = empty_num / empty_den
  std::size_t slack;              // K: superblocks of free space a heap may keep regardless of f
  // Empty superblocks (in units of S) a heap keeps; one emptied beyond them goes to the global
  // heap at once, invariant or not. SIZE_MAX: only the invariant moves superblocks (the paper).
  std::size_t kept_empty;
  // A class whose blocks fit fewer than this many to S gets superblocks of 2, 4 or 8 S, so that
  // they do: 0 = every superblock is S, as in the paper.
  std::size_t min_superblock_blocks;
  std::size_t heaps_per_cpu;  // heaps = heaps_per_cpu x CPUs; 0 = one heap per thread
  std::size_t max_heaps;      // hard cap on per-processor heaps
  bool use_global_heap;       // false: superblocks never leave their heap (serial baseline)
  std::size_t empty_reserve;  // empty superblocks the global heap keeps; beyond go to the OS
  // Superblock memory given back to the OS (region.h) keeps its pages until it has waited this
  // long (checked at the next superblock release), so a program that frees and allocates again
  // reuses it without page faults and frees without a madvise in the middle; 0 = at once (in
  // batches).
  unsigned superblock_decommit_ms;
  std::size_t cache_bytes;       // per thread and class, free blocks kept without a lock; 0 = none
  std::size_t cache_min_blocks;  // ... but room for at least this many (when cache_bytes > 0)
  // Freed large mappings kept for reuse (large.h): up to large_cache_bytes, or 1 /
  // large_cache_live_den of the bytes of live large objects when that is more; 0 = every free
  // unmaps. A kept mapping idle large_decommit_ms gives its memory back (madvise), and one idle
  // a further large_unmap_ms goes back to the OS.
  std::size_t large_cache_bytes;
  std::size_t large_cache_live_den;
  unsigned large_decommit_ms;
  unsigned large_unmap_ms;
};

// The tuned allocator: 64 KiB superblocks, a heap of its own for each thread (so threads never
// share a superblock while both are alive), a per-thread cache of free blocks of the thread's
// own superblocks, so most calls take no lock, and a cache of freed large mappings (large.h), so
// large objects do not cost an mmap and a munmap each. The slack K = 64 (4 MiB) covers a partly
// used superblock in every size class a thread may use at once (a random mix of sizes over all
// 42 classes, whose largest superblocks are 4 S): with K = 16, such a mix moved superblocks to
// the global heap and back all the time and its time doubled (prodcons alone needed K = 16).
// Classes with fewer than 8 blocks to S get superblocks of 2 or 4 S, and every class caches at
// least 4 blocks, so the largest classes take the locked path once every few calls, not always.
inline constexpr Policy kHallocPolicy{
    .name = "halloc",
    .superblock_shift = 16,
    .growth = 1.2,
    .empty_num = 1,
    .empty_den = 4,
    .slack = 64,
    .kept_empty = 8,
    .min_superblock_blocks = 8,
    .heaps_per_cpu = 0,
    .max_heaps = 256,
    .use_global_heap = true,
    .empty_reserve = 16,
    .superblock_decommit_ms = 1000,
    .cache_bytes = 16 << 10,
    .cache_min_blocks = 4,
    .large_cache_bytes = 32 << 20,
    .large_cache_live_den = 4,
    .large_decommit_ms = 1000,
    .large_unmap_ms = 4000,
};

// Berger et al., ASPLOS 2000: S = 8 KiB, b = 1.2, f = 1/4, K = 4, 2P heaps, a lock per heap.
inline constexpr Policy kPaperPolicy{
    .name = "halloc-paper",
    .superblock_shift = 13,
    .growth = 1.2,
    .empty_num = 1,
    .empty_den = 4,
    .slack = 4,
    .kept_empty = SIZE_MAX,
    .min_superblock_blocks = 0,
    .heaps_per_cpu = 2,
    .max_heaps = 1024,
    .use_global_heap = true,
    .empty_reserve = 32,
    .superblock_decommit_ms = 0,
    .cache_bytes = 0,
    .cache_min_blocks = 0,
    .large_cache_bytes = 0,
    .large_cache_live_den = 1,
    .large_decommit_ms = 0,
    .large_unmap_ms = 0,
};

// The naive baseline: one heap behind one lock, nothing ever moves.
inline constexpr Policy kSerialPolicy{
    .name = "halloc-serial",
    .superblock_shift = 16,
    .growth = 1.2,
    .empty_num = 1,
    .empty_den = 4,
    .slack = 4,
    .kept_empty = SIZE_MAX,
    .min_superblock_blocks = 0,
    .heaps_per_cpu = 0,
    .max_heaps = 1,
    .use_global_heap = false,
    .empty_reserve = 0,
    .superblock_decommit_ms = 0,
    .cache_bytes = 0,
    .cache_min_blocks = 0,
    .large_cache_bytes = 0,
    .large_cache_live_den = 1,
    .large_decommit_ms = 0,
    .large_unmap_ms = 0,
};

// The ablation: halloc-paper with halloc's changes switched on one at a time, each step on top
// of the one before, so one sweep shows what each buys (`make ablation`). The last step is
// halloc itself (adding the large-object cache).
inline constexpr Policy kAblationSuperblockPolicy = [] {
  Policy p = kPaperPolicy;
  p.name = "halloc-abl-s64k";  // 64 KiB superblocks, with halloc's slack and reserve
  p.superblock_shift = kHallocPolicy.superblock_shift;
  p.slack = kHallocPolicy.slack;
  p.empty_reserve = kHallocPolicy.empty_reserve;
  return p;
}();
inline constexpr Policy kAblationHeapsPolicy = [] {
  Policy p = kAblationSuperblockPolicy;
  p.name = "halloc-abl-heaps";  // + a heap of its own for each thread
  p.heaps_per_cpu = kHallocPolicy.heaps_per_cpu;
  p.max_heaps = kHallocPolicy.max_heaps;
  return p;
}();
inline constexpr Policy kAblationCachePolicy = [] {
  Policy p = kAblationHeapsPolicy;
  p.name = "halloc-abl-cache";  // + per-thread caches and batched, lock-free remote frees
  p.cache_bytes = kHallocPolicy.cache_bytes;
  return p;
}();

// The paper's sensitivity study (Section 5.5, Tables 5 and 6): halloc-paper with the empty
// fraction f = 1/8 and f = 1/2 (halloc-paper itself is f = 1/4).
inline constexpr Policy kPaperF8Policy = [] {
  Policy p = kPaperPolicy;
  p.name = "halloc-paper-f8";
  p.empty_den = 8;
  return p;
}();
inline constexpr Policy kPaperF2Policy = [] {
  Policy p = kPaperPolicy;
  p.name = "halloc-paper-f2";
  p.empty_den = 2;
  return p;
}();

#if HALLOC_VARIANT == 1
inline constexpr Policy kPolicy = kHallocPolicy;
#elif HALLOC_VARIANT == 2
inline constexpr Policy kPolicy = kPaperPolicy;
#elif HALLOC_VARIANT == 3
inline constexpr Policy kPolicy = kSerialPolicy;
#elif HALLOC_VARIANT == 4
inline constexpr Policy kPolicy = kAblationSuperblockPolicy;
#elif HALLOC_VARIANT == 5
inline constexpr Policy kPolicy = kAblationHeapsPolicy;
#elif HALLOC_VARIANT == 6
inline constexpr Policy kPolicy = kAblationCachePolicy;
#elif HALLOC_VARIANT == 7
inline constexpr Policy kPolicy = kPaperF8Policy;
#elif HALLOC_VARIANT == 8
inline constexpr Policy kPolicy = kPaperF2Policy;
#else
#error \
    "HALLOC_VARIANT must be 1 (halloc), 2 (halloc-paper), 3 (halloc-serial), 4-6 (ablation) or 7-8 (f)"
#endif

inline constexpr std::size_t kSuperblockSize = std::size_t{1} << kPolicy.superblock_shift;
// Objects above S/2 come straight from the OS, as in the paper.
inline constexpr std::size_t kLargeThreshold = kSuperblockSize / 2;
inline constexpr std::size_t kMinAlign = 16;
inline constexpr std::size_t kCacheLine = 64;

static_assert(kPolicy.empty_num < kPolicy.empty_den, "f must be below 1");
static_assert(kPolicy.slack >= 1, "K must be at least 1");
static_assert(kPolicy.max_heaps >= 1);
static_assert(kPolicy.large_cache_live_den >= 1);

}  // namespace halloc
