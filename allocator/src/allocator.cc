// The allocator's entry points: route a request to a size class of the caller's heap, or to the
// OS for large objects; route a free to the superblock (and so the heap) that owns the block.
#include "allocator.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "heap.h"
#include "large.h"
#include "page_map.h"
#include "report.h"
#include "thread_binding.h"
#include "thread_cache.h"

namespace halloc {
namespace {

[[gnu::cold]] void* OutOfMemory() {
  errno = ENOMEM;
  return nullptr;
}

// The index of p in sb when p is a live block; otherwise aborts, naming `what` and saying
// whether p was freed already or never was a block halloc handed out.
std::uint32_t LiveBlock(const Superblock* sb, const void* p, const char* what) {
  std::uint32_t i = sb->BlockAt(p);
  if (i != kNoBlock) [[likely]] {
    BlockState state = sb->State(i);
    if (state == kLive) [[likely]]
      return i;
    if (state == kFreed || state == kCached) FreedPointer(what, p);
  }
  InvalidPointer(what, p);
}

// The header of p when p is a live large object; otherwise aborts like LiveBlock.
LargeHeader* LiveLarge(PageMap::Entry e, const void* p, const char* what) {
  LargeHeader* large = e.large();
  if (large != nullptr && large->user == p) [[likely]]
    return large;
  if (e.freed_large() == p || (large != nullptr && large->WasUser(p))) FreedPointer(what, p);
  InvalidPointer(what, p);
}

[[gnu::noinline]] void* SmallAllocSlow(std::uint32_t c) {
  Heap* heap = CurrentHeap();
  if (heap == nullptr) [[unlikely]]
    return OutOfMemory();
  // Take back what other threads freed first: the refill may find it.
  if (heap->inbox.load(std::memory_order_relaxed)) heap->Drain();
  ReleaseList release;
  heap->lock.Lock();
  void* p = nullptr;
  if (kThreadCache && kCacheLimits.blocks[c] > 0 && tls_cache.slots != nullptr) {
    tls_cache.Refill(c, release);
    if (!tls_cache.Empty(c)) p = tls_cache.Pop(c);
  } else if (HeldBlock b; heap->Alloc(c, &b, 1, release) == 1) {
    b.state->store(kLive, std::memory_order_relaxed);
    p = b.block;
  }
  heap->lock.Unlock();
  if (release.head) [[unlikely]]
    release.ReleaseAll();
  return p ? p : OutOfMemory();
}

// The fast path: a pop from the thread's cache and a store to the block's state byte (its
// address is cached beside it), all in the thread's own memory but that byte.
inline void* SmallAlloc(std::uint32_t c) {
  if constexpr (kThreadCache) {
    ThreadCache& cache = tls_cache;
    if (!cache.Empty(c)) [[likely]]
      return cache.Pop(c);
    if (cache.slots != nullptr && cache.HasFreed(c)) {
      cache.Swap(c);  // free's blocks serve malloc now, with no lock
      return cache.Pop(c);
    }
  }
  return SmallAllocSlow(c);
}

// Returns p, a block of sb just checked live, under its owner's lock.
[[gnu::noinline]] void SmallFree(Superblock* sb, void* p) {
  Heap* h = LockOwner(sb);
  if (h == nullptr) return;  // a heap abandoned at fork: leak the block
  ReleaseList release;
  h->Free(sb, &p, 1, release);
  h->UnlockAfterFrees(release);
  if (release.head) [[unlikely]]
    release.ReleaseAll();
}

[[gnu::noinline]] void* LargeOrFail(std::size_t size, std::size_t alignment, bool zero = false,
                                    LargeUse use = LargeUse::kExact) {
  if (size > PTRDIFF_MAX) return OutOfMemory();
  CurrentHeap();  // binds the thread, whose exit hook hands its spare mapping on (large.h)
  void* p = LargeAlloc(size, alignment, zero, use);
  return p ? p : OutOfMemory();
}

// FreeElsewhere's rarer cases: no thread cache, a thread that never bound (a consumer that only
// frees binds here: its exit hook then flushes its batch, which takes one owner lock per run
// instead of one per block), or a superblock that came back to the thread's heap meanwhile.
// Apart from FreeElsewhere, which then saves no registers: with BindThread's call inlined there
// (through CurrentHeap), remote-free took 163.5 instructions a pair instead of 159.4.
[[gnu::noinline]] void FreeElsewhereSlow(Superblock* sb, void* p) {
  if constexpr (kThreadCache) {
    Heap* mine = CurrentHeap();
    if (mine != nullptr && sb->owner.load(std::memory_order_relaxed) != mine) {
      tls_cache.PushRemote(p, sb);
      return;
    }
  }
  SmallFree(sb, p);
}

// p, a live block of sb whose state byte is `state`, that does not go onto the thread's cache
// (another heap owns it, or there is no cache): from here on the block is the allocator's.
[[gnu::noinline]] void FreeElsewhere(Superblock* sb, void* p, std::atomic<std::uint8_t>* state) {
  state->store(kCached, std::memory_order_relaxed);
  if constexpr (kThreadCache) {
    Heap* mine = tls_cache.heap;
    if (mine != nullptr && sb->owner.load(std::memory_order_relaxed) != mine) [[likely]] {
      tls_cache.PushRemote(p, sb);
      return;
    }
  }
  FreeElsewhereSlow(sb, p);
}

// Everything but a live block: large objects, and every pointer that is not a live block
// (which aborts). LiveBlock reads the block's state again and returns only if it is live (free()
// read it otherwise a moment before: a racing free in a broken program), and then the block
// takes the path that needs no assumption about its owner.
[[gnu::noinline]] void FreeSlow(void* p, PageMap::Entry e) {
  if (p == nullptr) return;
  if (Superblock* sb = e.superblock()) [[likely]]
    return FreeElsewhere(sb, p, sb->StateByte(LiveBlock(sb, p, "free")));
  LargeHeader* large = LiveLarge(e, p, "free");
  if (!LargeFreeToSpare(large)) LargeFree(large);
}

// p, a live block of sb, which the thread's own heap owns, and whose state byte is `state`: the
// thread's cache has no room for it on free's stack.
[[gnu::noinline]] void FreeToFullCache(Superblock* sb, void* p, std::atomic<std::uint8_t>* state) {
  state->store(kCached, std::memory_order_relaxed);
  const std::uint32_t c = sb->size_class;
  // An uncached class, or a thread the OS refused slots.
  if (kCacheLimits.blocks[c] == 0 || tls_cache.slots == nullptr) return SmallFree(sb, p);
  // free's stack trades places with malloc's, unless that is full too.
  if (tls_cache.MallocFull(c)) {
    tls_cache.Flush(c);
  } else {
    tls_cache.Swap(c);
  }
  tls_cache.Push(c, p, state);
}

// p lies outside the thread's last page-map leaf: point the hint at p's leaf and free p again,
// or, with no leaf there (nullptr too), p is not halloc's.
[[gnu::noinline]] void FreeOutsideTheHint(void* p) {
  if (g_page_map.Hint(p, tls_cache.leaf_hint)) return Free(p);
  FreeSlow(p, {0});
}

// Usable bytes of p, which must be live (else aborts naming `what`).
std::size_t UsableSizeOf(const void* p, const char* what) {
  PageMap::Entry e = g_page_map.Lookup(p);
  // A block's class cannot change while it is live, so no lock is needed.
  if (Superblock* sb = e.superblock()) {
    LiveBlock(sb, p, what);
    return sb->block_size;
  }
  return LiveLarge(e, p, what)->usable();
}

}  // namespace

void* Malloc(std::size_t size) {
  if (size <= kLargeThreshold) [[likely]]
    return SmallAlloc(SizeClassOf(size));
  if (size <= PTRDIFF_MAX) {
    if (void* p = LargeAllocFromSpare(size)) return p;
  }
  return LargeOrFail(size, kMinAlign);
}

// The fast path: a live block of the thread's own heap goes onto its cache (a page-map lookup,
// a boundary and a state check, and a push; no lock, no atomic read-modify-write, and the
// block itself is neither read nor written). A live block of another heap leaves checked.
void Free(void* p) {
  PageMap::Entry e;
  if (!g_page_map.Lookup(p, tls_cache.leaf_hint, e)) [[unlikely]]
    return FreeOutsideTheHint(p);
  if (Superblock* sb = e.superblock()) [[likely]] {
    const std::uintptr_t offset =
        reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(sb->memory());
    const std::uint64_t i = sb->IndexAtOffset(offset);  // capacity or more: not a block start
    if (i < sb->capacity && sb->State(static_cast<std::uint32_t>(i)) == kLive) [[likely]] {
      std::atomic<std::uint8_t>* state = sb->StateByte(static_cast<std::uint32_t>(i));
      if constexpr (kThreadCache) {
        const std::uint32_t c = sb->size_class;
        ThreadCache& cache = tls_cache;
        if (sb->owner.load(std::memory_order_relaxed) == cache.heap) [[likely]] {
          if (cache.Full(c)) [[unlikely]]
            return FreeToFullCache(sb, p, state);
          cache.Push(c, p, state);
          state->store(kCached, std::memory_order_relaxed);
          return;
        }
      }
      return FreeElsewhere(sb, p, state);
    }
  }
  FreeSlow(p, e);
}

void FreeSized(void* p, std::size_t size) {
  if (p == nullptr) return;
  if (size > UsableSizeOf(p, "free_sized")) Fatal("free_sized", "size larger than the block", p);
  Free(p);
}

std::size_t UsableSize(const void* p) {
  if (p == nullptr) return 0;
  return UsableSizeOf(p, "malloc_usable_size");
}

void* Calloc(std::size_t count, std::size_t size) {
  std::size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes)) return OutOfMemory();
  if (bytes > kLargeThreshold) return LargeOrFail(bytes, kMinAlign, /*zero=*/true);
  void* p = SmallAlloc(SizeClassOf(bytes));
  if (p) std::memset(p, 0, bytes);
  return p;
}

void* AlignedAlloc(std::size_t alignment, std::size_t size) {
  if (alignment <= kMinAlign) return Malloc(size);
  // Blocks of a class whose size is a multiple of the alignment are all aligned (superblocks
  // are S-aligned), and every power of two up to S/2 is a class.
  if (alignment <= kLargeThreshold && size <= kLargeThreshold) {
    std::uint32_t c = SizeClassOfAligned(size, alignment);
    if (c < kSizeClasses.count) return SmallAlloc(c);
  }
  return LargeOrFail(size, alignment);
}

void* Realloc(void* p, std::size_t size) {
  if (p == nullptr) return Malloc(size);
  std::size_t usable = UsableSizeOf(p, "realloc");
  if (size == 0) {
    Free(p);
    return nullptr;
  }
  if (usable > kLargeThreshold && size > kLargeThreshold) {
    if (void* q = LargeRealloc(g_page_map.Lookup(p).large(), size)) return q;
  } else if (size <= usable && (size > usable / 2 || usable <= 64)) {
    return p;  // keep a block unless that wastes more than half of it (tiny blocks always stay)
  }
  // A block that outgrows the small classes is likely to grow on: give it room.
  void* q = size > kLargeThreshold ? LargeOrFail(size, kMinAlign, false, LargeUse::kGrowing)
                                   : Malloc(size);
  if (q == nullptr) return nullptr;  // p stays valid, errno is ENOMEM
  std::memcpy(q, p, size < usable ? size : usable);
  Free(p);
  return q;
}

}  // namespace halloc
