#include "introspection.h"

#include "halloc/halloc.h"
#include "heap.h"
#include "large.h"
#include "os.h"
#include "region.h"
#include "thread_binding.h"
#include "thread_cache.h"

namespace halloc {
namespace {

// Free blocks of each class in one heap's superblocks, read under its lock.
struct FreeByClass {
  std::size_t blocks[SizeClassTable::kMaxClasses] = {};
  std::size_t total_blocks = 0;
  std::size_t classless_empties = 0;  // the global heap's empty superblocks of no class
};

FreeByClass CountFree(Heap* h) {
  FreeByClass f;
  h->Drain();
  LockGuard guard(h->lock);
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    for (std::uint32_t g = 0; g < Heap::kFull; ++g) {
      for (Superblock* sb = h->lists[c][g]; sb; sb = sb->next)
        f.blocks[c] += sb->capacity - sb->used;
    }
    f.total_blocks += f.blocks[c];
  }
  f.classless_empties = h->empty_count;
  return f;
}

std::size_t Minus(std::size_t a, std::size_t b) {
  return a > b ? a - b : 0;  // counters read at slightly different moments
}

}  // namespace

Summary Summarize() {
  halloc_stats s;
  halloc_get_stats(&s);  // flushes the caller's cache and drains every inbox
  std::size_t in_use = s.global.in_use_bytes;
  std::size_t empties = s.global.empty_superblocks;
  for (std::size_t i = 0; i < s.heaps; ++i) {
    halloc_heap_stats h;
    if (halloc_get_heap_stats(i, &h) != 0) continue;
    in_use += h.in_use_bytes;
    empties += h.empty_superblocks;
  }
  Summary r;
  r.arena = s.superblock_bytes + s.large_cached_bytes;
  r.free_chunks = empties + LargeCachedCount();
  r.large_objects = s.large_objects;
  r.large_bytes = Minus(s.large_bytes, s.large_cached_bytes);
  r.in_use = in_use;
  r.free_bytes = Minus(r.arena, in_use);
  r.releasable = empties * kSuperblockSize + s.large_cached_bytes;
  return r;
}

std::size_t Trim(std::size_t pad) {
  EnsureInitialized();
  if constexpr (kThreadCache) tls_cache.FlushAll();
  std::size_t superblocks = 0;
  // Per-processor heaps first, then the global one: never two heap locks at once.
  for (std::size_t i = 0, n = HeapCount(); i <= n; ++i) {
    Heap* h = i < n ? HeapAt(i) : GlobalHeap();
    std::size_t keep = h->is_global ? (pad + kSuperblockSize - 1) / kSuperblockSize : 0;
    h->Drain();
    ReleaseList release;
    {
      LockGuard guard(h->lock);
      superblocks += h->ReleaseEmpty(keep, release);
    }
    release.ReleaseAll();
  }
  return (superblocks + RegionDecommitAll()) * kSuperblockSize + LargeTrim();
}

bool SetTrimThreshold(std::size_t bytes) {
  if (!kPolicy.use_global_heap) return false;
  EnsureInitialized();
  std::size_t reserve = bytes / kSuperblockSize;
  SetEmptyReserve(reserve);
  Heap* global = GlobalHeap();
  ReleaseList release;
  {
    LockGuard guard(global->lock);
    global->ReleaseEmpty(reserve, release);
  }
  release.ReleaseAll();
  return true;
}

void PrintStats(std::FILE* out) {
  // Gather first, print after: no halloc lock is held while stdio runs.
  struct Arena {
    std::size_t system, in_use;
  } arenas[kPolicy.max_heaps + 1];
  halloc_stats s;
  halloc_get_stats(&s);
  std::size_t n = 0;
  for (; n < s.heaps && n < kPolicy.max_heaps; ++n) {
    halloc_heap_stats h{};
    halloc_get_heap_stats(n, &h);
    arenas[n] = {h.superblocks * kSuperblockSize, h.in_use_bytes};
  }
  arenas[n++] = {s.global.superblocks * kSuperblockSize, s.global.in_use_bytes};
  Summary sum = Summarize();
  flockfile(out);
  for (std::size_t i = 0; i < n; ++i) {
    std::fprintf(out, "Arena %zu:\nsystem bytes     = %10zu\nin use bytes     = %10zu\n", i,
                 arenas[i].system, arenas[i].in_use);
  }
  std::fprintf(out,
               "Total (incl. mmap):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
               "max mmap regions = %10zu\nmax mmap bytes   = %10zu\n",
               sum.arena + sum.large_bytes, sum.in_use + sum.large_bytes, sum.large_objects,
               OsBytes(MapPurpose::kLarge).peak);
  funlockfile(out);
}

void PrintInfo(std::FILE* out) {
  halloc_stats s;
  halloc_get_stats(&s);
  std::fprintf(out, "<malloc version=\"1\">\n");
  std::size_t free_blocks = 0;
  for (std::size_t i = 0, n = HeapCount(); i <= n; ++i) {
    Heap* h = i < n ? HeapAt(i) : GlobalHeap();
    FreeByClass f = CountFree(h);  // under the heap's lock; printed after
    halloc_heap_stats hs{};
    if (i < n) {
      halloc_get_heap_stats(i, &hs);
    } else {
      hs = s.global;
    }
    std::size_t system = hs.superblocks * kSuperblockSize;
    std::size_t free_bytes = Minus(hs.held_bytes, hs.in_use_bytes);
    std::fprintf(out, "<heap nr=\"%zu\">\n<sizes>\n", i);
    for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
      if (f.blocks[c] == 0) continue;
      std::size_t size = kSizeClasses.block_size[c];
      std::fprintf(out, "  <size from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\"/>\n", size,
                   size, size * f.blocks[c], f.blocks[c]);
    }
    if (f.classless_empties) {
      std::fprintf(out, "  <unsorted from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\"/>\n",
                   kSuperblockSize, kSuperblockSize, f.classless_empties * kSuperblockSize,
                   f.classless_empties);
    }
    std::fprintf(out,
                 "</sizes>\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
                 "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
                 "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
                 "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
                 "</heap>\n",
                 f.total_blocks + f.classless_empties,
                 free_bytes + f.classless_empties * kSuperblockSize, system, system, system,
                 system);
    free_blocks += f.total_blocks + f.classless_empties;
  }
  Summary sum = Summarize();
  std::fprintf(out,
               "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
               "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
               "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
               "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
               "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
               "</malloc>\n",
               free_blocks + LargeCachedCount(), sum.free_bytes, sum.large_objects, sum.large_bytes,
               s.os_bytes, s.os_bytes_peak, s.os_bytes, s.os_bytes);
}

}  // namespace halloc
