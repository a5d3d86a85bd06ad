#include "thread_cache.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "page_map.h"
#include "thread_binding.h"

namespace halloc {

constinit thread_local ThreadCache tls_cache [[gnu::tls_model("initial-exec")]] = {};

void ThreadCache::Refill(std::uint32_t c, ReleaseList& release) {
  std::uint16_t& top = stacks[c].top;
  const std::uint32_t want = stacks[c].base + CacheHalf(c);
  while (top < want) {
    std::uint32_t got = heap->Alloc(c, &slots[top], &states[top], want - top, release);
    if (got == 0) return;
    top = static_cast<std::uint16_t>(top + got);
  }
}

void ThreadCache::Flush(std::uint32_t c) {
  // Each run of one superblock's blocks goes back in one pass over its state bytes.
  const std::uint32_t base = FreeBase(c), top = stacks[c].free_top;
  {
    OwnerLocks owners;
    for (std::uint32_t i = base; i < top;)
      i += owners.ReturnRun(SuperblockOf(slots[i]), &states[i], top - i);
  }
  stacks[c].free_top = static_cast<std::uint16_t>(base);
}

void ThreadCache::FlushRemote() {
  std::uint64_t classes = remote_classes;
  remote_classes = 0;
  remote_count = 0;
  for (; classes; classes &= classes - 1) {
    FreeBlock* b = std::exchange(remote[std::countr_zero(classes)], nullptr);
    // Post each run of blocks whose superblocks one heap owns to that heap; a run it refuses,
    // or one of this thread's own heap (its superblock came back here meanwhile), goes back
    // under the owners' locks at once (this thread holds none here, as Drain requires).
    while (b) {
      FreeBlock* first = b;
      FreeBlock* last = b;
      // Acquire: Post reads the owner's fields (superblock.h).
      Heap* owner = b->superblock->owner.load(std::memory_order_acquire);
      std::size_t n = 1;
      for (b = b->next; b && b->superblock->owner.load(std::memory_order_relaxed) == owner;
           b = b->next) {
        last = b;
        ++n;
      }
      last->next = nullptr;
      if (owner != heap && owner->Post(first, last, n * first->superblock->block_size)) {
        // Its last thread may have left between the check in Post and the push, after taking
        // back what was there: then nobody else will (the two sides order by seq_cst).
        if (owner->threads.load(std::memory_order_seq_cst) == 0) owner->Drain();
        continue;
      }
      ReturnChain(first);
    }
  }
}

void ThreadCache::FlushAll() {
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    Flush(c);
    if (Empty(c)) continue;
    Swap(c);  // malloc's blocks go back the same way
    Flush(c);
  }
  FlushRemote();
}

const char* ThreadCache::Violation() const {
  if (stacks[0].free_end == 0) return nullptr;  // never bound: all zeros
  for (std::uint32_t c = 0; c < kSizeClasses.count; ++c) {
    const CacheStack& s = stacks[c];
    const std::uint32_t low = kCacheLimits.base[c], high = low + CacheHalf(c);
    const bool halves =
        (s.base == low && FreeBase(c) == high) || (s.base == high && FreeBase(c) == low);
    if (!halves) return "a thread cache's stacks overlap";
    if (s.top < s.base || s.top > s.base + CacheHalf(c) || s.free_top < FreeBase(c) ||
        s.free_top > s.free_end)
      return "a thread cache's stack top lies outside its stack";
    for (std::uint32_t i = low; i < kCacheLimits.end[c]; ++i) {
      if (i >= s.top && i < s.base + CacheHalf(c)) continue;  // above malloc's top
      if (i >= s.free_top && i < s.free_end) continue;        // above free's top
      const Superblock* sb = SuperblockOf(slots[i]);
      const std::uint32_t block = sb ? sb->BlockAt(slots[i]) : kNoBlock;
      if (block == kNoBlock || sb->size_class != c || sb->StateByte(block) != states[i])
        return "a thread cache holds a block that is not of its class, or its state byte is wrong";
      const std::uint8_t state = states[i]->load(std::memory_order_relaxed);
      if (state != kCached && state != kCarved)
        return "a thread cache holds a block not marked held";
    }
  }
  return nullptr;
}

}  // namespace halloc
